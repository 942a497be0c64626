"""The training tab: the configuration (bound to ``experiment.training``), Step/Run/Pause/Stop/Reset, live charts.

Training runs as engine jobs (``prepare_job`` then ``train_job``) on the shared JobRunner. Each job has its
own token, so a Stop or Pause can never be lost: it reaches exactly the job it was meant for, whenever it
arrives, even while the data are still loading. A Run asked for while the previous job winds down is
queued, and a Stop clears the queue.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.experiment import Experiment, TrainingResult, TrainingSettings
from engine.training.config import TrainConfig
from engine.training.data_shape import data_shape
from engine.training.jobs import Pace, prepare_job
from engine.training.visuals import visuals_kind
from gui.charts import style
from gui.jobs import JobRunner
from gui.views.config_form import ConfigForm
from gui.views.download_bar import DownloadBar
from gui.views.estimates import confirm_slow, may_start
from gui.views.field_errors import FieldErrors
from gui.views.landscape_panel import LandscapePanel, with_landscape
from gui.views.training_live import LiveCharts, session
from gui.views.training_panels import TrainingPanels

SPEEDS = (None, 100, 30, 10, 3, 1)  # the speed control's choices, epochs per second (None: as fast as possible)


class TrainingView(QtWidgets.QWidget):
    """The form on the left; buttons, status and the chart panels on the right."""

    state_changed = QtCore.Signal(str)  # the status after each change (for tests and the window)

    def __init__(self, experiment: Experiment | None = None, runner: JobRunner | None = None, parent=None):
        super().__init__(parent)
        style.configure()
        self.experiment = experiment or Experiment()
        self.runner = runner or JobRunner(self)
        self.trainer = None  # the run in progress (kept between Pause and Run)
        self.snapshot = None  # the newest TrainingSnapshot
        self._job = None
        self._restore = None  # the job that redraws a restored run's side panel from its saved weights
        self._queued: int | None | str = "none"  # epochs of a Run/Step asked for while a job winds down
        self._pausing = False
        self._status = "idle"
        self._config_ok = True
        self._writing = False
        self.pace = Pace()  # the speed control's choice, shared with the running job (part of the view, not saved)
        self._build()
        self.live = LiveCharts(self.panels, self.pace, self)  # the charts' redraw cadence while a job runs
        self.form.set_config(self.experiment.training.to_config())
        self.experiment.events.training.connect(self._model_changed)
        self.form.changed.connect(self._form_changed)
        self._form_changed()
        if self.experiment.results.training is not None:
            self.show_result(self.experiment.results.training)

    confirm_slow = staticmethod(confirm_slow)  # asks before a run estimated to be slow (tests replace it)

    @property
    def status(self) -> str:
        """The run's status: idle, loading, ready, running, paused, stopped, finished, diverged or error."""
        return self._status

    def _build(self) -> None:
        outer = QtWidgets.QHBoxLayout(self)
        self.form = ConfigForm()
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(320)
        scroll.setMaximumWidth(380)
        outer.addWidget(scroll)
        right = QtWidgets.QVBoxLayout()
        buttons = QtWidgets.QHBoxLayout()
        self.step_button = QtWidgets.QPushButton("Step 1 epoch")
        self.step_button.setToolTip("Train one epoch, then stop (Right arrow)")
        self.run_button = QtWidgets.QPushButton("Run")
        self.run_button.setToolTip("Train to the last epoch (Space toggles Run/Pause)")
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setToolTip("Stop after the current batch; Run or Step continues from there")
        self.stop_button = QtWidgets.QPushButton("Stop")
        self.stop_button.setToolTip("End this run after the current batch (Reset starts a new one)")
        self.reset_button = QtWidgets.QPushButton("Reset")
        self.reset_button.setToolTip("New run from the configuration on the left (same seed: same start)")
        for b in (self.step_button, self.run_button, self.pause_button, self.stop_button, self.reset_button):
            buttons.addWidget(b)
        self.speed = QtWidgets.QComboBox()
        for eps in SPEEDS:
            self.speed.addItem("as fast as possible" if eps is None else f"{eps} epochs/s", eps)
        self.speed.setToolTip(
            "Training speed: slow it down to watch the decision regions form epoch by epoch (they are redrawn "
            "after every epoch when slowed). Applies at once, also during a run; Step trains one epoch at full speed"
        )
        speed_label = QtWidgets.QLabel("Speed")
        speed_label.setBuddy(self.speed)
        buttons.addSpacing(12)
        buttons.addWidget(speed_label)
        buttons.addWidget(self.speed)
        buttons.addStretch(1)
        right.addLayout(buttons)
        self.error = QtWidgets.QLabel()
        self.error.setStyleSheet("color: #b00000;")
        self.error.setWordWrap(True)
        self.error.hide()
        right.addWidget(self.error)
        self.download = DownloadBar(self.runner)  # offered under "files not found" (MNIST, Fashion-MNIST)
        self.download.downloaded.connect(lambda _folder: self.reset())  # the data set loads from there
        right.addWidget(self.download)
        self.panels = TrainingPanels()
        self.landscape = LandscapePanel(self.runner, self.experiment)  # the loss landscape under the charts
        right.addWidget(with_landscape(self.panels, self.landscape), 1)
        outer.addLayout(right, 1)
        for name in ("status_label", "progress", "data_label", "twin", "lr_chart", "side", "decision_canvas"):
            setattr(self, name, getattr(self.panels, name))
        for name in ("decision", "image_canvas", "confusion", "samples", "empty", "charts"):
            setattr(self, name, getattr(self.panels, name))
        self.errors = FieldErrors(self.error, self.form.field_controls(), prefix="training")
        self.step_button.clicked.connect(self.step_epoch)
        self.run_button.clicked.connect(self.run)
        self.pause_button.clicked.connect(self.pause)
        self.stop_button.clicked.connect(self.stop)
        self.reset_button.clicked.connect(self.reset)
        self.speed.currentIndexChanged.connect(self._speed_changed)

    # -- the model ----------------------------------------------------------------------------------------
    def _form_changed(self) -> None:
        """Validate the form into ``experiment.training``; a bad field is named and outlined, nothing is lost."""
        try:
            settings = TrainingSettings.from_config(self.form.config())
        except UserError as err:
            self.errors.show(err)
            self._config_ok = False
        else:
            self.errors.clear()
            self._config_ok = True
            if settings != self.experiment.training:
                self.download.withdraw()
                self._writing = True
                try:
                    self.experiment.training = settings
                finally:
                    self._writing = False
                if self._job is None and self._status not in ("running", "loading"):
                    self.trainer = None  # the next Run or Step starts from the new configuration
        self._update_buttons()

    def _model_changed(self, settings: TrainingSettings) -> None:
        if not self._writing:  # set from outside (a file was opened): show it
            self.form.set_config(settings.to_config())

    def _speed_changed(self) -> None:
        self.pace.epochs_per_second = self.speed.currentData()  # the running job reads it at once

    def set_speed(self, epochs_per_second: float | None) -> None:
        """Choose a speed (None: as fast as possible; one of SPEEDS, or a custom value added to the list)."""
        found = [i for i in range(self.speed.count()) if self.speed.itemData(i) == epochs_per_second]
        index = found[0] if found else -1
        if index < 0:
            self.speed.addItem(f"{epochs_per_second:g} epochs/s", epochs_per_second)
            index = self.speed.count() - 1
        self.speed.setCurrentIndex(index)

    # -- actions ------------------------------------------------------------------------------------------
    def _start(self, epochs: int | None) -> None:
        if self._job is not None:  # the previous job is winding down: run this one after it
            self._queued = epochs
            return
        if self.trainer is None:
            try:
                config = self.experiment.training.to_config()
                if not may_start(self, [config], self.confirm_slow):
                    return
            except UserError as err:
                self.errors.show(err)
                return
            self.live.cancel()
            shape = data_shape(config)  # what is known before loading: the side panel and axes are laid out now
            self.panels.clear(visuals_kind(config), shape.n_classes if shape else None, config.epochs)
            self.panels.paint_now()
            self.landscape.clear()
        else:
            config = self.trainer.config
        self._queued = "none"
        self._pausing = False
        if self._restore is not None:  # a new run replaces the restored picture
            self._restore.stop()
            self._restore = None
        self._set_status("loading" if self.trainer is None else "running")
        self._job = self.runner.start(
            "training",
            session(config, self.trainer, epochs, self.pace),
            on_snapshot=self._on_snapshot,
            on_done=self._on_done,
        )

    def _idle_or_stopping(self) -> bool:
        return self._config_ok and (self._job is None or self._job.token.stopped)

    def step_epoch(self) -> None:
        """Train one epoch in the background (after the job that is stopping, if one is)."""
        if self._idle_or_stopping():
            self._start(1)

    def run(self) -> None:
        """Train to the end in the background (after the job that is stopping, if one is)."""
        if self._idle_or_stopping():
            self._start(None)

    def toggle_run(self) -> None:
        """Run when idle or paused, pause when running (the Space shortcut)."""
        self.pause() if self._status in ("running", "loading") else self.run()

    def pause(self) -> None:
        """Stop after the current batch; Run or Step continues the same run."""
        self._queued = "none"
        if self._job is not None:
            self._pausing = True
            self._job.stop()

    def stop(self) -> None:
        """Stop after the current batch and end this run (the next Run starts afresh)."""
        self._queued = "none"
        self._pausing = False
        if self._job is not None:
            self._job.stop()
        elif self.trainer is not None:
            self.trainer = None
            self._set_status("stopped")

    def reset(self) -> None:
        """Drop the current run and prepare a new one from the form (epoch 0 drawn)."""
        self.stop()
        self.trainer = None
        self._queued = 0 if self._job is not None else "none"
        if self._job is None:
            self._start(0)

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop every job of this view within ``timeout`` seconds; return whether its threads ended."""
        self._queued = "none"
        if self.runner.parent() is self:
            return self.runner.shutdown(timeout)
        self.runner.stop_all("training")
        self.runner.stop_all("restore")
        self.runner.stop_all("landscape")
        return True

    # -- results from the job -----------------------------------------------------------------------------
    def _on_snapshot(self, s) -> None:
        self.snapshot = s
        if s.status == "loading":
            self._set_status("loading")
        elif s.status == "running" and self._status == "loading":
            self._set_status("running")
        self.live.show(s, self._status)
        self.landscape.on_snapshot(s)

    def abandon(self) -> None:
        """Stop the current job and forget it (an experiment is being opened): its end changes nothing here."""
        self._queued = "none"
        for job in (self._job, self._restore):
            if job is not None:
                job.stop()
        self._job = self._restore = None
        self.live.cancel()
        self.landscape.clear()
        self._pausing = False
        self.trainer = None
        self._set_status("idle")

    def _on_done(self, handle) -> None:
        if handle is not self._job:
            return  # abandoned (an experiment was opened since): its results belong to nothing shown
        self._job = None
        trainer, status, result = handle.result if handle.result is not None else (None, "error", None)
        if handle.error is not None:
            self.trainer = None
            self.errors.show(handle.error)
            self.download.offer_for(handle.error, self.experiment.training.dataset, self.experiment.training.data_dir)
            status = "error"
        elif status == "stopped":
            if self._pausing and trainer is not None:
                status = "paused"
                self.trainer = trainer
            else:
                self.trainer = None
        else:
            self.trainer = trainer
            if status == "ready":
                status = "idle"
            else:
                status = "paused" if status == "finished" and not trainer.finished else status
        self._pausing = False
        if self.trainer is not None and self.trainer.config != self._settings_config():
            self.trainer = None  # settings changed while it ran: the next Run starts from them, not the old run
            status = "stopped" if status == "paused" else status
        self.live.cancel()  # the last snapshot is drawn here, whatever the cadence
        if self.snapshot is not None:
            self.panels.draw(self.snapshot)
        if result is not None:  # built in the job's thread: converting the weights here would stall the window
            self.experiment.results.training = result
        if status == "diverged" and trainer is not None:
            self.errors.show_text(
                f"Diverged at epoch {trainer.diverged_at}: the loss became NaN or infinite there. The curves stop "
                "at the last finite value; try a smaller learning rate."
            )
        self._set_status(status)
        if self.snapshot is not None:
            self.panels.draw_status(self.snapshot, self._status)
        self.landscape.training_ended()
        queued, self._queued = self._queued, "none"
        if queued != "none" and status not in ("error",):
            self._start(queued)

    def _settings_config(self):
        try:
            return self.experiment.training.to_config()
        except UserError:
            return None

    def show_result(self, result: TrainingResult) -> None:
        """Draw a saved run (from an opened experiment) without training: its curves, and its decision regions
        or confusion matrix recomputed from the saved weights in the background."""
        self.trainer = None
        self.live.cancel()
        self.panels.clear()
        status = "finished" if result.diverged_at is None else "diverged"
        self.panels.draw_restored(result, status)
        self._set_status(status)
        if not result.weights:
            return
        try:
            config = TrainConfig.from_dict(result.config).validated()
        except UserError:
            return  # the curves are shown; the side panel needs a configuration that still validates
        if self._restore is not None:
            self._restore.stop()

        def draw(s):
            if s.visuals is not None and self._restore is not None and self._restore is handle:
                self.panels.draw_visuals(s.visuals)

        handle = self._restore = self.runner.start(
            "restore", lambda token: prepare_job(config, token, init_weights=result.weights), on_snapshot=draw
        )

    # -- status -------------------------------------------------------------------------------------------
    def _set_status(self, status: str) -> None:
        changed = status != self._status
        self._status = status
        self._update_buttons()
        if status not in ("error", "diverged") and self._config_ok:
            self.errors.clear()
        if changed or status not in ("running", "loading"):
            self.state_changed.emit(status)

    def _update_buttons(self) -> None:
        busy = self._status in ("running", "loading")
        ended = self._status in ("finished", "diverged", "stopped", "error") and self.trainer is None
        can_train = self._config_ok and not busy and not (self.trainer is not None and self.trainer.finished)
        self.step_button.setEnabled(can_train or (ended and self._config_ok))
        self.run_button.setEnabled(can_train or (ended and self._config_ok))
        finished = self.trainer is not None and self.trainer.finished
        why = "This run is finished: Reset, or change a setting, to start a new one. " if finished else ""
        self.run_button.setToolTip(why + "Train to the last epoch (Space toggles Run/Pause)")
        self.step_button.setToolTip(why + "Train one epoch, then stop (Right arrow)")
        self.pause_button.setEnabled(busy)
        self.stop_button.setEnabled(busy or self._status == "paused")
        self.reset_button.setEnabled(self._config_ok)
