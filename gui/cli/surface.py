"""`main.py surface`: optimizer paths on a loss surface, written as JSON, CSV and a PNG, driven by paths_job.

Without ``--experiment`` the defaults are the command line's own (peaks, sgd with its registry
hyperparameters, 50 steps); with it, the file's surface settings, changed only by the options typed.
"""

from __future__ import annotations

from engine.errors import UserError
from engine.experiment import SurfaceResult, SurfaceSettings, load_section
from engine.experiment_settings import FORMULA
from engine.io import Staged, write_csv, write_json
from engine.jobs import Token
from engine.optimizers import OPTIMIZERS
from engine.schedulers import SCHEDULERS, resolve_scheduler
from engine.surface.functions import BUILTINS, Surface, get_surface, parse_domain, surface_ids
from engine.surface.paths import MAX_STEPS, parse_point, paths_job
from gui.cli.animate import add_animation_options, animation_options
from gui.cli.driver import add_experiment_option, check_outputs, drive, load_file, progress, write_experiment
from gui.cli.flags import Source, named, not_raced, parse_assignments
from gui.cli.formats import add_format_option, chart_files, chart_path, parse_formats
from gui.cli.tuning_out import add_tune_options, tune_surface_settings, tuning_settings, write_tuning

SURFACE_TAB = 0
CLI_STEPS = 50
ANIMATION_SIZE = "960x600"
WORDS = {
    "function": "--function",
    "formula": "--function",
    "domain": "--domain",
    "starts": "--start",
    "steps": "--steps",
    "optimizers": "--optimizers",
    "optimizer": "--optimizers",
    "scheduler": "--scheduler",
    "log": "--log",
}


def add_parser(sub) -> None:
    """Register the `surface` sub-command; returns nothing."""
    p = sub.add_parser(
        "surface",
        help="optimizer paths on a 1-D or 2-D loss surface",
        description="Run optimizers on a loss surface and write paths.json, paths.csv, surface.png and "
        "experiment.json. With --experiment FILE, run the file's surface settings; options given override them.",
    )
    p.add_argument(
        "--function", help=f"built-in ({', '.join(surface_ids())}) or a formula in x[, y], e.g. 'x*sin(x**2)'"
    )
    p.add_argument(
        "--start",
        action="append",
        metavar="X[,Y]",
        help="start point (repeat for several); default: the function's suggested start",
    )
    p.add_argument("--optimizers", help=f"comma-separated ids: {', '.join(OPTIMIZERS.ids())} (default sgd)")
    p.add_argument("--lr", help="learning rate for every optimizer (else each one's default)")
    p.add_argument(
        "--set",
        action="append",
        metavar="[OPT.]NAME=VALUE",
        help="a hyperparameter, for one optimizer (adam.beta1=0.8) or all that have it (momentum=0.5)",
    )
    p.add_argument("--scheduler", help=f"one of {', '.join(SCHEDULERS.ids())} (default none)")
    p.add_argument("--sched-set", action="append", metavar="NAME=VALUE", help="a scheduler parameter")
    p.add_argument("--steps", help=f"number of optimizer steps (default {CLI_STEPS})")
    p.add_argument("--domain", metavar="XMIN,XMAX[,YMIN,YMAX]", help="drawing and divergence domain")
    p.add_argument("--grid", type=str, default="300", help="contour grid points per axis (default 300)")
    p.add_argument("--log", action="store_true", default=None, help="log-scale colours")
    p.add_argument(
        "--notebook-markers",
        action="store_true",
        default=None,
        help="the seed notebooks' look: red start star, yellow step dots, blue end star",
    )
    add_animation_options(p, "step", ANIMATION_SIZE)
    p.add_argument(
        "--map-only",
        action="store_true",
        help="animation frames without the loss-per-step chart beside the map",
    )
    add_tune_options(p, "--tune")
    add_experiment_option(p)
    add_format_option(p)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(handler=run)


def flag_words(field: str) -> str:
    """Return the surface option that sets ``field``: ``steps`` -> ``--steps``, ``hyperparameters.adam.beta1`` ->
    ``--set adam.beta1`` (a value typed is named by the flag that set it: see ``hyperparameters``)."""
    head, _, rest = field.partition(".")
    if head == "hyperparameters" and rest:
        return f"--set {rest}"
    if head == "scheduler_params" and rest:
        return f"--sched-set {rest}"
    return WORDS.get(head, "--" + head.replace("_", "-"))


def cli_defaults() -> SurfaceSettings:
    """Return the command line's defaults as settings: peaks, sgd, every optimizer's registry values, 50 steps."""
    return SurfaceSettings(
        optimizers=["sgd"],
        hyperparameters={oid: OPTIMIZERS.get(oid).defaults() for oid in OPTIMIZERS.ids()},
        steps=CLI_STEPS,
    )


def _int(text: str, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise named(UserError(f"must be a whole number, not {text!r}"), f"--{name}") from None
    if not low <= value <= high:
        raise named(UserError(f"must be a whole number from {low} to {high}, not {value}"), f"--{name}")
    return value


def _surface(args, base: SurfaceSettings, source: Source) -> tuple[Surface, dict]:
    """Return (the Surface, its function/formula/domain settings); a typed --domain applies to built-ins too."""
    if args.function is not None:
        text = args.function.strip()
        source.type("function")
        source.type("formula")
    else:
        text = base.formula if base.function == FORMULA else base.function
    function, formula = (text, base.formula) if text in BUILTINS else (FORMULA, text)
    if args.domain is not None:
        domain = args.domain
        source.type("domain")
    else:
        domain = "" if args.function is not None else base.domain  # a file's domain belongs to its function
    applies = args.domain is not None or function == FORMULA  # as in the window, built-ins keep their own
    try:
        ranges = parse_domain(domain) if applies and domain.strip() else None
    except UserError as err:
        raise UserError(err.message, "domain") from None
    try:
        surface = get_surface(text)
    except UserError as err:
        raise UserError(err.message, "function" if function != FORMULA else "formula") from None
    if ranges:
        try:
            surface = get_surface(text, ranges)
        except UserError as err:
            raise UserError(err.message, "domain") from None
    return surface, {"function": function, "formula": formula, "domain": domain}


def hyperparameters(args, ids: list[str], base: SurfaceSettings, source: Source) -> dict[str, dict]:
    """Return every optimizer's hyperparameters: the base's, with --lr and --set applied to the chosen ``ids``.

    Each value typed is checked with its registry rule, and recorded in ``source`` with the flag that set it
    (``--lr``, ``--set adam.lr`` or ``--set momentum``), so that any later error names that flag.
    """
    sets = parse_assignments(args.set, "--set")
    listed = "the experiment's optimizers" if args.optimizers is None and source.path else "--optimizers"
    for key, _ in sets:
        target = key.split(".", 1)[0] if "." in key else None
        if target is not None and target not in ids:
            raise named(UserError(not_raced(target, listed, ids)), f"--set {key}")
    hyper = {oid: dict(values) for oid, values in base.hyperparameters.items()}
    for oid in ids:
        entry = OPTIMIZERS.get(oid)
        typed = {"lr": (args.lr, "--lr")} if args.lr is not None else {}
        for key, value in sets:
            if "." in key:
                target, name = key.split(".", 1)
                if target == oid:
                    typed[name] = (value, f"--set {key}")
            elif any(p.name == key for p in entry.params):
                typed[key] = (value, f"--set {key}")
            elif not any(any(p.name == key for p in OPTIMIZERS.get(j).params) for j in ids):
                raise UserError(f"--set {key}: none of {', '.join(ids)} has a parameter '{key}'")
        for name, (value, flag) in typed.items():
            source.type(f"hyperparameters.{oid}.{name}", flag)
            try:
                hyper[oid][name] = entry.param(name).coerce(value, oid)
            except UserError as err:
                raise UserError(err.message, f"hyperparameters.{oid}.{name}") from None
    return hyper


def _scheduler(args, base: SurfaceSettings, source: Source) -> tuple[str, dict, dict]:
    """Return (scheduler id, its parameters checked, the parameters as paths.json records them)."""
    sched = args.scheduler if args.scheduler is not None else base.scheduler
    entry = SCHEDULERS.get(sched)
    if args.scheduler is not None:
        source.type("scheduler")
    kept = dict(base.scheduler_params) if sched == base.scheduler else {}
    if sched != base.scheduler:
        source.type("scheduler_params")
    typed = dict(parse_assignments(args.sched_set, "--sched-set"))
    checked = dict(kept)
    for key, value in typed.items():
        source.type(f"scheduler_params.{key}")
        try:
            checked[key] = entry.param(key).coerce(value, entry.id)
        except UserError as err:
            raise UserError(err.message, f"scheduler_params.{key}") from None
    try:
        resolve_scheduler(sched, checked)
    except UserError as err:
        raise err.under("scheduler_params") from None
    return sched, checked, {**kept, **typed}


def surface_settings(args, base: SurfaceSettings, source: Source):
    """Return (SurfaceSettings used, Surface, start points, scheduler params as typed, log scale or None).

    ``base`` is the file's surface section or ``cli_defaults()``. Typed values are checked first, with the
    command line's own messages; the model then checks the whole (an error names the flag or the file field).
    """
    surface, function = _surface(args, base, source)
    if args.start is not None:
        source.type("starts")
        try:
            starts = [parse_point(s, surface.dims) for s in args.start]
        except UserError as err:
            raise UserError(err.message, "starts") from None
    else:
        starts = list(base.starts)
    if args.steps is not None:
        source.type("steps")
        steps = _int(args.steps, "steps", 1, MAX_STEPS)
    else:
        steps = base.steps
    if args.optimizers is not None:
        source.type("optimizers")
        source.type("optimizer")
        ids = [i.strip() for i in args.optimizers.split(",") if i.strip()]
        if not ids:
            raise UserError("--optimizers is empty")
    else:
        ids = list(base.optimizers)
    for oid in ids:
        OPTIMIZERS.get(oid)
    hyper = hyperparameters(args, ids, base, source)
    sched, sched_params, sched_typed = _scheduler(args, base, source)
    log = True if args.log else (base.log if source.path is not None else None)
    values = {
        **function,
        "log": bool(surface.log_scale) if log is None else log,
        "optimizers": ids,
        "hyperparameters": hyper,
        "scheduler": sched,
        "scheduler_params": sched_params,
        "steps": steps,
        "starts": starts,
        "notebook_markers": True if args.notebook_markers else base.notebook_markers,
    }
    settings = load_section(SurfaceSettings, values)
    run_starts = starts if args.start is not None else settings.start_points(surface)
    return settings, surface, run_starts, sched_typed, log


def run(args) -> int:
    """Compute the paths and write paths.json, paths.csv, surface.png and experiment.json; return 0.

    The output folder is checked before anything is computed; the files are written all-or-nothing.
    """
    check_outputs(args)
    formats = parse_formats(args.format)
    animation = animation_options(args, ANIMATION_SIZE)
    loaded = load_file(args)
    source = Source(args.experiment, "surface", SurfaceSettings.model_fields, words=flag_words)
    try:
        settings, surface, starts, sched_params, log = surface_settings(
            args, loaded.surface if loaded else cli_defaults(), source
        )
        grid = _int(args.grid, "grid", 20, 2000)
        token = Token()
        steps = settings.steps
        settings.tuning = tuning_settings(args, loaded.surface.tuning if loaded else None, source)
        specs, tuned = (
            tune_surface_settings(settings, surface, starts, source) if args.tune else (settings.specs(), None)
        )
        job = paths_job(surface, specs, starts, steps, settings.scheduler, settings.scheduler_params, token)
        with progress(steps, "surface", "step") as bar:
            paths = drive(job, token, lambda p: bar.update(p.step - bar.n))
    except UserError as err:
        raise source.name(err) from None
    try:
        with Staged(args.out) as out:
            write_json(
                {
                    "function": surface.id if surface.id != "formula" else surface.formula,
                    "formula": surface.formula or None,
                    "dims": surface.dims,
                    "domain": [list(d) for d in surface.domain],
                    "minima": [{"point": list(m.point), "value": m.value, "kind": m.kind} for m in surface.minima],
                    "scheduler": {"id": settings.scheduler, "params": sched_params},
                    "steps": steps,
                    "computed_by": paths[0].computed_by,  # "numba kernel" or "torch.optim"
                    "runs": [p.to_dict() for p in paths],
                },
                out.path("paths.json"),
            )
            coords = ["x", "y"][: surface.dims]
            rows = (
                [p.optimizer, p.start_index, k, *pt, loss]
                for p in paths
                for k, (pt, loss) in enumerate(zip(p.points.tolist(), p.losses.tolist()))
            )
            write_csv(["optimizer", "start_index", "step", *coords, "loss"], rows, out.path("paths.csv"))
            write_experiment(out, loaded, SURFACE_TAB, "surface", settings, SurfaceResult.from_paths(paths))
            from gui.charts.render import render_surface

            render_surface(
                surface,
                paths,
                chart_path(out, "surface", formats),
                grid=grid,
                log=log,
                notebook=settings.notebook_markers,
                formats=formats,
            )
            if tuned is not None:
                write_tuning(out, tuned.trials, tuned.best, tuned.criterion, formats, starts=len(starts))
            if animation is not None:
                from gui.cli.animate import animate_surface

                animate_surface(surface, paths, steps, animation, grid, log, settings.notebook_markers, args.map_only)
    except UserError as err:
        raise source.name(err) from None
    for p in paths:
        end = ", ".join(f"{v:.4g}" for v in p.points[-1])
        state = p.ending() or f"f = {p.losses[-1]:.6g}"
        print(f"{p.optimizer:>9} from start {p.start_index}: ends at ({end}), {state}")
    print(f"wrote paths.json, paths.csv, {chart_files(['surface'], formats)}, experiment.json to {out.out}")
    return 0
