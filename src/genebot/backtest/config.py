"""Moved to :mod:`genebot.config.loader` (the config is shared by every mode); this name stays
for code written against it."""

from genebot.config.loader import *  # noqa: F403
from genebot.config.loader import __all__  # noqa: F401
