"""`main.py runs list|show|export`: the run store read back.

``list`` lists the sweeps (or, with ``--sweep ID``, one sweep's runs); ``show ID`` prints one run (its
configuration and history); ``export`` writes a CSV (one row per run and epoch, of a sweep or of every run),
or the experiment JSON of one run (``--run ID``, the training tab) or of a sweep (``--sweep ID``, the
comparison tab with every stored run), which the window opens with its charts.

The store is opened read-only: reading never writes to it, so it reads while a sweep writes, or from a
read-only folder. The CSV has the columns of `compare`'s runs.csv (``lr`` the run's configured rate,
``epoch_lr`` the epoch's), with ``run`` (the store's id), ``sweep`` and ``backend`` in front.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from engine.errors import UserError
from engine.sweep.reopen import run_experiment, sweep_experiment
from engine.sweep.store import RunStore, RunSummary, StoredRun
from engine.training.compare import tidy_table
from engine.training.records import HISTORY_COLUMNS
from gui.cli.flags import named
from gui.cli.sweep_run import store_path


def add_parser(sub) -> None:
    """Register the `runs` sub-command with list, show and export; returns nothing."""
    p = sub.add_parser(
        "runs",
        help="list, show and export the runs in the run store",
        description="Read back the run store that every `compare` writes each finished run into.",
    )
    actions = p.add_subparsers(dest="action", parser_class=type(p), metavar="{list,show,export}")
    actions.required = True
    lst = actions.add_parser("list", help="list the sweeps, or one sweep's runs")
    lst.add_argument("--sweep", default=None, metavar="ID", help="list this sweep's runs")
    show = actions.add_parser("show", help="print one run: configuration and history")
    show.add_argument("run", metavar="RUN_ID", help="the run's id (see `runs list --sweep ID`)")
    exp = actions.add_parser("export", help="write runs as CSV, or a run or sweep as experiment JSON")
    which = exp.add_mutually_exclusive_group()
    which.add_argument("--run", default=None, metavar="ID", help="one run (JSON: an experiment on the training tab)")
    which.add_argument("--sweep", default=None, metavar="ID", help="one sweep (JSON: the comparison tab)")
    exp.add_argument("--out", required=True, metavar="PATH", help="the file to write (.csv or .json)")
    exp.add_argument("--format", default=None, choices=("csv", "json"), help="default: from --out's extension")
    for q in (lst, show, exp):
        q.add_argument("--store", default=None, metavar="PATH", help="the run store (default: the user's one)")
    p.set_defaults(handler=run_runs)


def _id(text: str | None, flag: str) -> int | None:
    """Return an id typed as text (None stays None); raise UserError naming ``flag``."""
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise named(UserError(f"{text!r} is not an id (a whole number)"), flag) from None
    return value


def run_runs(args) -> int:
    """Run `runs list|show|export`; return 0."""
    path = store_path(args)
    if not path.is_file():
        raise named(UserError(f"no run store at {path} (run `compare` first, or name one)"), "--store")
    try:
        with RunStore(path, read_only=True) as store:
            if args.action == "list":
                sweep = _id(args.sweep, "--sweep")
                print(_runs_text(store.summaries(store.sweep(sweep).id)) if sweep is not None else _sweeps_text(store))
            elif args.action == "show":
                print(_show_text(store.run(_id(args.run, "RUN_ID"))))
            else:
                _export(args, store)
    except UserError as err:
        if getattr(err, "flag", None) is None and err.field in ("run", "sweep", "store"):
            named(err, "RUN_ID" if args.action == "show" and err.field == "run" else f"--{err.field}")
        raise
    return 0


def _when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else "-"


def _num(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-" if value is None else str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _sweeps_text(store: RunStore) -> str:
    """Return the table of every sweep: id, start, backend, status, runs stored of planned, varied fields."""
    sweeps = store.sweeps()
    if not sweeps:
        return f"no sweeps in {store.path}"
    lines = [f"{'sweep':>5}  {'started':16}  {'backend':7}  {'status':8}  {'runs':>9}  varied"]
    for s in sweeps:
        runs = f"{s.stored}/{s.planned}"
        lines.append(f"{s.id:>5}  {_when(s.created):16}  {s.backend:7}  {s.status:8}  {runs:>9}  {s.varied()}")
    return "\n".join(lines)


def _runs_text(runs: list[RunSummary]) -> str:
    """Return the table of a sweep's runs: id, the sweep that trained it, seed, final loss, seconds, backend."""
    if not runs:
        return "no runs stored"
    lines = [f"{'run':>5}  {'sweep':>5}  {'seed':>6}  {'final loss':>10}  {'seconds':>8}  {'backend':7}  run"]
    for r in runs:
        loss = "diverged" if r.diverged_at is not None else _num(r.final_loss)
        lines.append(
            f"{r.id:>5}  {r.trained_in:>5}  {r.seed:>6}  {loss:>10}  {r.seconds:>8.3g}  {r.backend:7}  {r.name}"
        )
    return "\n".join(lines)


def _show_text(r: StoredRun) -> str:
    """Return one run: its label, sweep, backend, timing, configuration (JSON) and history table."""
    res = r.result
    head = [
        f"run {r.id} of sweep {r.sweep_id}: {res.name}, seed {res.seed}",
        f"backend {r.backend}; {res.path}; {res.seconds:.3g} s; finished {_when(r.finished)}",
        f"configuration hash {r.config_hash[:16]}",
    ]
    if res.diverged_at is not None:
        head.append(f"diverged at epoch {res.diverged_at}")
    config = json.dumps(res.config.to_dict(), indent=1, default=str)
    table = ["  ".join(f"{c:>10}" for c in HISTORY_COLUMNS)]
    for h in res.history:
        table.append("  ".join(f"{_num(v):>10}" for v in h.row()))
    return "\n".join([*head, "configuration:", config, "history:", *table])


def _export(args, store: RunStore) -> None:
    """Write the CSV or the experiment JSON that `runs export` asks for; returns nothing."""
    from engine.experiment import save_experiment
    from engine.io import write_csv

    fmt = args.format or {".csv": "csv", ".json": "json"}.get(Path(args.out).suffix.lower())
    if fmt is None:
        raise named(UserError(f"{args.out!r} ends in neither .csv nor .json: give --format"), "--out")
    run_id, sweep_id = _id(args.run, "--run"), _id(args.sweep, "--sweep")
    if fmt == "json":
        if run_id is None and sweep_id is None:
            raise named(
                UserError("the experiment JSON is of one run or one sweep: give --run ID or --sweep ID"), "--out"
            )
        exp = run_experiment(store.run(run_id)) if run_id is not None else sweep_experiment(store, sweep_id)
    else:
        runs = [store.run(run_id)] if run_id is not None else store.runs(store.sweep(sweep_id).id if sweep_id else None)
        header, rows = export_table(runs)
    try:
        written = save_experiment(exp, args.out) if fmt == "json" else write_csv(header, rows, args.out)
    except OSError as err:
        raise named(UserError(f"cannot write {args.out}: {err.strerror or err}"), "--out") from None
    except UserError as err:  # engine.io's atomic writes: 'cannot write PATH: why'
        raise named(UserError(err.message), "--out") from None
    print(f"wrote {written}")


def export_table(runs: list[StoredRun]) -> tuple[list[str], list[list]]:
    """Return (header, rows) of the export CSV: runs.csv's table (engine.training.compare.tidy_table) with the
    store's run id, the sweep that trained it and the backend in front."""
    varied = list(dict.fromkeys(k for r in runs for k in r.result.label))
    header, rows = tidy_table([r.result for r in runs], varied)
    return ["run", "sweep", "backend", *header[1:]], [
        [runs[row[0]].id, runs[row[0]].sweep_id, runs[row[0]].backend, *row[1:]] for row in rows
    ]
