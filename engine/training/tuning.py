"""Learning-rate tuning for training: every optimizer at every rate of a log grid, trained as one batch.

The sweep is a Comparison of optimizer × lr from the base's seed (identical initial weights and batch
order for every trial); runs that share data and architecture train together in one RunGroup, so a
sweep of dozens of rates costs about as much as a few single runs. Each trial is scored by a criterion
on its loss curve (engine.tuning); the best rate per optimizer then sets the race's ``per_optimizer``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, replace

from engine.jobs import Token, run_job
from engine.training.compare import Comparison, RunResult, metric
from engine.training.jobs import ComparisonSnapshot, comparison_job
from engine.tuning import TrialScore, TuneSpec, best_rates, criterion_value, lr_grid


@dataclass
class TuningResult:
    """A finished sweep: every trial's score, each optimizer's best rate (None: all diverged), the criterion."""

    criterion: str
    trials: list[TrialScore]
    best: dict[str, float | None]
    runs: list[RunResult]

    def tuned(self, comparison: Comparison) -> Comparison:
        """Return ``comparison`` racing at the tuned rates (configurations where every rate diverged unchanged).

        With only the optimizer varied, each optimizer's rate goes into its per_optimizer; when other fields vary
        too, each configuration's rate goes into ``tuned_lr`` ({"optimizer": id, field: value, …}, rate).
        """
        if any(isinstance(key, tuple) for key in self.best):
            rates = [({"optimizer": oid, **dict(config)}, lr) for (oid, config), lr in self.best.items()]
            return replace(comparison, tuned_lr=[(when, lr) for when, lr in rates if lr is not None])
        per = {oid: dict(params) for oid, params in comparison.per_optimizer.items()}
        for oid, lr in self.best.items():
            if lr is not None:
                per[oid] = {**per.get(oid, {}), "lr": lr}
        return replace(comparison, per_optimizer=per, tuned_lr=[])  # rates of an earlier tuning give way


NOT_TUNED = ("optimizer", "lr", "seed")  # varied fields that do not make a configuration of their own


def tuned_fields(comparison: Comparison) -> list[str]:
    """Return the varied fields besides the optimizer that each get their own tuned rate (in vary order)."""
    return [name for name, _ in comparison.vary if name not in NOT_TUNED]


def optimizers_of(comparison: Comparison) -> list[str]:
    """Return the optimizers a comparison races: the varied ones, else the base's."""
    for name, values in comparison.vary:
        if name == "optimizer":
            return list(dict.fromkeys(values))
    return [comparison.base.optimizer]


def sweep_comparison(comparison: Comparison, spec: TuneSpec) -> Comparison:
    """Return the sweep: optimizer × the other varied fields × lr grid, from the comparison's first seed.

    Every configuration raced (each optimizer with each combination of the other varied values, a varied seed
    aside) gets its own sweep. Each trial trains ``spec.budget`` epochs (the base's when 0) with the optimizer's
    own other settings.
    """
    base = comparison.base.with_field("seed", (comparison.seeds or [comparison.base.seed])[0])
    if spec.budget:
        base = base.with_field("epochs", spec.budget)
    grid = [repr(v) for v in lr_grid(spec.lr_min, spec.lr_max, spec.points)]
    others = [(name, list(values)) for name, values in comparison.vary if name not in NOT_TUNED]
    vary = [("optimizer", optimizers_of(comparison)), *others, ("lr", grid)]
    return Comparison(base, vary, [], dict(comparison.per_optimizer))


def trial_losses(res: RunResult) -> list[float]:
    """Return the loss curve a trial is scored on: the training loss per epoch after the first step.

    Never the test loss: the race reports its results on the test set, and a rate chosen on that same set
    would make the tuned optimizers look better than they are.
    """
    h = res.history
    return metric(h[1:] or h, "train_loss")  # epoch 0 has had no step


def score(runs: list[RunResult], criterion: str) -> list[TrialScore]:
    """Return one TrialScore per sweep run (in run order)."""
    out = []
    for res in runs:
        lr = float(res.label["lr"])
        value = criterion_value(trial_losses(res), res.diverged_at is not None, criterion)
        config = tuple((k, v) for k, v in res.label.items() if k not in NOT_TUNED)
        out.append(TrialScore(str(res.label["optimizer"]), lr, value, not math.isfinite(value), config))
    return out


def tuning_job(
    comparison: Comparison, spec: TuneSpec, token=None, data_cache: dict | None = None
) -> Generator[ComparisonSnapshot, None, TuningResult | None]:
    """Sweep the rates as a job: yields the sweep's ComparisonSnapshots; returns the TuningResult.

    Returns None when ``token`` stops the sweep before every trial has ended. Errors in the spec are
    raised before the first yield (fields tuning.lr_min, tuning.points, tuning.criterion).
    """
    sweep = sweep_comparison(comparison, spec)
    criterion_value([], False, spec.criterion)  # an unknown criterion fails before any training
    sweep.runs()
    token = token if token is not None else Token()
    runs = yield from comparison_job(sweep, token, data_cache, grad_norm=False)  # losses suffice
    if token.stopped or len(runs) < len(sweep.runs()):
        return None
    trials = score(runs, spec.criterion)
    return TuningResult(spec.criterion, trials, best_rates(trials), runs)


def tune(comparison: Comparison, spec: TuneSpec, data_cache: dict | None = None) -> TuningResult:
    """Return the TuningResult of ``comparison`` (tuning_job run here, to the end)."""
    return run_job(tuning_job(comparison, spec, None, data_cache))
