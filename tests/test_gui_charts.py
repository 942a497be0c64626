"""What the chart items draw: legends beside the data, log axes, titles that fit, linked epoch axes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyqtgraph as pg
import pytest

from gui.charts import style
from gui.charts.curves import LineChart, TwinChart
from gui.charts.images import ConfusionMatrix


@pytest.fixture
def canvas(qtbot):
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(900, 560)
    widget.show()
    yield widget


def _settle(widget):
    widget.ci.layout.activate()
    for item in widget.ci.items:
        if hasattr(item, "layout"):
            item.layout.activate()
    pg.QtWidgets.QApplication.processEvents()


def _records(losses, accs=None):
    accs = accs or [0.5] * len(losses)
    return [
        SimpleNamespace(epoch=i, train_loss=loss, test_loss=None, train_acc=acc, test_acc=None)
        for i, (loss, acc) in enumerate(zip(losses, accs))
    ]


def _assert_beside(legend, plot):
    data = plot.vb.sceneBoundingRect()
    box = legend.sceneBoundingRect()
    assert box.width() > 0 and box.height() > 0
    assert not box.intersects(data), (box, data)


@pytest.mark.parametrize("count", [1, 5, 18, 40])
def test_line_chart_legend_never_covers_the_data(canvas, count):
    chart = LineChart(canvas.addPlot(), "loss", "epoch", "loss")
    x = np.arange(20)
    for k in range(count):
        chart.set_series(f"run {k} · lr=0.{k}", x, np.exp(-x / (k + 1)), style.colour(k))
    _settle(canvas)
    _assert_beside(chart.legend, chart.plot)
    assert chart.legend.sceneBoundingRect().top() >= chart.plot.sceneBoundingRect().top()
    assert chart.legend.sceneBoundingRect().right() <= canvas.ci.sceneBoundingRect().right() + 1
    if count > 8:  # collapsed: two columns, smaller type
        assert chart.legend.columnCount == 2 and chart.legend.opts["labelTextSize"] == "8pt"
    if count > chart.legend.MAX_SHOWN:
        assert len(chart.legend.items) == chart.legend.MAX_SHOWN
        assert chart.legend.summary.text == f"… and {count - chart.legend.MAX_SHOWN} more"
        assert not chart.legend.summary.sceneBoundingRect().intersects(chart.plot.vb.sceneBoundingRect())


def test_line_chart_clear_and_old_signature(canvas):
    chart = LineChart(canvas.addPlot(), "t", "epoch", "y", legend=True, grid=True)
    for k in range(30):
        chart.set_series(str(k), [0, 1], [1, 2], style.colour(k))
    chart.clear()
    assert chart.legend.items == [] and chart.legend.hidden == [] and not chart.legend.summary.isVisible()
    assert LineChart(canvas.addPlot(row=1, col=0), legend=False).legend is None


def test_line_chart_log_scale_survives_non_positive_values(canvas):
    chart = LineChart(canvas.addPlot(), "loss", "epoch", "loss")
    chart.set_series("a", [0, 1, 2, 3], [1.0, 0.0, -1.0, 0.01], "#000000", band=([0.5, -1, -2, 0.0], [2, 1, 1, 0.1]))
    chart.set_log_y(True)
    _settle(canvas)
    assert chart.plot.ctrl.logYCheck.isChecked()
    shown = chart.curves["a"].getData()[1]
    assert np.allclose(shown[[0, 3]], [0.0, -2.0]) and np.isnan(shown[[1, 2]]).all()
    assert np.isfinite(chart.plot.vb.viewRange()[1]).all()
    assert chart.table()[1][1] == ["a", 1.0, 0.0]  # the data itself is kept
    chart.set_log_y(False)
    assert list(chart.curves["a"].getData()[1]) == [1.0, 0.0, -1.0, 0.01]


def test_twin_chart_log_box_sets_the_loss_axis_only(canvas):
    chart = TwinChart(canvas.addPlot())
    chart.set_history(_records([2.0, 0.5, 0.0, 0.1], [0.1, 0.5, 0.9, 0.95]))
    chart.set_log_loss(True)
    _settle(canvas)
    assert chart.plot.getAxis("left").logMode is True and chart.curves["train loss"].opts["logMode"][1]
    assert chart.plot.getAxis("right").logMode is False  # accuracy stays linear
    assert not chart.curves["train accuracy"].opts["logMode"][1]
    ys = chart.curves["train loss"].getData()[1]
    assert np.isnan(ys[2]) and np.isclose(ys[0], np.log10(2.0))
    assert np.isfinite(chart.plot.vb.viewRange()[1]).all()
    chart.set_history(_records([1.0, 0.0]))  # new epochs while log is on: still masked
    assert np.isnan(chart.curves["train loss"].getData()[1][1])
    chart.set_log_loss(False)
    assert chart.plot.getAxis("left").logMode is False
    _assert_beside(chart.legend, chart.plot)


def test_twin_chart_legend_below_the_plot(canvas):
    chart = TwinChart(canvas.addPlot())
    chart.set_history(_records([2.0, 1.0, 0.5]))
    _settle(canvas)
    _assert_beside(chart.legend, chart.plot)
    assert chart.legend.sceneBoundingRect().top() >= chart.plot.getAxis("bottom").sceneBoundingRect().top()


def test_confusion_title_fits(canvas):
    canvas.resize(420, 420)
    chart = ConfusionMatrix(canvas.addPlot())
    chart.set_matrix(np.eye(10, dtype=int), [str(k) for k in range(10)])
    chart.set_title("confusion matrix — weakest class 5: 93%")
    _settle(canvas)
    label = chart.plot.titleLabel
    text_width = label.item.boundingRect().width()
    assert text_width <= label.sceneBoundingRect().width() + 1
    assert text_width <= chart.plot.vb.sceneBoundingRect().width()
    assert "93%" in label.text
