"""Compiled per-run kernels for small float64 MLPs: one batch's step, and an epoch-end measurement.

``flat[r]`` holds run r's weights W0..W(L-1) (out x in, row-major) then biases b0..b(L-1), FusedMLP's
layout. Every layer's loops run along its longer side, so that they vectorise: a narrow input layer
(2 -> 50 for the spiral) adds each input times a row of its transposed weights to the 50 pre-activations
(and its weight gradient the same way round), while a narrow output layer (50 -> 3) takes dot products
along its 50 inputs. Walking the 2-input layer along its 2 inputs, as a plain loop does, spent most of
the time in loop overhead: this order made the spiral comparison's steps ~1.5x faster (measured on the
2-core development machine).

The sums may be vectorised in any order (fastmath reassoc/contract, nothing else: NaN and inf behave as
in torch), so results equal the torch fused path to ~1e-13, not bit for bit (tests: 1e-9). Imported by
backends/numba_mlp.py, which jits these functions (``compiled()``) on first use.
"""

from __future__ import annotations

import math

import numpy as np

from engine.numba_jit import jit_in_place

METRIC_BLOCK = 128  # rows per pass of the measurement: their activations stay in the faster caches


def _offsets(sizes):
    layers = sizes.shape[0] - 1
    w_off = np.zeros(layers, dtype=np.int64)
    b_off = np.zeros(layers, dtype=np.int64)
    off, width, most = 0, 0, 0
    for i in range(layers):
        w_off[i] = off
        off += sizes[i + 1] * sizes[i]
        most = max(most, sizes[i + 1] * sizes[i])
    for i in range(layers):
        b_off[i] = off
        off += sizes[i + 1]
    for i in range(layers + 1):
        width = max(width, sizes[i])
    return w_off, b_off, width, most


def _scratch(sizes, rows):
    """Return (w_off, b_off, acts, zs, dz, da, wt): the layers' offsets in a run's weights and the work arrays
    of a pass over ``rows`` rows."""
    layers = sizes.shape[0] - 1
    w_off, b_off, width, most = _offsets(sizes)
    acts, zs = np.empty((layers, rows, width)), np.empty((layers, rows, width))
    return w_off, b_off, acts, zs, np.empty((rows, width)), np.empty((rows, width)), np.empty(most)


def _forward(p, x, n, sizes, act, w_off, b_off, acts, zs, wt):
    """Fill zs[i, :n] (pre-activations) and acts[i, :n] (inputs of layer i; acts[0] = x) for one run."""
    layers = sizes.shape[0] - 1
    for j in range(n):
        for k in range(sizes[0]):
            acts[0, j, k] = x[j, k]
    for i in range(layers):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        w = p[w_off[i] : w_off[i] + fan_out * fan_in].reshape((fan_out, fan_in))
        b = p[b_off[i] : b_off[i] + fan_out]
        a, z = acts[i], zs[i]
        if fan_out > fan_in:  # along the outputs: each input adds a multiple of a transposed row
            t = wt[: fan_in * fan_out].reshape((fan_in, fan_out))
            for o in range(fan_out):
                for k in range(fan_in):
                    t[k, o] = w[o, k]
            for j in range(n):
                zj, aj = z[j], a[j]
                for o in range(fan_out):
                    zj[o] = b[o]
                for k in range(fan_in):
                    v, tk = aj[k], t[k]
                    for o in range(fan_out):
                        zj[o] += v * tk[o]
        else:  # along the inputs: one dot product per output
            for j in range(n):
                aj = a[j]
                for o in range(fan_out):
                    wo, acc = w[o], 0.0
                    for k in range(fan_in):
                        acc += aj[k] * wo[k]
                    z[j, o] = b[o] + acc
        if i < layers - 1:
            nxt = acts[i + 1]
            for j in range(n):
                for o in range(fan_out):
                    nxt[j, o] = activation(act, z[j, o])


def _backward(p, g, n, sizes, act, w_off, b_off, acts, zs, dz, da, wt):
    """Add d(loss)/d(weights) to g, dz[:n] holding d(loss)/d(logits) (dz and da are overwritten)."""
    layers = sizes.shape[0] - 1
    for i in range(layers - 1, -1, -1):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        w = p[w_off[i] : w_off[i] + fan_out * fan_in].reshape((fan_out, fan_in))
        gw = g[w_off[i] : w_off[i] + fan_out * fan_in].reshape((fan_out, fan_in))
        gb = g[b_off[i] : b_off[i] + fan_out]
        a = acts[i]
        for j in range(n):
            for o in range(fan_out):
                gb[o] += dz[j, o]
        if fan_out > fan_in:  # along the outputs, into a transposed gradient
            t = wt[: fan_in * fan_out].reshape((fan_in, fan_out))
            t[:, :] = 0.0
            for j in range(n):
                dj, aj = dz[j], a[j]
                for k in range(fan_in):
                    v, tk = aj[k], t[k]
                    for o in range(fan_out):
                        tk[o] += v * dj[o]
            for o in range(fan_out):
                for k in range(fan_in):
                    gw[o, k] += t[k, o]
        else:
            for j in range(n):
                aj = a[j]
                for o in range(fan_out):
                    d, go = dz[j, o], gw[o]
                    for k in range(fan_in):
                        go[k] += d * aj[k]
        if i:
            zp = zs[i - 1]
            for j in range(n):
                dj, daj = dz[j], da[j]
                for k in range(fan_in):
                    daj[k] = 0.0
                for o in range(fan_out):  # along the inputs: rows of W are contiguous
                    d, wo = dj[o], w[o]
                    for k in range(fan_in):
                        daj[k] += d * wo[k]
                for k in range(fan_in):
                    dj[k] = activation_grad(act, zp[j, k], a[j, k], daj[k])


def _logit_grad(top, y, n, classes, divisor, dz):
    """dz[j] = (softmax(top[j]) - one-hot(y[j])) / divisor for the first n rows; returns nothing."""
    for j in range(n):
        m = top[j, 0]
        for c in range(1, classes):
            m = max(m, top[j, c])
        total = 0.0
        for c in range(classes):
            e = math.exp(top[j, c] - m)
            dz[j, c] = e
            total += e
        for c in range(classes):
            dz[j, c] = (dz[j, c] / total - (1.0 if y[j] == c else 0.0)) / divisor


def mlp_batches(flat, gflat, buf, x, y, size, b0, b1, sizes, act, lrs, mom, damp1, wd, nest, first, any_wd, any_nest):
    """Batches b0..b1-1 of (x, y) (rows b·size to (b+1)·size, the last one shorter) for every run r, one step
    each: forward, softmax cross-entropy gradient, backward, then VectorSGD's step.

    ``gflat`` receives the gradients, ``buf`` the momentum buffers; ``first``: the first of these batches is
    the run's first step (the buffers start from its gradient). One call for a stretch of an epoch keeps the
    Python between batches, and the GIL, out of training. Returns nothing.
    """
    runs, layers = flat.shape[0], sizes.shape[0] - 1
    w_off, b_off, acts, zs, dz, da, wt = _scratch(sizes, size)
    for b in range(b0, b1):
        start = b * size
        end = min(start + size, x.shape[0])
        xb, yb, n = x[start:end], y[start:end], end - start
        for r in range(runs):
            p, g = flat[r], gflat[r]
            g[:] = 0.0
            _forward(p, xb, n, sizes, act, w_off, b_off, acts, zs, wt)
            _logit_grad(zs[layers - 1], yb, n, sizes[layers], float(n), dz)
            _backward(p, g, n, sizes, act, w_off, b_off, acts, zs, dz, da, wt)
            neg_lr = -lrs[r]  # VectorSGD: the same arithmetic, element by element
            for q in range(p.shape[0]):
                gq = g[q] + p[q] * wd[r] if any_wd else g[q]
                if first and b == b0:
                    buf[r, q] = gq
                else:
                    buf[r, q] = buf[r, q] * mom[r] + gq * damp1[r]
                step = gq + buf[r, q] * nest[r] if any_nest and nest[r] != 0.0 else buf[r, q]  # Nesterov runs
                p[q] = p[q] + step * neg_lr


def mlp_metrics(flat, gflat, x, y, sizes, act, want_grad, divisor, loss, correct, r0, r1):
    """Add runs r0..r1-1's summed cross-entropy on (x, y) to loss[r] and right predictions to correct[r].

    With ``want_grad``, gflat[r] receives (adds) d(sum of row losses / divisor)/d(weights). Returns nothing.
    """
    n, layers = x.shape[0], sizes.shape[0] - 1
    classes = sizes[layers]
    rows = min(n, METRIC_BLOCK)
    w_off, b_off, acts, zs, dz, da, wt = _scratch(sizes, rows)
    for r in range(r0, r1):
        p, g = flat[r], gflat[r]
        for start in range(0, n, rows):
            m = min(rows, n - start)
            xs, ys = x[start : start + m], y[start : start + m]
            _forward(p, xs, m, sizes, act, w_off, b_off, acts, zs, wt)
            top = zs[layers - 1]
            for j in range(m):
                best, arg = top[j, 0], 0
                for c in range(1, classes):
                    if top[j, c] > best:
                        best, arg = top[j, c], c
                total = 0.0
                for c in range(classes):
                    total += math.exp(top[j, c] - best)
                loss[r] += best + math.log(total) - top[j, ys[j]]
                if arg == ys[j]:
                    correct[r] += 1
            if want_grad:
                _logit_grad(top, ys, m, classes, divisor, dz)
                _backward(p, g, m, sizes, act, w_off, b_off, acts, zs, dz, da, wt)


def activation(code, z):
    """Return the activation (ACT_CODES: relu, leaky-relu, tanh, sigmoid) of z, NaN kept as in torch."""
    if code == 0:
        return 0.0 if z <= 0.0 else z  # NaN stays NaN, as in torch: divergence must show
    if code == 1:
        return z if z > 0.0 else z * 0.01
    if code == 2:
        return math.tanh(z)
    return 1.0 / (1.0 + math.exp(-z))


def activation_grad(code, z, a, d):
    """Return d(loss)/dz from d = d(loss)/da, the pre-activation z and its activation a, as torch does."""
    if code == 0:
        return 0.0 if a <= 0.0 else d  # torch's threshold_backward: a NaN input passes the gradient
    if code == 1:
        return d if z > 0.0 else d * 0.01
    if code == 2:
        return d * (1.0 - a * a)
    return d * (a * (1.0 - a))


_CALLEES = ("activation", "activation_grad", "_offsets", "_scratch", "_forward", "_backward", "_logit_grad")


def compiled():
    """Return (mlp_batches, mlp_metrics) compiled (numba imported and the kernels jitted on the first call)."""
    opts = {"cache": True, "error_model": "numpy", "fastmath": {"reassoc", "contract"}}
    return jit_in_place(globals(), _CALLEES, ("mlp_batches", "mlp_metrics"), **opts)
