"""Writing charts to PNG and SVG, and chart data to CSV, each file all-or-nothing.

Every export renders into memory first, then writes the bytes to a temporary file in the target folder and
moves it into place in one step (engine.io.atomic_path): an existing file is never left half-written, and a
failure (a missing or unwritable folder, a full disk, an image Qt cannot encode) raises OSError whose
message (``strerror``) names the path. Qt's own savers report failure only by returning False, which is why
nothing here lets Qt write to the file itself.

SVG goes through Qt's QSvgGenerator instead of pyqtgraph's SVGExporter, which fails on every plot in
pyqtgraph 0.14.0 (issue #3495: it cannot parse closed paths ending in 'Z').
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers ImageExporter)
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from engine.io import atomic_path, csv_text


def export_error(path: Path, reason: str, code: int = errno.EIO) -> OSError:
    """Return the OSError for a file that could not be written: its message names ``path`` and the reason."""
    return OSError(code, f"cannot write {path}: {reason}", str(path))


def check_target(path: str | Path) -> Path:
    """Return ``path`` as a Path; raise OSError naming it when its folder is missing, a file, or not writable."""
    if not str(path).strip():
        raise OSError(errno.EINVAL, "cannot write: no file name given", str(path))
    path = Path(path)
    folder = path.absolute().parent
    if not folder.exists():
        raise export_error(path, f"folder {folder} does not exist", errno.ENOENT)
    if not folder.is_dir():
        raise export_error(path, f"{folder} is a file, not a folder", errno.ENOTDIR)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise export_error(path, f"folder {folder} is not writable", errno.EACCES)
    if path.is_dir():
        raise export_error(path, "it is a folder", errno.EISDIR)
    return path


def write_file(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and one rename; raise OSError naming ``path``."""
    path = check_target(path)
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as err:
        raise export_error(path, err.strerror or str(err), err.errno or errno.EIO) from None
    return path


def _encoded(image: QtGui.QImage, fmt: str, path: Path) -> bytes:
    """Return ``image`` encoded as ``fmt`` (PNG); raise OSError naming ``path`` when Qt cannot encode it."""
    if image is None or image.isNull():
        raise export_error(path, "the chart could not be drawn (empty image)")
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, fmt):
        raise export_error(path, f"Qt could not encode the image as {fmt}")
    return bytes(buffer.data())


def export_png(item: QtWidgets.QGraphicsItem, path: str | Path, width: int | None = None) -> Path:
    """Write ``item`` (a PlotItem or layout) to a PNG file and return its path; raise OSError naming it."""
    path = check_target(path)
    exporter = pg.exporters.ImageExporter(item)
    if width:
        exporter.parameters()["width"] = int(width)
    try:
        image = exporter.export(toBytes=True)
    except Exception as err:  # noqa: BLE001 — pyqtgraph raises a bare Exception for a zero-sized chart
        raise export_error(path, f"the chart could not be drawn ({err})") from None
    return write_file(path, _encoded(image, "PNG", path))


def export_svg(item: QtWidgets.QGraphicsItem, path: str | Path, title: str = "Descent Lab chart") -> Path:
    """Write ``item`` to an SVG file with Qt's SVG generator and return its path; raise OSError naming it."""
    path = check_target(path)
    rect = item.sceneBoundingRect()
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    generator = QtSvg.QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(QtCore.QSize(int(rect.width()), int(rect.height())))
    generator.setViewBox(QtCore.QRectF(0, 0, rect.width(), rect.height()))
    generator.setTitle(title)
    painter = QtGui.QPainter()
    if not painter.begin(generator):
        raise export_error(path, "Qt could not start the SVG drawing")
    try:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        item.scene().render(painter, QtCore.QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()
    data = bytes(buffer.data())
    if not data:
        raise export_error(path, "the SVG drawing is empty")
    return write_file(path, data)


def export_csv(header: list[str], rows: list[list], path: str | Path) -> Path:
    """Write a table with a header row to CSV and return its path; raise OSError naming it."""
    return write_file(path, csv_text(header, rows).encode("utf-8"))
