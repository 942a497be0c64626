"""Clean shutdown of a view's worker thread."""

from __future__ import annotations

from PySide6 import QtCore


def stop_worker_thread(timer: QtCore.QTimer, worker, thread: QtCore.QThread) -> None:
    """Stop the view's refresh timer, ask the worker to stop between batches, and wait for the thread.

    The stop flag makes the loop return promptly; requestInterruption/quit/wait then end the thread, so Qt
    never destroys a running thread.
    """
    timer.stop()
    worker.request_stop()
    thread.requestInterruption()
    thread.quit()
    thread.wait()
