"""The comparison tab's right side: overlay charts, small multiples and the summary table, fed by results."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.training.compare import curve_colour, metric, seed_curves, summary_table
from engine.training.smoothing import moving_average
from gui.charts import style
from gui.charts.chart_set import ChartSet
from gui.charts.curves import LineChart


class ComparisonPanels(QtWidgets.QWidget):
    """Charts created once and redrawn from a list of RunResults."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
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
        layout.addWidget(self.tabs, 3)
        self.table = QtWidgets.QTableWidget()
        self.table.setSortingEnabled(True)
        self.table.setToolTip("Click a header to sort")
        layout.addWidget(self.table, 2)
        self.charts = ChartSet(self)
        self.charts.add("compare_loss", self.loss_chart.plot, self.loss_chart.table)
        self.charts.add("compare_accuracy", self.acc_chart.plot, self.acc_chart.table)
        self.charts.add("compare_lr", self.lr_chart.plot, self.lr_chart.table)
        self.grid_plots = []

    def draw(self, results, varied: list[str], use_test: bool, smoothing: int, target: float, heavy=True) -> None:
        """Redraw the overlay charts and, when ``heavy``, the small multiples and the summary table."""
        for chart in (self.loss_chart, self.acc_chart, self.lr_chart):
            chart.clear()
        if not results:
            self.table.setRowCount(0)
            return
        use_test = use_test and results[0].history[0].test_loss is not None
        which = "test" if use_test else "train"
        lkey, akey = (f"{which}_loss", f"{which}_acc")
        fields = " · ".join(varied)
        self.loss_chart.plot.setTitle(f"{which} loss — {fields}" if fields else f"{which} loss")
        self.acc_chart.plot.setTitle(f"{which} accuracy")
        for chart, key in ((self.loss_chart, lkey), (self.acc_chart, akey), (self.lr_chart, "lr")):
            series = lambda r, key=key: moving_average(metric(r.history, key), smoothing)  # noqa: E731
            for k, c in enumerate(seed_curves(results, key, series)):
                if not np.isfinite(c.mean).any():
                    continue
                first = 1 if key == "lr" else 0  # epoch 0 has had no step, so no rate
                band = (c.low[first:], c.high[first:]) if c.low is not None else None
                label = " · ".join(str(v) for v in c.runs[0].label.values()) or c.name  # field names are in the title
                label += " (diverged)" if any(r.diverged_at is not None for r in c.runs) else ""
                own = curve_colour(c.runs[0].label, varied)
                dashed = own is None and k >= len(style.PALETTE)  # past the palette, colours repeat: dash them
                colour = own or style.colour(k)
                chart.set_series(label, c.epochs[first:], c.mean[first:], colour, dashed=dashed, band=band)
        self.lr_chart.fit_y()
        if heavy:
            self._draw_grid(results, varied, lkey, smoothing)
            self._fill_table(results, varied, target)

    def _draw_grid(self, results, varied, key, smoothing) -> None:
        self.grid_canvas.clear()
        self.grid_plots = []
        if len(varied) != 2:
            self.grid_canvas.addLabel("Small multiples appear when two fields vary (rows × columns).")
            return
        f1, f2 = varied
        rows = list(dict.fromkeys(r.label[f1] for r in results))
        cols = list(dict.fromkeys(r.label[f2] for r in results))
        curves = {id(r): moving_average(metric(r.history, key), smoothing) for r in results}
        values = np.concatenate(list(curves.values()))
        values = values[np.isfinite(values)]
        lo, hi = (values.min(), values.max()) if values.size else (0, 1)
        for i, rv in enumerate(rows):
            for j, cv in enumerate(cols):
                plot = self.grid_canvas.addPlot(row=i, col=j, title=f"{f1}={rv} · {f2}={cv}")
                plot.setYRange(lo, hi)
                for r in results:
                    if r.label[f1] == rv and r.label[f2] == cv:
                        pen = pg.mkPen(style.colour(0), width=1.5)
                        plot.plot([h.epoch for h in r.history], curves[id(r)], pen=pen, connect="finite")
                self.grid_plots.append(plot)

    def _fill_table(self, results, varied, target) -> None:
        header, rows = summary_table(results, varied, target)
        show = [h for h in header if not h.endswith("_std") or "acc" in h or "loss" in h]
        idx = [header.index(h) for h in show]
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(show))
        self.table.setHorizontalHeaderLabels([h.replace("_", " ") for h in show])
        self.table.setRowCount(len(rows))
        role = QtCore.Qt.ItemDataRole.DisplayRole
        for i, row in enumerate(rows):
            for j, k in enumerate(idx):
                v = row[k]
                item = QtWidgets.QTableWidgetItem()
                if isinstance(v, float):
                    item.setData(role, round(v, 5))
                elif v is None:
                    item.setData(role, "")
                else:
                    item.setData(role, v if isinstance(v, int) else str(v))
                self.table.setItem(i, j, item)
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
