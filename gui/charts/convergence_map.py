"""The convergence map: a heatmap over two hyperparameters, coloured by final loss or steps to tolerance.

Cell (row i, column j) is the configuration (x = xs[j], y = ys[i]). Colour is log10 of the final loss
(or the steps/epochs to reach the tolerance); cells that diverged are left uncoloured on a grey ground
and crossed in red, and cells that never reached the tolerance are grey too when colouring by steps.
Clicking a cell calls ``on_click(i, j)`` (the window runs that configuration).
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
MAX_TICKS = 8


def _ticks(values: list[float]) -> list[tuple[float, str]]:
    """Return at most MAX_TICKS (cell index, value text) ticks along one axis."""
    step = max(1, math.ceil(len(values) / MAX_TICKS))
    return [(k, f"{values[k]:.3g}") for k in range(0, len(values), step)]


def map_values(result, colour_by: str) -> tuple[np.ndarray, str]:
    """Return the (ny, nx) array drawn for ``colour_by`` (NaN = uncoloured) and its colour-bar label."""
    diverged = result.diverged_at >= 0
    if colour_by == "steps_to_tol":
        values = result.steps_to_tol.astype(float)
        values[(result.steps_to_tol < 0) | diverged] = np.nan
        return values, f"{result.unit}s to within {result.tol:g} of {result.target:.4g}"
    with np.errstate(all="ignore"):
        values = np.log10(np.maximum(result.final_loss.astype(float) - min(0.0, result.target), 1e-300))
    values[diverged | ~np.isfinite(values)] = np.nan
    return values, "log10 final loss"


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
        self.plot.setLabel("bottom", result.x.field + (" (log)" if result.x.log else ""))
        self.plot.setLabel("left", result.y.field + (" (log)" if result.y.log else ""))
        self.plot.getAxis("bottom").setTicks([_ticks(result.xs)])
        self.plot.getAxis("left").setTicks([_ticks(result.ys)])
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
    """Write the map to a PNG (or an SVG when ``path`` ends in .svg); return its path."""
    from gui.charts.export import export_png, export_svg
    from gui.charts.render import ensure_app

    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(820, 700)
    chart = ConvergenceMapChart(widget.addPlot(), title)
    chart.set_map(result, colour_by)
    chart.plot.layout.activate()  # never shown: lay the title, axes and colour bar out now
    widget.ci.layout.activate()
    path = Path(path)
    if path.suffix.lower() == ".svg":
        return export_svg(widget.ci, path, title)
    return export_png(widget.ci, path, width=widget.width())
