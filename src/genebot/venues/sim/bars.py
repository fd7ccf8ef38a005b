"""Bar columns the simulated venue matches against (the fast-mode scans are in
:mod:`genebot.engine.scan`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


@dataclass(eq=False)
class BarColumns:
    ts: npt.NDArray[np.int64]
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    bid: F64 | None = None  # quote feeds: matching uses the ask for buys, the bid for sells
    ask: F64 | None = None

    def __len__(self) -> int:
        return int(self.ts.shape[0])
