"""The one job runner: any engine generator in a worker thread, with pause and stop, pulled by the GUI.

A job is a plain generator from the engine (training epochs, comparison runs, surface paths, data
loading). ``JobRunner.start`` gives it a fresh ``Token`` and a daemon thread; the thread only stores the
latest snapshot. A ~30 Hz timer in the GUI thread pulls what is new and calls the view's callbacks, so the
window never redraws per batch and the worker never touches a widget.

Why not superqt's ``thread_worker``: its workers run on a QThreadPool, which the application waits for when
it quits, so a batch that takes a minute would hold the window open; and it emits a signal per yield,
where we want the GUI to pull. A daemon thread that is joined for at most ``shutdown``'s timeout lets
closing the window end within a second even in the middle of a slow batch (engine jobs bound their batches
too: see engine/training, which splits a huge batch into chunks with a checkpoint between them).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from engine.errors import UserError
from engine.jobs import Token

POLL_MS = 33
_collector = None


def collect_garbage_in_gui_thread() -> None:
    """Make Python's cycle collector run only in the GUI thread, on a timer; returns nothing.

    Left automatic, a collection can start in a worker thread (any thread that allocates triggers it) and
    destroy Qt objects there, e.g. a deleted form's spin boxes with their timers: Qt then aborts with "Timers
    cannot be stopped from another thread" or crashes. pyqtgraph's GarbageCollector is the library's answer.
    """
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=0.5)


class JobHandle:
    """One running job: its token, its thread and what it produced so far (read from the GUI thread)."""

    def __init__(self, name: str, job, on_snapshot, on_done, threads: int | None):
        self.name = name
        self.token = Token()
        self._job = job
        self._on_snapshot = on_snapshot
        self._on_done = on_done
        self._threads = threads
        self._lock = threading.Lock()
        self._snapshot: Any = None
        self._version = 0
        self._seen = 0
        self.result: Any = None
        self.error: UserError | None = None
        self.details = ""  # the traceback of an unexpected error, kept for a bug report, never printed
        self.done = False
        self._delivered = False
        self.thread = threading.Thread(target=self._work, name=f"job-{name}", daemon=True)

    # -- worker thread ------------------------------------------------------------------------------------
    def _work(self) -> None:
        if self._threads:
            import torch

            torch.set_num_threads(self._threads)
        try:
            job = self._job(self.token) if callable(self._job) else self._job
            while True:
                try:
                    snapshot = next(job)
                except StopIteration as end:
                    self.result = end.value
                    break
                with self._lock:
                    self._snapshot = snapshot
                    self._version += 1
        except UserError as err:
            self.error = err
        except Exception as err:  # noqa: BLE001 - shown in the window as a message, never a crash
            self.error = UserError(f"internal error ({type(err).__name__}: {err}); please report it")
            self.details = traceback.format_exc()
        finally:
            self.done = True

    # -- GUI thread ---------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the job to end at its next checkpoint (also wakes a paused job)."""
        self.token.stop()

    def pause(self) -> None:
        """Hold the job at its next checkpoint."""
        self.token.pause()

    def resume(self) -> None:
        """Let a paused job go on."""
        self.token.resume()

    @property
    def paused(self) -> bool:
        """Return whether the job is held at a checkpoint (or will be at the next one)."""
        return self.token.paused

    def deliver(self) -> bool:
        """Call the callbacks with what is new; return True once the job has ended and been delivered."""
        done = self.done  # read first: every snapshot stored before the job ended is then taken below
        with self._lock:
            fresh = self._version != self._seen
            snapshot, self._seen = self._snapshot, self._version
        try:
            if fresh and self._on_snapshot is not None:
                self._on_snapshot(snapshot)
        finally:  # a view that failed to draw a snapshot still hears that its job ended
            if done and not self._delivered:
                self._delivered = True
                if self._on_done is not None:
                    self._on_done(self)
        return done


class JobRunner(QtCore.QObject):
    """Runs engine generators in worker threads; pulls their snapshots into the GUI thread at ~30 Hz."""

    job_done = QtCore.Signal(object)  # the JobHandle, after its on_done callback ran (tests wait on it)

    def __init__(self, parent: QtCore.QObject | None = None, interval_ms: int = POLL_MS):
        super().__init__(parent)
        collect_garbage_in_gui_thread()
        self.jobs: list[JobHandle] = []
        self.timer = QtCore.QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self.poll)

    def start(
        self,
        name: str,
        job: Callable[[Token], Any],
        on_snapshot: Callable[[Any], None] | None = None,
        on_done: Callable[[JobHandle], None] | None = None,
        threads: int | None = 1,
    ) -> JobHandle:
        """Start ``job(token)`` (a generator function of its token) in a thread and return its handle.

        ``threads`` sets torch's thread count in that thread (1 suits small models; the window keeps a core).
        The count belongs to the calling thread (torch sets OpenMP's per-thread count; a test checks it), so a
        job's choice never changes the GUI thread's or another job's; training jobs then choose their own
        (engine/threads.py).
        """
        handle = JobHandle(name, job, on_snapshot, on_done, threads)
        self.jobs.append(handle)
        handle.thread.start()
        if not self.timer.isActive():
            self.timer.start()
        return handle

    def poll(self) -> None:
        """Deliver new snapshots and finished jobs to their callbacks (GUI thread)."""
        for handle in list(self.jobs):
            try:
                ended = handle.deliver()
            except Exception as err:  # noqa: BLE001 - a drawing bug must not print a traceback at the user
                print(f"Descent Lab: internal error while showing job {handle.name}: {err!r}", file=sys.stderr)
                ended = handle.done
            if ended:
                self.jobs.remove(handle)
                self.job_done.emit(handle)
        if not self.jobs:
            self.timer.stop()

    def running(self, name: str | None = None) -> list[JobHandle]:
        """Return the jobs not yet delivered as done (of this name, if given)."""
        return [h for h in self.jobs if name is None or h.name == name]

    def stop_all(self, name: str | None = None) -> None:
        """Ask every job (of this name) to stop."""
        for handle in self.running(name):
            handle.stop()

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop every job and wait at most ``timeout`` seconds in all; return whether all threads ended.

        A thread still inside an uninterruptible call after that is a daemon: it does not keep the process alive.
        """
        self.timer.stop()
        for handle in self.jobs:
            handle.stop()
        deadline = time.monotonic() + timeout
        for handle in self.jobs:
            handle.thread.join(max(0.0, deadline - time.monotonic()))
        return all(not h.thread.is_alive() for h in self.jobs)
