"""The numba backend: the fused backend's small float64 MLPs, with each batch's forward, backward and SGD step
compiled into one call for all runs.

It is the fused backend (backends/fused.py) with ``train_batch`` replaced: the same flat (R, P) weights, the
same VectorSGD arithmetic (weight decay, momentum with dampening, Nesterov), the same buffers; evaluation,
weights and logits stay torch's. For the 5-run spiral comparison (2-50-3, batch 20) torch spent ~60 µs per
batch on a dozen small bmm and element-wise calls, the kernel ~25 µs (measured with cProfile, loaded machine).
The sums may be vectorised in any order (fastmath reassoc/contract, nothing else: NaN and inf behave as in
torch), so results equal the torch fused path to ~1e-13 after 100 epochs, not bit for bit (tests: 1e-9).

It applies to what the fused path runs in float64 (small first layers) on the CPU with the SGD family and
no L1/L2 penalty, and is chosen only where the run is long enough to repay importing numba and loading the
kernel (~0.65 s): see ``applies``. ``njit(cache=True)`` keeps the compile (~1.6 s, once per machine) off
later runs.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import torch

from engine.training.backends import chunk_rows
from engine.training.backends.fused import FusedBackend
from engine.training.fused import FUSED_ACTIVATIONS, fused_dtype
from engine.training.stepper import SGD_FAMILY, VectorSGD

ENABLED = True  # False: never choose this backend (tests compare it with the torch fused path)
# Batch steps (epochs x batches) from which importing numba pays for itself in a whole process: the 5-run
# spiral comparison (7,500 steps) saved ~0.35 s of training but paid ~0.65 s for importing numba and loading
# the cached kernel (whole `compare` processes, median of 5: 3.79 s with the kernel, 3.48 s without).
MIN_STEPS_TO_IMPORT = 20_000
ACT_CODES = {name: k for k, name in enumerate(FUSED_ACTIVATIONS)}  # relu, leaky-relu, tanh, sigmoid


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
        self._kernel = compiled()

    def train_batch(self, xb: torch.Tensor, yb: torch.Tensor, lrs: list[float], token=None) -> bool:
        """Take one step for every run in one compiled call (a batch too slow for one pass goes to torch)."""
        n = len(xb)
        if chunk_rows(self.layers, self.R, n) < n:
            return super().train_batch(xb, yb, lrs, token)
        s = self.stepper
        first = s.bufs[0] is None
        buf = self._buf if first else s.bufs[0]
        self._kernel(
            self.net.flat.numpy(),
            self.net.gflat.numpy(),
            buf.numpy(),
            xb.numpy(),
            yb.numpy(),
            self._sizes,
            self._act,
            np.asarray(lrs, dtype=np.float64),
            self._mom,
            self._damp1,
            self._wd,
            self._nest,
            first,
            s.any_wd,
            s.any_nesterov,
        )
        s.bufs = [buf]
        return True


_kernel = None


def compiled():
    """Return the compiled batch kernel (numba imported and the kernel jitted on the first call)."""
    global _kernel
    if _kernel is None:
        from numba import njit

        names = globals()
        for name in ("_act", "_act_grad"):  # callees first: numba reads them as globals
            names[name] = njit(cache=True, error_model="numpy")(names[name])
        _kernel = njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})(sgd_batch)
    return _kernel


def sgd_batch(flat, gflat, buf, x, y, sizes, act, lrs, mom, damp1, wd, nest, first, any_wd, any_nest):
    """One batch for every run r: forward, softmax cross-entropy gradient, backward, then VectorSGD's step.

    ``flat[r]`` holds run r's weights W0..W(L-1) (out x in, row-major) then biases b0..b(L-1), as FusedMLP
    lays them out; ``gflat`` receives the gradients, ``buf`` the momentum buffers. The loops run along
    contiguous rows so that they vectorise. Returns nothing.
    """
    runs, n, layers = flat.shape[0], x.shape[0], sizes.shape[0] - 1
    width = 0
    for i in range(layers + 1):
        width = max(width, sizes[i])
    w_off = np.zeros(layers, dtype=np.int64)
    b_off = np.zeros(layers, dtype=np.int64)
    off = 0
    for i in range(layers):
        w_off[i] = off
        off += sizes[i + 1] * sizes[i]
    for i in range(layers):
        b_off[i] = off
        off += sizes[i + 1]
    acts = np.empty((layers, n, width))  # acts[0] = the input, acts[i] = layer i's input (activations)
    zs = np.empty((layers, n, width))  # pre-activations of each layer
    dz = np.empty((n, width))
    da = np.empty((n, width))
    for j in range(n):
        for k in range(sizes[0]):
            acts[0, j, k] = x[j, k]
    for r in range(runs):
        p, g = flat[r], gflat[r]
        for i in range(layers):  # forward
            fan_in, fan_out = sizes[i], sizes[i + 1]
            w = p[w_off[i] : w_off[i] + fan_out * fan_in].reshape((fan_out, fan_in))
            b = p[b_off[i] : b_off[i] + fan_out]
            a, z = acts[i], zs[i]
            for j in range(n):
                for o in range(fan_out):
                    acc = 0.0
                    for k in range(fan_in):
                        acc += a[j, k] * w[o, k]
                    z[j, o] = b[o] + acc
            if i < layers - 1:
                nxt = acts[i + 1]
                for j in range(n):
                    for o in range(fan_out):
                        nxt[j, o] = _act(act, z[j, o])
        top, classes = zs[layers - 1], sizes[layers]
        for j in range(n):  # d(mean cross-entropy)/d(logits) = (softmax - one-hot) / n
            m = top[j, 0]
            for c in range(1, classes):
                m = max(m, top[j, c])
            total = 0.0
            for c in range(classes):
                e = math.exp(top[j, c] - m)
                dz[j, c] = e
                total += e
            for c in range(classes):
                dz[j, c] = (dz[j, c] / total - (1.0 if y[j] == c else 0.0)) / n
        for i in range(layers - 1, -1, -1):  # backward
            fan_in, fan_out = sizes[i], sizes[i + 1]
            w = p[w_off[i] : w_off[i] + fan_out * fan_in].reshape((fan_out, fan_in))
            gw = g[w_off[i] : w_off[i] + fan_out * fan_in].reshape((fan_out, fan_in))
            gb = g[b_off[i] : b_off[i] + fan_out]
            a = acts[i]
            gw[:, :] = 0.0
            gb[:] = 0.0
            for j in range(n):
                for o in range(fan_out):
                    d = dz[j, o]
                    gb[o] += d
                    for k in range(fan_in):
                        gw[o, k] += d * a[j, k]
            if i:
                zp = zs[i - 1]
                for j in range(n):
                    for k in range(fan_in):
                        da[j, k] = 0.0
                    for o in range(fan_out):
                        d = dz[j, o]
                        for k in range(fan_in):
                            da[j, k] += d * w[o, k]
                    for k in range(fan_in):
                        dz[j, k] = _act_grad(act, zp[j, k], a[j, k], da[j, k])
        neg_lr = -lrs[r]  # VectorSGD: the same arithmetic, element by element
        for q in range(p.shape[0]):
            gq = g[q] + p[q] * wd[r] if any_wd else g[q]
            if first:
                buf[r, q] = gq
            else:
                buf[r, q] = buf[r, q] * mom[r] + gq * damp1[r]
            step = gq + buf[r, q] * nest[r] if any_nest else buf[r, q]
            p[q] = p[q] + step * neg_lr


def _act(code, z):
    if code == 0:
        return z if z > 0.0 else 0.0
    if code == 1:
        return z if z > 0.0 else z * 0.01
    if code == 2:
        return math.tanh(z)
    return 1.0 / (1.0 + math.exp(-z))


def _act_grad(code, z, a, d):
    if code == 0:
        return d if a > 0.0 else 0.0
    if code == 1:
        return d if z > 0.0 else d * 0.01
    if code == 2:
        return d * (1.0 - a * a)
    return d * (a * (1.0 - a))
