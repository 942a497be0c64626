"""Independent pieces of one compiled call (tiles of runs, runs) shared out over the cores.

The numba kernels release the GIL, so the calling thread and a shared pool of helper threads can each run
the kernel on a contiguous range of the pieces. Ranges are taken in turn from one queue, about
RANGES_PER_THREAD per thread, so that a core that another program keeps busy simply takes fewer of them
(torch's thread pool instead waits for its slowest thread at every small operation: see engine/threads.py).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from engine.threads import available_cores

THREADS: int | None = None  # threads that share the pieces (None: every core this process may use)
RANGES_PER_THREAD = 3  # piece ranges per thread and call, so that a slowed core takes fewer of them
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_local = threading.local()  # per calling thread: cores to leave to others (the window's GUI thread)


def leave_cores(count: int) -> None:
    """Leave ``count`` cores to other threads when this thread shares pieces out (the window keeps one for its
    GUI thread: training jobs call this at their start, as they set torch's thread count). Returns nothing."""
    _local.spare = max(0, int(count))


def helper_pool(workers: int) -> ThreadPoolExecutor:
    """Return the process-wide pool of helper threads (grown to ``workers`` threads when it is smaller)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kernel")
        return _pool


def piece_ranges(pieces: int, threads: int) -> list[tuple[int, int]]:
    """Return contiguous (start, end) ranges covering ``pieces`` pieces, about RANGES_PER_THREAD per thread."""
    count = 1 if threads <= 1 else min(pieces, threads * RANGES_PER_THREAD)
    bounds = [round(i * pieces / count) for i in range(count + 1)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def thread_count(pieces: int) -> int:
    """Return how many threads share ``pieces`` independent pieces (at most one each).

    THREADS when set, else OMP_NUM_THREADS when set (Ray and other process pools set it to the cores a
    worker was given, so that workers do not crowd each other out), else every core this process may use
    but those the calling thread leaves to others (leave_cores).
    """
    try:
        given = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        given = 0
    return max(1, min(int(pieces), THREADS or given or available_cores() - getattr(_local, "spare", 0)))


def spread(call, pieces: int, threads: int) -> None:
    """Run ``call(start, end)`` over piece_ranges(pieces, threads), on this thread and ``threads - 1`` helpers.

    Returns nothing; an exception in any range is raised here after every range has finished.
    """
    ranges = piece_ranges(pieces, threads)
    if len(ranges) == 1:
        call(*ranges[0])
        return
    queue, lock = iter(ranges), threading.Lock()

    def work() -> None:
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            call(*item)

    helpers = [helper_pool(threads - 1).submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        # the queue is empty now: a helper still waiting behind another caller's work has nothing left to do
        started = [f for f in helpers if not f.cancel()]
        errors = [f.exception() for f in started]
    for err in errors:
        if err is not None:
            raise err
