"""A sweep as one job that also keeps its runs: trained on a backend, each finished run written to the run store.

The window runs this job (the command line drives ``sweep_job`` itself, with its own --resume and progress bar).
"""

from __future__ import annotations

from pathlib import Path
from typing import Generator

from engine.errors import UserError
from engine.jobs import Token
from engine.sweep.executors import SweepSnapshot, sweep_job
from engine.sweep.store import RunStore
from engine.training.compare import Comparison, RunResult


def stored_sweep_job(
    comparison: Comparison,
    spec: dict,
    token: Token,
    store_path: str | Path | None,
    backend: str = "local",
    ray_address: str | None = None,
) -> Generator[SweepSnapshot, None, list[RunResult]]:
    """Train every run of ``comparison`` on ``backend``, storing each as it finishes under a new sweep holding
    ``spec`` (the comparison's settings as JSON); yield SweepSnapshots; return the runs in plan order.

    The store never blocks the comparison: when it cannot be opened (a read-only data folder, a damaged file)
    or a write fails (disk full), the runs train on unstored and every snapshot's ``notice`` says why.
    ``store_path`` None trains without storing. A stop (the token) ends it early: the runs finished by then are
    stored, the sweep is marked stopped, and the runs stopped part-way are returned too (to be shown), never
    stored.
    """
    planned = comparison.runs()
    store, sweep_id, notice = None, None, ""
    if store_path is not None:
        try:
            store = RunStore(store_path)
            sweep_id = store.begin_sweep(spec, backend, len(planned))
        except UserError as err:
            notice = f"runs not stored: {err.message}"
            if store is not None:
                store.close()
            store = None

    def keep(_i: int, result: RunResult) -> None:
        """Store one finished run; after a failed write, note it and store no more; returns nothing."""
        nonlocal store, notice
        if store is None:
            return
        try:
            store.add_run(sweep_id, result, backend)
        except UserError as err:
            notice = f"runs no longer stored: {err.message}"
            store.close()
            store = None

    status, last = "stopped", None
    try:
        job = sweep_job(comparison, planned, token, backend, keep, ray_address=ray_address)
        for last in job:
            last.notice = notice
            yield last
        if not token.stopped:
            status = "failed" if last is not None and last.failed else "finished"
    finally:
        if store is not None:
            try:
                store.end_sweep(sweep_id, status)
            except UserError:
                pass  # the runs are stored; only the sweep's end mark is missing
            store.close()
    return last.runs() if last is not None else []
