"""The comparison tab's "Landscape of two runs": both runs' paths on the plane through their shared start and
their two ends (engine.training.landscape_compare), computed on the shared JobRunner, drawn with
gui.charts.landscape as the command line's `compare --landscape` draws landscape.png.

Runs of a comparison with the same seed start from identical weights, so that plane holds the start and both
ends exactly: "momentum 0 vs 0.5" reads as two routes across one landscape.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.training.compare import curve_colour
from engine.training.landscape_compare import two_runs_job
from gui.charts import style
from gui.charts.landscape import TwoRunCharts
from gui.jobs import JobRunner

JOB = "two_run_landscape"
DEFAULT_GRID = 21  # a 21 × 21 plane of a small network takes well under a second


def run_name(run) -> str:
    """Return how a run is listed: its varied values and its seed ("momentum=0.5, lr=0.1 · seed 1")."""
    return f"{run.name} · seed {run.seed}"


class TwoRunLandscape(QtWidgets.QWidget):
    """Two run choosers, a grid size, Compute/Stop, a status line and the comparison plane's charts."""

    drawn = QtCore.Signal(object)  # the TwoRunLandscape just drawn (for tests and the window)

    def __init__(self, runner: JobRunner | None = None, parent=None):
        super().__init__(parent)
        self.runner = runner or JobRunner(self)
        self.runs: list = []
        self.colours: list[str] = []  # each listed run's colour in the comparison's overlay charts
        self._colours: list[str] = []  # those of the two runs being computed
        self.job = None
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        row = QtWidgets.QHBoxLayout()
        self.run_a, self.run_b = QtWidgets.QComboBox(), QtWidgets.QComboBox()
        for combo, which in ((self.run_a, "first"), (self.run_b, "second")):
            combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(18)
            combo.setToolTip(f"The {which} run: its end is one of the plane's three points")
        self.grid = QtWidgets.QSpinBox()
        self.grid.setRange(5, 101)
        self.grid.setSingleStep(2)
        self.grid.setValue(DEFAULT_GRID)
        self.grid.setSuffix(" × grid")
        self.grid.setToolTip("Points per side of the plane: each point is one network evaluated on the training rows")
        self.compute = QtWidgets.QPushButton("Compute")
        self.compute.setToolTip(
            "Train the two runs again, recording their weights after every epoch (training is deterministic: "
            "they are the comparison's own runs), then evaluate the plane through their start and both ends"
        )
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        for label, w in (("runs", self.run_a), ("and", self.run_b)):
            row.addWidget(QtWidgets.QLabel(label))
            row.addWidget(w, 1)
        for w in (self.grid, self.compute, self.stop_button):
            row.addWidget(w)
        layout.addLayout(row)
        self.status = QtWidgets.QLabel("Run a comparison, then choose two runs with the same seed.")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: #555;")
        layout.addWidget(self.status)
        self.canvas = pg.GraphicsLayoutWidget()
        self.charts = TwoRunCharts(self.canvas.ci)
        layout.addWidget(self.canvas, 1)
        self.compute.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.set_runs([])

    def set_runs(self, runs, varied: list[str] = ()) -> None:
        """List ``runs`` (RunResults of the comparison over the fields ``varied``) in both choosers, keeping the
        choices made where they still exist; by default the first run and the next one with its seed. Each run
        keeps the colour of its curve in the overlay charts. Returns nothing."""
        names = [run_name(r) for r in runs]
        self.runs = list(runs)
        order = list(dict.fromkeys(tuple(r.label.items()) for r in runs))  # the overlay's curves: one per label
        self.colours = [
            curve_colour(r.label, list(varied)) or style.colour(order.index(tuple(r.label.items()))) for r in runs
        ]
        if names == [self.run_a.itemText(i) for i in range(self.run_a.count())]:
            return  # the same runs (a comparison still training): nothing to redo
        chosen = (self.run_a.currentText(), self.run_b.currentText())
        if self.charts.names and not set(self.charts.names) <= {r.name for r in runs}:
            self.stop()  # another comparison (or an opened file): the plane drawn is of runs no longer listed
            self.charts.clear()
            self.status.setText("Choose two runs with the same seed, then Compute.")
        for combo in (self.run_a, self.run_b):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.blockSignals(False)
        first = names.index(chosen[0]) if chosen[0] in names else 0
        same_seed = [i for i, r in enumerate(runs) if i != first and r.seed == runs[first].seed] if runs else []
        second = names.index(chosen[1]) if chosen[1] in names else (same_seed or [min(1, len(names) - 1)])[0]
        self.run_a.setCurrentIndex(first if names else -1)
        self.run_b.setCurrentIndex(second if names else -1)
        self.compute.setEnabled(len(names) >= 2 and self.job is None)

    def chosen(self) -> tuple[list, list[str], list[str]]:
        """Return (the two chosen runs' TrainConfigs, their names, their colours); raise UserError when they
        cannot make a plane."""
        a, b = self.run_a.currentIndex(), self.run_b.currentIndex()
        if len(self.runs) < 2 or a < 0 or b < 0:
            raise UserError("the plane needs two runs: run a comparison first", "landscape_plane")
        if a == b:
            raise UserError("choose two different runs", "landscape_plane")
        ra, rb = self.runs[a], self.runs[b]
        return [ra.config, rb.config], [ra.name, rb.name], [self.colours[a], self.colours[b]]

    def start(self) -> None:
        """Compute the plane of the two chosen runs in the background (the runs are trained again)."""
        if self.job is not None:
            return
        try:
            configs, names, colours = self.chosen()
        except UserError as err:
            self.status.setText(f"No landscape: {err.message}.")
            return
        grid = self.grid.value()

        def job(token):
            data = configs[0].load_data()  # in the worker: MNIST takes a while to read
            result = yield from two_runs_job(configs, names, data, token, grid)
            return result

        self._colours = colours
        self.status.setText(f"Training {names[0]} and {names[1]} again, recording their weights …")
        self.compute.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.job = self.runner.start(JOB, job, on_snapshot=self._progress, on_done=self._done)

    def stop(self) -> None:
        """Stop the computation (the tab closes, or the user asks); the plane drawn before stays."""
        if self.job is not None:
            self.job.stop()

    def _progress(self, p) -> None:
        what = {"train": "training the two runs", "grid": "the plane", "path": "the two paths"}.get(p.stage, p.stage)
        self.status.setText(f"Computing the landscape of two runs: {what}, {p.done} of {p.total}")

    def _done(self, handle) -> None:
        if handle is not self.job:
            return
        self.job = None
        self.stop_button.setEnabled(False)
        self.compute.setEnabled(len(self.runs) >= 2)
        if handle.error is not None:
            message = getattr(handle.error, "message", str(handle.error))
            self.status.setText(f"No landscape: {message}.")
            return
        tl = handle.result
        if tl is None:
            self.status.setText("Stopped: the plane shown (if any) is the previous one.")
            return
        self.charts.set_two_runs(tl, [r.name for r in tl.runs], self._colours)
        parts = []
        for r in tl.runs:
            inner = r.projection.ratio[1:-1]  # start and end lie on the plane by construction
            off = float(np.nanmedian(inner)) if inner.size else 0.0
            parts.append(
                f"{r.name}: loss {r.path_loss[-1]:.4g} after {r.epochs[-1]} epochs, median off-plane {off:.2f}"
            )
        self.status.setText(
            f"{tl.loss.size} networks on {len(tl.rows)} of {tl.n_train} training rows in {tl.seconds:.2f} s. "
            + "; ".join(parts)
        )
        self.drawn.emit(tl)
