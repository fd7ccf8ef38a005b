"""Interest rates per currency over time: the carry strategy's signal and the simulated venue's
daily rollover (swap) financing."""

from __future__ import annotations

import bisect
import csv
from collections.abc import Mapping
from pathlib import Path

from genebot.core.errors import DataError
from genebot.core.time import parse_datetime


class RatesTable:
    """Annual rates (fractions) per currency, each in force from its date until the next."""

    def __init__(self, changes: Mapping[str, list[tuple[int, float]]]) -> None:
        self._times: dict[str, list[int]] = {}
        self._rates: dict[str, list[float]] = {}
        for currency, rows in changes.items():
            rows = sorted(rows)
            self._times[currency.upper()] = [t for t, _ in rows]
            self._rates[currency.upper()] = [r for _, r in rows]

    @classmethod
    def constant(cls, rates: Mapping[str, float]) -> RatesTable:
        return cls({c: [(-(2**62), float(r))] for c, r in rates.items()})

    @classmethod
    def from_csv(cls, path: str | Path) -> RatesTable:
        """Read ``date,currency,rate`` rows; one clear line naming the file and row if bad."""
        file = Path(path)
        if not file.is_file():
            raise DataError(f"{file}: rates file not found (expected columns date,currency,rate)")
        changes: dict[str, list[tuple[int, float]]] = {}
        with file.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or not {"date", "currency", "rate"} <= set(
                reader.fieldnames
            ):
                raise DataError(f"{file}: header must be date,currency,rate")
            for row_no, row in enumerate(reader, start=2):
                try:
                    ts = parse_datetime(row["date"], field="date")
                    rate = float(row["rate"])
                except (ValueError, DataError, TypeError) as exc:
                    raise DataError(f"{file}: line {row_no}: {exc}") from None
                currency = (row["currency"] or "").strip().upper()
                if not currency:
                    raise DataError(f"{file}: line {row_no}: currency is empty")
                changes.setdefault(currency, []).append((ts, rate))
        return cls(changes)

    def rate(self, currency: str, ts_ns: int) -> float | None:
        """The rate in force at ``ts_ns``, or None for a currency without a rate then."""
        times = self._times.get(currency.upper())
        if not times:
            return None
        i = bisect.bisect_right(times, ts_ns) - 1
        return self._rates[currency.upper()][i] if i >= 0 else None

    def differential(self, base: str, quote: str, ts_ns: int) -> float | None:
        """Base rate minus quote rate (what a long position in BASE/QUOTE earns per year)."""
        rb, rq = self.rate(base, ts_ns), self.rate(quote, ts_ns)
        return None if rb is None or rq is None else rb - rq

    def __contains__(self, currency: str) -> bool:
        return currency.upper() in self._times
