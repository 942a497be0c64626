"""A tuned rate is never picked silently: the edge of the grid and ties are said, given rates are said replaced,
and the sweep chart's legend stays off the plot."""

import csv

import pyqtgraph as pg

from engine.tuning import TrialScore, best_rates, rate_notes
from gui.charts.tuning import TuningChart
from main import main

SMALL = ["--points", "40", "--layers", "2,8,3", "--epochs", "3"]


def trials(oid, values, grid=(0.001, 0.01, 0.1, 1.0)):
    return [TrialScore(oid, lr, v, v == float("inf")) for lr, v in zip(grid, values)]


def test_edge_and_ties_are_noted_and_ties_take_the_smallest_rate():
    t = trials("sgd", [3.0, 2.0, 1.0, 0.5]) + trials("adam", [1.0, 0.25, 0.25 * (1 + 1e-12), 0.9])
    t += trials("adagrad", [float("inf")] * 4)
    best = best_rates(t)
    assert best == {"sgd": 1.0, "adam": 0.01, "adagrad": None}
    notes = rate_notes(t, best, "widen --tune-grid")
    assert notes["sgd"] == "best at the edge of the grid — widen --tune-grid"
    assert notes["adam"].startswith("2 rates tie at the lowest score (0.01..0.1)")
    assert notes["adagrad"] == "every rate diverged"


def test_surface_tune_says_edge_and_replaced_rate_in_output_and_csv(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["surface", "--function", "bowl", "--optimizers", "sgd,adam", "--set", "adam.lr=0.01", "--steps", "20"]
    assert main([*argv, "--tune", "--tune-grid", "0.001:0.3:4", "--grid", "40", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "adam: tuned lr = 0.3 (best at the edge of the grid — widen --tune-grid)" in text
    assert "the rate given (--set adam.lr = 0.01) is replaced by the tuned one" in text
    chosen = [r for r in csv.DictReader(open(out / "tuning.csv")) if r["chosen"] == "True"]
    assert {r["optimizer"]: r["note"] for r in chosen}["adam"].startswith("best at the edge of the grid")


def test_compare_tune_lr_says_edge_and_replaced_rate(tmp_path, capsys):
    out = tmp_path / "c"
    argv = ["compare", *SMALL, "--vary", "optimizer=sgd,adam", "--set", "adam.lr=0.02", "--tune-lr"]
    assert main([*argv, "--tune-grid", "1e-4:1e-3:2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best at the edge of the grid — widen --tune-grid" in text
    assert "adam: the rate given (lr 0.02) is replaced by the tuned one" in text


def test_tuning_chart_legend_is_below_the_plot_and_names_the_edge(qtbot):
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    chart = TuningChart(widget.addPlot())
    t = trials("sgd", [3.0, 2.0, 1.0, 0.5]) + trials("adam", [1.0, float("inf"), float("inf"), float("inf")])
    chart.set_trials(t, best_rates(t), "final_loss")
    widget.show()
    qtbot.waitExposed(widget)
    labels = [label.text for _sample, label in chart.legend.items]
    assert any("edge of the grid" in text for text in labels)
    assert any(text.startswith("× diverged") for text in labels)
    vb = chart.plot.vb.sceneBoundingRect()
    legend = chart.legend.sceneBoundingRect()
    assert legend.height() > 0 and legend.top() >= vb.bottom()  # never over the curves or the crosses


def test_the_rate_axis_is_labelled_in_decades_only(qtbot):
    import pyqtgraph as pg

    from engine.tuning import TrialScore
    from gui.charts.tuning import TuningChart

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    chart = TuningChart(widget.getPlotItem())
    trials = [
        TrialScore("sgd", lr, 1.0 / (1 + k), False) for k, lr in enumerate([1e-4, 4.6e-4, 2.2e-3, 1e-2, 0.1, 1.0])
    ]
    chart.set_trials(trials, {"sgd": 1.0}, "final_loss")
    from PySide6 import QtGui

    widget.resize(800, 400)
    widget.grab()
    axis = widget.getPlotItem().getAxis("bottom")
    image = QtGui.QImage(800, 60, QtGui.QImage.Format.Format_ARGB32)
    painter = QtGui.QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)  # the labels the axis paints
    finally:
        painter.end()
    assert [text for _, _, text in texts] == ["0.0001", "0.001", "0.01", "0.1", "1"]  # decades, no minor labels
