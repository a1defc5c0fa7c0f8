"""Keep freed tensor memory in the process for the next training step (glibc ``mallopt``).

A training step allocates and frees the same few hundred tensors every step. glibc's malloc
serves blocks above its mmap threshold (128 KiB at start, raised as blocks are freed) with
fresh ``mmap`` pages and gives the free top of the heap back to the OS beyond its trim
threshold, so each step pays a page fault (and the kernel zeroing the page) for every 4 KiB
it touches again (thousands per PINN step; ``benchmarks/pinn_step.py`` counts them). An evaluation's
rollout does the same every step: training and evaluation both set it.
Fixing the mmap threshold at its largest value (32 MiB) and the trim threshold at 512 MiB
keeps those blocks in the heap: the step's memory is reused, and the process keeps up to
512 MiB of free heap instead of returning it.

Only glibc (Linux) has ``mallopt``; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's upper limit on 64-bit systems
TRIM_THRESHOLD = 512 * 1024 * 1024


def keep_freed_memory() -> str:
    """Set glibc's mmap and trim thresholds (above); returns what was done, for the run record."""
    if not sys.platform.startswith("linux"):
        return "unchanged (not glibc)"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "unchanged (no mallopt)"
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    if not ok:
        return "unchanged (mallopt refused)"
    return f"glibc mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold {TRIM_THRESHOLD >> 20} MiB"
