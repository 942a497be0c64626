"""Image-like chart items fed by snapshots: decision regions with the data, the confusion matrix, test images."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from gui.charts import style


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
        """Draw the data points, one colour per class; returns nothing."""
        self.prepare(n_classes)
        for k, item in enumerate(self.points):
            sel = y == k
            item.setData(x[sel, 0], x[sel, 1])

    def prepare(self, n_classes: int) -> None:
        """Have one (empty) point item and legend entry per class; returns nothing.

        Items for as many classes as before are kept. The window calls this before a run starts, when it knows
        the class count: creating the items costs ~15 ms of Python that would otherwise land in the middle of
        the run's first epoch, under the GIL its training thread needs.
        """
        if len(self.points) == n_classes:
            return
        for item in self.points:
            self.plot.removeItem(item)
        self.legend.clear()
        self.points = []
        for k in range(n_classes):
            colour = QtGui.QColor(style.CLASS_COLOURS[k % len(style.CLASS_COLOURS)])
            item = pg.ScatterPlotItem(
                [], [], size=5, brush=colour, pen=pg.mkPen("#111111", width=0.4), name=f"class {k}"
            )
            # the points do not move while a run trains, the regions under them do: Qt keeps the points' picture
            # and blits it, so a refresh of the regions repaints in 1.0 ms instead of 2.1
            item.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self.plot.addItem(item)
            self.points.append(item)

    def blank(self) -> None:
        """Show nothing (a new run's data are loading): no points, no regions; the items stay for the next run.
        Returns nothing."""
        for item in self.points:
            item.setData([], [])
        self.image.clear()
        self.grid = None

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

    def __init__(self, plot: pg.PlotItem, title: str = "confusion matrix"):
        self.plot = plot
        self.set_title(title)  # the axes say which is true and which predicted
        plot.setAspectLocked(True)
        plot.invertY(True)
        plot.setLabel("left", "true")
        plot.setLabel("bottom", "predicted")
        self.image = pg.ImageItem()
        plot.addItem(self.image)
        self.texts: list[pg.TextItem] = []
        self._shown: dict[int, tuple] = {}  # text item index -> (text, colour, x, y) it shows
        self._axes = None  # (n, labels) the axes show
        self.matrix = np.zeros((0, 0), dtype=int)
        self.labels: list[str] = []
        self._make_texts(100)  # made up front: creating them in the middle of training stalls the event loop

    def set_title(self, title: str) -> None:
        """Set the title in a font a notch smaller than pyqtgraph's 11 pt, so a note after it still fits."""
        self.plot.setTitle(title, size="10pt")

    def _make_texts(self, count: int) -> None:
        while len(self.texts) < count:
            text = pg.TextItem("", anchor=(0.5, 0.5))
            text.hide()
            self.plot.addItem(text)
            self.texts.append(text)

    def blank(self) -> None:
        """Show an empty matrix (a new run's data are loading); the axes and text items stay for the next one.
        Returns nothing."""
        self.image.clear()
        for text in self.texts:
            text.hide()
        self._shown = {}

    def set_matrix(self, matrix: np.ndarray, labels: list[str]) -> None:
        """Draw ``matrix[true, predicted]`` with ``labels`` on both axes; returns nothing.

        Redrawn while a run trains: only the cells whose count or colour changed are touched, and the axes
        only when the labels did (each change costs a relayout of the item under the GIL the training needs).
        """
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
        shown = self._shown
        for k, text in enumerate(self.texts):
            if k < wanted:
                i, j = divmod(k, n)
                cell = (str(int(matrix[i, j])), "w" if share[i, j] > 0.55 else "#222222", j, i)
                if shown.get(k) != cell:
                    text.setText(cell[0])
                    text.setColor(cell[1])
                    text.setPos(j, i)
                    shown[k] = cell
                text.show()
            else:
                text.hide()
                shown.pop(k, None)
        self._shown = shown
        axes = (n, tuple(str(lab) for lab in labels))
        if self._axes != axes:
            self._axes = axes
            ticks = [list(enumerate(axes[1]))]
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
        self._images = None  # the images of the mosaic drawn last (the same 36 test images every epoch)
        self._labels: dict[int, tuple] = {}  # text item index -> (text, colour, x, y) it shows
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

    def blank(self) -> None:
        """Show no images (a new run's data are loading); returns nothing."""
        self.image.clear()
        self.frames.setData([], [])
        for text in self.texts:
            text.hide()
        self.rows = []
        self._images, self._labels = None, {}

    def set_samples(self, images, true, predicted, shape, names) -> None:
        """Draw up to 36 images in a square grid with their labels; returns nothing.

        Redrawn while a run trains, where only the predictions change: the mosaic is rebuilt only for other
        images, and only the labels that changed are touched.
        """
        images = np.asarray(images)
        n = len(images)
        cols = int(np.ceil(np.sqrt(n)))
        h, w = shape
        pad = 10
        same = self._images is not None and self._images.shape == images.shape and np.array_equal(self._images, images)
        mosaic = None if same else np.ones(((h + pad) * cols, (w + pad) * cols), dtype=float)
        fx, fy = [], []
        self._make_texts(n)
        for k in range(n, len(self.texts)):
            self.texts[k].hide()
            self._labels.pop(k, None)
        self.rows = []
        for i in range(n):
            r, c = divmod(i, cols)
            y0, x0 = r * (h + pad) + pad, c * (w + pad)
            if mosaic is not None:
                mosaic[y0 : y0 + h, x0 : x0 + w] = 1 - images[i].reshape(h, w)
            wrong = int(predicted[i]) != int(true[i])
            label = (f"{names[int(predicted[i])]}/{names[int(true[i])]}", "#d00000" if wrong else "#1a6e1a", x0, y0)
            text = self.texts[i]
            if self._labels.get(i) != label:
                text.setText(label[0])
                text.setColor(label[1])
                text.setPos(x0, y0)
                self._labels[i] = label
            text.show()
            self.rows.append([i, names[int(true[i])], names[int(predicted[i])], wrong])
            if wrong:
                fx += [x0 - 1, x0 + w, x0 + w, x0 - 1, x0 - 1, np.nan]
                fy += [y0 - 1, y0 - 1, y0 + h, y0 + h, y0 - 1, np.nan]
        if mosaic is not None:
            self.image.setImage(mosaic, levels=(0, 1))
            self._images = images.copy()
        self.frames.setData(np.array(fx, dtype=float), np.array(fy, dtype=float), connect="finite")

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows): sample index, true and predicted label, wrong."""
        return ["sample", "true", "predicted", "wrong"], self.rows
