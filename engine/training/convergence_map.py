"""The convergence map of a training set-up: one optimizer over a grid of two hyperparameters, one batch.

Every cell is one run of a Comparison that varies the two fields, from the base's seed (identical initial
weights and batch order); runs that share data and architecture train together in one RunGroup, so the
whole map is one batched training. Cell results are per epoch: the first and last training loss (the map
is about where optimisation converges; the test set stays for judging the chosen run), the epoch it
diverged at, and the first epoch within ``tol`` of the lowest loss any cell reached.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import fields

import numpy as np

from engine.errors import UserError
from engine.jobs import Token, run_job
from engine.map_grid import Axis, MapResult, check_cells, first_within, whole_axis
from engine.optimizers import OPTIMIZERS
from engine.training.compare import Comparison, RunResult, metric
from engine.training.config import TrainConfig
from engine.training.jobs import ComparisonSnapshot, comparison_job

DEFAULT_TOL = 0.05


def map_axes(base: TrainConfig, x: Axis, y: Axis) -> tuple[Axis, Axis]:
    """Return (x, y) with each axis over a whole-number field (batch_size, epochs, an int hyperparameter of the
    base's optimizer) rounded to whole numbers (``whole_axis``); raise UserError naming x or y."""
    ints = {f.name for f in fields(TrainConfig) if f.type in ("int", int)}
    ints |= {p.name for p in OPTIMIZERS.get(base.optimizer).params if p.kind == "int"}
    return tuple(whole_axis(a, w) if a.field in ints and not a.whole else a for a, w in ((x, "x"), (y, "y")))


def map_comparison(base: TrainConfig, x: Axis, y: Axis) -> Comparison:
    """Return the comparison of every cell (y outer, x inner in run order); raise UserError naming x or y."""
    check_cells(x, y)
    x, y = map_axes(base, x, y)
    words = {axis.field: [axis_value(v) for v in axis.values()] for axis in (x, y)}
    comparison = Comparison(base, [(y.field, words[y.field]), (x.field, words[x.field])])
    for axis, which in ((x, "x"), (y, "y")):
        for value, text in zip(axis.values(), words[axis.field]):
            try:
                base.with_field(axis.field, text).validated()
            except UserError as err:
                raise UserError(f"{axis.field}={value:g}: {err.message}", which) from None
    return comparison


def axis_value(value: float) -> str:
    """Return an axis value as the text a field takes: a whole number without '.0' (batch_size=10), else repr."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def cell_curve(res: RunResult) -> np.ndarray:
    """Return a cell's training loss per epoch, epoch 0 (before any step) first."""
    return np.array(metric(res.history, "train_loss"), dtype=float)


def training_map_job(
    base: TrainConfig,
    x: Axis,
    y: Axis,
    tol: float = DEFAULT_TOL,
    token: Token | None = None,
    data_cache: dict | None = None,
) -> Generator[ComparisonSnapshot, None, MapResult | None]:
    """Train every cell as a job: yields ComparisonSnapshots; returns the MapResult (None when stopped)."""
    if not np.isfinite(tol) or tol < 0:
        raise UserError(f"{tol} is not a tolerance ≥ 0", "tol")
    comparison = map_comparison(base, x, y)
    x, y = map_axes(base, x, y)
    token = token if token is not None else Token()
    runs = yield from comparison_job(comparison, token, data_cache, grad_norm=False)  # losses suffice
    if token.stopped or len(runs) < x.n * y.n:
        return None
    return map_from_runs(runs, base, x, y, tol)


def map_from_runs(runs: list, base: TrainConfig, x: Axis, y: Axis, tol: float = DEFAULT_TOL) -> MapResult:
    """Return the MapResult of the cells' runs so far (a finished map, or a live one from a job's snapshot).

    ``runs`` are the cells' RunResults in run order; cells whose run has not started yet (missing, or no
    epoch recorded) are blank (NaN losses). While training, a cell's final loss is its latest epoch's. The
    runs started so far are the first cells: a map varies two numeric fields of one optimizer, so all its
    cells share data and architecture and train as one group, started together.
    """
    x, y = map_axes(base, x, y)
    total = x.n * y.n
    curves = [cell_curve(r) for r in runs[:total]]
    curves += [np.array([np.nan])] * (total - len(curves))
    curves = [c if c.size else np.array([np.nan]) for c in curves]
    diverged = [r.diverged_at is not None for r in runs[:total]] + [False] * (total - len(runs[:total]))
    reach, target = first_within(curves, diverged, tol, None)
    shape = (y.n, x.n)
    at = [-1 if r.diverged_at is None else r.diverged_at for r in runs[:total]] + [-1] * (total - len(runs[:total]))
    return MapResult(
        x,
        y,
        x.values(),
        y.values(),
        np.array([c[0] for c in curves]).reshape(shape),
        np.array([c[-1] for c in curves]).reshape(shape),
        np.array(at).reshape(shape),
        reach.reshape(shape),
        float(tol),
        target,
        "epoch",
        base.optimizer,
    )


def training_map(base: TrainConfig, x: Axis, y: Axis, **kw) -> MapResult:
    """Return the MapResult (training_map_job run here, to the end)."""
    return run_job(training_map_job(base, x, y, **kw))
