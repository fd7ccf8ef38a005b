"""Derive the SYNTHETIC sample files of this folder from the bundled Binance BTC/USDT 1m file.

The real data has no symbol quoted on two venues at the same time and no BTC/EUR, so the
cross-venue and crypto-forex arbitrage strategies get derived series instead. They are
synthetic, not market prices: see ../README.md ("Derived synthetic data").

- ``venue-b_BTC-USDT_1m.synthetic.csv``: a second venue's BTC/USDT. Every price of a Binance bar
  times ``1 + basis``, where the basis is a small mean-reverting AR(1) process (about 0.02 %)
  with rare dislocations of 0.7-1.5 % that decay with a half-life of about 23 minutes.
- ``derived_EUR-USD_1m.synthetic.csv``: a EUR/USD random walk from 1.22 (no real EUR/USD
  minute data of May 2021 is bundled); volume 0 like the forex sample.
- ``derived_BTC-EUR_1m.synthetic.csv``: every price of a Binance BTC/USDT bar (USDT taken as
  USD) divided by that minute's synthetic EUR/USD close, times ``1 + basis`` (another seed).

Run from anywhere: ``python data/sample/derived/make_derived.py``. The output is deterministic:
fixed seeds; numpy's legacy ``RandomState``, whose stream numpy keeps frozen; only uniform draws
(exact integer arithmetic) and + - * / in float64 (exactly rounded everywhere); fixed decimals.
A rerun rewrites the files byte for byte.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "crypto" / "binance_BTC-USDT_1m.csv"
START, END = "2021-05-18T00:00:00Z", "2021-05-20T00:00:00Z"  # bar open times, end exclusive
HEADER = ["timestamp", "open", "high", "low", "close", "volume"]

Rows = list[list[str]]


def read_source() -> Rows:
    """The source rows in [START, END), as text (ISO ``...Z`` times sort as text)."""
    with SOURCE.open(newline="") as handle:
        reader = csv.reader(handle)
        if next(reader) != HEADER:
            raise SystemExit(f"{SOURCE}: unexpected header")
        return [row for row in reader if START <= row[0] < END]


def basis(n: int, seed: int) -> np.ndarray:
    """AR(1) basis: b[t] = 0.97 b[t-1] + noise (+ a dislocation with probability 1/180)."""
    rng = np.random.RandomState(seed)
    noise = (rng.random_sample(n) * 2 - 1) * 0.0000842  # stationary sd ~0.0002
    jump_at = rng.random_sample(n) < 1 / 180
    size = 0.007 + rng.random_sample(n) * 0.008
    sign = np.where(rng.random_sample(n) < 0.5, -1.0, 1.0)
    out = np.empty(n)
    level = 0.0
    for t in range(n):  # a loop, not a filter: keep the arithmetic plain and reproducible
        level = 0.97 * level + noise[t] + (sign[t] * size[t] if jump_at[t] else 0.0)
        out[t] = level
    return out


def eur_usd(n: int, seed: int) -> tuple[list[float], ...]:
    """Synthetic EUR/USD bars: close walks by up to ±0.00017 a minute (sd ~0.0001), open is the
    previous close, high/low reach up to 0.00005 beyond them; 5 decimals."""
    rng = np.random.RandomState(seed)
    step = (rng.random_sample(n) * 2 - 1) * 0.000173
    up, down = rng.random_sample(n) * 0.00005, rng.random_sample(n) * 0.00005
    opens, highs, lows, closes = [], [], [], []
    close = 1.22
    for t in range(n):
        open_ = close
        close = round(close + step[t], 5)
        opens.append(open_)
        closes.append(close)
        highs.append(round(max(open_, close) + up[t], 5))
        lows.append(round(min(open_, close) - down[t], 5))
    return opens, highs, lows, closes


def scaled(rows: Rows, factor: list[float], decimals: int) -> Rows:
    """Each bar's four prices times its factor (one factor per bar keeps high >= open, close >=
    low after rounding), the volume text unchanged."""
    return [
        [row[0], *(f"{float(px) * k:.{decimals}f}" for px in row[1:5]), row[5]]
        for row, k in zip(rows, factor, strict=True)
    ]


def write(name: str, rows: Rows) -> None:
    with (HERE / name).open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


def main() -> None:
    rows = read_source()
    n = len(rows)
    venue_b = basis(n, seed=20210518)
    write("venue-b_BTC-USDT_1m.synthetic.csv", scaled(rows, [1 + b for b in venue_b], 2))
    opens, highs, lows, closes = eur_usd(n, seed=1999)
    fx = [
        [row[0], *(f"{px:.5f}" for px in bar), "0"]
        for row, bar in zip(rows, zip(opens, highs, lows, closes, strict=True), strict=True)
    ]
    write("derived_EUR-USD_1m.synthetic.csv", fx)
    btc_eur = basis(n, seed=20210519)
    factor = [(1 + b) / c for b, c in zip(btc_eur, closes, strict=True)]
    write("derived_BTC-EUR_1m.synthetic.csv", scaled(rows, factor, 2))


if __name__ == "__main__":
    main()
