"""History: the run store's past sweeps and their runs, each reopened as an experiment (File > History…).

A sweep reopens on the Comparison tab with its settings and every stored run drawn; one run reopens on the
Training tab with its configuration and history. The store is opened read-only, and the list reads only each
run's summary (label, seed, final loss): a run's configuration and history are read when it is opened.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.sweep.reopen import run_experiment, sweep_experiment
from engine.sweep.store import RunStore, default_store_path

COLUMNS = ["sweep / run", "started", "backend", "status", "runs", "final loss", "what"]
ROLE = QtCore.Qt.ItemDataRole.UserRole


def _loss(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if math.isfinite(value) else "diverged"


class HistoryView(QtWidgets.QWidget):
    """A tree of sweeps (with their runs) from the run store, and Open to reopen the selected one."""

    opened = QtCore.Signal(object)  # the Experiment of the sweep or run reopened

    def __init__(self, store_path: str | Path | None = None, parent=None):
        super().__init__(parent)
        self.store_path = Path(store_path) if store_path is not None else default_store_path()
        layout = QtWidgets.QVBoxLayout(self)
        self.where = QtWidgets.QLabel(f"Run store: {self.store_path}")
        self.where.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.where)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        layout.addWidget(self.tree, 1)
        self.error = QtWidgets.QLabel()
        self.error.setStyleSheet("color: #b00000;")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)
        row = QtWidgets.QHBoxLayout()
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.open_button = QtWidgets.QPushButton("Open as experiment")
        self.open_button.setToolTip("A sweep opens on the Comparison tab, a run on the Training tab")
        row.addWidget(self.refresh_button)
        row.addStretch(1)
        row.addWidget(self.open_button)
        layout.addLayout(row)
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button.clicked.connect(self.open_selected)
        self.tree.itemDoubleClicked.connect(lambda *_: self.open_selected())
        self.tree.itemSelectionChanged.connect(self._sync)
        self.refresh()

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _sync(self) -> None:
        self.open_button.setEnabled(bool(self.tree.selectedItems()))

    def refresh(self) -> None:
        """Read the store again and list every sweep, newest first, with its runs."""
        self.tree.clear()
        self._show_error("")
        if not self.store_path.is_file():
            self._show_error("No runs yet: every comparison you run is kept here.")
            self._sync()
            return
        try:
            with RunStore(self.store_path, read_only=True) as store:
                sweeps, runs = store.sweeps(), store.summaries()
        except UserError as err:
            self._show_error(err.message)
            self._sync()
            return
        by_sweep: dict[int, list] = {}
        for r in runs:
            by_sweep.setdefault(r.sweep_id, []).append(r)
        for s in reversed(sweeps):
            started = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created))
            item = QtWidgets.QTreeWidgetItem(
                [f"sweep {s.id}", started, s.backend, s.status, f"{s.stored}/{s.planned}", "", s.varied()]
            )
            item.setData(0, ROLE, ("sweep", s.id))
            for r in by_sweep.get(s.id, []):
                loss = "diverged" if r.diverged_at is not None else _loss(r.final_loss)
                child = QtWidgets.QTreeWidgetItem(
                    [f"run {r.id}", "", r.backend, "", "", loss, f"{r.name}, seed {r.seed}"]
                )
                child.setData(0, ROLE, ("run", r.id))
                item.addChild(child)
            self.tree.addTopLevelItem(item)
        for c in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(c)
        self._sync()

    def open_selected(self) -> None:
        """Reopen the selected sweep or run as an experiment (emits ``opened``); a problem is shown here."""
        items = self.tree.selectedItems()
        if not items:
            return
        kind, ident = items[0].data(0, ROLE)
        try:
            with RunStore(self.store_path, read_only=True) as store:
                exp = run_experiment(store.run(ident)) if kind == "run" else sweep_experiment(store, ident)
        except UserError as err:
            self._show_error(err.message)
            return
        self._show_error("")
        self.opened.emit(exp)


class HistoryDialog(QtWidgets.QDialog):
    """File > History…: the HistoryView in a dialog that closes once something is reopened."""

    def __init__(self, parent, on_open: Callable, store_path: str | Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("History — past sweeps and runs")
        self.resize(900, 500)
        layout = QtWidgets.QVBoxLayout(self)
        self.view = HistoryView(store_path)
        layout.addWidget(self.view)
        # on_open returns False when the user kept the current experiment: the list stays open
        self.view.opened.connect(lambda exp: on_open(exp) is not False and self.accept())
