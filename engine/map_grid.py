"""What a convergence map shares on a surface and in training: the two axes, the cells, and their results.

A map runs one configuration per cell of a grid over two hyperparameters (lr × momentum, lr × beta2, …),
all from the same start, and records per cell the first and last loss, where it diverged, and the steps
(or epochs) it took to come within ``tol`` of the target: the surface's lowest known minimum, else the
lowest loss any cell reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.errors import UserError

MAX_AXIS = 200
MAX_CELLS = 400  # a training map is one batch; the comparison's run limit


@dataclass(frozen=True)
class Axis:
    """One axis of a map: a hyperparameter and ``n`` values from ``low`` to ``high`` (log-spaced when ``log``)."""

    field: str
    low: float
    high: float
    n: int
    log: bool = False
    whole: bool = False  # the field takes whole numbers (batch_size): values are rounded to integers

    def values(self) -> list[float]:
        """Return the axis values, ``low`` first, as a reader writes them: whole numbers as ints for a ``whole``
        axis, else floats to 12 significant digits (0.57, not linspace's 0.5700000000000001)."""
        if self.n == 1:
            raw = [self.low]
        elif self.log:
            raw = np.geomspace(self.low, self.high, self.n)
        else:
            raw = np.linspace(self.low, self.high, self.n)
        if self.whole:
            return [int(math.floor(float(v) + 0.5)) for v in raw]  # half up: round() would send 1.5 and 2.5 to 2
        return [float(f"{float(v):.12g}") for v in raw]

    def text(self) -> str:
        """Return the axis as typed: FIELD=LO:HI:N[:log]."""
        return f"{self.field}={self.low:g}:{self.high:g}:{self.n}" + (":log" if self.log else "")


def whole_axis(axis: Axis, which: str) -> Axis:
    """Return ``axis`` for a field that takes whole numbers: its values rounded, which must stay distinct; raise
    UserError naming ``which`` (x or y) when rounding makes two cells the same."""
    whole = Axis(axis.field, axis.low, axis.high, axis.n, axis.log, True)
    values = whole.values()
    if len(set(values)) < len(values):
        raise UserError(
            f"{axis.field} takes whole numbers, and {axis.n} values from {axis.low:g} to {axis.high:g} round to only "
            f"{len(set(values))} different ones ({', '.join(map(str, dict.fromkeys(values)))}); use fewer values "
            "or a wider range",
            which,
        )
    return whole


def parse_axis(text: str, which: str) -> Axis:
    """Return the Axis of 'FIELD=LO:HI:N[:log]'; raise UserError naming ``which`` (x or y) if malformed."""
    name, sep, spec = str(text).partition("=")
    parts = spec.split(":")
    shape = f"{text!r} must look like FIELD=LO:HI:N[:log], e.g. lr=0.001:1:20:log"
    if not sep or not name.strip() or len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "log"):
        raise UserError(shape, which)
    try:
        low, high, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise UserError(shape, which) from None
    log = len(parts) == 4
    if not (math.isfinite(low) and math.isfinite(high)) or not 1 <= n <= MAX_AXIS or (n > 1 and not low < high):
        raise UserError(f"{text!r} needs finite LO < HI and N in 1..{MAX_AXIS}", which)
    if log and low <= 0:
        raise UserError(f"{text!r}: a log axis needs LO > 0", which)
    return Axis(name.strip(), low, high, n, log)


@dataclass
class MapResult:
    """Every cell of a map, as (ny, nx) arrays (row = y value, column = x value).

    ``diverged_at`` and ``steps_to_tol`` are -1 where the cell did not diverge / never came within ``tol``.
    ``unit`` is "step" on a surface, "epoch" in training; ``target`` the loss that ``tol`` is measured from.
    """

    x: Axis
    y: Axis
    xs: list[float]
    ys: list[float]
    initial_loss: np.ndarray
    final_loss: np.ndarray
    diverged_at: np.ndarray
    steps_to_tol: np.ndarray
    tol: float
    target: float
    unit: str
    optimizer: str
    target_known: bool = False  # target is a known minimum of the surface (else the lowest loss any cell reached)

    def cell(self, i: int, j: int) -> dict:
        """Return cell (row ``i``, column ``j``) as {x field: value, y field: value} (the configuration it ran)."""
        return {self.x.field: self.xs[j], self.y.field: self.ys[i]}

    def rows(self) -> list[list]:
        """Return one row per cell (y outer, x inner): x, y, initial_loss, final_loss, diverged_at, steps_to_tol.

        A cell that did not diverge has an empty diverged_at; one that never reached the tolerance, an empty
        steps_to_tol; a diverged cell has no final loss.
        """
        out = []
        for i, yv in enumerate(self.ys):
            for j, xv in enumerate(self.xs):
                d, s = int(self.diverged_at[i, j]), int(self.steps_to_tol[i, j])
                final = float(self.final_loss[i, j])
                out.append(
                    [
                        xv,
                        yv,
                        float(self.initial_loss[i, j]),
                        final if d < 0 and math.isfinite(final) else None,
                        d if d >= 0 else None,
                        s if s >= 0 else None,
                    ]
                )
        return out

    def header(self) -> list[str]:
        """Return map.csv's header: the x field, the y field, then the per-cell results."""
        return [self.x.field, self.y.field, "initial_loss", "final_loss", "diverged_at", "steps_to_tol"]


def first_within(curves: list, diverged: list[bool], tol: float, target: float | None) -> tuple[np.ndarray, float]:
    """Return (the first index each curve comes within ``tol`` of the target, or -1; the target used).

    The target is ``target`` when given (a known minimum), else the lowest loss of any curve that did not diverge.
    """
    if target is None:
        finite = [float(np.nanmin(c)) for c, d in zip(curves, diverged) if not d and np.isfinite(c).any()]
        target = min(finite) if finite else math.nan
    out = np.full(len(curves), -1, dtype=int)
    for k, (c, d) in enumerate(zip(curves, diverged)):
        hits = np.nonzero(np.asarray(c, dtype=float) <= target + tol)[0]
        if hits.size and not d:
            out[k] = int(hits[0])
    return out, float(target)


def check_cells(x: Axis, y: Axis, limit: int = MAX_CELLS) -> None:
    """Raise UserError (field ``x``) when the map has more than ``limit`` cells, or (``y``) both axes match."""
    if x.field == y.field:
        raise UserError(f"the x and y axes both vary {x.field}; choose two different fields", "y")
    if x.n * y.n > limit:
        raise UserError(f"{x.n}×{y.n} = {x.n * y.n} cells; at most {limit}", "x")
