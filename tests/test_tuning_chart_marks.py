"""The sweep chart says which optimizer diverged (a × row per optimizer, in its colour), shows every chosen-rate
star inside the plot, says when scores average several starts, and writes its SVG at the PNG's size."""

import math
import re

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image

from engine.optimizers import optimizer_colour
from engine.tuning import TrialScore, best_rates
from gui.charts.export import export_png
from gui.charts.tuning import SIZE, TuningChart, render_tuning

INF = math.inf
GRID = (0.1, 0.316, 1.0, 3.16, 10.0)


def trials(oid, values):
    return [TrialScore(oid, lr, v, not math.isfinite(v)) for lr, v in zip(GRID, values)]


def both_diverge():
    """SGD diverges at every rate; Adam at the two largest: at 3.16 and 10 both diverged."""
    return trials("sgd", [INF] * 5) + trials("adam", [5.4, 4.8, 0.5, INF, INF])


def drawn_chart(t, starts=1):
    widget = pg.GraphicsLayoutWidget()
    widget.resize(*SIZE)
    widget.ci.setGeometry(0, 0, *SIZE)
    chart = TuningChart(widget.addPlot(), "sweep")
    chart.set_trials(t, best_rates(t), "final_loss", starts)
    chart.plot.layout.activate()
    widget.ci.layout.activate()
    return widget, chart


def colour_near(image: Image.Image, x: float, y: float, colour: str, radius: int = 4) -> bool:
    """Whether a pixel within ``radius`` of (x, y) has ``colour`` (within a little antialiasing)."""
    want = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    xi, yi = int(round(x)), int(round(y))
    patch = pixels[max(yi - radius, 0) : yi + radius + 1, max(xi - radius, 0) : xi + radius + 1]
    return bool((np.abs(patch - want).max(axis=2) <= 40).any())


def test_each_optimizer_has_its_own_row_of_crosses_in_its_colour(qtbot):
    widget, chart = drawn_chart(both_diverge())
    qtbot.addWidget(widget)
    assert set(chart.crosses) == {"sgd", "adam"}
    rows = {}
    for oid, item in chart.crosses.items():
        xs, ys = item.getData()
        assert item.opts["symbol"] == "x"
        assert pg.mkBrush(item.opts["symbolBrush"]).color().name() == optimizer_colour(oid)
        rows[oid] = set(np.round(ys, 9))
        assert len(rows[oid]) == 1  # one row per optimizer
    sgd_x = np.round(chart.crosses["sgd"].getData()[0], 6)  # log mode: the items give log10(lr)
    adam_x = np.round(chart.crosses["adam"].getData()[0], 6)
    assert np.allclose(adam_x, [0.5, 1.0], atol=1e-3) and set(adam_x) <= set(sgd_x)  # both diverged at 3.16, 10 ...
    assert rows["sgd"] != rows["adam"]  # ... and both marks show, one above the other
    assert min(rows["sgd"] | rows["adam"]) > 5.4  # above every finite score
    labels = [label.text for _, label in chart.legend.items]
    assert "SGD · every rate diverged" in labels and "Adam · lr 1" in labels
    assert any(text.startswith("× diverged at that rate") for text in labels)


def test_the_exported_png_shows_both_optimizers_crosses_at_one_rate(qtbot, tmp_path):
    widget, chart = drawn_chart(both_diverge())
    qtbot.addWidget(widget)
    path = export_png(widget.ci, tmp_path / "t.png", width=SIZE[0])  # scene pixels = image pixels
    image = Image.open(path)
    assert image.size == SIZE
    vb = chart.plot.vb
    for oid in ("sgd", "adam"):
        xs, ys = chart.crosses[oid].getData()
        x, y = xs[-1], ys[-1]  # log10 of the rate 10: both diverged there
        at = vb.mapViewToScene(pg.Point(x, y))
        assert colour_near(image, at.x(), at.y(), optimizer_colour(oid)), oid
    # the plotted rows of the two optimizers are far enough apart that neither × covers the other
    a = vb.mapViewToScene(pg.Point(1, chart.crosses["sgd"].getData()[1][0]))
    b = vb.mapViewToScene(pg.Point(1, chart.crosses["adam"].getData()[1][0]))
    assert abs(a.y() - b.y()) >= 13


def test_every_chosen_star_lies_inside_the_plot_even_at_the_grid_ends(qtbot):
    t = trials("sgd", [3.0, 2.0, 1.0, 0.7, 0.5]) + trials("adam", [0.2, 0.4, 1.0, 2.0, 3.0])
    widget, chart = drawn_chart(t)
    qtbot.addWidget(widget)
    (x0, x1), (y0, y1) = chart.plot.vb.viewRange()
    for oid, lr in {"sgd": 10.0, "adam": 0.1}.items():  # the largest and the smallest rate
        xs, ys = chart.stars[oid].getData()
        x = xs[0]  # log10 of the rate
        assert x == pytest.approx(math.log10(lr), abs=1e-3)
        assert x0 + 0.1 <= x <= x1 - 0.1 and y0 < ys[0] < y1, oid  # with room for the star's half width
    texts = [label.text for _, label in chart.legend.items]
    assert texts[0].startswith("SGD · lr 10 (best at the edge of the grid")


def test_scores_averaged_over_starts_say_so_on_the_axis(qtbot):
    widget, chart = drawn_chart(both_diverge(), starts=3)
    qtbot.addWidget(widget)
    assert chart.plot.getAxis("left").labelText == "final loss (mean over 3 starts)"
    chart.set_trials(both_diverge(), best_rates(both_diverge()), "final_loss")
    assert chart.plot.getAxis("left").labelText == "final loss"


def test_tuning_svg_is_the_png_size(tmp_path):
    t = both_diverge()
    png = render_tuning(t, best_rates(t), "final_loss", tmp_path / "tuning.png")
    svg = render_tuning(t, best_rates(t), "final_loss", tmp_path / "tuning.svg")
    assert Image.open(png).size == SIZE
    head = svg.read_text()[:400]
    w, h = (int(re.search(rf'{k}="(\d+)"', head).group(1)) for k in ("width", "height"))
    assert (w, h) == SIZE
