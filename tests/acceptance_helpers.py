"""Shared checks of the acceptance tests: File > Export all of a view, and what its files hold."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

HEADERS = {  # the columns each chart's CSV must have
    "surface": ["optimizer", "start_index", "step", "x", "y", "loss"],
    "loss_per_step": ["series", "x", "y"],
    "loss_accuracy": ["epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy"],
    "learning_rate": ["series", "x", "y"],
    "decision_regions": ["x", "y", "class", "confidence"],
    "confusion_matrix": ["true", "predicted", "count"],
    "test_images": ["sample", "true", "predicted", "wrong"],
    "compare_loss": ["series", "x", "y"],
    "compare_accuracy": ["series", "x", "y"],
    "compare_lr": ["series", "x", "y"],
    "compare_grid": ["row", "column", "series", "x", "y", "low", "high"],
}


def colours_of(image: QtGui.QImage) -> int:
    """Return how many distinct colours a (sampled) image has: 1 for a blank one."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    w, h = image.width(), image.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.bytesPerLine() // 4 * h)
    return len(np.unique(data.reshape(h, -1)[:, :w][:: max(1, h // 200), :: max(1, w // 200)]))


def svg_image(path: Path) -> QtGui.QImage:
    """Render an SVG file with Qt's renderer; fail when it does not parse."""
    renderer = QtSvg.QSvgRenderer(str(path))
    assert renderer.isValid(), f"{path.name} does not parse"
    size = renderer.defaultSize()
    assert size.width() > 200 and size.height() > 150, (path.name, size)
    image = QtGui.QImage(size, QtGui.QImage.Format.Format_ARGB32)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


def check_export_all(window, qtbot, folder: Path, monkeypatch, expected: set[str]) -> dict[str, list]:
    """Use File > Export all (Ctrl+E) on the current view into ``folder``; check every chart's PNG, SVG and CSV.

    Returns {chart name: CSV rows}.
    """
    folder.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(QtWidgets.QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    window.activateWindow()
    window.export_action.trigger()
    assert f"to {folder}" in window.statusBar().currentMessage()
    names = {p.stem for p in folder.iterdir() if p.suffix in (".png", ".svg", ".csv") and p.stem != "summary"}
    assert names == expected, names
    tables = {}
    for name in sorted(names):
        png = QtGui.QImage(str(folder / f"{name}.png"))
        assert not png.isNull() and png.width() >= 300, name
        assert colours_of(png) > 8, f"{name}.png is blank"
        assert colours_of(svg_image(folder / f"{name}.svg")) > 4, f"{name}.svg renders blank"
        with open(folder / f"{name}.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == HEADERS[name], (name, rows[0])
        assert len(rows) > 1, f"{name}.csv has no data"
        assert all(len(r) == len(rows[0]) for r in rows), name
        tables[name] = rows[1:]
    QtCore.QCoreApplication.processEvents()
    return tables
