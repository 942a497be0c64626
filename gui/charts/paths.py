"""Optimizer paths drawn as in the seeds: start star, step dots, end star; one colour per optimizer.

With notebook markers on, the dots are yellow and the end stars blue as in the seed notebooks (the lines keep the
optimizer colours); off, dots and end star take the optimizer colour too. The start star is red either way.

Each start point has its own step-dot symbol and line dash (engine.surface.scene.start_style), so the paths of one
optimizer from several starts can be told apart; the legend then lists the optimizers' colours and the starts' looks.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from engine.surface.scene import start_style
from gui.charts import style

MAX_DOTS = 150
PEN_STYLES = {
    "solid": QtCore.Qt.PenStyle.SolidLine,
    "dash": QtCore.Qt.PenStyle.DashLine,
    "dot": QtCore.Qt.PenStyle.DotLine,
    "dashdot": QtCore.Qt.PenStyle.DashDotLine,
}
START_MARK_COLOUR = "#444444"  # the starts' legend entries: neutral, the colour belongs to the optimizers


def pen_style(dash: str) -> QtCore.Qt.PenStyle:
    """Return the Qt pen style of an engine dash name ('solid', 'dash', 'dot', 'dashdot')."""
    return PEN_STYLES.get(dash, QtCore.Qt.PenStyle.SolidLine)


LABEL_LINE = 28  # characters: a longer "<path> left the map at step k" label is broken after the path's name


def horizontal_anchor(x: float, span: tuple[float, float]) -> float:
    """Return the label anchor that keeps a label at ``x`` inside ``span``: 0 (text to the right) in the left
    third, 1 (to the left) in the right third, 0.5 (centred) in between; 0 when the span is not finite."""
    lo, hi = span
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return 0.0
    t = (x - lo) / (hi - lo)
    return 0.0 if t < 1 / 3 else 1.0 if t > 2 / 3 else 0.5


class BoxedLabel(pg.TextItem):
    """pyqtgraph's TextItem with a box (fill, border) drawn around its text on its very first paint too.

    On its first paint TextItem replaces the painter's transform with its own scene transform. That drops the
    scaling of an export (a PNG wider than the chart, the SVG), so in a chart drawn straight to a file the box
    landed away from its text, as a stray empty frame. Here the export's transform is kept.
    """

    def paint(self, p, *args):
        scene = self.scene()
        if scene is not self._lastScene:
            before, device = self.sceneTransform(), p.transform()
            if self._lastScene is not None:
                self._lastScene.sigPrepareForPaint.disconnect(self.updateTransform)
            self._lastScene = scene
            if scene is not None:
                scene.sigPrepareForPaint.connect(self.updateTransform)
            self.updateTransform()
            # item -> device was before * (scene -> device); the item's own transform has just changed
            p.setTransform(self.sceneTransform() * pg.functions.invertQTransform(before) * device)
        if self.border.style() != QtCore.Qt.PenStyle.NoPen or self.fill.style() != QtCore.Qt.BrushStyle.NoBrush:
            p.setPen(self.border)
            p.setBrush(self.fill)
            p.setRenderHint(p.RenderHint.Antialiasing, True)
            p.drawPolygon(self.textItem.mapToParent(self.textItem.boundingRect()))


def star_sizes(n_starts: int) -> tuple[int, int]:
    """Return the (start, end) star sizes: smaller with several starts, so close ones do not merge into blobs."""
    if n_starts >= 3:
        return 12, 13
    if n_starts == 2:
        return 15, 16
    return 18, 20


def path_xy(points: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the (x, y) to draw for a path: (x, y) in 2-D, (x, f(x)) in 1-D."""
    if points.shape[1] == 1:
        return points[:, 0], losses
    return points[:, 0], points[:, 1]


def exit_point(x: np.ndarray, y: np.ndarray, bounds) -> tuple[float, float]:
    """Return where a path last leaves the box ``bounds`` ((x0, x1), (y0, y1)), or its last point if it stays in."""
    (x0, x1), (y0, y1) = bounds
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    if inside.all() or not inside.any():
        return float(x[-1]), float(y[-1])
    i = int(np.nonzero(inside)[0][-1])
    if i == len(x) - 1:
        return float(x[-1]), float(y[-1])
    ax, ay, bx, by = x[i], y[i], x[i + 1], y[i + 1]
    t = 1.0
    for a, b, lo, hi in ((ax, bx, x0, x1), (ay, by, y0, y1)):
        if b > hi:
            t = min(t, (hi - a) / (b - a))
        elif b < lo:
            t = min(t, (lo - a) / (b - a))
    return float(ax + t * (bx - ax)), float(ay + t * (by - ay))


class PathItems:
    """The items for one path; ``show(k)`` draws its first k steps."""

    def __init__(
        self,
        plot: pg.PlotItem,
        colour: str,
        name: str,
        legend: bool,
        symbol: str = "o",
        dash: str = "solid",
        stars: tuple[int, int] = (18, 20),
        notebook: bool = False,
    ):
        self.plot = plot
        self.symbol, self.dash = symbol, dash
        pen = pg.mkPen(colour, width=2, style=pen_style(dash))
        self.line = pg.PlotDataItem(
            pen=pen,
            symbol=symbol,
            symbolSize=6 if symbol in ("o", "s", "d") else 8,
            symbolBrush=style.DOT_COLOUR if notebook else colour,
            symbolPen=pg.mkPen("#222222", width=0.6),
            name=name if legend else None,
        )
        self.start = pg.ScatterPlotItem(
            size=stars[0], symbol="star", brush=style.START_COLOUR, pen=pg.mkPen("w", width=1)
        )
        end_brush = style.END_COLOUR if notebook else colour
        self.end = pg.ScatterPlotItem(size=stars[1], symbol="star", brush=end_brush, pen=pg.mkPen("#111111", width=1.2))
        self.blowup = pg.ScatterPlotItem(size=16, symbol="x", brush="#000000", pen=pg.mkPen("#d00000", width=3))
        self.name = name
        self.label = BoxedLabel(
            color="#b00000", anchor=(0, 1), fill=pg.mkBrush(255, 255, 255, 210), border=pg.mkPen(colour)
        )
        for item in (self.line, self.start, self.end, self.blowup, self.label):
            item.setZValue(10)
            plot.addItem(item)
        self.start.setZValue(12)
        self.end.setZValue(11)
        self.x = self.y = np.empty(0)
        self.start_x: float | None = None
        self.diverged_at: int | None = None
        self.ending = ""
        self.bounds = ((-np.inf, np.inf), (-np.inf, np.inf))

    def set_path(self, x: np.ndarray, y: np.ndarray, diverged_at: int | None, ending: str = "") -> None:
        """Store the whole path's drawable (finite) points and how it ended in words ('left the map at step 8');
        nothing is drawn until show(). Returns nothing."""
        self.ending = ending
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        finite = np.isfinite(x) & np.isfinite(y)
        # a 1-D path that starts where f is not a number has no point to draw: its start is kept for the marker
        self.start_x = float(x[0]) if len(x) and np.isfinite(x[0]) else None
        self.x, self.y, self.diverged_at = x[finite], y[finite], diverged_at

    def show(self, k: int | None = None) -> None:
        """Draw steps 0..k (all when k is None)."""
        n = len(self.x) if k is None else min(len(self.x), k + 1)
        x, y = self.x[:n], self.y[:n]
        # past MAX_DOTS points the dots merge into a line anyway, and drawing them costs most of a frame
        self.line.setSymbol(self.symbol if len(self.x) <= MAX_DOTS else None)
        self.line.setData(x, y)
        self.start.setData(x[:1], y[:1])
        done = n == len(self.x)
        if self.diverged_at is not None and done and (n or self.start_x is not None):
            self.end.setData([], [])
            if n:
                bx, by = exit_point(x, y, self.bounds)
            else:  # not a number at the start itself: mark the start column at the middle of the map
                bx, by = self.start_x, float(np.mean([v for v in self.bounds[1] if np.isfinite(v)] or [0.0]))
            self.blowup.setData([bx], [by])
            # a long label goes on two lines: one line was half the map wide and ran into the minima key
            sep = "\n" if len(self.name) + len(self.ending) > LABEL_LINE else " "
            self.label.setText(f"{self.name}{sep}{self.ending}")
            low = by <= np.mean(self.bounds[1])
            ax = horizontal_anchor(bx, self.bounds[0])
            # the minima key fills the bottom-right corner: a centred label low on the map reads to the left
            self.label.setAnchor((1.0 if low and ax == 0.5 else ax, 1 if low else 0))
            self.label.setPos(bx, by)
            self.label.show()
        else:
            self.end.setData(x[-1:], y[-1:])
            self.blowup.setData([], [])
            self.label.hide()

    def remove(self) -> None:
        """Take every item off the plot."""
        for item in (self.line, self.start, self.end, self.blowup, self.label):
            self.plot.removeItem(item)


class PathLayer:
    """All paths on one plot, rebuilt by set_paths() and scrubbed together by show(k)."""

    def __init__(self, plot: pg.PlotItem, notebook: bool = False):
        self.plot = plot
        self.notebook = notebook  # notebook markers: yellow dots, blue end stars (read by set_paths)
        self.items: list[PathItems] = []
        self.legend_items: list[tuple[pg.PlotDataItem, str]] = []  # entries that stand for no one path
        self.bounds = ((-np.inf, np.inf), (-np.inf, np.inf))

    def set_paths(self, paths, colours: list[str], names: list[str]) -> None:
        """Replace the drawn paths, each in its start's symbol and dash.

        With one start the legend gets one entry per distinct name; with several, one entry per name in its
        colour (a plain line) and one per start ("start 2") in its symbol and dash, so every path can be read.
        """
        for item in self.items:
            item.remove()
        self._clear_legend()
        self.items = []
        starts = sorted({p.start_index for p in paths})
        several = len(starts) > 1
        stars = star_sizes(len(starts))
        seen = set()
        for path, colour, name in zip(paths, colours, names):
            symbol, dash = start_style(path.start_index)
            legend = not several and name not in seen
            item = PathItems(self.plot, colour, name, legend, symbol, dash, stars, self.notebook)
            item.name = f"{name} · start {path.start_index + 1}" if several else name
            if several and name not in seen:
                self._legend_entry(pg.PlotDataItem(pen=pg.mkPen(colour, width=3)), name)
            seen.add(name)
            item.set_path(*path_xy(path.points, path.losses), path.diverged_at, path.ending())
            item.bounds = self.bounds
            self.items.append(item)
        if several:
            for index in starts:
                symbol, dash = start_style(index)
                sample = pg.PlotDataItem(
                    pen=pg.mkPen(START_MARK_COLOUR, width=2, style=pen_style(dash)),
                    symbol=symbol,
                    symbolSize=8,
                    symbolBrush="#bbbbbb",
                    symbolPen=pg.mkPen(START_MARK_COLOUR, width=1),
                )
                self._legend_entry(sample, f"start {index + 1}")

    def _legend_entry(self, sample: pg.PlotDataItem, text: str) -> None:
        legend = getattr(self.plot, "legend", None)
        if legend is not None:
            legend.addItem(sample, text)
        self.legend_items.append((sample, text))

    def _clear_legend(self) -> None:
        legend = getattr(self.plot, "legend", None)
        for sample, _text in self.legend_items:
            if legend is not None:
                legend.removeItem(sample)
        self.legend_items = []

    def show(self, k: int | None = None) -> None:
        """Draw every path up to step k (all when None)."""
        for item in self.items:
            item.show(k)
