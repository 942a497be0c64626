"""The convergence map of a surface: one optimizer over a grid of two hyperparameters, from one start.

Every cell is one PathSpec (the optimizer's settings with the two fields set), and all cells run in one
paths job, so a 20×20 map costs one job over 400 paths. Cell results: the first and last loss, the step
it diverged at, and the first step within ``tol`` of the surface's lowest known minimum.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from engine.errors import UserError
from engine.jobs import Token, run_job
from engine.map_grid import Axis, MapResult, check_cells, first_within
from engine.optimizers import OPTIMIZERS
from engine.surface.functions import Surface
from engine.surface.paths import PathSpec, PathsProgress, check_start, paths_job

DEFAULT_TOL = 1e-3


def cell_specs(optimizer: str, params: dict, x: Axis, y: Axis) -> list[PathSpec]:
    """Return one PathSpec per cell, y outer and x inner; raise UserError (field x or y) for a field it lacks."""
    entry = OPTIMIZERS.get(optimizer)
    for axis, which in ((x, "x"), (y, "y")):
        if not any(p.name == axis.field for p in entry.params):
            names = ", ".join(p.name for p in entry.params)
            raise UserError(f"{optimizer} has no hyperparameter {axis.field!r}; its hyperparameters: {names}", which)
    specs = []
    for yv in y.values():
        for xv in x.values():
            values = dict(params)
            for axis, value, which in ((x, xv, "x"), (y, yv, "y")):
                try:
                    values[axis.field] = entry.param(axis.field).coerce(value, optimizer)
                except UserError as err:
                    raise UserError(err.message, which) from None
            specs.append(PathSpec(optimizer, values))
    return specs


def surface_map_job(
    surface: Surface,
    optimizer: str,
    params: dict,
    start: tuple[float, ...],
    x: Axis,
    y: Axis,
    steps: int,
    tol: float = DEFAULT_TOL,
    scheduler: str = "none",
    scheduler_params: dict | None = None,
    token: Token | None = None,
) -> Generator[PathsProgress, None, MapResult | None]:
    """Run every cell as a job: yields PathsProgress (the last one at the end); returns the MapResult.

    Returns None when ``token`` stops it. Errors (an unknown field, a value out of range, too many cells)
    are raised before the first yield, naming ``x``, ``y``, ``start`` (outside the domain), ``steps`` or ``tol``.
    """
    check_cells(x, y)
    try:
        check_start(surface, tuple(start))
    except UserError as err:
        raise UserError(err.message, "start") from None
    if not np.isfinite(tol) or tol < 0:
        raise UserError(f"{tol} is not a tolerance ≥ 0", "tol")
    specs = cell_specs(optimizer, params, x, y)
    paths = yield from paths_job(surface, specs, [tuple(start)], steps, scheduler, scheduler_params, token)
    if paths is None:
        return None
    yield PathsProgress(steps, steps)
    diverged = [p.diverged_at is not None for p in paths]
    known = min((m.value for m in surface.minima), default=None)
    reach, target = first_within([p.losses for p in paths], diverged, tol, known)
    shape = (y.n, x.n)
    return MapResult(
        x,
        y,
        x.values(),
        y.values(),
        np.array([p.losses[0] for p in paths]).reshape(shape),
        np.array([p.losses[-1] for p in paths]).reshape(shape),
        np.array([-1 if p.diverged_at is None else p.diverged_at for p in paths]).reshape(shape),
        reach.reshape(shape),
        float(tol),
        target,
        "step",
        optimizer,
        known is not None,
    )


def surface_map(surface: Surface, optimizer: str, params: dict, start, x: Axis, y: Axis, steps: int, **kw) -> MapResult:
    """Return the MapResult (surface_map_job run here, to the end)."""
    return run_job(surface_map_job(surface, optimizer, params, start, x, y, steps, **kw))
