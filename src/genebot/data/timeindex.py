"""Nanosecond timestamps (int64, UTC) as pandas time indexes, without a detour through objects.

``pd.to_datetime(int64_array, utc=True)`` converts element by element in pandas 3 (0.1 s for a
year of minutes); viewing the same integers as ``datetime64[ns]`` is free.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd


def utc_index(
    ns: npt.NDArray[np.int64] | Sequence[int], name: str | None = None
) -> pd.DatetimeIndex:
    """A UTC ``DatetimeIndex`` (unit ns) of epoch-nanosecond integers."""
    values = np.ascontiguousarray(ns, dtype=np.int64)
    return pd.DatetimeIndex(values.view("datetime64[ns]"), tz="UTC", name=name)
