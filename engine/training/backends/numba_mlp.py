"""The numba backend: the fused backend's small float64 MLPs, with each batch's forward, backward and SGD step
compiled into one call for all runs.

It is the fused backend (backends/fused.py) with ``train_batch`` and the epoch-end measurements replaced
(backends/mlp_kernel.py): the same flat (R, P) weights, the same VectorSGD arithmetic (weight decay,
momentum with dampening, Nesterov), the same buffers; weights and logits stay torch's. The runs' training
and measurements are shared out over the cores (backends/spread.py): runs are independent, so each thread
trains whole runs. For the 5-run
spiral comparison (2-50-3, batch 20, 100 epochs) the steps took ~0.2 s and the measurements ~0.1 s,
against ~0.6 s and ~0.25 s on torch (2-core development machine). The sums may be vectorised in any
order (fastmath reassoc/contract, nothing else: NaN and inf behave as in torch), so results equal the torch
fused path to ~1e-13 after 100 epochs, not bit for bit (tests: 1e-9).

It applies to what the fused path runs in float64 (small first layers) on the CPU with the SGD family and
no L1/L2 penalty, and is chosen only where the run is long enough to repay importing numba and loading the
kernels (~0.3 s): see ``applies``. ``njit(cache=True)`` keeps the compile (~1.6 s, once per machine) off
later runs.
"""

from __future__ import annotations

import importlib.util
from functools import partial

import numpy as np
import torch

from engine.training.backends import Interrupted, chunk_rows, row_work, stop_requested
from engine.training.backends.fused import FusedBackend
from engine.training.backends.spread import spread, thread_count
from engine.training.fused import FUSED_ACTIVATIONS, fused_dtype
from engine.training.stepper import SGD_FAMILY, VectorSGD

ENABLED = True  # False: never choose this backend (tests compare it with the torch fused path)
# Batch steps (epochs x batches) from which importing numba (~0.3 s, the kernels cached) pays for itself in a
# whole process: the 5-run spiral comparison (7,500 steps) trained in ~0.3 s against ~0.9 s on torch, and its
# whole `compare` process took 2.08 s against 2.19 s (medians of 7 alternating runs, 2026-11-23).
MIN_STEPS_TO_IMPORT = 6_000
ACT_CODES = {name: k for k, name in enumerate(FUSED_ACTIVATIONS)}  # relu, leaky-relu, tanh, sigmoid
METRIC_ROWS = 4096  # rows per compiled measurement call: a stop is seen between two
SPAN_WORK = 50_000_000  # multiply-adds per call of train_span (~25 ms here): a stop or pause waits at most that


def applies(configs, n_classes, device, batches_per_epoch: int) -> bool:
    """Return whether the numba backend should train these runs (fusable, float64, CPU, SGD family, no L1/L2)."""
    cfg = configs[0]
    if not ENABLED or importlib.util.find_spec("numba") is None or torch.device(device).type != "cpu":
        return False
    if fused_dtype(list(cfg.layers)) != torch.float64 or cfg.output_activation != "none":
        return False
    if any(c.optimizer not in SGD_FAMILY or c.l1 or c.l2 for c in configs):
        return False
    steps = int(cfg.epochs) * int(batches_per_epoch)
    return steps >= MIN_STEPS_TO_IMPORT  # the job alone decides: the same set-up always takes the same backend


class NumbaBackend(FusedBackend):
    """FusedBackend whose training batches run in one compiled call (see the module docstring)."""

    def __init__(self, configs, models, device, n_classes):
        super().__init__(configs, models, device, n_classes)
        assert isinstance(self.stepper, VectorSGD) and self.dtype == torch.float64
        self.path = "fused, numba kernel"
        s = self.stepper
        self._mom = s._mom[0].view(-1).numpy().copy()
        self._damp1 = s._damp1[0].view(-1).numpy().copy()
        self._wd = s._wd[0].view(-1).numpy().copy()
        self._nest = s._nest[0].view(-1).numpy().copy()
        self._sizes = np.array(self.layers, dtype=np.int64)
        self._act = ACT_CODES[configs[0].activation]
        self._buf = torch.zeros_like(self.net.flat)
        from engine.training.backends import mlp_kernel

        self._batches, self._metrics = mlp_kernel.compiled()
        self._rows, self._fit = -1, False
        self._lr_key: list[float] | None = None
        self._lrs = np.zeros(self.R)
        self._views_of: tuple | None = None
        self._views: tuple = ()
        self.threads = thread_count(self.R)

    def train_batch(self, xb: torch.Tensor, yb: torch.Tensor, lrs: list[float], token=None) -> bool:
        """Take one step for every run in one compiled call (a batch too slow for one pass goes to torch)."""
        n = len(xb)
        if not self._fits(n):
            return super().train_batch(xb, yb, lrs, token)
        self._train(xb, yb, n, 0, 1, lrs)
        return True

    def train_span(self, xs: torch.Tensor, ys: torch.Tensor, size: int, b: int, lrs: list[float]) -> int:
        """Train batches b, b+1, ... of the epoch's rows (xs, ys) in order, in one compiled call of at most
        SPAN_WORK multiply-adds (a stop is seen between two calls); return the batch reached."""
        if not self._fits(size):  # too slow for one pass: torch, one batch at a time
            end = min((b + 1) * size, len(xs))
            self.train_batch(xs[b * size : end], ys[b * size : end], lrs)
            return b + 1
        per_batch = max(1, size * self.R * row_work(self.layers))
        end = min(-(-len(xs) // size), b + max(1, SPAN_WORK // per_batch))
        self._train(xs, ys, size, b, end, lrs)
        return end

    def _fits(self, rows: int) -> bool:
        """Return whether a batch of ``rows`` rows is one compiled pass (not chunked); remembered per row count,
        since the per-batch Python work is a fifth of a spiral batch."""
        if rows != self._rows:
            self._rows, self._fit = rows, chunk_rows(self.layers, self.R, rows) >= rows
        return self._fit

    def _train(self, x: torch.Tensor, y: torch.Tensor, size: int, b0: int, b1: int, lrs: list[float]) -> None:
        """Train batches b0..b1-1 of ``size`` rows of (x, y) in one compiled call; returns nothing."""
        if lrs != self._lr_key:
            self._lr_key, self._lrs = list(lrs), np.asarray(lrs, dtype=np.float64)
        s = self.stepper
        first = s.bufs[0] is None
        buf = self._buf if first else s.bufs[0]
        args = (self._arrays(buf), x.numpy(), y.numpy(), size, b0, b1, first, s.any_wd, s.any_nesterov)
        spread(partial(self._train_runs, *args), self.R, self.threads)
        s.bufs = [buf]

    def _train_runs(self, arrays, x, y, size, b0, b1, first, any_wd, any_nest, a: int, b: int) -> None:
        """Train runs a..b-1 over batches b0..b1-1 (see _train); each run's arithmetic is the same whichever
        thread runs it, so results do not depend on the thread count. Returns nothing."""
        flat, gflat, momentum = arrays
        self._batches(
            flat[a:b], gflat[a:b], momentum[a:b], x, y, size, b0, b1, self._sizes, self._act, self._lrs[a:b],
            self._mom[a:b], self._damp1[a:b], self._wd[a:b], self._nest[a:b], first, any_wd, any_nest,
        )  # fmt: skip

    def _arrays(self, buf: torch.Tensor) -> tuple:
        """Return numpy views of the weights, their gradients and ``buf`` (made again only when a tensor changed)."""
        key = (self.net.flat, self.net.gflat, buf)
        if self._views_of is None or any(a is not b for a, b in zip(key, self._views_of)):
            self._views_of, self._views = key, tuple(t.numpy() for t in key)
        return self._views

    def _measure(self, x: torch.Tensor, y: torch.Tensor, want_grad: bool, token):
        """Return every run's (mean cross-entropy, accuracy) as arrays; gflat receives the mean loss's gradient."""
        loss, correct = np.zeros(self.R), np.zeros(self.R, dtype=np.int64)
        flat, gflat = self.net.flat.numpy(), self.net.gflat.numpy()
        if want_grad:
            gflat.fill(0.0)
        xs, ys, n = x.numpy(), y.numpy(), len(x)
        for k, i in enumerate(range(0, n, METRIC_ROWS)):
            if k and stop_requested(token):
                raise Interrupted
            j = min(i + METRIC_ROWS, n)
            args = (flat, gflat, xs[i:j], ys[i:j], self._sizes, self._act, want_grad, float(n), loss, correct)
            spread(partial(self._metrics, *args), self.R, self.threads)
        return loss / n, correct / n

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, token=None) -> tuple[list[float], list[float | None]]:
        """Return every run's (mean cross-entropy, accuracy) on (x, y) from one compiled pass per run."""
        loss, acc = self._measure(x, y, False, token)
        return loss.tolist(), acc.tolist()

    def train_metrics(self, x: torch.Tensor, y: torch.Tensor, token=None):
        """Return every run's (loss, accuracy, gradient norm of the mean data loss) from one compiled pass."""
        loss, acc = self._measure(x, y, True, token)
        g = self.net.gflat.numpy()
        return loss.tolist(), acc.tolist(), np.sqrt(np.einsum("rq,rq->r", g, g)).tolist()
