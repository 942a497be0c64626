"""The comparison tab's race panel: each optimizer's own settings, and tuning their rates in the background."""

import pytest
from pytestqt.qtbot import QtBot

from engine.experiment import Experiment, load_section
from engine.experiment_settings import ComparisonSpec
from engine.optimizers import optimizer_colour
from gui.views.compare_view import CompareView

pytestmark = pytest.mark.gui


@pytest.fixture
def view(qtbot: QtBot):
    exp = Experiment()
    exp.comparison = load_section(
        ComparisonSpec,
        {
            "base": {"points": 30, "layers": [2, 8, 3], "epochs": 2, "optimizer": "sgd"},
            "vary": [{"field": "optimizer", "values": ["sgd", "adam"]}],
            "tuning": {"lr_min": 0.001, "lr_max": 1.0, "points": 3},
        },
    )
    v = CompareView(exp)
    qtbot.addWidget(v)
    yield v
    v.runner.shutdown()


def test_each_optimizer_shows_and_keeps_its_own_settings(view):
    race = view.race
    assert [race.which.itemData(i) for i in range(race.which.count())] == ["sgd", "adam"]
    race.which.setCurrentIndex(1)
    assert race.form.values()["lr"] == 0.001  # adam's own default, not sgd's 0.1
    race.form.editors["beta1"].setValue(0.8)
    race.form.editors["lr"].setValue(0.02)
    spec = view.experiment.comparison
    assert spec.per_optimizer["adam"]["beta1"] == 0.8 and spec.per_optimizer["adam"]["lr"] == 0.02
    runs = {label["optimizer"]: cfg.optimizer_params for label, _, cfg in spec.to_comparison().runs()}
    assert runs["adam"]["lr"] == 0.02 and runs["sgd"]["lr"] == 0.1
    view.values1.setText("sgd,adam,rmsprop")  # editing the comparison keeps the per-optimizer settings
    assert view.experiment.comparison.per_optimizer["adam"]["lr"] == 0.02
    assert race.which.count() == 3
    race.which.setCurrentIndex(1)
    race.defaults.click()
    assert "adam" not in view.experiment.comparison.per_optimizer


def test_tune_learning_rates_stores_the_best_and_draws_the_sweep(view, qtbot):
    race = view.race
    with qtbot.waitSignal(race.tuned, timeout=60000):
        race.tune_button.click()
    result = race.result
    assert len(result.trials) == 6 and race.progress.value() == race.progress.maximum() == 6 * 2
    per = view.experiment.comparison.per_optimizer
    assert {oid: per[oid]["lr"] for oid in ("sgd", "adam")} == result.best
    plot = race.chart.plot
    lines = [i for i in plot.listDataItems() if i.opts["pen"] is not None and i.xData is not None and len(i.xData) > 1]
    assert {i.opts["pen"].color().name() for i in lines} == {optimizer_colour("sgd"), optimizer_colour("adam")}
    assert "Tuned rates" in race.status.text() and race.tune_button.isEnabled()


def test_stop_ends_the_sweep_and_changes_no_rate(view, qtbot):
    race = view.race
    race.points.setValue(60)  # long enough to stop mid-way
    before = dict(view.experiment.comparison.per_optimizer)
    race.tune_button.click()
    assert not race.tune_button.isEnabled() and race.stop_button.isEnabled()
    race.stop_button.click()
    qtbot.waitUntil(lambda: race.tune_button.isEnabled(), timeout=30000)
    assert "stopped" in race.status.text().lower()
    assert view.experiment.comparison.per_optimizer == before and race.result is None
