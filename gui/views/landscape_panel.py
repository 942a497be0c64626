"""The Training tab's loss-landscape panel: the slice of the training loss around the run's weights, live.

It watches the training snapshots (their ``weight_path``: the weights after every epoch) and, every N epochs
(a setting) and when a run stops, computes the landscape as an engine job on the shared JobRunner, never in
the window's thread. It draws with gui.charts.landscape, as the command line's landscape.png does.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.training.checks import resolve_device
from engine.training.landscape_eval import loss_model
from engine.training.landscape_job import landscape_job
from gui.charts.landscape import LandscapeCharts

PLANE_CHOICES = (
    ("random", "two random directions (filter-normalised)"),
    ("pca", "PCA plane of the path so far"),
    ("three", "plane through start, middle epoch and now"),
)
JOB = "landscape"


class LandscapePanel(QtWidgets.QWidget):
    """Controls (on/off, plane, every N epochs, grid, compute now), the status line and the landscape charts."""

    drawn = QtCore.Signal(object)  # the Landscape just drawn (for tests and the window)

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.snapshot = None  # the newest training snapshot
        self.job = None
        self.computed_epoch: int | None = None  # the epoch of the path's end in the landscape shown
        self._pending = False
        self._build()

    def _build(self) -> None:
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        row = QtWidgets.QHBoxLayout()
        self.enabled = QtWidgets.QCheckBox("Loss landscape")
        self.enabled.setToolTip(
            "The training loss on a plane through weight space around the current weights, with the run's "
            "path projected onto it; computed in the background every N epochs"
        )
        self.plane = QtWidgets.QComboBox()
        for key, text in PLANE_CHOICES:
            self.plane.addItem(text, key)
        self.plane.setToolTip(
            "Random: the view of Li et al. 2018, but the path lies almost entirely off it (see the ratio chart). "
            "PCA: the plane that holds most of the path. Three points: contains start, middle and now exactly"
        )
        self.every = QtWidgets.QSpinBox()
        self.every.setRange(1, 10_000)
        self.every.setValue(10)
        self.every.setPrefix("every ")
        self.every.setSuffix(" epochs")
        self.every.setToolTip("Recompute the landscape after this many more epochs (and when a run stops)")
        self.grid = QtWidgets.QSpinBox()
        self.grid.setRange(5, 101)
        self.grid.setSingleStep(2)
        self.grid.setValue(31)
        self.grid.setSuffix(" × grid")
        self.grid.setToolTip("Points per side of the grid: each point is one network evaluated on the training rows")
        self.compute = QtWidgets.QPushButton("Compute now")
        self.compute.setToolTip("Compute the landscape for the weights so far")
        for w in (self.enabled, self.plane, self.every, self.grid, self.compute):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QtWidgets.QLabel("Turn on to see the loss landscape of this network, with its path.")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555;")
        layout.addWidget(self.status)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setMinimumHeight(380)
        self.charts = LandscapeCharts(self.canvas.ci, wide=True)
        layout.addWidget(self.canvas, 1)
        self.enabled.toggled.connect(self._toggled)
        self.compute.clicked.connect(lambda: self.request(force=True))
        self.plane.currentIndexChanged.connect(lambda: self.request(force=True))
        self._toggled(False)

    # -- the training run ---------------------------------------------------------------------------------
    def on_snapshot(self, snapshot) -> None:
        """Take a training snapshot; start a landscape when N epochs have passed since the last one."""
        self.snapshot = snapshot
        if self.enabled.isChecked() and snapshot.weight_path is not None:
            self.request()

    def training_ended(self) -> None:
        """A training job ended (finished, paused, stopped): bring the landscape up to the last epoch."""
        if self.enabled.isChecked() and self.snapshot is not None and self.snapshot.weight_path is not None:
            if self.computed_epoch != self.snapshot.epoch:
                self.request(force=True)

    def clear(self) -> None:
        """Forget the run (a new one starts): stop a landscape job and clear the charts."""
        if self.job is not None:
            self.job.stop()
        self.job, self.snapshot, self.computed_epoch, self._pending = None, None, None, False
        self.charts.clear()
        self.status.setText("The landscape appears after the first epochs of the new run.")

    def _toggled(self, on: bool) -> None:
        for w in (self.plane, self.every, self.grid, self.compute, self.canvas):
            w.setVisible(on)
        if on:
            self.request(force=True)
        elif self.job is not None:
            self.job.stop()
            self.job = None

    # -- the job ------------------------------------------------------------------------------------------
    def request(self, force: bool = False) -> None:
        """Start a landscape job for the newest weights when due (``force``: now); queue it while one runs."""
        s = self.snapshot
        if not self.enabled.isChecked():
            return
        if s is None or s.weight_path is None or len(s.weight_path) == 0:
            self.status.setText("Train at least one epoch (Step or Run): the landscape needs the run's weights.")
            return
        newest = s.weight_path.newest()
        due = self.computed_epoch is None or newest - self.computed_epoch >= self.every.value()
        if not force and (not due or newest == self.computed_epoch):
            return
        if self.job is not None:
            self._pending = True
            return
        self._pending = False
        path, plane, grid = s.weight_path, self.plane.currentData(), self.grid.value()
        n_train = len(path.data.x_train)

        def job(token):
            epochs, points = path.points()
            model = loss_model(path.config, path.data, device=resolve_device(path.config.device))
            result = yield from landscape_job(model, epochs, points, plane, grid, None, token, n_train=n_train)
            return result

        self.status.setText(f"Computing the landscape at epoch {newest} …")
        # threads=None: torch's thread count is process-wide, and the training job beside it has chosen its own
        self.job = self.runner.start(JOB, job, on_snapshot=self._progress, on_done=self._done, threads=None)

    def _progress(self, p) -> None:
        self.status.setText(f"Computing the landscape: {p.stage}, {p.done} of {p.total} networks")

    def _done(self, handle) -> None:
        if handle is not self.job:
            return  # stopped and replaced (a new run, the panel turned off)
        self.job = None
        if handle.error is not None:
            self.status.setText(f"No landscape: {handle.error.message}")
        elif handle.result is not None:
            ls = handle.result
            self.computed_epoch = ls.epochs[-1]
            self.charts.set_landscape(ls)
            rows = f"{len(ls.rows)} of {ls.n_train}" if len(ls.rows) < ls.n_train else f"all {ls.n_train}"
            cap = ls.colour_cap()
            cap = f"; colours capped at loss {cap:.3g}" if cap < np.nanmax(ls.loss) else ""
            self.status.setText(
                f"Epoch {ls.epochs[-1]}: loss on {rows} training rows, {ls.loss.size} networks in {ls.seconds:.2f} s"
                f"{cap}. "
                f"{ls.summary()}"
            )
            self.drawn.emit(ls)
        if self._pending:
            self.request(force=True)

    def stop(self) -> None:
        """Stop a running landscape job (the window closes or an experiment is opened); returns nothing."""
        if self.job is not None:
            self.job.stop()
            self.job = None


def with_landscape(panels: QtWidgets.QWidget, landscape: LandscapePanel) -> QtWidgets.QSplitter:
    """Return a vertical splitter holding the training panels above the landscape panel."""
    split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
    split.addWidget(panels)
    split.addWidget(landscape)
    split.setStretchFactor(0, 3)
    split.setStretchFactor(1, 2)
    split.setChildrenCollapsible(False)
    return split
