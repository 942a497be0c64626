"""The loss-surface tab's left panel: function, optimizers with their own settings, schedule, steps and starts.

It reads itself into a validated ``SurfaceSettings`` and shows one; it does no maths.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from engine.errors import UserError
from engine.experiment import SurfaceSettings
from engine.experiment_settings import FORMULA
from engine.optimizers import OPTIMIZERS, optimizer_colour
from engine.schedulers import SCHEDULERS
from engine.surface.functions import BUILTINS
from engine.surface.paths import parse_point
from gui.views.field_errors import FieldErrors
from gui.views.forms import ParamForm, RegistryPicker
from gui.views.map_dialog import open_surface_map
from gui.views.tune_dialog import open_surface_tuning


def _swatch(colour: str) -> QtGui.QIcon:
    pix = QtGui.QPixmap(14, 14)
    pix.fill(QtGui.QColor(colour))
    return QtGui.QIcon(pix)


def _box(title: str, layout_cls=QtWidgets.QVBoxLayout):
    box = QtWidgets.QGroupBox(title)
    return box, layout_cls(box)


class SurfaceControls(QtWidgets.QWidget):
    """Every setting of the surface tab; ``changed`` fires on each edit."""

    changed = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        defaults = SurfaceSettings()
        self.opt_values = {k: dict(v) for k, v in defaults.hyperparameters.items()}
        self.tuning_values = defaults.tuning.model_dump()  # the "Tune learning rates" sweep, kept with the rest
        self._starts: list[tuple[float, ...]] = []
        self._typed: str | None = None  # the start points' text while it is the user's, until a click replaces it
        form = QtWidgets.QVBoxLayout(self)
        box, v = _box("Function")
        self.function = QtWidgets.QComboBox()
        for s in BUILTINS.values():
            self.function.addItem(f"{s.name} ({s.dims}-D)", s.id)
            self.function.setItemData(self.function.count() - 1, s.description, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.function.addItem("Typed formula…", FORMULA)
        self.function.setToolTip("The loss surface; hover an item for what it shows")
        self.formula = QtWidgets.QLineEdit(defaults.formula)
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
        self.notebook_markers = QtWidgets.QCheckBox("Notebook markers")
        self.notebook_markers.setToolTip(
            "Mark paths as the seed notebooks do: red start star, yellow step dots, blue end star "
            "(the lines keep their optimizer colours)"
        )
        widgets = (self.function, self.formula, self.domain, self.error, self.description, self.log_scale)
        for w in (*widgets, self.notebook_markers):
            v.addWidget(w)
        form.addWidget(box)

        box, v = _box("Optimizers")
        self.optimizers = QtWidgets.QListWidget()
        self.optimizers.setToolTip("Tick the optimizers to run; select one to edit its own hyperparameters")
        for e in OPTIMIZERS:
            item = QtWidgets.QListWidgetItem(_swatch(optimizer_colour(e.id)), e.name)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, e.id)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            ticked = e.id in defaults.optimizers
            item.setCheckState(QtCore.Qt.CheckState.Checked if ticked else QtCore.Qt.CheckState.Unchecked)
            item.setToolTip(e.description)
            self.optimizers.addItem(item)
        self.optimizers.setMaximumHeight(220)
        self.opt_title = QtWidgets.QLabel()
        self.opt_title.setWordWrap(True)
        self.opt_form = ParamForm()
        self.same_lr = QtWidgets.QPushButton("Use this learning rate for all")
        self.same_lr.setToolTip("Copy the selected optimizer's learning rate to every optimizer (Adadelta included)")
        self.tune_rates = QtWidgets.QPushButton("Tune learning rates…")
        self.tune_rates.setToolTip("Find each ticked optimizer's best rate from the same start, then race them")
        self.map_button = QtWidgets.QPushButton("Convergence map…")
        self.map_button.setToolTip("Final loss over two hyperparameters (e.g. lr × momentum); click a cell to run it")
        for w in (self.optimizers, self.opt_title, self.opt_form, self.same_lr, self.tune_rates, self.map_button):
            v.addWidget(w)
        form.addWidget(box)

        box, v = _box("Schedule and steps", QtWidgets.QFormLayout)
        self.scheduler = RegistryPicker(SCHEDULERS, "Learning-rate schedule")
        self.steps = QtWidgets.QSpinBox()
        self.steps.setRange(1, 5000)
        self.steps.setValue(defaults.steps)
        self.steps.setToolTip("Optimizer steps per path")
        v.addRow("schedule", self.scheduler)
        v.addRow("steps", self.steps)
        form.addWidget(box)

        box, v = _box("Start points")
        self.starts_edit = QtWidgets.QLineEdit()
        self.starts_edit.setPlaceholderText("x,y; x,y (empty: the function's default start)")
        self.starts_edit.setToolTip(
            "Start points separated by ';': 'x,y; x,y' on a 2-D surface, 'x; x' on a 1-D curve. "
            "Empty uses the function's suggested start. Clicks on the map fill this in."
        )
        self.starts_label = QtWidgets.QLabel()
        self.starts_label.setWordWrap(True)
        hint = QtWidgets.QLabel("Type starts above, or click the map to start there; Shift+click adds another start.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #555;")
        self.clear_starts = QtWidgets.QPushButton("Reset to the default start")
        self.clear_starts.setToolTip("Forget the clicked start points and use the function's suggested start")
        for w in (self.starts_edit, self.starts_label, hint, self.clear_starts):
            v.addWidget(w)
        form.addWidget(box)
        form.addStretch(1)

        self.errors = FieldErrors(
            self.error,
            {
                "function": ("Function", self.function),
                "formula": ("Formula", self.formula),
                "domain": ("Domain", self.domain),
                "optimizers": ("Optimizers", self.optimizers),
                "hyperparameters": ("Optimizer settings", self.opt_form),
                "scheduler": ("Schedule", self.scheduler),
                "scheduler_params": ("Schedule", self.scheduler),
                "steps": ("Steps", self.steps),
                "starts": ("Start points", self.starts_edit),
            },
            prefix="surface",
        )
        self.function.currentIndexChanged.connect(self._function_changed)
        signals = (self.formula.textChanged, self.domain.textChanged, self.log_scale.toggled)
        for signal in (*signals, self.notebook_markers.toggled):
            signal.connect(self.changed)
        self.optimizers.itemChanged.connect(lambda _i: self.changed.emit())
        self.optimizers.currentItemChanged.connect(self._select_optimizer)
        self.opt_form.changed.connect(self._opt_values_changed)
        self.same_lr.clicked.connect(self._same_lr)
        self.tune_rates.clicked.connect(lambda: open_surface_tuning(self))
        self.map_button.clicked.connect(lambda: open_surface_map(self))
        self.scheduler.changed.connect(self.changed)
        self.steps.valueChanged.connect(self.changed)
        self.clear_starts.clicked.connect(self.reset_starts)
        self.starts_edit.textEdited.connect(self._starts_typed)
        self.optimizers.setCurrentRow(0)
        self._function_changed()

    # -- start points -------------------------------------------------------------------------------------
    @property
    def starts(self) -> list[tuple[float, ...]]:
        """The start points last read (clicked, typed or opened); empty means the function's suggested start."""
        return self._starts

    @starts.setter
    def starts(self, points) -> None:
        """Set the starts from a click or a file: the text shows them, and is no longer the user's."""
        self._starts = [tuple(float(c) for c in p) for p in points]
        self._typed = None
        self.starts_edit.setText("; ".join(",".join(f"{c:.6g}" for c in p) for p in self._starts))

    def _starts_typed(self, text: str) -> None:
        self._typed = text
        self.changed.emit()

    def _typed_starts(self) -> list[tuple[float, ...]]:
        """Parse the typed text 'x,y; x,y' (or 'x; x') through the engine; raise UserError on the field starts."""
        parts = [t.strip() for t in (self._typed or "").replace("\n", ";").split(";")]
        points = []
        try:
            for part in (t for t in parts if t):
                points.append(parse_point(part, 2 if "," in part else 1))
        except UserError as err:
            raise UserError(err.message, "surface.starts") from None
        return points

    # -- reading and showing ------------------------------------------------------------------------------
    def checked_optimizers(self) -> list[str]:
        """Return the ids of the ticked optimizers, in table order."""
        items = [self.optimizers.item(i) for i in range(self.optimizers.count())]
        return [
            it.data(QtCore.Qt.ItemDataRole.UserRole) for it in items if it.checkState() == QtCore.Qt.CheckState.Checked
        ]

    def set_checked(self, ids) -> None:
        """Tick exactly these optimizers."""
        self.optimizers.blockSignals(True)
        for i in range(self.optimizers.count()):
            item = self.optimizers.item(i)
            on = item.data(QtCore.Qt.ItemDataRole.UserRole) in ids
            item.setCheckState(QtCore.Qt.CheckState.Checked if on else QtCore.Qt.CheckState.Unchecked)
        self.optimizers.blockSignals(False)
        self.changed.emit()

    def read_settings(self) -> SurfaceSettings:
        """Return the controls as validated SurfaceSettings; raise UserError naming the field."""
        from engine.experiment import load_section

        typed = self._typed is not None
        starts = self._typed_starts() if typed else self._starts
        settings = load_section(
            SurfaceSettings,
            {
                "function": self.function.currentData(),
                "formula": self.formula.text(),
                "domain": self.domain.text(),
                "log": self.log_scale.isChecked(),
                "optimizers": self.checked_optimizers(),
                "hyperparameters": self.opt_values,
                "scheduler": self.scheduler.current_id(),
                "scheduler_params": self.scheduler.values(),
                "steps": self.steps.value(),
                "starts": [list(s) for s in starts],
                "notebook_markers": self.notebook_markers.isChecked(),
                "tuning": self.tuning_values,
            },
            "surface",
        )
        if typed:
            dims = settings.surface().dims if starts else 0
            wrong = [p for p in starts if len(p) != dims]
            if wrong:
                shown = ",".join(f"{c:g}" for c in wrong[0])
                need = "x,y" if dims == 2 else "x"
                raise UserError(f"start {shown!r} must be {need} on this {dims}-D surface", "surface.starts")
            self._starts = list(settings.starts)
        return settings

    def show_settings(self, s: SurfaceSettings) -> None:
        """Show ``s`` in the controls (without a change signal per control)."""
        self.blockSignals(True)
        try:
            index = self.function.findData(s.function)
            self.function.setCurrentIndex(max(0, index))
            self.formula.setText(s.formula)
            self.domain.setText(s.domain)
            self.log_scale.setChecked(s.log)
            self.notebook_markers.setChecked(s.notebook_markers)
            self.opt_values.update({k: dict(v) for k, v in s.hyperparameters.items()})
            self.tuning_values = s.tuning.model_dump()
            self.set_checked(s.optimizers)
            self._select_optimizer(self.optimizers.currentItem())
            self.scheduler.set_current(s.scheduler, s.scheduler_params)
            self.steps.setValue(min(s.steps, self.steps.maximum()))
            self.starts = [tuple(p) for p in s.starts]
        finally:
            self.blockSignals(False)
        self._show_function_fields()
        self.changed.emit()

    # -- reactions ----------------------------------------------------------------------------------------
    def _show_function_fields(self) -> None:
        formula = self.function.currentData() == FORMULA
        self.formula.setVisible(formula)
        self.domain.setVisible(formula)

    def _function_changed(self, *_):
        self._show_function_fields()
        if self.function.currentData() != FORMULA:
            self.log_scale.setChecked(BUILTINS[self.function.currentData()].log_scale)
        self.starts = []
        self.changed.emit()

    def _select_optimizer(self, item, *_):
        if item is None:
            return
        oid = item.data(QtCore.Qt.ItemDataRole.UserRole)
        entry = OPTIMIZERS.get(oid)
        self.opt_title.setText(f"<b>{entry.name}</b> — {entry.description}")
        self.opt_form.set_entry(entry, self.opt_values[oid])

    def _opt_values_changed(self, values: dict):
        item = self.optimizers.currentItem()
        if item is not None:
            self.opt_values[item.data(QtCore.Qt.ItemDataRole.UserRole)] = values
            self.changed.emit()

    def params_of(self, optimizer_id: str) -> dict:
        """Return a copy of the hyperparameters the tab holds for ``optimizer_id`` (ticked or not)."""
        return dict(self.opt_values[optimizer_id])

    def set_params(self, changes: dict[str, dict], tick=()) -> None:
        """Set some hyperparameters of some optimizers ({id: {name: value}}) and tick the optimizers in ``tick``;
        everything else (other optimizers, ticks, function, steps, starts) stays as the user left it."""
        for oid, values in changes.items():
            self.opt_values[oid] = {**self.opt_values[oid], **values}
        if tick:
            self.set_checked([*self.checked_optimizers(), *(o for o in tick if o not in self.checked_optimizers())])
        self._select_optimizer(self.optimizers.currentItem())
        self.changed.emit()

    def _same_lr(self):
        lr = self.opt_form.values().get("lr")
        for values in self.opt_values.values():
            values["lr"] = lr
        self.changed.emit()

    def reset_starts(self):
        """Forget the clicked starts (the function's suggested start is used)."""
        self.starts = []
        self.changed.emit()

    def show_starts(self, starts) -> None:
        """List the start points in use (the suggested one when none is typed or clicked)."""
        if not self._starts:
            self.starts_edit.setPlaceholderText(
                "default start " + "; ".join(",".join(f"{c:.3g}" for c in s) for s in starts) + " (type x,y; x,y)"
            )
        self.starts_label.setText("; ".join("(" + ", ".join(f"{c:.3g}" for c in s) + ")" for s in starts))
