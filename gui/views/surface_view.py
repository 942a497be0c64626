"""The loss-surface view: a contour map, optimizer paths animated step by step, and a loss chart."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.errors import UserError
from engine.optimizers import OPTIMIZERS
from engine.schedulers import SCHEDULERS
from engine.surface.functions import BUILTINS, get_surface, parse_domain
from engine.surface.paths import PathSpec, compute_paths
from gui.charts import style
from gui.charts.chart_set import ChartSet
from gui.charts.contour import ContourMap
from gui.charts.curves import LineChart
from gui.charts.paths import PathLayer
from gui.views.forms import ParamForm, RegistryPicker

FORMULA = "__formula__"
DEFAULT_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")


def _swatch(colour: str) -> QtGui.QIcon:
    pix = QtGui.QPixmap(14, 14)
    pix.fill(QtGui.QColor(colour))
    return QtGui.QIcon(pix)


class SurfaceView(QtWidgets.QWidget):
    """Controls on the left, the map and loss chart on the right, animation controls below."""

    recomputed = QtCore.Signal()  # emitted after paths are recomputed and drawn

    def __init__(self, parent=None):
        super().__init__(parent)
        style.configure()
        self.surface = None
        self.paths = []
        self.starts: list[tuple[float, ...]] = []
        self.opt_values = {e.id: e.defaults() for e in OPTIMIZERS}
        for oid in OPTIMIZERS.ids():
            if oid != "adadelta":
                self.opt_values[oid]["lr"] = 0.05
        self._surface_key = None
        self._debounce = QtCore.QTimer(self, singleShot=True, interval=60)
        self._debounce.timeout.connect(self.recompute)
        self._anim = QtCore.QTimer(self)
        self._anim.timeout.connect(self._advance)
        self._build()
        self._set_speed()
        self.schedule()

    # -- layout -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QtWidgets.QHBoxLayout(self)
        panel = QtWidgets.QWidget()
        form = QtWidgets.QVBoxLayout(panel)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        scroll.setMaximumWidth(360)

        box = QtWidgets.QGroupBox("Function")
        v = QtWidgets.QVBoxLayout(box)
        self.function = QtWidgets.QComboBox()
        for s in BUILTINS.values():
            self.function.addItem(f"{s.name} ({s.dims}-D)", s.id)
            self.function.setItemData(self.function.count() - 1, s.description, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.function.addItem("Typed formula…", FORMULA)
        self.function.setToolTip("The loss surface; hover an item for what it shows")
        self.formula = QtWidgets.QLineEdit("x*sin(x**2)")
        self.formula.setPlaceholderText("e.g. (1-x)**2 + 100*(y-x**2)**2")
        self.formula.setToolTip(
            "A formula in x (1-D) or x and y (2-D): + - * / **, pi, e, sin cos tan exp log sqrt abs tanh sinh cosh"
        )
        self.domain = QtWidgets.QLineEdit()
        self.domain.setPlaceholderText("domain: xmin,xmax[,ymin,ymax] (default −3..3)")
        self.domain.setToolTip("Drawing range of a typed formula; paths that go 10 widths past it count as diverged")
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00000;")
        self.error.hide()
        self.description = QtWidgets.QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #555;")
        self.log_scale = QtWidgets.QCheckBox("Log-scale colours")
        self.log_scale.setToolTip("Colour by log(f − min): shows detail in flat valleys (Rosenbrock, Beale)")
        for w in (self.function, self.formula, self.domain, self.error, self.description, self.log_scale):
            v.addWidget(w)
        form.addWidget(box)

        box = QtWidgets.QGroupBox("Optimizers")
        v = QtWidgets.QVBoxLayout(box)
        self.optimizers = QtWidgets.QListWidget()
        self.optimizers.setToolTip("Tick the optimizers to run; select one to edit its hyperparameters")
        for i, e in enumerate(OPTIMIZERS):
            item = QtWidgets.QListWidgetItem(_swatch(style.colour(i)), e.name)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, e.id)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                QtCore.Qt.CheckState.Checked if e.id in DEFAULT_OPTIMIZERS else QtCore.Qt.CheckState.Unchecked
            )
            item.setToolTip(e.description)
            self.optimizers.addItem(item)
        self.optimizers.setMaximumHeight(220)
        self.opt_title = QtWidgets.QLabel()
        self.opt_form = ParamForm()
        self.same_lr = QtWidgets.QPushButton("Use this learning rate for all")
        self.same_lr.setToolTip("Copy the selected optimizer's learning rate to every optimizer (Adadelta included)")
        v.addWidget(self.optimizers)
        v.addWidget(self.opt_title)
        v.addWidget(self.opt_form)
        v.addWidget(self.same_lr)
        form.addWidget(box)

        box = QtWidgets.QGroupBox("Schedule and steps")
        v = QtWidgets.QFormLayout(box)
        self.scheduler = RegistryPicker(SCHEDULERS, "Learning-rate schedule")
        self.steps = QtWidgets.QSpinBox()
        self.steps.setRange(1, 5000)
        self.steps.setValue(60)
        self.steps.setToolTip("Optimizer steps per path")
        v.addRow("schedule", self.scheduler)
        v.addRow("steps", self.steps)
        form.addWidget(box)

        box = QtWidgets.QGroupBox("Start points")
        v = QtWidgets.QVBoxLayout(box)
        self.starts_label = QtWidgets.QLabel()
        self.starts_label.setWordWrap(True)
        hint = QtWidgets.QLabel("Click the map to start there; Shift+click adds another start.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        self.clear_starts = QtWidgets.QPushButton("Reset to the default start")
        self.clear_starts.setToolTip("Forget the clicked start points and use the function's suggested start")
        for w in (self.starts_label, hint, self.clear_starts):
            v.addWidget(w)
        form.addWidget(box)
        form.addStretch(1)

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
        for item in (
            self.contour.image,
            self.contour.lines,
            *[self.map_plot.getAxis(a) for a in ("left", "bottom")],
            *[self.loss_plot.getAxis(a) for a in ("left", "bottom")],
        ):
            item.setCacheMode(cache)
        self.canvas.ci.layout.setColumnStretchFactor(0, 3)
        self.canvas.ci.layout.setColumnStretchFactor(1, 2)
        self.readout = QtWidgets.QLabel("move over the map to read x, y, f")
        self.readout.setStyleSheet("color: #333; font-family: monospace;")
        right.addWidget(self.canvas, 1)
        right.addWidget(self.readout)

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

        self.function.currentIndexChanged.connect(self._function_changed)
        self.formula.textChanged.connect(self.schedule)
        self.domain.textChanged.connect(self.schedule)
        self.log_scale.toggled.connect(self.schedule)
        self.optimizers.itemChanged.connect(lambda _i: self.schedule())
        self.optimizers.currentItemChanged.connect(self._select_optimizer)
        self.opt_form.changed.connect(self._opt_values_changed)
        self.same_lr.clicked.connect(self._same_lr)
        self.scheduler.changed.connect(self.schedule)
        self.steps.valueChanged.connect(self.schedule)
        self.clear_starts.clicked.connect(self._reset_starts)
        self.play.clicked.connect(self.toggle_play)
        self.step_button.clicked.connect(self.step_once)
        self.reset.clicked.connect(lambda: self.timeline.setValue(0))
        self.speed.valueChanged.connect(self._set_speed)
        self.timeline.valueChanged.connect(self.show_step)
        self.canvas.scene().sigMouseClicked.connect(self._clicked)
        self.canvas.scene().sigMouseMoved.connect(self._hovered)
        self.optimizers.setCurrentRow(0)
        self._function_changed()

    # -- settings -----------------------------------------------------------------------------------------
    def checked_optimizers(self) -> list[str]:
        """Return the ids of the ticked optimizers, in table order."""
        return [
            self.optimizers.item(i).data(QtCore.Qt.ItemDataRole.UserRole)
            for i in range(self.optimizers.count())
            if self.optimizers.item(i).checkState() == QtCore.Qt.CheckState.Checked
        ]

    def set_checked(self, ids) -> None:
        """Tick exactly these optimizers."""
        self.optimizers.blockSignals(True)
        for i in range(self.optimizers.count()):
            item = self.optimizers.item(i)
            item.setCheckState(
                QtCore.Qt.CheckState.Checked
                if item.data(QtCore.Qt.ItemDataRole.UserRole) in ids
                else QtCore.Qt.CheckState.Unchecked
            )
        self.optimizers.blockSignals(False)
        self.schedule()

    def settings(self) -> dict:
        """Return everything needed to reproduce this view (JSON-ready)."""
        return {
            "function": self.function.currentData(),
            "formula": self.formula.text(),
            "domain": self.domain.text(),
            "log": self.log_scale.isChecked(),
            "optimizers": self.checked_optimizers(),
            "hyperparameters": {k: self.opt_values[k] for k in self.checked_optimizers()},
            "scheduler": self.scheduler.current_id(),
            "scheduler_params": self.scheduler.values(),
            "steps": self.steps.value(),
            "starts": [list(s) for s in self.starts],
        }

    def apply_settings(self, s: dict) -> None:
        """Restore settings() output; unknown or bad values are ignored, not fatal."""
        index = self.function.findData(s.get("function", "peaks"))
        if index >= 0:
            self.function.setCurrentIndex(index)
        self.formula.setText(str(s.get("formula", self.formula.text())))
        self.domain.setText(str(s.get("domain", "")))
        self.log_scale.setChecked(bool(s.get("log", False)))
        for k, v in (s.get("hyperparameters") or {}).items():
            if k in self.opt_values:
                try:
                    self.opt_values[k] = OPTIMIZERS.get(k).resolve(v)
                except UserError:
                    pass
        self.set_checked(s.get("optimizers") or DEFAULT_OPTIMIZERS)
        self._select_optimizer(self.optimizers.currentItem())
        self.scheduler.set_current(s.get("scheduler", "none"), s.get("scheduler_params"))
        self.steps.setValue(int(s.get("steps", self.steps.value())))
        starts = s.get("starts") or []
        self.starts = [tuple(float(c) for c in p) for p in starts if isinstance(p, (list, tuple))]
        self.schedule()

    # -- reactions ----------------------------------------------------------------------------------------
    def schedule(self, *_) -> None:
        """Recompute shortly (edits in quick succession cost one recomputation)."""
        self._debounce.start()

    def _function_changed(self, *_):
        formula = self.function.currentData() == FORMULA
        self.formula.setVisible(formula)
        self.domain.setVisible(formula)
        if not formula:
            s = BUILTINS[self.function.currentData()]
            self.log_scale.setChecked(s.log_scale)
        self.starts = []
        self.schedule()

    def _select_optimizer(self, item, *_):
        if item is None:
            return
        oid = item.data(QtCore.Qt.ItemDataRole.UserRole)
        entry = OPTIMIZERS.get(oid)
        self.opt_title.setText(f"<b>{entry.name}</b> — {entry.description}")
        self.opt_title.setWordWrap(True)
        self.opt_form.set_entry(entry, self.opt_values[oid])

    def _opt_values_changed(self, values: dict):
        item = self.optimizers.currentItem()
        if item is not None:
            self.opt_values[item.data(QtCore.Qt.ItemDataRole.UserRole)] = values
            self.schedule()

    def _same_lr(self):
        lr = self.opt_form.values().get("lr")
        for values in self.opt_values.values():
            values["lr"] = lr
        self.schedule()

    def _reset_starts(self):
        self.starts = []
        self.schedule()

    def current_surface(self):
        """Return the chosen Surface, or raise UserError for a bad formula or domain."""
        if self.function.currentData() == FORMULA:
            text = self.formula.text()
            surface = get_surface(text)
            if self.domain.text().strip():
                surface = get_surface(text, parse_domain(self.domain.text(), surface.dims))
            return surface
        return get_surface(self.function.currentData())

    def recompute(self) -> None:
        """Recompute every path from the controls and redraw; errors are shown inline, drawings kept."""
        try:
            surface = self.current_surface()
            ids = self.checked_optimizers()
            if not ids:
                raise UserError("tick at least one optimizer")
            specs = [PathSpec(i, self.opt_values[i]) for i in ids]
            starts = [s for s in self.starts if len(s) == surface.dims] or [surface.default_start]
            paths = compute_paths(
                surface, specs, starts, self.steps.value(), self.scheduler.current_id(), self.scheduler.values()
            )
        except UserError as err:
            self.error.setText(str(err))
            self.error.show()
            return
        self.error.hide()
        self.surface, self.paths, self.starts = surface, paths, starts
        self.description.setText(surface.description)
        key = (surface.id, surface.formula, surface.domain, self.log_scale.isChecked())
        if key != self._surface_key:
            xs, ys, z = surface.grid(300 if surface.dims == 2 else 800)
            self.contour.set_surface(xs, ys, z, self.log_scale.isChecked(), surface.minima)
            self.map_plot.setTitle(surface.name)
            self.map_plot.setLabel("left", "y" if surface.dims == 2 else "f(x)")
            self._surface_key = key
            self._grid = (xs, ys, z)
            if surface.dims == 1:
                finite = z[np.isfinite(z)]
                self.layer.bounds = (
                    surface.domain[0],
                    (float(finite.min()), float(finite.max())) if finite.size else (-1, 1),
                )
                self.map_plot.setRange(xRange=surface.domain[0], padding=0.02)
            else:
                self.layer.bounds = surface.domain
        all_ids = OPTIMIZERS.ids()
        colours = [style.colour(all_ids.index(p.optimizer)) for p in paths]
        names = [p.label for p in paths]
        self.legend.clear()
        self.layer.set_paths(paths, colours, names)  # named lines join the legend by themselves
        self.loss_chart.clear()
        multi = len(starts) > 1
        for p, c in zip(paths, colours):
            name = f"{p.label} #{p.start_index + 1}" if multi else p.label
            self.loss_chart.set_series(name, np.arange(len(p.losses)), p.losses, c)
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, self.steps.value())
        self.timeline.setValue(self.steps.value())
        self.timeline.blockSignals(False)
        self.starts_label.setText("; ".join("(" + ", ".join(f"{c:.3g}" for c in s) + ")" for s in starts))
        self.show_step(self.timeline.value())
        self.recomputed.emit()

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
        self.starts = (self.starts if keep_others else []) + [tuple(float(c) for c in point)]
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
