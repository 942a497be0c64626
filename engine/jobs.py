"""Long work as plain generators, and the token that pauses or stops them.

A job is a generator that yields snapshots (progress and partial results) and returns its final result.
Between units of work (a batch, a chunk of a slow batch, a block of path steps) it calls
``token.checkpoint()``, which blocks while the token is paused and says whether to stop. Whoever runs the
job holds the same token: the window's runner in a worker thread, the command line in a ``for`` loop, a
test in plain code. A token belongs to one job and is never reset, so a stop cannot be lost or overwritten,
whatever the timing: a Stop that arrives before the job has even started is seen at its first checkpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")
Job = Generator[Any, None, T]


class Token:
    """Pause and stop requests for one job; safe to use from any thread."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()  # a pause racing a stop must never leave a stopped job held

    def stop(self) -> None:
        """Ask the job to end at its next checkpoint (a paused job wakes up to end)."""
        with self._lock:
            self._stop.set()
            self._running.set()

    def pause(self) -> None:
        """Hold the job at its next checkpoint until resume() or stop()."""
        with self._lock:
            if not self._stop.is_set():
                self._running.clear()

    def resume(self) -> None:
        """Let a paused job go on."""
        self._running.set()

    @property
    def stopped(self) -> bool:
        """Return whether a stop was requested."""
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        """Return whether the job is held (and not stopped)."""
        return not self._running.is_set()

    def checkpoint(self) -> bool:
        """Block while paused; return True when the job should stop now."""
        self._running.wait()
        return self._stop.is_set()


def run_job(job: Job[T], on_snapshot: Callable[[Any], None] | None = None) -> T:
    """Drive ``job`` to its end in this thread and return its result (the generator's return value)."""
    while True:
        try:
            snapshot = next(job)
        except StopIteration as end:
            return end.value
        if on_snapshot is not None:
            on_snapshot(snapshot)
