"""Timing helper shared by the benchmarks."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeats: int) -> float:
    """Return the median wall time of ``repeats`` calls of fn, after one warm-up call (not timed)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns: dict, repeats: int) -> dict:
    """Return each callable's median wall time, one warm-up call each, the repeats taken in turn.

    Taking them in turn (A, B, C, A, B, C, ...) lets a shared machine's load fall on every path alike.
    """
    for fn in fns.values():
        fn()
    times: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in times.items()}
