"""Per-view chart registry: export any chart to PNG, SVG or CSV, from its right-click menu or in bulk."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Callable

from PySide6 import QtWidgets

from engine.errors import UserError
from gui.charts.export import export_csv, export_png, export_svg

TableFn = Callable[[], tuple[list[str], list[list]]]


class ChartSet:
    """The charts of one view: name -> (graphics item, function returning its data table)."""

    def __init__(self, owner: QtWidgets.QWidget):
        self.owner = owner
        self.charts: dict[str, tuple[object, TableFn]] = {}

    def add(self, name: str, item, table: TableFn, plot=None) -> None:
        """Register a chart and put Export entries in its right-click menu."""
        self.charts[name] = (item, table)
        target = plot if plot is not None else item
        vb = getattr(target, "vb", None) or (target.getViewBox() if hasattr(target, "getViewBox") else None)
        if vb is not None and vb.menu is not None:
            vb.menu.addSeparator()
            for label, suffix in (
                ("Export chart as PNG…", "png"),
                ("Export chart as SVG…", "svg"),
                ("Export chart data as CSV…", "csv"),
            ):
                vb.menu.addAction(label, lambda n=name, s=suffix: self.ask_and_export(n, s))
        scene = item.scene() if hasattr(item, "scene") else None
        if scene is not None:
            scene.contextMenu = []  # pyqtgraph's own "Export..." uses its SVG exporter, broken in 0.14.0

    def export(self, name: str, path: str | Path) -> Path:
        """Write chart ``name`` to ``path``; the suffix (.png, .svg, .csv) picks the format.

        The file is written whole or not at all (a temporary file, then one rename). Raises OSError naming the
        path when it cannot be written, ValueError for an unknown suffix.
        """
        item, table = self.charts[name]
        path = Path(path)
        suffix = path.suffix.lower()
        width = max(800, int(item.sceneBoundingRect().width()))  # the SVG at the PNG's size: the same picture
        if suffix == ".png":
            return export_png(item, path, width=width)
        if suffix == ".svg":
            return export_svg(item, path, title=f"Descent Lab — {name}", width=width)
        if suffix == ".csv":
            return export_csv(*table(), path)
        raise ValueError(f"unknown export format '{suffix}' (use .png, .svg or .csv)")

    def export_all(self, folder: str | Path) -> list[Path]:
        """Write every chart as PNG, SVG and CSV into ``folder`` (created if need be) and return the files.

        Each file is written whole or not at all; raises OSError naming the folder or the file that failed.
        """
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            reason = err.strerror or str(err)
            raise OSError(err.errno or errno.EIO, f"cannot create folder {folder}: {reason}", str(folder)) from None
        written = []
        for name, (item, _table) in self.charts.items():
            if not item.isVisible() or not item.scene() or not any(v.isVisible() for v in item.scene().views()):
                continue  # a panel not shown for this data set (e.g. decision regions for MNIST)
            for suffix in ("png", "svg", "csv"):
                written.append(self.export(name, folder / f"{name}.{suffix}"))
        return written

    def ask_and_export(self, name: str, suffix: str) -> None:
        """Ask for a file name and export; report failures in a message box, never a traceback."""
        filters = {"png": "PNG image (*.png)", "svg": "SVG drawing (*.svg)", "csv": "CSV table (*.csv)"}
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self.owner, f"Export {name}", f"{name}.{suffix}", filters[suffix]
        )
        if not path:
            return
        if not path.lower().endswith(f".{suffix}"):
            path += f".{suffix}"
        try:
            self.export(name, path)
        except (OSError, UserError, ValueError) as err:
            reason = err.message if isinstance(err, UserError) else getattr(err, "strerror", None) or str(err)
            QtWidgets.QMessageBox.warning(self.owner, "Export failed", f"Could not write {path}:\n{reason}")
