"""Whole figures built from the shared chart items, drawn at any step: the still PNGs and the animation frames.

A figure owns an off-screen ``GraphicsLayoutWidget`` of a fixed size and the chart items on it (the window's own
ContourMap, PathLayer, LineChart, DecisionMap, ConfusionMatrix). ``show(state)`` draws one state (a step of the
surface race, an epoch of a run or of a comparison), ``image()`` returns it as an RGB array of exactly the asked
size, and ``save_png(path)`` writes it through gui.charts.export. render.py's still exports and animation.py's
frames both go through these classes, so a frame and a still of the same state are the same picture.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

from engine.surface.scene import path_colours, plot_bounds, start_name, start_style
from gui.charts import paths as chart_paths
from gui.charts import style
from gui.charts.curves import LineChart
from gui.charts.paths import pen_style


class Figure:
    """An off-screen layout of ``size`` (width, height) pixels; subclasses add charts and ``show``."""

    def __init__(self, size: tuple[int, int]):
        from gui.charts.render import ensure_app

        ensure_app()
        self.size = (int(size[0]), int(size[1]))
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.resize(*self.size)
        self._settled = False

    def image(self) -> np.ndarray:
        """Return the figure as drawn now: a (height, width, 3) uint8 RGB array of exactly ``size``."""
        return qimage_rgb(self.qimage())

    def qimage(self) -> QtGui.QImage:
        """Return the figure as drawn now, as a QImage of exactly ``size`` (white background, antialiased).

        The first drawing is made twice: axes measure their tick labels while they paint and then take the width
        those need, so only the second one has the layout every later frame has (a still equals the last frame).
        """
        if not self._settled:
            self._settled = True
            self._render()
        return self._render()

    def _render(self) -> QtGui.QImage:
        layout = self.widget.ci
        width, height = self.size
        if layout.geometry() != QtCore.QRectF(0, 0, width, height):  # a widget never shown is never laid out
            layout.setGeometry(QtCore.QRectF(0, 0, width, height))
        layout.layout.activate()
        image = QtGui.QImage(width, height, QtGui.QImage.Format.Format_RGB32)
        image.fill(QtGui.QColor("white"))
        painter = QtGui.QPainter(image)
        try:
            painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
            layout.scene().render(
                painter,
                QtCore.QRectF(0, 0, width, height),
                layout.sceneBoundingRect(),
                QtCore.Qt.AspectRatioMode.IgnoreAspectRatio,
            )
        finally:
            painter.end()
        return image

    def save_png(self, path):
        """Write the figure as drawn now to a PNG of exactly ``size`` and return its path (OSError names it)."""
        from gui.charts.export import _encoded, check_target, write_file

        path = check_target(path)
        return write_file(path, _encoded(self.qimage(), "PNG", path))

    def close(self) -> None:
        """Free the off-screen widget; returns nothing."""
        self.widget.close()
        self.widget.deleteLater()


def qimage_rgb(image: QtGui.QImage) -> np.ndarray:
    """Return a QImage as a (height, width, 3) uint8 RGB array (a copy)."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    return buffer.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()


class SurfaceFigure(Figure):
    """The loss surface with every path (the surface.png look), and optionally the loss per step beside it.

    ``show(k)`` draws the paths up to step k (None: whole, with the surface's description as the title) and,
    with ``losses``, each path's loss up to step k on fixed axes, so the curves grow from frame to frame.
    """

    def __init__(
        self,
        surface,
        paths,
        grid: int = 300,
        log: bool | None = None,
        notebook: bool = False,
        losses: bool = False,
        size: tuple[int, int] = (1000, 820),
        scene=None,
    ):
        from gui.charts.contour import ContourMap

        super().__init__(size)
        self.surface, self.paths = surface, paths
        self.steps = max((len(p.losses) - 1 for p in paths), default=0)
        widget = self.widget
        self.plot = widget.addPlot(row=0, col=0)
        self.plot.setLabel("bottom", "x")
        self.plot.setLabel("left", "y" if surface.dims == 2 else "f(x)")
        self.plot.addLegend(offset=(10, 10), brush=(255, 255, 255, 200))
        self.contour = ContourMap(self.plot)
        if scene is not None:
            xs, ys, z, colours = scene.xs, scene.ys, scene.z, scene.colours
        else:
            xs, ys, z = surface.grid(grid)
            colours = path_colours(paths)
        self.contour.set_surface(xs, ys, z, surface.log_scale if log is None else log, surface.minima)
        self.layer = chart_paths.PathLayer(self.plot, notebook=notebook)
        self.layer.bounds = plot_bounds(surface, z)
        self.layer.set_paths(paths, colours, [p.label or p.optimizer for p in paths])
        if surface.dims == 2:
            self.plot.setRange(xRange=surface.domain[0], yRange=surface.domain[1], padding=0)
        else:
            self.plot.setRange(xRange=self.layer.bounds[0], yRange=self.layer.bounds[1], padding=0.04)
        self.plot.disableAutoRange()  # every frame keeps the same view, whatever the paths reach
        self.loss_chart = None
        if losses:
            self._add_losses(colours)
        # static layers drawn once into pixmaps: a frame then repaints only the paths (as the window does)
        cache = pg.QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache
        for item in (self.contour.image, self.contour.lines):
            item.setCacheMode(cache)

    def _add_losses(self, colours: list[str]) -> None:
        plot = self.widget.addPlot(row=0, col=1)
        self.loss_chart = LineChart(plot, "loss per step", "step", "f", legend=False)  # the map's legend serves
        several = len({p.start_index for p in self.paths}) > 1
        self.loss_names = []
        finite = []
        for p, colour in zip(self.paths, colours):
            name = start_name(p.label or p.optimizer, p.start_index, several)
            self.loss_chart.set_series(name, np.arange(len(p.losses)), p.losses, colour)
            self.loss_chart.curves[name].setPen(
                pg.mkPen(colour, width=2, style=pen_style(start_style(p.start_index)[1]))
            )
            self.loss_names.append(name)
            finite.append((p.diverged_at is None, p.losses[np.isfinite(p.losses)]))
        # a diverged path's last losses (1e9) would flatten every other curve: the axis is the others', and its
        # curve leaves the chart at the top (the map names the step it diverged at)
        kept = [v for ok, v in finite if ok] or [v for _, v in finite]
        values = np.concatenate(kept) if kept else np.zeros(0)
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        if high - low <= 1e-12 * max(1.0, abs(high)):
            low, high = low - 0.5, high + 0.5
        plot.setRange(xRange=(0, max(1, self.steps)), yRange=(low, high), padding=0.03)
        plot.disableAutoRange()
        self.widget.ci.layout.setColumnStretchFactor(0, 3)
        self.widget.ci.layout.setColumnStretchFactor(1, 2)

    def show(self, step: int | None = None) -> None:
        """Draw every path (and loss curve) up to ``step`` (None: all, with the description as the title)."""
        self.layer.show(step)
        s = self.surface
        if step is None:
            self.plot.setTitle(f"{s.name} — {s.description}")
        else:
            self.plot.setTitle(f"{s.name} — step {step} of {self.steps}")
        if self.loss_chart is not None:
            n = None if step is None else step + 1
            for p, name in zip(self.paths, self.loss_names):
                self.loss_chart.curves[name].setData(np.arange(len(p.losses))[:n], p.losses[:n], connect="finite")


def history_series(history, one_colour: bool = True) -> tuple[list[dict], list[dict]]:
    """Return (loss series, accuracy series) of one run's history: train solid, test in the second colour.

    Each series is {name, x, y, colour}; the accuracy list is empty for data without classes.
    """
    epochs = np.array([r.epoch for r in history], dtype=float)

    def values(key):
        return np.array([np.nan if getattr(r, key) is None else getattr(r, key) for r in history], dtype=float)

    loss = [{"name": "train", "x": epochs, "y": values("train_loss"), "colour": style.colour(0)}]
    acc = []
    if history and history[0].test_loss is not None:
        loss.append({"name": "test", "x": epochs, "y": values("test_loss"), "colour": style.colour(1)})
    if history and history[0].train_acc is not None:
        acc.append({"name": "train", "x": epochs, "y": values("train_acc"), "colour": style.colour(0)})
        if history[0].test_acc is not None:
            acc.append({"name": "test", "x": epochs, "y": values("test_acc"), "colour": style.colour(1)})
    return loss, acc


def _draw_series(chart: LineChart, series: list[dict], upto: float | None) -> None:
    """Set every series on ``chart``, cut to x ≤ ``upto`` (None: whole), with its seed band if it has one."""
    for s in series:
        x = np.asarray(s["x"], dtype=float)
        keep = slice(None) if upto is None else x <= upto
        band = s.get("band")
        if band is not None:
            band = (np.asarray(band[0], dtype=float)[keep], np.asarray(band[1], dtype=float)[keep])
        y = np.asarray(s["y"], dtype=float)[keep]
        chart.set_series(s["name"], x[keep], y, s["colour"], s.get("dashed", False), band=band)


class CurvesFigure(Figure):
    """Line charts side by side (loss, accuracy, …) that grow epoch by epoch on fixed x axes: a comparison.

    ``panels`` is a list of (title, y label, series dicts as render_lines takes them), drawn whole by
    ``show(None)`` or up to an epoch by ``show(epoch)``.
    """

    def __init__(self, panels: list[tuple[str, str, list[dict]]], size: tuple[int, int] = (1200, 560), title: str = ""):
        super().__init__(size)
        self.panels = panels
        self.title = title
        self.charts: list[LineChart] = []
        last = max((float(np.max(s["x"])) for _, _, series in panels for s in series if len(s["x"])), default=1.0)
        self.last = last
        for col, (name, ylabel, series) in enumerate(panels):
            chart = LineChart(self.widget.addPlot(row=1, col=col), name, "epoch", ylabel, grid=True)
            chart.plot.setXRange(0, max(1.0, last), padding=0.02)
            chart.plot.disableAutoRange(axis="x")
            _fix_y(chart.plot, series, ylabel)
            self.charts.append(chart)
        self.heading = self.widget.addLabel("", row=0, col=0, colspan=max(1, len(panels)), size="13pt")

    def show(self, epoch: float | None = None) -> None:
        """Draw every series up to ``epoch`` (None: whole); the heading says which epoch."""
        for chart, (_, _, series) in zip(self.charts, self.panels):
            _draw_series(chart, series, epoch)
        at = self.last if epoch is None else epoch
        self.heading.setText(f"{self.title} — epoch {at:g} of {self.last:g}".strip(" —"))


def _fix_y(plot, series: list[dict], ylabel: str) -> None:
    """Fix the y range to the finite values of ``series`` (accuracy: 0..1), so frames do not jump."""
    if ylabel == "accuracy":
        plot.setYRange(0, 1, padding=0.02)
        plot.disableAutoRange(axis="y")
        return
    values = [np.asarray(s["y"], dtype=float) for s in series]
    values += [np.asarray(b, dtype=float) for s in series if s.get("band") is not None for b in s["band"]]
    finite = np.concatenate([v[np.isfinite(v)] for v in values] or [np.zeros(0)])
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        if high - low <= 1e-12 * max(1.0, abs(high)):
            low, high = min(0.0, low), max(high * 1.25, 1.0)
        plot.setYRange(min(0.0, low) if low >= 0 else low, high, padding=0.03)
        plot.disableAutoRange(axis="y")


class TrainingFigure(Figure):
    """One run: decision regions (2-D class data) or the confusion matrix on the left, loss and accuracy growing
    on the right, on x axes of the whole run. ``show(frame)`` draws an engine.animation.TrainingFrame.

    ``landscape`` (an engine Landscape of this run, as the window's landscape panel shows it) adds its map in
    the middle, drawn by the landscape chart's own items, with the projected path up to the frame's epoch.
    """

    def __init__(self, epochs: int, size: tuple[int, int] = (1200, 640), title: str = "training", landscape=None):
        super().__init__(size)
        self.epochs, self.title = epochs, title
        right = 2 if landscape is not None else 1
        self.heading = self.widget.addLabel("", row=0, col=0, colspan=right + 1, size="13pt")
        self.panel_plot = self.widget.addPlot(row=1, col=0, rowspan=2)
        self.landscape = landscape
        if landscape is not None:
            self._add_landscape(landscape)
        self.loss = LineChart(self.widget.addPlot(row=1, col=right), "loss", "epoch", "loss", grid=True)
        self.acc = LineChart(self.widget.addPlot(row=2, col=right), "accuracy", "epoch", "accuracy", grid=True)
        for chart in (self.loss, self.acc):
            chart.plot.setXRange(0, max(1, epochs), padding=0.02)
            chart.plot.disableAutoRange(axis="x")
        self.acc.plot.setYRange(0, 1, padding=0.02)
        self.acc.plot.disableAutoRange(axis="y")
        self.widget.ci.layout.setColumnStretchFactor(0, 1)
        self.widget.ci.layout.setColumnStretchFactor(1, 1)
        self.decision = self.confusion = None
        self._points = None
        self._loss_top, self._loss_low = -np.inf, 0.0  # the loss axis so far

    def _add_landscape(self, ls) -> None:
        from gui.charts.contour import ContourMap
        from gui.charts.landscape import PATH_COLOUR

        plot = self.widget.addPlot(row=1, col=1, rowspan=2)
        plot.setTitle("loss landscape (plane of the whole run)")
        ContourMap(plot).set_surface(ls.alphas, ls.betas, np.minimum(ls.loss, ls.colour_cap()))
        plot.setLabel("bottom", "α (direction 1)")  # after the contour, which names its axes x and y
        plot.setLabel("left", "β (direction 2)")
        plot.setAspectLocked(True)
        self.landscape_path = chart_paths.PathItems(plot, PATH_COLOUR, "path", legend=False, notebook=True)
        coords = ls.projection.coords
        self.landscape_path.set_path(coords[:, 0], coords[:, 1], None)
        self.landscape_epochs = np.asarray(ls.epochs)

    def _panel(self, visuals) -> None:
        from gui.charts.images import ConfusionMatrix, DecisionMap

        if visuals is None:
            return
        if visuals.decision is not None:
            if self.decision is None:
                self.decision = DecisionMap(self.panel_plot, "decision regions")
            self.decision.set_regions(*visuals.decision)
            if visuals.points is not None and visuals.points is not self._points:
                self._points = visuals.points
                self.decision.set_data(np.asarray(visuals.points[0]), np.asarray(visuals.points[1]), visuals.points[2])
                self.panel_plot.autoRange(padding=0)
        elif visuals.confusion is not None:
            if self.confusion is None:
                self.confusion = ConfusionMatrix(self.panel_plot, "confusion matrix (rows true, columns predicted)")
            matrix, names, _ = visuals.confusion
            self.confusion.set_matrix(matrix, names)

    def _fit_loss(self, series: list[dict]) -> None:
        """Loss from 0 to the highest finite value so far: the axis grows only when a loss goes higher, so the
        frames do not jump as the loss falls (the end is not known while the run trains)."""
        values = np.concatenate([np.asarray(s["y"], dtype=float) for s in series] or [np.zeros(0)])
        values = values[np.isfinite(values)]
        top = float(values.max()) if values.size else 1.0
        low = min(0.0, float(values.min())) if values.size else 0.0
        if top > self._loss_top or low < self._loss_low:
            self._loss_top, self._loss_low = top, low
            self.loss.plot.setYRange(low, top if top > low else low + 1.0, padding=0.04)
            self.loss.plot.disableAutoRange(axis="y")

    def show(self, frame) -> None:
        """Draw a TrainingFrame: its epoch's panel and the curves up to that epoch (loss on an auto y axis)."""
        loss, acc = history_series(frame.history)
        _draw_series(self.loss, loss, None)
        self._fit_loss(loss)
        _draw_series(self.acc, acc, None)
        self._panel(frame.visuals)
        if self.landscape is not None:  # the path's points up to this epoch (it records every few epochs)
            self.landscape_path.show(int(np.sum(self.landscape_epochs <= frame.frame.step)) - 1)
        state = f"diverged at epoch {frame.diverged_at}" if frame.diverged_at is not None else ""
        last = frame.history[-1] if frame.history else None
        if last is not None and not state:
            acc = ("test", last.test_acc) if last.test_acc is not None else ("train", last.train_acc)
            state = f"train loss {last.train_loss:.4g}" + (
                f", {acc[0]} accuracy {acc[1]:.3f}" if acc[1] is not None else ""
            )
        text = f"{self.title} — epoch {frame.frame.step} of {self.epochs}" + (f" — {state}" if state else "")
        self.heading.setText(text)


def comparison_panels(results, names: list[str]) -> tuple[list[tuple[str, str, list[dict]]], str]:
    """Return (panels, "test" or "train") of a comparison: its loss and (with classes) accuracy, one series per
    configuration (mean over seeds, with the seeds' band), in the colours of compare_loss.png."""
    from engine.training.compare import curve_colour, seed_curves

    use_test = results[0].history[0].test_loss is not None
    which = "test" if use_test else "train"

    def series(key: str) -> list[dict]:
        items = []
        for k, c in enumerate(seed_curves(results, key)):
            band = (c.low, c.high) if c.low is not None else None
            colour = curve_colour(c.runs[0].label, names) or style.colour(k)
            items.append({"name": c.name, "x": c.epochs, "y": c.mean, "colour": colour, "band": band})
        return items

    panels = [(f"{which} loss", "loss", series(f"{which}_loss"))]
    if results[0].history[0].train_acc is not None:
        panels.append((f"{which} accuracy", "accuracy", series(f"{which}_acc")))
    return panels, which
