"""Writing charts to PNG and SVG, and chart data to CSV.

SVG goes through Qt's QSvgGenerator instead of pyqtgraph's SVGExporter, which fails on every plot in
pyqtgraph 0.14.0 (issue #3495: it cannot parse closed paths ending in 'Z').
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers ImageExporter)
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets


def export_png(item: QtWidgets.QGraphicsItem, path: str | Path, width: int | None = None) -> Path:
    """Write ``item`` (a PlotItem or layout) to a PNG file and return its path."""
    path = Path(path)
    exporter = pg.exporters.ImageExporter(item)
    if width:
        exporter.parameters()["width"] = int(width)
    exporter.export(str(path))
    return path


def export_svg(item: QtWidgets.QGraphicsItem, path: str | Path, title: str = "Descent Lab chart") -> Path:
    """Write ``item`` to an SVG file with Qt's SVG generator and return its path."""
    path = Path(path)
    rect = item.sceneBoundingRect()
    generator = QtSvg.QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QtCore.QSize(int(rect.width()), int(rect.height())))
    generator.setViewBox(QtCore.QRectF(0, 0, rect.width(), rect.height()))
    generator.setTitle(title)
    painter = QtGui.QPainter()
    if not painter.begin(generator):
        raise OSError(f"cannot write {path}")
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        item.scene().render(painter, QtCore.QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()
    return path


def export_csv(header: list[str], rows: list[list], path: str | Path) -> Path:
    """Write a table with a header row to CSV and return its path."""
    path = Path(path)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path
