"""The Training tab's loss-landscape panel: the slice of the training loss around the run's weights, live.

It watches the training snapshots (their ``weight_path``: the weights after every epoch) and, every N epochs
(a setting) and when a run stops, computes the landscape as an engine job on the shared JobRunner, never in
the window's thread. It draws with gui.charts.landscape, as the command line's landscape.png does.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.experiment import Experiment, load_section
from engine.experiment_landscape import MIDDLE, LandscapeSettings
from engine.training.checks import resolve_device
from engine.training.landscape_eval import loss_model
from engine.training.landscape_job import landscape_job
from gui.charts.landscape import LandscapeCharts

PLANE_CHOICES = (
    ("random", "two random directions (filter-normalised)"),
    ("pca", "PCA plane of the path so far"),
    ("three", "plane through two chosen epochs and now"),
)
JOB = "landscape"


class LandscapePanel(QtWidgets.QWidget):
    """Controls (on/off, plane, every N epochs, grid, compute now), the status line and the landscape charts."""

    drawn = QtCore.Signal(object)  # the Landscape just drawn (for tests and the window)

    def __init__(self, runner, experiment: Experiment | None = None, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.experiment = experiment or Experiment()  # its ``landscape`` section holds these controls' values
        self._showing = False
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
        self.first, self.second = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
        self.first.setPrefix("through epoch ")
        self.first.setToolTip(
            "The three-point plane's first point: the weights after this epoch (0: the start; a long run keeps "
            "every 2nd, 4th … epoch, and the nearest one kept is used)"
        )
        self.second.setPrefix("and epoch ")
        self.second.setSpecialValueText("and the middle epoch")
        self.second.setToolTip(
            "Its second point (lowest value: the middle of the path so far); the third is always the newest weights"
        )
        self.compute = QtWidgets.QPushButton("Compute now")
        self.compute.setToolTip("Compute the landscape for the weights so far")
        for w in (self.enabled, self.plane, self.first, self.second, self.every, self.grid, self.compute):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QtWidgets.QLabel("Turn on to see the loss landscape of this network, with its path.")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555;")
        layout.addWidget(self.status)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setMinimumHeight(300)  # a laptop-height window still leaves the training charts readable
        self.charts = LandscapeCharts(self.canvas.ci, wide=True)
        self.canvas.ci.setContentsMargins(2, 2, 2, 20)  # room under the axis titles ("α (direction 1)", "epoch")
        self._empty_map()
        layout.addWidget(self.canvas, 1)
        self.compute.clicked.connect(lambda: self.request(force=True))
        self.bound_epochs(None)
        self.show_settings(self.experiment.landscape)
        self._toggled(self.enabled.isChecked())
        self.enabled.toggled.connect(self._toggled)
        self.plane.currentIndexChanged.connect(self._plane_changed)
        for spin in (self.every, self.grid, self.first, self.second):
            spin.valueChanged.connect(self._edited)
        self.first.valueChanged.connect(self._three_changed)
        self.second.valueChanged.connect(self._three_changed)
        self.experiment.events.landscape.connect(self._model_changed)

    # -- the experiment's landscape section ---------------------------------------------------------------
    def settings(self) -> LandscapeSettings:
        """Return the controls as validated LandscapeSettings; raise UserError naming ``landscape.<field>``."""
        data = {
            "shown": self.enabled.isChecked(),
            "plane": self.plane.currentData(),
            "every": self.every.value(),
            "grid": self.grid.value(),
            "first_epoch": self.first.value(),
            "second_epoch": self.second.value(),
        }
        return load_section(LandscapeSettings, data, "landscape")

    def show_settings(self, s: LandscapeSettings) -> None:
        """Show ``s`` in the controls (an opened experiment); nothing is computed for the change itself."""
        self._showing = True
        try:
            self.plane.setCurrentIndex(max(0, self.plane.findData(s.plane)))
            self.every.setValue(s.every)
            self.grid.setValue(s.grid)
            for spin, value in ((self.first, s.first_epoch), (self.second, s.second_epoch)):
                if value > spin.maximum():  # a saved epoch past this run's: widen, the next run may reach it
                    spin.setMaximum(value)
                spin.setValue(value)
            self.enabled.setChecked(s.shown)
        finally:
            self._showing = False
        self._three_visible()

    def _model_changed(self, s: LandscapeSettings) -> None:
        if not self._showing and s != self._current():
            self.show_settings(s)

    def _current(self) -> LandscapeSettings | None:
        try:
            return self.settings()
        except UserError:
            return None

    def _edited(self, *_) -> bool:
        """Write the controls into ``experiment.landscape``; return False (and say why) when they are invalid."""
        if self._showing:
            return True
        try:
            s = self.settings()
        except UserError as err:
            self.status.setText(f"{err}")
            return False
        if s != self.experiment.landscape:
            self._showing = True
            try:
                self.experiment.landscape = s
            finally:
                self._showing = False
        return True

    def bound_epochs(self, newest: int | None) -> None:
        """Bound the three-point plane's epochs by the epochs recorded (``newest``: the run's newest, None: no run
        yet, then by the configured epochs). The values kept in the experiment are not changed by a bound."""
        top = max(0, newest - 1) if newest is not None else max(1, self.experiment.training.epochs - 1)
        for spin, low in ((self.first, 0), (self.second, MIDDLE)):
            if spin.maximum() != top or spin.minimum() != low:
                spin.blockSignals(True)
                spin.setRange(low, top)
                spin.blockSignals(False)

    def _three_visible(self) -> None:
        three = self.enabled.isChecked() and self.plane.currentData() == "three"
        self.first.setVisible(three)
        self.second.setVisible(three)

    def _plane_changed(self, *_) -> None:
        self._three_visible()
        if self._edited() and not self._showing:
            self.request(force=True)

    def _three_changed(self, *_) -> None:
        if not self._showing and self.plane.currentData() == "three" and self._edited():
            self.request(force=True)

    # -- the training run ---------------------------------------------------------------------------------
    def on_snapshot(self, snapshot) -> None:
        """Take a training snapshot; start a landscape when N epochs have passed since the last one."""
        self.snapshot = snapshot
        if snapshot.weight_path is not None and len(snapshot.weight_path):
            self.bound_epochs(snapshot.weight_path.newest())
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
        self._empty_map()
        self.charts.line_chart.plot.setTitle("loss on the straight line start → now")
        self.status.setText("The landscape appears after the first epochs of the new run.")

    def _empty_map(self) -> None:
        """An empty, untitled map on a plain −1…1 square (pyqtgraph's empty view reads "−700 … 600 (x0.001)")."""
        self.charts.map_plot.setTitle(None)  # the old plane's name must not label an empty map
        self.charts.map_plot.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)

    def _toggled(self, on: bool) -> None:
        for w in (self.plane, self.every, self.grid, self.compute, self.canvas):
            w.setVisible(on)
        self._three_visible()
        self._edited()
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
        second = self.second.value()
        three = (self.first.value(), None if second == MIDDLE else second)

        def job(token):
            epochs, points = path.points()
            model = loss_model(path.config, path.data, device=resolve_device(path.config.device))
            result = yield from landscape_job(
                model, epochs, points, plane, grid, None, token, n_train=n_train, three_epochs=three
            )
            return result

        self.status.setText(f"Computing the landscape at epoch {newest} …")
        # threads=None: this thread keeps torch's default count (every core); a grid of networks is large work
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
