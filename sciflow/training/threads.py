"""How many torch threads a run uses, chosen so a busy machine does not stall it.

Two torch threads wait for each other at every parallel region: when another process keeps one
of two cores busy, a 2-thread run crawls (``benchmarks/threads.py`` measures it). ``auto`` takes
``OMP_NUM_THREADS`` when set, else the cores not already busy, at least one. Busy is the larger of
the 1-minute load average and the threads running right now (``/proc/loadavg``, less this one): the
average lags by a minute, so two runs started together would each see an idle machine and take
every core. The choice and its reason are printed and recorded in the run.
"""

from __future__ import annotations

import os

import torch


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def choose_threads(requested: int | str = "auto") -> tuple[int, str]:
    """(number of threads, why) for a spec's ``threads`` value."""
    cores = available_cores()
    if requested != "auto":
        return int(requested), "spec threads"
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env), "OMP_NUM_THREADS"
    average = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    running = running_now()
    idle = cores - int(round(max(average, running)))
    return max(1, min(cores, idle)), f"{cores} cores, load {average:.2f}, {running} other threads running"


def running_now(loadavg: str = "/proc/loadavg") -> int:
    """Threads running or runnable on the machine now, less the caller (``/proc/loadavg``; 0 where absent)."""
    try:
        with open(loadavg) as f:
            return max(0, int(f.read().split()[3].split("/")[0]) - 1)
    except (OSError, IndexError, ValueError):
        return 0


def apply_threads(requested: int | str = "auto") -> dict:
    """Set torch's intra-op threads; returns ``{"threads": n, "why": reason}`` for the run record."""
    n, why = choose_threads(requested)
    torch.set_num_threads(n)
    return {"threads": n, "why": why}
