"""Tuning and maps judge training runs on the training loss, and maps take whole-number fields as axes."""

import csv

import pytest

from engine.training.compare import Comparison
from engine.training.config import TrainConfig
from engine.training.convergence_map import map_comparison
from engine.training.tuning import tune
from engine.tuning import TuneSpec, describe
from main import main


def test_rates_are_chosen_on_the_training_loss_not_on_the_test_set():
    base = TrainConfig(dataset="iris", layers=(4, 8, 3), epochs=3, batch_size=16, test_fraction=0.3).validated()
    result = tune(Comparison(base, [("optimizer", ["sgd", "adam"])]), TuneSpec(1e-3, 1.0, 4, "final_loss"))
    assert result.runs[0].history[-1].test_loss is not None  # there is a test set to leak from
    for trial, run in zip(result.trials, result.runs):
        if not trial.diverged:
            assert trial.value == pytest.approx(run.history[-1].train_loss, abs=1e-12)
    assert "training loss" in describe("final_loss")


def test_a_map_over_batch_size_passes_whole_numbers(tmp_path):
    from engine.map_grid import Axis

    base = TrainConfig(points=20, layers=(2, 4, 3), epochs=1).validated()
    comparison = map_comparison(base, Axis("lr", 0.01, 0.1, 2, True), Axis("batch_size", 10, 30, 3, False))
    assert [cfg.batch_size for _, _, cfg in comparison.runs()] == [10, 10, 20, 20, 30, 30]
    out = tmp_path / "m"
    args = ["map", "--dataset", "spiral", "--points", "20", "--optimizer", "sgd", "--epochs", "1"]
    assert main([*args, "--x", "lr=0.01:0.1:2:log", "--y", "batch_size=10:30:3", "--out", str(out)]) == 0
    with open(out / "map.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted({float(r["batch_size"]) for r in rows}) == [10, 20, 30] and len(rows) == 6
