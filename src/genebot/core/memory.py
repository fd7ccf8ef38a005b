"""A long run's memory given back to the system between stages (the run, then its files).

glibc serves a freed large block's size from its heap afterwards (its mmap threshold rises
with each large free), and a heap keeps freed pages: a process that builds half a million
timestamp strings for one file and a chart's JSON for the next keeps the larger of the two
for good. :func:`steady_heap` fixes the threshold (large blocks always mapped, unmapped when
freed); :func:`release_memory` collects the run's reference cycles and trims the heap.
Elsewhere than glibc both only do what Python can (the collection).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from typing import Any

_M_MMAP_THRESHOLD = -3  # mallopt parameter (glibc malloc.h)
_THRESHOLD = 128 * 1024  # glibc's default before it starts raising it


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def steady_heap() -> None:
    """Blocks of 128 KiB and more always mapped, so freeing one returns it (call once, early)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)


def release_memory() -> None:
    """Collect reference cycles (the engine pauses the collector while it runs, so a finished
    kernel and its arrays wait for it) and trim the heap. A full collection: call it between
    the stages of a process, not per trial."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
