"""The convergence map: a heatmap over two hyperparameters, coloured by final loss or steps to tolerance.

Cell (row i, column j) is the configuration (x = xs[j], y = ys[i]). Colour is the final loss (see
map_values for its scale) or the steps/epochs to reach the tolerance; cells that diverged are left uncoloured
on a grey ground and crossed in red, and cells that never reached the tolerance are grey too when colouring by steps.
A cell that ended above its starting loss is coloured as its start (the scale is clipped there, so one bad cell
does not wash out the others) and marked with a white triangle. A key under the map says what grey, ×, the
triangle and the tolerance's target mean. Clicking a cell calls ``on_click(i, j)`` (the window runs that cell).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from gui.charts import style

COLOUR_BY = ("final_loss", "steps_to_tol")
DIVERGED_COLOUR = "#d62728"
GROUND = "#d9d9d9"
ABOVE_SYMBOL = "t1"  # an upward triangle: the cell ended above where it started
SIZE = (820, 615)  # the PNG's and the SVG's size in pixels
MAX_TICKS = 8
GAP_FLOOR = 1e-12  # gaps to the minimum below this are float noise: drawn as this


def _nice(v: float) -> str:
    """Return a short label for a round tick value (1e-4, 0.001 … 100, 1e+03 beyond)."""
    if v == 0:
        return "0"
    return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e") if not 1e-3 <= abs(v) < 1e3 else f"{v:.4g}"


def axis_ticks(low: float, high: float, n: int, log: bool) -> list[tuple[float, str]]:
    """Return (cell position, label) ticks for an axis of ``n`` cells from ``low`` to ``high``.

    Round values (decades on a log axis, 1-2-5 steps otherwise) sit where they fall between the cell
    centres; the first and last cells get their own value too, unless a round tick lies within a cell of them.
    """
    if n <= 1 or high <= low:
        return [(0.0, f"{low:.3g}")]
    f = np.log10 if log else (lambda v: v)
    a, b = float(f(low)), float(f(high))

    def pos(v: float) -> float:
        return (float(f(v)) - a) / (b - a) * (n - 1)

    if log and b - a >= 1:
        step = max(1, math.ceil((b - a) / MAX_TICKS))
        nice = [10.0**e for e in range(math.ceil(a - 1e-9), math.floor(b + 1e-9) + 1, step)]
    else:
        span = (high - low) / 5
        mag = 10 ** math.floor(math.log10(span))
        unit = next(m * mag for m in (1, 2, 5, 10) if m * mag >= span)
        nice = [k * unit for k in range(math.ceil(low / unit - 1e-9), math.floor(high / unit + 1e-9) + 1)]
        nice = [0.0 if abs(v) < unit * 1e-9 else v for v in nice]
    ticks = [(pos(v), _nice(v)) for v in nice if (not log or v > 0)]
    for end, value in ((0, low), (n - 1, high)):
        if all(abs(p - end) > 1.0 for p, _ in ticks):
            ticks.append((float(end), f"{value:.3g}"))
    return sorted(ticks)


def map_values(result, colour_by: str) -> tuple[np.ndarray, str]:
    """Return the (ny, nx) array drawn for ``colour_by`` (NaN = uncoloured) and its colour-bar label.

    Final losses are drawn as log10 of their gap to the surface's known minimum (floored at GAP_FLOOR) when
    that gap spans at least two decades, as log10 of the loss when every loss is positive and spans two
    decades, and as the loss itself on a linear scale otherwise; the label says which.
    A cell that ended above its starting loss is drawn at its starting loss (see ``ended_above_start``).
    """
    diverged = result.diverged_at >= 0
    if colour_by == "steps_to_tol":
        values = result.steps_to_tol.astype(float)
        values[(result.steps_to_tol < 0) | diverged] = np.nan
        return values, f"{result.unit}s to within {result.tol:g} of {result.target:.4g}"
    final = result.final_loss.astype(float)
    final[diverged | ~np.isfinite(final)] = np.nan
    above = ended_above_start(result)
    final[above] = np.asarray(result.initial_loss, dtype=float)[above]
    shown = final[np.isfinite(final)]

    def decades(v: np.ndarray) -> float:
        return float(np.log10(v.max() / v.min())) if v.size and v.min() > 0 else 0.0

    with np.errstate(all="ignore"):
        if getattr(result, "target_known", False) and np.isfinite(result.target):
            gap = np.maximum(final - result.target, GAP_FLOOR)
            if decades(gap[np.isfinite(gap)]) >= 2:
                return np.log10(gap), f"log10(final loss − minimum {result.target:.4g}), floor {GAP_FLOOR:g}"
        if shown.size and shown.min() > 0 and decades(shown) >= 2:
            return np.log10(final), "log10 final loss"
    return final, "final loss"


def ended_above_start(result) -> np.ndarray:
    """Return the (ny, nx) mask of cells that did not diverge yet ended above their starting loss."""
    final = np.asarray(result.final_loss, dtype=float)
    start = np.asarray(result.initial_loss, dtype=float)
    with np.errstate(invalid="ignore"):
        return (result.diverged_at < 0) & np.isfinite(final) & np.isfinite(start) & (final > start)


def target_words(result) -> str:
    """Return what the tolerance is measured from: 'within 0.05 of the best cell's loss 0.3308' (training) or
    'within 0.01 of the known minimum 0' (a surface with a known minimum)."""
    where = "the known minimum" if getattr(result, "target_known", False) else "the best cell's loss"
    return f"within {result.tol:g} of {where} {result.target:.4g}"


def map_key(result, colour_by: str) -> list[str]:
    """Return the key's lines (HTML) for what this map shows: grey, ×, the triangle and the tolerance's target."""
    diverged = result.diverged_at >= 0
    lines = []
    if diverged.any():
        lines.append(f"<span style='color:{DIVERGED_COLOUR}'>×</span> on grey: diverged (no final loss)")
    if colour_by == "steps_to_tol":
        never = (result.steps_to_tol < 0) & ~diverged
        if never.any():
            lines.append(f"grey without ×: never came {target_words(result)}")
        else:
            lines.append(f"target: {target_words(result)}")
    above = ended_above_start(result)
    if above.any():
        i, j = np.argwhere(above)[0]
        example = f"e.g. {result.final_loss[i, j]:.4g} > {result.initial_loss[i, j]:.4g}"
        clipped = " (coloured as its start: the scale stops there)" if colour_by == "final_loss" else ""
        lines.append(f"△ ended above its starting loss, {example}{clipped}")
    return lines


class ConvergenceMapChart:
    """A map drawn on one PlotItem, with a colour bar, red crosses on diverged cells and clickable cells."""

    def __init__(self, plot: pg.PlotItem, title: str = "convergence map") -> None:
        self.plot = plot
        self.on_click: Callable[[int, int], None] | None = None
        plot.setTitle(title)
        plot.setAspectLocked(False)
        plot.invertY(False)
        self.image = pg.ImageItem()
        self.image.mouseClickEvent = self._clicked
        self.ground = pg.ImageItem()  # grey over the cells without a colour (diverged, never within tolerance)
        self.ground.setZValue(5)
        plot.addItem(self.image)
        plot.addItem(self.ground)
        self.crosses = plot.plot([], [], pen=None, symbol="x", symbolSize=10, symbolBrush=DIVERGED_COLOUR)
        self.crosses.setZValue(10)
        self.above = plot.plot([], [], pen=None, symbol=ABOVE_SYMBOL, symbolSize=11, symbolBrush="w", symbolPen="k")
        self.above.setZValue(10)
        self.key = pg.LabelItem("", size="9pt", color="#222222", justify="left")
        plot.layout.addItem(self.key, 4, 1)
        cmap = pg.colormap.get(style.CONTOUR_MAP)
        self.colorbar = pg.ColorBarItem(colorMap=cmap, interactive=False, width=14)
        self.colorbar.setImageItem(self.image, insert_in=plot)
        self.result = None

    def set_map(self, result, colour_by: str = "final_loss") -> None:
        """Draw ``result`` (a MapResult) coloured by ``colour_by``; returns nothing."""
        self.result = result
        ny, nx = result.final_loss.shape
        values, label = map_values(result, colour_by)
        rect = QtCore.QRectF(-0.5, -0.5, nx, ny)
        blank = ~np.isfinite(values)
        ground = np.zeros((ny, nx, 4), dtype=np.uint8)
        ground[blank] = QtGui.QColor(GROUND).getRgb()
        self.ground.setImage(ground, autoLevels=False, levels=(0, 255))
        self.ground.setRect(rect)
        finite = values[~blank]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        self.image.setImage(np.where(blank, lo, values), autoLevels=False)
        self.image.setRect(rect)
        self.colorbar.setLevels((lo, hi))
        self.colorbar.setLabel("left", label)
        i, j = np.nonzero(result.diverged_at >= 0)
        self.crosses.setData(j.astype(float), i.astype(float))
        i, j = np.nonzero(ended_above_start(result))
        self.above.setData(j.astype(float), i.astype(float))
        lines = map_key(result, colour_by)
        self.key.setText("<br>".join(lines))
        self.key.setVisible(bool(lines))
        self.plot.setLabel("bottom", result.x.field + (" (log)" if result.x.log else ""))
        self.plot.setLabel("left", result.y.field + (" (log)" if result.y.log else ""))
        self.plot.getAxis("bottom").setTicks([axis_ticks(result.x.low, result.x.high, nx, result.x.log)])
        self.plot.getAxis("left").setTicks([axis_ticks(result.y.low, result.y.high, ny, result.y.log)])
        self.plot.setXRange(-0.5, nx - 0.5, padding=0)
        self.plot.setYRange(-0.5, ny - 0.5, padding=0)

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """Return the (row, column) of the cell under plot coordinates (x, y), or None outside the map."""
        if self.result is None:
            return None
        ny, nx = self.result.final_loss.shape
        i, j = int(round(y)), int(round(x))
        return (i, j) if 0 <= i < ny and 0 <= j < nx else None

    def _clicked(self, event) -> None:
        pos = self.image.mapToParent(event.pos())  # the plot's data coordinates: cell (i, j) is centred on (j, i)
        cell = self.cell_at(pos.x(), pos.y())
        if cell is not None and self.on_click is not None:
            event.accept()
            self.on_click(*cell)


def render_map(result, path: str | Path, colour_by: str = "final_loss", title: str = "convergence map") -> Path:
    """Write the map to a PNG (or an SVG when ``path`` ends in .svg), both SIZE; return its path."""
    from gui.charts.export import export_png, export_svg
    from gui.charts.render import ensure_app

    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(*SIZE)
    widget.ci.setGeometry(0, 0, *SIZE)  # never shown: the layout takes the size only when set itself
    chart = ConvergenceMapChart(widget.addPlot(), title)
    chart.set_map(result, colour_by)
    chart.plot.layout.activate()  # never shown: lay the title, axes and colour bar out now
    widget.ci.layout.activate()
    path = Path(path)
    if path.suffix.lower() == ".svg":
        return export_svg(widget.ci, path, title, width=SIZE[0])
    return export_png(widget.ci, path, width=SIZE[0])
