"""`compare`'s sweep options: --sample, --grid-fields, --backend, --ray-address, --store, --no-store, --resume.

``run_sweep`` trains the planned runs on the chosen backend with a progress bar (runs done out of total, the
rate, the time left), writes each finished run to the run store as it finishes, and with ``--resume`` takes
runs already stored with the same configuration and seed from the store instead of training them again (and
lists them in the new sweep too).

The store never blocks a comparison: ``check_sweep_options`` opens it before any data is loaded. When it
cannot be opened, ``--store``/``--resume`` end with ``error: --store: …``; without them the comparison trains
unstored after a one-line warning.
"""

from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import UserError
from engine.jobs import Token
from engine.sweep.executors import BACKENDS, RAY_INSTALL, check_reachable, sweep_job
from engine.sweep.grid import parse_grid_fields
from engine.sweep.store import RunStore, config_hash, default_store_path
from engine.training.compare import RunResult
from gui.cli.driver import drive, progress
from gui.cli.flags import named


def add_sweep_options(p) -> None:
    """Add the sweep options to ``compare``'s parser; returns nothing."""
    p.add_argument(
        "--sample",
        default=None,
        metavar="N",
        help="train a random subset of N combinations of the grid (each with every seed), drawn from --seed",
    )
    p.add_argument(
        "--grid-fields",
        default=None,
        metavar="ROWS,COLS",
        help="the two varied fields of the small multiples (grid.png); default: the first two",
    )
    p.add_argument("--backend", default="local", help="where runs train: local (this process, default) or ray")
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="the Ray cluster for --backend ray: auto (the running one) or host:port; none starts a local Ray",
    )
    p.add_argument(
        "--store",
        default=None,
        metavar="PATH",
        help=f"the run store (SQLite) every finished run goes into; default {default_store_path()}",
    )
    p.add_argument(
        "--no-store",
        action="store_true",
        help="do not write the runs into the run store (History and `runs` will not list them)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip runs already in the store with the same configuration and seed (their stored results count)",
    )


def sample_count(args, spec=None, source=None) -> int:
    """Return --sample as a count of combinations (else the file's ``spec.sample``, else 0: the whole grid);
    raise UserError naming --sample."""
    if args.sample is None:
        return spec.sample if spec is not None else 0
    if source is not None:
        source.type("sample")
    try:
        n = int(args.sample)
    except ValueError:
        raise named(UserError(f"{args.sample!r} is not a whole number"), "--sample") from None
    if n < 1:
        raise named(UserError(f"{n} must be at least 1"), "--sample")
    return n


def check_sweep_options(args, names: list[str]) -> tuple[str, str] | None:
    """Check the backend and grid options before any work; return the small multiples' two fields (or None)."""
    if args.backend not in BACKENDS:
        raise named(UserError(f"{args.backend!r} is not a backend ({', '.join(BACKENDS)})"), "--backend")
    if args.ray_address is not None and args.backend != "ray":
        raise named(UserError("needs --backend ray"), "--ray-address")
    if args.backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise named(UserError(RAY_INSTALL), "--backend") from None
        address = args.ray_address
        if address is not None and address != "auto" and not address.startswith("ray://"):
            try:
                check_reachable(address)  # before any data is loaded: Ray would retry for minutes
            except UserError as err:
                raise named(err, "--ray-address") from None
    check_store(args)
    if args.grid_fields is not None:
        try:
            return parse_grid_fields(args.grid_fields, names)
        except UserError as err:
            raise named(err, "--grid-fields") from None
    return (names[0], names[1]) if len(names) >= 2 else None


def store_path(args) -> Path:
    """Return the run store's path: --store, else the default (``$DESCENT_LAB_STORE``, else the user's data folder)."""
    if args.store is not None:
        if not args.store.strip():
            raise named(UserError("the file name is empty"), "--store")
        return Path(args.store)
    return default_store_path()


def check_store(args) -> None:
    """Open the run store once before any work (returns nothing). A store that cannot be opened is an error
    (``--store``) when --store or --resume named it; otherwise it is warned about and ``args.no_store`` set."""
    if args.no_store:
        for flag, given in (("--store", args.store is not None), ("--resume", args.resume)):
            if given:
                raise named(UserError("needs the run store: drop --no-store"), flag)
        return
    try:
        RunStore(store_path(args)).close()
    except UserError as err:
        if args.store is not None or args.resume:
            raise named(err, "--store") from None
        print(f"warning: these runs will not be stored ({err.message}); --no-store silences this", file=sys.stderr)
        args.no_store = True


def run_sweep(args, comparison, planned: list, spec: dict, cache: dict) -> list[RunResult]:
    """Train ``planned`` on --backend, storing each run as it ends; return every run's result in plan order.

    With --resume, runs stored with the same configuration hash are read back instead of trained (and listed
    in this sweep). Raises KeyboardInterrupt after Ctrl+C (the runs finished by then are stored); failed runs
    are warned about, and raise UserError only when no run is left to show.
    """
    results: dict[int, RunResult] = {}
    if args.no_store:
        snap = _train(args, comparison, planned, list(range(len(planned))), None, None, results, cache)
        return _finish(snap, planned, results)
    try:
        store = RunStore(store_path(args))
    except UserError as err:
        raise named(err, "--store") from None
    with store:
        reused = _reuse(store, planned, results) if args.resume else []
        todo = [i for i in range(len(planned)) if i not in results]
        if args.resume:
            print(f"resume: {len(results)} of {len(planned)} runs already stored in {store.path}", file=sys.stderr)
        earlier = [s for s in store.sweeps() if s.spec == spec] if args.resume else []  # resume continues it
        sweep_id = earlier[-1].id if earlier else store.begin_sweep(spec, args.backend, len(planned))
        store.link_runs(sweep_id, reused)  # a new sweep lists the runs it took from earlier ones
        status = "stopped"
        snap = None
        try:
            if todo:
                snap = _train(args, comparison, planned, todo, store, sweep_id, results, cache)
            status = "failed" if snap is not None and snap.failed else "finished"
        finally:
            store.end_sweep(sweep_id, status)
    return _finish(snap, planned, results)


def _reuse(store: RunStore, planned: list, results: dict) -> list[int]:
    """Put the runs stored with a planned run's configuration into ``results``; return their store ids."""
    stored = store.stored_hashes()
    ids = []
    for i, (label, seed, cfg) in enumerate(planned):
        hit = stored.get(config_hash(cfg))
        if hit is not None:
            res = hit.result
            results[i] = RunResult(label, seed, cfg, res.history, res.path, res.seconds, res.diverged_at)
            ids.append(hit.id)
    return ids


def _finish(snap, planned: list, results: dict) -> list[RunResult]:
    """Warn about failed runs (raise UserError when none is left to show); return the results in plan order."""
    if snap is not None and snap.failed:
        for line in snap.errors:
            print(f"warning: {line}", file=sys.stderr)
        retry = f"{snap.failed} of {len(planned)} runs failed; run again with --resume to retry only those"
        if not results:
            raise UserError(retry)
        print(f"warning: {retry} (the outputs hold the other {len(results)})", file=sys.stderr)
    return [results[i] for i in sorted(results)]


def _train(args, comparison, planned, todo, store, sweep_id, results, cache):
    """Drive the sweep job over the runs ``todo`` with a progress bar; return its last snapshot."""
    subset = [planned[i] for i in todo]
    token = Token()

    def keep(k: int, result: RunResult) -> None:
        """Store one finished run at once (without --no-store) and keep it; returns nothing."""
        if store is not None:
            store.add_run(sweep_id, result, args.backend)
        results[todo[k]] = result

    last = []
    with progress(len(subset), "compare", "run") as bar:

        def advance(snap) -> None:
            """Move the bar to the runs done (fractions of runs from epochs, locally); returns nothing."""
            last[:] = [snap]
            bar.set_postfix_str(f"running {snap.running}, failed {snap.failed}", refresh=False)
            at = snap.done
            if args.backend == "local" and snap.epochs_total:
                at = max(at, round(snap.epochs_done / snap.epochs_total * snap.total, 2))
            bar.update(at - bar.n)

        job = sweep_job(comparison, subset, token, args.backend, keep, cache, args.ray_address)
        try:
            drive(job, token, advance)
        except UserError as err:
            if err.field == "store":  # a write failed (disk full, locked): the runs stored so far are kept
                raise named(err, "--store") from None
            raise named(err, "--ray-address" if err.field == "ray_address" else "--backend") from None
    return last[0] if last else None


def grid_cells(results: list[RunResult], names: list[str], pair: tuple[str, str], key: str, colour) -> tuple:
    """Return (cells, rows, cols) of the small multiples over ``pair``: in each cell one curve (mean over
    seeds) per combination of the other varied fields, coloured by ``colour(k)`` in a fixed order."""
    from engine.sweep.grid import grid_curves

    curves, rows, cols = grid_curves(results, names, pair, key)
    cells = {
        cell: [
            {
                "name": name,
                "x": c.epochs,
                "y": c.mean,
                "colour": colour(k),
                "band": (c.low, c.high) if c.low is not None else None,
            }
            for k, name, c in items
        ]
        for cell, items in curves.items()
    }
    return cells, rows, cols
