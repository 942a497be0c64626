"""Fair comparisons: a base configuration, the fields that vary, and seeds; results as tables.

Runs with the same seed start from identical weights and see the same batches, so differences come
from the varied fields alone. Compatible runs train together in one RunGroup (batched).
"""

from __future__ import annotations

import itertools
import math
import statistics
import warnings
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from engine.errors import UserError
from engine.jobs import run_job
from engine.optimizers import optimizer_colour
from engine.training.checks import GROUP_FIELDS
from engine.training.config import TrainConfig
from engine.training.records import HISTORY_COLUMNS, EpochRecord
from engine.training.trainer import CallbackToken

MAX_RUNS = 400


@dataclass
class RunResult:
    """One finished (or stopped) run of a comparison."""

    label: dict  # varied field -> value as typed
    seed: int
    config: TrainConfig
    history: list[EpochRecord]
    path: str
    seconds: float
    diverged_at: int | None = None

    @property
    def name(self) -> str:
        """Return a short label such as 'momentum=0.1, lr=0.01'."""
        return ", ".join(f"{k}={v}" for k, v in self.label.items()) or "base"


@dataclass
class Comparison:
    """A base configuration, the varied fields (in order), the seeds and each optimizer's own hyperparameters.

    ``per_optimizer`` maps an optimizer id to the hyperparameters it runs with (only those set): a run with
    that optimizer gets them over its training defaults (``engine.optimizers.training_defaults``: 0.1 for the
    SGD family, else the registry's), or over the base's for the base's own optimizer, whose rate is that same
    default unless the user set it. So every optimizer starts from its own default, whichever is the base, and
    never inherits another optimizer's rate. ``tuned_lr`` holds rates tuned per configuration: (the varied
    values a run must have, its rate); they win over ``per_optimizer`` (see ``configure``).
    """

    base: TrainConfig
    vary: list[tuple[str, list[str]]]
    seeds: list[int] = field(default_factory=list)
    per_optimizer: dict[str, dict] = field(default_factory=dict)
    tuned_lr: list[tuple[dict, float]] = field(default_factory=list)

    def params_of(self, optimizer_id: str) -> dict:
        """Return the hyperparameters set for ``optimizer_id`` here: the base's (its own optimizer), then its own."""
        own = dict(self.base.optimizer_params) if optimizer_id == self.base.optimizer else {}
        return {**own, **self.per_optimizer.get(optimizer_id, {})}

    def runs(self) -> list[tuple[dict, int, TrainConfig]]:
        """Return (label, seed, config) for every combination, seeds innermost; validated."""
        seeds = self.seeds or [self.base.seed]
        out = []
        combos = list(itertools.product(*[values for _, values in self.vary])) if self.vary else [()]
        if len(combos) * len(seeds) > MAX_RUNS:
            raise UserError(f"{len(combos) * len(seeds)} runs requested; at most {MAX_RUNS}", "vary")
        for combo in combos:
            label = {name: value for (name, _), value in zip(self.vary, combo)}
            for seed in seeds:
                out.append((label, seed, self.configure(label, seed)))
        return out

    def configure(self, label: dict, seed: int) -> TrainConfig:
        """Return the validated config of one run: the base with ``seed``, the optimizer's own settings, ``label``.

        The optimizer (varied or not) runs with ``params_of`` its id; the other varied fields come after, so a
        varied lr wins over an optimizer's own.
        """
        cfg = self.base.with_field("seed", seed)
        if "optimizer" in label:
            cfg = cfg.with_field("optimizer", label["optimizer"])
        cfg = replace(cfg, optimizer_params=self.params_of(cfg.optimizer))
        lr = self.tuned_rate(label, cfg.optimizer)
        if lr is not None:
            cfg = replace(cfg, optimizer_params={**cfg.optimizer_params, "lr": lr})
        for name, value in label.items():
            if name != "optimizer":
                cfg = cfg.with_field(name, value)
        return cfg.validated()

    def tuned_rate(self, label: dict, optimizer_id: str) -> float | None:
        """Return the rate tuned for the configuration of a run with ``label`` and ``optimizer_id`` (None: none).

        A ``tuned_lr`` entry applies when each of its fields has its value in the run ("optimizer" is the
        run's optimizer, whether varied or the base's).
        """
        for when, lr in self.tuned_lr:
            if all((optimizer_id if k == "optimizer" else label.get(k)) == v for k, v in when.items()):
                return float(lr)
        return None


def own_settings(comparison: Comparison, planned: list[tuple[dict, int, TrainConfig]]) -> list:
    """Return ``planned`` with every run configured by ``comparison.configure`` (each optimizer's own settings).

    For comparisons whose ``runs()`` builds configurations its own way (a sampled sweep grid).
    """
    return [(label, seed, comparison.configure(label, seed)) for label, seed, _ in planned]


def parse_vary(text: str) -> tuple[str, list[str]]:
    """Return (field, values) from 'field=v1,v2,...'; raise UserError if malformed."""
    name, sep, values = text.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not name.strip() or not items:
        raise UserError(f"{text!r} must look like field=value1,value2 (e.g. momentum=0,0.1,0.5)", "vary")
    if len(set(items)) != len(items):
        raise UserError(f"{text!r} repeats a value", "vary")
    return name.strip(), items


def parse_seeds(text: str) -> list[int]:
    """Return seeds from '1,2,3'."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"must be whole numbers separated by commas, not {text!r}", "seeds") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise UserError(f"need distinct whole numbers, got {text!r}", "seeds")
    return seeds


def plan_groups(planned: list[tuple[dict, int, TrainConfig]]) -> list[list[int]]:
    """Return the run indices of each RunGroup, in order: runs that share data, seed and architecture."""
    groups: dict[tuple, list[int]] = {}
    for i, (_, _, cfg) in enumerate(planned):
        groups.setdefault(tuple(_hashable(getattr(cfg, f)) for f in GROUP_FIELDS), []).append(i)
    return list(groups.values())


def run_comparison(
    comparison: Comparison,
    on_result: Callable[[RunResult], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    data_cache: dict | None = None,
    on_partial: Callable[[list[tuple[int, RunResult]]], None] | None = None,
) -> list[RunResult]:
    """Train every run and return the results in run order (a callback front end to jobs.comparison_job).

    Compatible runs (same data, seed and architecture) train together in one RunGroup. ``on_progress``
    gets (epochs done, epochs in total) summed over runs; ``on_result`` each run as its group ends;
    ``on_partial`` after every epoch, the (run index, result so far) of the runs still training;
    ``should_stop()`` is asked before every batch.
    """
    from engine.training.jobs import comparison_steps  # jobs builds on this module

    def on_step(step) -> None:
        """Pass one step of the comparison to the callbacks; returns nothing."""
        snapshot, items, over = step
        if on_progress is not None:
            on_progress(snapshot.done, snapshot.total)
        if over and on_result is not None:
            for _, result in items:
                on_result(result)
        elif not over and on_partial is not None:
            on_partial(items)

    return run_job(comparison_steps(comparison, CallbackToken(should_stop), data_cache), on_step)


def _hashable(value):
    return tuple(sorted(value.items())) if isinstance(value, dict) else value


def tidy_table(results: list[RunResult], varied: list[str]) -> tuple[list[str], list[list]]:
    """Return (header, rows): one row per run and epoch, with the varied fields, the seed and the run's rate.

    ``lr`` is the run's configured learning rate (the varied value when lr varies); ``epoch_lr`` is the rate
    the epoch used (after any scheduler).
    """
    own_lr = [] if "lr" in varied else ["lr"]
    history = ["epoch_lr" if c == "lr" else c for c in HISTORY_COLUMNS]
    header = ["run", *varied, "seed", *own_lr, *history]
    rows = []
    for k, res in enumerate(results):
        lr = [run_lr(res)] if own_lr else []
        for rec in res.history:
            rows.append([k, *[res.label.get(v) for v in varied], res.seed, *lr, *rec.row()])
    return header, rows


def run_lr(res: RunResult) -> float | None:
    """Return the learning rate ``res`` was configured with (None for an optimizer without one)."""
    value = res.config.optimizer_params.get("lr")
    return None if value is None else float(value)


def metric(history: list[EpochRecord], name: str) -> list[float]:
    """Return one metric along the history, NaN where it is missing."""
    return [float("nan") if getattr(h, name) is None else float(getattr(h, name)) for h in history]


def run_summary(res: RunResult, target_acc: float | None) -> dict:
    """Return final/best loss, best accuracy, first epoch reaching ``target_acc``, divergence and time."""
    h = res.history
    use_test = h[0].test_acc is not None or h[0].test_loss is not None
    losses = [v for v in metric(h, "test_loss" if use_test else "train_loss") if math.isfinite(v)]
    accs = metric(h, "test_acc" if use_test else "train_acc")
    finite_accs = [a for a in accs if math.isfinite(a)]
    reach = next(
        (rec.epoch for rec, a in zip(h, accs) if target_acc is not None and math.isfinite(a) and a >= target_acc), None
    )
    return {
        "run": res.name,
        **res.label,
        "seed": res.seed,
        "lr": run_lr(res),
        "final_loss": h[-1].test_loss if use_test else h[-1].train_loss,
        "best_loss": min(losses) if losses else float("nan"),
        "final_acc": accs[-1] if accs else float("nan"),
        "best_acc": max(finite_accs) if finite_accs else float("nan"),
        "epoch_reaching_target": reach,
        "diverged_at": res.diverged_at,
        "seconds": res.seconds,
        "evaluated_on": "test" if use_test else "train",
        "path": res.path,
    }


def summary_table(
    results: list[RunResult], varied: list[str], target_acc: float | None = 0.9
) -> tuple[list[str], list[list]]:
    """Return (header, rows): one row per configuration with mean and standard deviation across seeds."""
    by_label: dict[tuple, list[dict]] = {}
    for res in results:
        by_label.setdefault(tuple(res.label.get(v) for v in varied), []).append(run_summary(res, target_acc))
    stats = ["final_loss", "best_loss", "best_acc", "epoch_reaching_target", "seconds"]
    own_lr = [] if "lr" in varied else ["lr"]
    header = [*varied, "seeds", *own_lr, *[f"{s}_{k}" for s in stats for k in ("mean", "std")], "diverged_runs"]
    header.append("path")
    rows = []
    for key, items in by_label.items():
        row = [*key, len(items), *([items[0]["lr"]] if own_lr else [])]
        for s in stats:
            vals = [float(i[s]) for i in items if i[s] is not None and math.isfinite(float(i[s]))]
            row += [
                statistics.fmean(vals) if vals else None,
                statistics.stdev(vals) if len(vals) > 1 else (0.0 if vals else None),
            ]
        row += [sum(1 for i in items if i["diverged_at"] is not None), items[0]["path"]]
        rows.append(row)
    return header, rows


@dataclass
class SeedCurve:
    """One configuration's curve of a metric: the mean over its seeds and, with several seeds, min and max."""

    name: str
    runs: list[RunResult]
    epochs: np.ndarray
    mean: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None


def seed_curves(
    results: list[RunResult], name: str, series: Callable[[RunResult], np.ndarray] | None = None
) -> list[SeedCurve]:
    """Return one SeedCurve per configuration (results grouped by label, in order) for metric ``name``.

    ``series`` maps a run to its values (default: the raw metric), e.g. to smooth them first. Curves run
    over the epochs every seed has; values missing everywhere (no test set) come out as NaN.
    """
    groups: dict[str, list[RunResult]] = {}
    for r in results:
        groups.setdefault(r.name, []).append(r)
    get = series or (lambda r: np.asarray(metric(r.history, name), dtype=float))
    curves = []
    for label, runs in groups.items():
        n = min(len(r.history) for r in runs)
        arr = np.array([get(r)[:n] for r in runs], dtype=float)
        epochs = np.array([h.epoch for h in runs[0].history[:n]])
        if len(runs) == 1:
            curves.append(SeedCurve(label, runs, epochs, arr[0], None, None))
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (no test set) are expected
            curves.append(SeedCurve(label, runs, epochs, np.nanmean(arr, 0), np.nanmin(arr, 0), np.nanmax(arr, 0)))
    return curves


def curve_colour(label: dict, varied: list[str]) -> str | None:
    """Return the optimizer's own colour when the optimizer is the only varied field, else None (use the palette).

    One colour per optimizer everywhere: Adam is the same colour on the surface map, in the window's comparison
    and in compare_loss.png.
    """
    if list(varied) == ["optimizer"] and "optimizer" in label:
        return optimizer_colour(str(label["optimizer"]))
    return None
