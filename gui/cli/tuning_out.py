"""The command line's learning-rate tuning and per-optimizer settings: options, the sweep, and its files.

``surface --tune`` and ``compare --tune-lr`` first sweep each optimizer's rate over a log grid (one batch),
pick each one's best by the criterion, then race at the tuned rates. Both write ``tuning.csv`` (every trial:
optimizer, lr, criterion, value, diverged, chosen) and ``tuning.png`` (the rate-vs-criterion curves; each
``--format``: tuning.svg too).
``compare --set adam.lr=0.001`` sets one optimizer's own hyperparameter in a race.
"""

from __future__ import annotations

import math
import sys

from engine.errors import UserError
from engine.experiment import ExperimentError
from engine.experiment_tuning import TuningSettings
from engine.io import Staged, write_csv
from engine.jobs import Token
from engine.optimizers import OPTIMIZERS
from engine.tuning import CRITERIA, TuneSpec, describe, rate_notes
from gui.cli.driver import drive, progress
from gui.cli.flags import Source, named
from gui.cli.formats import chart_path

TUNING_COLUMNS = ["optimizer", "lr", "criterion", "value", "diverged", "chosen", "note"]
WIDEN = "widen --tune-grid"


def add_tune_options(p, flag: str) -> None:
    """Add the tuning options (``flag`` switches tuning on: ``--tune`` or ``--tune-lr``); returns nothing."""
    g = p.add_argument_group("learning-rate tuning")
    g.add_argument(
        flag,
        dest="tune",
        action="store_true",
        default=None,
        help="first find each optimizer's best learning rate (a log-grid sweep from the same start), then race "
        "at the tuned rates; writes tuning.csv and tuning.png. Every optimizer is tuned: a rate typed with --lr or "
        "--set OPT.lr is replaced, and a line says so; a rate at an end of the grid, or tied, is noted",
    )
    g.add_argument("--tune-grid", metavar="LO:HI:N", help="the log grid of rates (default 1e-4:1:13)")
    g.add_argument(
        "--tune-criterion",
        metavar="NAME",
        help="how a trial is scored, lowest wins: " + "; ".join(f"{k} = {v}" for k, v in CRITERIA.items()),
    )
    g.add_argument("--tune-budget", metavar="N", help="steps or epochs per trial (default: as many as the race)")


def tuning_settings(args, base: TuningSettings | None, source: Source) -> TuningSettings:
    """Return the sweep settings: the file's (or the defaults) with the tuning options typed applied."""
    values = base.model_dump() if base is not None else {}
    if args.tune_grid is not None:
        parts = args.tune_grid.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            values.update(lr_min=float(parts[0]), lr_max=float(parts[1]), points=int(parts[2]))
        except ValueError:
            raise UserError(f"{args.tune_grid!r} must look like LO:HI:N, e.g. 1e-4:1:13", "tuning") from None
        for name in ("tuning", "tuning.lr_min", "tuning.lr_max", "tuning.points"):
            source.type(name, "--tune-grid")
    if args.tune_criterion is not None:
        values["criterion"] = args.tune_criterion
        source.type("tuning.criterion", "--tune-criterion")
    if args.tune_budget is not None:
        try:
            values["budget"] = int(args.tune_budget)
        except ValueError:
            raise UserError(f"must be a whole number, not {args.tune_budget!r}", "tuning.budget") from None
        source.type("tuning.budget", "--tune-budget")
    try:
        return TuningSettings.validate_data(values)
    except ExperimentError as err:
        raise err.under("tuning") from None


def per_optimizer_options(args, base: dict | None, source: Source) -> dict[str, dict]:
    """Return each optimizer's own hyperparameters: ``base`` (the file's) with ``--set OPT.NAME=VALUE`` applied.

    The ``--set`` items naming an optimizer are taken out of ``args.set``; the others (``--set momentum=0.5``,
    the base optimizer's) are left for the training options.
    """
    per = {oid: dict(params) for oid, params in (base or {}).items()}
    rest = []
    for item in args.set or []:
        key, sep, value = item.partition("=")
        head, dot, name = key.strip().partition(".")
        if not (sep and dot and head in OPTIMIZERS):
            rest.append(item)
            continue
        field = f"per_optimizer.{head}.{name.strip()}"
        source.type(field, f"--set {key.strip()}")
        try:
            per.setdefault(head, {})[name.strip()] = (
                OPTIMIZERS.get(head).param(name.strip()).coerce(value.strip(), head)
            )
        except UserError as err:
            raise UserError(err.message, field) from None
    args.set = rest or None
    return per


def check_tune_vary(vary) -> None:
    """Raise UserError (--tune-lr) when the learning rate is also varied; returns nothing. Called before any
    work, so that the refusal is the command's only line."""
    if any(name == "lr" for name, _ in vary):
        raise named(UserError("finds each optimizer's rate; it cannot also be varied (drop --vary lr)"), "--tune-lr")


def tune_comparison(comparison, settings: TuningSettings, cache: dict):
    """Sweep the comparison's optimizers (with a progress bar); return (the comparison at tuned rates, TuningResult).

    Raises KeyboardInterrupt when stopped (Ctrl+C), as ``drive`` does.
    """
    from engine.training.tuning import sweep_comparison, tuning_job

    check_tune_vary(comparison.vary)
    spec = TuneSpec.of(settings)
    trials = sweep_comparison(comparison, spec).runs()
    print(f"tuning: {len(trials)} trials; {describe(spec.criterion)}", file=sys.stderr)
    per = comparison.per_optimizer
    given = {oid: f"lr {per[oid]['lr']:g}" for oid in per if "lr" in per[oid]}
    token = Token()
    with progress(sum(cfg.epochs for _, _, cfg in trials), "tune", "epoch") as bar:
        result = drive(tuning_job(comparison, spec, token, cache), token, lambda s: bar.update(s.done - bar.n))
    report(result.best, spec, result.trials, given)
    return result.tuned(comparison), result


def tune_paths(
    surface,
    specs,
    starts,
    steps: int,
    scheduler: str,
    scheduler_params: dict,
    settings: TuningSettings,
    given: dict[str, str] | None = None,
):
    """Sweep the surface's optimizers (with a progress bar); return (the specs at tuned rates, SurfaceTuning)."""
    from engine.surface.tuning import surface_tuning_job

    spec = TuneSpec.of(settings)
    print(f"tuning: {len(specs) * spec.points} trials; {describe(spec.criterion)}", file=sys.stderr)
    token = Token()
    job = surface_tuning_job(surface, specs, starts, steps, spec, scheduler, scheduler_params, token)
    with progress(spec.budget or steps, "tune", "step") as bar:
        result = drive(job, token, lambda p: bar.update(p.step - bar.n))
    report(result.best, spec, result.trials, given)
    return result.tuned(specs), result


def report(best: dict, spec: TuneSpec, trials=(), given: dict[str, str] | None = None) -> None:
    """Print each optimizer's tuned rate (or that every rate diverged); returns nothing.

    A rate at an end of the grid may not be the best one, and rates that tie leave the choice open: the line
    says so (engine.tuning.rate_notes). A rate ``given`` for an optimizer (what typed it) is replaced by the
    tuned one: a line says that too.
    """
    notes = rate_notes(list(trials), best, WIDEN) if trials else {}
    for oid, lr in best.items():
        if lr is None:
            print(f"{oid:>9}: every rate diverged; kept its own")
            continue
        edge = math.isclose(lr, spec.lr_min) or math.isclose(lr, spec.lr_max)
        note = notes.get(oid) or (f"best at the edge of the grid — {WIDEN}" if edge else "")
        print(f"{oid:>9}: tuned lr = {lr:.4g}" + (f" ({note})" if note else ""))
        if given and oid in given:
            print(f"{oid:>9}: the rate given ({given[oid]}) is replaced by the tuned one (--tune tunes every rate)")


def write_tuning(out: Staged, trials, best: dict, criterion: str, formats: tuple[str, ...] = ("png",)) -> None:
    """Write tuning.csv (one row per trial) and the sweep chart in each of ``formats`` (tuning.png, tuning.svg)
    into ``out``; returns nothing."""
    from gui.charts.tuning import render_tuning

    notes = rate_notes(list(trials), best)
    rows = [
        [
            t.optimizer,
            t.lr,
            criterion,
            t.value if math.isfinite(t.value) else None,
            t.diverged,
            t.lr == best.get(t.optimizer),
            notes[t.optimizer] if t.lr == best.get(t.optimizer) or best.get(t.optimizer) is None else "",
        ]
        for t in trials
    ]
    write_csv(TUNING_COLUMNS, rows, out.path("tuning.csv"))
    path = chart_path(out, "tuning", formats)
    for fmt in formats:  # render_tuning writes the format of the path's suffix
        render_tuning(
            trials, best, criterion, path.with_suffix(f".{fmt}"), f"learning-rate sweep: {criterion}, diverged excluded"
        )


def tune_surface_settings(settings, surface, starts, source: Source | None = None):
    """Tune ``settings``' optimizers on ``surface`` from ``starts``; return (tuned PathSpecs, SurfaceTuning).

    The tuned rates are written into ``settings.hyperparameters`` (so experiment.json records them).
    """
    specs, result = tune_paths(
        surface,
        settings.specs(),
        starts,
        settings.steps,
        settings.scheduler,
        settings.scheduler_params,
        settings.tuning,
        _given_rates(settings, source),
    )
    hyper = {oid: dict(values) for oid, values in settings.hyperparameters.items()}
    for spec in specs:
        hyper[spec.optimizer]["lr"] = spec.params["lr"]
    settings.hyperparameters = hyper
    return specs, result


def _given_rates(settings, source: Source | None) -> dict[str, str]:
    """Return {optimizer: the flag and value} for each rate typed on the command line (tuning replaces them)."""
    if source is None:
        return {}
    out = {}
    for oid in settings.optimizers:
        field = f"hyperparameters.{oid}.lr"
        if source.is_typed(field):
            out[oid] = f"{source.flag(field)} = {settings.hyperparameters[oid]['lr']:g}"
    return out
