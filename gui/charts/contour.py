"""A filled contour map with isolines, colour bar and minima markers on a pyqtgraph PlotItem."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from gui.charts import style

N_LEVELS = 14
ISO_GRID = 160  # isolines are traced on a coarser grid: pure-Python tracing costs ~ grid² per level


def display_values(z: np.ndarray, log: bool) -> np.ndarray:
    """Return z as drawn: unchanged, or log10(1 + (z − min)/scale) for the log-scale option."""
    if not log:
        return z
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return z
    lo, hi = float(finite.min()), float(finite.max())
    scale = max((hi - lo) * 1e-4, 1e-12)
    return np.log10(1 + (z - lo) / scale)


def log_ticks(z: np.ndarray) -> list[tuple[float, str]]:
    """Return colour-bar ticks for display_values(z, log=True): decades of f − min, at their drawn positions."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return []
    lo, hi = float(finite.min()), float(finite.max())
    scale = max((hi - lo) * 1e-4, 1e-12)
    ticks = [(0.0, "0")]
    for k in range(math.floor(math.log10(scale)) + 1, math.floor(math.log10(max(hi - lo, scale))) + 1):
        d = 10.0**k
        pos = math.log10(1 + d / scale)
        if pos - ticks[-1][0] >= 0.6:  # keep the labels apart
            ticks.append((pos, f"{d:g}"))
    return ticks


def colour_label(z: np.ndarray, log: bool) -> str:
    """Return the colour bar's label: what its colours and tick values show."""
    if not log:
        return "f"
    finite = z[np.isfinite(z)]
    low = float(finite.min()) if finite.size else 0.0
    return "f − min (log scale)" if low != 0 else "f (log scale)"


def stepped_colormap(n: int = N_LEVELS) -> pg.ColorMap:
    """Return a colour map with n flat bands (filled-contour look)."""
    base = pg.colormap.get(style.CONTOUR_MAP)
    colours = base.map(np.linspace(0, 1, n), mode="byte")
    pos, cols = [], []
    for i in range(n):
        pos += [i / n, (i + 1) / n - 1e-6]
        cols += [colours[i], colours[i]]
    return pg.ColorMap(np.array(pos), np.array(cols))


def isolines(xs: np.ndarray, ys: np.ndarray, z: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y) arrays of every isoline at ``levels``, separated by NaN, in data coordinates."""
    step = max(1, int(np.ceil(len(xs) / ISO_GRID)))
    zs, xs_c, ys_c = z[::step, ::step], xs[::step], ys[::step]
    zs = np.where(np.isfinite(zs), zs, np.nanmax(zs) if np.isfinite(zs).any() else 0)
    out_x, out_y = [], []
    dx = (xs_c[-1] - xs_c[0]) / (len(xs_c) - 1)
    dy = (ys_c[-1] - ys_c[0]) / (len(ys_c) - 1)
    for level in levels:
        for line in pg.functions.isocurve(zs, level, connected=True, extendToEdge=True):
            arr = np.asarray(line, dtype=float)
            # isocurve returns (row, col) pairs for row-major data
            out_x.append(xs_c[0] + arr[:, 1] * dx)
            out_y.append(ys_c[0] + arr[:, 0] * dy)
            out_x.append([np.nan])
            out_y.append([np.nan])
    if not out_x:
        return np.empty(0), np.empty(0)
    return np.concatenate(out_x), np.concatenate(out_y)


class ContourMap:
    """Owns the image, isolines, colour bar and minima markers of one PlotItem; redraw with set_surface()."""

    def __init__(self, plot: pg.PlotItem, n_levels: int = N_LEVELS):
        self.plot = plot
        self.n_levels = n_levels
        self.image = pg.ImageItem()
        self.image.setZValue(-10)
        plot.addItem(self.image)
        self.lines = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 110), width=1), connect="finite")
        self.lines.setZValue(-5)
        plot.addItem(self.lines)
        self.minima = pg.ScatterPlotItem(size=13, symbol="+", pen=pg.mkPen("w", width=2.5), brush=None)
        self.local_minima = pg.ScatterPlotItem(size=11, symbol="x", pen=pg.mkPen("#dddddd", width=2), brush=None)
        for item in (self.minima, self.local_minima):
            item.setZValue(5)
            plot.addItem(item)
        self.colorbar = pg.ColorBarItem(colorMap=stepped_colormap(n_levels), interactive=False, width=14)
        self.colorbar.setImageItem(self.image, insert_in=plot)
        # the markers' key: its own legend (bottom right), so a view that clears the paths' legend keeps it
        self.key = pg.LegendItem(offset=(-10, -10), brush=(255, 255, 255, 200), labelTextColor="#222222")
        self.key.setParentItem(plot.vb)
        self.key.setZValue(20)
        self.curve = pg.PlotCurveItem(pen=pg.mkPen("#333333", width=2))  # 1-D functions
        plot.addItem(self.curve)

    def set_surface(self, xs: np.ndarray, ys: np.ndarray, z: np.ndarray, log: bool = False, minima=()) -> None:
        """Draw a 2-D surface (z[i, j] at xs[j], ys[i]) or, when ys is empty, a 1-D curve."""
        if len(ys) == 0:
            self.image.hide()
            self.lines.hide()
            self.colorbar.hide()
            self.curve.show()
            self.curve.setData(xs, z, connect="finite")
            gx = [m.point[0] for m in minima if m.kind == "global"]
            lx = [m.point[0] for m in minima if m.kind != "global"]
            self.minima.setPen(pg.mkPen("#111111", width=2.5))
            self.local_minima.setPen(pg.mkPen("#777777", width=2))
            self.minima.setData(gx, [m.value for m in minima if m.kind == "global"])
            self.local_minima.setData(lx, [m.value for m in minima if m.kind != "global"])
            self.plot.setLabel("left", "f(x)")
            self.key.setOffset((-10, 10))  # a curve's minima lie low: the key goes top right
            self._set_key(minima, "#111111", "#777777")
            return
        self.curve.hide()
        for item in (self.image, self.lines, self.colorbar):
            item.show()
        shown = display_values(z, log)
        finite = shown[np.isfinite(shown)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        self.image.setImage(np.nan_to_num(shown, nan=hi), autoLevels=False)
        self.image.setRect(QtCore.QRectF(xs[0], ys[0], xs[-1] - xs[0], ys[-1] - ys[0]))
        self.colorbar.setLevels((lo, hi))
        self.colorbar.setLabel("left", colour_label(z, log))
        self.colorbar.axis.setTicks([log_ticks(z)] if log else None)
        self.key.setOffset((-10, -10))
        self._set_key(minima, "#222222", "#666666")
        levels = lo + (hi - lo) * np.arange(1, self.n_levels) / self.n_levels
        self.lines.setData(*isolines(xs, ys, shown, levels))
        self.minima.setPen(pg.mkPen("w", width=2.5))
        self.local_minima.setPen(pg.mkPen("#dddddd", width=2))
        self.minima.setData(
            [m.point[0] for m in minima if m.kind == "global"], [m.point[1] for m in minima if m.kind == "global"]
        )
        self.local_minima.setData(
            [m.point[0] for m in minima if m.kind != "global"], [m.point[1] for m in minima if m.kind != "global"]
        )
        self.plot.setLabel("left", "y")
        self.plot.setRange(xRange=(xs[0], xs[-1]), yRange=(ys[0], ys[-1]), padding=0)

    def _set_key(self, minima, global_colour: str, local_colour: str) -> None:
        """List the minima markers shown (+ global, ✕ local) in the key; hide it when there are none."""
        self.key.clear()
        kinds = {m.kind == "global" for m in minima}
        if True in kinds:
            sample = pg.PlotDataItem(pen=None, symbol="+", symbolSize=13, symbolPen=pg.mkPen(global_colour, width=2.5))
            self.key.addItem(sample, "global minimum")
        if False in kinds:
            sample = pg.PlotDataItem(pen=None, symbol="x", symbolSize=11, symbolPen=pg.mkPen(local_colour, width=2))
            self.key.addItem(sample, "local minimum")
        self.key.setVisible(bool(kinds))
