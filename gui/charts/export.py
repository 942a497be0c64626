"""Writing charts to PNG and SVG, and chart data to CSV, each file all-or-nothing.

Every export renders into memory first, then writes the bytes to a temporary file in the target folder and
moves it into place in one step (engine.io.atomic_path): an existing file is never left half-written, and a
failure (a missing or unwritable folder, a full disk, an image Qt cannot encode) raises OSError whose
message (``strerror``) names the path. Qt's own savers report failure only by returning False, which is why
nothing here lets Qt write to the file itself.

SVG goes through Qt's QSvgGenerator (SVG 1.1, with clip paths) and gui.charts.svg.fix_svg, not pyqtgraph's
SVGExporter: that one fails on every plot in pyqtgraph 0.14.0 (issue #3495: it cannot parse closed paths ending
in 'Z') and, even patched, embeds images at their own size (a 3 × 3 confusion image, blurred by every viewer).
"""

from __future__ import annotations

import errno
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (registers ImageExporter)
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from engine.io import atomic_path, csv_text
from gui.charts.svg import fix_svg


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


_background = threading.local()  # per thread: the worker of its ``png_writes_in_background``, while open


@contextmanager
def png_writes_in_background() -> Iterator[None]:
    """Return a context in which ``export_png`` draws each chart at once but encodes and writes its file on a
    worker thread (Qt lets Python run while it encodes), so that the next chart is drawn meanwhile.

    Leaving the context waits for every file, then raises the error of the first write that failed: the one
    that drawing the charts one by one would have raised first, even when a later chart then failed to draw.
    """
    from concurrent.futures import ThreadPoolExecutor

    if getattr(_background, "writer", None) is not None:  # already inside one
        yield
        return
    writes = []
    _background.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-writer"), writes
    try:
        yield
    except Exception:
        _wait(writes)
        raise
    finally:
        pool, _ = _background.writer
        _background.writer = None
        pool.shutdown(wait=True)
    _wait(writes)


def _wait(writes: list) -> None:
    """Wait for each write; raise the first one's error."""
    for write in writes:
        write.result()


def export_png(item: QtWidgets.QGraphicsItem, path: str | Path, width: int | None = None) -> Path:
    """Write ``item`` (a PlotItem or layout) to a PNG file and return its path; raise OSError naming it.

    Inside ``png_writes_in_background`` the file is encoded and written on a worker thread, and its error
    raised when the context ends.
    """
    path = check_target(path)
    exporter = pg.exporters.ImageExporter(item)
    if width:
        exporter.parameters()["width"] = int(width)
    try:
        image = exporter.export(toBytes=True)
    except Exception as err:  # noqa: BLE001 — pyqtgraph raises a bare Exception for a zero-sized chart
        raise export_error(path, f"the chart could not be drawn ({err})") from None
    writer = getattr(_background, "writer", None)  # another thread's context does not apply here
    if writer is None:
        return write_file(path, _encoded(image, "PNG", path))
    pool, writes = writer
    writes.append(pool.submit(lambda: write_file(path, _encoded(image, "PNG", path))))
    return path


def export_svg(
    item: QtWidgets.QGraphicsItem, path: str | Path, title: str = "Descent Lab chart", width: int | None = None
) -> Path:
    """Write ``item`` to an SVG file drawn like its PNG export at ``width`` pixels; return its path.

    Raises OSError naming the path. See :func:`svg_bytes` for how it is drawn.
    """
    path = check_target(path)
    return write_file(path, svg_bytes(item, path, title, width))


def svg_bytes(item: QtWidgets.QGraphicsItem, path: Path, title: str, width: int | None = None) -> bytes:
    """Return ``item`` drawn as an SVG document ``width`` pixels wide (default: its own width).

    It is the PNG export's drawing, stroke for stroke: the same pyqtgraph export mode (symbols as vectors) and
    the scene scaled to ``width``, first recorded into a QPicture and then replayed into Qt's SVG generator.
    Drawn straight into the generator, a clip that a painter restore brings back is never written, so the
    plot's clip leaks onto the next items (legend samples vanish in librsvg); the replay writes every clip.
    The generator runs at the QPicture's DPI: at its default 72, pyqtgraph's recorded axis pictures replay at
    3/4 size, off their curves. gui.charts.svg.fix_svg then makes librsvg, Qt and browsers draw the file alike.
    Raises OSError naming ``path`` when the chart has no size.
    """
    exporter = pg.exporters.ImageExporter(item)
    source = exporter.getSourceRect()
    if source.width() < 1 or source.height() < 1:
        raise export_error(path, "the chart could not be drawn (it has no size)")
    w = int(width or round(source.width()))
    h = int(w * source.height() / source.width())
    scale = w / (exporter.getTargetRect().width() or source.width())  # as ImageExporter: symbols scale alike
    background = exporter.parameters()["background"]
    picture = QtGui.QPicture()
    painter = QtGui.QPainter(picture)
    cached = [(i, i.cacheMode()) for i in item.scene().items() if i.cacheMode() != i.CacheMode.NoCache]
    exporter.setExportMode(
        True, {"antialias": True, "background": background, "painter": painter, "resolutionScale": scale}
    )
    try:
        for i, _mode in cached:
            i.setCacheMode(i.CacheMode.NoCache)  # a cached item would be written as a screen-sized bitmap
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.fillRect(QtCore.QRectF(0, 0, w, h), background)
        item.scene().render(painter, QtCore.QRectF(0, 0, w, h), source)
    finally:
        painter.end()
        exporter.setExportMode(False)
        for i, mode in cached:
            i.setCacheMode(mode)
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    generator = QtSvg.QSvgGenerator(QtSvg.QSvgGenerator.SvgVersion.Svg11)  # 1.1: clip paths (SVG Tiny has none)
    generator.setResolution(picture.logicalDpiX())
    generator.setOutputDevice(buffer)
    generator.setSize(QtCore.QSize(w, h))
    generator.setViewBox(QtCore.QRectF(0, 0, w, h))
    generator.setTitle(title)
    painter = QtGui.QPainter()
    if not painter.begin(generator):
        raise export_error(path, "Qt could not start the SVG drawing")
    try:
        picture.play(painter)
    finally:
        painter.end()
    data = bytes(buffer.data())
    if not data:
        raise export_error(path, "the SVG drawing is empty")
    return fix_svg(data, w, h, picture.logicalDpiX())


def export_csv(header: list[str], rows: list[list], path: str | Path) -> Path:
    """Write a table with a header row to CSV and return its path; raise OSError naming it."""
    return write_file(path, csv_text(header, rows).encode("utf-8"))
