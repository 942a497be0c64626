"""Acceptance: the seed notebooks' training and comparison flows, walked in the real window as a user would.

The Training and Comparison tabs are driven with clicks, typing and the presets menu, with fewer epochs than
the notebooks so the file stays fast; the checks are on what is drawn (items, pens, pixels) and exported.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from acceptance_helpers import check_export_all
from conftest import MNIST_DIR
from PySide6 import QtCore, QtGui

from gui.charts import style
from gui.views.main_window import MainWindow

LEFT = QtCore.Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory):
    """One window for the module's flows (each sets what it needs): a window costs about a second to build."""
    folder = tmp_path_factory.mktemp("settings")
    w = MainWindow(QtCore.QSettings(str(folder / "settings.ini"), QtCore.QSettings.Format.IniFormat))
    w.compare.confirm_slow = w.training.confirm_slow = lambda parent, message: True
    w.resize(1400, 900)
    w.show()
    yield w
    w.runner.shutdown()
    w.close()


def type_into(qtbot, line_edit, text):
    line_edit.selectAll()
    qtbot.keyClick(line_edit, QtCore.Qt.Key.Key_Delete)
    qtbot.keyClicks(line_edit, text)


def choose_preset(qtbot, compare, name):
    """Pick a preset from the comparison's menu as a user does (an activated item, not a programmatic index)."""
    index = compare.preset.findText(name)
    assert index > 0, name
    compare.preset.setCurrentIndex(index)
    compare.preset.activated.emit(index)
    qtbot.wait(50)


def run_comparison(qtbot, window, timeout=60000):
    compare = window.compare
    window.tabs.setCurrentWidget(compare)
    with qtbot.waitSignal(compare.finished, timeout=timeout) as done:
        qtbot.mouseClick(compare.run_button, LEFT)
    assert done.args == ["finished"], compare.error.text()
    return compare


def brightness(colour: QtGui.QColor) -> int:
    return colour.red() + colour.green() + colour.blue()


def test_spiral_momentum_lab_draws_the_points_over_the_regions(window, qtbot, tmp_path, monkeypatch):
    view = window.training
    window.tabs.setCurrentWidget(view)
    form = view.form
    form.dataset.setCurrentIndex(form.dataset.findData("spiral"))
    type_into(qtbot, form.layers, "2,50,3")
    form.optimizer.set_current("sgd", {"lr": 0.1, "momentum": 0.5})
    form.batch_size.setValue(20)
    form.epochs.setValue(8)  # the seeds' 100 epochs, shortened
    form.seed.setValue(1)
    qtbot.mouseClick(view.run_button, LEFT)
    qtbot.waitUntil(lambda: view.status == "finished" and view._job is None, timeout=60000)
    qtbot.wait(50)

    assert view.side.currentWidget() is view.decision_canvas
    regions = view.decision.image
    assert regions.image is not None and regions.image.shape[:2] == (150, 150)
    points = view.decision.points
    assert len(points) == 3 and sum(len(p.data) for p in points) == 1500  # every point of the three arms
    assert all(p.zValue() > regions.zValue() and p.isVisible() for p in points)  # above the regions
    # what the window shows at the points is the points' own colour, not the regions' paler tint
    image = view.decision_canvas.grab().toImage()
    vb = view.decision.plot.vb
    # a region is its class colour mixed with at least 40 % white: a point (full colour, dark rim) is darker
    darkest_region = min(0.4 * 765 + 0.6 * brightness(QtGui.QColor(c)) for c in style.CLASS_COLOURS[:3])
    hits = total = 0
    for item in points:
        for spot in item.points()[::25]:
            pos = view.decision_canvas.mapFromScene(vb.mapViewToScene(spot.pos()))
            total += 1
            hits += brightness(image.pixelColor(pos)) < darkest_region - 20
    assert total > 50 and hits / total > 0.8, (hits, total)
    # the curves: train loss falls over the eight epochs, the lr chart holds the constant 0.1
    _, loss = view.twin.curves["train loss"].getData()
    assert len(loss) == 9 and loss[-1] < loss[0]
    _, lr = view.lr_chart.curves["lr"].getData()
    assert np.allclose(lr, 0.1)
    tables = check_export_all(
        window, qtbot, tmp_path / "training", monkeypatch, {"loss_accuracy", "learning_rate", "decision_regions"}
    )
    assert len(tables["decision_regions"]) == 150 * 150 and len(tables["loss_accuracy"]) == 9


def test_five_schedulers_preset_draws_five_distinct_schedules(window, qtbot):
    compare = window.compare
    choose_preset(qtbot, compare, "Five learning-rate schedulers (spiral)")
    compare.base_form.points.setValue(60)
    compare.base_form.epochs.setValue(12)  # past the step schedule's first step (10 epochs)
    run_comparison(qtbot, window)
    assert len(compare.results) == 5
    for chart in (compare.loss_chart, compare.lr_chart):
        assert len(chart.curves) == 5
        assert len({c.opts["pen"].color().name() for c in chart.curves.values()}) == 5
    schedules = [np.asarray(c.getData()[1]) for c in compare.lr_chart.curves.values()]
    assert all(len(s) == 12 and np.isfinite(s).all() for s in schedules)
    for a, b in itertools.combinations(schedules, 2):
        assert not np.allclose(a, b), "two schedulers drew the same learning rates"
    assert all(np.ptp(s) > 0 for s in schedules)  # each one changes the rate
    legend = [label.text for _, label in compare.loss_chart.legend.items]
    assert {"step", "exponential", "cyclic", "onecycle", "cosine-restarts"} <= {t.split(" ")[0] for t in legend}


@pytest.mark.slow  # 24 runs: about 5 s
def test_six_optimizers_by_four_learning_rates_fill_every_panel(window, qtbot, tmp_path, monkeypatch):
    compare = window.compare
    choose_preset(qtbot, compare, "Optimizer × learning rate grid (iris)")
    type_into(qtbot, compare.values2, "1,0.1,0.01,0.001")  # seed 004's exercise: four rates
    compare.base_form.epochs.setValue(2)
    run_comparison(qtbot, window, timeout=90000)
    assert len(compare.results) == 24
    panels = compare.panels
    panels.tabs.setCurrentIndex(1)  # Small multiples
    qtbot.wait(50)
    assert len(compare.grid_plots) == 24
    titles = set()
    for plot in compare.grid_plots:
        drawn = [i for i in plot.listDataItems() if i.yData is not None and np.isfinite(i.yData).any()]
        assert drawn, f"panel {plot.titleLabel.text} is empty"
        titles.add(plot.titleLabel.text.split(" — ")[0])
    assert len(titles) == 24
    assert len(compare.loss_chart.curves) == 24
    tables = check_export_all(
        window,
        qtbot,
        tmp_path / "grid",
        monkeypatch,
        {"compare_loss", "compare_accuracy", "compare_lr", "compare_grid"},
    )
    assert len({(r[0], r[1]) for r in tables["compare_grid"]}) == 24  # every panel's curve is exported
    assert (tmp_path / "grid" / "summary.csv").read_text().count("\n") == 25


@pytest.mark.slow  # three runs over 8000 images: about 6 s
def test_mnist_sgd_adam_adagrad_preset(window, qtbot):
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST files not found in {MNIST_DIR} (only present on the project's machines)")
    compare = window.compare
    choose_preset(qtbot, compare, "SGD vs Adam vs Adagrad on MNIST")
    type_into(qtbot, compare.base_form.folder, str(MNIST_DIR))
    compare.base_form.epochs.setValue(1)
    run_comparison(qtbot, window, timeout=120000)
    assert [r.label["optimizer"] for r in compare.results] == ["sgd", "adam", "adagrad"]
    # each at its own rate (the preset's), though the user edited the base form since choosing it
    assert [r.config.optimizer_params["lr"] for r in compare.results] == [0.1, 0.001, 0.01]
    assert len(compare.loss_chart.curves) == 3 and len(compare.acc_chart.curves) == 3
    colours = {c.opts["pen"].color().name() for c in compare.acc_chart.curves.values()}
    assert len(colours) == 3
    for curve in compare.acc_chart.curves.values():
        _, acc = curve.getData()
        assert len(acc) == 2 and acc[-1] > 0.5  # one epoch lifts every optimizer far above chance (0.1)
    assert compare.table.rowCount() == 3


def test_a_presets_own_rates_survive_editing_its_base(window, qtbot):
    compare = window.compare
    choose_preset(qtbot, compare, "SGD vs Adam vs Adagrad on MNIST")
    compare.base_form.epochs.setValue(3)
    type_into(qtbot, compare.base_form.folder, "/somewhere/mnist")
    qtbot.wait(50)
    spec = window.experiment.comparison
    assert spec.base.epochs == 3 and spec.base.data_dir == "/somewhere/mnist"
    runs = spec.to_comparison().runs()
    assert {label["optimizer"]: cfg.optimizer_params["lr"] for label, _, cfg in runs} == {
        "sgd": 0.1,
        "adam": 0.001,
        "adagrad": 0.01,
    }
