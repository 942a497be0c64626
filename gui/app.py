"""Starts the Descent Lab window."""

from __future__ import annotations

import os
import sys


def run_app() -> int:
    """Open the main window and return the Qt event loop's exit code."""
    from PySide6 import QtWidgets

    from gui.charts import style

    style.configure()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    app.setApplicationName("Descent Lab")
    app.setOrganizationName("Descent Lab")
    from gui.views.main_window import MainWindow

    window = MainWindow()
    window.show()
    settle_garbage_collector()
    code = app.exec()
    # quitting without closing the window (the session ends, app.quit()) must still end every job first
    if not end_session(window):
        # a worker is still inside one call it cannot leave (a torch kernel, an import): finalizing Python
        # under it can abort the process, so leave at once, as a closed window should, with the exit code
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def end_session(window) -> bool:
    """Stop every job of ``window``, then the Ray this session started or joined; return whether every job's
    thread ended (if one did not, Ray is left alone: the process must leave at once)."""
    if not window.runner.shutdown(timeout=1.0):
        return False
    from engine.sweep.executors import shutdown_ray

    shutdown_ray()
    return True


def settle_garbage_collector() -> None:
    """Move every object that exists now (the window's thousands of Qt/pyqtgraph items) out of the
    collector's view: a full collection otherwise walks them all and pauses every thread for 50–140 ms,
    which the window shows as a stall while training."""
    import gc

    gc.collect()
    gc.freeze()
