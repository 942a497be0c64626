"""The command-line contracts of fair races: --set OPT.NAME on compare, --tune-lr, surface --tune, the lr columns."""

import csv
import json

from PySide6 import QtGui

from engine.experiment import load_experiment
from main import main

SMALL = ["--points", "40", "--layers", "2,8,3", "--epochs", "3"]


def rows(path):
    return list(csv.DictReader(open(path)))


def test_compare_gives_each_optimizer_its_own_rate_and_set_changes_one(tmp_path):
    out = tmp_path / "c"
    argv = ["compare", *SMALL, "--vary", "optimizer=sgd,adam,adagrad", "--set", "adam.lr=0.02", "--out", str(out)]
    assert main(argv) == 0
    summary = {r["optimizer"]: r for r in rows(out / "summary.csv")}
    # sgd: the base's own rate (the command line's 0.1), adam as set, adagrad its registry default
    assert {k: float(r["lr"]) for k, r in summary.items()} == {"sgd": 0.1, "adam": 0.02, "adagrad": 0.01}
    runs = rows(out / "runs.csv")
    header = next(csv.reader(open(out / "runs.csv")))
    assert header.count("lr") == 1 and "epoch_lr" in header
    assert {(r["optimizer"], float(r["lr"])) for r in runs} == {("sgd", 0.1), ("adam", 0.02), ("adagrad", 0.01)}
    assert all(float(r["epoch_lr"]) == float(r["lr"]) for r in runs)  # no scheduler: the epoch's rate is the run's
    exp = load_experiment(out / "experiment.json")
    assert exp.comparison.per_optimizer == {"adam": {"lr": 0.02}}
    # the saved experiment runs the same race again
    again = tmp_path / "again"
    assert main(["compare", "--experiment", str(out / "experiment.json"), "--out", str(again)]) == 0
    assert [r["lr"] for r in rows(again / "summary.csv")] == [r["lr"] for r in rows(out / "summary.csv")]


def test_varied_lr_has_one_column_and_the_epoch_rate_its_own(tmp_path):
    out = tmp_path / "v"
    argv = ["compare", *SMALL, "--vary", "lr=0.1,0.01", "--scheduler", "step", "--sched-set", "step_size=1"]
    assert main([*argv, "--out", str(out)]) == 0
    header = next(csv.reader(open(out / "runs.csv")))
    assert header.count("lr") == 1 and header.count("epoch_lr") == 1
    late = [r for r in rows(out / "runs.csv") if r["epoch"] == "3"]
    assert all(float(r["epoch_lr"]) < float(r["lr"]) for r in late)  # the step schedule lowered the rate


def test_compare_tune_lr_writes_the_sweep_and_races_at_the_tuned_rates(tmp_path, capsys):
    out = tmp_path / "t"
    argv = ["compare", *SMALL, "--vary", "optimizer=sgd,adam", "--tune-lr", "--tune-grid", "1e-3:1:4"]
    assert main([*argv, "--tune-criterion", "best_loss", "--out", str(out)]) == 0
    tuning = rows(out / "tuning.csv")
    assert list(tuning[0]) == ["optimizer", "lr", "criterion", "value", "diverged", "chosen", "note"]
    assert len(tuning) == 8 and {r["criterion"] for r in tuning} == {"best_loss"}
    chosen = {r["optimizer"]: float(r["lr"]) for r in tuning if r["chosen"] == "True"}
    for oid, lr in chosen.items():
        own = [float(r["value"]) for r in tuning if r["optimizer"] == oid and r["value"]]
        assert float(next(r["value"] for r in tuning if r["optimizer"] == oid and float(r["lr"]) == lr)) == min(own)
    assert {r["optimizer"]: float(r["lr"]) for r in rows(out / "summary.csv")} == chosen
    exp = load_experiment(out / "experiment.json")
    assert {k: v["lr"] for k, v in exp.comparison.per_optimizer.items()} == chosen
    assert exp.comparison.tuning.criterion == "best_loss" and exp.comparison.tuning.points == 4
    assert QtGui.QImage(str(out / "tuning.png")).width() > 500
    assert "best_loss" in capsys.readouterr().err


def test_surface_tune_records_the_chosen_rate_in_paths_json(tmp_path):
    out = tmp_path / "s"
    argv = ["surface", "--function", "bowl", "--optimizers", "sgd,momentum", "--steps", "30", "--tune"]
    assert main([*argv, "--tune-grid", "0.01:3:12", "--grid", "40", "--out", str(out)]) == 0
    tuning = rows(out / "tuning.csv")
    chosen = {r["optimizer"]: float(r["lr"]) for r in tuning if r["chosen"] == "True"}
    assert set(chosen) == {"sgd", "momentum"} and len(tuning) == 24
    assert any(r["diverged"] == "True" and r["value"] == "" for r in tuning)  # big rates blow up on the bowl
    runs = json.load(open(out / "paths.json"))["runs"]
    assert {r["optimizer"]: r["params"]["lr"] for r in runs} == chosen
    exp = load_experiment(out / "experiment.json")
    assert exp.surface.hyperparameters["sgd"]["lr"] == chosen["sgd"] and exp.surface.tuning.lr_max == 3.0
    image = QtGui.QImage(str(out / "tuning.png"))
    assert image.width() > 500


def test_bad_tuning_options_name_the_flag(tmp_path, capsys):
    argv = ["compare", *SMALL, "--vary", "optimizer=sgd,adam", "--tune-lr", "--tune-grid", "1:0.1:5"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --tune-grid:")
    assert (
        main(["compare", *SMALL, "--vary", "optimizer=sgd,adam", "--set", "adam.lr=-1", "--out", str(tmp_path / "b")])
        == 2
    )
    assert capsys.readouterr().err.strip().startswith("error: --set adam.lr:")
    argv = ["compare", *SMALL, "--vary", "lr=0.1,0.01", "--tune-lr", "--out", str(tmp_path / "d")]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --tune-lr:")
    argv = ["surface", "--function", "bowl", "--tune", "--tune-criterion", "accuracy", "--out", str(tmp_path / "c")]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().startswith("error: --tune-criterion:")
    assert not any((tmp_path / name).exists() for name in "abcd")


def test_compare_tune_lr_writes_tuning_in_every_format(tmp_path):
    out = tmp_path / "f"
    argv = ["compare", *SMALL, "--vary", "optimizer=sgd,adam", "--tune-lr", "--tune-grid", "1e-2:1:3"]
    assert main([*argv, "--format", "png,svg", "--out", str(out)]) == 0
    assert QtGui.QImage(str(out / "tuning.png")).width() > 500
    svg = (out / "tuning.svg").read_text()
    assert "<svg" in svg and "learning-rate sweep" in svg
    only = tmp_path / "g"
    assert main([*argv, "--format", "svg", "--out", str(only)]) == 0
    assert (only / "tuning.svg").exists() and not (only / "tuning.png").exists()


def test_surface_tune_follows_format(tmp_path):
    out = tmp_path / "s"
    argv = [
        "surface",
        "--function",
        "bowl",
        "--optimizers",
        "sgd",
        "--steps",
        "10",
        "--tune",
        "--tune-grid",
        "0.01:1:3",
    ]
    assert main([*argv, "--grid", "20", "--format", "svg", "--out", str(out)]) == 0
    assert "<svg" in (out / "tuning.svg").read_text() and not (out / "tuning.png").exists()
