"""The grid of a sweep: every combination of any number of varied fields, times the seeds, or a reproducible
random sample of it; and fixed lists of planned runs (what is left to train after a resume, one Ray task).

A ``Comparison`` whose ``runs()`` is overridden plugs into the existing comparison loop unchanged
(``engine.training.jobs.comparison_steps`` asks only for ``runs()``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from engine.errors import UserError
from engine.training.compare import MAX_RUNS, Comparison
from engine.training.config import TrainConfig

Planned = tuple[dict, int, TrainConfig]  # (label, seed, config), as Comparison.runs() returns them
MAX_GRID = 10**9  # a grid this big is only ever sampled, never listed


def grid_size(vary: list[tuple[str, list[str]]]) -> int:
    """Return the number of combinations of the varied fields (1 with none)."""
    return math.prod(len(values) for _, values in vary) if vary else 1


def combination(vary: list[tuple[str, list[str]]], index: int) -> dict:
    """Return the label (field -> value) of combination ``index``, in the order itertools.product lists them."""
    label = {}
    for name, values in reversed(vary):
        index, k = divmod(index, len(values))
        label[name] = values[k]
    return {name: label[name] for name, _ in vary}


def sample_indices(size: int, n: int, seed: int) -> list[int]:
    """Return ``n`` distinct combination indices out of ``size``, sorted, drawn reproducibly from ``seed``."""
    if n >= size:
        return list(range(size))
    return sorted(random.Random(f"descent-lab-sample:{seed}").sample(range(size), n))


@dataclass
class SweepGrid(Comparison):
    """A comparison over any number of varied fields; with ``sample`` > 0, a random subset of ``sample``
    combinations (each run with every seed), drawn from the base configuration's seed."""

    sample: int = 0

    def combinations(self) -> list[dict]:
        """Return the labels of the combinations to run, in grid order; raise UserError if there are too many."""
        size = grid_size(self.vary)
        if size > MAX_GRID:
            raise UserError(f"a grid of {size} combinations is too large to draw from (at most {MAX_GRID})", "vary")
        if self.sample < 0:
            raise UserError(f"{self.sample} is not a number of combinations to draw (0 = the whole grid)", "sample")
        chosen = sample_indices(size, self.sample, self.base.seed) if self.sample else range(size)
        n_runs = len(chosen) * max(1, len(self.seeds))
        if n_runs > MAX_RUNS:
            hint = " (use --sample to draw fewer)" if not self.sample else ""
            raise UserError(f"{n_runs} runs requested; at most {MAX_RUNS}{hint}", "sample" if self.sample else "vary")
        return [combination(self.vary, i) for i in chosen]

    def runs(self) -> list[Planned]:
        """Return (label, seed, config) for every chosen combination, seeds innermost; validated."""
        seeds = self.seeds or [self.base.seed]
        out = []
        for label in self.combinations():
            for seed in seeds:
                out.append((label, seed, self.configure(label, seed)))
        return out


@dataclass
class PlannedRuns(Comparison):
    """A fixed list of planned runs (a subset of a sweep), trained by the ordinary comparison loop."""

    planned: list[Planned] = field(default_factory=list)

    def runs(self) -> list[Planned]:
        """Return the planned runs as given."""
        return list(self.planned)


def subset(comparison: Comparison, planned: list[Planned]) -> PlannedRuns:
    """Return a comparison that trains exactly ``planned`` (with ``comparison``'s base, fields and seeds)."""
    return PlannedRuns(
        comparison.base, comparison.vary, comparison.seeds, comparison.per_optimizer, planned=list(planned)
    )


def parse_grid_fields(text: str, varied: list[str]) -> tuple[str, str]:
    """Return the two fields of the small multiples (rows, columns) from 'a,b'; raise UserError naming
    ``grid_fields`` when they are not two distinct varied fields."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if len(names) != 2 or names[0] == names[1]:
        raise UserError(f"{text!r} must name two different varied fields, e.g. lr,momentum", "grid_fields")
    for name in names:
        if name not in varied:
            raise UserError(f"{name!r} is not varied (varied: {', '.join(varied)})", "grid_fields")
    return names[0], names[1]


def grid_curves(results: list, varied: list[str], pair: tuple[str, str], key: str, series=None) -> tuple:
    """Return (cells, rows, cols) of small multiples over the two fields ``pair`` for metric ``key``.

    ``cells`` maps a (row, column) title pair ('field=value') to [(k, name, SeedCurve)]: one curve (mean over
    seeds) per combination of the other varied fields, k its index in a fixed order (for colours), name those
    fields' values. ``series`` maps a run to its values (e.g. smoothed), as in seed_curves.
    """
    from engine.training.compare import seed_curves

    title = lambda label: tuple(f"{f}={label[f]}" for f in pair)  # noqa: E731
    others = [n for n in varied if n not in pair]
    order = list(dict.fromkeys(tuple(r.label.get(n) for n in others) for r in results))
    cells: dict[tuple, list] = {}
    for curve in seed_curves(results, key, series):
        label = curve.runs[0].label
        k = order.index(tuple(label.get(n) for n in others))
        name = ", ".join(f"{n}={label[n]}" for n in others) or curve.name
        cells.setdefault(title(label), []).append((k, name, curve))
    keys = [title(r.label) for r in results]
    return cells, list(dict.fromkeys(k[0] for k in keys)), list(dict.fromkeys(k[1] for k in keys))
