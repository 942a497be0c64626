"""The comparison tab's right side: overlay charts, small multiples and the summary table, fed by results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from engine.sweep.executors import finished
from engine.sweep.grid import grid_curves
from engine.training.compare import curve_colour, metric, seed_curves, summary_table
from engine.training.smoothing import moving_average
from gui.charts import style
from gui.charts.chart_set import ChartSet
from gui.charts.curves import LineChart
from gui.charts.export import export_png, export_svg
from gui.charts.grid import (
    MIN_PANEL_H,
    draw_cell,
    fill_cell,
    grid_table,
    grid_widget,
    keep_series,
    update_cell,
    update_grid,
    y_range,
)
from gui.views.grid_pair import GridPairChooser
from gui.views.two_run_landscape import TwoRunLandscape


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
            if name == "compare_landscape":
                drawn = panels.two_runs.charts.landscape is not None
            else:
                drawn = bool(panels.grid_cells) if name == "compare_grid" else bool(overlay[name].curves)
            if name not in done and drawn:
                for suffix in ("png", "svg", "csv"):
                    written.append(self.export(name, Path(folder) / f"{name}.{suffix}"))
        return written


class ComparisonPanels(QtWidgets.QWidget):
    """Charts created once and redrawn from a list of RunResults."""

    def __init__(self, runner=None, parent=None):
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
        self.two_runs = TwoRunLandscape(runner)  # both runs' paths on the plane through their start and ends
        self.tabs.addTab(self.two_runs, "Landscape of two runs")
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
        two = self.two_runs.charts
        self.charts.add("compare_landscape", self.two_runs.canvas.ci, two.table, plot=two.map_plot)

    def _grid_page(self) -> QtWidgets.QWidget:
        """The small multiples: a scrolling grid of readable panels, and one cell enlarged when clicked."""
        self._grid_plots, self.grid_charts, self.grid_cells, self.grid_args = [], {}, {}, None
        self._grid_shape, self._grid_stale, self._enlarged_key, self._grid_live = None, False, None, False
        self._build_gen, self._cells_left = 0, []  # the grid's panels are built one per event-loop turn
        self.grid_stack = QtWidgets.QStackedWidget()
        self.grid_stack.installEventFilter(self)
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
        self._enlarged_key = key
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
        self.two_runs.set_runs(results, varied)
        if not results:
            for chart in (self.loss_chart, self.acc_chart, self.lr_chart):
                chart.clear()
            self.table.setRowCount(0)
            return
        # the curves drawn last time take their new data (setData): rebuilding 72 curves and their legend
        # entries each redraw stalled the window while a comparison trained
        drawn = {id(chart): set() for chart in (self.loss_chart, self.acc_chart, self.lr_chart)}
        which = curves if isinstance(curves, str) else ("test" if curves else "train")
        if results[0].history[0].test_loss is None:
            which = "train"
        parts = ["train", "test"] if which == "both" else [which]
        words = "train and test" if which == "both" else which
        fields = " · ".join(varied)
        self.loss_chart.plot.setTitle(f"{words} loss — {fields}" if fields else f"{words} loss")
        self.acc_chart.plot.setTitle(f"{words} accuracy")
        charts = [(self.loss_chart, f"{p}_loss", p) for p in parts] + [(self.acc_chart, f"{p}_acc", p) for p in parts]
        rates: list[np.ndarray] = []  # the lr curves drawn so far: one equal to an earlier one is dashed over it
        together = False
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
                if chart is self.lr_chart:  # two optimizers at one rate: the later curve dashed, both colours show
                    on_another = any(_same(c.mean[first:], earlier) for earlier in rates)
                    together, dashed = together or on_another, dashed or on_another
                    rates.append(c.mean[first:])
                chart.set_series(label, c.epochs[first:], c.mean[first:], colour, dashed=dashed, band=band)
                drawn[id(chart)].add(label)
        for chart in (self.loss_chart, self.acc_chart, self.lr_chart):
            keep_series(chart, drawn[id(chart)])
        self.lr_chart.fit_y()
        self.lr_chart.plot.setTitle("learning rate" + (" (dashed: same as another)" if together else ""))
        if heavy:
            self._draw_grid(results, varied, f"{'train' if which == 'train' else 'test'}_loss", smoothing)
            self._fill_table(results, varied, target)

    def _draw_grid(self, results, varied, key, smoothing) -> None:
        """Compute the grid's cells (cheap) and show them: now when the grid is on screen, else when it is shown."""
        self._grid_inputs = (results, varied, key, smoothing)
        self.grid_cells, self.grid_args = {}, None
        if len(varied) < 2:
            self.grid_pair.hide()
        else:
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
            title = f"{which}: {pair[0]} (rows) × {pair[1]} (columns)"
            self.grid_args = (self.grid_cells, rows, cols, title, "loss")
        self._grid_live = any(not finished(r) for r in results)  # still training: more rows may come, or return
        self._grid_stale = True
        if self.grid_stack.isVisible():
            self._paint_grid()

    def _paint_grid(self) -> None:
        """Draw ``grid_args`` into the window's panels: in place (setData on each curve item) while the rows and
        columns stay the same, the panels built afresh only when they change."""
        self._grid_stale = False
        args = self.grid_args
        shape = (args[1], args[2], args[3]) if args else None
        old = self._grid_shape
        # while runs train, the runs listed come and go by batched group: panels built for more rows and columns
        # stay (the cells not listed now say "no run") rather than being built again at every change
        inside = (
            self._grid_live
            and shape is not None
            and old is not None
            and shape[2] == old[2]
            and set(shape[0]) <= set(old[0])
            and set(shape[1]) <= set(old[1])
        )
        if shape is not None and (shape == old or inside) and self.grid_charts:
            update_grid(self.grid_charts, self.grid_cells)
            key = self._enlarged_key
            if self.grid_stack.currentIndex() == 1 and key in self.grid_charts:  # the enlarged cell follows too
                update_cell(self.enlarged_chart, *key, self.grid_cells.get(key, []), width=2.0)
                self.enlarged_chart.plot.setYRange(*y_range(self.grid_cells), padding=0)
            else:
                self.grid_stack.setCurrentIndex(0)
            return
        self.grid_canvas.clear()
        self._grid_plots, self.grid_charts, self._grid_shape = [], {}, shape
        self.grid_stack.setCurrentIndex(0)
        if args is None:
            self.grid_canvas.setMinimumSize(0, 0)
            self.grid_canvas.addLabel("Small multiples appear when two fields vary (rows × columns).")
            return
        _cells, rows, cols, _title, ylabel = args
        # panels keep a readable size: the scroll area scrolls rather than squeezing them
        self.grid_canvas.setMinimumSize(200 * len(cols), MIN_PANEL_H * len(rows))
        self._build_gen += 1
        self._cells_left = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
        self._building = (rows, cols, ylabel)
        self._build_panel(self._build_gen)

    def _build_panel(self, gen: int) -> None:
        """Build the next panel, then let the event loop run before the next one (24 panels take about half a
        second: built at once, or even a row at a time, they froze the window for 0.2-0.5 s)."""
        if gen != self._build_gen or not self._cells_left:
            return  # a newer grid replaced this one
        rows, cols, ylabel = self._building
        i, j = self._cells_left.pop(0)
        key, chart = fill_cell(self.grid_canvas.ci, self.grid_cells, rows, cols, i, j, ylabel, grid=False)
        self.grid_charts[key] = chart
        self._grid_plots.append(chart.plot)
        self._add_grid_menu(chart.plot)
        if self._cells_left:
            QtCore.QTimer.singleShot(0, lambda: self._build_panel(gen))

    def _finish_grid(self) -> None:
        """Build the panels still waiting for the event loop now (export, or a caller that needs every panel)."""
        while self._cells_left:
            self._build_panel(self._build_gen)

    def forget_grid(self) -> None:
        """Drop the window's panels, so that the next draw builds them afresh (e.g. to measure that cost)."""
        self._grid_shape = None

    @property
    def grid_plots(self) -> list:
        """Return the small-multiple plots, drawing them first when they were left undrawn while hidden."""
        if self._grid_stale:
            self._paint_grid()
        self._finish_grid()
        return self._grid_plots

    def eventFilter(self, obj, event) -> bool:
        if obj is self.grid_stack and event.type() == QtCore.QEvent.Type.Show and self._grid_stale:
            self._paint_grid()  # the grid was left undrawn while hidden: draw it as it appears
        return super().eventFilter(obj, event)

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


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Return whether two curves lie on each other (same length, equal within float noise)."""
    return len(a) == len(b) and bool(np.allclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True))
