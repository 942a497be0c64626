"""Starts the Descent Lab window."""

from __future__ import annotations

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
    # quitting without closing the window (the session ends, app.quit()) must still end every job first:
    # a worker thread inside torch while the interpreter shuts down can crash the process on its way out
    window.runner.shutdown(timeout=1.0)
    return code


def settle_garbage_collector() -> None:
    """Move every object that exists now (the window's thousands of Qt/pyqtgraph items) out of the
    collector's view: a full collection otherwise walks them all and pauses every thread for 50–140 ms,
    which the window shows as a stall while training."""
    import gc

    gc.collect()
    gc.freeze()
