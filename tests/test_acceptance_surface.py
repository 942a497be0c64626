"""Acceptance: the seed notebooks' loss-surface flows, walked in the real window as a user would.

Each test drives the MainWindow's Loss-surface tab with clicks, typing and ticks, then checks what is drawn:
the items on the map and the loss chart, their pens, symbols and brushes, and pixels of the window.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from gui.charts import style
from gui.views.main_window import MainWindow

LEFT = QtCore.Qt.MouseButton.LeftButton
CHECKED, UNCHECKED = QtCore.Qt.CheckState.Checked, QtCore.Qt.CheckState.Unchecked
RACE = ["sgd", "adagrad", "rmsprop", "adadelta", "adam", "amsgrad", "adamax", "nadam"]  # seed 004's eight


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """One window for the module's flows (each sets what it needs): a window costs about a second to build."""
    folder = tmp_path_factory.mktemp("settings")
    settings = QtCore.QSettings(str(folder / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings)
    w.resize(1400, 900)
    w.show()
    deadline = QtCore.QDeadlineTimer(10000)
    while not w.surface.paths and not deadline.hasExpired():
        qapp.processEvents()
    yield w
    w.runner.shutdown()
    w.close()


def settle(qtbot, view):
    """Wait until the edits' recomputation has been drawn (debounced, in a worker)."""
    qtbot.wait(120)
    qtbot.waitUntil(lambda: view._job is None and not view._debounce.isActive(), timeout=10000)


def tick(view, ids):
    """Tick exactly these optimizers in the list, one check box at a time, as a user would."""
    for i in range(view.optimizers.count()):
        item = view.optimizers.item(i)
        want = CHECKED if item.data(QtCore.Qt.ItemDataRole.UserRole) in ids else UNCHECKED
        if item.checkState() != want:
            item.setCheckState(want)


def select(view, oid):
    """Click an optimizer's row, so its hyperparameters show in the form."""
    for i in range(view.optimizers.count()):
        if view.optimizers.item(i).data(QtCore.Qt.ItemDataRole.UserRole) == oid:
            rect = view.optimizers.visualItemRect(view.optimizers.item(i))
            view.optimizers.setCurrentRow(i)
            return rect
    raise AssertionError(oid)


def type_into(qtbot, line_edit, text):
    line_edit.selectAll()
    qtbot.keyClick(line_edit, QtCore.Qt.Key.Key_Delete)
    qtbot.keyClicks(line_edit, text)


def pixel_at(view, x, y) -> QtGui.QColor:
    """The colour the window shows at map point (x, y)."""
    image = view.canvas.grab().toImage()
    pos = view.canvas.mapFromScene(view.map_plot.vb.mapViewToScene(QtCore.QPointF(x, y)))
    return image.pixelColor(pos)


def test_peaks_race_with_eight_optimizers(window, qtbot):
    view = window.surface
    view.function.setCurrentIndex(view.function.findData("peaks"))
    tick(view, RACE)
    select(view, "sgd")
    view.opt_form.editors["lr"].setValue(0.1)
    qtbot.mouseClick(view.same_lr, LEFT)  # "Use this learning rate for all"
    select(view, "adadelta")
    view.opt_form.editors["lr"].setValue(1.0)  # the seed's Adadelta(learning_rate=1)
    view.steps.setValue(10)
    type_into(qtbot, view.starts_edit, "-0.35,-0.67")
    settle(qtbot, view)

    assert [p.optimizer for p in view.paths] == RACE and len(view.layer.items) == 8
    colours = [item.line.opts["pen"].color().name() for item in view.layer.items]
    assert len(set(colours)) == 8, colours  # eight optimizers, eight colours
    for item, path in zip(view.layer.items, view.paths):
        assert path.start == (-0.35, -0.67) and len(path.points) == 11
        xs, ys = item.line.getData()
        assert len(xs) == 11 and item.line.opts["symbol"] is not None  # a dot per step
        assert len(item.line.scatter.points()) == 11
        start = item.start.points()
        assert len(start) == 1 and start[0].symbol() == "star"
        assert start[0].brush().color().name() == style.START_COLOUR
        assert (start[0].pos().x(), start[0].pos().y()) == pytest.approx((-0.35, -0.67))
        if path.diverged_at is None:
            end = item.end.points()
            assert len(end) == 1 and end[0].symbol() == "star"
            assert (end[0].pos().x(), end[0].pos().y()) == pytest.approx((xs[-1], ys[-1]))
        else:
            assert len(item.blowup.points()) == 1
    assert [p.params["lr"] for p in view.paths if p.optimizer != "adadelta"] == [pytest.approx(0.1)] * 7
    assert [p.params["lr"] for p in view.paths if p.optimizer == "adadelta"] == [pytest.approx(1.0)]
    # the red start star is what the window shows at the start, over the contour and the eight lines
    shown = pixel_at(view, -0.35, -0.67)
    red = QtGui.QColor(style.START_COLOUR)
    assert abs(shown.red() - red.red()) + abs(shown.green() - red.green()) + abs(shown.blue() - red.blue()) < 60
    # the loss chart has one curve per optimizer, in its colour
    assert len(view.loss_chart.curves) == 8
    loss_colours = {c.opts["pen"].color().name() for c in view.loss_chart.curves.values()}
    assert loss_colours == set(colours)
    legend = [label.text for _sample, label in view.legend.items]
    assert len(legend) == 8

    # the seeds' notebook markers: yellow step dots and blue end stars, the red start star kept
    view.controls.notebook_markers.setChecked(True)
    settle(qtbot, view)
    for item in view.layer.items:
        assert item.line.scatter.points()[-1].brush().color().name() == style.DOT_COLOUR
        assert item.start.points()[0].brush().color().name() == style.START_COLOUR
        if len(item.end.points()):
            assert item.end.points()[0].brush().color().name() == style.END_COLOUR


def test_several_starts_typed_and_shift_clicked_have_their_own_styles(window, qtbot):
    view = window.surface
    view.function.setCurrentIndex(view.function.findData("peaks"))
    tick(view, ["adam"])
    type_into(qtbot, view.starts_edit, "0.3,1.3; -0.4,-0.5")
    settle(qtbot, view)
    assert view.starts == [(0.3, 1.3), (-0.4, -0.5)]
    # a Shift+click on the map adds a third start
    pos = view.canvas.mapFromScene(view.map_plot.vb.mapViewToScene(QtCore.QPointF(1.0, -1.0)))
    qtbot.mouseClick(view.canvas.viewport(), LEFT, QtCore.Qt.KeyboardModifier.ShiftModifier, pos)
    settle(qtbot, view)
    assert len(view.starts) == 3 and view.starts[2] == pytest.approx((1.0, -1.0), abs=0.05)
    assert view.starts_edit.text().count(";") == 2  # the click shows in the typed list

    items = view.layer.items
    assert len(items) == 3
    styles = {(it.line.opts["symbol"], it.line.opts["pen"].style()) for it in items}
    assert len({s for s, _ in styles}) == 3 and len({d for _, d in styles}) == 3  # each start: shape and dash
    assert len({it.line.opts["pen"].color().name() for it in items}) == 1  # one optimizer: its one colour
    for it, start in zip(items, view.starts):
        first = it.start.points()[0].pos()
        assert (first.x(), first.y()) == pytest.approx(start)
    curves = view.loss_chart.curves
    assert set(curves) == {"Adam · start 1", "Adam · start 2", "Adam · start 3"}
    assert len({c.opts["pen"].style() for c in curves.values()}) == 3
    legend = [label.text for _sample, label in view.legend.items]
    assert {"start 1", "start 2", "start 3"} <= set(legend)

    # a plain click starts afresh from one point
    pos = view.canvas.mapFromScene(view.map_plot.vb.mapViewToScene(QtCore.QPointF(0.5, 0.5)))
    qtbot.mouseClick(view.canvas.viewport(), LEFT, pos=pos)
    settle(qtbot, view)
    assert len(view.starts) == 1 and len(view.layer.items) == 1


def notebook_history(ini, lr, it):
    """Seed 002's own code: x <- x - lr * (sin(x²) + 2x² cos(x²)), it times from ini."""
    h, x = [ini], ini
    for _ in range(it):
        x = x - lr * (np.sin(x * x) + 2 * x * x * np.cos(x * x))
        h.append(x)
    return np.array(h)


def test_x_sin_x2_follows_seed_002(window, qtbot):
    view = window.surface
    view.function.setCurrentIndex(view.function.findData("formula"))
    type_into(qtbot, view.formula, "x*sin(x**2)")
    tick(view, ["sgd"])
    select(view, "sgd")
    if "momentum" in view.opt_form.editors:
        view.opt_form.editors["momentum"].setValue(0.0)
    # the notebook's four runs: 10 then 100 iterations at 0.01, a low rate, another start
    for start, lr, steps in ((1.5, 0.01, 10), (1.5, 0.01, 100), (1.5, 0.001, 100), (-2, 0.01, 100)):
        view.opt_form.editors["lr"].setValue(lr)
        view.steps.setValue(steps)
        type_into(qtbot, view.starts_edit, f"{start}")
        settle(qtbot, view)
        assert view.surface.dims == 1 and not view.error.isVisible()
        expected = notebook_history(start, lr, steps)
        (item,) = view.layer.items
        xs, ys = item.line.getData()  # what the map draws: the path over the curve
        np.testing.assert_allclose(xs, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ys, expected * np.sin(expected**2), rtol=1e-4, atol=1e-5)
        _, losses = view.loss_chart.curves[view.paths[0].label].getData()
        np.testing.assert_allclose(losses, expected * np.sin(expected**2), rtol=1e-4, atol=1e-5)
        if (start, lr, steps) == (1.5, 0.01, 100):
            assert expected[-1] == pytest.approx(2.1945, abs=1e-3)  # the global minimum, as the seed's plot shows
        if start == -2:
            assert expected[-1] == pytest.approx(-1.3552, abs=1e-3)  # stuck in the local dip: the seed's lesson


def test_export_every_surface_chart(window, qtbot, tmp_path, monkeypatch):
    from acceptance_helpers import check_export_all

    view = window.surface
    window.tabs.setCurrentWidget(view)
    view.function.setCurrentIndex(view.function.findData("peaks"))
    tick(view, ["sgd", "adam"])
    type_into(qtbot, view.starts_edit, "0.3,1.3; -0.4,-0.5")
    settle(qtbot, view)
    tables = check_export_all(window, qtbot, tmp_path / "surface", monkeypatch, {"surface", "loss_per_step"})
    paths = {(row[0], row[1]) for row in tables["surface"]}
    assert len(paths) == 4  # two optimizers from two starts, every point of each
    assert len(tables["surface"]) == sum(len(p.points) for p in view.paths)
