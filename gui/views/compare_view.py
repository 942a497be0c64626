"""The comparison tab, bound to ``experiment.comparison``: what varies, seeds, and its OWN base configuration.

A preset changes the comparison (its fields and its base) and never the Training tab; "Copy from the
Training tab" is an explicit choice. Runs train as an engine job on the shared JobRunner.
"""

from __future__ import annotations

import time
from dataclasses import replace

from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.experiment import ComparisonResult, ComparisonSpec, Experiment, load_section
from engine.presets import PRESETS, preset_spec
from engine.sweep.session import stored_sweep_job
from engine.sweep.store import default_store_path
from engine.training.compare import summary_table
from gui.charts import style
from gui.jobs import JobRunner
from gui.views.compare_base import BaseBox, kept_tuned_rates, synced_per_optimizer
from gui.views.compare_panels import ComparisonPanels
from gui.views.download_bar import DownloadBar
from gui.views.estimates import confirm_slow, may_start
from gui.views.field_errors import FieldErrors
from gui.views.race_panel import RacePanel
from gui.views.run_on import RunOnBox, progress_text
from gui.views.sweep_fields import MoreFields

OVERLAY_EVERY_S = 0.3  # while a comparison runs: overlay charts redraw at most this often
HEAVY_EVERY_S = 1.0  # ... and the small multiples and summary table at most this often
CURVES = ("test", "train", "both")  # the "curves" choice's items, in order
FIELDS = ["momentum", "lr", "optimizer", "scheduler", "batch_size", "activation", "init", "dropout", "l2", "loss"]


class CompareView(QtWidgets.QWidget):
    """Controls and the base configuration on the left; overlay charts, small multiples and the table right."""

    finished = QtCore.Signal(str)
    confirm_slow = staticmethod(confirm_slow)  # asks before a comparison estimated to be slow (tests replace it)

    def __init__(self, experiment: Experiment | None = None, runner: JobRunner | None = None, parent=None):
        super().__init__(parent)
        style.configure()
        self.experiment = experiment or Experiment()
        self.runner = runner or JobRunner(self)
        self.results = []
        self.varied: list[str] = []
        self._job = None
        self._writing = False
        self._showing = False
        self._redrawn_at = self._heavy_at = 0.0
        self._build()
        self._model_changed(self.experiment.comparison)
        self.experiment.events.comparison.connect(self._model_changed)
        saved = self.experiment.results.comparison
        if saved is not None:
            self.show_results(saved.to_results(), [v.field for v in self.experiment.comparison.vary])

    def _build(self) -> None:
        outer = QtWidgets.QHBoxLayout(self)
        panel = QtWidgets.QWidget()
        form = QtWidgets.QVBoxLayout(panel)
        box = QtWidgets.QGroupBox("What varies")
        f = QtWidgets.QFormLayout(box)
        self.preset = QtWidgets.QComboBox()
        self.preset.addItem("Presets…")
        self.preset.addItems(list(PRESETS))
        # long preset names must not widen the panel past the window's left column
        self.preset.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset.setMinimumContentsLength(16)
        self.preset.setToolTip(
            "Reproduce a seed notebook's comparison (sets this comparison's base, not the Training tab)"
        )
        self.field1, self.values1 = QtWidgets.QComboBox(), QtWidgets.QLineEdit()
        self.field2, self.values2 = QtWidgets.QComboBox(), QtWidgets.QLineEdit()
        self.field1.addItems(FIELDS)
        self.field2.addItems(["(none)"] + FIELDS)
        for w in (self.values1, self.values2):
            w.setToolTip("Values separated by commas, e.g. 0,0.1,0.5 or sgd,adam,adagrad")
        self.field1.setToolTip("First field that varies (rows of the grid)")
        self.field2.setToolTip("Optional second field (columns of the grid)")
        self.seeds = QtWidgets.QLineEdit()
        self.seeds.setPlaceholderText("seeds, e.g. 1,2,3 (blank: the base seed)")
        self.seeds.setToolTip("Several seeds give a mean curve with a band (min–max) and a spread in the table")
        self.target = QtWidgets.QDoubleSpinBox()
        self.target.setRange(0, 1)
        self.target.setSingleStep(0.05)
        self.target.setToolTip("The summary reports the first epoch each run reaches this accuracy")
        f.addRow(self.preset)
        for label, w in (("field", self.field1), ("values", self.values1), ("and field", self.field2)):
            f.addRow(label, w)
        for label, w in (("values", self.values2), ("seeds", self.seeds), ("target accuracy", self.target)):
            f.addRow(label, w)
        self.more = MoreFields()  # a third varied field and more; a random sample of the grid
        f.addRow(self.more)
        form.addWidget(box)
        self.run_on = RunOnBox()  # this machine, or a Ray cluster
        form.addWidget(self.run_on)
        buttons = QtWidgets.QHBoxLayout()
        self.run_button = QtWidgets.QPushButton("Run comparison")
        self.run_button.setToolTip("Train every combination in the background")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("Stop the comparison after the current batch; finished runs are kept")
        self.stop_button.setEnabled(False)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        form.addLayout(buttons)
        self.progress = QtWidgets.QProgressBar()
        self.progress.setToolTip("Epochs done over all runs")
        form.addWidget(self.progress)
        self.store_note = QtWidgets.QLabel()  # the run store's trouble: the comparison runs on, unstored
        self.store_note.setWordWrap(True)
        self.store_note.setStyleSheet("color: #a05000;")
        self.store_note.hide()
        form.addWidget(self.store_note)
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00000;")
        self.error.hide()
        form.addWidget(self.error)
        self.download = DownloadBar(self.runner)  # offered under "files not found" (MNIST, Fashion-MNIST)
        form.addWidget(self.download)
        box = QtWidgets.QGroupBox("Display")
        f = QtWidgets.QFormLayout(box)
        self.metric_set = QtWidgets.QComboBox()
        self.metric_set.addItems(["test (where held out)", "train", "train and test"])
        for i, which in enumerate(CURVES):
            self.metric_set.setItemData(i, which)
        self.metric_set.setToolTip(
            "Curves from the held-out test set (when there is one), the training set, or both: training solid, "
            "test dashed, in each run's colour"
        )
        self.smoothing = QtWidgets.QSpinBox()
        self.smoothing.setRange(1, 50)
        self.smoothing.setToolTip("Moving-average window in epochs (1 = raw)")
        self.log_loss = QtWidgets.QCheckBox("log-scale loss")
        self.log_loss.setToolTip("Logarithmic loss axis: separates runs whose losses differ by orders of magnitude")
        f.addRow("curves", self.metric_set)
        f.addRow("smoothing", self.smoothing)
        f.addRow("", self.log_loss)
        form.addWidget(box)
        self.race = RacePanel(self.experiment, self.runner)  # each optimizer's own settings; tune their rates
        form.addWidget(self.race)
        self.base = BaseBox()  # its optimizer fields are one truth with the race panel's (compare_base)
        self.base_form, self.copy_base = self.base.form, self.base.copy_button
        form.addWidget(self.base)
        form.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(380)
        scroll.setMaximumWidth(420)
        outer.addWidget(scroll)
        self.panels = ComparisonPanels(self.runner)
        outer.addWidget(self.panels, 1)
        for name in ("loss_chart", "acc_chart", "lr_chart", "table", "charts", "tabs", "grid_canvas"):
            setattr(self, name, getattr(self.panels, name))
        base_controls = {f"base.{k}": (f"Base {w.lower()}", c) for k, (w, c) in self.base_form.field_controls().items()}
        self.errors = FieldErrors(
            self.error,
            {
                "vary.0": ("Values", self.values1),
                "vary.1": ("Second values", self.values2),
                "vary": ("What varies", self.values1),
                "seeds": ("Seeds", self.seeds),
                "target_acc": ("Target accuracy", self.target),
                "sample": ("Sample", self.more.sample),
                **{f"vary.{i}": ("More fields", self.more.line) for i in range(2, 12)},
                **base_controls,
            },
            prefix="comparison",
        )
        for signal in (self.values1.textChanged, self.values2.textChanged, self.seeds.textChanged):
            signal.connect(self._edited)
        self.field1.currentIndexChanged.connect(self._edited)
        self.field2.currentIndexChanged.connect(self._edited)
        self.target.valueChanged.connect(self._edited)
        self.more.changed.connect(self._edited)
        self.base_form.changed.connect(self._edited)
        self.run_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.worker_stop)
        self.preset.activated.connect(self._preset)
        self.copy_base.clicked.connect(self.copy_training_base)
        self.metric_set.currentIndexChanged.connect(lambda _i: self.redraw())
        self.smoothing.valueChanged.connect(lambda _v: self.redraw())
        self.log_loss.toggled.connect(lambda on: (self.loss_chart.set_log_y(on), self.redraw()))

    # -- the model ----------------------------------------------------------------------------------------
    def read_spec(self) -> ComparisonSpec:
        """Return the controls as a validated ComparisonSpec; raise UserError naming the field."""
        vary = [{"field": self.field1.currentText(), "values": _split(self.values1.text())}]
        if self.field2.currentText() != "(none)":
            if self.field2.currentText() == self.field1.currentText():
                raise UserError("the two varied fields must differ", "comparison.vary.1")
            vary.append({"field": self.field2.currentText(), "values": _split(self.values2.text())})
            vary += self.more.vary(len(vary))
        try:
            seeds = [int(s) for s in _split(self.seeds.text())]
        except ValueError:
            raise UserError(f"{self.seeds.text()!r} is not a list of whole numbers", "comparison.seeds") from None
        try:
            base = self.base_form.config().to_dict()
        except UserError as err:
            raise err.under("comparison.base") from None
        data = {"base": base, "vary": vary, "seeds": seeds, "target_acc": self.target.value()}
        data["sample"] = self.more.sample.value()
        # what these controls do not show (a preset's per-optimizer rates, the tuning, the sample) is kept: an
        # edited epoch count must not send the MNIST preset's SGD back to Adam's rate of 0.001
        current = self.experiment.comparison
        data["per_optimizer"] = synced_per_optimizer(current, base)  # the base optimizer's own: the form's values
        data["tuned_lr"] = kept_tuned_rates(current, base)  # a rate typed in the form beats one tuned before
        kept = {name: getattr(current, name) for name in type(current).model_fields if name not in data}
        return load_section(ComparisonSpec, {**kept, **data}, "comparison")

    def show_spec(self, spec: ComparisonSpec) -> None:
        """Show ``spec`` in the controls."""
        (first, *rest) = spec.vary or [None]
        if first is not None:
            self.field1.setCurrentText(first.field)
            self.values1.setText(",".join(first.values))
        self.field2.setCurrentText(rest[0].field if rest else "(none)")
        self.values2.setText(",".join(rest[0].values) if rest else "")
        self.seeds.setText(",".join(map(str, spec.seeds)))
        self.target.setValue(spec.target_acc)
        self.more.show_spec(spec)
        self.base.show_spec(spec)

    def _model_changed(self, spec: ComparisonSpec) -> None:
        if not self._writing:
            self._showing = True
            try:
                self.show_spec(spec)
            finally:
                self._showing = False

    def _edited(self, *_) -> None:
        """Validate the controls into ``experiment.comparison``; a bad field is named, nothing is lost."""
        if self._showing:
            return
        try:
            spec = self.read_spec()
            spec.to_comparison()  # every run's configuration is checked while typing, not only at Run
        except UserError as err:
            self.preset.setCurrentIndex(0)  # edited by hand: no longer the preset it came from
            self.errors.show(err)
            return
        self.errors.clear()
        if spec != self.experiment.comparison:  # a field's late echo of the same value changes nothing
            self.download.withdraw()
            self.preset.setCurrentIndex(0)
            self._commit(spec)
        if self.base.shown_params_differ(spec):  # another optimizer chosen: show the settings it runs with
            self._model_changed(spec)
        self.base.show_note(spec)

    def _commit(self, spec: ComparisonSpec) -> None:
        self._writing = True
        try:
            self.experiment.comparison = spec
        finally:
            self._writing = False

    def _preset(self, index: int) -> None:
        if index <= 0:
            return
        spec = load_section(ComparisonSpec, preset_spec(self.preset.itemText(index)), "comparison")
        self.experiment.comparison = spec  # the model event shows it; the Training tab is not touched
        self.preset.setCurrentIndex(index)  # named in the combo however it was chosen
        self.errors.clear()

    def copy_training_base(self) -> None:
        """Make the Training tab's configuration this comparison's base."""
        self.base_form.set_config(self.experiment.training.to_config())

    # -- actions ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Validate and start the comparison in the background."""
        if self._job is not None:
            return
        try:
            spec = self.read_spec()
            comparison = spec.to_comparison()
            planned = comparison.runs()
        except UserError as err:
            self.errors.show(err)
            return
        try:
            if not may_start(self, [cfg for _, _, cfg in planned], self.confirm_slow):
                return
        except UserError as err:  # the estimate blames a field of the base configuration
            self.errors.show(err.under("comparison.base") if err.field else err)
            return
        self.errors.clear()
        self._commit(spec)
        self.varied = [v.field for v in spec.vary]
        self.results = []
        self._planned = len(planned)
        self._last = None
        sweep_spec = spec.model_dump(mode="json")
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self._job = self.runner.start(
            "comparison",
            # every finished run also goes into the run store (the History lists it)
            lambda token: stored_sweep_job(comparison, sweep_spec, token, default_store_path(), *self.run_on.choice()),
            on_snapshot=self._on_snapshot,
            on_done=self._on_done,
        )

    def worker_stop(self) -> None:
        """Stop the comparison between batches; finished runs are kept."""
        if self._job is not None:
            self._job.stop()

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the comparison job; return whether its thread ended within ``timeout``."""
        if self.runner.parent() is self:
            return self.runner.shutdown(timeout)
        self.runner.stop_all("comparison")
        return True

    def _on_snapshot(self, s) -> None:
        self._last = s
        self.progress.setMaximum(max(1, s.epochs_total))  # epochs: the bar moves while a batched group trains
        self.progress.setValue(s.epochs_done)
        self.progress.setFormat(progress_text(s, self._planned))
        self.store_note.setText(f"Warning: {s.notice}" if s.notice else "")
        self.store_note.setVisible(bool(s.notice))
        now = time.monotonic()
        if now - self._redrawn_at >= OVERLAY_EVERY_S:
            # while runs train, the overlay grows live; the grid and table (slower to rebuild) follow each second
            heavy = now - self._heavy_at >= HEAVY_EVERY_S
            self._heavy_at = now if heavy else self._heavy_at
            self._redrawn_at = now
            # the worker appends to these histories while we draw: draw from a copy taken now
            self.results = [replace(r, history=list(r.history)) for r in s.runs()]
            self.redraw(heavy)

    def abandon(self) -> None:
        """Stop the comparison and forget it (an experiment is being opened): its end changes nothing here."""
        if self._job is not None:
            self._job.stop()
        self._job = None
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _on_done(self, handle) -> None:
        if handle is not self._job:
            return  # abandoned: an experiment was opened since
        self._job = None
        self.run_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        if handle.error is not None:
            self.errors.show(handle.error)
            base = self.experiment.comparison.base
            self.download.offer_for(handle.error, base.dataset, base.data_dir)
            self.finished.emit("error")
            return
        results = handle.result or []
        status = "stopped" if handle.token.stopped else "finished"
        self.show_results(results, self.varied)
        if results:
            self.experiment.results.comparison = ComparisonResult.from_results(results)
        if self._last is not None and self._last.failed:  # Ray gave up on some tasks after their retries
            self.errors.show(UserError(f"{self._last.failed} runs failed: {'; '.join(self._last.errors)}"))
        self.finished.emit(status)

    def show_results(self, results, varied: list[str]) -> None:
        """Draw these results (a finished comparison, or one restored from a file)."""
        self.results, self.varied = list(results), list(varied)
        self.redraw()

    def redraw(self, heavy: bool = True) -> None:
        """Redraw the charts (and, when ``heavy``, the small multiples and the table) from ``results``."""
        curves = self.metric_set.currentData() or "test"
        self.panels.draw(self.results, self.varied, curves, self.smoothing.value(), self.target.value(), heavy)

    @property
    def grid_plots(self):
        """The small-multiple plots drawn."""
        return self.panels.grid_plots

    def summary_rows(self) -> tuple[list[str], list[list]]:
        """Return the summary table for CSV export."""
        return summary_table(self.results, self.varied, self.target.value())


def _split(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]
