"""Reusable chart items (line chart, decision regions, confusion matrix) used live and for export."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from gui.charts import style
from gui.charts.history_columns import HistoryColumns


class SideLegend(pg.LegendItem):
    """A legend in its own cell of the plot's layout (right of the plot or below it), so it never covers data.

    Past ``COLLAPSE`` entries it switches to two columns in a smaller font; past ``MAX_SHOWN`` the rest are
    summarised in one line ("… and 12 more").
    """

    COLLAPSE = 8
    MAX_SHOWN = 24

    def __init__(self, plot: pg.PlotItem, place: str = "right", columns: int = 1):
        super().__init__(offset=None, labelTextSize="9pt", brush=(255, 255, 255, 0), pen=None, colCount=columns)
        self.frame = False
        self.setFlag(self.GraphicsItemFlag.ItemIgnoresTransformations, False)  # scales with its plot, as in a PNG
        self.place = place
        self.base_columns = columns
        self.base_size = "9pt"
        self.hidden: list[str] = []
        self.summary = pg.LabelItem("", size="8pt", color="#444444", justify="left", parent=self)
        self.summary.hide()
        self.setParentItem(plot)
        if place == "bottom":
            plot.layout.addItem(self, 4, 1)
            plot.layout.setRowSpacing(3, 4)
            plot.layout.setAlignment(self, QtCore.Qt.AlignmentFlag.AlignHCenter)
        else:
            plot.layout.addItem(self, 2, 3)
            plot.layout.setColumnSpacing(2, 6)
            plot.layout.setAlignment(self, QtCore.Qt.AlignmentFlag.AlignTop)
        self.updateSize()

    def add(self, item, name: str) -> None:
        """Add an entry, or count it in the summary line once MAX_SHOWN entries are shown."""
        if len(self.items) >= self.MAX_SHOWN:
            self.hidden.append(name)
        else:
            self.addItem(item, name)
        self.arrange()

    def clear(self) -> None:
        self.hidden = []
        if getattr(self, "summary", None) is not None:
            self.summary.hide()
        super().clear()

    def arrange(self) -> None:
        """Pick columns and font size for the number of entries and show the summary line if needed."""
        n = len(self.items) + len(self.hidden)
        many = n > self.COLLAPSE
        size = "8pt" if many else self.base_size
        if self.opts["labelTextSize"] != size:
            super().setLabelTextSize(size)
            for _, label in self.items:
                label.setText(label.text)  # re-render: pyqtgraph only stores the new size
        if self.summary.isVisible() or self.layout.count():
            for i in range(self.layout.count() - 1, -1, -1):
                if self.layout.itemAt(i) is self.summary:
                    self.layout.removeAt(i)
        self.setColumnCount(max(self.base_columns, 2 if many else 1))
        if self.hidden:
            self.summary.setText(f"… and {len(self.hidden)} more")
            self.layout.addItem(self.summary, self.layout.rowCount(), 0, 1, 2 * self.columnCount)
            self.summary.show()
        else:
            self.summary.hide()
        self.updateSize()

    def setLabelTextSize(self, size: str) -> None:
        """Set the font size used while there are few entries (many entries always get 8 pt)."""
        self.base_size = size
        self.arrange()

    def updateSize(self):
        """Size the legend from its entries and let the plot's layout place it (pyqtgraph would move it to 0, 0)."""
        if getattr(self, "summary", None) is None:
            return
        self.layout.activate()
        hint = self.layout.effectiveSizeHint(QtCore.Qt.SizeHint.PreferredSize)
        w, h = (hint.width(), hint.height()) if self.layout.count() else (0.0, 0.0)
        self.setMinimumSize(w, h)
        self.setMaximumSize(w, h)
        self.setPreferredSize(w, h)
        self.updateGeometry()
        plot = self.parentItem()
        if plot is not None:
            # place it now: a chart rendered to PNG without an event loop (the command line) would otherwise
            # keep the legend where it was created, over the data
            plot.layout.activate()

    def mouseDragEvent(self, ev):
        ev.ignore()  # it lives in the layout: dragging it over the data would defeat its purpose


EMPTY_X = (0.0, 10.0)  # the epochs shown before any data: a plain 0…10 axis, not pyqtgraph's 0…1 in milli-units


def show_empty(plot: pg.PlotItem, log_y: bool = False) -> None:
    """Give an empty ``plot`` a clean default view (epochs 0…10; y 0…1, or 0.001…1 on a log axis, where a
    single decade would show bare 2…9 minor labels); auto-range stays on so the first data fits. Returns nothing."""
    plot.setRange(xRange=EMPTY_X, yRange=(-3.0, 0.0) if log_y else (0.0, 1.0), padding=0)
    plot.enableAutoRange()


def by_pixel_column(curve: pg.PlotDataItem) -> pg.PlotDataItem:
    """Have ``curve``, once added to its plot, drawn as the highest and lowest value of each pixel column when it
    has more points than the plot has pixels across (pyqtgraph's "peak" downsampling); returns the curve.

    It looks the same: a pixel column shows one vertical stroke either way. But an antialiased 2-px line costs
    ~1.6 ms per 1,000 points to paint, under the GIL a training thread needs: a 20,000-epoch run's curves took
    53 ms a redraw, 12 ms so. Exports read the charts' own data, never the drawn points. (Not set on the plot:
    a PlotItem applies its own setting to every item it holds, scatter items too, which have none.)
    """
    curve.setDownsampling(auto=True, method="peak")
    curve.opts["autoDownsampleFactor"] = 1.0  # pyqtgraph's default draws ~5 points per pixel column
    return curve


def _positive(values: np.ndarray) -> np.ndarray:
    """Non-positive values become NaN (gaps): a log axis has no place for them."""
    return np.where(values > 0, values, np.nan)


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
        for side in ("left", "bottom"):
            plot.getAxis(side).enableAutoSIPrefix(False)  # 0.1 reads as 0.1, not "100 (x0.001)"
        show_empty(plot)
        self.legend = SideLegend(plot) if legend else None  # beside the plot, never over the curves
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.bands: dict[str, pg.FillBetweenItem] = {}
        self.band_data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.log_y = False

    def set_series(
        self, name: str, x, y, colour: str, dashed: bool = False, width: float = 2.0, band: tuple | None = None
    ) -> None:
        """Create or update the curve ``name``; ``band`` = (low, high) draws a shaded spread."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        pen = pg.mkPen(
            colour, width=width, style=QtCore.Qt.PenStyle.DashLine if dashed else QtCore.Qt.PenStyle.SolidLine
        )
        shown = _positive(y) if self.log_y else y
        curve = self.curves.get(name)
        if curve is None:
            curve = by_pixel_column(self.plot.plot(x, shown, pen=pen, connect="finite"))
            self.curves[name] = curve
            if self.legend is not None:
                self.legend.add(curve, name)
        else:
            curve.setPen(pen)
            curve.setData(x, shown, connect="finite")
        self.data[name] = (x, y)
        if x.size == 0 and all(xs.size == 0 for xs, _ in self.data.values()):
            show_empty(self.plot, self.log_y)  # emptied (a new run): not the old run's range around nothing
        if band is not None:
            lo, hi = (np.asarray(b, dtype=float) for b in band)
            c = QtGui.QColor(colour)
            c.setAlpha(50)
            if name in self.bands:
                self.plot.removeItem(self.bands.pop(name))
            self.band_data[name] = (x, lo, hi)
            low, high = self._band_curves(name)
            fill = pg.FillBetweenItem(low, high, brush=c)
            fill.setZValue(-1)
            self.plot.addItem(fill)
            self.bands[name] = fill

    def _band_curves(self, name: str) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        """The band's edges in view coordinates: the fill is not a curve, so the plot's log mode passes it by."""
        x, lo, hi = self.band_data[name]
        if self.log_y:
            y = self.data[name][1]
            lo = np.log10(_positive(np.where(lo > 0, lo, y)))  # a spread reaching 0 is cut at the mean
            hi = np.log10(_positive(hi))
        keep = np.isfinite(lo) & np.isfinite(hi)
        return pg.PlotDataItem(x[keep], lo[keep]), pg.PlotDataItem(x[keep], hi[keep])

    def fit_y(self) -> None:
        """Auto-range y, but show a constant series from 0 (pyqtgraph's range for a flat line is arbitrary)."""
        values = np.concatenate([ys[np.isfinite(ys)] for _, ys in self.data.values()] or [np.zeros(0)])
        if self.log_y:
            self.plot.enableAutoRange(axis="y")
        elif values.size and np.ptp(values) <= 1e-12 * max(1.0, abs(values).max()):
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
        self.curves, self.bands, self.band_data, self.data = {}, {}, {}, {}
        show_empty(self.plot, self.log_y)

    def set_log_y(self, on: bool) -> None:
        """Switch the y axis between linear and log scale; non-positive values become gaps on a log axis."""
        self.log_y = bool(on)
        self.plot.setLogMode(y=self.log_y)
        for name, curve in self.curves.items():
            x, y = self.data[name]
            curve.setData(x, _positive(y) if self.log_y else y, connect="finite")
        for name, fill in self.bands.items():
            fill.setCurves(*self._band_curves(name))
        if self.curves:
            self.fit_y()
        else:
            show_empty(self.plot, self.log_y)

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows) of the drawn data for CSV export: series, x, y."""
        rows = [[name, float(a), float(b)] for name, (xs, ys) in self.data.items() for a, b in zip(xs, ys)]
        return ["series", "x", "y"], rows


class TwinChart:
    """Loss on the left axis and accuracy on the right axis of one plot, as in the seeds' figures."""

    def __init__(self, plot: pg.PlotItem, title: str = "loss and accuracy"):
        self.plot = plot
        plot.setTitle(title)
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", "loss", color=style.PALETTE[1])
        for side in ("left", "bottom"):
            plot.getAxis(side).enableAutoSIPrefix(False)
        show_empty(plot)
        self.legend = SideLegend(plot, place="bottom", columns=2)  # below the plot, never over the curves
        self.log_loss = False
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
        self.columns = HistoryColumns()
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
            by_pixel_column(curve)
            self.curves[name] = curve
            # listed from the start: an entry added with the first data re-lays out the plot (and repaints every
            # axis) in the middle of a run's first epoch; set_history removes the ones a run has no data for
            self.legend.add(curve, name)
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
        """Draw train/test loss and accuracy of a list of EpochRecords; returns nothing.

        A list that extends the one drawn last (a run that trained on) converts only its new records.
        """
        self.columns.update(history)
        epochs = self.columns.column("epoch")
        for name, attr in (
            ("train loss", "train_loss"),
            ("test loss", "test_loss"),
            ("train accuracy", "train_acc"),
            ("test accuracy", "test_acc"),
        ):
            ys = self.columns.column(attr)
            curve = self.curves[name]
            finite = int(np.isfinite(ys).sum())
            if finite:
                # a run that diverged at once has one or two finite points: dots, so they are seen at all
                curve.setSymbol("o" if finite <= 2 else None)
                shown = _positive(ys) if self.log_loss and name.endswith("loss") else ys
                curve.setData(epochs, shown, connect="finite")
                curve.show()
                if self.legend.getLabel(curve) is None:
                    self.legend.add(curve, name)
            else:
                curve.setData([], [])
                curve.hide()
                if len(epochs):  # no test set: no empty legend entries (an empty chart keeps them, for the next run)
                    self.legend.removeItem(curve)
            self.data[name] = (epochs, ys)
        if not len(epochs):
            show_empty(self.plot, self.log_loss)
        self._sync()

    def set_log_loss(self, on: bool) -> None:
        """Log scale on the loss axis only (accuracy stays linear); non-positive losses become gaps."""
        self.log_loss = bool(on)
        self.plot.setLogMode(y=self.log_loss)
        self.plot.getAxis("right").setLogMode(False, False)  # setLogMode sets every axis; accuracy is linear
        for name in ("train loss", "test loss"):
            if name in self.data:
                epochs, ys = self.data[name]
                if np.isfinite(ys).any():
                    self.curves[name].setData(epochs, _positive(ys) if self.log_loss else ys, connect="finite")
        if any(np.isfinite(ys).any() for _, ys in self.data.values()):
            self.plot.enableAutoRange(axis="y")
        else:
            show_empty(self.plot, self.log_loss)

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
