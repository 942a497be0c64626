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

import numpy as np

from engine.jobs import run_job
from engine.threads import threads_for_configs, use_threads
from engine.training.backends import Interrupted
from engine.training.compare import Comparison, RunResult, plan_groups
from engine.training.config import TrainConfig
from engine.training.landscape_eval import record_path
from engine.training.metrics import confusion_matrix, decision_grid, per_class_accuracy, predictions
from engine.training.trainer import RunGroup, Trainer

GRID_SAMPLES = 36  # test images in the samples panel
DECISION_GRID = 150  # points per side of the decision-region grid
VISUALS_EVERY_S = 0.3  # while training, the visuals are recomputed at most this often
RATE_EVERY_S = 0.1  # samples_per_s is measured over at least this long


@dataclass(frozen=True)
class Visuals:
    """What the side panels draw, computed in the job's thread."""

    epoch: int
    points: tuple | None  # (x_train ndarray, y_train ndarray, n_classes) for 2-D class data
    decision: tuple | None  # (xs, ys, classes, confidence) from metrics.decision_grid, n=150
    confusion: tuple | None  # (matrix, class_names, per_class) on test (or train if no test), non-2-D class data
    samples: tuple | None  # (images, true, predicted, image_shape, class_names), 36 fixed test images


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


def training_visuals(trainer: Trainer) -> Visuals:
    """Return the side panels' pictures for the trainer's current weights.

    Decision regions and the scatter for 2-D class data; a confusion matrix for every other class data set
    (iris, tables, images), plus 36 fixed sample predictions for image data (on the test split, or the
    training split when there is none).
    """
    data = trainer.data
    points = decision = confusion = samples = None
    if data.n_features == 2 and data.n_classes:
        points = _points(trainer)
        decision = decision_grid(trainer.logits, data.x_train, n=DECISION_GRID)
    elif data.n_classes:
        x, y = (data.x_test, data.y_test) if data.has_test else (data.x_train, data.y_train)
        pred = predictions(trainer.logits, x)
        matrix = confusion_matrix(y.numpy(), pred, data.n_classes)
        confusion = (matrix, data.class_names, per_class_accuracy(matrix))
        if data.image_shape:
            idx = np.random.RandomState(0).choice(len(x), size=min(GRID_SAMPLES, len(x)), replace=False)
            samples = (x[idx].numpy(), y[idx].numpy(), pred[idx], data.image_shape, data.class_names)
    return Visuals(trainer.epoch, points, decision, confusion, samples)


def _refresh_visuals(trainer: Trainer) -> None:
    trainer.visuals = training_visuals(trainer)
    trainer.visuals_steps = len(trainer.group.lr_trace)  # optimizer steps the visuals have seen


def _points(trainer: Trainer) -> tuple:
    """Return the scatter's (x, y, n_classes), the same tuple every time (views compare it by identity)."""
    cached = getattr(trainer, "_points", None)
    if cached is None:
        data = trainer.data
        cached = trainer._points = (data.x_train.numpy(), data.y_train.numpy(), data.n_classes)
    return cached


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


def prepare_job(
    config: TrainConfig, token, init_weights: dict | None = None, data=None
) -> Generator[TrainingSnapshot, None, Trainer | None]:
    """Load the data and build a Trainer; return it, or None when ``token`` was stopped at any point.

    Yields a "loading" snapshot first and a "ready" one (with visuals) once the trainer is built. The
    token is checked before loading, after loading and after building (also between the chunks of the
    epoch-0 measurement), so a stop that arrives while the data load is never lost.
    """
    yield TrainingSnapshot("loading", 0, config.epochs, 0, 0, [], 0, 0.0, 0.0, "", "", "", None, None)
    if token.checkpoint():
        return None
    data = config.load_data() if data is None else data  # a caller that loaded it already passes it
    if token.checkpoint():
        return None
    use_threads(threads_for_configs([config], len(data.x_train)))  # this thread's count; see engine/threads.py
    try:
        trainer = Trainer(config, data, init_weights, token=token)
    except Interrupted:
        return None
    if token.checkpoint():
        return None
    _refresh_visuals(trainer)
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
    trainer: Trainer, token, epochs: int | None = None, pace: Pace | float | None = None
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
    """
    pace = pace if isinstance(pace, Pace) or pace is None else Pace(pace)
    group = trainer.group
    use_threads(threads_for_configs(group.configs, len(group.x_train)))  # this thread's count; see engine/threads.py
    target = group.configs[0].epochs if epochs is None else trainer.epoch + max(0, int(epochs))
    waited = 0.0  # seconds spent in paced waits (and paused within them)
    active = lambda: time.perf_counter() - group.paused_seconds - waited  # a clock that stops while paused/waiting
    started, elapsed_before = active(), trainer.elapsed
    rate, trained, mark = 0.0, 0, (started, 0)
    visuals_at, visuals_wall = started, -float("inf")  # paced, the first epoch is always drawn
    stopped = False
    record_path(trainer)  # the landscape's path: the weights at the start and after every epoch

    def tick() -> None:
        """Bring ``trainer.elapsed`` up to now (pauses left out); returns nothing."""
        trainer.elapsed = elapsed_before + active() - started

    while not trainer.finished and trainer.epoch < target:
        epoch_began = active()
        epoch_job = group.iter_epoch(token)
        while True:
            try:
                next(epoch_job)
            except StopIteration as end:
                records = end.value
                break
            trained += 1
            now = active()
            if now - mark[0] >= RATE_EVERY_S:
                rate = (trained - mark[1]) * group.batch_size / (now - mark[0])
                mark = (now, trained)
            tick()
            yield _snapshot(trainer, "running", rate)
        if records is None:  # the loop checked that the run was not over: the token stopped it
            stopped = True
            break
        record_path(trainer)
        paced = pace is not None and pace.seconds_per_epoch() > 0
        if (
            paced and time.perf_counter() - visuals_wall >= PACED_VISUALS_S
        ) or active() - visuals_at >= VISUALS_EVERY_S:
            _refresh_visuals(trainer)
            visuals_at, visuals_wall = active(), time.perf_counter()
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
        _refresh_visuals(trainer)
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
