"""Training and comparisons as jobs (see engine/jobs.py): generators that yield snapshots and obey a Token.

``prepare_job`` loads the data and builds a Trainer, ``train_job`` trains it, ``comparison_job`` runs a
comparison. Whoever drives them (the window's worker thread, a plain ``for`` loop) reads the snapshots;
the training loop itself is RunGroup.iter_epoch, the one loop the callback API (Trainer.run) uses too.
Snapshots share the trainer's history lists instead of copying them: a history only grows, so a reader
takes ``history[:records]``.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

from engine.jobs import run_job
from engine.threads import available_cores, threads_for_configs, use_threads
from engine.training.backends import Interrupted, spread
from engine.training.compare import Comparison, RunResult, plan_groups
from engine.training.config import TrainConfig
from engine.training.landscape_eval import record_path
from engine.training.trainer import RunGroup, Trainer
from engine.training.visuals import DECISION_GRID, GRID_SAMPLES, Visuals, refresh_visuals, training_visuals

VISUALS_EVERY_S = 0.3  # while training, the decision regions are recomputed at most this often
# ... and a confusion matrix (with test images) at most this often: it evaluates the whole test split (6 ms for
# Fashion-MNIST's 10,000 images) and the window takes ~15 ms to draw and paint its 172 labels
MATRIX_EVERY_S = 1.0
RATE_EVERY_S = 0.1  # samples_per_s is measured over at least this long
# The landscape's weight path keeps every epoch only up to landscape_eval.MAX_PATH_POINTS (then every 2nd, 4th …),
# but copying the weights out costs ~20-50 µs, ~5-8 % of a spiral epoch on the numba kernel (~0.6 ms). So an epoch
# the path will not keep is recorded only as the path's newest weights when a snapshot reports it, at the job's
# end, or when this much training time has passed since the last recording: the newest lags at most this.
PATH_NEWEST_EVERY_S = 0.01

__all__ = [  # the side panel's pictures live in engine/training/visuals.py; importing them from here still works
    "DECISION_GRID",
    "GRID_SAMPLES",
    "ComparisonSnapshot",
    "Pace",
    "TrainingSnapshot",
    "Visuals",
    "comparison_job",
    "comparison_steps",
    "job_threads",
    "prepare_job",
    "train_job",
    "training_visuals",
]


@dataclass
class TrainingSnapshot:
    """Where a training job stands; ``history`` is the trainer's own list (read ``history[:records]``)."""

    status: str  # "loading" | "ready" | "running"
    epoch: int
    epochs: int
    batch: int
    batches: int
    history: list
    records: int
    samples_per_s: float
    elapsed: float
    device: str
    path: str
    data_summary: str
    diverged_at: int | None
    visuals: Visuals | None
    weight_path: object = None  # landscape_eval.WeightPath: the weights after every epoch (None: not recorded)


@dataclass
class ComparisonSnapshot:
    """Where a comparison job stands."""

    done: int  # epochs done, summed over runs
    total: int  # epochs in total, summed over runs
    runs: list  # RunResult of every run started so far, in run order (partial ones still training)
    finished: int  # runs that have ended


def _snapshot(trainer: Trainer, status: str, rate: float = 0.0) -> TrainingSnapshot:
    history = trainer.history
    device, path, summary = _labels(trainer)
    return TrainingSnapshot(
        status,
        trainer.epoch,
        trainer.config.epochs,
        trainer.batch_in_epoch,
        trainer.batches_per_epoch,
        history,
        len(history),
        rate,
        trainer.elapsed,
        device,
        path,
        summary,
        trainer.diverged_at,
        trainer.visuals,
        getattr(trainer, "weight_path", None) or None,
    )


def _labels(trainer: Trainer) -> tuple[str, str, str]:
    """Return (device, path, data summary), worded once per trainer: snapshots come every batch."""
    labels = getattr(trainer, "_labels", None)
    if labels is None:
        labels = trainer._labels = (str(trainer.device), trainer.path, trainer.data.summary())
    return labels


def _path_keeps(trainer) -> bool:
    """Return whether the trainer's weight path (if it records one) keeps the epoch just trained."""
    path = getattr(trainer, "weight_path", None)
    return bool(path) and trainer.epoch % path.stride == 0


def _record_newest(trainer) -> None:
    """Record the current weights in the path unless its newest weights are already this epoch's; returns nothing."""
    path = getattr(trainer, "weight_path", None)
    if path and path.newest() != trainer.epoch:
        record_path(trainer)


def job_threads(configs, train_rows: int, spare_cores: int = 0) -> int:
    """Return the torch thread count for a training job: engine/threads.py's choice for ``configs``, leaving
    ``spare_cores`` cores to the caller (the window keeps one for its GUI thread).

    With every core taken, each wake-up of another thread (the window's redraws, other programs) stalls torch's
    whole thread pool at its next barrier: on the shared 2-core machine the window trained Fashion-MNIST
    (784-40-40-40-10, batch 50) at 5-70k samples/s with 2 threads, and at 100-165k with 1 (bench/bench_gui.py).
    """
    threads = threads_for_configs(configs, train_rows)
    return max(1, min(threads, available_cores() - max(0, int(spare_cores))))


def prepare_job(
    config: TrainConfig, token, init_weights: dict | None = None, data=None, spare_cores: int = 0
) -> Generator[TrainingSnapshot, None, Trainer | None]:
    """Load the data and build a Trainer; return it, or None when ``token`` was stopped at any point.

    Yields a "loading" snapshot first and a "ready" one (with visuals) once the trainer is built. The
    token is checked before loading, after loading and after building (also between the chunks of the
    epoch-0 measurement), so a stop that arrives while the data load is never lost. ``spare_cores``: see
    job_threads.
    """
    yield TrainingSnapshot("loading", 0, config.epochs, 0, 0, [], 0, 0.0, 0.0, "", "", "", None, None)
    if token.checkpoint():
        return None
    data = config.load_data() if data is None else data  # a caller that loaded it already passes it
    if token.checkpoint():
        return None
    use_threads(job_threads([config], len(data.x_train), spare_cores))  # this thread's count; engine/threads.py
    spread.leave_cores(spare_cores)  # the numba kernels' helper threads leave the same cores
    try:
        trainer = Trainer(config, data, init_weights, token=token)
    except Interrupted:
        return None
    if token.checkpoint():
        return None
    refresh_visuals(trainer)
    yield _snapshot(trainer, "ready")
    return None if token.stopped else trainer


class Pace:
    """How fast a training job may go: ``epochs_per_second`` (None: as fast as possible).

    The job reads the attribute at every epoch end and in every slice of its wait, so a window can change it
    from another thread while the job runs (a plain attribute write is atomic) and the change applies at once.
    """

    def __init__(self, epochs_per_second: float | None = None) -> None:
        self.epochs_per_second = epochs_per_second

    def seconds_per_epoch(self) -> float:
        """Return the least time an epoch may take (0.0: as fast as possible)."""
        eps = self.epochs_per_second
        return 1.0 / eps if eps is not None and eps > 0 else 0.0


PACE_SLICE_S = 0.02  # a paced job sleeps in slices this long, checking its token between them
PACED_VISUALS_S = 0.03  # paced, the visuals are refreshed at most this often (every epoch at 30 epochs/s or slower)


def train_job(
    trainer: Trainer,
    token,
    epochs: int | None = None,
    pace: Pace | float | None = None,
    snapshot_every: float = 0.0,
    spare_cores: int = 0,
) -> Generator[TrainingSnapshot, None, str]:
    """Train ``epochs`` more epochs (None: to the end); return "finished", "diverged" or "stopped".

    A trainer stopped mid-epoch counts that epoch as the first of ``epochs``. Yields a snapshot after
    every batch (cheap: nothing is copied) and after every epoch, then a last one with fresh visuals.
    ``token.checkpoint()`` is called before every batch (a paused token blocks there; paused time is left
    out of ``elapsed``). "stopped": the token stopped it first, and the trainer keeps its exact position,
    so that a new train_job continues to the history an uninterrupted run has. "diverged": every run
    diverged. "finished": it trained what was asked (``trainer.finished`` says whether the run is over).

    ``pace`` (a Pace, or epochs per second) slows the job down to be watched: after each epoch's snapshot
    (unless it was the last one asked for) it waits until ``1 / epochs_per_second`` seconds have passed since
    the epoch began, in slices that call ``token.checkpoint()``, and the visuals are refreshed at every epoch
    (at most every PACED_VISUALS_S, which every epoch of a pace of 30 epochs/s or slower is apart).
    Waiting is left out of ``elapsed`` and samples/s, and changes nothing in the history.

    ``snapshot_every`` > 0: a snapshot after a batch or an epoch only when that many seconds have passed since
    the last one, or when it brings new visuals (every epoch of a paced job); the last one always comes. The
    window pulls ~30 times a second and keeps only the newest: a snapshot per 50 µs batch cost it ~10 % of
    the training speed. ``spare_cores``: see job_threads.
    """
    pace = pace if isinstance(pace, Pace) or pace is None else Pace(pace)
    group = trainer.group
    use_threads(job_threads(group.configs, len(group.x_train), spare_cores))  # this thread's count
    target = group.configs[0].epochs if epochs is None else trainer.epoch + max(0, int(epochs))
    waited = 0.0  # seconds spent in paced waits (and paused within them)
    active = lambda: time.perf_counter() - group.paused_seconds - waited  # a clock that stops while paused/waiting
    started, elapsed_before = active(), trainer.elapsed
    rate, trained, mark, shown = 0.0, 0, (started, 0), -float("inf")
    visuals_at, visuals_wall = started, -float("inf")  # paced, the first epoch is always drawn
    data = trainer.data
    every = VISUALS_EVERY_S if data.n_features == 2 and data.n_classes else max(VISUALS_EVERY_S, MATRIX_EVERY_S)
    stopped = False
    record_path(trainer)  # the landscape's path: the weights at the start and after every epoch it keeps
    recorded = active()

    def tick() -> None:
        """Bring ``trainer.elapsed`` up to now (pauses left out); returns nothing."""
        trainer.elapsed = elapsed_before + active() - started

    while not trainer.finished and trainer.epoch < target:
        epoch_began = active()
        epoch_job = group.iter_epoch(token)
        at = group.batch_in_epoch
        while True:
            try:
                done = next(epoch_job)  # batches done in the epoch: one more, or a whole stretch (spans.py)
            except StopIteration as end:
                records = end.value
                break
            trained, at = trained + done - at, done
            now = active()
            if now - mark[0] >= RATE_EVERY_S:
                rate = (trained - mark[1]) * group.batch_size / (now - mark[0])
                mark = (now, trained)
            if now - shown < snapshot_every:
                continue
            shown = now
            tick()
            yield _snapshot(trainer, "running", rate)
        if records is None:  # the loop checked that the run was not over: the token stopped it
            if group.batch_in_epoch == 0:  # stopped before the epoch's first batch: its weights are the last epoch's
                _record_newest(trainer)
            stopped = True
            break
        paced = pace is not None and pace.seconds_per_epoch() > 0
        fresh = (paced and time.perf_counter() - visuals_wall >= PACED_VISUALS_S) or (active() - visuals_at >= every)
        report = fresh or paced or active() - shown >= snapshot_every
        last = trainer.finished or trainer.epoch >= target
        if report or last or _path_keeps(trainer) or active() - recorded >= PATH_NEWEST_EVERY_S:
            record_path(trainer)
            recorded = active()
        if fresh:
            refresh_visuals(trainer)
            visuals_at, visuals_wall = active(), time.perf_counter()
        if report:
            shown = active()
            tick()
            yield _snapshot(trainer, "running", rate)
        if pace is None or trainer.finished or trainer.epoch >= target:
            continue
        work, slept = active() - epoch_began, 0.0  # the epoch's training time; paused time counts in neither
        while (left := pace.seconds_per_epoch() - work - slept) > 0:
            began = time.perf_counter()
            time.sleep(min(left, PACE_SLICE_S))
            slept += time.perf_counter() - began
            stop = token.checkpoint()  # a stop ends the wait; a pause holds here
            waited += time.perf_counter() - began
            if stop:
                stopped = True
                break
        if stopped:
            break
    if trainer.visuals is None or trainer.visuals_steps != len(group.lr_trace):  # unless nothing has changed
        refresh_visuals(trainer)
    tick()
    yield _snapshot(trainer, "running", rate)
    if stopped:
        return "stopped"
    return "diverged" if trainer.diverged_at is not None else "finished"


def comparison_job(
    comparison: Comparison, token, data_cache: dict | None = None, grad_norm: bool = True
) -> Generator[ComparisonSnapshot, None, list[RunResult]]:
    """Train every run of ``comparison``; return every run's result in run order (partial ones too when stopped).

    Compatible runs train together in one RunGroup. Yields after each group's start (epoch 0) and after
    every epoch of every group. ``data_cache`` maps TrainConfig.dataset_key() to loaded data sets.
    ``grad_norm`` False: no epoch-end gradient (histories' grad_norm None; maps and sweeps).
    """
    steps = comparison_steps(comparison, token, data_cache, grad_norm)
    while True:
        try:
            snapshot, _, _ = next(steps)
        except StopIteration as end:
            return end.value
        yield snapshot


def comparison_steps(
    comparison: Comparison, token, data_cache: dict | None = None, grad_norm: bool = True
) -> Generator[tuple[ComparisonSnapshot, list[tuple[int, RunResult]], bool], None, list[RunResult]]:
    """The comparison loop: yields (snapshot, the current group's (run index, result) pairs, group ended).

    comparison_job and compare.run_comparison both drive this one loop (see comparison_job); returns every
    started run's result in run order.
    """
    planned = comparison.runs()
    cache = data_cache if data_cache is not None else {}
    total = sum(cfg.epochs for _, _, cfg in planned)
    results: dict[int, RunResult] = {}
    done = ended = 0
    for members in plan_groups(planned):
        if token.checkpoint():
            break
        cfgs = [planned[i][2] for i in members]
        key = cfgs[0].dataset_key()
        if key not in cache:
            cache[key] = cfgs[0].load_data()
        started = time.perf_counter()
        use_threads(threads_for_configs(cfgs, len(cache[key].x_train)))  # this thread's count; see engine/threads.py
        try:
            group = RunGroup(cfgs, cache[key], token=token, grad_norm=grad_norm)
        except Interrupted:
            break
        path = group.path + (" (batched)" if group.R > 1 else "")
        items = _group_results(planned, members, group, path, started)
        results.update(items)
        yield _comparison_snapshot(done, total, results, ended, group), items, False
        stopped = False
        while not group.finished:
            if run_job(group.iter_epoch(token)) is None:
                stopped = True
                break
            items = _group_results(planned, members, group, path, started)
            results.update(items)
            yield _comparison_snapshot(done, total, results, ended, group), items, False
        done += (group.epoch if stopped else cfgs[0].epochs) * group.R
        ended += group.R
        items = _group_results(planned, members, group, path, started)
        results.update(items)
        yield _comparison_snapshot(done, total, results, ended, None), items, True
        if stopped:
            break
    return _in_order(results)


def _group_results(planned, members, group: RunGroup, path: str, started: float) -> list[tuple[int, RunResult]]:
    """Return (run index, result so far) for a group's runs; the results share the group's history lists."""
    seconds = (time.perf_counter() - started - group.paused_seconds) / group.R  # per run, pauses left out
    out = []
    for r, i in enumerate(members):
        label, seed, cfg = planned[i]
        out.append((i, RunResult(label, seed, cfg, group.histories[r], path, seconds, group.diverged_at[r])))
    return out


def _comparison_snapshot(done: int, total: int, results: dict, ended: int, group: RunGroup | None):
    """Return the snapshot: ``done``/``ended`` count the earlier groups, ``group`` the one still training."""
    if group is not None:
        done += group.epoch * group.R
        ended += sum(d is not None for d in group.diverged_at)
    return ComparisonSnapshot(done, total, _in_order(results), ended)


def _in_order(results: dict[int, RunResult]) -> list[RunResult]:
    return [results[i] for i in sorted(results)]
