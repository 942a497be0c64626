"""Fair races, second trial: each optimizer's own training rate whichever is the base, --lr in a race (a note,
--lr-for-all), a rate tuned per configuration, map axes as a reader writes them, and every refusal worded
`error: --flag: message` (exit 2, nothing written)."""

import csv
import json

import pytest
from PIL import Image

from engine.experiment import load_experiment
from engine.experiment_fields import ExperimentError
from engine.experiment_settings import ComparisonSpec, SurfaceSettings, TrainingSettings
from engine.optimizers import OPTIMIZERS, training_defaults, training_lr
from engine.training.compare import Comparison
from engine.training.config import TrainConfig
from main import main

SMALL = ["--points", "40", "--layers", "2,8,3", "--epochs", "3", "--no-store"]


def rows(path):
    return list(csv.DictReader(open(path)))


def race_rates(base: TrainConfig, optimizers: list[str]) -> dict[str, float]:
    runs = Comparison(base, [("optimizer", optimizers)]).runs()
    return {cfg.optimizer: cfg.optimizer_params["lr"] for _, _, cfg in runs}


def test_every_optimizer_starts_from_its_own_training_rate_whichever_is_the_base():
    assert [training_lr(o) for o in ("sgd", "momentum", "nesterov")] == [0.1, 0.1, 0.1]
    assert training_lr("adam") == OPTIMIZERS.get("adam").defaults()["lr"] == 0.001
    assert training_defaults("momentum")["momentum"] == 0.9
    expected = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "adam": 0.001, "adagrad": 0.01}
    for base_optimizer in ("sgd", "momentum", "adam"):
        base = TrainConfig(optimizer=base_optimizer, optimizer_params={}).validated()
        assert race_rates(base, list(expected)) == expected, base_optimizer
    # a rate the user set for the base stays the base's alone
    base = TrainConfig(optimizer="sgd", optimizer_params={"lr": 0.05})
    assert race_rates(base, ["sgd", "momentum"]) == {"sgd": 0.05, "momentum": 0.1}


def test_switching_optimizer_keeps_a_typed_rate_but_not_a_default_one():
    assert TrainConfig().with_field("optimizer", "adam").validated().optimizer_params["lr"] == 0.001
    typed = TrainConfig(optimizer_params={"lr": 0.05}).with_field("optimizer", "adam").validated()
    assert typed.optimizer_params["lr"] == 0.05
    settings = TrainingSettings()  # sgd at 0.1, its own default
    settings.optimizer = "adam"
    assert settings.to_config().optimizer_params["lr"] == 0.001
    settings.optimizer_params = {"lr": 0.02}
    settings.optimizer = "rmsprop"
    assert settings.to_config().optimizer_params["lr"] == 0.02


def test_compare_lr_applies_to_the_base_with_a_note_or_to_all_with_lr_for_all(tmp_path, capsys):
    out = tmp_path / "note"
    assert main(["compare", *SMALL, "--vary", "optimizer=sgd,adam", "--lr", "0.05", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    note = next(line for line in err.splitlines() if line.startswith("note: --lr"))
    assert "applies to sgd" in note and "adam 0.001" in note and "--lr-for-all" in note
    assert {r["optimizer"]: float(r["lr"]) for r in rows(out / "summary.csv")} == {"sgd": 0.05, "adam": 0.001}
    out = tmp_path / "all"
    argv = ["compare", *SMALL, "--vary", "optimizer=sgd,adam,adagrad", "--lr", "0.05", "--lr-for-all"]
    assert main([*argv, "--set", "adam.lr=0.002", "--out", str(out)]) == 0
    assert "note: --lr" not in capsys.readouterr().err
    rates = {r["optimizer"]: float(r["lr"]) for r in rows(out / "summary.csv")}
    assert rates == {"sgd": 0.05, "adam": 0.002, "adagrad": 0.05}  # --set OPT.lr, more specific, wins
    per = load_experiment(out / "experiment.json").comparison.per_optimizer
    assert per == {"sgd": {"lr": 0.05}, "adam": {"lr": 0.002}, "adagrad": {"lr": 0.05}}


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["compare", "--vary", "optimizer=adam,adagrad", "--lr", "0.05"], "error: --lr: sets the base optimizer's"),
        (["compare", "--vary", "optimizer=sgd,adam", "--lr-for-all"], "error: --lr-for-all: needs --lr"),
        (["compare", "--vary", "optimizer=sgd,adam", "--set", "foo.lr=0.1"], "error: --set foo.lr: unknown optimizer"),
        (["compare", "--vary", "optimizer=sgd,adam", "--set", "adagrad.lr=0.1"], "error: --set adagrad.lr: adagrad is"),
        (["surface", "--optimizers", "sgd", "--set", "adagrad.lr=0.1"], "error: --set adagrad.lr: adagrad is not"),
        (["surface", "--optimizers", "sgd", "--set", "foo.lr=0.1"], "error: --set foo.lr: unknown optimizer 'foo'"),
        (["train", "--set", "adam.lr=0.1"], "error: --set adam.lr: one optimizer runs here (sgd)"),
        (["compare", "--vary", "momentum=0,0.5", "--set", "momentum=0.3"], "error: --set momentum: momentum is varied"),
        (["compare", "--vary", "lr=0.1,0.2", "--lr", "0.3"], "error: --lr: lr is varied"),
        (["compare", "--vary", "optimizer=sgd", "--tune-lr", "--tune-grid", "1e-3:1:1"], "error: --tune-grid: N, the"),
        (
            ["compare", "--vary", "optimizer=sgd", "--tune-lr", "--tune-grid", "1:0.1:5"],
            "error: --tune-grid: the lowest",
        ),
        (["compare", "--vary", "optimizer=sgd", "--tune-lr", "--tune-grid", "1e-3:1"], "error: --tune-grid: '1e-3:1'"),
        (["compare", "--vary", "optimizer=sgd", "--tune-budget", "3"], "error: --tune-budget: applies only"),
        (["compare", "--vary", "optimizer=sgd", "--tune-criterion", "best_loss"], "error: --tune-criterion: applies"),
        (
            ["surface", "--tune-grid", "1e-3:1:5"],
            "error: --tune-grid: applies only to the learning-rate sweep: add --tune",
        ),
        (["surface", "--steps", "-1"], "error: --steps: must be a whole number from 1 to"),
        (
            ["compare", "--vary", "optimizer=sgd", "--curves", "x"],
            "error: --curves: 'x' is not one of: test, train, both",
        ),
    ],
)
def test_refusals_name_the_flag_in_one_line(tmp_path, capsys, argv, expected):
    out = tmp_path / "o"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith(expected), err
    assert "Traceback" not in err and "main.py" not in err
    assert not out.exists()


MAP = ["map", "--x", "lr=0.01:0.1:3", "--y", "momentum=0:0.5:2"]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            [*MAP, "--function", "bowl", "--color", "foo"],
            "error: --color: 'foo' is not one of: final_loss, steps_to_tol",
        ),
        ([*MAP, "--function", "bowl", "--epochs", "3"], "error: --epochs: a surface map (--function) trains no"),
        ([*MAP, "--function", "bowl", "--dataset", "iris"], "error: --dataset: a surface map"),
        ([*MAP, *SMALL[:-1], "--steps", "4"], "error: --steps: applies to a surface map (--function)"),
        ([*MAP, "--function", "bowl", "--lr", "0.1"], "error: --lr: lr is the map's --x axis"),
        ([*MAP, "--function", "bowl", "--set", "momentum=0.1"], "error: --set momentum: momentum is the map's --y"),
        (["map", "--function", "bowl", "--x", "lr=0.01:0.1:3"], "error: --y: this option is required"),
        (
            ["map", *SMALL[:-1], "--x", "lr=0.01:0.1:2", "--y", "batch_size=1:3:5"],
            "error: --y: batch_size takes whole numbers, and 5 values from 1 to 3 round to only 3 different ones",
        ),
    ],
)
def test_map_refuses_what_it_would_ignore(tmp_path, capsys, argv, expected):
    out = tmp_path / "m"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1].startswith(expected), err
    assert not out.exists()


def test_map_csv_writes_axis_values_as_a_reader_would(tmp_path):
    out = tmp_path / "s"
    assert (
        main(["map", "--function", "bowl", "--x", "lr=0.01:0.1:3", "--y", "momentum=0:0.57:20", "--out", str(out)]) == 0
    )
    text = (out / "map.csv").read_text()
    assert "0000000" not in text and "9999999" not in text
    assert {r["momentum"] for r in rows(out / "map.csv")} >= {"0.03", "0.57", "0.3"}
    out = tmp_path / "t"
    argv = ["map", *SMALL[:-1], "--epochs", "1", "--x", "lr=0.01:0.1:2", "--y", "batch_size=1:100:3"]
    assert main([*argv, "--out", str(out)]) == 0
    header = next(csv.reader(open(out / "map.csv")))
    assert header == ["lr", "batch_size", "initial_loss", "final_loss", "diverged_at", "steps_to_tol"]
    assert [r["batch_size"] for r in rows(out / "map.csv")] == ["1", "1", "51", "51", "100", "100"]
    assert json.load(open(out / "map.json"))["y"]["values"] == [1, 51, 100]


def test_tune_lr_tunes_each_configuration_and_races_each_at_its_own_rate(tmp_path):
    out = tmp_path / "t"
    argv = ["compare", *SMALL[:-3], "--epochs", "4", "--no-store", "--vary", "momentum=0,0.9", "--tune-lr"]
    assert main([*argv, "--tune-grid", "0.01:10:4", "--out", str(out)]) == 0
    tuning = rows(out / "tuning.csv")
    assert list(tuning[0]) == ["optimizer", "momentum", "lr", "criterion", "value", "diverged", "chosen", "note"]
    assert len(tuning) == 8 and {r["momentum"] for r in tuning} == {"0", "0.9"}
    chosen = {r["momentum"]: float(r["lr"]) for r in tuning if r["chosen"] == "True"}
    for momentum, lr in chosen.items():  # each configuration's own lowest score
        own = [float(r["value"]) for r in tuning if r["momentum"] == momentum and r["value"]]
        best = next(r for r in tuning if r["momentum"] == momentum and float(r["lr"]) == lr)
        assert float(best["value"]) == min(own)
    assert chosen["0"] != chosen["0.9"]  # on this set-up the two configurations need different rates
    assert {r["momentum"]: float(r["lr"]) for r in rows(out / "summary.csv")} == chosen
    assert Image.open(out / "tuning.png").size == (820, 2 * 615)  # one panel per configuration
    comparison = load_experiment(out / "experiment.json").comparison
    assert {t["when"]["momentum"]: t["lr"] for t in comparison.tuned_lr} == chosen
    again = tmp_path / "again"  # the saved experiment races at the same rates, without tuning again
    assert main(["compare", "--experiment", str(out / "experiment.json"), "--no-store", "--out", str(again)]) == 0
    assert {r["momentum"]: float(r["lr"]) for r in rows(again / "summary.csv")} == chosen


def test_tuned_rates_per_configuration_are_checked_and_apply_to_their_runs():
    spec = ComparisonSpec.validate_data(
        {
            "vary": [{"field": "momentum", "values": ["0", "0.5"]}],
            "tuned_lr": [{"when": {"optimizer": "sgd", "momentum": "0.5"}, "lr": 0.3}],
        }
    )
    rates = {label["momentum"]: cfg.optimizer_params["lr"] for label, _, cfg in spec.to_comparison().runs()}
    assert rates == {"0": 0.1, "0.5": 0.3}
    with pytest.raises(ExperimentError) as err:
        ComparisonSpec.validate_data({"tuned_lr": [{"when": {"optimizer": "sgd"}, "lr": -1}]})
    assert "out of range" in err.value.message


def test_no_optimizer_ticked_is_said_in_users_words():
    with pytest.raises(ExperimentError) as err:
        SurfaceSettings.validate_data({"optimizers": []})
    assert err.value.message == "no optimizer is chosen: tick at least one"


def test_lr_typed_now_beats_the_base_optimizers_rate_from_an_experiment_file(tmp_path, capsys):
    first = tmp_path / "first"
    argv = ["compare", *SMALL, "--vary", "optimizer=sgd,adam", "--lr", "0.05", "--lr-for-all", "--out", str(first)]
    assert main(argv) == 0
    again = tmp_path / "again"
    assert main(["compare", "--experiment", str(first / "experiment.json"), "--lr", "0.2", "--out", str(again)]) == 0
    assert "applies to sgd" in capsys.readouterr().err
    assert {r["optimizer"]: float(r["lr"]) for r in rows(again / "summary.csv")} == {"sgd": 0.2, "adam": 0.05}


def test_lr_for_all_with_tuning_and_a_surface_map_from_an_experiment_file(tmp_path, capsys):
    argv = ["compare", *SMALL, "--vary", "optimizer=sgd,adam", "--lr", "0.05", "--lr-for-all", "--tune-lr"]
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    assert "error: --lr-for-all: the tuned rates replace it" in capsys.readouterr().err
    surface = tmp_path / "surface"
    assert main(["surface", "--function", "bowl", "--steps", "5", "--out", str(surface)]) == 0
    out = tmp_path / "map"
    argv = ["map", "--function", "bowl", "--start", "1,1", "--optimizer", "momentum", "--x", "lr=0.01:0.1:2"]
    argv += ["--y", "momentum=0:0.5:2", "--steps", "5", "--experiment", str(surface / "experiment.json")]
    assert main([*argv, "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / "map.csv").exists()
