"""The trainer: steps one epoch at a time, stops between batches, resumes, and records a history."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from engine.data.datasets import Dataset
from engine.errors import UserError
from engine.optimizers import build_optimizer
from engine.schedulers import SCHEDULERS, LRDriver
from engine.training.config import TrainConfig
from engine.training.fused import FusedMLP, can_fuse
from engine.training.model import MLP, apply_output, initialise
from engine.training.stepper import SGD_FAMILY, PerRunOptim, VectorSGD

GROUP_FIELDS = (
    "dataset",
    "data_dir",
    "classes",
    "points",
    "noise",
    "target",
    "standardize",
    "test_fraction",
    "layers",
    "activation",
    "output_activation",
    "loss",
    "init",
    "dropout",
    "batchnorm",
    "batch_size",
    "epochs",
    "seed",
    "shuffle",
    "device",
)
GRAD_ROWS = 2048  # training rows the epoch-end gradient norm uses at most (a fixed random sample beyond that)
GATHER_ELEMENTS = 1 << 20  # data up to this size is gathered into epoch order once; batches are then free views
EXPLODED = 1e8  # float64 runs can climb for many epochs before reaching inf; this far up they have diverged
HISTORY_COLUMNS = ["epoch", "train_loss", "test_loss", "train_acc", "test_acc", "lr", "grad_norm", "seconds"]
EVAL_ELEMENTS = 1 << 17  # activations per evaluation chunk: larger fresh tensors cost page faults on every call


@dataclass
class EpochRecord:
    """What one epoch produced (epoch 0 = before any training); None where it does not apply."""

    epoch: int
    train_loss: float
    test_loss: float | None
    train_acc: float | None
    test_acc: float | None
    lr: float
    grad_norm: float | None
    seconds: float

    # grad_norm: the norm of the full-training-set gradient of the data loss at the end of the epoch

    def row(self) -> list:
        """Return the values in HISTORY_COLUMNS order."""
        return [getattr(self, c) for c in HISTORY_COLUMNS]

    def to_dict(self) -> dict:
        """Return the record as a dict."""
        return asdict(self)


def resolve_device(name: str) -> torch.device:
    """Return the torch device for 'auto', 'cpu' or 'cuda'; raise UserError when CUDA is asked for but absent."""
    if name == "cuda":
        if not torch.cuda.is_available():
            build = "CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda} build, no GPU found"
            raise UserError(
                f"CUDA was requested but is not available (torch {torch.__version__}: {build}); use --device cpu"
            )
        return torch.device("cuda")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"device must be auto, cpu or cuda, not '{name}'")


def check_shapes(config: TrainConfig, data: Dataset) -> None:
    """Raise UserError when the layer sizes or the loss do not fit the data set."""
    first, last = config.layers[0], config.layers[-1]
    if first != data.n_features:
        raise UserError(
            f"--layers starts with {first} inputs but {data.name} has {data.n_features} features "
            f"(try {data.n_features},{','.join(map(str, config.layers[1:]))})"
        )
    if data.n_classes is None:
        if last != 1:
            raise UserError(f"{data.name} has a numeric target: the last layer must have 1 output, not {last}")
        if config.loss not in ("mse", "mae"):
            raise UserError(f"{data.name} has a numeric target: use --loss mse or mae, not {config.loss}")
        return
    if last == 1 and data.n_classes == 2:
        if config.loss == "cross-entropy":
            raise UserError("a single output needs --loss bce, mse or mae (cross-entropy needs one output per class)")
        return
    if last != data.n_classes:
        raise UserError(f"--layers ends with {last} outputs but {data.name} has {data.n_classes} classes")


def data_loss(
    z: torch.Tensor, y: torch.Tensor, loss: str, output_activation: str, n_classes: int | None
) -> torch.Tensor:
    """Return the mean loss of logits ``z`` against targets ``y`` (class indices or numbers)."""
    if n_classes is not None and loss == "cross-entropy":
        scores = torch.sigmoid(z) if output_activation == "sigmoid" else z  # softmax is part of cross-entropy
        return F.cross_entropy(scores, y)
    if n_classes is None:
        target = y.reshape(-1, 1).to(z.dtype)
    elif z.shape[1] == 1:
        target = y.reshape(-1, 1).to(z.dtype)
    else:
        target = F.one_hot(y, z.shape[1]).to(z.dtype)
    if loss == "bce":
        if output_activation == "softmax":
            return F.binary_cross_entropy(torch.softmax(z, -1).clamp(1e-7, 1 - 1e-7), target)
        return F.binary_cross_entropy_with_logits(z, target)
    out = apply_output(z, output_activation)
    return F.mse_loss(out, target) if loss == "mse" else F.l1_loss(out, target)


def predict_classes(z: torch.Tensor) -> torch.Tensor:
    """Return predicted class indices from logits (one output: z > 0, i.e. p > 0.5)."""
    return (z[:, 0] > 0).long() if z.shape[1] == 1 else z.argmax(dim=1)


def can_group(configs: list[TrainConfig]) -> bool:
    """Return whether these runs share data, batch order and architecture, so one RunGroup can train them."""
    first = configs[0]
    return all(getattr(c, f) == getattr(first, f) for c in configs for f in GROUP_FIELDS)


class RunGroup:
    """R training runs that share data, batch order and architecture, trained in lock-step.

    Plain MLPs use stacked weights with hand-written gradients (``fused``): all runs cost about one.
    Others (dropout, batch norm, other losses/activations) train one nn.Module per run with autograd.
    ``histories[r][0]`` is measured before training. Stopping (``should_stop`` returning True) takes effect
    between two batches; the next ``run_epoch()`` continues from that batch, so an interrupted run ends
    with the same history as an uninterrupted one.
    """

    def __init__(self, configs: list[TrainConfig], data: Dataset | None = None, init_weights: dict | None = None):
        self.configs = [c.validated() for c in configs]
        if not can_group(self.configs):
            raise UserError("runs in one group must share data, batch size, epochs, seed and architecture")
        cfg = self.configs[0]
        self.data = data if data is not None else cfg.load_data()
        check_shapes(cfg, self.data)
        self.device = resolve_device(cfg.device)
        self.R = len(self.configs)
        models = []
        for c in self.configs:
            m = MLP(list(c.layers), c.activation, c.output_activation, c.dropout, c.batchnorm)
            initialise(m, c.init, torch.Generator().manual_seed(c.seed))
            if init_weights is not None:
                m.set_weights(init_weights)
            models.append(m)
        self.fused = can_fuse(cfg, self.data.n_classes)
        if self.fused:
            self.net = FusedMLP(
                [[m.linears[i].weight.detach() for m in models] for i in range(len(models[0].linears))],
                [[m.linears[i].bias.detach() for m in models] for i in range(len(models[0].linears))],
                cfg.activation,
                self.device,
                [c.l1 for c in self.configs],
                [c.l2 for c in self.configs],
            )
            sgd = all(c.optimizer in SGD_FAMILY for c in self.configs)
            self.stepper = (VectorSGD if sgd else PerRunOptim)(self.net.params, self.configs)
            optimizers = self.stepper.optimizers
            self.path = f"fused, {self.stepper.name}"
        else:
            self.models = [m.to(self.device) for m in models]
            optimizers = [
                build_optimizer(c.optimizer, m.parameters(), c.optimizer_params)
                for c, m in zip(self.configs, self.models)
            ]
            self.optimizers = optimizers
            self._dropout_gens = [torch.Generator(device=self.device).manual_seed(c.seed + 1) for c in self.configs]
            self.path = "autograd, per-run torch.optim"
        xdtype = self.net.dtype if self.fused else torch.float32
        self.x_train, self.y_train = self.data.x_train.to(self.device, xdtype), self.data.y_train.to(self.device)
        self.x_test, self.y_test = self.data.x_test.to(self.device, xdtype), self.data.y_test.to(self.device)
        n = len(self.x_train)
        self.batch_size = min(int(cfg.batch_size) or n, n)
        self.batches_per_epoch = math.ceil(n / self.batch_size)
        self.drivers = []
        for c, opt in zip(self.configs, optimizers):
            per_batch = SCHEDULERS.get(c.scheduler).extra["per_batch"]
            self.drivers.append(
                LRDriver(opt, c.scheduler, c.scheduler_params, c.epochs * (self.batches_per_epoch if per_batch else 1))
            )
        self._order_gen = torch.Generator().manual_seed(cfg.seed)  # batch order: same seed, same order
        self.epoch = 0
        self.diverged_at: list[int | None] = [None] * self.R
        self.lr_trace: list[list[float]] = []  # per optimizer step, every run's rate
        self._order: torch.Tensor | None = None
        self._batch = 0
        self._epoch_lrs = [d.lr for d in self.drivers]
        self._seconds = 0.0
        self.histories: list[list[EpochRecord]] = [[] for _ in range(self.R)]
        self._grad_rows = None
        self._epoch_data = None
        self.eval_chunk = max(64, min(8192, EVAL_ELEMENTS // (self.R * max(cfg.layers[1:]))))
        self._append_records(0, self._epoch_lrs, 0.0)

    # -- state --------------------------------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """Return whether every run has run all its epochs or diverged."""
        return self.epoch >= self.configs[0].epochs or all(d is not None for d in self.diverged_at)

    @property
    def batch_in_epoch(self) -> int:
        """Return how many batches of the current epoch are done."""
        return self._batch

    # -- evaluation ---------------------------------------------------------------------------------------
    def logits(self, x: torch.Tensor, r: int) -> torch.Tensor:
        """Return run r's logits for x (evaluation mode, no gradient)."""
        with torch.no_grad():
            x = x.to(self.device, self.net.dtype if self.fused else torch.float32)
            if self.fused:
                return self.net.logits(x, r)[0].float()
            model = self.models[r]
            was = model.training
            model.eval()
            out = model.logits(x)
            model.train(was)
            return out

    def weights(self, r: int = 0) -> dict:
        """Return run r's weights as {"layers": [{"weight", "bias"}, ...]}."""
        return self.net.run_weights(r) if self.fused else self.models[r].get_weights()

    def _loss(self, z, y):
        cfg = self.configs[0]
        return data_loss(z, y, cfg.loss, cfg.output_activation, self.data.n_classes)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float | None]]:
        """Return every run's (mean data loss, accuracy or None) on (x, y)."""
        if len(x) == 0:
            return [float("nan")] * self.R, [None] * self.R
        totals, correct = torch.zeros(self.R, dtype=torch.float64), torch.zeros(self.R, dtype=torch.long)
        classes = self.data.n_classes is not None
        with torch.no_grad():
            for i in range(0, len(x), self.eval_chunk):
                xb, yb = x[i : i + self.eval_chunk], y[i : i + self.eval_chunk]
                if self.fused:
                    z = self.net.logits(xb)
                    totals += self.net.losses(z, yb).double().cpu() * len(xb)
                    if classes:
                        correct += (z.argmax(dim=2) == yb).sum(dim=1).cpu()
                else:
                    for r in range(self.R):
                        z = self.logits(xb, r)
                        totals[r] += float(self._loss(z, yb)) * len(xb)
                        if classes:
                            correct[r] += int((predict_classes(z) == yb).sum())
        losses = (totals / len(x)).tolist()
        accs = (correct.double() / len(x)).tolist() if classes else [None] * self.R
        return losses, accs

    def train_metrics(self) -> tuple[list[float], list[float | None], list[float]]:
        """Return every run's (loss, accuracy, gradient norm) on the training set.

        The gradient is that of the mean data loss at the current weights, over the whole training set
        when it has at most GRAD_ROWS rows (fused runs then get all three from one forward and backward
        pass), else over a fixed random GRAD_ROWS-row sample, so large sets do not double the epoch's cost.
        """
        x, y = self.x_train, self.y_train
        if len(x) > GRAD_ROWS:
            losses, accs = self.evaluate(x, y)
            if self._grad_rows is None:
                self._grad_rows = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:GRAD_ROWS].to(
                    self.device
                )
            _, _, norms = self._metrics_pass(x[self._grad_rows], y[self._grad_rows])
            return losses, accs, norms
        return self._metrics_pass(x, y)

    def _metrics_pass(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float | None], list[float]]:
        classes = self.data.n_classes is not None
        if self.fused:
            loss = torch.zeros(self.R, dtype=torch.float64)
            correct = torch.zeros(self.R, dtype=torch.long)
            acc_grads = None
            for i in range(0, len(x), self.eval_chunk):
                xb, yb = x[i : i + self.eval_chunk], y[i : i + self.eval_chunk]
                losses, right = self.net.backward(xb, yb)
                weight = len(xb) / len(x)
                loss += losses.double().cpu() * weight
                correct += right.cpu()
                if acc_grads is None:
                    acc_grads = [g * weight for g in self.net.grads]
                else:
                    for a, g in zip(acc_grads, self.net.grads):
                        a.add_(g, alpha=weight)
            if self.net.l1 is not None or self.net.l2 is not None:
                acc_grads = self._without_penalty_grads(acc_grads[0])
            flat = acc_grads[0]
            norms = torch.linalg.vector_norm(flat, dim=1).double().cpu().tolist()
            accs = (correct.double() / len(x)).tolist() if classes else [None] * self.R
            return loss.tolist(), accs, norms
        losses, accs, norms = [], [], []
        for model in self.models:
            was = model.training
            model.eval()
            model.zero_grad(set_to_none=True)
            total, right = 0.0, 0
            for i in range(0, len(x), self.eval_chunk):
                xb, yb = x[i : i + self.eval_chunk], y[i : i + self.eval_chunk]
                z = model.logits(xb)
                part = self._loss(z, yb) * (len(xb) / len(x))
                part.backward()
                total += float(part.detach())
                if classes:
                    right += int((predict_classes(z.detach()) == yb).sum())
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            norms.append(float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))))
            model.zero_grad(set_to_none=True)
            model.train(was)
            losses.append(total)
            accs.append(right / len(x) if classes else None)
        return losses, accs, norms

    def _without_penalty_grads(self, flat_grad: torch.Tensor) -> list[torch.Tensor]:
        """Return the flat gradient with the L1/L2 penalty terms taken out again (data loss only)."""
        out = flat_grad.clone()
        offset = 0
        for w in self.net.W:
            n = w[0].numel()
            part = out[:, offset : offset + n].view_as(w)
            if self.net.l1 is not None:
                part -= torch.sign(w) * self.net._l1
            if self.net.l2 is not None:
                part -= w * self.net._l2x2
            offset += n
        return [out]

    def _append_records(self, epoch: int, lrs, seconds: float) -> list[EpochRecord | None]:
        tr_loss, tr_acc, grads = self.train_metrics()
        te_loss, te_acc = self.evaluate(self.x_test, self.y_test)
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
                self.diverged_at[r] = epoch
                rec = self._nan_record(epoch, lrs[r], seconds)
            self.histories[r].append(rec)
            out.append(rec)
        return out

    def _exploded(self, r: int, loss: float) -> bool:
        """A loss that is not finite, or has grown beyond EXPLODED times its epoch-0 value, has diverged."""
        if not math.isfinite(loss):
            return True
        start = self.histories[r][0].train_loss if self.histories[r] else loss
        return loss > EXPLODED * max(1.0, abs(start))

    def _nan_record(self, epoch: int, lr: float, seconds: float) -> EpochRecord:
        nan, has_test, classes = float("nan"), self.data.has_test, self.data.n_classes is not None
        return EpochRecord(
            epoch,
            nan,
            nan if has_test else None,
            nan if classes else None,
            nan if has_test and classes else None,
            lr,
            None,
            seconds,
        )

    # -- training -----------------------------------------------------------------------------------------
    def _batch_step(self, xb: torch.Tensor, yb: torch.Tensor, lrs: list[float]) -> list[float]:
        if self.fused:
            # no loss or norm here: a diverged run's weights turn NaN and the epoch-end evaluation shows it
            self.net.backward(xb, yb, want_loss=False)
            self.stepper.step(self.net.grads, lrs)
            return None
        values = []
        for r, (model, opt, c) in enumerate(zip(self.models, self.optimizers, self.configs)):
            if self.diverged_at[r] is not None:
                values.append(float("nan"))
                continue
            opt.zero_grad(set_to_none=True)
            loss = self._loss(model.logits(xb, self._dropout_gens[r]), yb) + _penalty(model, c)
            loss.backward()
            values.append(float(loss.detach()))
            if math.isfinite(values[-1]):
                opt.step()
        return values

    def run_epoch(
        self, should_stop: Callable[[], bool] | None = None, on_batch: Callable[[int, int], None] | None = None
    ) -> list[EpochRecord | None] | None:
        """Train to the end of the current epoch; return each run's record (None for runs already ended).

        Returns None when stopped before the end of the epoch, or when everything has finished.
        """
        if self.finished:
            return None
        n = len(self.x_train)
        if self._order is None:
            cfg = self.configs[0]
            self._order = (
                torch.randperm(n, generator=self._order_gen).to(self.device)
                if cfg.shuffle
                else torch.arange(n, device=self.device)
            )
            small = self.x_train.numel() <= GATHER_ELEMENTS
            self._epoch_data = (self.x_train[self._order], self.y_train[self._order]) if cfg.shuffle and small else None

            self._batch, self._seconds = 0, 0.0
            self._epoch_lrs = [d.lr for d in self.drivers]
        started = time.perf_counter()
        if not self.fused:
            for m in self.models:
                m.train()
        bs, order, shuffled = self.batch_size, self._order, self.configs[0].shuffle
        gathered = self._epoch_data
        batch_drivers = [d for d in self.drivers if d.per_batch]
        per_batch, lrs = bool(batch_drivers), None
        for b in range(self._batch, self.batches_per_epoch):
            if should_stop is not None and should_stop():
                self._batch = b
                self._seconds += time.perf_counter() - started
                return None
            if gathered is not None:
                xb, yb = gathered[0][b * bs : (b + 1) * bs], gathered[1][b * bs : (b + 1) * bs]
            elif shuffled:
                idx = order[b * bs : (b + 1) * bs]
                xb, yb = torch.index_select(self.x_train, 0, idx), torch.index_select(self.y_train, 0, idx)
            else:
                xb, yb = self.x_train[b * bs : (b + 1) * bs], self.y_train[b * bs : (b + 1) * bs]
            if per_batch or lrs is None:
                lrs = [d.lr for d in self.drivers]
            self.lr_trace.append(lrs)
            values = self._batch_step(xb, yb, lrs)
            for d in batch_drivers:
                d.step()
            self._batch = b + 1
            if on_batch is not None:
                on_batch(b + 1, self.batches_per_epoch)
            if values is not None:  # the autograd path checks every batch; fused runs at the epoch's end
                for r, v in enumerate(values):
                    if self.diverged_at[r] is None and not math.isfinite(v):
                        self.diverged_at[r] = self.epoch + 1
                if all(d is not None for d in self.diverged_at):
                    break
        self._seconds += time.perf_counter() - started
        self.epoch += 1
        self._order = self._epoch_data = None
        records = self._append_records(self.epoch, self._epoch_lrs, self._seconds)
        for d, rec in zip(self.drivers, records):
            if rec is not None and not d.per_batch and math.isfinite(rec.train_loss):
                d.step(rec.train_loss)
        self._batch = 0
        return records

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


def _penalty(model: MLP, cfg: TrainConfig):
    if not cfg.l1 and not cfg.l2:
        return 0.0
    total = 0.0
    for linear in model.linears:
        if cfg.l1:
            total = total + cfg.l1 * linear.weight.abs().sum()
        if cfg.l2:
            total = total + cfg.l2 * linear.weight.pow(2).sum()
    return total


class Trainer:
    """One training run: a RunGroup of one, with ``history`` as a flat list of EpochRecords."""

    def __init__(self, config: TrainConfig, data: Dataset | None = None, init_weights: dict | None = None):
        self.group = RunGroup([config], data, init_weights)
        self.config = self.group.configs[0]
        self.data = self.group.data
        self.device = self.group.device

    history = property(lambda self: self.group.histories[0], doc="The run's EpochRecords, epoch 0 first.")
    finished = property(lambda self: self.group.finished, doc="Whether the run has ended.")
    epoch = property(lambda self: self.group.epoch, doc="Epochs completed.")
    diverged_at = property(lambda self: self.group.diverged_at[0], doc="Epoch of divergence, or None.")
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
