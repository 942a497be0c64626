"""Maps and learning-rate sweeps measure only the loss at each epoch's end (no gradient norm)."""

from __future__ import annotations

import importlib.util
import math

import pytest

from engine.data.datasets import load_dataset
from engine.jobs import run_job
from engine.map_grid import Axis
from engine.training.backends import numba_lanes
from engine.training.compare import Comparison, run_comparison
from engine.training.config import TrainConfig
from engine.training.convergence_map import map_comparison, training_map_job
from engine.training.tuning import sweep_comparison, tuning_job
from engine.tuning import TuneSpec

SPIRAL = load_dataset("spiral", points=40, test_fraction=0.25)
BASE = TrainConfig(dataset="spiral", points=40, test_fraction=0.25, layers=(2, 10, 3), batch_size=10, epochs=3)
LANES = [False] + ([True] if importlib.util.find_spec("numba") is not None else [])


def final_runs(job):
    """Return (the runs of the job's last snapshot, the job's result)."""
    snaps = []
    result = run_job(job, snaps.append)
    return snaps[-1].runs, result


def assert_same_losses(loss_only, reference):
    assert len(loss_only) == len(reference)
    for a, b in zip(loss_only, reference):
        assert a.diverged_at == b.diverged_at
        assert len(a.history) == len(b.history)
        for x, y in zip(a.history, b.history):
            assert x.train_loss == pytest.approx(y.train_loss, rel=0, abs=1e-12, nan_ok=True)
            assert x.train_acc == pytest.approx(y.train_acc, rel=0, abs=1e-12, nan_ok=True)
            assert x.grad_norm is None
            assert y.grad_norm is not None or not math.isfinite(y.train_loss)


@pytest.mark.parametrize("lanes", LANES)
def test_a_map_skips_the_gradient_norm_and_keeps_every_loss(lanes, monkeypatch):
    monkeypatch.setattr(numba_lanes, "ENABLED", lanes)
    monkeypatch.setattr(numba_lanes, "MIN_RUN_STEPS", 0)
    base = BASE.with_field("optimizer", "sgd").validated()
    x, y = Axis("lr", 0.01, 10.0, 4, log=True), Axis("momentum", 0.0, 0.99, 4)
    cache = {base.dataset_key(): SPIRAL}
    runs, result = final_runs(training_map_job(base, x, y, data_cache=cache))
    assert ("numba lanes" in runs[0].path) == lanes
    reference = run_comparison(map_comparison(base, x, y), data_cache=cache)  # a normal comparison: with norms
    assert_same_losses(runs, reference)
    assert result.final_loss.ravel().tolist() == pytest.approx(
        [r.history[-1].train_loss for r in reference], nan_ok=True
    )


@pytest.mark.parametrize("lanes", LANES)
def test_a_learning_rate_sweep_skips_the_gradient_norm_and_keeps_every_loss(lanes, monkeypatch):
    monkeypatch.setattr(numba_lanes, "ENABLED", lanes)
    monkeypatch.setattr(numba_lanes, "MIN_RUN_STEPS", 0)
    race = Comparison(BASE.validated(), [("optimizer", ["sgd", "momentum"])])
    spec = TuneSpec(1e-3, 10.0, 8)
    cache = {BASE.validated().dataset_key(): SPIRAL}
    runs, result = final_runs(tuning_job(race, spec, None, cache))
    assert ("numba lanes" in runs[0].path) == lanes
    reference = run_comparison(sweep_comparison(race, spec), data_cache=cache)
    assert_same_losses(runs, reference)
    assert [r.history for r in result.runs] == [r.history for r in runs]
