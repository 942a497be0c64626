"""The loss-surface view: a contour map, optimizer paths animated step by step, and a loss chart.

The settings live in the experiment model (``experiment.surface``); the paths are computed by an engine
job in a worker thread (the newest edit wins), and drawn here when they arrive.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.experiment import Experiment, SurfaceResult, SurfaceSettings
from engine.surface.scene import SurfaceScene, scene_job, start_name, start_style
from gui.charts import style
from gui.charts.chart_set import ChartSet
from gui.charts.contour import ContourMap
from gui.charts.curves import LineChart
from gui.charts.paths import PathLayer, pen_style
from gui.jobs import JobRunner
from gui.views.surface_controls import FORMULA, SurfaceControls

__all__ = ["FORMULA", "SurfaceView"]
LOG_EPS = 1e-12  # added before log10 so that f = min f (a path that reached the minimum) stays finite
_FORWARDED = (
    "function formula domain error description log_scale optimizers opt_title opt_form same_lr scheduler steps "
    "starts_edit starts_label clear_starts checked_optimizers set_checked"
).split()


class SurfaceView(QtWidgets.QWidget):
    """Controls on the left, the map and loss chart on the right, animation controls below."""

    recomputed = QtCore.Signal()  # emitted after paths are recomputed and drawn

    def __init__(self, experiment: Experiment | None = None, runner: JobRunner | None = None, parent=None):
        super().__init__(parent)
        style.configure()
        self.experiment = experiment or Experiment()
        self.runner = runner or JobRunner(self)
        self.surface = None
        self.paths = []
        self._job = None
        self._writing = False
        self._surface_key = None
        self.scene: SurfaceScene | None = None
        self._debounce = QtCore.QTimer(self, singleShot=True, interval=60)
        self._debounce.timeout.connect(self.recompute)
        self._anim = QtCore.QTimer(self)
        self._anim.timeout.connect(self._advance)
        self._build()
        self._set_speed()
        self.controls.show_settings(self.experiment.surface)
        self.experiment.events.surface.connect(self._model_changed)
        self.schedule()

    @property
    def starts(self) -> list[tuple[float, ...]]:
        """The start points in use (clicked ones, or the function's suggested start)."""
        return self.controls.starts

    # -- layout -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QtWidgets.QHBoxLayout(self)
        self.controls = SurfaceControls()
        for name in _FORWARDED:
            setattr(self, name, getattr(self.controls, name))
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        scroll.setMaximumWidth(360)

        right = QtWidgets.QVBoxLayout()
        self.canvas = pg.GraphicsLayoutWidget()
        self.map_plot = self.canvas.addPlot(row=0, col=0)
        self.map_plot.setLabel("bottom", "x")
        self.map_plot.setMenuEnabled(True)
        self.legend = self.map_plot.addLegend(offset=(10, 10), brush=(255, 255, 255, 210))
        self.contour = ContourMap(self.map_plot)
        self.layer = PathLayer(self.map_plot)
        self.loss_plot = self.canvas.addPlot(row=0, col=1)
        self.loss_chart = LineChart(self.loss_plot, "loss per step", "step", "f")
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=QtCore.Qt.PenStyle.DashLine))
        self.loss_plot.addItem(self.cursor)
        cache = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
        # static layers are drawn once into pixmaps: an animation frame then repaints only the paths
        axes = [self.map_plot.getAxis(a) for a in ("left", "bottom")] + [
            self.loss_plot.getAxis(a) for a in ("left", "bottom")
        ]
        for item in (self.contour.image, self.contour.lines, *axes):
            item.setCacheMode(cache)
        self.canvas.ci.layout.setColumnStretchFactor(0, 3)
        self.canvas.ci.layout.setColumnStretchFactor(1, 2)
        self.readout = QtWidgets.QLabel("move over the map to read x, y, f")
        self.readout.setStyleSheet("color: #333; font-family: monospace;")
        self.loss_log = QtWidgets.QCheckBox("Log loss per step")
        self.loss_log.setToolTip(
            "Plot log10(f − min f + 1e-12) per step, where min f is the lowest of the known minima, the grid "
            "and every path. "
            "Surfaces can be negative, so f itself cannot go on a log axis: the shift makes every value positive "
            "and the axis label gives min f. A diverging path then no longer flattens the others."
        )
        below = QtWidgets.QHBoxLayout()
        below.addWidget(self.readout, 1)
        below.addWidget(self.loss_log)
        right.addWidget(self.canvas, 1)
        right.addLayout(below)

        controls = QtWidgets.QHBoxLayout()
        self.play = QtWidgets.QPushButton("Play")
        self.play.setToolTip("Play or pause the animation (Space)")
        self.step_button = QtWidgets.QPushButton("Step")
        self.step_button.setToolTip("Advance every path by one step (Right arrow)")
        self.reset = QtWidgets.QPushButton("Reset")
        self.reset.setToolTip("Back to step 0")
        self.speed = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.speed.setRange(1, 120)
        self.speed.setValue(20)
        self.speed.setMaximumWidth(140)
        self.speed.setToolTip("Animation speed in steps per second")
        self.timeline = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.timeline.setToolTip("Scrub every path to step k")
        self.step_label = QtWidgets.QLabel()
        self.step_label.setMinimumWidth(110)
        for w in (self.play, self.step_button, self.reset, QtWidgets.QLabel("speed"), self.speed):
            controls.addWidget(w)
        controls.addWidget(self.timeline, 1)
        controls.addWidget(self.step_label)
        right.addLayout(controls)
        outer.addWidget(scroll)
        outer.addLayout(right, 1)

        self.charts = ChartSet(self)
        self.charts.add("surface", self.map_plot, self._surface_table)
        self.charts.add("loss_per_step", self.loss_plot, self.loss_chart.table)

        self.controls.changed.connect(self.schedule)
        self.play.clicked.connect(self.toggle_play)
        self.step_button.clicked.connect(self.step_once)
        self.reset.clicked.connect(lambda: self.timeline.setValue(0))
        self.speed.valueChanged.connect(self._set_speed)
        self.timeline.valueChanged.connect(self.show_step)
        self.loss_log.toggled.connect(self._draw_losses)
        self.canvas.scene().sigMouseClicked.connect(self._clicked)
        self.canvas.scene().sigMouseMoved.connect(self._hovered)

    # -- the model ----------------------------------------------------------------------------------------
    def settings(self) -> SurfaceSettings:
        """Return the surface settings held by the experiment."""
        return self.experiment.surface

    def _model_changed(self, settings: SurfaceSettings) -> None:
        if not self._writing:  # set from outside (a file was opened): show it
            self.controls.show_settings(settings)

    def schedule(self, *_) -> None:
        """Recompute shortly (edits in quick succession cost one recomputation)."""
        self._debounce.start()

    def recompute(self) -> None:
        """Validate the controls into the model and start the paths job; errors are shown inline, drawings kept."""
        try:
            settings = self.controls.read_settings()
            surface = settings.surface()
            specs = settings.specs()
            starts = settings.start_points(surface)
        except UserError as err:
            self.controls.errors.show(err)
            return
        self.controls.errors.clear()
        self._writing = True
        try:
            self.experiment.surface = settings
        finally:
            self._writing = False
        if self._job is not None:
            self._job.stop()  # the newest edit wins
        sched, sched_params, steps = settings.scheduler, settings.scheduler_params, settings.steps
        self._job = self.runner.start(
            "surface",
            lambda token: scene_job(surface, specs, starts, steps, sched, sched_params, token=token),
            on_done=self._scene_done,
        )

    def _scene_done(self, handle) -> None:
        if handle is not self._job:
            return  # a newer job replaced this one
        self._job = None
        if handle.error is not None:
            self.controls.errors.show(handle.error)
        elif handle.result is not None:
            self.draw_scene(handle.result)

    def draw_scene(self, scene: SurfaceScene) -> None:
        """Draw a computed scene: contour (when the surface changed), paths, loss curves and the timeline."""
        surface, paths = scene.surface, scene.paths
        self.surface, self.paths, self.scene = surface, paths, scene
        self.experiment.results.surface = SurfaceResult.from_paths(paths)
        self.description.setText(surface.description)
        log = self.log_scale.isChecked()
        key = (surface.id, surface.formula, surface.domain, log)
        if key != self._surface_key:
            self.contour.set_surface(scene.xs, scene.ys, scene.z, log, surface.minima)
            self.map_plot.setTitle(surface.name)
            self.map_plot.setLabel("left", "y" if surface.dims == 2 else "f(x)")
            self._surface_key = key
            # the last reading belonged to the previous function
            self.readout.setText(
                "move over the map to read x, y, f" if surface.dims == 2 else "move over the map to read x, f"
            )
            # a new surface brings its own view: the previous one's ranges would hide this one's minima
            padding = 0.0 if surface.dims == 2 else 0.04  # the contour fills the map; a curve gets a margin
            self.map_plot.setRange(xRange=scene.bounds[0], yRange=scene.bounds[1], padding=padding)
        self.layer.bounds = scene.bounds
        self.layer.notebook = self.controls.notebook_markers.isChecked()
        names = [p.label for p in paths]
        self.legend.clear()
        self.layer.set_paths(paths, scene.colours, names)  # named lines join the legend by themselves
        self._draw_losses()
        steps = max((len(p.losses) - 1 for p in paths), default=0)
        steps = max(steps, self.steps.value())
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, steps)
        self.timeline.setValue(steps)
        self.timeline.blockSignals(False)
        self.controls.show_starts(sorted({p.start for p in paths}, key=[p.start for p in paths].index))
        self.show_step(self.timeline.value())
        self.recomputed.emit()

    def _draw_losses(self, *_) -> None:
        """Draw each path's loss per step in its optimizer's colour and its start's dash; log10(f − min f + ε) on."""
        scene = self.scene
        self.loss_chart.clear()
        if scene is None:
            return
        paths = scene.paths
        several = len({p.start_index for p in paths}) > 1
        log = self.loss_log.isChecked()
        if log:
            values = [scene.z[np.isfinite(scene.z)]] + [p.losses[np.isfinite(p.losses)] for p in paths]
            values.append(np.array([m.value for m in scene.surface.minima], dtype=float))
            values = np.concatenate([v.ravel() for v in values])
            values = values[np.isfinite(values)]
            low = float(values.min()) if values.size else 0.0
            self.loss_plot.setLabel("left", f"log10(f − min f + 1e-12),  min f = {low:.4g}")
        else:
            self.loss_plot.setLabel("left", "f")
        for p, c in zip(paths, scene.colours):
            name = start_name(p.label, p.start_index, several)
            y = p.losses
            if log:
                with np.errstate(invalid="ignore", over="ignore"):
                    y = np.log10(np.maximum(y - low, 0.0) + LOG_EPS)
            self.loss_chart.set_series(name, np.arange(len(p.losses)), y, c)
            dash = start_style(p.start_index)[1]
            self.loss_chart.curves[name].setPen(pg.mkPen(c, width=2, style=pen_style(dash)))
        self.loss_plot.enableAutoRange(axis="y")

    def show_step(self, k: int) -> None:
        """Draw every path up to step k and move the loss chart's cursor there."""
        self.layer.show(k)
        self.cursor.setValue(k)
        self.step_label.setText(f"step {k} / {self.steps.value()}")

    def toggle_play(self) -> None:
        """Start or pause the animation (from step 0 if at the end)."""
        if self._anim.isActive():
            self._anim.stop()
            self.play.setText("Play")
            return
        if self.timeline.value() >= self.timeline.maximum():
            self.timeline.setValue(0)
        self._anim.start()
        self.play.setText("Pause")

    def step_once(self) -> None:
        """Advance the timeline by one step."""
        self.timeline.setValue(min(self.timeline.maximum(), self.timeline.value() + 1))

    def _advance(self):
        self.step_once()
        if self.timeline.value() >= self.timeline.maximum():
            self._anim.stop()
            self.play.setText("Play")

    def _set_speed(self, *_):
        self._anim.setInterval(int(1000 / max(1, self.speed.value())))

    def _clicked(self, event):
        if event.button() != QtCore.Qt.MouseButton.LeftButton or self.surface is None:
            return
        if not self.map_plot.sceneBoundingRect().contains(event.scenePos()):
            return
        point = self.map_plot.vb.mapSceneToView(event.scenePos())
        new = (point.x(), point.y()) if self.surface.dims == 2 else (point.x(),)
        self.add_start(new, event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)

    def add_start(self, point: tuple[float, ...], keep_others: bool = False) -> None:
        """Start the paths at ``point``; with ``keep_others`` it is one more start."""
        self.controls.starts = (self.controls.starts if keep_others else []) + [tuple(float(c) for c in point)]
        self.recompute()

    def _hovered(self, pos):
        if self.surface is None or not self.map_plot.sceneBoundingRect().contains(pos):
            return
        p = self.map_plot.vb.mapSceneToView(pos)
        coords = (p.x(), p.y()) if self.surface.dims == 2 else (p.x(),)
        try:
            f = self.surface.at(*coords)
        except (RuntimeError, ValueError):
            f = float("nan")
        self.readout.setText(
            ("x = {:.4f}   y = {:.4f}   f = {:.5g}" if self.surface.dims == 2 else "x = {:.4f}   f = {:.5g}").format(
                *coords, f
            )
        )

    def _surface_table(self):
        rows = [
            [p.label, p.start_index, k, *pt, loss]
            for p in self.paths
            for k, (pt, loss) in enumerate(zip(p.points.tolist(), p.losses.tolist()))
        ]
        coords = ["x", "y"][: self.surface.dims] if self.surface else ["x", "y"]
        return ["optimizer", "start_index", "step", *coords, "loss"], rows
