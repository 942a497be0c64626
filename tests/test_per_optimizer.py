"""Each optimizer at its own hyperparameters in a race: the engine, the experiment model and the presets."""

import json

import pytest

from engine.experiment import ComparisonSpec, Experiment, ExperimentError, load_experiment, save_experiment
from engine.optimizers import OPTIMIZERS
from engine.presets import PRESETS, preset_spec
from engine.training.compare import Comparison, own_settings
from engine.training.config import TrainConfig


def lrs(comparison):
    return {label.get("optimizer", cfg.optimizer): cfg.optimizer_params["lr"] for label, _, cfg in comparison.runs()}


def test_a_varied_optimizer_keeps_its_own_rate_not_the_bases():
    base = TrainConfig(optimizer="sgd", optimizer_params={"lr": 0.1, "momentum": 0.5}).validated()
    race = Comparison(base, [("optimizer", ["sgd", "adam", "adagrad", "adadelta"])])
    assert lrs(race) == {"sgd": 0.1, "adam": 0.001, "adagrad": 0.01, "adadelta": 1.0}
    sgd = next(cfg for label, _, cfg in race.runs() if label["optimizer"] == "sgd")
    assert sgd.optimizer_params["momentum"] == 0.5  # the base's own optimizer keeps all its settings
    for oid in ("adam", "adagrad", "adadelta"):
        cfg = next(cfg for label, _, cfg in race.runs() if label["optimizer"] == oid)
        assert cfg.optimizer_params == OPTIMIZERS.get(oid).defaults()


def test_per_optimizer_settings_apply_and_a_varied_field_wins():
    base = TrainConfig(optimizer="adam", optimizer_params={"lr": 0.003}).validated()
    per = {"sgd": {"lr": 0.2, "momentum": 0.9}, "adam": {"beta1": 0.8}}
    race = Comparison(base, [("optimizer", ["sgd", "adam"])], per_optimizer=per)
    runs = {label["optimizer"]: cfg.optimizer_params for label, _, cfg in race.runs()}
    assert runs["sgd"]["lr"] == 0.2 and runs["sgd"]["momentum"] == 0.9
    assert runs["adam"]["lr"] == 0.003 and runs["adam"]["beta1"] == 0.8
    grid = Comparison(base, [("lr", ["0.05"]), ("optimizer", ["sgd", "adam"])], per_optimizer=per)
    assert {cfg.optimizer_params["lr"] for _, _, cfg in grid.runs()} == {0.05}  # the varied rate, for both
    # a comparison that builds its runs its own way gets the same configurations back from own_settings
    plain = [(label, seed, base.with_field("seed", seed)) for label, seed, _ in race.runs()]
    assert own_settings(race, plain) == race.runs()


def test_per_optimizer_settings_survive_save_and_open(tmp_path):
    exp = Experiment()
    exp.comparison.vary = [{"field": "optimizer", "values": ["sgd", "adam"]}]
    exp.comparison.per_optimizer = {"sgd": {"lr": 0.3, "nesterov": True, "momentum": 0.9}, "adam": {"lr": 0.002}}
    exp.comparison.tuning.points = 7
    exp.comparison.tuning.criterion = "mean_loss"
    exp.surface.tuning.lr_max = 2.0
    path = save_experiment(exp, tmp_path / "e.json")
    back = load_experiment(path)
    assert back.comparison.per_optimizer == exp.comparison.per_optimizer
    assert back.comparison.tuning.points == 7 and back.comparison.tuning.criterion == "mean_loss"
    assert back.surface.tuning.lr_max == 2.0
    assert lrs(back.comparison.to_comparison()) == {"sgd": 0.3, "adam": 0.002}
    # a file written before these settings existed still opens, with none set
    data = json.loads(path.read_text())
    del data["comparison"]["per_optimizer"], data["comparison"]["tuning"], data["surface"]["tuning"]
    old = load_experiment(data)
    assert old.comparison.per_optimizer == {} and old.comparison.tuning.points == 13


@pytest.mark.parametrize(
    "value, field",
    [
        ({"adam": {"lr": -1}}, "per_optimizer.adam.lr"),
        ({"adam": {"momentum": 0.9}}, "per_optimizer.adam.momentum"),
        ({"warp": {"lr": 0.1}}, "per_optimizer.warp"),
    ],
)
def test_bad_per_optimizer_settings_name_their_field(value, field):
    with pytest.raises(ExperimentError) as err:
        ComparisonSpec(per_optimizer=value)
    assert err.value.field == field


def test_tuning_settings_are_checked():
    with pytest.raises(ExperimentError) as err:
        ComparisonSpec(tuning={"lr_min": 1.0, "lr_max": 0.1})
    assert err.value.field == "tuning.lr_min"
    with pytest.raises(ExperimentError) as err:
        ComparisonSpec(tuning={"criterion": "accuracy"})
    assert err.value.field == "tuning.criterion"


def test_the_mnist_race_gives_sgd_its_own_rate():
    name = next(n for n in PRESETS if "MNIST" in n)
    spec = ComparisonSpec.validate_data(preset_spec(name))
    rates = lrs(spec.to_comparison())
    assert rates == {"sgd": 0.1, "adam": 0.001, "adagrad": 0.01}
    for other in PRESETS:  # every preset still loads into the model
        ComparisonSpec.validate_data(preset_spec(other)).to_comparison()
