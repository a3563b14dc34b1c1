"""Keep large float32 temporaries in the process heap (glibc), so that a recurrent net's
day on the CPU does not page-fault its buffers in again.

A paper-preset ConvLSTM day allocates and frees a few 6-26 MB tensors (the gates, the new
cell and hidden state). glibc serves blocks from its mmap threshold up with mmap and gives
them back with munmap on free, so every day touches ~45 MB of fresh pages: ~10 ms of a
~40 ms day on the 2-core reference machine. Raising the mmap threshold to 64 MB (and the
trim threshold to 256 MB: at most that much free memory stays with the process) takes
those buffers from the heap instead: 30-33 ms a day (docs/FORECAST_SPEED.md). Elsewhere
(not Linux, not glibc) nothing is changed.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 256 << 20
_done = False


def keep_large_buffers() -> bool:
    """Set glibc's mmap and trim thresholds once; True when they are set (now or before)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        ok = ok and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    except (OSError, AttributeError):  # not glibc
        return False
    _done = ok
    return ok
