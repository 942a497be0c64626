"""Where a sweep's runs train: in this process (``local``), or as tasks on a Ray cluster (``ray``).

Both cut the planned runs into the same batched run groups (``plan_groups``: runs sharing data, seed and
architecture train together), so the same seed gives the same numbers on both. ``sweep_job`` is a job
generator: it yields a ``SweepSnapshot`` whenever something changes, hands every finished run to
``on_finished`` at once (the run store writes it then), and returns the finished runs by plan index.

Ray is optional. The scheduler, the queue, the retries and the transport are all Ray's: a task is a plain
function; a failed task or a dead worker is retried by Ray (``max_retries``, ``retry_exceptions``) and counted
as failed here only when Ray gives up.
"""

from __future__ import annotations

import os
import queue
import socket
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Generator

from engine.errors import UserError
from engine.jobs import Token, run_job
from engine.sweep.grid import Planned, subset
from engine.training.compare import Comparison, RunResult, plan_groups

BACKENDS = ("local", "ray")
RAY_INSTALL = 'Ray is not installed: pip install -e ".[cluster]"'
TASK_RETRIES = 3
CONNECT_S = 5.0  # how long an explicit --ray-address may take to accept a connection
WAIT_S = 0.2  # how often a Ray sweep looks at the stop token while tasks run
_joined: dict = {}  # the address this process's Ray connection was made with
_keeper: dict = {"thread": None, "calls": queue.Queue()}  # the thread that starts and stops Ray: in_ray_keeper
_keeper_lock = threading.Lock()


@dataclass
class SweepSnapshot:
    """Where a sweep stands: runs done, running and failed out of the total, and the runs finished so far."""

    total: int
    done: int = 0
    running: int = 0
    failed: int = 0
    epochs_done: int = 0  # local backend only: epochs trained, summed over runs (0 on Ray until a task ends)
    epochs_total: int = 0
    results: dict[int, RunResult] = field(default_factory=dict)  # plan index -> finished run
    partial: dict[int, RunResult] = field(default_factory=dict)  # local backend: the runs training now, so far
    errors: list[str] = field(default_factory=list)  # one line per failed task
    notice: str = ""  # a line for the user that does not stop the sweep (e.g. the runs are not being stored)

    def runs(self) -> list[RunResult]:
        """Return the finished runs and those still training (so far), in plan order."""
        both = {**self.partial, **self.results}
        return [both[i] for i in sorted(both)]


def finished(result: RunResult) -> bool:
    """Return whether a run trained to its last epoch (or diverged): partial runs of a stop are not stored."""
    if result.diverged_at is not None:
        return True
    return bool(result.history) and result.history[-1].epoch >= result.config.epochs


def task_groups(planned: list[Planned]) -> list[list[int]]:
    """Return the plan indices of each task: one batched run group each (see plan_groups)."""
    return plan_groups(planned)


def train_group(comparison: Comparison, planned: list[Planned], threads: int | None = None) -> list[RunResult]:
    """Train ``planned`` (one task) to the end in this process; return its results in order.

    This is the Ray task's body. ``threads`` sets torch's threads first (one per CPU Ray gave the task).
    """
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    from engine.training.jobs import comparison_job

    return run_job(comparison_job(subset(comparison, planned), Token(), {}))


def sweep_job(
    comparison: Comparison,
    planned: list[Planned],
    token: Token,
    backend: str = "local",
    on_finished: Callable[[int, RunResult], None] | None = None,
    data_cache: dict | None = None,
    ray_address: str | None = None,
) -> Generator[SweepSnapshot, None, dict[int, RunResult]]:
    """Train every planned run on ``backend``; return {plan index: finished run}. Stops at ``token``'s stop."""
    if backend == "local":
        return (yield from _local(comparison, planned, token, on_finished, data_cache))
    if backend == "ray":
        return (yield from _ray(comparison, planned, token, on_finished, ray_address))
    raise UserError(f"{backend!r} is not a backend ({', '.join(BACKENDS)})", "backend")


def _local(comparison, planned, token, on_finished, data_cache):
    """The local backend: the ordinary comparison loop, run groups batched, in this process."""
    from engine.training.jobs import comparison_steps

    snap = SweepSnapshot(len(planned), epochs_total=sum(cfg.epochs for _, _, cfg in planned))
    steps = comparison_steps(subset(comparison, planned), token, data_cache)
    while True:
        try:
            progress, items, over = next(steps)
        except StopIteration:
            break
        snap.epochs_done = progress.done
        snap.running = 0 if over else len(items)
        # a group's end: its runs are finished, or stopped part-way (kept as partial: shown, never stored)
        snap.partial = {i: r for i, r in items if not (over and finished(r))}
        if over:
            for i, result in items:
                if finished(result):
                    snap.results[i] = result
                    snap.done += 1
                    if on_finished is not None:
                        on_finished(i, result)
        yield snap
    return snap.results


def import_ray():
    """Return the ray module; raise UserError naming ``backend`` with how to install it when it is missing."""
    try:
        import ray
    except ImportError:
        raise UserError(RAY_INSTALL, "backend") from None
    return ray


def connect_ray(address: str | None):
    """Join the Ray cluster at ``address`` (``auto``: the running one; None: start a local Ray); return ray.

    The engine package travels with the job (``py_modules``), so a cluster needs only Python, torch and the
    other dependencies installed, not this repository. A local Ray serves every sweep of the process (the
    window's too) until ``shutdown_ray`` or a sweep to another address; a joined cluster is left after each
    sweep (see ``_ray``).
    """
    ray = import_ray()
    return in_ray_keeper(lambda: _connect(ray, address))


def _connect(ray, address: str | None):
    if ray.is_initialized():
        if _joined.get("address", address) == address:
            return ray
        ray.shutdown()  # the window's next sweep goes to another cluster
        _joined.clear()
    import engine

    env = {"py_modules": [os.path.dirname(engine.__file__)]}
    if address not in (None, "auto") and not address.startswith("ray://"):
        check_reachable(address)  # Ray itself retries an unreachable address for minutes
    try:
        if address is None:
            ray.init(runtime_env=env, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        else:
            ray.init(address=address, runtime_env=env, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise UserError(f"cannot reach a Ray cluster at {address}: {err}", "ray_address") from None
    _joined["address"] = address
    return ray


def shutdown_ray() -> None:
    """End this process's Ray connection, and the local Ray it started if any; returns nothing.

    Does nothing (and imports nothing) when this process never started Ray.
    """
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        in_ray_keeper(lambda: (ray.shutdown(), _joined.clear()))


def in_ray_keeper(call: Callable[[], Any]) -> Any:
    """Run ``call()`` in the Ray keeper thread and return its result (or raise what it raised).

    Why a thread of its own: Ray starts a local head's processes (GCS, raylet) with Linux's PR_SET_PDEATHSIG,
    which fires when the *thread* that started them ends, not the process. Started from a sweep's worker thread
    (the window's JobRunner), they died with that job, and about 60 s later Ray's client aborted the whole
    process ("Failed to connect to GCS within 60 seconds"). The keeper is a daemon thread that lives as long
    as the process and does all of Ray's starting and stopping.
    """
    with _keeper_lock:
        if _keeper["thread"] is None:
            _keeper["thread"] = threading.Thread(target=_keep_ray, name="ray-keeper", daemon=True)
            _keeper["thread"].start()
    if threading.current_thread() is _keeper["thread"]:
        return call()
    future: Future = Future()
    _keeper["calls"].put((call, future))
    return future.result()


def _keep_ray() -> None:
    while True:
        call, future = _keeper["calls"].get()
        try:
            future.set_result(call())
        except BaseException as err:  # noqa: BLE001 — handed to the caller's thread, raised there
            future.set_exception(err)


def check_reachable(address: str, timeout: float = CONNECT_S) -> None:
    """Raise UserError naming ``ray_address`` unless a TCP connection to host:port opens within ``timeout``;
    returns nothing."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(f"{address!r} is not auto or host:port (e.g. 10.0.0.5:6379)", "ray_address")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise UserError(f"cannot reach a Ray cluster at {address}: {err.strerror or err}", "ray_address") from None


def _ray(comparison, planned, token, on_finished, address):
    """The Ray backend: one task per run group; results come back as each task ends (ray.wait).

    A local Ray (no address) stays up for the next sweep until ``shutdown_ray`` (the app's exit). A joined
    cluster is left when the sweep ends: it may go away between sweeps (``ray stop``, a lost machine), and Ray's
    client aborts the whole process once the cluster's GCS stays unreachable (60 s), sweep or not.
    """
    ray = connect_ray(address)
    try:
        return (yield from _ray_tasks(ray, comparison, planned, token, on_finished))
    finally:
        if address is not None:
            shutdown_ray()


def _ray_tasks(ray, comparison, planned, token, on_finished):
    remote = ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=True)(train_group)
    snap = SweepSnapshot(len(planned), epochs_total=sum(cfg.epochs for _, _, cfg in planned))
    tasks = {}
    for members in task_groups(planned):
        ref = remote.remote(comparison, [planned[i] for i in members], 1)
        tasks[ref] = members
    snap.running = len(planned)
    yield snap
    pending = list(tasks)
    while pending:
        if token.stopped:
            for ref in pending:
                ray.cancel(ref, force=True)
            break
        ready, pending = ray.wait(pending, num_returns=1, timeout=WAIT_S)
        if not ready:
            continue
        for ref in ready:
            members = tasks[ref]
            snap.running -= len(members)
            try:
                results = ray.get(ref)
            except Exception as err:  # noqa: BLE001 — Ray gave up on this task after its retries
                snap.failed += len(members)
                snap.errors.append(f"{len(members)} runs failed after {TASK_RETRIES} retries: {_one_line(err)}")
                continue
            for i, result in zip(members, results):
                snap.results[i] = result
                snap.done += 1
                snap.epochs_done += result.config.epochs
                if on_finished is not None:
                    on_finished(i, result)
        yield snap
    return snap.results


def _one_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[-1] if text else ''}"
