"""Starts the Descent Lab window."""
from __future__ import annotations

import sys


def run_app() -> int:
    """Open the main window and return the Qt event loop's exit code."""
    from PySide6 import QtWidgets
    from . import style
    style.configure()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    app.setApplicationName("Descent Lab")
    app.setOrganizationName("Descent Lab")
    from .main_window import MainWindow
    window = MainWindow()
    window.show()
    return app.exec()
