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
        raise UserError(
            f"the lowest rate must be above 0 and below the highest, not {low:g} to {high:g}", "tuning.lr_min"
        )
    if not 2 <= int(points) <= MAX_GRID:
        raise UserError(f"the number of rates to try must be from 2 to {MAX_GRID}, not {points}", "tuning.points")
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
    """One optimizer at one learning rate: its score under the criterion and whether it diverged.

    ``config`` holds the race's other varied values of this trial, as ((field, value), …): a race that varies
    momentum too tunes each (optimizer, momentum) on its own. Empty when only the optimizer varies.
    """

    optimizer: str
    lr: float
    value: float
    diverged: bool
    config: tuple = ()


def trial_key(trial: TrialScore):
    """Return what a rate is chosen for: the optimizer id, or (optimizer, config) when other fields vary too."""
    return (trial.optimizer, trial.config) if trial.config else trial.optimizer


def key_words(key) -> str:
    """Return a tuned configuration in words: 'sgd' or 'sgd, momentum=0.5'."""
    if isinstance(key, tuple):
        oid, config = key
        return ", ".join([oid, *(f"{k}={v}" for k, v in config)])
    return str(key)


TIE_RTOL = 1e-9  # scores this close (relative) are a tie: float noise, not a better rate


def _ties(trials: list[TrialScore], key) -> list[TrialScore]:
    """Return the finite trials of ``key`` (``trial_key``) that tie at its lowest score (within TIE_RTOL),
    smallest rate first."""
    own = [t for t in trials if trial_key(t) == key and math.isfinite(t.value)]
    if not own:
        return []
    low = min(t.value for t in own)
    return sorted((t for t in own if math.isclose(t.value, low, rel_tol=TIE_RTOL, abs_tol=0.0)), key=lambda t: t.lr)


def best_rates(trials: list[TrialScore]) -> dict[str, float | None]:
    """Return each optimizer's (each ``trial_key``'s) lowest-scoring rate (in first-seen order); None where every
    rate diverged.

    Scores within a relative TIE_RTOL of the lowest tie; ties go to the smallest rate (the safer one).
    """
    out = {}
    for oid in dict.fromkeys(trial_key(t) for t in trials):
        tied = _ties(trials, oid)
        out[oid] = tied[0].lr if tied else None
    return out


def rate_notes(trials: list[TrialScore], best: dict, widen: str = "widen the grid") -> dict[str, str]:
    """Return, per optimizer, what a reader must know about its chosen rate ('' when nothing).

    A rate at an end of the grid may not be the best one (the better one may lie beyond: ``widen`` says how
    to look), and several rates tying at the lowest score mean the choice among them is arbitrary.
    """
    notes = {}
    for oid, lr in best.items():
        rates = [t.lr for t in trials if trial_key(t) == oid]
        parts = []
        if lr is None:
            parts.append("every rate diverged")
        else:
            if rates and (math.isclose(lr, min(rates)) or math.isclose(lr, max(rates))):
                parts.append(f"best at the edge of the grid — {widen}")
            tied = _ties(trials, oid)
            if len(tied) > 1:
                parts.append(
                    f"{len(tied)} rates tie at the lowest score ({tied[0].lr:.3g}..{tied[-1].lr:.3g}); "
                    "the smallest was taken"
                )
        notes[oid] = "; ".join(parts)
    return notes


def describe(criterion: str) -> str:
    """Return the sentence that says how the rates were chosen (printed and written beside the results)."""
    return (
        f"criterion {criterion}: {CRITERIA[criterion]}; diverged runs are excluded; lowest wins "
        "(training runs are scored on the training loss, never on the test set the race is judged on)"
    )


def key_name(key) -> str:
    """Return a tuned configuration as a reader names it: 'SGD', or 'SGD (momentum=0.5)' where other fields vary."""
    from engine.optimizers import OPTIMIZERS

    if not isinstance(key, tuple):
        return OPTIMIZERS.get(key).name
    words = ", ".join(f"{k}={v}" for k, v in key[1])
    return f"{OPTIMIZERS.get(key[0]).name} ({words})"


def best_words(best: dict[str, float | None]) -> str:
    """Return each optimizer's tuned rate in words: 'SGD 0.0215, Adam: all diverged' ('SGD (momentum=0.5) 0.1'
    where other fields vary too)."""
    return ", ".join(
        f"{key_name(o)} {lr:.3g}" if lr is not None else f"{key_name(o)}: all diverged" for o, lr in best.items()
    )


def notes_words(notes: dict, best: dict) -> str:
    """Return rate_notes' notes of the tuned rates in words ('SGD: best at the edge of the grid — …. Adam: ….'),
    '' when there are none; a configuration whose every rate diverged is said by best_words instead."""
    return " ".join(f"{key_name(k)}: {note}." for k, note in notes.items() if note and best.get(k) is not None)
