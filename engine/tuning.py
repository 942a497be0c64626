"""What a learning-rate sweep shares on a surface and in training: the log grid, the criteria, the choice.

A sweep trains every optimizer at every rate of a log grid from the same start (same weights, same
batches); each run is scored by a criterion on its loss curve, and the lowest score wins. A run that
diverged scores +inf, so it is never chosen unless every rate diverged (then the optimizer has no tuned rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.errors import UserError

CRITERIA = {
    "final_loss": "the loss after the last step or epoch",
    "best_loss": "the lowest loss reached along the run",
    "mean_loss": "the mean loss over the run (rewards converging early)",
}
DEFAULT_CRITERION = "final_loss"
MAX_GRID = 60


def lr_grid(low: float, high: float, points: int) -> list[float]:
    """Return ``points`` learning rates spaced evenly in log between ``low`` and ``high`` (both included)."""
    if not (math.isfinite(low) and math.isfinite(high)) or not 0 < low < high:
        raise UserError(f"the rates must satisfy 0 < low < high, not {low:g}..{high:g}", "tuning.lr_min")
    if not 2 <= int(points) <= MAX_GRID:
        raise UserError(f"{points} is not a whole number in 2..{MAX_GRID}", "tuning.points")
    return [float(v) for v in np.geomspace(low, high, int(points))]


def criterion_value(losses, diverged: bool, criterion: str = DEFAULT_CRITERION) -> float:
    """Return the score of one run's loss curve under ``criterion`` (lower is better; +inf when it diverged)."""
    if criterion not in CRITERIA:
        raise UserError(f"{criterion!r} is not one of {', '.join(CRITERIA)}", "tuning.criterion")
    values = np.asarray(losses, dtype=float)
    if diverged or values.size == 0 or not np.isfinite(values).all():
        return math.inf
    if criterion == "final_loss":
        return float(values[-1])
    if criterion == "best_loss":
        return float(values.min())
    return float(values.mean())


@dataclass(frozen=True)
class TuneSpec:
    """How to sweep: ``points`` rates in lr_min..lr_max (log), ``criterion``, ``budget`` steps/epochs (0: all)."""

    lr_min: float = 1e-4
    lr_max: float = 1.0
    points: int = 13
    criterion: str = DEFAULT_CRITERION
    budget: int = 0

    @classmethod
    def of(cls, settings) -> "TuneSpec":
        """Return the TuneSpec of an experiment's TuningSettings (or anything with the same fields)."""
        return cls(settings.lr_min, settings.lr_max, settings.points, settings.criterion, settings.budget)


@dataclass(frozen=True)
class TrialScore:
    """One optimizer at one learning rate: its score under the criterion and whether it diverged."""

    optimizer: str
    lr: float
    value: float
    diverged: bool


def best_rates(trials: list[TrialScore]) -> dict[str, float | None]:
    """Return each optimizer's lowest-scoring rate (in first-seen order); None where every rate diverged.

    Ties go to the smaller rate (the safer one).
    """
    best: dict[str, TrialScore | None] = {}
    for t in trials:
        best.setdefault(t.optimizer, None)
        if not math.isfinite(t.value):
            continue
        held = best[t.optimizer]
        if held is None or t.value < held.value or (t.value == held.value and t.lr < held.lr):
            best[t.optimizer] = t
    return {oid: (t.lr if t is not None else None) for oid, t in best.items()}


def describe(criterion: str) -> str:
    """Return the sentence that says how the rates were chosen (printed and written beside the results)."""
    return f"criterion {criterion}: {CRITERIA[criterion]}; diverged runs are excluded; lowest wins"
