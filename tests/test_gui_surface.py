import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtSvg

from engine.experiment import Experiment, SurfaceSettings
from gui.views.surface_view import FORMULA, SurfaceView


@pytest.fixture
def view(shown_surface):
    return shown_surface(Experiment(surface=SurfaceSettings(steps=60)))  # few enough steps to draw a dot per step


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
        view.opt_form.editors["lr"].setValue(0.05)
    assert view.paths[0].params["lr"] == pytest.approx(0.05)
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
    # lr 1.5 on x²: each step doubles |x| and flips its sign, so it leaves the map before it overflows
    assert (
        item.label.isVisible() and item.label.toPlainText() == f"SGD left the map at step {view.paths[0].diverged_at}"
    )
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


def _pen_style(item):
    return item.opts["pen"].style()


def test_two_starts_of_one_optimizer_differ_in_symbol_and_dash(view, qtbot):
    from engine.surface.scene import start_style

    view.set_checked(["adam"])
    view.add_start((0.3, 1.3))
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.add_start((-0.4, -0.5), keep_others=True)
    assert len(view.paths) == 2 and {p.start_index for p in view.paths} == {0, 1}
    a, b = view.layer.items
    assert a.line.opts["symbol"] != b.line.opts["symbol"]
    assert (a.line.opts["symbol"], b.line.opts["symbol"]) == (start_style(0)[0], start_style(1)[0])
    assert _pen_style(a.line) == QtCore.Qt.PenStyle.SolidLine and _pen_style(b.line) == QtCore.Qt.PenStyle.DashLine
    assert a.line.opts["pen"].color() == b.line.opts["pen"].color()  # the colour stays the optimizer's
    assert a.start.opts["size"] < 18  # smaller stars with several starts
    legend = [label.text for _sample, label in view.legend.items]
    assert "Adam" in legend and "start 1" in legend and "start 2" in legend
    curves = view.loss_chart.curves
    assert set(curves) == {"Adam · start 1", "Adam · start 2"}
    assert _pen_style(curves["Adam · start 1"]) != _pen_style(curves["Adam · start 2"])
    loss_legend = [label.text for _sample, label in view.loss_chart.legend.items]
    assert "Adam · start 2" in loss_legend


def test_four_starts_get_small_stars(view, qtbot):
    view.set_checked(["sgd"])
    view.starts_edit.setText("0,0; 1,1; -1,1; 1,-1")
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.starts_edit.textEdited.emit(view.starts_edit.text())
    assert len(view.layer.items) == 4
    assert all(item.start.opts["size"] <= 12 for item in view.layer.items)
    assert len({item.line.opts["symbol"] for item in view.layer.items}) == 4
    assert len({_pen_style(item.line) for item in view.layer.items}) == 4


def test_typed_starts_give_paths_and_bad_ones_keep_the_drawing(view, qtbot):
    n = len(view.checked_optimizers())
    view.starts_edit.clear()
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        qtbot.keyClicks(view.starts_edit, "0.3,1.3; -0.4,-0.5")
    qtbot.waitUntil(lambda: len(view.paths) == 2 * n, timeout=5000)
    assert view.starts == [(0.3, 1.3), (-0.4, -0.5)]
    assert {p.start for p in view.paths} == {(0.3, 1.3), (-0.4, -0.5)}
    drawn = list(view.paths)
    for bad in ("0.3,abc", "0.3", "1,2,3", "1e99,0"):
        view.starts_edit.setText(bad)
        view.starts_edit.textEdited.emit(bad)
        qtbot.waitUntil(lambda: view.error.isVisible(), timeout=3000)
        assert view.error.text().startswith("Start points:"), view.error.text()
        assert all(a is b for a, b in zip(view.paths, drawn)) and len(view.paths) == len(drawn)
    # empty text: the function's default start
    view.starts_edit.setText("")
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.starts_edit.textEdited.emit("")
    assert not view.error.isVisible() and view.starts == [] and len(view.paths) == n
    # a Shift+click adds to the typed starts and shows in the text
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.add_start((0.5, 0.5))
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.add_start((1.0, -1.0), keep_others=True)
    assert view.starts_edit.text() == "0.5,0.5; 1,-1"


def test_typed_starts_in_one_dimension(view, qtbot):
    choose(view, qtbot, FORMULA)
    assert view.surface.dims == 1
    view.starts_edit.setText("0.5; -1")
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.starts_edit.textEdited.emit("0.5; -1")
    assert view.starts == [(0.5,), (-1.0,)]
    view.starts_edit.setText("0.5,1")
    view.starts_edit.textEdited.emit("0.5,1")
    qtbot.waitUntil(lambda: view.error.isVisible(), timeout=3000)
    assert view.error.text().startswith("Start points:") and "1-D" in view.error.text()


def test_log_box_changes_the_loss_chart(view, qtbot):
    name = view.paths[0].label
    _, linear = view.loss_chart.curves[name].getData()
    assert np.allclose(linear, view.paths[0].losses)
    view.loss_log.setChecked(True)
    _, logged = view.loss_chart.curves[name].getData()
    known = [m.value for m in view.surface.minima]
    low = min([float(np.nanmin(view.scene.z)), *(float(np.nanmin(p.losses)) for p in view.paths), *known])
    assert np.allclose(logged, np.log10(view.paths[0].losses - low + 1e-12))
    assert "log10" in view.loss_plot.getAxis("left").labelText
    view.loss_log.setChecked(False)
    _, again = view.loss_chart.curves[name].getData()
    assert np.allclose(again, linear) and view.loss_plot.getAxis("left").labelText == "f"


def _drawn_brush(scatter, index=0) -> str:
    """The colour of a drawn point's fill."""
    return scatter.points()[index].brush().color().name()


def _line_colour(item) -> str:
    return item.line.curve.opts["pen"].color().name()


def test_notebook_markers_paint_yellow_dots_and_blue_end_stars(view, qtbot):
    from gui.charts import style

    assert view.experiment.surface.notebook_markers is False
    item = view.layer.items[0]
    colour = _line_colour(item)
    assert _drawn_brush(item.line.scatter) == colour != style.DOT_COLOUR
    assert _drawn_brush(item.end) == colour
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.controls.notebook_markers.setChecked(True)
    assert view.experiment.surface.notebook_markers is True
    for item in view.layer.items:
        assert _drawn_brush(item.line.scatter, -1) == style.DOT_COLOUR
        assert _drawn_brush(item.end) == style.END_COLOUR
        assert _drawn_brush(item.start) == style.START_COLOUR
        assert _line_colour(item) not in (style.DOT_COLOUR, style.END_COLOUR)  # the line keeps its colour
    with qtbot.waitSignal(view.recomputed, timeout=5000):
        view.controls.notebook_markers.setChecked(False)
    item = view.layer.items[0]
    assert _drawn_brush(item.line.scatter) == _line_colour(item) == _drawn_brush(item.end)
