"""The convergence map says what grey, × and its marks mean, names the tolerance's target, keeps a cell that
ended above its start from stretching the colour scale (marked instead), and writes its SVG at the PNG's size."""

import re

import numpy as np
import pyqtgraph as pg
from PIL import Image

from engine.map_grid import Axis, MapResult
from gui.charts.convergence_map import SIZE, ConvergenceMapChart, map_values, render_map
from gui.charts.export import export_png


def training_map() -> MapResult:
    """3 × 3 cells as a training map: (0, 2) diverged, (2, 2) ended at 1.437 above its start 1.115, and the
    cells of row 0 never came within 0.05 of the best loss 0.3308."""
    final = np.array([[0.9, 0.8, np.nan], [0.6, 0.5, 0.3308], [0.45, 0.4, 1.437]])
    steps = np.array([[-1, -1, -1], [-1, -1, 4], [-1, 5, -1]])
    diverged = np.full((3, 3), -1)
    diverged[0, 2] = 3
    return MapResult(
        Axis("lr", 0.01, 1.0, 3, log=True),
        Axis("momentum", 0.0, 0.9, 3),
        [0.01, 0.1, 1.0],
        [0.0, 0.45, 0.9],
        np.full((3, 3), 1.115),
        final,
        diverged,
        steps,
        0.05,
        0.3308,
        "epoch",
        "sgd",
    )


def drawn(result, colour_by):
    widget = pg.GraphicsLayoutWidget()
    widget.resize(*SIZE)
    widget.ci.setGeometry(0, 0, *SIZE)
    chart = ConvergenceMapChart(widget.addPlot(), "map")
    chart.set_map(result, colour_by)
    chart.plot.layout.activate()
    widget.ci.layout.activate()
    return widget, chart


def test_a_cell_above_its_start_is_clipped_there_and_marked(qtbot, tmp_path):
    result = training_map()
    values, label = map_values(result, "final_loss")
    assert label == "final loss" and values[2, 2] == 1.115  # drawn at its start, not 1.437
    widget, chart = drawn(result, "final_loss")
    qtbot.addWidget(widget)
    assert chart.colorbar.levels() == (0.3308, 1.115)  # the scale ends at the start: the others keep their colours
    xs, ys = chart.above.getData()
    assert list(zip(ys, xs)) == [(2.0, 2.0)]  # the triangle on cell (row 2, column 2) only
    key = chart.key.text
    assert "ended above its starting loss, e.g. 1.437 > 1.115" in key
    assert "×</span> on grey: diverged (no final loss)" in key
    assert "never came" not in key  # colouring by final loss: grey means diverged only
    path = export_png(widget.ci, tmp_path / "m.png", width=SIZE[0])
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=int)
    at = chart.plot.vb.mapViewToScene(pg.Point(2, 2))
    patch = pixels[int(at.y()) - 2 : int(at.y()) + 3, int(at.x()) - 2 : int(at.x()) + 3]
    assert (patch.min(axis=2) >= 235).any()  # the white triangle drawn over the (yellow) cell


def test_steps_colouring_says_grey_twice_over_and_the_target(qtbot):
    result = training_map()
    widget, chart = drawn(result, "steps_to_tol")
    qtbot.addWidget(widget)
    lines = chart.key.text.split("<br>")
    assert any("on grey: diverged" in line for line in lines)
    assert "grey without ×: never came within 0.05 of the best cell's loss 0.3308" in lines
    assert chart.key.isVisible()
    result.target_known, result.target, result.tol = True, 0.0, 0.01
    chart.set_map(result, "steps_to_tol")
    assert "grey without ×: never came within 0.01 of the known minimum 0" in chart.key.text.split("<br>")


def test_a_plain_map_has_no_key(qtbot):
    result = training_map()
    result.final_loss = np.array([[0.9, 0.8, 0.7], [0.6, 0.5, 0.3308], [0.45, 0.4, 0.35]])
    result.diverged_at = np.full((3, 3), -1)
    widget, chart = drawn(result, "final_loss")
    qtbot.addWidget(widget)
    assert chart.key.text == "" and not chart.key.isVisible()
    assert len(chart.above.getData()[0] or []) == 0


def test_map_svg_is_the_png_size(tmp_path):
    result = training_map()
    png = render_map(result, tmp_path / "map.png")
    svg = render_map(result, tmp_path / "map.svg")
    assert Image.open(png).size == SIZE
    head = svg.read_text()[:400]
    assert tuple(int(re.search(rf'{k}="(\d+)"', head).group(1)) for k in ("width", "height")) == SIZE
