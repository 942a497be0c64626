"""Reusable chart items (line chart, decision regions, confusion matrix) used live and for export."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from . import style


class LineChart:
    """Named curves on one PlotItem, created once and updated with set_series()."""

    def __init__(self, plot: pg.PlotItem, title: str = "", xlabel: str = "epoch", ylabel: str = "", legend: bool = True):
        self.plot = plot
        plot.setTitle(title)
        plot.setLabel("bottom", xlabel)
        plot.setLabel("left", ylabel)
        plot.showGrid(x=True, y=True, alpha=0.25)
        self.legend = plot.addLegend(offset=(-10, 10)) if legend else None
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.bands: dict[str, pg.FillBetweenItem] = {}
        self.data: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def set_series(self, name: str, x, y, colour: str, dashed: bool = False, width: float = 2.0,
                   band: tuple | None = None) -> None:
        """Create or update the curve ``name``; ``band`` = (low, high) draws a shaded spread."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        pen = pg.mkPen(colour, width=width, style=QtCore.Qt.PenStyle.DashLine if dashed else QtCore.Qt.PenStyle.SolidLine)
        curve = self.curves.get(name)
        if curve is None:
            curve = self.plot.plot(x, y, pen=pen, name=name, connect="finite")
            self.curves[name] = curve
        else:
            curve.setPen(pen)
            curve.setData(x, y, connect="finite")
        self.data[name] = (x, y)
        if band is not None:
            lo, hi = (np.asarray(b, dtype=float) for b in band)
            c = QtGui.QColor(colour)
            c.setAlpha(50)
            if name in self.bands:
                self.plot.removeItem(self.bands.pop(name))
            low = pg.PlotDataItem(x, lo)
            high = pg.PlotDataItem(x, hi)
            fill = pg.FillBetweenItem(low, high, brush=c)
            fill.setZValue(-1)
            self.plot.addItem(fill)
            self.bands[name] = fill

    def clear(self) -> None:
        """Remove every curve and band."""
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        for band in self.bands.values():
            self.plot.removeItem(band)
        if self.legend is not None:
            self.legend.clear()
        self.curves, self.bands, self.data = {}, {}, {}

    def set_log_y(self, on: bool) -> None:
        """Switch the y axis between linear and log scale."""
        self.plot.setLogMode(y=on)

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows) of the drawn data for CSV export: series, x, y."""
        rows = [[name, float(a), float(b)] for name, (xs, ys) in self.data.items() for a, b in zip(xs, ys)]
        return ["series", "x", "y"], rows


class DecisionMap:
    """Predicted-class regions (tinted by confidence) under the data points of a 2-D data set."""

    def __init__(self, plot: pg.PlotItem, title: str = "decision regions"):
        self.plot = plot
        plot.setTitle(title)
        plot.setAspectLocked(True)
        self.image = pg.ImageItem()
        self.image.setZValue(-10)
        plot.addItem(self.image)
        self.legend = plot.addLegend(offset=(10, 10))
        self.points: list[pg.ScatterPlotItem] = []
        self.grid = None

    def set_data(self, x: np.ndarray, y: np.ndarray, n_classes: int) -> None:
        """Draw the data points, one colour per class."""
        for item in self.points:
            self.plot.removeItem(item)
        self.legend.clear()
        self.points = []
        for k in range(n_classes):
            sel = y == k
            colour = QtGui.QColor(style.CLASS_COLOURS[k % len(style.CLASS_COLOURS)])
            item = pg.ScatterPlotItem(x[sel, 0], x[sel, 1], size=5, brush=colour, pen=pg.mkPen("#111111", width=0.4),
                                      name=f"class {k}")
            self.plot.addItem(item)
            self.points.append(item)

    def set_regions(self, xs: np.ndarray, ys: np.ndarray, classes: np.ndarray, confidence: np.ndarray) -> None:
        """Draw the region image: classes[i, j] at (xs[j], ys[i]), lighter where confidence is low."""
        palette = np.array([QtGui.QColor(c).getRgb()[:3] for c in style.CLASS_COLOURS], dtype=float)
        base = palette[classes % len(palette)]
        alpha = 0.25 + 0.35 * np.clip(confidence, 0, 1)[..., None]
        rgb = 255 * (1 - alpha) + base * alpha
        self.image.setImage(rgb.astype(np.uint8), autoLevels=False, levels=(0, 255))
        self.image.setRect(QtCore.QRectF(xs[0], ys[0], xs[-1] - xs[0], ys[-1] - ys[0]))
        self.grid = (xs, ys, classes, confidence)

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows) of the region grid for CSV export."""
        if self.grid is None:
            return ["x", "y", "class", "confidence"], []
        xs, ys, classes, conf = self.grid
        rows = [[float(xs[j]), float(ys[i]), int(classes[i, j]), float(conf[i, j])]
                for i in range(len(ys)) for j in range(len(xs))]
        return ["x", "y", "class", "confidence"], rows


class ConfusionMatrix:
    """A confusion matrix as a heat map with the count in each cell."""

    def __init__(self, plot: pg.PlotItem, title: str = "confusion matrix (rows: true, columns: predicted)"):
        self.plot = plot
        plot.setTitle(title)
        plot.setAspectLocked(True)
        plot.invertY(True)
        plot.setLabel("left", "true")
        plot.setLabel("bottom", "predicted")
        self.image = pg.ImageItem()
        plot.addItem(self.image)
        self.texts: list[pg.TextItem] = []
        self.matrix = np.zeros((0, 0), dtype=int)
        self.labels: list[str] = []

    def set_matrix(self, matrix: np.ndarray, labels: list[str]) -> None:
        """Draw ``matrix[true, predicted]`` with ``labels`` on both axes."""
        matrix = np.asarray(matrix)
        self.matrix, self.labels = matrix, list(labels)
        n = matrix.shape[0]
        rows = matrix.sum(axis=1, keepdims=True).clip(min=1)
        share = matrix / rows
        cmap = pg.ColorMap([0.0, 1.0], [(247, 251, 255), (8, 48, 107)])
        self.image.setImage(share, levels=(0, 1), lut=cmap.getLookupTable(nPts=256))
        self.image.setRect(QtCore.QRectF(-0.5, -0.5, n, n))
        for t in self.texts:
            self.plot.removeItem(t)
        self.texts = []
        if n <= 20:
            for i in range(n):
                for j in range(n):
                    text = pg.TextItem(str(int(matrix[i, j])), color="w" if share[i, j] > 0.55 else "#222222", anchor=(0.5, 0.5))
                    text.setPos(j, i)
                    self.plot.addItem(text)
                    self.texts.append(text)
        ticks = [[(i, str(lab)) for i, lab in enumerate(labels)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        self.plot.setRange(xRange=(-0.5, n - 0.5), yRange=(-0.5, n - 0.5), padding=0.02)

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows) of the counts for CSV export."""
        return ["true", "predicted", "count"], [[self.labels[i], self.labels[j], int(self.matrix[i, j])]
                                              for i in range(len(self.labels)) for j in range(len(self.labels))]

