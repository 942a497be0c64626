"""Learning-rate tuning on a loss surface: every optimizer at every rate of a log grid, in one paths job.

All trials start from the same points and run together (one gradient evaluation per step for every
trial, see paths_job). A trial's score is the criterion (engine.tuning) on its loss curve, averaged
over the starts; a trial that diverges from any start scores +inf and is never chosen.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, replace

from engine.jobs import Token, run_job
from engine.surface.functions import Surface
from engine.surface.paths import Path, PathSpec, PathsProgress, paths_job
from engine.tuning import TrialScore, TuneSpec, best_rates, criterion_value, lr_grid


@dataclass
class SurfaceTuning:
    """A finished surface sweep: every trial's score, each optimizer's best rate (None: all diverged)."""

    criterion: str
    steps: int
    trials: list[TrialScore]
    best: dict[str, float | None]
    paths: list[Path]

    def tuned(self, specs: list[PathSpec]) -> list[PathSpec]:
        """Return ``specs`` with each optimizer's tuned rate (an optimizer whose every rate diverged keeps its own)."""
        out = []
        for spec in specs:
            lr = self.best.get(spec.optimizer)
            out.append(spec if lr is None else replace(spec, params={**spec.params, "lr": lr}))
        return out


def sweep_specs(specs: list[PathSpec], grid: list[float]) -> list[PathSpec]:
    """Return one PathSpec per (optimizer, rate), optimizer-major: each optimizer's own settings, the rate set."""
    return [replace(spec, params={**spec.params, "lr": lr}) for spec in specs for lr in grid]


def surface_tuning_job(
    surface: Surface,
    specs: list[PathSpec],
    starts: list[tuple[float, ...]],
    steps: int,
    spec: TuneSpec,
    scheduler: str = "none",
    scheduler_params: dict | None = None,
    token: Token | None = None,
) -> Generator[PathsProgress, None, SurfaceTuning | None]:
    """Sweep the rates as a job: yields PathsProgress (the last one at the end); returns the SurfaceTuning.

    Returns None when ``token`` stops it.

    Each trial runs ``spec.budget`` steps (``steps`` when 0) from every start. Errors in the spec are raised
    before the first yield (fields tuning.lr_min, tuning.points, tuning.criterion).
    """
    grid = lr_grid(spec.lr_min, spec.lr_max, spec.points)
    criterion_value([], False, spec.criterion)
    budget = spec.budget or steps
    trials = sweep_specs(specs, grid)
    paths = yield from paths_job(surface, trials, starts, budget, scheduler, scheduler_params, token)
    if paths is None:
        return None
    yield PathsProgress(budget, budget)
    n = len(starts)
    scores = []
    for k, trial in enumerate(trials):
        values = [
            criterion_value(p.losses[1:] if len(p.losses) > 1 else p.losses, p.diverged_at is not None, spec.criterion)
            for p in paths[k * n : (k + 1) * n]
        ]
        value = math.fsum(values) / n if all(math.isfinite(v) for v in values) else math.inf
        scores.append(TrialScore(trial.optimizer, float(trial.params["lr"]), value, not math.isfinite(value)))
    return SurfaceTuning(spec.criterion, budget, scores, best_rates(scores), paths)


def tune_surface(
    surface: Surface, specs: list[PathSpec], starts: list[tuple[float, ...]], steps: int, spec: TuneSpec, **kw
) -> SurfaceTuning:
    """Return the SurfaceTuning of ``specs`` (surface_tuning_job run here, to the end)."""
    return run_job(surface_tuning_job(surface, specs, starts, steps, spec, **kw))
