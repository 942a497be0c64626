"""Headless rendering of every chart to PNG, for the command line (same chart code as the window)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def ensure_app():
    """Return the QApplication, creating an offscreen one when none exists and there is no display."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from gui.charts import style

    style.configure()
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def _layout(width: int, height: int):
    import pyqtgraph as pg

    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(width, height)
    return widget


def _save(widget, item, path: Path) -> Path:
    from gui.charts.export import export_png

    widget.ci.layout.activate()
    return export_png(item, path, width=widget.width())


def render_surface(
    surface, paths, path: str | Path, grid: int = 300, log: bool | None = None, notebook: bool = False
) -> Path:
    """Write the contour (or 1-D curve) of ``surface`` with every path and a legend to a PNG; return its path.

    ``notebook``: the seed notebooks' markers (red start star, yellow dots, blue end star)."""
    from engine.surface.scene import path_colours, plot_bounds
    from gui.charts.contour import ContourMap
    from gui.charts.paths import PathLayer

    widget = _layout(1000, 820)
    plot = widget.addPlot(title=f"{surface.name} — {surface.description}")
    plot.setLabel("bottom", "x")
    plot.addLegend(offset=(10, 10), brush=(255, 255, 255, 200))
    contour = ContourMap(plot)
    xs, ys, z = surface.grid(grid)
    contour.set_surface(xs, ys, z, surface.log_scale if log is None else log, surface.minima)
    layer = PathLayer(plot, notebook=notebook)
    layer.bounds = plot_bounds(surface, z)
    layer.set_paths(paths, path_colours(paths), [p.label or p.optimizer for p in paths])
    layer.show()
    if surface.dims == 2:
        plot.setRange(xRange=surface.domain[0], yRange=surface.domain[1], padding=0)
    return _save(widget, widget.ci, Path(path))


def render_lines(
    series: list[dict], path: str | Path, title: str, ylabel: str, xlabel: str = "epoch", log_y: bool = False
) -> Path:
    """Write a line chart (each series is {name, x, y, colour, dashed?, band?}) to a PNG; return its path."""
    from gui.charts.curves import LineChart

    widget = _layout(900, 560)
    chart = LineChart(widget.addPlot(), title, xlabel, ylabel, grid=True)
    for s in series:
        chart.set_series(s["name"], s["x"], s["y"], s["colour"], s.get("dashed", False), band=s.get("band"))
    chart.set_log_y(log_y)
    return _save(widget, widget.ci, Path(path))


def render_grid(cells: dict, rows: list[str], cols: list[str], path: str | Path, title: str, ylabel: str) -> Path:
    """Write small multiples (cells[(row, col)] = list of series dicts, one titled plot per cell); return the path.

    Each cell is drawn at gui.charts.grid.PANEL_W × PANEL_H, so the figure grows with the grid.
    """
    from gui.charts.export import export_png
    from gui.charts.grid import grid_widget

    ensure_app()
    widget = grid_widget(cells, rows, cols, title, ylabel)
    return export_png(widget.ci, Path(path), width=int(widget.sceneRect().width()))


def render_decision(xs, ys, classes, confidence, x, y, n_classes: int, path: str | Path, title: str) -> Path:
    """Write decision regions with the data points to a PNG; return its path."""
    from gui.charts.images import DecisionMap

    widget = _layout(760, 720)
    chart = DecisionMap(widget.addPlot(), title)
    chart.set_regions(xs, ys, classes, confidence)
    chart.set_data(np.asarray(x), np.asarray(y), n_classes)
    return _save(widget, widget.ci, Path(path))


def render_confusion(matrix, labels, path: str | Path, title: str) -> Path:
    """Write a confusion matrix to a PNG; return its path."""
    from gui.charts.images import ConfusionMatrix

    widget = _layout(720, 700)
    plot = widget.addPlot()
    chart = ConfusionMatrix(plot, title)
    chart.set_matrix(matrix, labels)
    plot.layout.activate()  # never shown: lay the title and axis labels out now, or they overlap in the PNG
    return _save(widget, widget.ci, Path(path))
