"""The loss landscape's charts, for the window and the command line's landscape.png alike.

The map is a filled contour (ContourMap) of the loss on the plane with the projected path on it: a red start
star, yellow epoch dots and a blue current star, as the surface view draws optimizer paths. Under it, the
honesty charts: the loss at the real weights next to the loss at their projection onto the plane, and each
point's off-plane distance relative to its distance from the centre. Beside them, the 1-D view: the loss
along the straight line from the first to the current weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from gui.charts import style
from gui.charts.contour import ContourMap
from gui.charts.curves import LineChart
from gui.charts.paths import PathItems

PATH_COLOUR = "#f4f4f4"  # the path's line: light on the dark (low-loss) end of viridis, where paths go
REAL_COLOUR = style.colour(0)
PROJECTED_COLOUR = style.colour(1)
RATIO_COLOUR = style.colour(3)


class LandscapeCharts:
    """Map, honesty charts and 1-D line on one pg.GraphicsLayout; ``set_landscape`` draws a Landscape."""

    def __init__(self, layout: pg.GraphicsLayout, wide: bool = False):
        """``wide`` (the window): map | honesty charts one above the other | 1-D line, side by side, and no
        caption (the panel has its status line); else (the PNG) map on top, honesty charts, line, caption."""
        if wide:
            self.map_plot = layout.addPlot(row=0, col=0, rowspan=2)
            loss_plot, ratio_plot = layout.addPlot(row=0, col=1), layout.addPlot(row=1, col=1)
            line_plot = layout.addPlot(row=0, col=2, rowspan=2)
        else:
            self.map_plot = layout.addPlot(row=0, col=0, colspan=2)
            loss_plot, ratio_plot = layout.addPlot(row=1, col=0), layout.addPlot(row=1, col=1)
            line_plot = layout.addPlot(row=2, col=0, colspan=2)
        self.map_plot.setLabel("bottom", "α (direction 1)")
        self.map_plot.setLabel("left", "β (direction 2)")
        self.contour = ContourMap(self.map_plot)
        self.map_plot.setAspectLocked(True)  # both directions are in weight units: a circle stays a circle
        self.path = PathItems(self.map_plot, PATH_COLOUR, "path", legend=False, notebook=True)
        # the window's columns are narrow: short titles and no side legend (a long one would widen the column)
        loss_title = "loss: real (solid) vs projected (dashed)" if wide else "loss: real weights vs their projection"
        self.loss_chart = LineChart(loss_plot, loss_title, "epoch", "loss", legend=not wide, grid=True)
        ratio_title = "off-plane ratio" if wide else "off-plane distance / distance from centre"
        self.ratio_chart = LineChart(ratio_plot, ratio_title, "epoch", "off / from centre", legend=False, grid=True)
        self.ratio_chart.plot.setYRange(0, 1.05, padding=0)
        self.line_chart = LineChart(
            line_plot, "loss on the straight line start → now", "t", "loss along the line", legend=False, grid=True
        )
        self.line_marks = pg.ScatterPlotItem(size=14, symbol="star", pen=pg.mkPen("#111111", width=1))
        self.line_marks.setZValue(10)
        line_plot.addItem(self.line_marks)
        self.caption = pg.LabelItem(justify="left", color="#222222", size="9pt")
        inner = layout.layout
        if wide:
            for col, stretch in enumerate((5, 4, 3)):
                inner.setColumnStretchFactor(col, stretch)
        else:
            layout.addItem(self.caption, row=3, col=0, colspan=2)
            for row, stretch in enumerate((5, 2, 2)):
                inner.setRowStretchFactor(row, stretch)
        self.landscape = None
        self.wide = wide

    def set_landscape(self, ls) -> None:
        """Draw ``ls`` (an engine Landscape): contour, projected path, honesty and line charts; returns nothing."""
        self.landscape = ls
        cap = ls.colour_cap()
        self.contour.set_surface(ls.alphas, ls.betas, np.minimum(ls.loss, cap))  # NaN (diverged) stays NaN
        self.map_plot.setLabel("bottom", "α (direction 1)")
        self.map_plot.setLabel("left", "β (direction 2)")
        coords = ls.projection.coords
        self.path.set_path(coords[:, 0], coords[:, 1], None)
        self.path.show()
        rows = f"{len(ls.rows)} of {ls.n_train} training rows" if len(ls.rows) < ls.n_train else "all training rows"
        capped = f" (colours capped at {cap:.3g})" if cap < np.nanmax(ls.loss) else ""
        # the window's map is narrow: a long title would widen it past its column (the status line names the rows)
        title = _plane_title(ls) if self.wide else f"{_plane_title(ls)} · loss on {rows}{capped}"
        self.map_plot.setTitle(title)
        epochs = np.asarray(ls.epochs, dtype=float)
        self.loss_chart.set_series("at the real weights", epochs, ls.path_loss, REAL_COLOUR)
        self.loss_chart.set_series("at the projection", epochs, ls.projected_loss, PROJECTED_COLOUR, dashed=True)
        self.loss_chart.fit_y()
        # at the centre itself the ratio is 0/0: left out rather than drawn as a drop to 0
        ratio = np.where(ls.projection.distance > 0, ls.projection.ratio, np.nan)
        self.ratio_chart.set_series("off-plane ratio", epochs, ratio, RATIO_COLOUR)
        self.ratio_chart.plot.setYRange(0, 1.05, padding=0)
        if len(ls.line_t):
            self.line_chart.set_series("loss", ls.line_t, ls.line_loss, REAL_COLOUR)  # one curve, redrawn
            a, b = ls.epochs[0], ls.epochs[-1]
            self.line_chart.plot.setTitle(
                f"line: epoch {a} → {b}"
                if self.wide
                else f"loss on the straight line from epoch {a} (t = 0) to epoch {b} (t = 1)"
            )
            ends = [int(np.argmin(np.abs(ls.line_t - t))) for t in (0.0, 1.0)]
            self.line_marks.setData(ls.line_t[ends], ls.line_loss[ends], brush=[style.START_COLOUR, style.END_COLOUR])
        else:
            self.line_chart.clear()
            self.line_marks.setData([], [])
        self.caption.setText(ls.summary())

    def clear(self) -> None:
        """Remove everything drawn (a new run starts); returns nothing."""
        self.landscape = None
        self.contour.image.clear()
        self.contour.lines.setData([], [])
        self.path.set_path(np.empty(0), np.empty(0), None)
        self.path.show()
        for chart in (self.loss_chart, self.ratio_chart, self.line_chart):
            chart.clear()
        self.line_marks.setData([], [])
        self.caption.setText("")


def _plane_title(ls) -> str:
    if ls.plane == "random":
        return f"random plane around epoch {ls.center_epoch}"
    if ls.plane == "pca":
        share = sum(ls.explained) if ls.explained else 0.0
        return f"PCA plane ({share:.0%} of the path's spread) around epoch {ls.center_epoch}"
    return f"plane through epochs {', '.join(map(str, ls.plane_epochs))}"


def render_landscape(ls, path: str | Path, size: tuple[int, int] = (1000, 1150)) -> Path:
    """Write the landscape figure (map with path, honesty charts, 1-D line) to a PNG; return its path."""
    from gui.charts.export import export_png
    from gui.charts.render import ensure_app

    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(*size)
    charts = LandscapeCharts(widget.ci)
    charts.set_landscape(ls)
    widget.ci.setGeometry(QtCore.QRectF(0, 0, *size))  # never shown: lay it out at the figure's size now
    widget.ci.layout.activate()
    try:
        return export_png(widget.ci, Path(path), width=size[0])
    finally:
        widget.close()
        widget.deleteLater()


class TwoRunCharts:
    """The comparison plane on one pg.GraphicsLayout: the contour through the shared start and both ends with
    each run's path in its colour, then their real-vs-projected losses and off-plane ratios. ``set_two_runs``
    draws a TwoRunLandscape (again and again: the items of the previous one are removed)."""

    def __init__(self, layout: pg.GraphicsLayout):
        self.map_plot = layout.addPlot(row=0, col=0, colspan=2)
        self.legend = self.map_plot.addLegend(offset=(10, 10))
        self.contour = ContourMap(self.map_plot)
        self.map_plot.setAspectLocked(True)
        self.loss_chart = LineChart(
            layout.addPlot(row=1, col=0), "loss: real (solid) vs projected (dashed)", "epoch", "loss"
        )
        self.ratio_chart = LineChart(
            layout.addPlot(row=1, col=1), "off-plane distance / distance from start", "epoch", "ratio", legend=False
        )
        self.paths: list[PathItems] = []
        self.landscape, self.names = None, []
        layout.layout.setRowStretchFactor(0, 3)
        layout.layout.setRowStretchFactor(1, 1)

    def set_two_runs(self, tl, names: list[str], colours: list[str] | None = None) -> None:
        """Draw ``tl`` (a TwoRunLandscape) with the runs called ``names``, in ``colours`` (default the palette's
        first two; the window passes each run's colour in the comparison's other charts); returns nothing."""
        self.clear()
        self.landscape, self.names = tl, list(names)
        plot = self.map_plot
        losses = np.concatenate([np.concatenate([r.path_loss, r.projected_loss]) for r in tl.runs])
        finite = tl.loss[np.isfinite(tl.loss)]
        top = float(finite.max()) if finite.size else 1.0
        cap = min(top, 3 * float(np.nanmax(losses))) if np.isfinite(losses).any() else top
        self.contour.set_surface(tl.alphas, tl.betas, np.minimum(tl.loss, cap))
        capped = f" (colours capped at {cap:.3g})" if cap < top else ""
        plot.setTitle(f"plane through the shared start and both ends{capped}")
        plot.setLabel("bottom", f"α (1 = the end of {names[0]})")
        plot.setLabel("left", "β")
        for k, (run, name) in enumerate(zip(tl.runs, names)):
            colour = colours[k] if colours else style.colour(k)
            items = PathItems(plot, colour, name, legend=True, stars=(16, 18))
            coords = run.projection.coords
            items.set_path(coords[:, 0], coords[:, 1], None)
            items.show()
            self.paths.append(items)
            epochs = np.asarray(run.epochs, dtype=float)
            self.loss_chart.set_series(f"{name}", epochs, run.path_loss, colour)
            self.loss_chart.set_series(f"{name} projected", epochs, run.projected_loss, colour, dashed=True)
            ratio = np.where(run.projection.distance > 0, run.projection.ratio, np.nan)
            self.ratio_chart.set_series(name, epochs, ratio, colour)
        self.loss_chart.fit_y()
        self.ratio_chart.plot.setYRange(0, 1.05, padding=0)

    def clear(self) -> None:
        """Remove both paths, the contour and the curves; returns nothing."""
        for items in self.paths:
            items.remove()
        self.paths, self.landscape, self.names = [], None, []
        self.legend.clear()
        self.contour.image.clear()
        self.contour.lines.setData([], [])
        self.loss_chart.clear()
        self.ratio_chart.clear()

    def table(self) -> tuple[list[str], list[list]]:
        """Return (header, rows) for CSV: the loss grid, then each run's projected path with its losses."""
        tl = self.landscape
        if tl is None:
            return ["alpha", "beta", "loss", "run", "epoch", "off_plane_ratio", "projected_loss"], []
        rows = [[float(a), float(b), float(tl.loss[i, j]), "", "", "", ""] for i, b in enumerate(tl.betas)
                for j, a in enumerate(tl.alphas)]  # fmt: skip
        for run, name in zip(tl.runs, self.names):
            p = run.projection
            for k, e in enumerate(run.epochs):
                rows.append([float(p.coords[k, 0]), float(p.coords[k, 1]), float(run.path_loss[k]), name, int(e),
                             float(p.ratio[k]), float(run.projected_loss[k])])  # fmt: skip
        return ["alpha", "beta", "loss", "run", "epoch", "off_plane_ratio", "projected_loss"], rows


def render_two_runs(tl, names: list[str], path: str | Path, size: tuple[int, int] = (1000, 1050)) -> Path:
    """Write the comparison plane (a TwoRunLandscape): the contour with both runs' paths in their colours, their
    real-vs-projected losses and their off-plane ratios, to a PNG; return its path."""
    from gui.charts.export import export_png
    from gui.charts.render import ensure_app

    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(*size)
    layout = widget.ci
    TwoRunCharts(layout).set_two_runs(tl, names)
    layout.setGeometry(QtCore.QRectF(0, 0, *size))
    layout.layout.activate()
    try:
        return export_png(layout, Path(path), width=size[0])
    finally:
        widget.close()
        widget.deleteLater()
