"""The comparison tab's right side: overlay charts, small multiples and the summary table, fed by results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.sweep.grid import grid_curves
from engine.training.compare import curve_colour, metric, seed_curves, summary_table
from engine.training.smoothing import moving_average
from gui.charts import style
from gui.charts.chart_set import ChartSet
from gui.charts.curves import LineChart
from gui.charts.export import export_png, export_svg
from gui.charts.grid import MIN_PANEL_H, draw_cell, fill_grid, grid_table, grid_widget, y_range
from gui.views.grid_pair import GridPairChooser


class _PanelCharts(ChartSet):
    """The panels' charts; the grid ("compare_grid") is drawn afresh off-screen at full size, shown or not."""

    def __init__(self, owner: "ComparisonPanels"):
        super().__init__(owner)
        self.panels = owner
        self._grid = None  # during export_all: (grid_args, the off-screen grid), built once for PNG and SVG

    def export(self, name, path):
        """Write chart ``name`` to ``path``; the grid as the whole grid, at a readable size per cell."""
        suffix = str(path).lower().rsplit(".", 1)[-1]
        if name == "compare_grid" and suffix in ("png", "svg"):
            args = self.panels.grid_args
            if self._grid is not None and self._grid[0] is args:
                widget = self._grid[1]
            else:
                widget = grid_widget(*args)  # 24 panels take about a second to build
                self._grid = (args, widget) if self._grid is not None else None
            if suffix == "png":
                return export_png(widget.ci, path, width=int(widget.sceneRect().width()))
            return export_svg(widget.ci, path, title="Descent Lab — compare_grid")
        return super().export(name, path)

    def export_all(self, folder):
        """Write every shown chart, and the charts of the hidden tab too: the grid whenever two fields vary, the
        overlay charts whenever they hold curves (the user may be looking at the small multiples)."""
        self._grid = (None, None)  # keep the grid built for the PNG for the SVG too
        try:
            written = super().export_all(folder)
            written += self._export_hidden(folder, {p.stem for p in written})
        finally:
            self._grid = None
        return written

    def _export_hidden(self, folder, done: set[str]) -> list[Path]:
        """Write the charts that export_all skipped because their tab is hidden, when they hold data."""
        written = []
        panels = self.panels
        overlay = {
            "compare_loss": panels.loss_chart,
            "compare_accuracy": panels.acc_chart,
            "compare_lr": panels.lr_chart,
        }
        for name in self.charts:
            drawn = bool(panels.grid_cells) if name == "compare_grid" else bool(overlay[name].curves)
            if name not in done and drawn:
                for suffix in ("png", "svg", "csv"):
                    written.append(self.export(name, Path(folder) / f"{name}.{suffix}"))
        return written


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
        self.tabs.addTab(self._grid_page(), "Small multiples")
        layout.addWidget(self.tabs, 3)
        self.table = QtWidgets.QTableWidget()
        self.table.setSortingEnabled(True)
        self.table.setToolTip("Click a header to sort")
        layout.addWidget(self.table, 2)
        self.charts = _PanelCharts(self)
        self.charts.add("compare_loss", self.loss_chart.plot, self.loss_chart.table)
        self.charts.add("compare_accuracy", self.acc_chart.plot, self.acc_chart.table)
        self.charts.add("compare_lr", self.lr_chart.plot, self.lr_chart.table)
        # registered directly: the grid has no one view box for ChartSet.add's menu; each panel gets its own entries
        self.charts.charts["compare_grid"] = (self.grid_canvas.ci, lambda: grid_table(self.grid_cells))
        self.grid_canvas.scene().contextMenu = []  # pyqtgraph's own "Export..." is broken in 0.14.0

    def _grid_page(self) -> QtWidgets.QWidget:
        """The small multiples: a scrolling grid of readable panels, and one cell enlarged when clicked."""
        self.grid_plots, self.grid_charts, self.grid_cells, self.grid_args = [], {}, {}, None
        self.grid_stack = QtWidgets.QStackedWidget()
        self.grid_canvas = pg.GraphicsLayoutWidget()
        self.grid_canvas.setToolTip("Click a panel to enlarge it")
        self.grid_canvas.scene().sigMouseClicked.connect(self._grid_clicked)
        self.grid_scroll = QtWidgets.QScrollArea()
        self.grid_scroll.setWidget(self.grid_canvas)
        self.grid_scroll.setWidgetResizable(True)
        self.grid_stack.addWidget(self.grid_scroll)
        page = QtWidgets.QWidget()
        v = QtWidgets.QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        self.grid_back = QtWidgets.QPushButton("← Back to the grid")
        self.grid_back.setToolTip("Show every panel again (Esc)")
        self.grid_back.setShortcut(QtGui.QKeySequence("Esc"))
        self.grid_back.clicked.connect(lambda: self.grid_stack.setCurrentIndex(0))
        self.enlarged_canvas = pg.GraphicsLayoutWidget()
        self.enlarged_chart = None
        v.addWidget(self.grid_back, 0, QtCore.Qt.AlignmentFlag.AlignLeft)
        v.addWidget(self.enlarged_canvas, 1)
        self.grid_stack.addWidget(page)
        self.grid_pair = GridPairChooser()  # which two fields the grid shows, when more than two vary
        self.grid_pair.changed.connect(lambda: self._draw_grid(*self._grid_inputs))
        holder = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.grid_pair)
        column.addWidget(self.grid_stack, 1)
        return holder

    def enlarge(self, key: tuple[str, str]) -> None:
        """Show cell ``key`` (row, column) alone, big, with its legend; the Back button returns to the grid."""
        self.enlarged_canvas.clear()
        lo, hi = y_range(self.grid_cells)
        self.enlarged_chart = draw_cell(
            self.enlarged_canvas.addPlot(),
            *key,
            self.grid_cells.get(key, []),
            self.grid_args[4],
            legend=True,
            width=2.0,
        )
        self.enlarged_chart.plot.setYRange(lo, hi, padding=0)  # the grid's scale, so cells still compare
        self._add_grid_menu(self.enlarged_chart.plot)
        self.grid_stack.setCurrentIndex(1)

    def _grid_clicked(self, ev) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        for key, chart in self.grid_charts.items():
            if chart.plot.sceneBoundingRect().contains(ev.scenePos()):
                self.enlarge(key)
                return

    def _add_grid_menu(self, plot) -> None:
        """Put the grid's Export entries in a panel's right-click menu (panels are made afresh at each redraw)."""
        plot.vb.menu.addSeparator()
        for label, suffix in (("PNG", "png"), ("SVG", "svg"), ("CSV", "csv")):
            text = f"Export grid{' data' if suffix == 'csv' else ''} as {label}…"
            plot.vb.menu.addAction(text, lambda s=suffix: self.charts.ask_and_export("compare_grid", s))

    def draw(self, results, varied: list[str], curves, smoothing: int, target: float, heavy=True) -> None:
        """Redraw the overlay charts and, when ``heavy``, the small multiples and the summary table.

        ``curves`` is "test", "train" or "both" (True means "test", False "train", as before). Without a test
        set every choice draws the training curves. "both" draws each configuration's training curve solid
        and its test curve dashed, in the configuration's colour, with legend entries "… · train" / "… · test".
        """
        for chart in (self.loss_chart, self.acc_chart, self.lr_chart):
            chart.clear()
        if not results:
            self.table.setRowCount(0)
            return
        which = curves if isinstance(curves, str) else ("test" if curves else "train")
        if results[0].history[0].test_loss is None:
            which = "train"
        parts = ["train", "test"] if which == "both" else [which]
        words = "train and test" if which == "both" else which
        fields = " · ".join(varied)
        self.loss_chart.plot.setTitle(f"{words} loss — {fields}" if fields else f"{words} loss")
        self.acc_chart.plot.setTitle(f"{words} accuracy")
        charts = [(self.loss_chart, f"{p}_loss", p) for p in parts] + [(self.acc_chart, f"{p}_acc", p) for p in parts]
        for chart, key, part in [*charts, (self.lr_chart, "lr", None)]:
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
                if which == "both" and part is not None:
                    label, dashed = f"{label} · {part}", part == "test"  # the line style tells train from test
                colour = own or style.colour(k)
                chart.set_series(label, c.epochs[first:], c.mean[first:], colour, dashed=dashed, band=band)
        self.lr_chart.fit_y()
        if heavy:
            self._draw_grid(results, varied, f"{'train' if which == 'train' else 'test'}_loss", smoothing)
            self._fill_table(results, varied, target)

    def _draw_grid(self, results, varied, key, smoothing) -> None:
        self.grid_canvas.clear()
        self.grid_plots, self.grid_charts, self.grid_cells = [], {}, {}
        self.grid_stack.setCurrentIndex(0)
        self._grid_inputs = (results, varied, key, smoothing)
        if len(varied) < 2:
            self.grid_pair.hide()
            self.grid_canvas.setMinimumSize(0, 0)
            self.grid_canvas.addLabel("Small multiples appear when two fields vary (rows × columns).")
            return
        pair = self.grid_pair.pair(varied)
        smooth = lambda r: moving_average(metric(r.history, key), smoothing)  # noqa: E731
        curves, rows, cols = grid_curves(results, varied, pair, key, smooth)
        for cell, items in curves.items():  # beyond two fields, the others are curves within each panel
            self.grid_cells[cell] = [
                {"name": name, "x": c.epochs, "y": c.mean, "colour": curve_colour(c.runs[0].label, varied)
                 or style.colour(k), "band": (c.low, c.high) if c.low is not None else None}
                for k, name, c in items
            ]  # fmt: skip
        which = key.replace("_", " ")
        self.grid_args = (self.grid_cells, rows, cols, f"{which}: {pair[0]} (rows) × {pair[1]} (columns)", "loss")
        # panels keep a readable size: the scroll area scrolls rather than squeezing them
        self.grid_canvas.setMinimumSize(200 * len(cols), MIN_PANEL_H * len(rows))
        self.grid_charts = fill_grid(self.grid_canvas.ci, self.grid_cells, rows, cols, "loss", grid=False)
        for chart in self.grid_charts.values():
            self.grid_plots.append(chart.plot)
            self._add_grid_menu(chart.plot)

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
