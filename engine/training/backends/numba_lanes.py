"""The numba lanes backend: many small float64 SGD-family runs (a convergence map, a sweep), side by side.

The fused backend (backends/fused.py) stacks R runs and calls about a dozen small torch operations per batch
and layer; with hundreds of runs those tiny bmm calls cost far more than their multiply-adds (a 20x20 map
of 2-50-3 runs: ~4.8 ms per batch, ~0.34 s per epoch-end measurement, one thread). Here the runs are laid
side by side in SIMD lanes (lanes_kernel.py): one compiled call per batch and per measurement, every scalar
of the network one vector operation across LANES runs.

The weights live in the kernel's (tiles, P x LANES) layout and are copied back to the fused network's flat
(R, P) buffer only when weights or logits are read. Results equal the torch fused path to ~1e-13 (tests:
1e-9); it applies where the numba backend would (float64, CPU, SGD family, no L1/L2) and the group is wide
and long enough to repay importing numba (``applies``).

Tiles are independent and the kernels release the GIL, so a group of several tiles is spread over the
cores this process may use (backends/spread.py); each tile's arithmetic is the same wherever it runs, so
results do not depend on the thread count (tests check it bit for bit).
"""

from __future__ import annotations

import importlib.util
from functools import partial

import numpy as np
import torch

from engine.training.backends import Interrupted, chunk_rows, stop_requested
from engine.training.backends.fused import FusedBackend
from engine.training.backends.numba_mlp import ACT_CODES
from engine.training.backends.spread import spread, thread_count
from engine.training.fused import fused_dtype
from engine.training.stepper import SGD_FAMILY, VectorSGD

ENABLED = True  # False: never choose this backend (tests compare it with the torch fused path)
MIN_RUNS = 16  # fewer runs fill too few lanes: the per-run numba kernel or torch is as fast
# Runs x batch steps from which importing numba and loading the kernels (~0.5-0.7 s) pays for itself: the
# torch fused path spent ~12 us per run and batch step on the 400-run spiral map, the lanes kernel ~4 us.
MIN_RUN_STEPS = 100_000
METRIC_ROWS = 4096  # rows per compiled measurement call: a stop is seen between two


def applies(configs, n_classes, device, batches_per_epoch: int) -> bool:
    """Return whether the lanes backend should train these runs (many float64 SGD-family runs on the CPU)."""
    cfg = configs[0]
    if not ENABLED or len(configs) < MIN_RUNS or torch.device(device).type != "cpu":
        return False
    if importlib.util.find_spec("numba") is None:
        return False
    if fused_dtype(list(cfg.layers)) != torch.float64 or cfg.output_activation != "none":
        return False
    if any(c.optimizer not in SGD_FAMILY or c.l1 or c.l2 for c in configs):
        return False
    return len(configs) * int(cfg.epochs) * int(batches_per_epoch) >= MIN_RUN_STEPS


class LanesBackend(FusedBackend):
    """FusedBackend whose batches and measurements run in the lanes kernels (see the module docstring)."""

    def __init__(self, configs, models, device, n_classes):
        super().__init__(configs, models, device, n_classes)
        assert isinstance(self.stepper, VectorSGD) and self.dtype == torch.float64
        from engine.training.backends import lanes_kernel

        self.path = "fused, numba lanes kernel"
        self.lanes = lanes_kernel.LANES
        self.tiles = -(-self.R // self.lanes)
        s = self.stepper
        self._mom = self._tiled(s._mom[0].view(-1).numpy())
        self._damp1 = self._tiled(s._damp1[0].view(-1).numpy())
        self._wd = self._tiled(s._wd[0].view(-1).numpy())
        self._nest = self._tiled(s._nest[0].view(-1).numpy())
        flat = self.net.flat.numpy()
        self.P = flat.shape[1]
        self._order = lanes_kernel.layout_order(self.layers)
        runs = np.zeros((self.tiles * self.lanes, self.P))
        runs[: self.R] = flat[:, self._order]  # padding lanes: zero weights, rate 0, never read
        self.S = np.ascontiguousarray(runs.reshape(self.tiles, self.lanes, self.P).transpose(0, 2, 1))
        self.S = self.S.reshape(self.tiles, self.P * self.lanes)
        self.G = np.zeros_like(self.S)
        self.BUF = np.zeros_like(self.S)
        self._first = True
        self._synced = True
        self._sizes = np.array(self.layers, dtype=np.int64)
        self._act = ACT_CODES[configs[0].activation]
        self._lr_key: list[float] | None = None
        self._lrs = self._tiled(np.zeros(self.R))
        self._batch, self._metrics = lanes_kernel.compiled()
        self.threads = thread_count(self.tiles)

    def _tiled(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.tiles * self.lanes)
        out[: self.R] = values
        return out.reshape(self.tiles, self.lanes)

    def _sync(self) -> None:
        """Copy the kernel's weights into the fused network (for weights, logits and the torch paths)."""
        if not self._synced:
            runs = self.S.reshape(self.tiles, self.P, self.lanes).transpose(0, 2, 1).reshape(-1, self.P)[: self.R]
            flat = np.empty((self.R, self.P))
            flat[:, self._order] = runs
            self.net.flat.copy_(torch.from_numpy(flat))
            self._synced = True

    def train_batch(self, xb: torch.Tensor, yb: torch.Tensor, lrs: list[float], token=None) -> bool:
        """Take one step for every run in compiled calls; return False (nothing changed) when stopped mid-batch."""
        if lrs != self._lr_key:
            self._lrs = self._tiled(np.asarray(lrs, dtype=np.float64))
            self._lr_key = list(lrs)
        x, y = xb.numpy(), yb.numpy()
        n = len(x)
        rows = chunk_rows(self.layers, self.R, n)
        for k, start in enumerate(range(0, n, rows)):
            if k and stop_requested(token):
                return False  # G is scratch: weights and buffers are untouched
            end = min(start + rows, n)
            args = (x[start:end], y[start:end], self._first, k == 0, end == n, float(n))
            spread(partial(self._batch_tiles, *args), self.tiles, self.threads)
        self._first = False
        self._synced = False
        return True

    def _batch_tiles(self, x, y, first: bool, zero: bool, step: bool, rows: float, a: int, b: int) -> None:
        """Run lanes_batch on tiles a..b-1 (see train_batch); returns nothing."""
        s = self.stepper
        self._batch(
            self.S[a:b], self.G[a:b], self.BUF[a:b], x, y, self._sizes, self._act, self._lrs[a:b], self._mom[a:b],
            self._damp1[a:b], self._wd[a:b], self._nest[a:b], first, s.any_wd, s.any_nesterov, rows, zero, step,
        )  # fmt: skip

    def _metric_tiles(self, x, y, want_grad: bool, rows: float, loss, correct, a: int, b: int) -> None:
        """Run lanes_metrics on tiles a..b-1, adding into loss[a:b] and correct[a:b]; returns nothing."""
        self._metrics(
            self.S[a:b], self.G[a:b], x, y, self._sizes, self._act, want_grad, rows, loss[a:b], correct[a:b]
        )  # fmt: skip

    def _measure(self, x: torch.Tensor, y: torch.Tensor, want_grad: bool, token):
        loss = np.zeros((self.tiles, self.lanes))
        correct = np.zeros((self.tiles, self.lanes), dtype=np.int64)
        if want_grad:
            self.G.fill(0.0)
        xs, ys, n = x.numpy(), y.numpy(), len(x)
        for k, i in enumerate(range(0, n, METRIC_ROWS)):
            if k and stop_requested(token):
                raise Interrupted
            j = min(i + METRIC_ROWS, n)
            args = (xs[i:j], ys[i:j], want_grad, float(n), loss, correct)
            spread(partial(self._metric_tiles, *args), self.tiles, self.threads)
        return loss.reshape(-1)[: self.R] / n, correct.reshape(-1)[: self.R] / n

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, token=None) -> tuple[list[float], list[float | None]]:
        """Return every run's (mean cross-entropy, accuracy) on (x, y); raise Interrupted if stopped."""
        loss, acc = self._measure(x, y, False, token)
        return loss.tolist(), acc.tolist()

    def train_metrics(self, x: torch.Tensor, y: torch.Tensor, token=None):
        """Return every run's (loss, accuracy, gradient norm of the mean data loss) from one compiled pass."""
        loss, acc = self._measure(x, y, True, token)
        g = self.G.reshape(self.tiles, self.P, self.lanes)
        norms = np.sqrt(np.einsum("tql,tql->tl", g, g)).reshape(-1)[: self.R]
        return loss.tolist(), acc.tolist(), norms.tolist()

    def logits(self, x: torch.Tensor, r: int) -> torch.Tensor:
        """Return run r's float logits for x."""
        self._sync()
        return super().logits(x, r)

    def weights(self, r: int) -> dict:
        """Return run r's weights in model.MLP.get_weights()'s layout."""
        self._sync()
        return super().weights(r)
