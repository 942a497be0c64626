"""Reusable chart items (line chart, decision regions, confusion matrix) used live and for export."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from gui.charts import style


class LineChart:
    """Named curves on one PlotItem, created once and updated with set_series()."""

    def __init__(
        self,
        plot: pg.PlotItem,
        title: str = "",
        xlabel: str = "epoch",
        ylabel: str = "",
        legend: bool = True,
        grid: bool = False,
    ):
        self.plot = plot
        plot.setTitle(title)
        plot.setLabel("bottom", xlabel)
        plot.setLabel("left", ylabel)
        if grid:  # grid lines are repainted with the axes and cost ~5 ms per axis per frame: static charts only
            plot.showGrid(x=True, y=True, alpha=0.25)
        plot.getAxis("left").enableAutoSIPrefix(False)  # 0.1 reads as 0.1, not "100 (x0.001)"
        self.legend = plot.addLegend(offset=(-10, 10)) if legend else None
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.bands: dict[str, pg.FillBetweenItem] = {}
        self.data: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def set_series(
        self, name: str, x, y, colour: str, dashed: bool = False, width: float = 2.0, band: tuple | None = None
    ) -> None:
        """Create or update the curve ``name``; ``band`` = (low, high) draws a shaded spread."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        pen = pg.mkPen(
            colour, width=width, style=QtCore.Qt.PenStyle.DashLine if dashed else QtCore.Qt.PenStyle.SolidLine
        )
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

    def fit_y(self) -> None:
        """Auto-range y, but show a constant series from 0 (pyqtgraph's range for a flat line is arbitrary)."""
        values = np.concatenate([ys[np.isfinite(ys)] for _, ys in self.data.values()] or [np.zeros(0)])
        if values.size and np.ptp(values) <= 1e-12 * max(1.0, abs(values).max()):
            top = float(values.max())
            self.plot.setYRange(min(0.0, top), max(0.0, top) * 1.25 or 1.0, padding=0)
        else:
            self.plot.enableAutoRange(axis="y")

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
            item = pg.ScatterPlotItem(
                x[sel, 0], x[sel, 1], size=5, brush=colour, pen=pg.mkPen("#111111", width=0.4), name=f"class {k}"
            )
            self.plot.addItem(item)
            self.points.append(item)

    def set_regions(self, xs: np.ndarray, ys: np.ndarray, classes: np.ndarray, confidence: np.ndarray) -> None:
        """Draw the region image: classes[i, j] at (xs[j], ys[i]), lighter where confidence is low."""
        palette = np.array([QtGui.QColor(c).getRgb()[:3] for c in style.CLASS_COLOURS], dtype=float)
        base = palette[classes % len(palette)]
        confidence = np.asarray(confidence, dtype=float)
        unknown = ~np.isfinite(confidence)  # a diverged network predicts nothing: grey, not a false class colour
        alpha = 0.25 + 0.35 * np.clip(np.where(unknown, 0.0, confidence), 0, 1)[..., None]
        rgb = 255 * (1 - alpha) + base * alpha
        rgb[unknown] = 190
        self.image.setImage(rgb.astype(np.uint8), autoLevels=False, levels=(0, 255))
        self.image.setRect(QtCore.QRectF(xs[0], ys[0], xs[-1] - xs[0], ys[-1] - ys[0]))
        self.grid = (xs, ys, classes, confidence)

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows) of the region grid for CSV export."""
        if self.grid is None:
            return ["x", "y", "class", "confidence"], []
        xs, ys, classes, conf = self.grid
        rows = [
            [float(xs[j]), float(ys[i]), int(classes[i, j]), float(conf[i, j])]
            for i in range(len(ys))
            for j in range(len(xs))
        ]
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
        self._make_texts(100)  # made up front: creating them in the middle of training stalls the event loop

    def _make_texts(self, count: int) -> None:
        while len(self.texts) < count:
            text = pg.TextItem("", anchor=(0.5, 0.5))
            text.hide()
            self.plot.addItem(text)
            self.texts.append(text)

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
        wanted = n * n if n <= 20 else 0
        self._make_texts(wanted)  # reused between calls: creating text items is slow
        for k, text in enumerate(self.texts):
            if k < wanted:
                i, j = divmod(k, n)
                text.setText(str(int(matrix[i, j])))
                text.setColor("w" if share[i, j] > 0.55 else "#222222")
                text.setPos(j, i)
                text.show()
            else:
                text.hide()
        ticks = [[(i, str(lab)) for i, lab in enumerate(labels)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        self.plot.setRange(xRange=(-0.5, n - 0.5), yRange=(-0.5, n - 0.5), padding=0.02)

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows) of the counts for CSV export."""
        return ["true", "predicted", "count"], [
            [self.labels[i], self.labels[j], int(self.matrix[i, j])]
            for i in range(len(self.labels))
            for j in range(len(self.labels))
        ]


class TwinChart:
    """Loss on the left axis and accuracy on the right axis of one plot, as in the seeds' figures."""

    def __init__(self, plot: pg.PlotItem, title: str = "loss and accuracy"):
        self.plot = plot
        plot.setTitle(title)
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", "loss", color=style.PALETTE[1])
        self.legend = plot.addLegend(offset=(-10, 10))
        self.right = pg.ViewBox()
        plot.showAxis("right")
        plot.scene().addItem(self.right)
        plot.getAxis("right").linkToView(self.right)
        plot.getAxis("right").setLabel("accuracy", color=style.PALETTE[0])
        self.right.setXLink(plot)
        self.right.setYRange(0, 1)
        plot.vb.sigResized.connect(self._sync)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        specs = [
            ("train loss", plot, style.PALETTE[1], False),
            ("test loss", plot, style.PALETTE[1], True),
            ("train accuracy", self.right, style.PALETTE[0], False),
            ("test accuracy", self.right, style.PALETTE[0], True),
        ]
        for name, box, colour, dashed in specs:
            pen = pg.mkPen(
                colour, width=2, style=QtCore.Qt.PenStyle.DashLine if dashed else QtCore.Qt.PenStyle.SolidLine
            )
            curve = pg.PlotDataItem(pen=pen, connect="finite", symbolBrush=colour, symbolPen=colour, symbolSize=7)
            box.addItem(curve)  # unnamed: set_history manages the legend
            self.curves[name] = curve
        self.diverged = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#d00000", width=2, style=QtCore.Qt.PenStyle.DashLine),
            label="diverged",
            labelOpts={"position": 0.85, "color": "#b00000", "fill": (255, 255, 255, 210)},
        )
        self.diverged.hide()
        plot.addItem(self.diverged, ignoreBounds=True)

    def _sync(self):
        self.right.setGeometry(self.plot.vb.sceneBoundingRect())
        self.right.linkedViewChanged(self.plot.vb, self.right.XAxis)

    def set_history(self, history) -> None:
        """Draw train/test loss and accuracy of a list of EpochRecords."""
        epochs = np.array([h.epoch for h in history], dtype=float)
        for name, attr in (
            ("train loss", "train_loss"),
            ("test loss", "test_loss"),
            ("train accuracy", "train_acc"),
            ("test accuracy", "test_acc"),
        ):
            ys = np.array([np.nan if getattr(h, attr) is None else getattr(h, attr) for h in history], dtype=float)
            curve = self.curves[name]
            finite = int(np.isfinite(ys).sum())
            if finite:
                # a run that diverged at once has one or two finite points: dots, so they are seen at all
                curve.setSymbol("o" if finite <= 2 else None)
                curve.setData(epochs, ys, connect="finite")
                curve.show()
                if self.legend.getLabel(curve) is None:
                    self.legend.addItem(curve, name)
            else:
                curve.setData([], [])
                curve.hide()
                self.legend.removeItem(curve)  # no test set: no empty legend entries
            self.data[name] = (epochs, ys)
        self._sync()

    def set_diverged(self, epoch: int | None) -> None:
        """Mark the epoch where the run diverged with a red dashed line and a label (None hides it)."""
        if epoch is None:
            self.diverged.hide()
            return
        self.diverged.setValue(epoch)
        self.diverged.label.setFormat(f"diverged at epoch {epoch}")
        self.diverged.show()

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows): epoch and the four series."""
        names = list(self.curves)
        if not self.data:
            return ["epoch", *names], []
        epochs = next(iter(self.data.values()))[0]
        rows = [[float(e), *[float(self.data[n][1][i]) for n in names]] for i, e in enumerate(epochs)]
        return ["epoch", *[n.replace(" ", "_") for n in names]], rows


class ImageGrid:
    """A mosaic of test images with predicted/true labels; wrong predictions framed in red."""

    def __init__(self, plot: pg.PlotItem, title: str = "test images: predicted / true (red = wrong)"):
        self.plot = plot
        plot.setTitle(title)
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setAspectLocked(True)
        plot.invertY(True)
        self.image = pg.ImageItem()
        plot.addItem(self.image)
        self.frames = pg.PlotCurveItem(pen=pg.mkPen("#e00000", width=2), connect="finite")
        plot.addItem(self.frames)
        self.texts: list[pg.TextItem] = []
        self.rows: list[list] = []
        self._make_texts(36)

    def _make_texts(self, count: int) -> None:
        while len(self.texts) < count:  # made once and reused
            text = pg.TextItem("", anchor=(0, 1))
            font = text.textItem.font()
            font.setPointSize(7)
            text.setFont(font)
            text.hide()
            self.plot.addItem(text)
            self.texts.append(text)

    def set_samples(self, images, true, predicted, shape, names) -> None:
        """Draw up to 36 images in a square grid with their labels."""
        n = len(images)
        cols = int(np.ceil(np.sqrt(n)))
        h, w = shape
        pad = 10
        mosaic = np.ones(((h + pad) * cols, (w + pad) * cols), dtype=float)
        fx, fy = [], []
        self._make_texts(n)
        for text in self.texts[n:]:
            text.hide()
        self.rows = []
        for i in range(n):
            r, c = divmod(i, cols)
            y0, x0 = r * (h + pad) + pad, c * (w + pad)
            mosaic[y0 : y0 + h, x0 : x0 + w] = 1 - images[i].reshape(h, w)
            wrong = int(predicted[i]) != int(true[i])
            text = self.texts[i]
            text.setText(f"{names[int(predicted[i])]}/{names[int(true[i])]}")
            text.setColor("#d00000" if wrong else "#1a6e1a")
            text.setPos(x0, y0)
            text.show()
            self.rows.append([i, names[int(true[i])], names[int(predicted[i])], wrong])
            if wrong:
                fx += [x0 - 1, x0 + w, x0 + w, x0 - 1, x0 - 1, np.nan]
                fy += [y0 - 1, y0 - 1, y0 + h, y0 + h, y0 - 1, np.nan]
        self.image.setImage(mosaic, levels=(0, 1))
        self.frames.setData(np.array(fx, dtype=float), np.array(fy, dtype=float), connect="finite")

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows): sample index, true and predicted label, wrong."""
        return ["sample", "true", "predicted", "wrong"], self.rows
