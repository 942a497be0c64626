"""The comparison tab after tuning: one learning rate for the base optimizer (form and race panel agree, and
either edit changes the race), a sidebar sweep that fits its panel and says the edge of the grid and when it is
stale, and an lr chart on which two optimizers at one rate both show."""

import pytest
from PySide6 import QtCore, QtWidgets

from engine.experiment import Experiment, load_section
from engine.experiment_settings import ComparisonSpec
from engine.training.compare import RunResult
from engine.training.records import EpochRecord
from gui.views.compare_panels import ComparisonPanels
from gui.views.compare_view import CompareView

pytestmark = pytest.mark.gui

SMALL = {"points": 30, "layers": [2, 8, 3], "epochs": 2, "optimizer": "sgd"}


def make_view(qtbot, **spec) -> CompareView:
    exp = Experiment()
    data = {"base": SMALL, "vary": [{"field": "optimizer", "values": ["sgd", "adam"]}], **spec}
    exp.comparison = load_section(ComparisonSpec, data)
    view = CompareView(exp)
    qtbot.addWidget(view)
    return view


def race_rates(view) -> dict:
    return {
        label["optimizer"]: cfg.optimizer_params["lr"]
        for label, _, cfg in view.experiment.comparison.to_comparison().runs()
    }


def test_the_base_form_and_the_race_panel_show_one_rate_and_either_edit_changes_the_race(qtbot):
    view = make_view(qtbot, per_optimizer={"sgd": {"lr": 1.0}})  # as after tuning: SGD's own rate is 1
    race, base = view.race, view.base_form.optimizer
    race.which.setCurrentIndex(0)
    assert race.which.currentData() == "sgd"
    assert base.values()["lr"] == race.form.values()["lr"] == 1.0 == race_rates(view)["sgd"]
    note = view.base.optimizer_note
    assert (
        not note.isHidden() and "SGD's settings in the race" in note.text() and "Adam run with their own" in note.text()
    )
    base.form.editors["lr"].setValue(0.05)  # the base form's field now changes what runs
    assert race_rates(view) == {"sgd": 0.05, "adam": 0.001}
    assert race.form.values()["lr"] == 0.05
    race.form.editors["lr"].setValue(0.2)  # and the race panel's field shows in the base form
    assert base.values()["lr"] == 0.2 and race_rates(view)["sgd"] == 0.2
    race.defaults.click()  # back to its defaults: both fields, SGD's training default
    assert base.values()["lr"] == race.form.values()["lr"] == race_rates(view)["sgd"] == 0.1
    view.values1.setText("0,0.5")
    view.field1.setCurrentText("momentum")
    assert note.isHidden()  # the optimizer is not varied: no note


def test_the_sidebar_sweep_fits_shows_every_star_says_the_edge_and_goes_stale(qtbot):
    view = make_view(qtbot, tuning={"lr_min": 0.01, "lr_max": 1.0, "points": 2})  # two rates: each best at an edge
    view.resize(1400, 900)
    view.show()
    qtbot.waitExposed(view)
    race = view.race
    with qtbot.waitSignal(race.tuned, timeout=60000):
        race.tune_button.click()
    scroll = view.findChild(QtWidgets.QScrollArea)
    scroll.ensureWidgetVisible(race.sweep, 0, 0)
    qtbot.wait(50)
    status = race.status.text()
    for name in ("SGD", "Adam"):
        assert f"{name}: best at the edge of the grid — widen" in status
    plot, widget = race.chart.plot, race.plot_widget
    width = widget.viewport().width()
    assert widget.width() <= scroll.viewport().width()
    for item in (plot, race.chart.legend, plot.titleLabel):  # nothing drawn past the view's right edge
        assert item.sceneBoundingRect().right() <= width + 1, item
    vb = plot.vb.sceneBoundingRect()
    assert set(race.chart.stars) == {"sgd", "adam"}
    for star in race.chart.stars.values():
        x, y = star.getData()
        at = plot.vb.mapViewToScene(QtCore.QPointF(x[0], y[0]))
        assert vb.adjusted(8, 8, -8, -8).contains(at)  # the whole star inside the plot
    assert not race.sweep.is_stale
    race.form.editors["lr"].setValue(0.3)  # a rate set by hand does not change what was tuned
    assert not race.sweep.is_stale
    view.base_form.epochs.setValue(3)
    assert race.sweep.is_stale and "the epochs changed" in race.sweep.stale.text()
    assert "stale" in plot.titleLabel.text
    view.base_form.epochs.setValue(2)
    assert not race.sweep.is_stale and "stale" not in plot.titleLabel.text
    dialog = race.sweep.enlarge()
    qtbot.addWidget(dialog)
    labels = [label.text for _, label in dialog.chart.legend.items]
    assert any("best at the edge of the grid" in text for text in labels)  # the full notes, where there is room
    view.runner.shutdown()


def record(epoch, lr):
    return EpochRecord(epoch, 1.0 / (epoch + 1), None, 0.5, None, lr, None, 0.0)


def run(oid, lr, config):
    return RunResult({"optimizer": oid}, 1, config, [record(e, lr) for e in range(4)], "", 0.0)


def test_two_optimizers_at_one_rate_both_show_on_the_lr_chart(qtbot):
    from engine.training.config import TrainConfig

    panels = ComparisonPanels()
    qtbot.addWidget(panels)
    cfg = TrainConfig()
    panels.draw([run("sgd", 1.0, cfg), run("adam", 0.1, cfg), run("adagrad", 1.0, cfg)], ["optimizer"], "train", 1, 0.9)
    pens = {name: curve.opts["pen"] for name, curve in panels.lr_chart.curves.items()}
    assert pens["sgd"].style() == QtCore.Qt.PenStyle.SolidLine and pens["adam"].style() == QtCore.Qt.PenStyle.SolidLine
    assert pens["adagrad"].style() == QtCore.Qt.PenStyle.DashLine  # over SGD's line: both colours show
    assert "dashed: same as another" in panels.lr_chart.plot.titleLabel.text
    panels.draw([run("sgd", 1.0, cfg), run("adam", 0.1, cfg)], ["optimizer"], "train", 1, 0.9)
    assert panels.lr_chart.plot.titleLabel.text == "learning rate"
    assert all(c.opts["pen"].style() == QtCore.Qt.PenStyle.SolidLine for c in panels.lr_chart.curves.values())


def test_tuning_a_race_that_varies_another_field_tunes_each_configuration_and_races_at_those_rates(qtbot):
    vary = [{"field": "optimizer", "values": ["sgd", "adam"]}, {"field": "batch_size", "values": ["10", "30"]}]
    view = make_view(qtbot, tuning={"lr_min": 0.01, "lr_max": 1.0, "points": 3}, vary=vary)
    race = view.race
    with qtbot.waitSignal(race.tuned, timeout=60000):
        race.tune_button.click()
    best = race.result.best
    assert set(best) == {(o, (("batch_size", b),)) for o in ("sgd", "adam") for b in ("10", "30")}
    status = race.status.text()
    assert "SGD (batch_size=10)" in status and "Adam (batch_size=30)" in status
    runs = {
        (label["optimizer"], label["batch_size"]): cfg.optimizer_params["lr"]
        for label, _, cfg in view.experiment.comparison.to_comparison().runs()
    }
    assert runs == {(o, b): best[(o, (("batch_size", b),))] for o, b in runs}  # each races at its own tuned rate
    race.which.setCurrentIndex(race.which.findData("adam"))
    race.form.editors["lr"].setValue(0.02)  # a rate typed by hand wins over Adam's tuned ones
    rates = {(lb["optimizer"], lb["batch_size"]): c.optimizer_params["lr"] for lb, _, c in
             view.experiment.comparison.to_comparison().runs()}  # fmt: skip
    assert rates[("adam", "10")] == rates[("adam", "30")] == 0.02 and rates[("sgd", "10")] == runs[("sgd", "10")]
    race.which.setCurrentIndex(race.which.findData("sgd"))
    assert not race.tuned_note.isHidden() and "rates tuned per configuration" in race.tuned_note.text().lower()
    assert "rates tuned per configuration" in view.base.optimizer_note.text()
    view.base_form.optimizer.form.editors["lr"].setValue(0.07)  # typed in the base form: SGD races at it
    view.base_form.optimizer.changed.emit()
    qtbot.waitUntil(lambda: {c.optimizer_params["lr"] for lb, _, c in view.experiment.comparison.to_comparison().runs()
                             if lb["optimizer"] == "sgd"} == {0.07}, timeout=3000)  # fmt: skip
    view.values2.setText("10,20")  # other varied values than the sweep's: its chart says it is stale
    view.values2.editingFinished.emit()
    qtbot.waitUntil(lambda: race.sweep.is_stale, timeout=3000)
    assert "the other varied values" in race.sweep.stale.text()
    legend = [label.text for _, label in race.chart.legend.items]
    assert any(text.startswith("SGD (batch_size=30) · lr") for text in legend)
    assert len(race.chart.stars) == 4  # every configuration's chosen rate is starred
    lines = [i for i in race.chart.items if i.opts["pen"] is not None and len(i.xData) > 1]
    sgd = [line.opts["pen"].style() for line in lines if line.opts["symbolBrush"] == lines[0].opts["symbolBrush"]]
    assert len(sgd) == 2 and sgd[0] != sgd[1]  # one optimizer's two configurations: two line styles


def test_the_training_form_starts_each_optimizer_at_its_training_rate_as_the_command_line_does(qtbot):
    from engine.optimizers import training_defaults
    from gui.views.config_form import ConfigForm

    form = ConfigForm()
    qtbot.addWidget(form)
    picker = form.optimizer
    for oid in ("momentum", "nesterov", "adam", "adagrad", "sgd"):
        picker.combo.setCurrentIndex(picker.combo.findData(oid))
        shown = picker.form.editors["lr"].value()
        assert shown == pytest.approx(training_defaults(oid)["lr"]), oid
    assert picker.values()["lr"] == pytest.approx(0.1)  # momentum and Nesterov are raced at SGD's 0.1, not 0.01
    picker.combo.setCurrentIndex(picker.combo.findData("momentum"))
    assert picker.form.editors["lr"].value() == pytest.approx(0.1)
