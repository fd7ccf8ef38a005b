"""Vectorized, causal indicator helpers (TA-Lib does the heavy lifting)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]


def crossed_above(a: F64, b: F64) -> BoolArray:
    """True at i when a[i] > b[i] and a[i-1] <= b[i-1] (NaN never crosses)."""
    out = np.zeros(a.shape[0], dtype=bool)
    if a.shape[0] > 1:
        with np.errstate(invalid="ignore"):
            out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def crossed_below(a: F64, b: F64) -> BoolArray:
    """True at i when a[i] < b[i] and a[i-1] >= b[i-1]."""
    return crossed_above(b, a)
