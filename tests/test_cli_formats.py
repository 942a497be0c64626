"""``--format png,svg`` on `surface`, `train` and `compare`: every chart in every listed format, or nothing."""

import inspect
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtSvg

from gui.charts.render import render_surface
from main import main

RSVG = shutil.which("rsvg-convert")


def check_svg(path, png) -> None:
    """The SVG parses, is drawn at its PNG's size, and renders (Qt, and librsvg where installed) to a chart."""
    root = ET.parse(path).getroot()
    image = QtGui.QImage(str(png))
    assert root.tag.endswith("svg") and (root.get("width"), root.get("height")) == (
        str(image.width()),
        str(image.height()),
    ), path.name
    renderer = QtSvg.QSvgRenderer(str(path))
    assert renderer.isValid(), path.name
    drawn = QtGui.QImage(image.width(), image.height(), QtGui.QImage.Format.Format_RGB32)
    drawn.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(drawn)
    renderer.render(painter, QtCore.QRectF(0, 0, image.width(), image.height()))
    painter.end()
    assert not_blank(drawn), f"{path.name} renders blank in Qt"
    if RSVG:
        out = path.with_suffix(".check.png")
        subprocess.run([RSVG, "-b", "white", "-o", str(out), str(path)], check=True)
        assert not_blank(QtGui.QImage(str(out))), f"{path.name} renders blank in librsvg"
        out.unlink()


def not_blank(image: QtGui.QImage) -> bool:
    """True when at least 0.5 % of a sample grid of pixels is clearly not white (axes, text, curves)."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_Grayscale8)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    grey = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)[:, :w]
    return bool((grey < 200).mean() > 0.005)


def files(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_surface_writes_the_map_in_both_formats(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["surface", "--function", "quadratic", "--start", "1", "--optimizers", "sgd", "--lr", "0.3"]
    assert main([*args, "--steps", "5", "--grid", "40", "--format", "png,svg", "--out", str(out)]) == 0
    assert {"surface.png", "surface.svg"} <= files(out)
    check_svg(out / "surface.svg", out / "surface.png")
    assert "surface.png, surface.svg" in capsys.readouterr().out


def test_surface_svg_alone(tmp_path):
    out = tmp_path / "s"
    args = ["surface", "--function", "quadratic", "--start", "1", "--steps", "3", "--grid", "40"]
    assert main([*args, "--format", "svg", "--out", str(out)]) == 0
    assert "surface.svg" in files(out) and "surface.png" not in files(out)
    root = ET.parse(out / "surface.svg").getroot()
    size = inspect.signature(render_surface).parameters["size"].default  # the PNG's size, laid out as for it
    assert (root.get("width"), root.get("height")) == tuple(str(v) for v in size)


def test_train_writes_every_chart_in_both_formats(tmp_path):
    out = tmp_path / "t"
    args = ["train", "--points", "40", "--epochs", "2", "--format", "png,svg", "--out", str(out)]
    assert main(args) == 0
    for name in ("loss", "accuracy", "lr", "decision"):
        assert {f"{name}.png", f"{name}.svg"} <= files(out), name
        check_svg(out / f"{name}.svg", out / f"{name}.png")


def test_train_confusion_in_both_formats(tmp_path):
    out = tmp_path / "t"
    assert main(["train", "--dataset", "iris", "--epochs", "1", "--format", "svg,png", "--out", str(out)]) == 0
    assert {"confusion.png", "confusion.svg"} <= files(out)
    check_svg(out / "confusion.svg", out / "confusion.png")


def test_compare_writes_every_chart_and_the_grid_in_both_formats(tmp_path):
    out = tmp_path / "c"
    args = ["compare", "--points", "40", "--epochs", "2", "--vary", "momentum=0,0.5", "--vary", "lr=0.1,0.01"]
    assert main([*args, "--format", "png,svg", "--out", str(out)]) == 0
    for name in ("compare_loss", "compare_accuracy", "compare_lr", "grid"):
        assert {f"{name}.png", f"{name}.svg"} <= files(out), name
    check_svg(out / "grid.svg", out / "grid.png")


def test_default_is_png_only(tmp_path):
    out = tmp_path / "t"
    assert main(["train", "--points", "40", "--epochs", "1", "--out", str(out)]) == 0
    assert "loss.png" in files(out) and not any(n.endswith(".svg") for n in files(out))


@pytest.mark.parametrize("command", ["surface", "train", "compare"])
@pytest.mark.parametrize(
    "value, words",
    [("jpg", "'jpg' is not a chart format"), ("png,pdf", "'pdf' is not a chart format"), (",", "give one or more")],
)
def test_a_bad_format_is_one_line_and_writes_nothing(tmp_path, capsys, command, value, words):
    out = tmp_path / "o"
    assert main([command, "--format", value, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --format: ") and words in err and "\n" not in err
    assert not out.exists()
