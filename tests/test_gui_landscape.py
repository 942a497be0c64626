"""The Training tab's landscape panel: computed in the background every N epochs, and what it draws."""

import numpy as np
import pytest
from PySide6 import QtCore

from gui.views.training_view import TrainingView


@pytest.fixture
def view(qtbot):
    v = TrainingView()
    qtbot.addWidget(v)
    v.resize(1300, 1000)
    v.show()
    yield v
    v.shutdown()


def _small(view, epochs=6):
    view.form.points.setValue(60)
    view.form.epochs.setValue(epochs)
    view.form.optimizer.form.set_values({"lr": 0.1, "momentum": 0.5})


def _wait_finished(qtbot, view):
    qtbot.waitUntil(lambda: view.status == "finished" and view._job is None, timeout=30000)


def test_landscape_is_computed_while_training_and_drawn(view, qtbot):
    _small(view)
    panel = view.landscape
    panel.enabled.setChecked(True)
    panel.every.setValue(2)
    panel.grid.setValue(9)
    drawn = []
    panel.drawn.connect(drawn.append)
    view.set_speed(10)  # slow enough for the every-2-epochs landscapes to come while it trains
    view.run()
    _wait_finished(qtbot, view)
    qtbot.waitUntil(lambda: panel.job is None and panel.computed_epoch == 6, timeout=30000)
    assert len(drawn) >= 2 and drawn[0].epochs[-1] < 6  # at least one while training, one at the end
    ls = drawn[-1]
    charts = panel.charts
    image = charts.contour.image.image
    assert image is not None and image.shape == (9, 9) and np.isfinite(image).all()
    # the path: one dot per recorded epoch (0..6), a start star at epoch 0's projection, a current star at the end
    x, y = charts.path.line.getData()
    assert len(x) == 7
    sx, sy = charts.path.start.getData()
    assert (sx[0], sy[0]) == pytest.approx(tuple(ls.projection.coords[0]))
    ex, _ = charts.path.end.getData()
    assert ex[0] == pytest.approx(ls.projection.coords[-1][0])
    # honesty: real vs projected loss curves and the off-plane ratio, one point per epoch
    curves = charts.loss_chart.curves
    assert set(curves) == {"at the real weights", "at the projection"}
    assert all(len(c.getData()[0]) == 7 for c in curves.values())
    real = curves["at the real weights"].getData()[1]
    assert real[-1] == pytest.approx(view.snapshot.history[-1].train_loss, abs=1e-9)
    ratio = charts.ratio_chart.curves["off-plane ratio"].getData()[1]
    assert len(ratio) == 7 and np.nanmax(ratio) > 0.5  # the random plane: the path is mostly off it
    # the 1-D line from the start to now, with its two stars at t = 0 and t = 1
    (line,) = charts.line_chart.curves.values()
    t, loss = line.getData()
    assert len(t) == 61 and loss[np.argmin(np.abs(t))] == pytest.approx(view.snapshot.history[0].train_loss)
    assert len(charts.line_marks.getData()[0]) == 2
    assert "off-plane ratio" in panel.status.text()


def test_plane_choice_recomputes_on_the_same_weights(view, qtbot):
    _small(view, epochs=4)
    panel = view.landscape
    panel.grid.setValue(7)
    view.run()
    _wait_finished(qtbot, view)
    assert panel.job is None and panel.charts.landscape is None  # off by default: nothing computed
    panel.enabled.setChecked(True)
    qtbot.waitUntil(lambda: panel.charts.landscape is not None and panel.job is None, timeout=20000)
    assert panel.charts.landscape.plane == "random"
    panel.plane.setCurrentIndex(2)  # through start, middle and now
    qtbot.waitUntil(lambda: panel.charts.landscape.plane == "three" and panel.job is None, timeout=20000)
    ls = panel.charts.landscape
    assert ls.plane_epochs == [0, 2, 4]
    assert ls.projection.off_plane[[0, 2, 4]].max() < 1e-9 * ls.projection.distance.max()
    assert "through epochs 0, 2, 4" in panel.charts.map_plot.titleLabel.text


def test_reset_clears_the_landscape(view, qtbot):
    _small(view, epochs=2)
    panel = view.landscape
    panel.enabled.setChecked(True)
    panel.grid.setValue(7)
    view.run()
    _wait_finished(qtbot, view)
    qtbot.waitUntil(lambda: panel.charts.landscape is not None and panel.job is None, timeout=20000)
    view.reset()
    qtbot.waitUntil(lambda: view._job is None, timeout=20000)
    assert panel.charts.landscape is None
    assert (
        panel.charts.contour.image.image is None
        or panel.charts.path.line.getData()[0] is None
        or len(panel.charts.path.line.getData()[0]) == 0
    )
    qtbot.mouseClick(panel.compute, QtCore.Qt.MouseButton.LeftButton)
    assert "Train at least one epoch" in panel.status.text()
