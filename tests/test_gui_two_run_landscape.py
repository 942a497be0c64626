"""The comparison tab's "Landscape of two runs": both chosen runs' paths on the plane through their shared
start and both ends, computed in the background, and what is drawn."""

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from gui.views.compare_view import CompareView


@pytest.fixture
def view(qtbot):
    v = CompareView()
    v.confirm_slow = lambda *a: True
    qtbot.addWidget(v)
    v.resize(1400, 900)
    v.show()
    yield v
    v.runner.shutdown()


def _compare(view, qtbot):
    view.base_form.points.setValue(60)
    view.base_form.epochs.setValue(4)
    view.field1.setCurrentText("momentum")
    view.values1.setText("0,0.5")
    view.field2.setCurrentText("(none)")
    view.seeds.setText("1,2")
    with qtbot.waitSignal(view.finished, timeout=60000):
        view.start()


def test_two_runs_drawn_on_their_shared_plane(view, qtbot, tmp_path):
    _compare(view, qtbot)
    panel = view.panels.two_runs
    view.panels.tabs.setCurrentWidget(panel)
    names = [panel.run_a.itemText(i) for i in range(panel.run_a.count())]
    assert len(names) == 4 and all(" · seed " in n for n in names)
    a, b = view.results[panel.run_a.currentIndex()], view.results[panel.run_b.currentIndex()]
    assert a.seed == b.seed and a.label != b.label  # by default two runs that share their start
    panel.run_a.setCurrentText("momentum=0.5 · seed 1")  # the second configuration first: colours follow runs
    panel.run_b.setCurrentText("momentum=0 · seed 1")
    a, b = view.results[panel.run_a.currentIndex()], view.results[panel.run_b.currentIndex()]
    assert (a.label, b.label) == ({"momentum": "0.5"}, {"momentum": "0"})
    panel.grid.setValue(9)
    with qtbot.waitSignal(panel.drawn, timeout=60000) as done:
        qtbot.mouseClick(panel.compute, QtCore.Qt.MouseButton.LeftButton)
    tl = done.args[0]
    charts = panel.charts
    image = charts.contour.image.image
    assert image is not None and image.shape == (9, 9) and np.isfinite(image).all()
    assert len(charts.paths) == 2
    for items in charts.paths:
        x, y = items.line.getData()
        assert len(x) == 5  # epochs 0..4
        (sx,), (sy,) = items.start.getData()
        assert (sx, sy) == pytest.approx((0.0, 0.0), abs=1e-9)  # the shared start
    (ex,), (ey,) = charts.paths[0].end.getData()
    assert (ex, ey) == pytest.approx((1.0, 0.0), abs=1e-9)  # the first run's end defines α = 1
    _, by = charts.paths[1].end.getData()
    assert abs(by[0]) > 1e-6  # the second end: off the first run's line, on the plane
    legend = {label.text for _, label in charts.legend.items}
    assert legend == {a.name, b.name}
    overlay = {name.split(" ")[0]: c.opts["pen"].color().name() for name, c in view.loss_chart.curves.items()}
    for items, run in zip(charts.paths, (a, b), strict=True):  # each run in its colour of the overlay charts
        assert items.line.opts["pen"].color().name() == overlay[run.label["momentum"]]
    curves = charts.loss_chart.curves
    assert set(curves) == {a.name, f"{a.name} projected", b.name, f"{b.name} projected"}
    for run in (a, b):  # the runs drawn are the comparison's own: the same losses, epoch by epoch
        real = curves[run.name].getData()[1]
        np.testing.assert_allclose(real, [h.train_loss for h in run.history], rtol=1e-5)
    assert {r.name for r in tl.runs} == {a.name, b.name}
    assert "networks" in panel.status.text() and a.name in panel.status.text()
    png = view.panels.charts.export("compare_landscape", tmp_path / "two.png")
    assert QtGui.QImage(str(png)).width() >= 800


def test_runs_that_do_not_share_a_start_or_the_same_run_twice_are_said_in_words(view, qtbot):
    _compare(view, qtbot)
    panel = view.panels.two_runs
    view.panels.tabs.setCurrentWidget(panel)
    panel.run_b.setCurrentIndex(panel.run_a.currentIndex())
    qtbot.mouseClick(panel.compute, QtCore.Qt.MouseButton.LeftButton)
    assert panel.status.text() == "No landscape: choose two different runs."
    seeds = [r.seed for r in view.results]
    other = next(i for i, s in enumerate(seeds) if s != seeds[panel.run_a.currentIndex()])
    panel.run_b.setCurrentIndex(other)
    panel.grid.setValue(5)
    qtbot.mouseClick(panel.compute, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.job is None, timeout=60000)
    assert "do not start from the same weights" in panel.status.text()
    assert panel.charts.landscape is None and not panel.charts.paths  # nothing drawn
