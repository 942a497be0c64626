"""A sweep as one job that also keeps its runs: trained on a backend, each finished run written to the run store.

The window runs this job (the command line drives ``sweep_job`` itself, with its own --resume and progress bar).
"""

from __future__ import annotations

from pathlib import Path
from typing import Generator

from engine.jobs import Token
from engine.sweep.executors import SweepSnapshot, sweep_job
from engine.sweep.store import RunStore
from engine.training.compare import Comparison, RunResult


def stored_sweep_job(
    comparison: Comparison,
    spec: dict,
    token: Token,
    store_path: str | Path,
    backend: str = "local",
    ray_address: str | None = None,
) -> Generator[SweepSnapshot, None, list[RunResult]]:
    """Train every run of ``comparison`` on ``backend``, storing each as it finishes under a new sweep holding
    ``spec`` (the comparison's settings as JSON); yield SweepSnapshots; return the runs in plan order.

    A stop (the token) ends it early: the runs finished by then are stored, the sweep is marked stopped, and the
    runs stopped part-way are returned too (to be shown), never stored.
    """
    planned = comparison.runs()
    with RunStore(store_path) as store:
        sweep_id = store.begin_sweep(spec, backend, len(planned))
        status, last = "stopped", None
        try:
            job = sweep_job(
                comparison,
                planned,
                token,
                backend,
                lambda _i, result: store.add_run(sweep_id, result, backend),
                ray_address=ray_address,
            )
            for last in job:
                yield last
            if not token.stopped:
                status = "failed" if last is not None and last.failed else "finished"
        finally:
            store.end_sweep(sweep_id, status)
    return last.runs() if last is not None else []
