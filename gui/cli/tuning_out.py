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
from dataclasses import replace

from engine.errors import UserError
from engine.experiment import ExperimentError
from engine.experiment_tuning import TuningSettings
from engine.io import Staged, write_csv
from engine.jobs import Token
from engine.optimizers import OPTIMIZERS
from engine.tuning import CRITERIA, MAX_GRID, TuneSpec, describe, key_words, rate_notes, trial_key
from gui.cli.driver import drive, progress
from gui.cli.flags import Source, named, not_raced
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
    p.set_defaults(tune_flag=flag)


def parse_tune_grid(text: str) -> dict:
    """Return {lr_min, lr_max, points} from ``--tune-grid LO:HI:N``; raise UserError naming --tune-grid, in the
    user's words (the lowest and highest rate, the number of rates)."""
    parts = [p.strip() for p in str(text).split(":")]
    try:
        if len(parts) != 3:
            raise ValueError
        low, high, points = float(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        raise named(UserError(f"{text!r} must look like LO:HI:N, e.g. 1e-4:1:13"), "--tune-grid") from None
    low_ok, high_ok = (math.isfinite(v) and 1e-8 <= v <= 10 for v in (low, high))
    if not (low_ok and high_ok):
        bad = parts[0] if not low_ok else parts[1]
        raise named(UserError(f"the rates must lie from 1e-08 to 10; {bad} does not"), "--tune-grid")
    if not low < high:
        raise named(UserError(f"the lowest rate ({parts[0]}) must be below the highest ({parts[1]})"), "--tune-grid")
    if not (points.is_integer() and 2 <= points <= MAX_GRID):
        raise named(
            UserError(f"N, the number of rates to try, must be a whole number from 2 to {MAX_GRID}, not {parts[2]}"),
            "--tune-grid",
        )
    return {"lr_min": low, "lr_max": high, "points": int(points)}


def tuning_settings(args, base: TuningSettings | None, source: Source) -> TuningSettings:
    """Return the sweep settings: the file's (or the defaults) with the tuning options typed applied."""
    values = base.model_dump() if base is not None else {}
    if not args.tune:  # the sweep's options would do nothing without the sweep
        for flag, value in (("--tune-grid", args.tune_grid), ("--tune-criterion", args.tune_criterion)):
            if value is not None:
                raise named(UserError(f"applies only to the learning-rate sweep: add {args.tune_flag}"), flag)
        if args.tune_budget is not None:
            raise named(UserError(f"applies only to the learning-rate sweep: add {args.tune_flag}"), "--tune-budget")
    if args.tune_grid is not None:
        values.update(parse_tune_grid(args.tune_grid))
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
        if not (sep and dot):
            rest.append(item)
            continue
        if head not in OPTIMIZERS:
            raise named(UserError(not_raced(head, "", ())), f"--set {key.strip()}")
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


def check_raced(per_optimizer: dict, source: Source, raced: list[str], listed: str) -> None:
    """Raise UserError naming ``--set OPT.NAME`` when OPT was typed for an optimizer that is not ``raced`` (as
    ``surface`` refuses it: the value would silently do nothing); returns nothing."""
    for oid, params in per_optimizer.items():
        for name in params:
            words = source.typed.get(f"per_optimizer.{oid}.{name}")
            if words is not None and oid not in raced:
                raise named(UserError(not_raced(oid, listed, raced)), words)


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
        name = key_words(oid)  # 'sgd', or 'sgd, momentum=0.5' where other fields vary too
        if lr is None:
            print(f"{name:>9}: every rate diverged; kept its own")
            continue
        edge = math.isclose(lr, spec.lr_min) or math.isclose(lr, spec.lr_max)
        note = notes.get(oid) or (f"best at the edge of the grid — {WIDEN}" if edge else "")
        print(f"{name:>9}: tuned lr = {lr:.4g}" + (f" ({note})" if note else ""))
        oid = oid[0] if isinstance(oid, tuple) else oid
        if given and oid in given:
            print(f"{oid:>9}: the rate given ({given[oid]}) is replaced by the tuned one (--tune tunes every rate)")


def write_tuning(
    out: Staged,
    trials,
    best: dict,
    criterion: str,
    formats: tuple[str, ...] = ("png",),
    fields: list[str] = (),
    starts: int = 1,
) -> None:
    """Write tuning.csv (one row per trial) and the sweep chart in each of ``formats`` (tuning.png, tuning.svg)
    into ``out``; returns nothing.

    ``fields`` are the race's other varied fields, each configuration tuned on its own: tuning.csv has them as
    columns after ``optimizer``, and the chart one panel per combination of their values (a curve per optimizer).
    ``starts`` > 1 (a surface tuned from several starts) says on the chart that scores are means over them.
    """
    notes = rate_notes(list(trials), best)
    rows = []
    for t in trials:
        key = trial_key(t)
        values = dict(t.config)
        chosen = t.lr == best.get(key)
        rows.append(
            [
                t.optimizer,
                *[values.get(f) for f in fields],
                t.lr,
                criterion,
                t.value if math.isfinite(t.value) else None,
                t.diverged,
                chosen,
                notes[key] if chosen or best.get(key) is None else "",
            ]
        )
    write_csv([TUNING_COLUMNS[0], *fields, *TUNING_COLUMNS[1:]], rows, out.path("tuning.csv"))
    path = chart_path(out, "tuning", formats)
    title = f"learning-rate sweep: {criterion}, diverged excluded"
    for fmt in formats:  # each writes the format of the path's suffix
        render_panels(trials, best, criterion, path.with_suffix(f".{fmt}"), title, starts)


def render_panels(trials, best: dict, criterion: str, path, title: str, starts: int = 1):
    """Draw the sweep chart to ``path`` (png or svg): gui.charts.tuning's chart, or, when the trials have other
    varied values (``TrialScore.config``), one such chart per configuration stacked in one picture, each
    titled by its values; return the path."""
    from gui.charts.tuning import SIZE, TuningChart, render_tuning

    configs = list(dict.fromkeys(t.config for t in trials))
    if configs == [()]:
        return render_tuning(trials, best, criterion, path, title, starts=starts)
    import pyqtgraph as pg

    from gui.charts.export import export_png, export_svg
    from gui.charts.render import ensure_app

    ensure_app()
    width, height = SIZE[0], SIZE[1] * len(configs)
    widget = pg.GraphicsLayoutWidget()
    widget.resize(width, height)
    widget.ci.setGeometry(0, 0, width, height)
    for k, config in enumerate(configs):
        own = [replace(t, config=()) for t in trials if t.config == config]
        chosen = {oid: lr for (oid, c), lr in best.items() if c == config}
        words = ", ".join(f"{f}={v}" for f, v in config)
        chart = TuningChart(widget.addPlot(row=k, col=0), f"{title} · {words}")
        chart.set_trials(own, chosen, criterion, starts)
        chart.plot.layout.activate()
    widget.ci.layout.activate()
    if str(path).lower().endswith(".svg"):
        return export_svg(widget.ci, path, title, width=width)
    return export_png(widget.ci, path, width=width)


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
