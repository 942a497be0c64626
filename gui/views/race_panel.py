"""The comparison tab's fair-race panel: each optimizer's own settings, and "Tune learning rates".

In a comparison that varies the optimizer, every optimizer runs with its own hyperparameters: its registry
defaults, changed here (stored in ``experiment.comparison.per_optimizer``). "Tune learning rates" sweeps
each optimizer's rate over a log grid from the same start (one batched training), draws the
rate-vs-criterion curves, and stores the best rates, so that "Run comparison" races them at those rates.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.experiment import ComparisonSpec, Experiment, load_section
from engine.optimizers import OPTIMIZERS, training_defaults
from engine.training.tuning import optimizers_of, tuning_job
from engine.tuning import CRITERIA, TuneSpec, describe
from gui.views.compare_base import config_rate_words, runs_with, without_tuned
from gui.views.compare_tuning import SweepPanel, tuned_for, tuned_words
from gui.views.forms import ParamForm
from gui.views.sizing import FullSpinBox


def race_ids(spec: ComparisonSpec) -> list[str]:
    """Return the optimizers a comparison races: the varied ones, else the base's."""
    for v in spec.vary:
        if v.field == "optimizer":
            return [oid for oid in dict.fromkeys(v.values) if oid in OPTIMIZERS]
    return [spec.base.optimizer]


class RacePanel(QtWidgets.QGroupBox):
    """Per-optimizer settings of the comparison in ``experiment``, and the learning-rate tuning action."""

    tuned = QtCore.Signal(object)  # the TuningResult, after its rates were stored

    def __init__(self, experiment: Experiment, runner, parent=None):
        super().__init__("Each optimizer's own settings", parent)
        self.experiment, self.runner = experiment, runner
        self._job = None
        self._showing = False
        self.result = None
        self._tuned_ids: list[str] = []  # the optimizers of the sweep shown
        v = QtWidgets.QVBoxLayout(self)
        note = QtWidgets.QLabel(
            "A race gives each optimizer its own settings (its defaults unless changed here), never another's rate."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        v.addWidget(note)
        self.which = QtWidgets.QComboBox()
        self.which.setToolTip("The optimizer whose own settings are shown below")
        self.form = ParamForm()
        self.defaults = QtWidgets.QPushButton("Back to its defaults")
        self.defaults.setToolTip("Forget the settings changed for this optimizer")
        v.addWidget(self.which)
        v.addWidget(self.form)
        self.tuned_note = QtWidgets.QLabel()  # rates tuned per configuration, which win over the form's rate
        self.tuned_note.setWordWrap(True)
        self.tuned_note.setStyleSheet("color: #a05000;")
        self.tuned_note.hide()
        v.addWidget(self.tuned_note)
        v.addWidget(self.defaults)
        grid = QtWidgets.QFormLayout()
        self.lr_min, self.lr_max = self._rate_box(), self._rate_box()
        self.points = QtWidgets.QSpinBox()
        self.points.setRange(2, 60)
        self.criterion = QtWidgets.QComboBox()
        for key, text in CRITERIA.items():
            self.criterion.addItem(key.replace("_", " "), key)
            self.criterion.setItemData(self.criterion.count() - 1, text, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.criterion.setToolTip("How a rate is scored (lower wins); diverged runs are excluded")
        grid.addRow("rates from", self.lr_min)
        grid.addRow("to", self.lr_max)
        grid.addRow("points (log grid)", self.points)
        grid.addRow("criterion", self.criterion)
        v.addLayout(grid)
        row = QtWidgets.QHBoxLayout()
        self.tune_button = QtWidgets.QPushButton("Tune learning rates")
        self.tune_button.setToolTip(
            "Train every optimizer at every rate of the grid from the same start (one batch), keep each one's best"
        )
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setEnabled(False)
        row.addWidget(self.tune_button)
        row.addWidget(self.stop_button)
        v.addLayout(row)
        self.map_button = QtWidgets.QPushButton("Convergence map…")
        self.map_button.setToolTip(
            "Final loss of the base set-up over two hyperparameters (e.g. lr × momentum), all cells trained as one "
            "batch; click a cell to open it in the Training tab"
        )
        v.addWidget(self.map_button)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setToolTip("Epochs of the sweep done, over all trials")
        v.addWidget(self.progress)
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        v.addWidget(self.status)
        self.sweep = SweepPanel()  # fits the narrow sidebar; says when the settings changed since it was tuned
        self.plot_widget, self.chart = self.sweep.plot_widget, self.sweep.chart
        v.addWidget(self.sweep)
        self.which.currentIndexChanged.connect(self._show_params)
        self.form.changed.connect(self._params_edited)
        self.defaults.clicked.connect(self._back_to_defaults)
        for w in (self.lr_min, self.lr_max):
            w.sigValueChanged.connect(self._tuning_edited)
        self.points.valueChanged.connect(self._tuning_edited)
        self.criterion.currentIndexChanged.connect(self._tuning_edited)
        self.tune_button.clicked.connect(self.tune)
        self.stop_button.clicked.connect(self.stop)
        self.map_button.clicked.connect(self.open_map)
        self.experiment.events.comparison.connect(self.show_spec)
        self.show_spec(self.experiment.comparison)

    @staticmethod
    def _rate_box() -> pg.SpinBox:
        return FullSpinBox(value=1e-3, bounds=(1e-8, 10), dec=True, step=0.5, minStep=1e-12, decimals=4)

    # -- the model ----------------------------------------------------------------------------------------
    def show_spec(self, spec: ComparisonSpec) -> None:
        """Show ``spec``'s optimizers, the chosen one's own settings and the tuning settings."""
        self._showing = True
        try:
            current = self.which.currentData()
            self.which.clear()
            for oid in race_ids(spec):
                self.which.addItem(OPTIMIZERS.get(oid).name, oid)
            index = self.which.findData(current)
            self.which.setCurrentIndex(max(index, 0))
            self.lr_min.setValue(spec.tuning.lr_min)
            self.lr_max.setValue(spec.tuning.lr_max)
            self.points.setValue(spec.tuning.points)
            self.criterion.setCurrentIndex(max(self.criterion.findData(spec.tuning.criterion), 0))
        finally:
            self._showing = False
        self._show_params()
        self.sweep.check(tuned_for(spec, self._tuned_ids))

    def _show_params(self, *_) -> None:
        oid = self.which.currentData()
        if oid is None:
            return
        self._showing = True
        try:
            # what the run gets: its training defaults (SGD family 0.1), the base's for its own, then its own
            shown = {**training_defaults(oid), **runs_with(self.experiment.comparison, oid)}
            self.form.set_entry(OPTIMIZERS.get(oid), shown)
            tuned = config_rate_words(self.experiment.comparison, oid)
            self.tuned_note.setText(
                f"{tuned[0].upper()}{tuned[1:]} (type a rate to race at it instead)." if tuned else ""
            )
            self.tuned_note.setVisible(bool(tuned))
        finally:
            self._showing = False

    def _commit(self, **changes) -> bool:
        """Store ``changes`` in the comparison; show a bad value's message; return whether it was stored."""
        spec = self.experiment.comparison
        try:
            new = load_section(ComparisonSpec, {**spec.model_dump(), **changes}, "comparison")
        except UserError as err:
            self.status.setText(err.message)
            return False
        if new != spec:
            self.experiment.comparison = new
        return True

    def _params_edited(self, values: dict) -> None:
        if self._showing:
            return
        oid = self.which.currentData()
        spec = self.experiment.comparison
        defaults = training_defaults(oid)
        own = runs_with(spec, oid)
        changed = {k: v for k, v in values.items() if v != defaults.get(k) or k in own}
        changes = {"per_optimizer": {**spec.per_optimizer, oid: changed}}
        if values.get("lr") != own.get("lr", defaults.get("lr")):  # a rate typed by hand beats a tuned one
            changes["tuned_lr"] = without_tuned(spec.tuned_lr, oid)
        self._commit(**changes)

    def _back_to_defaults(self) -> None:
        oid = self.which.currentData()
        spec = self.experiment.comparison
        per = {k: v for k, v in spec.per_optimizer.items() if k != oid}
        changes = {"per_optimizer": per, "tuned_lr": without_tuned(spec.tuned_lr, oid)}
        if oid == spec.base.optimizer:  # its settings are the base form's too (one truth): both go back
            changes["base"] = {**spec.base.model_dump(), "optimizer_params": training_defaults(oid)}
        self._commit(**changes)
        self._show_params()

    def _tuning_edited(self, *_) -> None:
        if self._showing:
            return
        tuning = {
            "lr_min": float(self.lr_min.value()),
            "lr_max": float(self.lr_max.value()),
            "points": self.points.value(),
            "criterion": self.criterion.currentData(),
            "budget": self.experiment.comparison.tuning.budget,
        }
        self._commit(tuning=tuning)

    def open_map(self):
        """Open the convergence map of the comparison's base; a clicked cell becomes the Training tab's run."""
        from gui.views.map_dialog import MapDialog

        def open_cell(settings) -> None:
            """Make the clicked cell a fresh run of the Training tab, shown in front of this dialog."""
            window = self.window()
            if hasattr(window, "open_training"):
                window.open_training(settings)
            else:  # the panel on its own (no main window): the model still takes the cell
                self.experiment.training = settings

        dialog = MapDialog("training", lambda: self.experiment.comparison.base, open_cell, self)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        # not transient for the window (Qt's default for a child dialog keeps it above the window): a clicked
        # cell brings the Training tab forward, the map stays open behind it for the next cell
        if dialog.windowHandle() is not None:
            dialog.windowHandle().setTransientParent(None)
        return dialog

    # -- tuning -------------------------------------------------------------------------------------------
    def tune(self) -> None:
        """Start the learning-rate sweep of the comparison's optimizers in the background."""
        if self._job is not None:
            return
        spec = self.experiment.comparison
        try:
            comparison = spec.to_comparison()
        except UserError as err:
            self.status.setText(err.message)
            return
        tune_spec = TuneSpec.of(spec.tuning)
        self._comparison = comparison
        self._tuning_for = tuned_for(spec, optimizers_of(comparison))
        n = len(optimizers_of(comparison)) * tune_spec.points
        self.status.setText(f"Tuning: {n} trials, {describe(tune_spec.criterion)}")
        self.tune_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._job = self.runner.start(
            "tuning",
            lambda token: tuning_job(comparison, tune_spec, token),
            on_snapshot=self._on_snapshot,
            on_done=self._on_done,
        )

    def stop(self) -> None:
        """Stop the sweep (no rate is changed)."""
        if self._job is not None:
            self._job.stop()

    def _on_snapshot(self, s) -> None:
        self.progress.setMaximum(max(1, s.total))
        self.progress.setValue(s.done)

    def _on_done(self, handle) -> None:
        if handle is not self._job:
            return
        self._job = None
        self.tune_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if handle.error is not None:
            self.status.setText(str(getattr(handle.error, "message", handle.error)))
            return
        result = handle.result
        if result is None:
            self.status.setText("Tuning stopped; no rate was changed.")
            return
        self.result = result
        self._tuned_ids = list(dict.fromkeys(t.optimizer for t in result.trials))
        self.sweep.set_result(result, self._tuning_for)  # before the rates are stored: they make it no staler
        tuned = result.tuned(self._comparison)  # per optimizer, or per configuration when other fields vary too
        self._commit(
            per_optimizer={**self.experiment.comparison.per_optimizer, **tuned.per_optimizer},
            tuned_lr=[{"when": when, "lr": lr} for when, lr in tuned.tuned_lr],
        )
        self.status.setText(tuned_words(result))
        self.tuned.emit(result)
