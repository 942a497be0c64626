"""The convergence-map window: one optimizer over a grid of two hyperparameters, and a click opens a cell.

On the surface tab the map is of paths from the first start (one paths job); clicking a cell runs that
configuration on the surface. On the comparison tab it is of training runs of the comparison's base
(all cells in one batched training); clicking a cell opens that configuration in the Training tab.
The job runs in the background with a progress bar and Stop; a training map fills in as it trains (each
cell coloured by its latest epoch's loss, redrawn a few times a second from the job's latest snapshot).
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.jobs import Token
from engine.map_grid import Axis, check_cells
from engine.optimizers import OPTIMIZERS
from gui.charts.convergence_map import COLOUR_BY, ConvergenceMapChart
from gui.jobs import JobRunner
from gui.views.sizing import FullSpinBox

LIVE_MS = 250  # how often a training map being computed is redrawn


def numeric_params(optimizer: str) -> list:
    """Return the optimizer's hyperparameters a map can vary (numbers, not switches or choices)."""
    return [p for p in OPTIMIZERS.get(optimizer).params if p.kind == "float"]


class AxisEditor(QtWidgets.QWidget):
    """One axis: the field, low, high, the number of cells and log spacing."""

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.field = QtWidgets.QComboBox()
        self.low = FullSpinBox(value=0.001, dec=True, step=0.5, minStep=1e-12, decimals=4)
        self.high = FullSpinBox(value=1.0, dec=True, step=0.5, minStep=1e-12, decimals=4)
        self.n = QtWidgets.QSpinBox()
        self.n.setRange(1, 40)
        self.n.setValue(12)
        self.log = QtWidgets.QCheckBox("log")
        for w in (self.field, self.low, self.high, self.n, self.log):
            row.addWidget(w)
        self.n.setToolTip("cells along this axis")

    def set_fields(self, params, prefer: str) -> None:
        """List ``params`` (registry Params) and choose ``prefer`` (or the first), with a range that fits it."""
        self.field.clear()
        for p in params:
            self.field.addItem(p.name.replace("_", " "), p.name)
        index = max(self.field.findData(prefer), 0)
        self.field.setCurrentIndex(index)
        if params:
            p = params[index]
            log = p.log
            low = 1e-3 if log else float(p.low if p.low is not None else 0.0)
            high = 1.0 if log else float(min(p.high if p.high is not None else 1.0, 0.95 if p.high == 1 else 1e9))
            self.low.setValue(low)
            self.high.setValue(high)
            self.log.setChecked(log)

    def axis(self) -> Axis:
        """Return the Axis shown."""
        return Axis(
            self.field.currentData(),
            float(self.low.value()),
            float(self.high.value()),
            self.n.value(),
            self.log.isChecked(),
        )


class MapDialog(QtWidgets.QDialog):
    """The map of ``mode`` ("surface" or "training") for the settings ``read_settings()`` returns.

    ``open_cell(settings)`` receives the settings of a clicked cell (SurfaceSettings or TrainingSettings).
    """

    finished_map = QtCore.Signal(str)  # "finished", "stopped" or "error"

    def __init__(self, mode: str, read_settings: Callable, open_cell: Callable, parent=None):
        super().__init__(parent)
        self.mode, self.read_settings, self.open_cell = mode, read_settings, open_cell
        self.setWindowTitle("Convergence map" + (" (surface)" if mode == "surface" else " (training)"))
        self.runner = JobRunner(self)
        self.result = None
        self._job = None
        self._settings = None
        self._live = None  # the latest snapshot of a training map being computed, not drawn yet
        self._live_base = None  # that map's base configuration
        self._live_timer = QtCore.QTimer(self, interval=LIVE_MS)
        self._live_timer.timeout.connect(self._draw_live)
        outer = QtWidgets.QVBoxLayout(self)
        form = QtWidgets.QFormLayout()
        self.optimizer = QtWidgets.QComboBox()
        self.x_axis, self.y_axis = AxisEditor(), AxisEditor()
        self.colour_by = QtWidgets.QComboBox()
        for key in COLOUR_BY:
            self.colour_by.addItem(key.replace("_", " "), key)
        self.colour_by.setToolTip("Colour cells by the final loss or by the steps (epochs) to reach the tolerance")
        self.tol = FullSpinBox(value=1e-3 if mode == "surface" else 0.05, dec=True, step=0.5, minStep=1e-12, decimals=4)
        self.tol.setToolTip("steps to tol: the first step within this of the target loss")
        form.addRow("optimizer", self.optimizer)
        form.addRow("x axis", self.x_axis)
        form.addRow("y axis", self.y_axis)
        form.addRow("colour by", self.colour_by)
        form.addRow("tolerance", self.tol)
        outer.addLayout(form)
        row = QtWidgets.QHBoxLayout()
        self.run_button = QtWidgets.QPushButton("Compute map")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        outer.addLayout(row)
        self.progress = QtWidgets.QProgressBar()
        outer.addWidget(self.progress)
        self.status = QtWidgets.QLabel(
            "Click a cell to " + ("run it on the surface." if mode == "surface" else "open it in the Training tab.")
        )
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setMinimumSize(560, 440)
        self.chart = ConvergenceMapChart(self.canvas.addPlot())
        self.chart.on_click = self.open_cell_at
        outer.addWidget(self.canvas, 1)
        self.optimizer.currentIndexChanged.connect(self._optimizer_changed)
        self.run_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.colour_by.currentIndexChanged.connect(self._recolour)
        self.refresh()

    def refresh(self) -> None:
        """Offer the optimizers of the current settings (the surface's ticked ones, or every one for training)."""
        try:
            settings = self.read_settings()
        except UserError as err:
            self.status.setText(err.message)
            return
        ids = list(settings.optimizers) if self.mode == "surface" else OPTIMIZERS.ids()
        current = settings.optimizers[0] if self.mode == "surface" else settings.optimizer
        self.optimizer.blockSignals(True)
        self.optimizer.clear()
        for oid in ids:
            self.optimizer.addItem(OPTIMIZERS.get(oid).name, oid)
        self.optimizer.setCurrentIndex(max(self.optimizer.findData(current), 0))
        self.optimizer.blockSignals(False)
        self._optimizer_changed()

    def _optimizer_changed(self, *_) -> None:
        params = numeric_params(self.optimizer.currentData())
        self.x_axis.set_fields(params, "lr")
        second = next((p.name for p in params if p.name in ("momentum", "beta2", "beta1", "alpha", "rho")), None)
        self.y_axis.set_fields(params, second or (params[1].name if len(params) > 1 else "lr"))

    # -- the job ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Compute the map in the background."""
        if self._job is not None:
            return
        try:
            settings = self.read_settings()
            x, y = self.x_axis.axis(), self.y_axis.axis()
            check_cells(x, y)
            factory = self._factory(settings, x, y, float(self.tol.value()))
        except UserError as err:
            self.status.setText(err.message)
            return
        self._settings = settings
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(f"Computing {x.n * y.n} cells…")
        self._job = self.runner.start("map", factory, on_snapshot=self._on_snapshot, on_done=self._on_done)
        self._axes = (x, y, float(self.tol.value()))
        if self.mode == "training":  # the job's own base: the optimizer box may change while it runs
            base = settings.to_config()
            oid = self.optimizer.currentData()
            self._live_base = base if base.optimizer == oid else base.with_field("optimizer", oid).validated()
        if self.mode == "training":
            self._live_timer.start()

    def _factory(self, settings, x: Axis, y: Axis, tol: float) -> Callable[[Token], object]:
        oid = self.optimizer.currentData()
        if self.mode == "surface":
            from engine.surface.convergence_map import cell_specs, surface_map_job

            surface = settings.surface()
            start = settings.start_points(surface)[0]
            params = dict(settings.hyperparameters[oid])
            steps, sched, sched_params = settings.steps, settings.scheduler, settings.scheduler_params
            cell_specs(oid, params, x, y)  # every cell checked before the worker starts
            return lambda token: surface_map_job(
                surface, oid, params, start, x, y, steps, tol, sched, sched_params, token
            )
        from engine.training.convergence_map import map_comparison, training_map_job

        base = settings.to_config()
        if base.optimizer != oid:
            base = base.with_field("optimizer", oid).validated()
        map_comparison(base, x, y)  # every cell checked before the worker starts
        return lambda token: training_map_job(base, x, y, tol, token)

    def stop(self) -> None:
        """Stop the map (a training map keeps the epoch it reached, and its title says so); returns nothing."""
        if self._job is not None:
            self._job.stop()

    def _on_snapshot(self, s) -> None:
        done, total = (s.step, s.steps) if hasattr(s, "step") else (s.done, s.total)
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)
        if self.mode == "training" and getattr(s, "runs", None):
            self._live = s

    def _draw_live(self) -> None:
        """Draw the latest snapshot of a training map being computed (nothing when none came since)."""
        if self._live is None or self._job is None:
            return
        from engine.training.convergence_map import map_from_runs

        snapshot, self._live = self._live, None
        x, y, tol = self._axes
        base = self._live_base
        self.result = map_from_runs(snapshot.runs, base, x, y, tol)
        epoch = min(len(r.history) for r in snapshot.runs) - 1
        self.chart.plot.setTitle(f"convergence map: training, epoch {max(epoch, 0)} of {base.epochs}")
        self._recolour()
        if self.colour_by.currentData() == "final_loss":  # not final yet: each cell's latest epoch
            label = self.chart.colorbar.getAxis("left").labelText
            self.chart.colorbar.setLabel("left", label.replace("final loss", "latest loss"))

    def _on_done(self, handle) -> None:
        if handle is not self._job:
            return
        self._live_timer.stop()
        self._draw_live()  # a stopped map keeps what it reached
        self._job = None
        self._live = None
        title = self.chart.plot.titleLabel.text
        self.chart.plot.setTitle("convergence map")
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if handle.error is not None:
            self.status.setText(str(getattr(handle.error, "message", handle.error)))
            self.finished_map.emit("error")
            return
        if handle.result is None:
            if self.result is not None and "epoch" in title:  # the cells drawn so far stay, and say so
                self.chart.plot.setTitle(title.replace("training, epoch", "stopped at epoch"))
            self.status.setText("Stopped." + (" The map shows the epoch it reached." if "epoch" in title else ""))
            self.finished_map.emit("stopped")
            return
        self.result = handle.result
        self._recolour()
        diverged = int((self.result.diverged_at >= 0).sum())
        self.status.setText(
            f"{self.result.final_loss.size} cells, {diverged} diverged (crossed). Click a cell to "
            + ("run it on the surface." if self.mode == "surface" else "open it in the Training tab.")
        )
        self.finished_map.emit("finished")

    def _recolour(self, *_) -> None:
        if self.result is not None:
            self.chart.set_map(self.result, self.colour_by.currentData())

    # -- a cell -------------------------------------------------------------------------------------------
    def cell_settings(self, i: int, j: int):
        """Return the settings that run cell (row ``i``, column ``j``) of the map shown."""
        from engine.experiment import SurfaceSettings, TrainingSettings, load_section

        values = self.result.cell(i, j)
        oid = self.result.optimizer
        if self.mode == "surface":
            data = self._settings.model_dump()
            data["hyperparameters"][oid] = {**data["hyperparameters"][oid], **values}
            data["optimizers"] = [oid]
            return load_section(SurfaceSettings, data, "surface")
        cfg = self._settings.to_config()
        if cfg.optimizer != oid:
            cfg = cfg.with_field("optimizer", oid)
        for name, value in values.items():
            cfg = cfg.with_field(name, value)
        return TrainingSettings.from_config(cfg.validated())

    def open_cell_at(self, i: int, j: int) -> None:
        """Open cell (``i``, ``j``): pass its settings to ``open_cell``; returns nothing. A cell that cannot be
        opened (its settings refused) is said in the status line."""
        if self.result is None:
            return
        try:
            self.open_cell(self.cell_settings(i, j))
        except UserError as err:
            self.status.setText(f"This cell cannot be opened: {err.message}")
            return
        text = ", ".join(f"{k} = {v:.4g}" for k, v in self.result.cell(i, j).items())
        self.status.setText(f"Opened {OPTIMIZERS.get(self.result.optimizer).name} with {text}.")

    def done(self, code: int) -> None:  # noqa: D102 — closing stops the job
        self.runner.shutdown(1.0)
        super().done(code)


def open_surface_map(controls) -> MapDialog:
    """Open the map window for the surface tab's ``controls``; a clicked cell is shown (and run) there."""
    dialog = MapDialog("surface", controls.read_settings, controls.show_settings, controls)
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
