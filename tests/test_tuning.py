"""Learning-rate tuning as engine jobs, driven with a plain for loop: the sweep, the criterion, the choice."""

import math

import numpy as np
import pytest

from engine.errors import UserError
from engine.jobs import Token
from engine.surface.functions import get_surface
from engine.surface.paths import PathSpec, compute_paths
from engine.surface.tuning import surface_tuning_job
from engine.training.compare import Comparison, run_comparison
from engine.training.config import TrainConfig
from engine.training.tuning import sweep_comparison, tuning_job
from engine.tuning import TrialScore, TuneSpec, best_rates, criterion_value, lr_grid

BOWL = get_surface("bowl")  # 0.05·x² + y²: Hessian eigenvalues 0.1 and 2
LAMBDAS = (0.1, 2.0)
START = (-9.0, 2.0)


def drive(job):
    """Run a job with a for loop; return (snapshots, result)."""
    snaps = []
    while True:
        try:
            snaps.append(next(job))
        except StopIteration as end:
            return snaps, end.value


def bowl_loss(lr: float, steps: int) -> float:
    """The loss of plain gradient descent on the bowl after ``steps`` steps, in closed form."""
    x, y = START
    return (
        0.5 * LAMBDAS[0] * (x * (1 - lr * LAMBDAS[0]) ** steps) ** 2
        + 0.5 * LAMBDAS[1] * (y * (1 - lr * LAMBDAS[1]) ** steps) ** 2
    )


def test_tuned_gradient_descent_on_a_quadratic_is_the_analytic_best_grid_point():
    spec = TuneSpec(1e-3, 3.0, 31, "final_loss")
    steps = 40
    snaps, result = drive(surface_tuning_job(BOWL, [PathSpec("sgd", {})], [START], steps, spec))
    assert snaps and result is not None
    grid = lr_grid(1e-3, 3.0, 31)
    analytic = [bowl_loss(lr, steps) for lr in grid]
    stable = [lr for lr in grid if max(abs(1 - lr * lam) for lam in LAMBDAS) < 1]
    best = min(stable, key=lambda lr: analytic[grid.index(lr)])
    assert result.best["sgd"] == pytest.approx(best, rel=1e-12)
    # the scores are the closed-form losses, and the chosen rate is the grid point nearest 2/(λmin+λmax)
    for trial, value in zip(result.trials, analytic):
        if not trial.diverged:
            assert trial.value == pytest.approx(value, rel=1e-9)
    optimum = 2 / sum(LAMBDAS)
    assert abs(math.log(result.best["sgd"] / optimum)) <= math.log(grid[1] / grid[0])
    # rates beyond the stability limit 2/λmax diverge and are excluded, never chosen
    assert all(t.diverged for t in result.trials if t.lr > 2 / LAMBDAS[1] * 1.1)
    assert not any(t.diverged for t in result.trials if t.lr < 2 / LAMBDAS[1])


def test_surface_sweep_equals_single_paths_and_tuned_specs_keep_other_settings():
    spec = TuneSpec(0.01, 0.5, 4, "mean_loss")
    specs = [PathSpec("momentum", {"momentum": 0.5}), PathSpec("adam", {"beta1": 0.8})]
    _, result = drive(surface_tuning_job(BOWL, specs, [START, (3.0, -1.0)], 30, spec))
    for trial in result.trials:
        own = next(s for s in specs if s.optimizer == trial.optimizer)
        alone = compute_paths(BOWL, [PathSpec(own.optimizer, {**own.params, "lr": trial.lr})], [START, (3.0, -1.0)], 30)
        value = np.mean([np.mean(p.losses[1:]) for p in alone])
        assert trial.value == pytest.approx(value, rel=1e-12, abs=1e-12)
    tuned = result.tuned(specs)
    assert tuned[0].params["momentum"] == 0.5 and tuned[1].params["beta1"] == 0.8
    assert [s.params["lr"] for s in tuned] == [result.best["momentum"], result.best["adam"]]


def test_a_stopped_surface_sweep_returns_none():
    token = Token()
    job = surface_tuning_job(BOWL, [PathSpec("sgd", {})], [START], 500, TuneSpec(points=3), token=token)
    next(job)
    token.stop()
    assert drive(job)[1] is None


def test_criteria_and_choice():
    assert criterion_value([3.0, 1.0, 2.0], False, "final_loss") == 2.0
    assert criterion_value([3.0, 1.0, 2.0], False, "best_loss") == 1.0
    assert criterion_value([3.0, 1.0, 2.0], False, "mean_loss") == 2.0
    assert criterion_value([3.0, 1.0], True) == math.inf
    assert criterion_value([3.0, float("nan")], False) == math.inf
    with pytest.raises(UserError) as err:
        criterion_value([1.0], False, "accuracy")
    assert err.value.field == "tuning.criterion"
    trials = [
        TrialScore("sgd", 0.1, 0.5, False),
        TrialScore("sgd", 1.0, math.inf, True),
        TrialScore("sgd", 0.01, 0.5, False),  # a tie goes to the smaller rate
        TrialScore("adam", 0.1, math.inf, True),
    ]
    assert best_rates(trials) == {"sgd": 0.01, "adam": None}
    with pytest.raises(UserError):
        lr_grid(1.0, 0.1, 5)
    assert lr_grid(1e-3, 1e-1, 3) == pytest.approx([1e-3, 1e-2, 1e-1])


def test_batched_training_sweep_equals_per_run_training():
    base = TrainConfig(points=40, epochs=3, layers=(2, 8, 3), batch_size=20).validated()
    race = Comparison(base, [("optimizer", ["sgd", "adam"])], per_optimizer={"adam": {"beta1": 0.8}})
    spec = TuneSpec(1e-3, 1.0, 4, "final_loss")
    snaps, result = drive(tuning_job(race, spec))
    assert snaps[-1].done == snaps[-1].total == 2 * 4 * 3
    assert "(batched)" in result.runs[0].path  # every trial in one stacked group
    for trial, run in zip(result.trials, result.runs):
        single = Comparison(run.config, [])  # the same configuration trained on its own
        (alone,) = run_comparison(single)
        assert [h.train_loss for h in run.history] == pytest.approx([h.train_loss for h in alone.history], abs=1e-9)
        assert trial.value == pytest.approx(alone.history[-1].train_loss, abs=1e-9)
    assert all(r.config.optimizer_params["beta1"] == 0.8 for r in result.runs if r.config.optimizer == "adam")
    scores = {(t.optimizer, t.lr): t.value for t in result.trials}
    for oid, lr in result.best.items():
        assert scores[(oid, lr)] == min(v for (o, _), v in scores.items() if o == oid)
    tuned = result.tuned(race)
    assert {label["optimizer"]: cfg.optimizer_params["lr"] for label, _, cfg in tuned.runs()} == result.best


def test_training_sweep_uses_the_first_seed_and_the_budget():
    base = TrainConfig(points=40, epochs=9, layers=(2, 8, 3), seed=5).validated()
    race = Comparison(base, [("optimizer", ["sgd"]), ("momentum", ["0", "0.9"])], seeds=[7, 8])
    sweep = sweep_comparison(race, TuneSpec(1e-2, 1.0, 3, budget=2))
    runs = sweep.runs()
    # each configuration raced (sgd at momentum 0, sgd at 0.9) is swept on its own; a varied seed is not one
    assert len(runs) == 6 and {cfg.seed for _, _, cfg in runs} == {7} and {cfg.epochs for _, _, cfg in runs} == {2}
    assert [cfg.optimizer_params["momentum"] for _, _, cfg in runs] == [0.0] * 3 + [0.9] * 3
    assert [cfg.optimizer_params["lr"] for _, _, cfg in runs] == pytest.approx([0.01, 0.1, 1.0] * 2)
