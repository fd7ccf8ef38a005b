"""The seed guide's `python scripts/test_exchange_connection.py`: runs `genebot exchange test`.

    python scripts/test_exchange_connection.py [NAME] [--config FILE]

NAME defaults to the config's first enabled exchange.
"""

from __future__ import annotations

import sys

from genebot.cli.main import app


def main(argv: list[str]) -> None:
    app(["exchange", "test", *argv], prog_name="genebot")


if __name__ == "__main__":
    main(sys.argv[1:])
