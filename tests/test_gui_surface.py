import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtSvg

from gui.views.surface_view import FORMULA, SurfaceView


@pytest.fixture
def view(qtbot):
    v = SurfaceView()
    qtbot.addWidget(v)
    v.resize(1300, 800)
    v.show()
    qtbot.waitUntil(lambda: bool(v.paths), timeout=10000)
    return v


def choose(view, qtbot, function_id):
    view.function.setCurrentIndex(view.function.findData(function_id))
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        pass


def test_default_view_draws_every_ticked_optimizer(view):
    ids = view.checked_optimizers()
    assert len(view.paths) == len(ids) >= 3
    assert [p.optimizer for p in view.paths] == ids
    assert len(view.layer.items) == len(ids)
    x, y = view.layer.items[0].line.getData()
    assert len(x) == view.steps.value() + 1  # start + every step is drawn
    assert view.contour.image.image.shape == (300, 300)
    assert set(view.loss_chart.curves) == {p.label for p in view.paths}


def test_changing_a_hyperparameter_recomputes_at_once(view, qtbot):
    view.optimizers.setCurrentRow(0)  # SGD
    before = view.paths[0].points.copy()
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.opt_form.editors["lr"].setValue(0.01)
    assert view.paths[0].params["lr"] == pytest.approx(0.01)
    assert not np.allclose(view.paths[0].points, before)


def test_typed_formula_error_is_inline_and_keeps_the_drawing(view, qtbot):
    choose(view, qtbot, FORMULA)
    assert view.surface.dims == 1 and view.formula.isVisible()
    drawn = list(view.paths)
    view.formula.setText("x*sin(x**2) + __import__('os')")
    qtbot.waitUntil(lambda: view.error.isVisible(), timeout=3000)
    assert "__import__" in view.error.text()
    assert view.paths == drawn  # the last good drawing stays
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.formula.setText("(1-x)**2 + 100*(y-x**2)**2")
    assert not view.error.isVisible() and view.surface.dims == 2


def test_click_sets_start_and_shift_adds_one(view, qtbot):
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.add_start((0.3, 1.3))
    assert view.starts == [(0.3, 1.3)]
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.add_start((-0.4, -0.5), keep_others=True)
    assert len(view.starts) == 2 and len(view.paths) == 2 * len(view.checked_optimizers())
    # a real mouse click on the map
    vb = view.map_plot.vb
    scene_pos = vb.mapViewToScene(QtCore.QPointF(1.0, -1.0))
    widget_pos = view.canvas.mapFromScene(scene_pos)
    qtbot.mouseClick(view.canvas.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=widget_pos)
    qtbot.waitUntil(lambda: len(view.starts) == 1, timeout=3000)
    assert view.starts[0] == pytest.approx((1.0, -1.0), abs=0.05)


def test_timeline_scrubs_all_paths_and_animation_plays(view, qtbot):
    view.timeline.setValue(5)
    for item in view.layer.items:
        assert len(item.line.getData()[0]) == 6
    assert view.cursor.value() == 5 and "step 5" in view.step_label.text()
    view.step_once()
    assert view.timeline.value() == 6
    view.speed.setValue(120)
    view.toggle_play()
    qtbot.waitUntil(lambda: view.timeline.value() == view.steps.value(), timeout=5000)
    assert view.play.text() == "Play"


def test_diverged_path_gets_its_marker(view, qtbot):
    choose(view, qtbot, "quadratic")
    view.set_checked(["sgd"])
    view.optimizers.setCurrentRow(0)
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.opt_form.editors["lr"].setValue(1.5)
    item = view.layer.items[0]
    assert view.paths[0].diverged_at is not None
    assert item.label.isVisible() and "diverged at step" in item.label.toPlainText()
    assert len(item.blowup.data) == 1


def test_export_png_svg_csv(view, tmp_path):
    png = view.charts.export("surface", tmp_path / "s.png")
    svg = view.charts.export("surface", tmp_path / "s.svg")
    csv = view.charts.export("loss_per_step", tmp_path / "l.csv")
    assert QtGui.QImage(str(png)).width() >= 800
    renderer = QtSvg.QSvgRenderer(str(svg))
    assert renderer.isValid() and renderer.defaultSize().width() > 300
    assert b"<path" in svg.read_bytes() or b"<image" in svg.read_bytes()
    lines = csv.read_text().splitlines()
    assert lines[0] == "series,x,y" and len(lines) > 10
    files = view.charts.export_all(tmp_path / "all")
    assert {f.name for f in files} >= {"surface.png", "surface.svg", "surface.csv", "loss_per_step.csv"}


def test_view_and_model_stay_bound(view, qtbot):
    """Edits land in the experiment model; a model set from outside (a file) lands in the controls."""
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.add_start((0.5, 0.5))
    s = view.settings()
    assert s is view.experiment.surface and s.starts == [(0.5, 0.5)]
    other = SurfaceView()
    qtbot.addWidget(other)
    with qtbot.waitSignal(other.recomputed, timeout=5000):
        other.experiment.surface = s
    assert other.starts == [(0.5, 0.5)] and other.checked_optimizers() == s.optimizers
    assert other.settings() == s
    assert [p.points.tolist() for p in other.paths] == [p.points.tolist() for p in view.paths]


def test_paths_are_computed_off_the_gui_thread(view, qtbot):
    """The paths job runs in a worker thread: the event loop keeps turning while 5000 steps compute."""
    ticks = []
    timer = QtCore.QTimer(interval=5)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    with qtbot.waitSignal(view.recomputed, timeout=20000):
        view.steps.setValue(5000)
    timer.stop()
    assert len(view.paths[0].losses) == 5001
    assert len(ticks) >= 3


def test_a_constant_formula_is_a_red_message_not_a_traceback(view, qtbot, capfd):
    choose(view, qtbot, FORMULA)
    drawn = list(view.paths)
    for text in ("2", "0/0", "9**9**9**9", "log(-1)", "0x" + "f" * 280, "1if x else 2"):
        view.formula.setText(text)
        qtbot.waitUntil(lambda: view.error.isVisible(), timeout=3000)
        assert view.error.text().startswith("Formula:")
        assert len(view.paths) == len(drawn) and all(a is b for a, b in zip(view.paths, drawn))  # drawing kept
        with qtbot.waitSignal(view.recomputed, timeout=5000):
            view.formula.setText("x**2")
        assert not view.error.isVisible()
        drawn = list(view.paths)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Warning" not in err
