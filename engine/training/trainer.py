"""The trainer: steps one epoch at a time, stops between batches, resumes, and records a history.

The arithmetic lives in engine/training/backends; records in records.py; checks before training in checks.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator

import torch

from engine.data.datasets import Dataset
from engine.errors import UserError
from engine.jobs import Token, run_job
from engine.schedulers import SCHEDULERS, LRDriver
from engine.training.backends import Interrupted, make_backend
from engine.training.checks import GROUP_FIELDS, can_group, check_shapes, resolve_device
from engine.training.config import TrainConfig
from engine.training.data_shape import DataShape, check_batches
from engine.training.model import MLP, initialise
from engine.training.records import HISTORY_COLUMNS, EpochRecord, divergence_text, nan_record
from engine.training.spans import can_span, span_batches

__all__ = ["GROUP_FIELDS", "HISTORY_COLUMNS", "EpochRecord", "RunGroup", "Trainer", "check_shapes", "resolve_device"]

GRAD_ROWS = 2048  # training rows the epoch-end gradient norm uses at most (a fixed random sample beyond that)
GATHER_ELEMENTS = 1 << 20  # data up to this size is gathered into epoch order once; batches are then free views
EXPLODED = 1e8  # float64 runs can climb for many epochs before reaching inf; this far up they have diverged


class _Clock:
    """A token as the training loop sees it: its checkpoint, counting the seconds spent blocked (paused)."""

    __slots__ = ("token", "group", "plain")

    def __init__(self, token, group: RunGroup):
        self.token, self.group = token, group
        self.plain = isinstance(token, Token)  # its flags can be read without its lock

    def checkpoint(self) -> bool:
        """Return the token's checkpoint(), adding the time it took to the group's paused_seconds."""
        if self.plain and not self.token.paused:  # nothing to block on: no lock, no clock (~8 % of a 50 µs batch)
            return self.token.stopped
        started = time.perf_counter()
        stop = self.token.checkpoint()
        self.group.paused_seconds += time.perf_counter() - started
        return stop


class CallbackToken:
    """The callback API as a token: checkpoint() asks ``should_stop()`` (None: never stop)."""

    __slots__ = ("should_stop",)

    def __init__(self, should_stop: Callable[[], bool] | None):
        self.should_stop = should_stop

    def checkpoint(self) -> bool:
        """Return whether ``should_stop()`` says to stop."""
        return self.should_stop is not None and bool(self.should_stop())


class RunGroup:
    """R training runs that share data, batch order and architecture, trained in lock-step.

    The arithmetic is a backend's (engine/training/backends): plain MLPs are stacked with hand-written
    gradients (``fused``: all runs cost about one); others (dropout, batch norm, other losses/activations)
    train one nn.Module per run with autograd. The group keeps the data, the batch order, the learning-rate
    drivers, divergence and the histories; ``histories[r][0]`` is measured before training.

    Training is one loop, the generator ``iter_epoch(token)``; ``run_epoch``/``run`` drive it with callbacks.
    A stop takes effect between two batches (or between two chunks of a slow batch, which is then redone
    whole, or of the epoch-end evaluation, which is then redone); the next epoch call continues from there,
    so an interrupted run ends with the same history as an uninterrupted one.
    """

    def __init__(
        self,
        configs: list[TrainConfig],
        data: Dataset | None = None,
        init_weights: dict | None = None,
        token=None,
        grad_norm: bool = True,
    ):
        """Build the runs and measure epoch 0; a ``token`` that stops during that measurement raises Interrupted.

        ``grad_norm`` False: the epoch-end measurement skips the gradient (forward only) and records
        ``grad_norm`` None (maps and sweeps, which read only the losses).
        """
        self.grad_norm = grad_norm
        self.configs = [c.validated() for c in configs]
        if not can_group(self.configs):
            raise UserError("runs in one group must share data, batch size, epochs, seed and architecture")
        cfg = self.configs[0]
        self.data = data if data is not None else cfg.load_data()
        check_shapes(cfg, self.data)
        check_batches(cfg, DataShape.of(self.data))  # batch norm cannot train on a one-row batch
        self.device = resolve_device(cfg.device)
        self.R = len(self.configs)
        models = []
        for c in self.configs:
            m = MLP(list(c.layers), c.activation, c.output_activation, c.dropout, c.batchnorm)
            initialise(m, c.init, torch.Generator().manual_seed(c.seed))
            if init_weights is not None:
                m.set_weights(init_weights)
            models.append(m)
        rows = len(self.data.x_train)
        batches = math.ceil(rows / max(1, min(int(cfg.batch_size) or rows, rows))) if rows else 0
        self.backend = make_backend(self.configs, models, self.device, self.data.n_classes, batches)
        self.path = self.backend.path
        xdtype = self.backend.dtype
        self.x_train, self.y_train = self.data.x_train.to(self.device, xdtype), self.data.y_train.to(self.device)
        self.x_test, self.y_test = self.data.x_test.to(self.device, xdtype), self.data.y_test.to(self.device)
        n = len(self.x_train)
        self.batch_size = min(int(cfg.batch_size) or n, n)
        self.batches_per_epoch = math.ceil(n / self.batch_size)
        self.drivers = []
        for c, opt in zip(self.configs, self.backend.optimizers):
            per_batch = SCHEDULERS.get(c.scheduler).extra["per_batch"]
            self.drivers.append(
                LRDriver(opt, c.scheduler, c.scheduler_params, c.epochs * (self.batches_per_epoch if per_batch else 1))
            )
        self._order_gen = torch.Generator().manual_seed(cfg.seed)  # batch order: same seed, same order
        self.epoch = 0
        self.diverged_at: list[int | None] = [None] * self.R
        self.lr_trace: list[list[float]] = []  # per optimizer step, every run's rate
        self.paused_seconds = 0.0  # time spent blocked at a paused token's checkpoints
        self._order: torch.Tensor | None = None
        self._batch = 0
        self._epoch_done = False  # every batch of the epoch is done, its records are not yet measured
        self._epoch_lrs = [d.lr for d in self.drivers]
        self._seconds = 0.0
        self.histories: list[list[EpochRecord]] = [[] for _ in range(self.R)]
        self._grad_rows = None
        self._epoch_data = None
        self._append_records(0, self._epoch_lrs, 0.0, _Clock(token, self) if token is not None else None)

    # -- state --------------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Return whether every run has run all its epochs or diverged."""
        if self._epoch_done:
            return False
        return self.epoch >= self.configs[0].epochs or all(d is not None for d in self.diverged_at)

    @property
    def batch_in_epoch(self) -> int:
        """Return how many batches of the current epoch are done."""
        return self._batch

    # -- evaluation ---------------------------------------------------------------------------------------
    def logits(self, x: torch.Tensor, r: int) -> torch.Tensor:
        """Return run r's logits for x (evaluation mode, no gradient)."""
        return self.backend.logits(x, r)

    def weights(self, r: int = 0) -> dict:
        """Return run r's weights as {"layers": [{"weight", "bias"}, ...]}."""
        return self.backend.weights(r)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, token=None) -> tuple[list[float], list[float | None]]:
        """Return every run's (mean data loss, accuracy or None) on (x, y); raise Interrupted if stopped."""
        if len(x) == 0:
            return [float("nan")] * self.R, [None] * self.R
        return self.backend.evaluate(x, y, token)

    def train_metrics(self, token=None) -> tuple[list[float], list[float | None], list[float | None]]:
        """Return every run's (loss, accuracy, gradient norm) on the training set.

        The gradient is that of the mean data loss at the current weights, over the whole training set
        when it has at most GRAD_ROWS rows (fused runs then get all three from one forward and backward
        pass), else over a fixed random GRAD_ROWS-row sample, so large sets do not double the epoch's cost.
        Without ``grad_norm`` (see __init__) the norms are None and the pass is forward only.
        Raises Interrupted when ``token`` stops it.
        """
        x, y = self.x_train, self.y_train
        if not self.grad_norm:
            losses, accs = self.evaluate(x, y, token)
            return losses, accs, [None] * self.R
        if len(x) > GRAD_ROWS:
            losses, accs = self.evaluate(x, y, token)
            if self._grad_rows is None:
                self._grad_rows = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:GRAD_ROWS].to(
                    self.device
                )
            _, _, norms = self.backend.train_metrics(x[self._grad_rows], y[self._grad_rows], token)
            return losses, accs, norms
        return self.backend.train_metrics(x, y, token)

    def _append_records(self, epoch: int, lrs, seconds: float, token=None) -> list[EpochRecord | None]:
        # measure everything before changing anything: an Interrupted measurement leaves no trace
        tr_loss, tr_acc, grads = self.train_metrics(token)
        te_loss, te_acc = self.evaluate(self.x_test, self.y_test, token)
        has_test = self.data.has_test
        out: list[EpochRecord | None] = []
        for r in range(self.R):
            d = self.diverged_at[r]
            if d is not None and epoch > d:
                out.append(None)
                continue
            rec = EpochRecord(
                epoch,
                tr_loss[r],
                te_loss[r] if has_test else None,
                tr_acc[r],
                te_acc[r] if has_test else None,
                lrs[r],
                grads[r],
                seconds,
            )
            if d == epoch or (d is None and self._exploded(r, rec.train_loss)):
                self._diverge(r, epoch)
                rec = nan_record(epoch, lrs[r], seconds, has_test, self.data.n_classes is not None)
            self.histories[r].append(rec)
            out.append(rec)
        return out

    def _diverge(self, r: int, epoch: int) -> None:
        self.diverged_at[r] = epoch
        self.backend.freeze(r)

    def _exploded(self, r: int, loss: float) -> bool:
        """A loss that is not finite, or has grown beyond EXPLODED times its epoch-0 value, has diverged."""
        if not math.isfinite(loss):
            return True
        start = self.histories[r][0].train_loss if self.histories[r] else loss
        return loss > EXPLODED * max(1.0, abs(start))

    # -- training -----------------------------------------------------------------------------------------
    def iter_epoch(self, token=None) -> Generator[int, None, list[EpochRecord | None] | None]:
        """Train to the end of the current epoch, yielding the number of batches done after every batch.

        ``token.checkpoint()`` (anything with that method; None: never stop) is called before every batch,
        between the chunks of a slow batch and between the chunks of the epoch-end evaluation; a paused
        token blocks there, and that time is left out of the epoch's seconds. Returns each run's record of
        the epoch (None for runs already ended), or None when stopped first (the next call goes on from
        where this one stopped) or when everything has finished.
        """
        if self.finished:
            return None
        clock = _Clock(token, self) if token is not None else None
        if self._order is None:
            self._start_epoch()
        if not self._epoch_done:
            complete = yield from self._train_batches(clock)
            if not complete:
                return None
            self._epoch_done = True
        try:
            records = self._append_records(self.epoch + 1, self._epoch_lrs, self._seconds, clock)
        except Interrupted:
            return None
        self.epoch += 1
        self._order = self._epoch_data = None
        self._batch, self._epoch_done = 0, False
        for d, rec in zip(self.drivers, records):
            if rec is not None and not d.per_batch and math.isfinite(rec.train_loss):
                d.step(rec.train_loss)
        return records

    def _start_epoch(self) -> None:
        n, cfg = len(self.x_train), self.configs[0]
        self._order = (
            torch.randperm(n, generator=self._order_gen).to(self.device)
            if cfg.shuffle
            else torch.arange(n, device=self.device)
        )
        small = self.x_train.numel() <= GATHER_ELEMENTS
        self._epoch_data = (self.x_train[self._order], self.y_train[self._order]) if cfg.shuffle and small else None
        self._batch, self._seconds = 0, 0.0
        self._epoch_lrs = [d.lr for d in self.drivers]

    def _train_batches(self, clock) -> Generator[int, None, bool]:
        """Run the epoch's remaining batches, yielding after each; return True when the epoch's batches are done."""
        started, paused = time.perf_counter(), self.paused_seconds
        bs, order, shuffled = self.batch_size, self._order, self.configs[0].shuffle
        gathered = self._epoch_data
        batch_drivers = [d for d in self.drivers if d.per_batch]
        per_batch, lrs = bool(batch_drivers), None
        backend = self.backend
        backend.train_mode()
        try:
            if can_span(backend, per_batch, gathered is not None or not shuffled):
                xs, ys = gathered if gathered is not None else (self.x_train, self.y_train)
                return (yield from span_batches(self, xs, ys, [d.lr for d in self.drivers], clock))
            for b in range(self._batch, self.batches_per_epoch):
                if clock is not None and clock.checkpoint():
                    return False
                if gathered is not None:
                    xb, yb = gathered[0][b * bs : (b + 1) * bs], gathered[1][b * bs : (b + 1) * bs]
                elif shuffled:
                    idx = order[b * bs : (b + 1) * bs]
                    xb, yb = torch.index_select(self.x_train, 0, idx), torch.index_select(self.y_train, 0, idx)
                else:
                    xb, yb = self.x_train[b * bs : (b + 1) * bs], self.y_train[b * bs : (b + 1) * bs]
                if per_batch or lrs is None:
                    lrs = [d.lr for d in self.drivers]
                if not backend.train_batch(xb, yb, lrs, clock):
                    return False  # stopped inside a slow batch, which is redone whole on resume
                self.lr_trace.append(lrs)
                for d in batch_drivers:
                    d.step()
                self._batch = b + 1
                values = backend.batch_losses
                if values is not None:  # the autograd path checks every batch; fused runs at the epoch's end
                    for r, v in enumerate(values):
                        if self.diverged_at[r] is None and not math.isfinite(v):
                            self._diverge(r, self.epoch + 1)
                    if all(d is not None for d in self.diverged_at):
                        self._batch = self.batches_per_epoch
                        yield self._batch
                        return True
                yield self._batch
            return True
        finally:
            self._seconds += time.perf_counter() - started - (self.paused_seconds - paused)

    def run_epoch(
        self, should_stop: Callable[[], bool] | None = None, on_batch: Callable[[int, int], None] | None = None
    ) -> list[EpochRecord | None] | None:
        """Train to the end of the current epoch; return each run's record (None for runs already ended).

        ``should_stop()`` is asked, and ``on_batch(done, total)`` told, at every batch (or stretch: spans.py).
        Returns None when stopped before the end of the epoch, or when everything has finished.
        """
        token = CallbackToken(should_stop) if should_stop is not None else None
        total = self.batches_per_epoch
        return run_job(self.iter_epoch(token), (lambda done: on_batch(done, total)) if on_batch else None)

    def run(
        self,
        should_stop: Callable[[], bool] | None = None,
        on_epoch: Callable[[list], None] | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> list[list[EpochRecord]]:
        """Train the remaining epochs (until finished or stopped) and return every run's history."""
        while not self.finished:
            records = self.run_epoch(should_stop, on_batch)
            if records is None:
                break
            if on_epoch is not None:
                on_epoch(records)
        return self.histories


class Trainer:
    """One training run: a RunGroup of one, with ``history`` as a flat list of EpochRecords.

    ``elapsed`` (seconds spent in train_job, pauses left out), ``visuals`` (the latest side-panel pictures)
    and ``visuals_steps`` (the optimizer steps they show) are kept here by engine/training/jobs.py, so that
    they carry over from one job to the next.
    """

    def __init__(self, config: TrainConfig, data: Dataset | None = None, init_weights: dict | None = None, token=None):
        """Build the run; a ``token`` that stops while epoch 0 is measured raises Interrupted."""
        self.group = RunGroup([config], data, init_weights, token)
        self.config = self.group.configs[0]
        self.data = self.group.data
        self.device = self.group.device
        self.elapsed = 0.0
        self.visuals = None
        self.visuals_steps = 0

    history = property(lambda self: self.group.histories[0], doc="The run's EpochRecords, epoch 0 first.")
    finished = property(lambda self: self.group.finished, doc="Whether the run has ended.")
    epoch = property(lambda self: self.group.epoch, doc="Epochs completed.")
    diverged_at = property(
        lambda self: self.group.diverged_at[0], doc="Epoch of divergence (0: before training), or None."
    )
    divergence = property(
        lambda self: divergence_text(self.group.diverged_at[0]),
        doc="'diverged at epoch k' (with the reason at epoch 0) or None; diverged_at 0 is falsy: test it against None.",
    )
    batches_per_epoch = property(lambda self: self.group.batches_per_epoch, doc="Batches in one epoch.")
    batch_in_epoch = property(lambda self: self.group.batch_in_epoch, doc="Batches done in this epoch.")
    path = property(lambda self: self.group.path, doc="Which training path runs (fused or autograd).")
    lr_trace = property(lambda self: [lrs[0] for lrs in self.group.lr_trace], doc="The rate of every step.")

    def run_epoch(self, should_stop=None, on_batch=None) -> EpochRecord | None:
        """Train one epoch (or the rest of one); return its record, or None if stopped or finished."""
        records = self.group.run_epoch(should_stop, on_batch)
        return None if records is None else records[0]

    def run(self, should_stop=None, on_epoch=None, on_batch=None) -> list[EpochRecord]:
        """Train the remaining epochs and return the history."""
        self.group.run(should_stop, (lambda recs: on_epoch(recs[0])) if on_epoch else None, on_batch)
        return self.history

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Return the model's logits for x."""
        return self.group.logits(x, 0)

    def weights(self) -> dict:
        """Return the weights as {"layers": [...]}."""
        return self.group.weights(0)
