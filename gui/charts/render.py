"""Headless rendering of every chart to PNG, for the command line (same chart code as the window).

Each ``render_*`` takes ``formats`` (default ("png",)): the chart is written as ``path`` with each of those
suffixes, png and/or svg, the SVG drawn as the PNG (gui.charts.export)."""

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


def _save(widget, item, path: Path, formats: tuple[str, ...] = ("png",), width: int | None = None) -> Path:
    """Write ``item`` as ``path`` with each suffix in ``formats`` (png, svg), same size; return the first file."""
    from gui.charts.export import export_png, export_svg

    widget.ci.layout.activate()
    width = width or widget.width()
    written = [
        (export_svg if fmt == "svg" else export_png)(item, path.with_suffix(f".{fmt}"), width=width) for fmt in formats
    ]
    return written[0]


def render_surface(
    surface,
    paths,
    path: str | Path,
    grid: int = 300,
    log: bool | None = None,
    notebook: bool = False,
    step: int | None = None,
    losses: bool = False,
    size: tuple[int, int] = (1000, 820),
    formats: tuple[str, ...] = ("png",),
) -> Path:
    """Write the contour (or 1-D curve) of ``surface`` with every path and a legend to a PNG; return its path.

    ``formats``: write ``path`` with each of these suffixes (png, svg), the SVG drawn as the PNG.

    ``notebook``: the seed notebooks' markers (red start star, yellow dots, blue end star). ``step``: draw the
    paths up to that step, titled "step k of N" (an animation frame's still); ``losses``: the loss per step beside
    the map; ``size``: the PNG's (width, height). Drawn by gui.charts.figures.SurfaceFigure, as the frames are."""
    from gui.charts.figures import SurfaceFigure

    figure = SurfaceFigure(surface, paths, grid=grid, log=log, notebook=notebook, losses=losses, size=size)
    try:
        figure.show(step)
        path = Path(path)
        written = []
        for fmt in formats:
            target = path.with_suffix(f".{fmt}")
            if fmt == "svg":
                from gui.charts.export import export_svg

                figure.qimage()  # lays the figure out at its size, as for the PNG (a never-shown widget is not)
                written.append(export_svg(figure.widget.ci, target, width=figure.size[0]))
            else:
                written.append(figure.save_png(target))
        return written[0]
    finally:
        figure.close()


def render_lines(
    series: list[dict],
    path: str | Path,
    title: str,
    ylabel: str,
    xlabel: str = "epoch",
    log_y: bool = False,
    formats: tuple[str, ...] = ("png",),
) -> Path:
    """Write a line chart (each series is {name, x, y, colour, dashed?, band?}) to a PNG; return its path."""
    from gui.charts.curves import LineChart

    widget = _layout(900, 560)
    chart = LineChart(widget.addPlot(), title, xlabel, ylabel, grid=True)
    for s in series:
        chart.set_series(s["name"], s["x"], s["y"], s["colour"], s.get("dashed", False), band=s.get("band"))
    chart.set_log_y(log_y)
    return _save(widget, widget.ci, Path(path), formats)


def render_grid(
    cells: dict, rows: list[str], cols: list[str], path: str | Path, title: str, ylabel: str, formats=("png",)
) -> Path:
    """Write small multiples (cells[(row, col)] = list of series dicts, one titled plot per cell); return the path.

    Each cell is drawn at gui.charts.grid.PANEL_W × PANEL_H, so the figure grows with the grid.
    """
    from gui.charts.grid import grid_widget

    ensure_app()
    widget = grid_widget(cells, rows, cols, title, ylabel)
    return _save(widget, widget.ci, Path(path), formats, width=int(widget.sceneRect().width()))


def render_decision(
    xs, ys, classes, confidence, x, y, n_classes: int, path: str | Path, title: str, formats=("png",)
) -> Path:
    """Write decision regions with the data points to a PNG; return its path."""
    from gui.charts.images import DecisionMap

    widget = _layout(760, 720)
    chart = DecisionMap(widget.addPlot(), title)
    chart.set_regions(xs, ys, classes, confidence)
    chart.set_data(np.asarray(x), np.asarray(y), n_classes)
    return _save(widget, widget.ci, Path(path), formats)


def render_confusion(matrix, labels, path: str | Path, title: str, formats=("png",)) -> Path:
    """Write a confusion matrix to a PNG; return its path."""
    from gui.charts.images import ConfusionMatrix

    widget = _layout(720, 700)
    plot = widget.addPlot()
    chart = ConfusionMatrix(plot, title)
    chart.set_matrix(matrix, labels)
    plot.layout.activate()  # never shown: lay the title and axis labels out now, or they overlap in the PNG
    return _save(widget, widget.ci, Path(path), formats)
