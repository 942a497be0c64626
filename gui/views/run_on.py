"""The comparison tab's "Run on: this machine / Ray cluster at …" choice and its progress text."""

from __future__ import annotations

import importlib.util

from PySide6 import QtWidgets

from engine.sweep.executors import RAY_INSTALL

LOCAL, RAY = "this machine", "Ray cluster at"


def ray_installed() -> bool:
    """Return whether Ray can be imported (without importing it: that takes seconds)."""
    return importlib.util.find_spec("ray") is not None


class RunOnBox(QtWidgets.QWidget):
    """A choice of backend (this machine, or a Ray cluster at an address) for the comparison's runs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QtWidgets.QLabel("Run on:"))
        self.where = QtWidgets.QComboBox()
        self.where.addItems([LOCAL, RAY])
        self.where.setToolTip("This machine trains compatible runs together; a Ray cluster spreads run groups")
        self.address = QtWidgets.QLineEdit()
        self.address.setPlaceholderText("auto, host:port, or blank for a local Ray")
        self.address.setToolTip(
            "auto joins the cluster running here (ray start); host:port joins that one; blank starts a local Ray,"
            " kept for the next sweeps until Descent Lab closes"
        )
        row.addWidget(self.where)
        row.addWidget(self.address, 1)
        if not ray_installed():
            item = self.where.model().item(1)
            item.setEnabled(False)
            item.setToolTip(RAY_INSTALL)
            self.where.setToolTip(RAY_INSTALL)
        self.where.currentIndexChanged.connect(self._sync)
        self._sync()

    def _sync(self, *_) -> None:
        self.address.setEnabled(self.where.currentIndex() == 1)

    def choice(self) -> tuple[str, str | None]:
        """Return (backend, Ray address or None): ("local", None) or ("ray", "auto" / "host:port" / None)."""
        if self.where.currentIndex() == 0:
            return "local", None
        return "ray", self.address.text().strip() or None


def progress_text(snap, planned: int) -> str:
    """Return the progress bar's words for a SweepSnapshot: runs done, running and failed of the planned ones."""
    text = f"{snap.done} of {planned} runs done · {snap.running} running"
    return text + (f" · {snap.failed} failed" if snap.failed else "")
