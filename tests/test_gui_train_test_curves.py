"""Train and test curves together: the comparison's "curves" choice (window) and ``compare --curves`` (PNGs)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from gui.views.compare_view import CompareView
from gui.views.training_view import TrainingView

DASH, SOLID = QtCore.Qt.PenStyle.DashLine, QtCore.Qt.PenStyle.SolidLine


def legend_names(legend):
    return [label.text for _, label in legend.items]


@pytest.fixture(scope="module")
def compared(qapp):
    view = CompareView()
    form = view.base_form
    form.points.setValue(40)
    form.epochs.setValue(3)
    form.test_fraction.setValue(0.25)
    view.field1.setCurrentText("optimizer")
    view.values1.setText("sgd,adam")
    view.start()
    deadline = QtCore.QDeadlineTimer(60000)
    while view._job is not None and not deadline.hasExpired():
        qapp.processEvents()
        QtCore.QThread.msleep(20)
    assert len(view.results) == 2
    yield view
    view.shutdown()


def test_both_draws_train_solid_and_test_dashed_in_each_runs_colour(compared):
    view = compared
    view.metric_set.setCurrentIndex(view.metric_set.findText("train and test"))
    for chart in (view.loss_chart, view.acc_chart):
        assert sorted(chart.curves) == ["adam · test", "adam · train", "sgd · test", "sgd · train"]
        for opt in ("sgd", "adam"):
            train, test = (chart.curves[f"{opt} · {p}"].opts["pen"] for p in ("train", "test"))
            assert train.style() == SOLID and test.style() == DASH
            assert train.color().name() == test.color().name()
            ys = [chart.curves[f"{opt} · {p}"].getData()[1] for p in ("train", "test")]
            assert all(len(y) == 4 and np.isfinite(y).all() for y in ys) and not np.allclose(ys[0], ys[1])
    assert view.loss_chart.curves["sgd · train"].opts["pen"].color().name() != (
        view.loss_chart.curves["adam · train"].opts["pen"].color().name()
    )
    assert sorted(legend_names(view.loss_chart.legend)) == sorted(view.loss_chart.curves)
    assert view.loss_chart.plot.titleLabel.text.startswith("train and test loss")
    header, rows = view.loss_chart.table()
    assert {r[0] for r in rows} == set(view.loss_chart.curves)  # the CSV export holds both too


def test_one_set_at_a_time_is_still_there(compared):
    view = compared
    for text, which in (("train", "train"), ("test (where held out)", "test")):
        view.metric_set.setCurrentIndex(view.metric_set.findText(text))
        assert sorted(view.loss_chart.curves) == ["adam", "sgd"]
        assert all(c.opts["pen"].style() == SOLID for c in view.loss_chart.curves.values())
        assert view.loss_chart.plot.titleLabel.text.startswith(f"{which} loss")
    train = compared.results[0].history[-1].train_loss
    view.metric_set.setCurrentIndex(view.metric_set.findText("train"))
    label = " · ".join(str(v) for v in compared.results[0].label.values())
    assert view.loss_chart.curves[label].getData()[1][-1] == pytest.approx(train)


def test_the_training_tab_shows_train_and_test_together(qtbot):
    view = TrainingView()
    qtbot.addWidget(view)
    view.form.points.setValue(40)
    view.form.epochs.setValue(2)
    view.form.test_fraction.setValue(0.25)
    view.run()
    qtbot.waitUntil(lambda: view.status == "finished" and view._job is None, timeout=30000)
    names = legend_names(view.twin.legend)
    assert {"train loss", "test loss", "train accuracy", "test accuracy"} <= set(names)
    for what in ("loss", "accuracy"):
        train, test = view.twin.curves[f"train {what}"], view.twin.curves[f"test {what}"]
        assert train.opts["pen"].style() == SOLID and test.opts["pen"].style() == DASH
        assert len(train.getData()[0]) == len(test.getData()[0]) == 3
    view.shutdown()


def test_compare_cli_curves_both(tmp_path, monkeypatch):
    import gui.charts.render as render
    from main import main

    drawn = {}
    real = render.render_lines

    def spy(series, path, title, ylabel, *a, **kw):
        drawn[path.name if hasattr(path, "name") else str(path)] = (title, series)
        return real(series, path, title, ylabel, *a, **kw)

    monkeypatch.setattr(render, "render_lines", spy)
    out = tmp_path / "c"
    argv = ["compare", "--dataset", "spiral", "--points", "30", "--epochs", "2", "--test-fraction", "0.25"]
    assert main([*argv, "--vary", "optimizer=sgd,adam", "--curves", "both", "--out", str(out)]) == 0
    title, series = drawn["compare_loss.png"]
    assert title == "train and test loss"
    assert [(s["name"], s.get("dashed", False)) for s in series] == [
        ("optimizer=sgd · train", False),
        ("optimizer=adam · train", False),
        ("optimizer=sgd · test", True),
        ("optimizer=adam · test", True),
    ]
    assert series[0]["colour"] == series[2]["colour"] != series[1]["colour"]
    assert drawn["compare_accuracy.png"][0] == "train and test accuracy"
    assert (out / "compare_loss.png").stat().st_size > 5000
    assert main([*argv, "--vary", "optimizer=sgd,adam", "--curves", "train", "--out", str(tmp_path / "t")]) == 0
    assert drawn["compare_loss.png"][0] == "train loss" and len(drawn["compare_loss.png"][1]) == 2
    assert main([*argv, "--vary", "optimizer=sgd", "--curves", "nope", "--out", str(tmp_path / "n")]) == 2
