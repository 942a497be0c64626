"""The surface tab's "Tune learning rates" window: sweep each ticked optimizer's rate, then race at the best.

Every optimizer runs at every rate of a log grid from the same starts (one paths job); the chart shows the
criterion against the rate per optimizer (as fastai's lr_find), with each one's best as a star. "Race at
the tuned rates" sets only the tuned optimizers' learning rates on the surface tab, as it is now: whatever the
user changed since tuning (function, steps, start, ticked optimizers, other settings) is kept, and the status
says when the surface is no longer the one the rates were tuned on.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.experiment import SurfaceSettings, load_section
from engine.surface.tuning import surface_tuning_job
from engine.tuning import CRITERIA, TuneSpec, best_words, describe, notes_words
from gui.charts.tuning import TuningChart
from gui.jobs import JobRunner
from gui.views.sizing import FullSpinBox
from gui.views.surface_changes import and_list, changes, optimizer_name, run_words


class SurfaceTuneDialog(QtWidgets.QDialog):
    """Tune the learning rates of ``read_settings()``'s optimizers; ``apply(rates)`` sets the tuned rates
    ({optimizer id: lr}) on the surface tab, which then races at them."""

    tuned = QtCore.Signal(object)  # the SurfaceTuning

    def __init__(
        self, read_settings: Callable[[], SurfaceSettings], apply: Callable[[dict[str, float]], None], parent=None
    ):
        super().__init__(parent)
        self.setWindowTitle("Tune learning rates (surface)")
        self.read_settings, self.apply_rates = read_settings, apply
        self.runner = JobRunner(self)
        self.result = None
        self._job = None
        self._settings, self._starts = None, 1  # the settings of the sweep started last, its number of starts
        self._tuned_on = None  # the settings the shown result was tuned on
        self._best_text = ""
        outer = QtWidgets.QVBoxLayout(self)
        form = QtWidgets.QFormLayout()
        self.lr_min = FullSpinBox(value=1e-4, bounds=(1e-8, 10), dec=True, step=0.5, minStep=1e-12, decimals=4)
        self.lr_max = FullSpinBox(value=1.0, bounds=(1e-8, 10), dec=True, step=0.5, minStep=1e-12, decimals=4)
        self.points = QtWidgets.QSpinBox()
        self.points.setRange(2, 60)
        self.criterion = QtWidgets.QComboBox()
        for key, text in CRITERIA.items():
            self.criterion.addItem(key.replace("_", " "), key)
            self.criterion.setItemData(self.criterion.count() - 1, text, QtCore.Qt.ItemDataRole.ToolTipRole)
        form.addRow("rates from", self.lr_min)
        form.addRow("to", self.lr_max)
        form.addRow("points (log grid)", self.points)
        form.addRow("criterion", self.criterion)
        outer.addLayout(form)
        row = QtWidgets.QHBoxLayout()
        self.tune_button = QtWidgets.QPushButton("Tune")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.race_button = QtWidgets.QPushButton("Race at the tuned rates")
        self.stop_button.setEnabled(False)
        self.race_button.setEnabled(False)
        for w in (self.tune_button, self.stop_button, self.race_button):
            row.addWidget(w)
        outer.addLayout(row)
        self.progress = QtWidgets.QProgressBar()
        outer.addWidget(self.progress)
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMinimumSize(560, 360)
        self.chart = TuningChart(self.plot_widget.getPlotItem())
        outer.addWidget(self.plot_widget, 1)
        self.tune_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.race_button.clicked.connect(self.race)
        try:
            tuning = read_settings().tuning
            self.lr_min.setValue(tuning.lr_min)
            self.lr_max.setValue(tuning.lr_max)
            self.points.setValue(tuning.points)
            self.criterion.setCurrentIndex(max(self.criterion.findData(tuning.criterion), 0))
        except UserError as err:
            self.status.setText(err.message)

    def tuning(self) -> dict:
        """Return the sweep settings shown, as the experiment stores them."""
        return {
            "lr_min": float(self.lr_min.value()),
            "lr_max": float(self.lr_max.value()),
            "points": self.points.value(),
            "criterion": self.criterion.currentData(),
            "budget": 0,
        }

    def start(self) -> None:
        """Sweep the rates in the background."""
        if self._job is not None:
            return
        try:
            settings = load_section(
                SurfaceSettings, {**self.read_settings().model_dump(), "tuning": self.tuning()}, "surface"
            )
            surface = settings.surface()
            starts = settings.start_points(surface)
            specs = settings.specs()
            spec = TuneSpec.of(settings.tuning)
        except UserError as err:
            self.status.setText(err.message)
            return
        self._settings, self._starts = settings, len(starts)
        self.status.setText(f"Tuning {len(specs) * spec.points} trials; {describe(spec.criterion)}")
        self.tune_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        sched, sched_params, steps = settings.scheduler, settings.scheduler_params, settings.steps
        self._job = self.runner.start(
            "tuning",
            lambda token: surface_tuning_job(surface, specs, starts, steps, spec, sched, sched_params, token),
            on_snapshot=lambda p: (self.progress.setMaximum(max(1, p.steps)), self.progress.setValue(p.step)),
            on_done=self._on_done,
        )

    def stop(self) -> None:
        """Stop the sweep."""
        if self._job is not None:
            self._job.stop()

    def _on_done(self, handle) -> None:
        if handle is not self._job:
            return
        self._job = None
        self.tune_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if handle.error is not None:
            self.status.setText(str(getattr(handle.error, "message", handle.error)))
            return
        if handle.result is None:
            self.status.setText("Stopped; no rate was changed.")
            return
        self.result = handle.result
        self._tuned_on = self._settings
        self.chart.set_trials(self.result.trials, self.result.best, self.result.criterion, self._starts)
        words = best_words(self.result.best)
        notes = notes_words(self.chart.notes, self.result.best)
        self._best_text = f"Best rates on {run_words(self._tuned_on)}: {words}." + (f" {notes}" if notes else "")
        self.status.setText(self._best_text)
        self.race_button.setEnabled(any(lr is not None for lr in self.result.best.values()))
        self.tuned.emit(self.result)

    def tuned_rates(self) -> dict[str, float]:
        """Return {optimizer id: tuned lr} of the tuned optimizers (one whose every rate diverged is left out)."""
        return {oid: float(lr) for oid, lr in self.result.best.items() if lr is not None}

    def race_words(self, rates: dict[str, float]) -> str:
        """Return what racing at ``rates`` does to the surface tab as it is now (and what changed since tuning)."""
        shown = ", ".join(f"{optimizer_name(o)} lr {lr:.3g}" for o, lr in rates.items())
        words = [f"Racing at the tuned rates on the surface: {shown}."]
        try:
            now = self.read_settings()
        except UserError as err:
            return words[0] + f" The surface tab has an error ({err.message}); the paths follow once it is fixed."
        since = changes(self._tuned_on, now, [o for o in rates if o in now.optimizers], skip={"lr"})
        if since:
            words.append(
                f"Tuned on {run_words(self._tuned_on)}; since then {and_list(since)}: tune again for rates that fit."
            )
        untuned = [o for o in now.optimizers if o not in rates]
        if untuned:
            kept = and_list([f"{optimizer_name(o)} (lr {now.hyperparameters[o]['lr']:.3g})" for o in untuned])
            words.append(f"Not tuned, so at their own rates: {kept}.")
        unticked = [o for o in rates if o not in now.optimizers]
        if unticked:
            names = and_list([optimizer_name(o) for o in unticked])
            words.append(f"{names}: rate set, but not ticked, so not in the race.")
        return " ".join(words)

    def race(self) -> None:
        """Race at the tuned rates: set them on the surface tab (nothing else changes); the status says what it did."""
        if self.result is None:
            return
        rates = self.tuned_rates()
        if not rates:
            return
        words = self.race_words(rates)  # before: "since then" compares the tab as the user left it
        self.apply_rates(rates)
        self.status.setText(self._best_text + "\n" + words)

    def done(self, code: int) -> None:  # noqa: D102 — closing stops the sweep
        self.runner.shutdown(1.0)
        super().done(code)


def open_surface_tuning(controls) -> SurfaceTuneDialog:
    """Open the tuning window for the surface tab's ``controls`` (racing shows the tuned settings there)."""

    def apply(rates: dict[str, float]) -> None:
        """Keep the sweep settings and set only the tuned rates (the surface tab recomputes on the change)."""
        controls.tuning_values = dialog.tuning()
        controls.set_params({oid: {"lr": lr} for oid, lr in rates.items()})

    dialog = SurfaceTuneDialog(controls.read_settings, apply, controls)
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
