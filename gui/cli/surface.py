"""`main.py surface`: optimizer paths on a loss surface, written as JSON, CSV and a PNG."""

from __future__ import annotations

from engine.errors import UserError
from engine.io import Staged, write_csv, write_json
from engine.optimizers import OPTIMIZERS
from engine.schedulers import SCHEDULERS
from engine.surface.functions import get_surface, parse_domain, surface_ids
from engine.surface.paths import PathSpec, compute_paths, parse_point


def add_parser(sub) -> None:
    """Register the `surface` sub-command."""
    p = sub.add_parser(
        "surface",
        help="optimizer paths on a 1-D or 2-D loss surface",
        description="Run optimizers on a loss surface and write paths.json, paths.csv and surface.png.",
    )
    p.add_argument(
        "--function",
        default="peaks",
        help=f"built-in ({', '.join(surface_ids())}) or a formula in x[, y], e.g. 'x*sin(x**2)'",
    )
    p.add_argument(
        "--start",
        action="append",
        default=[],
        metavar="X[,Y]",
        help="start point (repeat for several); default: the function's suggested start",
    )
    p.add_argument("--optimizers", default="sgd", help=f"comma-separated ids: {', '.join(OPTIMIZERS.ids())}")
    p.add_argument("--lr", type=str, default=None, help="learning rate for every optimizer (else each one's default)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="[OPT.]NAME=VALUE",
        help="a hyperparameter, for one optimizer (adam.beta1=0.8) or all that have it (momentum=0.5)",
    )
    p.add_argument("--scheduler", default="none", help=f"one of {', '.join(SCHEDULERS.ids())}")
    p.add_argument("--sched-set", action="append", default=[], metavar="NAME=VALUE", help="a scheduler parameter")
    p.add_argument("--steps", type=str, default="50", help="number of optimizer steps (default 50)")
    p.add_argument("--domain", default=None, metavar="XMIN,XMAX[,YMIN,YMAX]", help="drawing and divergence domain")
    p.add_argument("--grid", type=str, default="300", help="contour grid points per axis (default 300)")
    p.add_argument("--log", action="store_true", help="log-scale colours")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(handler=run)


def _int(text: str, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"--{name} must be a whole number, not {text!r}") from None
    if not low <= value <= high:
        raise UserError(f"--{name} must be between {low} and {high}, not {value}")
    return value


def optimizer_specs(ids_text: str, lr: str | None, sets: list[tuple[str, str]]) -> list[PathSpec]:
    """Return validated PathSpecs from '--optimizers', '--lr' and '--set' values."""
    ids = [i.strip() for i in ids_text.split(",") if i.strip()]
    if not ids:
        raise UserError("--optimizers is empty")
    for i in ids:
        OPTIMIZERS.get(i)
    targeted = {key.split(".", 1)[0] for key, _ in sets if "." in key}
    for t in targeted:
        if t not in ids:
            raise UserError(f"--set names optimizer '{t}', which is not in --optimizers ({', '.join(ids)})")
    specs = []
    for i in ids:
        entry = OPTIMIZERS.get(i)
        values = {}
        if lr is not None:
            values["lr"] = lr
        for key, value in sets:
            if "." in key:
                target, name = key.split(".", 1)
                if target == i:
                    entry.param(name)
                    values[name] = value
            elif any(p.name == key for p in entry.params):
                values[key] = value
            elif not any(any(p.name == key for p in OPTIMIZERS.get(j).params) for j in ids):
                raise UserError(f"--set {key}: none of {', '.join(ids)} has a parameter '{key}'")
        specs.append(PathSpec(i, entry.resolve(values)))
    return specs


def run(args) -> int:
    """Compute the paths and write paths.json, paths.csv and surface.png into --out."""
    from gui.cli import parse_assignments

    domain = parse_domain(args.domain) if args.domain else None
    surface = get_surface(args.function.strip(), domain)
    starts = [parse_point(s, surface.dims) for s in args.start] or [surface.default_start]
    steps = _int(args.steps, "steps", 1, 100_000)
    grid = _int(args.grid, "grid", 20, 2000)
    specs = optimizer_specs(args.optimizers, args.lr, parse_assignments(args.set, "--set"))
    sched_params = dict(parse_assignments(args.sched_set, "--sched-set"))
    paths = compute_paths(surface, specs, starts, steps, args.scheduler, sched_params)
    with Staged(args.out) as out:
        write_json(
            {
                "function": surface.id if surface.id != "formula" else surface.formula,
                "formula": surface.formula or None,
                "dims": surface.dims,
                "domain": [list(d) for d in surface.domain],
                "minima": [{"point": list(m.point), "value": m.value, "kind": m.kind} for m in surface.minima],
                "scheduler": {"id": args.scheduler, "params": sched_params},
                "steps": steps,
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
        from gui.charts.render import render_surface

        render_surface(surface, paths, out.path("surface.png"), grid=grid, log=args.log or None)
    for p in paths:
        end = ", ".join(f"{v:.4g}" for v in p.points[-1])
        state = f"diverged at step {p.diverged_at}" if p.diverged_at is not None else f"f = {p.losses[-1]:.6g}"
        print(f"{p.optimizer:>9} from start {p.start_index}: ends at ({end}), {state}")
    print(f"wrote paths.json, paths.csv, surface.png to {out.out}")
    return 0
