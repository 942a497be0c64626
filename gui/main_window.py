"""The main window (placeholder until the views land)."""
from PySide6 import QtWidgets


class MainWindow(QtWidgets.QMainWindow):
    """Descent Lab's main window."""

    def __init__(self):
        super().__init__()
        self.setWindowTitle("Descent Lab")
        self.setCentralWidget(QtWidgets.QLabel("Descent Lab"))
