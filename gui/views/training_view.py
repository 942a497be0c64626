"""The training panel: configuration, Step/Run/Pause/Stop/Reset, live curves, decision regions or confusion."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from gui.charts import style
from gui.charts.chart_set import ChartSet
from gui.charts.curves import ConfusionMatrix, DecisionMap, ImageGrid, LineChart, TwinChart
from gui.views.config_form import ConfigForm
from gui.views.threads import stop_worker_thread
from gui.views.train_worker import TrainWorker

REFRESH_MS = 33  # ~30 Hz: the view pulls the latest state; the worker never signals per batch
CHART_MS = 200  # while training, charts redraw at most 5 times a second: painting holds the GIL the worker needs


class TrainingView(QtWidgets.QWidget):
    """Trains in a QThread; a timer pulls the worker's state and redraws what changed."""

    _prepare = QtCore.Signal(object)
    _train = QtCore.Signal(str)
    state_changed = QtCore.Signal(str)  # status after each redraw that changed it (for tests and the window)

    def __init__(self, parent=None):
        super().__init__(parent)
        style.configure()
        self._build()
        self.thread = QtCore.QThread(self)
        self.worker = TrainWorker()
        self.worker.moveToThread(self.thread)
        self._prepare.connect(self.worker.prepare)
        self._train.connect(self.worker.train)
        self.thread.start()
        self._seen = -1
        self._drawn: dict = {}
        self._charts_at = -(10**9)
        self._status = "idle"
        self._dirty_config = True
        self.timer = QtCore.QTimer(self, interval=REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.form.changed.connect(self._config_changed)
        self._config_changed()

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
        buttons.addStretch(1)
        right.addLayout(buttons)
        self.error = QtWidgets.QLabel()
        self.error.setStyleSheet("color: #b00000;")
        self.error.setWordWrap(True)
        self.error.hide()
        right.addWidget(self.error)
        status = QtWidgets.QHBoxLayout()
        self.status = QtWidgets.QLabel("idle")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("batch %v / %m")
        self.progress.setToolTip("Progress within the current epoch")
        status.addWidget(self.status, 1)
        status.addWidget(self.progress)
        right.addLayout(status)
        self.data_label = QtWidgets.QLabel()
        self.data_label.setStyleSheet("color: #555;")
        right.addWidget(self.data_label)

        charts = QtWidgets.QSplitter()
        self.canvas = pg.GraphicsLayoutWidget()
        self.twin = TwinChart(self.canvas.addPlot(row=0, col=0))
        self.lr_chart = LineChart(self.canvas.addPlot(row=1, col=0), "learning rate", "epoch", "lr", legend=False)
        self.canvas.ci.layout.setRowStretchFactor(0, 3)
        self.canvas.ci.layout.setRowStretchFactor(1, 2)
        self.side = QtWidgets.QStackedWidget()
        self.decision_canvas = pg.GraphicsLayoutWidget()
        self.decision_plot = self.decision_canvas.addPlot()
        self.decision = DecisionMap(self.decision_plot)
        self.image_canvas = pg.GraphicsLayoutWidget()
        self.confusion_plot = self.image_canvas.addPlot(row=0, col=0)
        self.confusion = ConfusionMatrix(self.confusion_plot)
        self.samples_plot = self.image_canvas.addPlot(row=1, col=0)
        self.samples = ImageGrid(self.samples_plot)
        self.empty = QtWidgets.QLabel(
            "Decision regions appear for 2-D data sets; a confusion matrix and test images for image sets."
        )
        self.empty.setWordWrap(True)
        self.empty.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        for w in (self.empty, self.decision_canvas, self.image_canvas):
            self.side.addWidget(w)
        cache = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
        for plot in (self.decision_plot, self.confusion_plot):
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setCacheMode(cache)  # their ranges rarely change: blit instead of repaint
        charts.addWidget(self.canvas)
        charts.addWidget(self.side)
        charts.setSizes([600, 500])
        right.addWidget(charts, 1)
        outer.addLayout(right, 1)

        self.charts = ChartSet(self)
        self.charts.add("loss_accuracy", self.twin.plot, self.twin.table)
        self.charts.add("learning_rate", self.lr_chart.plot, self.lr_chart.table)
        self.charts.add("decision_regions", self.decision_plot, self.decision.table)
        self.charts.add("confusion_matrix", self.confusion_plot, self.confusion.table)
        self.charts.add("test_images", self.samples_plot, self.samples.table)
        self._show_panels(decision=False, images=False)
        self._warm_up_image_panels()

        self.step_button.clicked.connect(self.step_epoch)
        self.run_button.clicked.connect(self.run)
        self.pause_button.clicked.connect(self.pause)
        self.stop_button.clicked.connect(self.stop)
        self.reset_button.clicked.connect(self.reset)

    def _warm_up_image_panels(self) -> None:
        """Draw the image panels once with placeholders: their first layout and paint (fonts, 136 labels)
        take ~90 ms, which would otherwise stall the window in the middle of the first epoch."""
        labels = [str(k) for k in range(10)]
        self.confusion.set_matrix(np.zeros((10, 10), dtype=int), labels)
        zeros = np.zeros(36, dtype=int)
        self.samples.set_samples(np.zeros((36, 28 * 28)), zeros, zeros, (28, 28), labels)
        self.image_canvas.resize(600, 800)
        self.image_canvas.grab()

    # -- actions ------------------------------------------------------------------------------------------
    def _config_changed(self):
        try:
            self.form.config()
            self.error.hide()
            ok = True
        except UserError as err:
            self.error.setText(str(err))
            self.error.show()
            ok = False
        self._dirty_config = True
        self._config_ok = ok
        self._update_buttons()

    def _ensure_prepared(self) -> bool:
        if not self._dirty_config:
            return True
        try:
            cfg = self.form.config()
        except UserError as err:
            self.error.setText(str(err))
            self.error.show()
            return False
        self._dirty_config = False
        self._prepare.emit(cfg)
        return True

    def step_epoch(self) -> None:
        """Train one epoch in the worker."""
        if self._status != "running" and self._ensure_prepared():
            self._train.emit("step")
            self._status = "running"
            self._update_buttons()

    def run(self) -> None:
        """Train to the end in the worker."""
        if self._status != "running" and self._ensure_prepared():
            self._train.emit("run")
            self._status = "running"
            self._update_buttons()

    def toggle_run(self) -> None:
        """Run when idle or paused, pause when running (the Space shortcut)."""
        self.pause() if self._status == "running" else self.run()

    def pause(self) -> None:
        """Stop after the current batch; the run can continue."""
        self.worker.request_stop()

    def stop(self) -> None:
        """Stop after the current batch and end this run."""
        self.worker.request_stop(final=True)
        self._dirty_config = True  # the next Run or Step starts afresh

    def reset(self) -> None:
        """Start a new run from the form (after stopping the current one)."""
        self.worker.request_stop()
        self._dirty_config = True
        self._seen = -1
        self._ensure_prepared()

    def shutdown(self) -> None:
        """Stop training and the thread; called when the window closes."""
        stop_worker_thread(self.timer, self.worker, self.thread)

    # -- drawing ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pull the worker's state and redraw what changed since the last call."""
        s = self.worker.snapshot()
        if s.version == self._seen:
            return
        self._seen = s.version
        now = QtCore.QTime.currentTime().msecsSinceStartOfDay()
        charts_due = s.status != "running" or now - self._charts_at >= CHART_MS or now < self._charts_at
        if charts_due:
            self._charts_at = now
            self._draw_charts(s)
        self._draw_status(s)

    def _draw_charts(self, s) -> None:
        if s.history and (
            not self._drawn.get("history")
            or len(s.history) != self._drawn["history"]
            or s.history[-1] is not self._drawn.get("last")
        ):
            self.twin.set_history(s.history)
            epochs = [h.epoch for h in s.history[1:]]
            self.lr_chart.set_series("lr", epochs, [h.lr for h in s.history[1:]], style.PALETTE[2])
            self.lr_chart.fit_y()
        elif not s.history:
            self.twin.set_history([])
            self.lr_chart.set_series("lr", [], [], style.PALETTE[2])
        self._show_panels(decision=s.points is not None, images=s.samples is not None or s.confusion is not None)
        # each panel is redrawn only when the worker produced a new object for it (once per epoch)
        if s.points is not None and s.decision is not None:
            if self._drawn.get("points") is not s.points:
                self.decision.set_data(*s.points)
            if self._drawn.get("decision") is not s.decision:
                self.decision.set_regions(*s.decision)
                self.decision_plot.setTitle(f"decision regions after epoch {s.history[-1].epoch if s.history else 0}")
        if s.confusion is not None and self._drawn.get("confusion") is not s.confusion:
            matrix, labels, per = s.confusion
            self.confusion.set_matrix(matrix, labels)
            worst = int(np.nanargmin(per)) if np.isfinite(per).any() else 0
            self.confusion_plot.setTitle(
                f"confusion matrix (rows true, columns predicted) — weakest class: {labels[worst]} {per[worst]:.0%}"
            )
        confusion_drawn_now = s.confusion is not None and self._drawn.get("confusion") is not s.confusion
        if s.samples is not None and self._drawn.get("samples") is not s.samples:
            if confusion_drawn_now and s.status == "running":
                self._seen = -1  # draw the sample grid on the next tick: one heavy panel per frame
                s = replace(s, samples=self._drawn.get("samples"))
            else:
                self.samples.set_samples(*s.samples)
        self._drawn = {
            "points": s.points,
            "decision": s.decision,
            "confusion": s.confusion,
            "samples": s.samples,
            "history": len(s.history),
            "last": s.history[-1] if s.history else None,
        }

    def _draw_status(self, s) -> None:
        done = s.history[-1].epoch if s.history else 0
        self.progress.setMaximum(max(1, s.batches))
        self.progress.setValue(min(s.batch, max(1, s.batches)))
        rate = f"{s.samples_per_s:,.0f} samples/s" if s.samples_per_s else "—"
        self.status.setText(
            f"<b>{s.status}</b> · epoch {done}/{s.epochs} · {rate} · {s.elapsed:.1f} s · {s.device or '—'}"
            + (f" · {s.path}" if s.path else "")
        )
        self.data_label.setText(s.data_summary)
        if s.status in ("error", "diverged") and s.message:
            self.error.setText(s.message if s.status == "error" else f"Diverged: {s.message}. The curves show where.")
            self.error.show()
        elif self._config_ok:
            self.error.hide()
        if s.status == "error":
            self._dirty_config = True
        changed = s.status != self._status or s.status != "running"
        self._status = s.status
        self._update_buttons()
        if changed:
            self.state_changed.emit(s.status)

    def _show_panels(self, decision: bool, images: bool) -> None:
        # the stack switches panels; hiding a plot inside a pyqtgraph layout would collapse its cell for good
        self.side.setCurrentWidget(self.decision_canvas if decision else self.image_canvas if images else self.empty)

    def _update_buttons(self) -> None:
        running = self._status in ("running", "loading")
        ended = self._status in ("finished", "diverged", "stopped")
        ok = getattr(self, "_config_ok", True)
        self.step_button.setEnabled(ok and not running and (not ended or self._dirty_config))
        self.run_button.setEnabled(ok and not running and (not ended or self._dirty_config))
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running or self._status == "paused")
        self.reset_button.setEnabled(ok)

    # -- persistence --------------------------------------------------------------------------------------
    def settings(self) -> dict:
        """Return the form's configuration as a dict (JSON-ready), or {} when it is invalid."""
        try:
            return self.form.config().to_dict()
        except UserError:
            return {}

    def apply_settings(self, data: dict) -> None:
        """Show a saved configuration; raise UserError if it is not one."""
        from engine.training.config import TrainConfig

        if data:
            self.form.set_config(TrainConfig.from_dict(data))
