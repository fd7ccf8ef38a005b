"""One error tree, sorted by what the caller should do about it.

- ``InputError``: the user's input (config, data file, CLI flag) is wrong; fix it. The message is
  one line naming the file, key, row or value and what is allowed. The CLI prints it and exits 2.
- ``RetryableError``: a transient failure; the same call may succeed later (reads, cancels).
- ``SkipError``: this one item cannot be processed; carry on with the rest.
- ``StopError``: the engine must stop trading (state cannot be trusted).
"""

from __future__ import annotations


class GenebotError(Exception):
    """Base of every error genebot raises on purpose."""


class InputError(GenebotError):
    """Bad user input: config, data, parameters or flags. Fix the input and run again."""


class ConfigError(InputError):
    """A configuration file or value is invalid."""


class DataError(InputError):
    """A market-data file is missing, unreadable or fails validation."""


class ParameterError(InputError):
    """A strategy parameter is unknown or out of range."""


class LookaheadError(InputError):
    """A strategy tried to read data from the future."""


class RetryableError(GenebotError):
    """Transient failure: retry later (never for order creation)."""


class SkipError(GenebotError):
    """This item cannot be processed; skip it and continue."""


class StopError(GenebotError):
    """State cannot be trusted: stop trading."""


class InvalidStateTransition(StopError):
    """An order event is not allowed from the order's current status."""


class LedgerError(StopError):
    """The ledger would become inconsistent (for example a spot balance below zero)."""


class UnknownOrderError(StopError):
    """A venue reported an event for an order genebot has no record of: reconcile first."""
