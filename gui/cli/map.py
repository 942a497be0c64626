"""`main.py map`: a convergence map over two hyperparameters, on a surface from a start or for a training set-up.

    main.py map --function F --start X,Y --optimizer OPT --x FIELD=LO:HI:N[:log] --y FIELD=LO:HI:N[:log] \\
        --steps S --out DIR
    main.py map --dataset spiral ... --optimizer sgd --x lr=... --y momentum=... --epochs E --out DIR

With ``--function`` the map is of paths on that surface (all cells in one paths job); otherwise of training
runs (all cells in one batched training). Writes ``map.csv`` (one row per cell: the x field, the y field,
initial_loss, final_loss, diverged_at, steps_to_tol), ``map.json`` (the axes, the set-up, the tolerance and
its target, every cell), ``map.png`` (and ``map.svg`` with ``--format png,svg``), and ``experiment.json``
holding the set-up without the two varied fields (open it in the window to run any cell).
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import UserError
from engine.experiment import SurfaceSettings, load_section
from engine.io import Staged, write_csv, write_json
from engine.jobs import Token
from engine.map_grid import parse_axis
from engine.optimizers import OPTIMIZERS
from engine.schedulers import SCHEDULERS
from engine.surface.functions import BUILTINS, get_surface, parse_domain
from engine.surface.paths import MAX_STEPS, parse_point
from gui.cli.driver import check_estimate, check_outputs, drive, load_file, memory_guard, progress, write_experiment
from gui.cli.flags import Source, flag_for, named, parse_assignments
from gui.cli.formats import add_format_option, parse_formats
from gui.cli.options import add_training_options, number, run_data_shape, training_config, training_source


def add_parser(sub) -> None:
    """Register the `map` sub-command; returns nothing."""
    p = sub.add_parser(
        "map",
        help="a convergence map over two hyperparameters (surface or training)",
        description="Run one optimizer over a grid of two hyperparameters (e.g. lr × momentum) from the same "
        "start, as one batch; write map.csv, map.json, map.png and experiment.json. With --function, on that "
        "loss surface (--start, --steps); otherwise training runs (the training options, --epochs).",
    )
    g = p.add_argument_group("map")
    g.add_argument(
        "--x", required=True, metavar="FIELD=LO:HI:N[:log]", help="the horizontal axis, e.g. lr=0.001:1:20:log"
    )
    g.add_argument(
        "--y", required=True, metavar="FIELD=LO:HI:N[:log]", help="the vertical axis, e.g. momentum=0:0.95:20"
    )
    g.add_argument("--function", help="a built-in surface or a formula: map paths on it instead of training")
    g.add_argument("--start", metavar="X[,Y]", help="surface: the start point (default: the function's)")
    g.add_argument("--domain", metavar="XMIN,XMAX[,YMIN,YMAX]", help="surface: drawing and divergence domain")
    g.add_argument("--steps", help="surface: optimizer steps per cell (default 100)")
    g.add_argument("--tol", help="steps_to_tol counts the steps (epochs) to come within this of the target loss")
    g.add_argument("--color", choices=("final_loss", "steps_to_tol"), default="final_loss", help="what colours a cell")
    add_format_option(g)
    add_training_options(p)
    p.set_defaults(handler=run_map)


TRAINING_ONLY = (  # the training options (dest names): a surface map (--function) has no use for them
    *("dataset", "data_dir", "classes", "points", "noise", "target", "standardize", "test_fraction", "layers"),
    *("activation", "output_activation", "loss", "init", "dropout", "batchnorm", "l1", "l2", "init_weights"),
    *("batch_size", "epochs", "seed", "shuffle", "device"),
)
SURFACE_ONLY = ("start", "domain", "steps")


def check_used(args, x, y) -> None:
    """Raise UserError naming a typed option this map would silently ignore: a training option on a surface map,
    a surface option on a training map, or --lr/--set NAME for a field that is an axis; returns nothing."""
    surface = args.function is not None
    ignored = TRAINING_ONLY if surface else SURFACE_ONLY
    typed = [n for n in ignored if getattr(args, n, None) is not None] + (["download"] if args.download else [])
    if typed:
        flag = "--" + typed[0].replace("_", "-")
        if typed[0] in ("shuffle", "standardize", "batchnorm") and getattr(args, typed[0]) is False:
            flag = "--no-" + typed[0]
        words = "a surface map (--function) trains no network" if surface else "applies to a surface map (--function)"
        raise named(UserError(f"{words}; drop it"), flag)
    given = [("lr", "--lr")] if args.lr is not None else []
    given += [(key, f"--set {key}") for key, _ in parse_assignments(args.set, "--set")]
    for key, flag in given:
        for axis, which in ((x, "--x"), (y, "--y")):
            if key == axis.field:
                raise named(
                    UserError(f"{key} is the map's {which} axis, so this value would do nothing; drop it"), flag
                )


def _surface_map(args, x, y, token: Token):
    """Return (MapResult, the set-up as a dict, SurfaceSettings) of a surface map."""
    from engine.surface.convergence_map import DEFAULT_TOL, surface_map_job

    domain = parse_domain(args.domain) if args.domain else None
    try:
        surface = get_surface(args.function, domain)
    except UserError as err:
        raise UserError(err.message, "function") from None
    try:
        start = parse_point(args.start, surface.dims) if args.start else tuple(surface.default_start)
    except UserError as err:
        raise UserError(err.message, "start") from None
    steps = number(args.steps, "steps", int) if args.steps is not None else 100
    if not 1 <= steps <= MAX_STEPS:
        raise UserError(f"must be a whole number in 1..{MAX_STEPS}, not {steps}", "steps")
    tol = number(args.tol, "tol") if args.tol is not None else DEFAULT_TOL
    entry = OPTIMIZERS.get(args.optimizer or "sgd")
    params = {}
    typed = [("lr", args.lr)] if args.lr is not None else []
    for key, value in [*typed, *parse_assignments(args.set, "--set")]:
        try:
            params[key] = entry.param(key).coerce(value, entry.id)
        except UserError as err:
            raise UserError(err.message, f"optimizer_params.{key}") from None
    sched = args.scheduler or "none"
    try:
        sched_params = SCHEDULERS.get(sched).resolve(dict(parse_assignments(args.sched_set, "--sched-set")))
    except UserError as err:
        field = "scheduler" if err.field == "scheduler" else f"scheduler_params.{err.field}"
        raise UserError(err.message, field) from None
    job = surface_map_job(surface, entry.id, params, start, x, y, steps, tol, sched, sched_params, token=token)
    with progress(steps, "map", "step") as bar:
        result = drive(job, token, lambda p: bar.update(p.step - bar.n))
    setup = {"function": args.function, "start": list(start), "optimizer": entry.id, "params": params, "steps": steps}
    setup.update(scheduler=sched, scheduler_params=sched_params)
    settings = load_section(
        SurfaceSettings,
        {
            "function": args.function if args.function in BUILTINS else "formula",
            **({"formula": args.function} if args.function not in BUILTINS else {}),
            "domain": args.domain or "",
            "optimizers": [entry.id],
            "hyperparameters": {entry.id: params},
            "steps": steps,
            "starts": [list(start)],
            "scheduler": sched,
            "scheduler_params": {k: sched_params[k] for k, _ in parse_assignments(args.sched_set, "--sched-set")},
        },
    )
    return result, setup, settings


def _training_map(args, x, y, token: Token, loaded, source: Source):
    """Return (MapResult, the set-up as a dict, TrainingSettings) of a training map."""
    from engine.training.convergence_map import DEFAULT_TOL, map_comparison, training_map_job
    from engine.training.estimate import estimate_comparison

    base, data, used = training_config(args, loaded.training if loaded else None, source)
    tol = number(args.tol, "tol") if args.tol is not None else DEFAULT_TOL
    planned = map_comparison(base, x, y).runs()
    data = data if data is not None else base.load_data()
    estimate = estimate_comparison(planned, lambda cfg: run_data_shape(cfg, data))
    check_estimate(estimate)
    print(f"{data.summary()}; {len(planned)} cells trained as one batch", file=sys.stderr)
    cache = {base.dataset_key(): data}
    with memory_guard(estimate), progress(sum(c.epochs for _, _, c in planned), "map", "epoch") as bar:
        result = drive(training_map_job(base, x, y, tol, token, cache), token, lambda s: bar.update(s.done - bar.n))
    return result, {"training": base.to_dict()}, used


def run_map(args) -> int:
    """Compute the map and write map.csv, map.json, map.png (map.svg) and experiment.json; return 0."""
    check_outputs(args)
    loaded = load_file(args)
    source = training_source(args, "training") if args.function is None else Source(None, "surface", (), flag_for)
    token = Token()
    try:
        formats = parse_formats(args.format)
        x, y = parse_axis(args.x, "x"), parse_axis(args.y, "y")
        check_used(args, x, y)
        if args.function is not None:
            result, setup, settings = _surface_map(args, x, y, token)
            tab, section = 0, "surface"
        else:
            result, setup, settings = _training_map(args, x, y, token, loaded, source)
            tab, section = 1, "training"
    except UserError as err:
        raise source.name(err) from None
    from gui.charts.convergence_map import render_map

    title = f"{OPTIMIZERS.get(result.optimizer).name}: {args.color.replace('_', ' ')} over {x.field} × {y.field}"
    with Staged(args.out) as out:
        write_csv(result.header(), result.rows(), out.path("map.csv"))
        write_json(
            {
                "x": {"field": x.field, "low": x.low, "high": x.high, "n": x.n, "log": x.log, "values": result.xs},
                "y": {"field": y.field, "low": y.low, "high": y.high, "n": y.n, "log": y.log, "values": result.ys},
                "optimizer": result.optimizer,
                "unit": result.unit,
                "tol": result.tol,
                "target": result.target,
                "setup": setup,
                "cells": [dict(zip(result.header(), row)) for row in result.rows()],
            },
            out.path("map.json"),
        )
        for fmt in formats:
            render_map(result, out.path(f"map.{fmt}"), args.color, title)
        write_experiment(out, loaded, tab, section, settings, None)
    cells = x.n * y.n
    diverged = int((result.diverged_at >= 0).sum())
    reached = int((result.steps_to_tol >= 0).sum())
    print(
        f"{cells} cells: {diverged} diverged, {reached} came within {result.tol:g} of {result.target:.4g}; "
        f"wrote map.csv, map.json, {', '.join(f'map.{f}' for f in formats)}, experiment.json to {Path(args.out)}"
    )
    return 0
