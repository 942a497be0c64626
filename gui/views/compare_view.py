"""The comparison view: a base configuration, what varies, runs in the background, charts and a summary."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.training.compare import (
    Comparison,
    metric,
    parse_seeds,
    parse_vary,
    run_comparison,
    seed_curves,
    summary_table,
)
from gui.charts import style
from gui.charts.chart_set import ChartSet
from gui.charts.curves import LineChart
from gui.views.threads import stop_worker_thread

OVERLAY_EVERY_S = 0.3  # while a comparison runs: overlay charts redraw at most this often
HEAVY_EVERY_S = 1.0  # ... and the small multiples and summary table at most this often
FIELDS = ["momentum", "lr", "optimizer", "scheduler", "batch_size", "activation", "init", "dropout", "l2", "loss"]
PRESETS = {
    "Momentum 0 / 0.1 / 0.2 / 0.4 / 0.5 on the spiral (the seeds' lab)": {
        "base": {
            "dataset": "spiral",
            "layers": (2, 50, 3),
            "optimizer": "sgd",
            "optimizer_params": {"lr": 0.1},
            "epochs": 100,
            "batch_size": 20,
        },
        "vary": [("momentum", "0,0.1,0.2,0.4,0.5")],
    },
    "Five learning-rate schedulers (spiral)": {
        "base": {
            "dataset": "spiral",
            "layers": (2, 50, 3),
            "optimizer": "momentum",
            "optimizer_params": {"lr": 0.05},
            "epochs": 60,
            "batch_size": 20,
        },
        "vary": [("scheduler", "step,exponential,cyclic,onecycle,cosine-restarts")],
    },
    "SGD vs Adam vs Adagrad on MNIST": {
        "base": {
            "dataset": "mnist",
            "layers": (784, 40, 40, 40, 10),
            "optimizer": "adam",
            "optimizer_params": {"lr": 0.001},
            "epochs": 10,
            "batch_size": 50,
        },
        "vary": [("optimizer", "sgd,adam,adagrad")],
    },
    "Optimizer × learning rate grid (iris)": {
        "base": {
            "dataset": "iris",
            "layers": (4, 16, 3),
            "optimizer": "sgd",
            "optimizer_params": {"lr": 0.1},
            "epochs": 40,
            "batch_size": 16,
        },
        "vary": [("optimizer", "sgd,adagrad,rmsprop,adam,adamax,nadam"), ("lr", "0.1,0.01,0.001")],
    },
}


class CompareWorker(QtCore.QObject):
    """Runs a comparison in its thread; results are collected under a lock and pulled by the view."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.finals = []  # finished runs, in the order they ended
        self.partial: dict = {}  # run index -> result so far, while its group trains
        self.version = 0
        self.progress = (0, 1)
        self.status = "idle"
        self.message = ""
        self._stop = False

    @QtCore.Slot(object)
    def run(self, comparison: Comparison) -> None:
        """Train every run of ``comparison``, publishing each result as its group ends."""
        import torch

        torch.set_num_threads(1)
        self._stop = False
        with self.lock:
            self.finals, self.partial, self.status, self.message, self.progress = [], {}, "running", "", (0, 1)
            self.version += 1
        thread = QtCore.QThread.currentThread()

        def on_result(r):
            with self.lock:
                self.finals.append(r)
                self.version += 1

        def on_partial(items):
            with self.lock:
                self.partial.update(items)
                self.version += 1

        def on_progress(done, total):
            with self.lock:
                self.progress = (done, total)

        try:
            run_comparison(
                comparison,
                on_result,
                on_progress,
                lambda: self._stop or thread.isInterruptionRequested(),
                on_partial=on_partial,
            )
            status = "stopped" if self._stop else "finished"
            message = ""
        except UserError as err:
            status, message = "error", str(err)
        except Exception as err:  # noqa: BLE001 — shown in the window
            status, message = "error", f"{type(err).__name__}: {err}"
        with self.lock:
            self.status, self.message = status, message

    def request_stop(self) -> None:
        """Stop between batches."""
        self._stop = True

    def snapshot(self):
        """Return (results so far in run order — finished or still training, (done, total), status, message,
        version)."""
        with self.lock:
            return (
                [self.partial[i] for i in sorted(self.partial)],
                self.progress,
                self.status,
                self.message,
                self.version,
            )

    @property
    def results(self):
        """The finished runs (for callers that only want those)."""
        with self.lock:
            return list(self.finals)


class CompareView(QtWidgets.QWidget):
    """Controls on the left; overlay charts, small multiples and the summary table on the right."""

    _run = QtCore.Signal(object)
    finished = QtCore.Signal(str)

    def __init__(self, base_provider, parent=None):
        super().__init__(parent)
        style.configure()
        self.base_provider = base_provider  # returns the training panel's TrainConfig (or raises UserError)
        self.results = []
        self._build()
        self.thread = QtCore.QThread(self)
        self.worker = CompareWorker()
        self.worker.moveToThread(self.thread)
        self._run.connect(self.worker.run)
        self.thread.start()
        self._shown = -1
        self._planned = 0
        self._redrawn_at = self._heavy_at = 0.0
        self._last_status = "idle"
        self.timer = QtCore.QTimer(self, interval=100)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def _build(self) -> None:
        outer = QtWidgets.QHBoxLayout(self)
        panel = QtWidgets.QWidget()
        form = QtWidgets.QVBoxLayout(panel)
        panel.setMaximumWidth(360)
        box = QtWidgets.QGroupBox("What varies")
        f = QtWidgets.QFormLayout(box)
        self.preset = QtWidgets.QComboBox()
        self.preset.addItem("Presets…")
        self.preset.addItems(list(PRESETS))
        self.preset.setToolTip("Reproduce a seed notebook's comparison (sets the training panel's base too)")
        self.field1, self.values1 = QtWidgets.QComboBox(), QtWidgets.QLineEdit("0,0.1,0.2,0.4,0.5")
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
        self.target.setValue(0.9)
        self.target.setSingleStep(0.05)
        self.target.setToolTip("The summary reports the first epoch each run reaches this accuracy")
        f.addRow(self.preset)
        f.addRow("field", self.field1)
        f.addRow("values", self.values1)
        f.addRow("and field", self.field2)
        f.addRow("values", self.values2)
        f.addRow("seeds", self.seeds)
        f.addRow("target accuracy", self.target)
        form.addWidget(box)
        note = QtWidgets.QLabel(
            "Everything else comes from the Training tab. Runs with the same seed start from "
            "identical weights and see the same batches."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        form.addWidget(note)
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
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00000;")
        self.error.hide()
        form.addWidget(self.error)
        box = QtWidgets.QGroupBox("Display")
        f = QtWidgets.QFormLayout(box)
        self.metric_set = QtWidgets.QComboBox()
        self.metric_set.addItems(["test (where held out)", "train"])
        self.smoothing = QtWidgets.QSpinBox()
        self.smoothing.setRange(1, 50)
        self.smoothing.setToolTip("Moving-average window in epochs (1 = raw)")
        self.metric_set.setToolTip(
            "Curves and summary from the held-out test set (when there is one) or the training set"
        )
        self.log_loss = QtWidgets.QCheckBox("log-scale loss")
        self.log_loss.setToolTip("Logarithmic loss axis: separates runs whose losses differ by orders of magnitude")
        f.addRow("curves", self.metric_set)
        f.addRow("smoothing", self.smoothing)
        f.addRow("", self.log_loss)
        form.addWidget(box)
        form.addStretch(1)
        outer.addWidget(panel)

        right = QtWidgets.QVBoxLayout()
        self.tabs = QtWidgets.QTabWidget()
        self.canvas = pg.GraphicsLayoutWidget()
        self.loss_chart = LineChart(self.canvas.addPlot(row=0, col=0), "loss", "epoch", "loss")
        self.loss_chart.legend.setLabelTextSize("8pt")
        # one legend (on the loss chart) serves all three: same colours, and three legends would hide the curves
        self.acc_chart = LineChart(self.canvas.addPlot(row=0, col=1), "accuracy", "epoch", "accuracy", legend=False)
        self.lr_chart = LineChart(self.canvas.addPlot(row=0, col=2), "learning rate", "epoch", "lr", legend=False)
        self.tabs.addTab(self.canvas, "Overlay")
        self.grid_canvas = pg.GraphicsLayoutWidget()
        self.tabs.addTab(self.grid_canvas, "Small multiples")
        right.addWidget(self.tabs, 3)
        self.table = QtWidgets.QTableWidget()
        self.table.setSortingEnabled(True)
        self.table.setToolTip("Click a header to sort")
        right.addWidget(self.table, 2)
        outer.addLayout(right, 1)

        self.charts = ChartSet(self)
        self.charts.add("compare_loss", self.loss_chart.plot, self.loss_chart.table)
        self.charts.add("compare_accuracy", self.acc_chart.plot, self.acc_chart.table)
        self.charts.add("compare_lr", self.lr_chart.plot, self.lr_chart.table)
        self.grid_plots = []

        self.run_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.worker_stop)
        self.preset.activated.connect(self._preset)
        self.metric_set.currentIndexChanged.connect(lambda _i: self.redraw())
        self.smoothing.valueChanged.connect(lambda _v: self.redraw())
        self.log_loss.toggled.connect(lambda on: (self.loss_chart.set_log_y(on), self.redraw()))

    # -- actions ------------------------------------------------------------------------------------------
    def comparison(self) -> Comparison:
        """Return the Comparison the controls describe (validated), or raise UserError."""
        base = self.base_provider()
        vary = [parse_vary(f"{self.field1.currentText()}={self.values1.text()}")]
        if self.field2.currentText() != "(none)":
            if self.field2.currentText() == self.field1.currentText():
                raise UserError("the two varied fields must differ")
            vary.append(parse_vary(f"{self.field2.currentText()}={self.values2.text()}"))
        seeds = parse_seeds(self.seeds.text()) if self.seeds.text().strip() else []
        comparison = Comparison(base, vary, seeds)
        comparison.runs()
        return comparison

    def start(self) -> None:
        """Validate and start the comparison in the background."""
        try:
            comparison = self.comparison()
        except UserError as err:
            self.error.setText(str(err))
            self.error.show()
            return
        self.error.hide()
        self.varied = [n for n, _ in comparison.vary]
        self._planned = len(comparison.runs())
        self.results = []
        self._shown = -1
        with self.worker.lock:
            self.worker.status = "running"
            self.worker.finals, self.worker.partial = [], {}
        self._last_status = "running"  # a short comparison may end before the next refresh sees it running
        self._run.emit(comparison)
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)

    def worker_stop(self) -> None:
        """Stop the comparison between batches."""
        self.worker.request_stop()

    def _preset(self, index: int) -> None:
        if index <= 0:
            return
        p = PRESETS[self.preset.itemText(index)]
        self.apply_preset_base(p["base"])
        (f1, v1), *rest = p["vary"]
        self.field1.setCurrentText(f1)
        self.values1.setText(v1)
        if rest:
            self.field2.setCurrentText(rest[0][0])
            self.values2.setText(rest[0][1])
        else:
            self.field2.setCurrentText("(none)")
            self.values2.setText("")
        self.preset.setCurrentIndex(0)

    def apply_preset_base(self, base: dict) -> None:
        """Overridden by the window: put a preset's base configuration into the training panel."""

    def shutdown(self) -> None:
        """Stop the worker thread; called when the window closes."""
        stop_worker_thread(self.timer, self.worker, self.thread)

    # -- drawing ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pull new results and progress from the worker."""
        results, (done, total), status, message, version = self.worker.snapshot()
        self.progress.setMaximum(max(1, total))
        self.progress.setValue(done)
        self.progress.setFormat(
            f"%v / %m epochs · {sum(1 for r in results if len(r.history) > r.config.epochs or r.diverged_at)}"
            f" of {self._planned} runs done"
        )
        now = time.monotonic()
        running = status == "running"
        if version != self._shown and (not running or now - self._redrawn_at >= OVERLAY_EVERY_S):
            self.results = results
            self._shown = version
            self._redrawn_at = now
            # while runs train, the overlay grows live; the grid and table (slower to rebuild) follow each second
            heavy = not running or now - self._heavy_at >= HEAVY_EVERY_S
            if heavy:
                self._heavy_at = now
            self.redraw(heavy)
        if status != "running" and self._last_status == "running":
            self.run_button.setEnabled(True)
            self.stop_button.setEnabled(False)
            if status == "error":
                self.error.setText(message)
                self.error.show()
            self.finished.emit(status)
        self._last_status = status

    def _series(self, r, name):
        ys = np.array(metric(r.history, name), dtype=float)
        k = self.smoothing.value()
        if k > 1 and len(ys) >= k:
            kernel = np.ones(k) / k
            smooth = np.convolve(np.nan_to_num(ys, nan=np.nan), kernel, mode="valid")
            ys = np.concatenate([ys[: k - 1], smooth])
        return ys

    def redraw(self, heavy: bool = True) -> None:
        """Redraw the overlay charts and, when ``heavy``, the small multiples and the summary table."""
        results = self.results
        for chart in (self.loss_chart, self.acc_chart, self.lr_chart):
            chart.clear()
        if not results:
            self.table.setRowCount(0)
            return
        use_test = self.metric_set.currentIndex() == 0 and results[0].history[0].test_loss is not None
        lkey, akey = ("test_loss", "test_acc") if use_test else ("train_loss", "train_acc")
        self.loss_chart.plot.setTitle(f"{'test' if use_test else 'train'} loss")
        self.acc_chart.plot.setTitle(f"{'test' if use_test else 'train'} accuracy")
        fields = " · ".join(getattr(self, "varied", []))
        self.loss_chart.plot.setTitle(f"{'test' if use_test else 'train'} loss — {fields}" if fields else "loss")
        for chart, key in ((self.loss_chart, lkey), (self.acc_chart, akey), (self.lr_chart, "lr")):
            for k, c in enumerate(seed_curves(results, key, lambda r, key=key: self._series(r, key))):
                if not np.isfinite(c.mean).any():
                    continue
                first = 1 if key == "lr" else 0  # epoch 0 has had no step, so no rate
                band = (c.low[first:], c.high[first:]) if c.low is not None else None
                label = " · ".join(str(v) for v in c.runs[0].label.values()) or c.name  # field names are in the title
                label += " (diverged)" if any(r.diverged_at for r in c.runs) else ""
                dashed = k >= len(style.PALETTE)  # past the palette, colours repeat: dash the second round
                chart.set_series(label, c.epochs[first:], c.mean[first:], style.colour(k), dashed=dashed, band=band)
        self.lr_chart.fit_y()
        if heavy:
            self._draw_grid(lkey)
            self._fill_table()

    def _draw_grid(self, key) -> None:
        self.grid_canvas.clear()
        self.grid_plots = []
        if len(getattr(self, "varied", [])) != 2:
            self.grid_canvas.addLabel("Small multiples appear when two fields vary (rows × columns).")
            return
        f1, f2 = self.varied
        rows = list(dict.fromkeys(r.label[f1] for r in self.results))
        cols = list(dict.fromkeys(r.label[f2] for r in self.results))
        values = np.concatenate([self._series(r, key) for r in self.results])
        values = values[np.isfinite(values)]
        lo, hi = (values.min(), values.max()) if values.size else (0, 1)
        for i, rv in enumerate(rows):
            for j, cv in enumerate(cols):
                plot = self.grid_canvas.addPlot(row=i, col=j, title=f"{f1}={rv} · {f2}={cv}")
                plot.setYRange(lo, hi)
                for r in self.results:
                    if r.label[f1] == rv and r.label[f2] == cv:
                        plot.plot(
                            [h.epoch for h in r.history],
                            self._series(r, key),
                            pen=pg.mkPen(style.colour(0), width=1.5),
                            connect="finite",
                        )
                self.grid_plots.append(plot)

    def _fill_table(self) -> None:
        varied = getattr(self, "varied", [])
        header, rows = summary_table(self.results, varied, self.target.value())
        show = [h for h in header if not h.endswith("_std") or "acc" in h or "loss" in h]
        idx = [header.index(h) for h in show]
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(show))
        self.table.setHorizontalHeaderLabels([h.replace("_", " ") for h in show])
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, k in enumerate(idx):
                v = row[k]
                item = QtWidgets.QTableWidgetItem()
                if isinstance(v, float):
                    item.setData(QtCore.Qt.ItemDataRole.DisplayRole, round(v, 5))
                elif v is None:
                    item.setData(QtCore.Qt.ItemDataRole.DisplayRole, "")
                else:
                    item.setData(QtCore.Qt.ItemDataRole.DisplayRole, v if isinstance(v, int) else str(v))
                self.table.setItem(i, j, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()

    def summary_rows(self) -> tuple[list[str], list[list]]:
        """Return the summary table for CSV export."""
        return summary_table(self.results, getattr(self, "varied", []), self.target.value())

    def settings(self) -> dict:
        """Return the view's controls as a dict (JSON-ready)."""
        return {
            "field1": self.field1.currentText(),
            "values1": self.values1.text(),
            "field2": self.field2.currentText(),
            "values2": self.values2.text(),
            "seeds": self.seeds.text(),
            "target": self.target.value(),
        }

    def apply_settings(self, s: dict) -> None:
        """Restore settings() output."""
        self.field1.setCurrentText(s.get("field1", "momentum"))
        self.values1.setText(s.get("values1", ""))
        self.field2.setCurrentText(s.get("field2", "(none)"))
        self.values2.setText(s.get("values2", ""))
        self.seeds.setText(s.get("seeds", ""))
        self.target.setValue(float(s.get("target", 0.9)))
