"""The training tab's right side: status line, loss/accuracy and learning-rate charts, and the side panel
(decision regions for 2-D data, a confusion matrix for other class data, test images under it for image data).
Fed only by snapshots."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from gui.charts import style
from gui.charts.chart_set import ChartSet
from gui.charts.curves import LineChart, TwinChart
from gui.charts.images import ConfusionMatrix, DecisionMap, ImageGrid


class TrainingPanels(QtWidgets.QWidget):
    """Chart items created once; ``draw(snapshot)`` updates only what changed since the last call."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        status = QtWidgets.QHBoxLayout()
        self.status_label = QtWidgets.QLabel("idle")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setFormat("batch %v / %m")
        self.progress.setToolTip("Progress within the current epoch")
        self.log_loss = QtWidgets.QCheckBox("log-scale loss")
        self.log_loss.setToolTip("Logarithmic loss axis (accuracy stays linear); losses of 0 or less are left out")
        status.addWidget(self.status_label, 1)
        status.addWidget(self.log_loss)
        status.addWidget(self.progress)
        layout.addLayout(status)
        self.data_label = QtWidgets.QLabel()
        self.data_label.setStyleSheet("color: #555;")
        layout.addWidget(self.data_label)

        charts = QtWidgets.QSplitter()
        self.canvas = pg.GraphicsLayoutWidget()
        self.twin = TwinChart(self.canvas.addPlot(row=0, col=0))
        self.lr_chart = LineChart(self.canvas.addPlot(row=1, col=0), "learning rate", "epoch", "lr", legend=False)
        self.lr_chart.set_series("lr", [], [], style.PALETTE[2])  # made up front, not in a run's first epoch
        self.lr_chart.plot.setXLink(self.twin.plot)  # one epoch axis for both: the stacked charts line up
        self.lr_chart.plot.showAxis("right")
        self.lr_chart.plot.getAxis("right").setStyle(showValues=False)
        for plot in (self.twin.plot, self.lr_chart.plot):  # equal axis widths: equal data areas, one above the other
            plot.getAxis("left").setWidth(70)
            plot.getAxis("right").setWidth(60)
        self.log_loss.toggled.connect(self.twin.set_log_loss)
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
            "Decision regions appear for 2-D class data; a confusion matrix for other class data (test images too"
            " for image sets)."
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
        layout.addWidget(charts, 1)

        self.charts = ChartSet(self)
        self.charts.add("loss_accuracy", self.twin.plot, self.twin.table)
        self.charts.add("learning_rate", self.lr_chart.plot, self.lr_chart.table)
        self.charts.add("decision_regions", self.decision_plot, self.decision.table)
        self.charts.add("confusion_matrix", self.confusion_plot, self.confusion.table)
        self.charts.add("test_images", self.samples_plot, self.samples.table)
        self._drawn: dict = {}
        self._show_side(None)
        self._warm_up_image_panels()

    def _warm_up_image_panels(self) -> None:
        """Draw the image panels once with placeholders: their first layout and paint (fonts, 136 labels)
        take ~90 ms, which would otherwise stall the window in the middle of the first epoch."""
        labels = [str(k) for k in range(10)]
        self.confusion.set_matrix(np.zeros((10, 10), dtype=int), labels)
        zeros = np.zeros(36, dtype=int)
        self.samples.set_samples(np.zeros((36, 28 * 28)), zeros, zeros, (28, 28), labels)
        self.image_canvas.resize(600, 800)
        self.image_canvas.grab()

    def clear(self, side: str | None = None, classes: int | None = None, epochs: int | None = None) -> None:
        """Forget the drawn run (a new one starts); returns nothing.

        ``side``: the side panel the new run will draw (engine.training.visuals.visuals_kind), shown empty at
        once, so that its layout and first paint happen while the data load rather than in the middle of the
        first epoch (a page switch re-lays out and repaints the whole panel: ~50 ms for the image page).
        ``classes``: its class count when known (the decision map's point items are made now, not mid-epoch);
        ``epochs``: the run's planned epochs when known (the epoch axis is laid out now, see show_epochs).
        """
        self._drawn = {}
        self.draw_history([])
        self.twin.set_diverged(None)
        for chart in (self.decision, self.confusion, self.samples):
            chart.blank()
        if side == "decision" and classes:
            self.decision.prepare(int(classes))
        if epochs:
            self.show_epochs(int(epochs))
        self.decision_plot.setTitle("decision regions")
        self.confusion.set_title("confusion matrix")
        self._show_kind(side)

    def paint_now(self) -> None:
        """Lay out and paint the charts and the side panel now, if they are shown; returns nothing.

        The window calls this before a run's job starts: a cleared panel's layout and first paint (~25 ms of
        pyqtgraph's Python: axes, legend, the side panel's page) then happen while nothing trains, instead of
        in the run's first epochs under the GIL the training thread needs.
        """
        if not self.isVisible():
            return
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.LayoutRequest)
        for view in (self.canvas, self.side.currentWidget()):
            if isinstance(view, pg.GraphicsView):
                view.scene().prepareForPaint()
                view.viewport().repaint()

    def draw_history(self, history) -> None:
        """Draw loss, accuracy and learning-rate curves of these EpochRecords (only new records are converted
        when ``history`` extends the one drawn last); returns nothing."""
        self.twin.set_history(history)
        columns = self.twin.columns
        self.lr_chart.set_series("lr", columns.column("epoch")[1:], columns.column("lr")[1:], style.PALETTE[2])
        if history:
            self.lr_chart.fit_y()

    def draw(self, s) -> bool:
        """Redraw from a TrainingSnapshot: curves when new epochs arrived, panels when new visuals did.

        Returns whether anything was drawn (nothing when the snapshot brings no new record or visuals).
        """
        curves = self.draw_curves(s)
        return self.draw_visuals(s.visuals) or curves

    def draw_curves(self, s) -> bool:
        """Redraw the curves from a TrainingSnapshot when it brings new records; return whether it did."""
        if s.records == self._drawn.get("records"):
            return False
        self.draw_history(s.history[: s.records])
        if s.records and s.epochs != self._drawn.get("epochs"):
            self.show_epochs(s.epochs)
        self.twin.set_diverged(s.diverged_at)
        self._drawn["records"] = s.records
        return True

    def visuals_new(self, v) -> bool:
        """Return whether ``v`` (Visuals or None) differs from the side panel drawn last."""
        return v is not self._drawn.get("visuals")

    def show_epochs(self, epochs: int) -> None:
        """Give the epoch axis the run's planned epochs, 0…``epochs``; returns nothing.

        The curves then grow across a fixed axis, and the axes are not re-laid out at every redraw while a
        run trains (each axis repaint is ~1.5 ms of Python under the GIL the training thread needs). A new run
        (clear) goes back to auto-range; a zoom by the user is kept until then.
        """
        self._drawn["epochs"] = epochs
        self.lr_chart.plot.enableAutoRange(x=False)  # linked: its own auto-range would move the shared axis
        self.twin.plot.setXRange(0, max(1, int(epochs)), padding=0.02)

    def draw_visuals(self, v) -> bool:
        """Redraw the side panel from Visuals (decision regions, or confusion matrix and test images); return
        whether they were new (the same Visuals object is not drawn twice)."""
        self._show_side(v)
        fresh = v is not None and v is not self._drawn.get("visuals")
        if fresh:
            if v.points is not None and self._drawn.get("points") is not v.points:
                self.decision.set_data(*v.points)
            if v.points is not None and v.decision is not None:
                self.decision.set_regions(*v.decision)
                self.decision_plot.setTitle(f"decision regions after epoch {v.epoch}")
            if v.confusion is not None:
                matrix, labels, per = v.confusion
                self.confusion.set_matrix(matrix, labels)
                worst = int(np.nanargmin(per)) if np.isfinite(per).any() else 0
                self.confusion.set_title(f"confusion matrix — weakest class {labels[worst]}: {per[worst]:.0%}")
            if v.samples is not None:
                self.samples.set_samples(*v.samples)
        self._drawn.update(visuals=v, points=v.points if v is not None else None)
        return fresh

    def draw_status(self, s, status: str) -> None:
        """Show the status line: state, epoch, speed, time, device and training path."""
        done = s.history[s.records - 1].epoch if s.records else 0
        self.progress.setMaximum(max(1, s.batches))
        # between epochs the counter reads 0; a finished epoch is a full bar, not "batch 0 / n"
        batch = s.batches if s.batch == 0 and done > 0 else s.batch
        self.progress.setValue(min(batch, max(1, s.batches)))
        rate = f"{s.samples_per_s:,.0f} samples/s" if s.samples_per_s else "—"
        self.status_label.setText(
            f"<b>{status}</b> · epoch {done}/{s.epochs} · {rate} · {s.elapsed:.1f} s · {s.device or '—'}"
            + (f" · {s.path}" if s.path else "")
        )
        self.data_label.setText(s.data_summary)

    def draw_restored(self, result, status: str) -> None:
        """Show a run restored from an experiment file: its curves, and a status line that says so."""
        records = result.records()
        self.draw_history(records)
        self.twin.set_diverged(result.diverged_at)
        last = records[-1].epoch if records else 0
        epochs = result.config.get("epochs", last)
        self.status_label.setText(
            f"<b>{status}</b> · epoch {last}/{epochs} · restored from the experiment file (not retrained)"
            + (f" · {result.path}" if result.path else "")
        )
        self.progress.setMaximum(1)
        self.progress.setValue(1 if last else 0)
        self.data_label.setText(result.data_summary)

    def _show_side(self, visuals) -> None:
        if visuals is not None and visuals.points is not None:
            self._show_kind("decision")
        elif visuals is not None and (visuals.samples is not None or visuals.confusion is not None):
            self._show_kind("images" if visuals.samples is not None else "confusion")
        else:
            self._show_kind(None)

    def _show_kind(self, kind: str | None) -> None:
        # the stack switches panels; hiding a plot inside a pyqtgraph layout would collapse its cell for good
        if kind == "decision":
            self.side.setCurrentWidget(self.decision_canvas)
        elif kind in ("images", "confusion"):
            self._show_samples(kind == "images")
            self.side.setCurrentWidget(self.image_canvas)
        else:
            self.side.setCurrentWidget(self.empty)

    def _show_samples(self, on: bool) -> None:
        """Show the test-image grid under the confusion matrix (image data) or give the matrix its row too."""
        if self.samples_plot.isVisible() == on:
            return
        # the row keeps its cell (a removed plot's cell would not come back); only its height goes to zero
        self.samples_plot.setVisible(on)
        self.image_canvas.ci.layout.setRowMaximumHeight(1, 1e6 if on else 0)
