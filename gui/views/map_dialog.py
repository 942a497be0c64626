"""The convergence-map window: one optimizer over a grid of two hyperparameters, and a click opens a cell.

On the surface tab the map is of paths from the first start (one paths job); clicking a cell runs that
configuration on the surface. On the comparison tab it is of training runs of the comparison's base
(all cells in one batched training); clicking a cell opens that configuration in the Training tab.
The job runs in the background with a progress bar and Stop; a training map fills in as it trains (each
cell coloured by its latest epoch's loss, redrawn a few times a second from the job's latest snapshot).

The form is checked as the command line checks ``map`` before any job starts; a refusal is shown in red with
its box outlined, and a map that no longer matches the form is dimmed and titled "out of date". A clicked
surface cell sets only the mapped optimizer's two values on the surface tab as it is now (the other
optimizers race on beside it); the cell is outlined on the map, the status says what changed, and
"Put back" restores each mapped optimizer's settings from before its first cell.
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
from gui.views.field_errors import FieldErrors
from gui.views.map_axes import AxisEditor, cell_outline, map_title, numeric_params  # noqa: F401 (re-exported)
from gui.views.sizing import FullSpinBox
from gui.views.surface_changes import cell_words, optimizer_name, param_text

LIVE_MS = 250  # how often a training map being computed is redrawn
STALE_OPACITY = 0.3


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
        self._computed = None  # (optimizer, x, y, tol) of the map shown
        self._title = "convergence map"
        self._undo: dict = {}  # optimizer -> (its values before its first cell, was it ticked)
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
        self.undo_button = QtWidgets.QPushButton("Put back")
        self.undo_button.setToolTip("Give the mapped optimizer back the settings it had before the first cell")
        self.undo_button.setEnabled(False)
        self.undo_button.setVisible(mode == "surface")
        row.addWidget(self.run_button)
        row.addWidget(self.stop_button)
        row.addWidget(self.undo_button)
        outer.addLayout(row)
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00000;")
        self.error.hide()
        outer.addWidget(self.error)
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
        # the clicked cell: a white outline over a black one, seen on any colour
        self.marker_edge = pg.PlotDataItem([], [], pen=pg.mkPen("#000000", width=5))
        self.marker = pg.PlotDataItem([], [], pen=pg.mkPen("#ffffff", width=2))
        for z, item in enumerate((self.marker_edge, self.marker)):
            item.setZValue(20 + z)
            self.chart.plot.addItem(item)
        outer.addWidget(self.canvas, 1)
        words = {"optimizer": ("Optimizer", self.optimizer), "tol": ("Tolerance", self.tol)}
        for which, editor in (("x", self.x_axis), ("y", self.y_axis)):
            words[which] = (f"{which} axis", editor.field)
            words[f"{which}.field"] = (f"{which} axis", editor.field)
            words[f"{which}.low"] = (f"{which} axis low", editor.low)
            words[f"{which}.high"] = (f"{which} axis high", editor.high)
            words[f"{which}.n"] = (f"{which} axis cells", editor.n)
        self.errors = FieldErrors(self.error, words)
        self.optimizer.currentIndexChanged.connect(self._optimizer_changed)
        self.run_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.undo_button.clicked.connect(self.put_back)
        self.colour_by.currentIndexChanged.connect(self._recolour)
        for signal in (*self.x_axis.signals(), *self.y_axis.signals(), self.tol.valueChanged):
            signal.connect(self._form_changed)
        self.refresh()

    def refresh(self) -> None:
        """Offer the optimizers of the current settings (the surface's ticked ones, or every one for training)."""
        try:
            settings = self.read_settings()
        except UserError as err:
            self.errors.show_text(err.message)
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
        self._form_changed()

    # -- the form -----------------------------------------------------------------------------------------
    def checked_axes(self) -> tuple[Axis, Axis, float]:
        """Return (x axis, y axis, tolerance) as typed, checked as the command line checks them; raise UserError
        naming the box (``x.low``, ``y.high``, ``tol`` …) with the value typed."""
        oid = self.optimizer.currentData()
        if oid is None:
            raise UserError("no optimizer to map: tick one on the surface tab", "optimizer")
        x, y = self.x_axis.checked("x", oid), self.y_axis.checked("y", oid)
        try:
            check_cells(x, y)
        except UserError as err:
            raise UserError(err.message, "y.field" if err.field == "y" else "x.n") from None
        tol = float(self.tol.value())
        if not tol >= 0:
            raise UserError(f"{tol:g} is below 0; the tolerance is a loss difference ≥ 0", "tol")
        return x, y, tol

    def _form_changed(self, *_) -> None:
        """Check the form as it is edited (the error shows at once) and dim a map that no longer matches it."""
        try:
            x, y, tol = self.checked_axes()
        except UserError as err:
            self.errors.show(err)
            self._set_stale(self.result is not None)
            return
        self.errors.clear()
        if self.result is not None and self._job is None:
            self._set_stale(self._computed != (self.optimizer.currentData(), x, y, tol))

    def _set_stale(self, stale: bool) -> None:
        """Dim the map and title it "out of date" (``stale``), or show it as computed."""
        for name in ("image", "ground", "crosses", "above"):  # the cells and their marks, not the axes
            if getattr(self.chart, name, None) is not None:
                getattr(self.chart, name).setOpacity(STALE_OPACITY if stale else 1.0)
        self.chart.plot.setTitle(f"out of date: {self._title}" if stale else self._title)

    # -- the job ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Compute the map in the background."""
        if self._job is not None:
            return
        try:
            x, y, tol = self.checked_axes()  # first: the form's own words, never a grid value
            settings = self.read_settings()
            factory = self._factory(settings, x, y, tol)
        except UserError as err:
            self.errors.show(err)
            self._set_stale(self.result is not None)
            return
        self.errors.clear()
        self._settings = settings
        self._computed = (self.optimizer.currentData(), x, y, tol)
        self._show_marker(None)
        self._set_stale(self.result is not None)  # the map shown is the previous one until this one is done
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
        self._title = f"{optimizer_name(base.optimizer)}: training, epoch {max(epoch, 0)} of {base.epochs}"
        self.chart.plot.setTitle(self._title)
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
        title = self._title
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if handle.error is not None:
            if isinstance(handle.error, UserError):
                self.errors.show(handle.error)
            else:
                self.errors.show_text(str(handle.error))
            self.status.setText("The map was not computed.")
            self.finished_map.emit("error")
            return
        if handle.result is None:
            if self.result is not None and "epoch" in title:  # the cells drawn so far stay, and say so
                self._title = title.replace("training, epoch", "stopped at epoch")
                self.chart.plot.setTitle(self._title)
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
            if self._job is None and "stopped at epoch" not in self._title:  # titled as the command line does
                self._title = map_title(self.result, self.colour_by.currentData())
                self._form_changed()

    # -- a cell -------------------------------------------------------------------------------------------
    def cell_settings(self, i: int, j: int):
        """Return the settings that run cell (row ``i``, column ``j``) of the map shown.

        On a surface: the surface tab's settings as they are now, with only the mapped optimizer's two values
        set and that optimizer ticked (the others stay ticked, with their own settings). In training: the
        map's base with the two values set, as a Training tab run."""
        from engine.experiment import SurfaceSettings, TrainingSettings, load_section

        values = self.result.cell(i, j)
        oid = self.result.optimizer
        if self.mode == "surface":
            data = self.read_settings().model_dump()
            data["hyperparameters"][oid] = {**data["hyperparameters"][oid], **values}
            if oid not in data["optimizers"]:
                data["optimizers"].append(oid)
            return load_section(SurfaceSettings, data, "surface")
        cfg = self._settings.to_config()
        if cfg.optimizer != oid:
            cfg = cfg.with_field("optimizer", oid)
        for name, value in values.items():
            cfg = cfg.with_field(name, value)
        return TrainingSettings.from_config(cfg.validated())

    def _show_marker(self, cell) -> None:
        """Outline cell (row, column) on the map, or nothing (None)."""
        xs, ys = cell_outline(*cell) if cell is not None else ([], [])
        self.marker_edge.setData(xs, ys)
        self.marker.setData(xs, ys)

    def open_cell_at(self, i: int, j: int) -> None:
        """Open cell (``i``, ``j``): pass its settings to ``open_cell`` and outline it; returns nothing. A cell
        that cannot be opened (its settings refused) is said in the status line."""
        if self.result is None:
            return
        oid = self.result.optimizer
        values = self.result.cell(i, j)
        try:
            before = self.read_settings() if self.mode == "surface" else None
            settings = self.cell_settings(i, j)
            self.open_cell(settings)
        except UserError as err:
            self.status.setText(f"This cell cannot be opened: {err.message}")
            return
        self._show_marker((i, j))
        if self.mode != "surface":
            text = ", ".join(f"{k} = {v:.4g}" for k, v in values.items())
            self.status.setText(f"Opened {optimizer_name(oid)} with {text}.")
            return
        was = before.hyperparameters[oid]
        if oid not in self._undo:  # each mapped optimizer keeps what it had before its first cell
            self._undo[oid] = ({k: was[k] for k in values}, oid in before.optimizers)
            self.undo_button.setEnabled(True)
        self.status.setText(cell_words(oid, values, before, self._settings, self._undo[oid][0]))

    def put_back(self) -> None:
        """Give every optimizer a cell was opened for the values it had before its first cell (and untick it if it
        was not ticked); returns nothing."""
        if not self._undo:
            return
        from engine.experiment import SurfaceSettings, load_section

        try:
            data = self.read_settings().model_dump()
            for oid, (values, ticked) in self._undo.items():
                data["hyperparameters"][oid] = {**data["hyperparameters"][oid], **values}
                if not ticked and oid in data["optimizers"] and len(data["optimizers"]) > 1:
                    data["optimizers"].remove(oid)
            self.open_cell(load_section(SurfaceSettings, data, "surface"))
        except UserError as err:
            self.status.setText(f"Could not put the map's optimizers back: {err.message}")
            return
        words = "; ".join(f"{optimizer_name(o)} is back to {param_text(v, v)}" for o, (v, _t) in self._undo.items())
        self._undo = {}
        self.undo_button.setEnabled(False)
        self._show_marker(None)
        self.status.setText(f"{words}, as before the map.")

    def done(self, code: int) -> None:  # noqa: D102 — closing stops the job
        self.runner.shutdown(1.0)
        super().done(code)


def open_surface_map(controls) -> MapDialog:
    """Open the map window for the surface tab's ``controls``; a clicked cell is shown (and run) there."""
    dialog = MapDialog("surface", controls.read_settings, controls.show_settings, controls)
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
