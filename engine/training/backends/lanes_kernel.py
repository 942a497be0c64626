"""Compiled kernels for many small float64 MLPs at once, the runs laid side by side in SIMD lanes.

The weights of R runs live in ``S[t, q * LANES + l]``: tile ``t`` of LANES runs, parameter ``q`` of
FusedMLP's flat layout (W0..W(L-1) out x in row-major, then b0..b(L-1)), except that W0 is stored in x out
(``layout_order``), lane ``l``. Every scalar of one network's arithmetic becomes one loop over the LANES
runs of a tile, which LLVM vectorises; there are no reductions across lanes and no per-run calls. The data
is shared by all runs, so the first layer's input is one number per row for every lane, and its
pre-activations and weight gradients are long contiguous multiply-adds. Inner loops index through slices
(views): an index computed from a signed offset gets numba's negative-index check, which stops LLVM from
vectorising. Measured on the 2-core development machine (400 runs of 2-50-3, batch 20): ~1.4 ms per batch
against ~4.8 ms for the torch fused path; LANES = 32 beat 16 and 64 there (more lanes spill the tile's
weights and gradients out of the faster caches, fewer pay more loop overhead).

Gradients, the softmax cross-entropy and VectorSGD's step are the torch fused path's arithmetic, with the
sums in another order: results agree to ~1e-13 (tests: 1e-9). Imported only by backends/numba_lanes.py,
which jits these functions (``compiled()``) on first use.
"""

from __future__ import annotations

import math

import numpy as np

from engine.numba_jit import jit_in_place
from engine.training.backends.mlp_kernel import activation, activation_grad

LANES = 32  # runs per tile: four AVX-512 vectors of float64


def layout_order(sizes) -> np.ndarray:
    """Return, for each kernel parameter position, its index in FusedMLP's flat layout (W0 input-major)."""
    fan_in, fan_out = int(sizes[0]), int(sizes[1])
    total = sum(int(a) * int(b) + int(b) for a, b in zip(sizes, sizes[1:]))
    order = np.arange(total)
    order[: fan_in * fan_out] = np.arange(fan_in * fan_out).reshape(fan_out, fan_in).T.reshape(-1)
    return order


def _offsets(sizes):
    layers = sizes.shape[0] - 1
    w_off = np.zeros(layers, dtype=np.int64)
    b_off = np.zeros(layers, dtype=np.int64)
    off = 0
    for i in range(layers):
        w_off[i] = off
        off += sizes[i + 1] * sizes[i]
    for i in range(layers):
        b_off[i] = off
        off += sizes[i + 1]
    width = 0
    for i in range(layers + 1):
        width = max(width, sizes[i])
    return w_off, b_off, width


def _forward(p, x, j, acts, zs, sizes, w_off, b_off, act):
    """Fill acts (inputs of layers 1..) and zs (pre-activations) of one tile for data row j.

    Layer 0's weights are stored input-major (k, o, lane): its input is the row, the same for every lane,
    so each input adds one long contiguous multiple of its weights to the pre-activations.
    """
    layers, nl = sizes.shape[0] - 1, acts.shape[1] // max(1, _width(sizes))
    for i in range(layers):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        z = zs[i]
        if i == 0:
            span, bb = fan_out * nl, b_off[0] * nl
            pb = p[bb : bb + span]
            for m in range(span):
                z[m] = pb[m]
            for k in range(fan_in):
                v, wb = x[j, k], (w_off[0] + k * fan_out) * nl
                pw = p[wb : wb + span]
                for m in range(span):
                    z[m] += v * pw[m]
        else:
            a = acts[i]
            for o in range(fan_out):
                zb, wb, bb = o * nl, (w_off[i] + o * fan_in) * nl, (b_off[i] + o) * nl
                zo, pb = z[zb : zb + nl], p[bb : bb + nl]
                for l in range(nl):
                    zo[l] = pb[l]
                for k in range(fan_in):
                    ak, pk = a[k * nl : k * nl + nl], p[wb + k * nl : wb + k * nl + nl]
                    for l in range(nl):
                        zo[l] += ak[l] * pk[l]
        if i < layers - 1:
            nxt, span = acts[i + 1], fan_out * nl
            if act == 0:  # one branch-free loop per activation, so that it vectorises
                for m in range(span):
                    nxt[m] = max(z[m], 0.0)
            elif act == 1:
                for m in range(span):
                    nxt[m] = z[m] if z[m] > 0.0 else z[m] * 0.01
            else:
                for m in range(span):
                    nxt[m] = activation(act, z[m])


def _backward(p, g, x, j, acts, zs, dz, da, sizes, w_off, b_off, act):
    """Add one row's gradient (dz holds d loss/d logits) to g; dz and da are overwritten."""
    layers, nl = sizes.shape[0] - 1, dz.shape[0] // max(1, _width(sizes))
    for i in range(layers - 1, -1, -1):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        if i == 0:  # input-major weights, see _forward
            span, bb = fan_out * nl, b_off[0] * nl
            gb = g[bb : bb + span]
            for m in range(span):
                gb[m] += dz[m]
            for k in range(fan_in):
                v, wb = x[j, k], (w_off[0] + k * fan_out) * nl
                gw = g[wb : wb + span]
                for m in range(span):
                    gw[m] += v * dz[m]
            continue
        a, span = acts[i], fan_in * nl
        for m in range(span):
            da[m] = 0.0
        for o in range(fan_out):  # the weight gradient and the input gradient in one pass over the weights
            zb, wb, bb = o * nl, (w_off[i] + o * fan_in) * nl, (b_off[i] + o) * nl
            do, gb = dz[zb : zb + nl], g[bb : bb + nl]
            for l in range(nl):
                gb[l] += do[l]
            for k in range(fan_in):
                ak, gk = a[k * nl : k * nl + nl], g[wb + k * nl : wb + k * nl + nl]
                dk, pk = da[k * nl : k * nl + nl], p[wb + k * nl : wb + k * nl + nl]
                for l in range(nl):
                    gk[l] += do[l] * ak[l]
                    dk[l] += do[l] * pk[l]
        zp = zs[i - 1]
        if act == 0:
            for m in range(span):
                dz[m] = 0.0 if a[m] <= 0.0 else da[m]  # as activation_grad
        elif act == 2:
            for m in range(span):
                dz[m] = da[m] * (1.0 - a[m] * a[m])
        else:
            for m in range(span):
                dz[m] = activation_grad(act, zp[m], a[m], da[m])


def _width(sizes):
    width = 0
    for i in range(sizes.shape[0]):
        width = max(width, sizes[i])
    return width


def _softmax(top, classes, dz, mx, tot):
    """dz[c] = softmax(top)[c] per lane; mx and tot receive each lane's max logit and sum of exponentials."""
    nl = mx.shape[0]
    for l in range(nl):
        mx[l] = top[l]
    for c in range(1, classes):
        tc = top[c * nl : c * nl + nl]
        for l in range(nl):
            mx[l] = max(mx[l], tc[l])
    for l in range(nl):
        tot[l] = 0.0
    for c in range(classes):
        tc, dc = top[c * nl : c * nl + nl], dz[c * nl : c * nl + nl]
        for l in range(nl):
            e = math.exp(tc[l] - mx[l])
            dc[l] = e
            tot[l] += e
    for c in range(classes):
        dc = dz[c * nl : c * nl + nl]
        for l in range(nl):
            dc[l] = dc[l] / tot[l]


def _scratch(sizes, nl):
    """Return (w_off, b_off, acts, zs, dz, da, mx, tot): the layers' offsets and one tile's work arrays for one
    data row (every layer's inputs and pre-activations, the gradients, and each lane's max logit and sum)."""
    layers = sizes.shape[0] - 1
    w_off, b_off, width = _offsets(sizes)
    acts, zs = np.empty((layers, width * nl)), np.empty((layers, width * nl))
    return w_off, b_off, acts, zs, np.empty(width * nl), np.empty(width * nl), np.empty(nl), np.empty(nl)


def _minus_one_hot(dz, classes, label, divisor, nl):
    """Turn dz (each lane's softmax) into d(loss / divisor)/d(logits) for one row of class ``label``."""
    for c in range(classes):
        hot = 1.0 if c == label else 0.0
        dc = dz[c * nl : c * nl + nl]
        for l in range(nl):
            dc[l] = (dc[l] - hot) / divisor


def lanes_batch(S, G, BUF, x, y, sizes, act, lrs, mom, damp1, wd, nest, first, any_wd, any_nest, divisor, zero, step):
    """Gradients of the batch (x, y) for every run, then (``step``) VectorSGD's update.

    ``G`` receives d(sum of row losses / divisor)/d(weights) (``zero``: overwritten, else added: a batch in
    row chunks passes the whole batch's rows as divisor), ``BUF`` holds the momentum buffers; lrs, mom,
    damp1, wd, nest are (tiles, LANES) per-run values; S, G, BUF are (tiles, P x LANES). Returns nothing.
    """
    tiles, n, layers, nl = S.shape[0], x.shape[0], sizes.shape[0] - 1, lrs.shape[1]
    classes = sizes[layers]
    w_off, b_off, acts, zs, dz, da, mx, tot = _scratch(sizes, nl)
    for t in range(tiles):
        p, g = S[t], G[t]
        if zero:
            g[:] = 0.0
        for j in range(n):
            _forward(p, x, j, acts, zs, sizes, w_off, b_off, act)
            _softmax(zs[layers - 1], classes, dz, mx, tot)
            _minus_one_hot(dz, classes, y[j], divisor, nl)
            _backward(p, g, x, j, acts, zs, dz, da, sizes, w_off, b_off, act)
        if step:
            _step(p, g, BUF[t], lrs[t], mom[t], damp1[t], wd[t], nest[t], first, any_wd, any_nest)


def _step(p, g, b, lr, mom, damp1, wd, nest, first, any_wd, any_nest):
    """VectorSGD's update of one tile (g is overwritten with the decayed gradient where there is decay)."""
    nl = lr.shape[0]
    for qb in range(0, p.shape[0], nl):
        pq, gq, bq = p[qb : qb + nl], g[qb : qb + nl], b[qb : qb + nl]
        if any_wd:
            for l in range(nl):
                gq[l] = gq[l] + pq[l] * wd[l]
        if first:
            for l in range(nl):
                bq[l] = gq[l]
        else:
            for l in range(nl):
                bq[l] = bq[l] * mom[l] + gq[l] * damp1[l]
        if any_nest:  # Nesterov lanes (nest ≠ 0) step on g + momentum·buf, the others on buf
            for l in range(nl):
                pq[l] = pq[l] + ((gq[l] + bq[l] * nest[l]) if nest[l] != 0.0 else bq[l]) * -lr[l]
        else:
            for l in range(nl):
                pq[l] = pq[l] + bq[l] * -lr[l]


def lanes_metrics(S, G, x, y, sizes, act, want_grad, divisor, loss, correct):
    """Every run's summed cross-entropy (``loss``) and right predictions (``correct``) on (x, y), both (tiles, LANES).

    With ``want_grad``, ``G`` receives (adds) d(sum of row losses / divisor)/d(weights).
    Returns nothing.
    """
    tiles, n, layers, nl = S.shape[0], x.shape[0], sizes.shape[0] - 1, loss.shape[1]
    classes = sizes[layers]
    w_off, b_off, acts, zs, dz, da, mx, tot = _scratch(sizes, nl)
    best = np.empty(nl)
    arg = np.empty(nl, dtype=np.int64)
    for t in range(tiles):
        p, g = S[t], G[t]
        for j in range(n):
            _forward(p, x, j, acts, zs, sizes, w_off, b_off, act)
            top, yj = zs[layers - 1], y[j]
            _softmax(top, classes, dz, mx, tot)
            for l in range(nl):
                loss[t, l] += mx[l] + math.log(tot[l]) - top[yj * nl + l]
                best[l] = top[l]
                arg[l] = 0
            for c in range(1, classes):
                for l in range(nl):
                    if top[c * nl + l] > best[l]:
                        best[l] = top[c * nl + l]
                        arg[l] = c
            for l in range(nl):
                if arg[l] == yj:
                    correct[t, l] += 1
            if want_grad:
                _minus_one_hot(dz, classes, yj, divisor, nl)
                _backward(p, g, x, j, acts, zs, dz, da, sizes, w_off, b_off, act)


_CALLEES = ("activation", "activation_grad", "_offsets", "_width", "_scratch", "_minus_one_hot")
_CALLEES += ("_forward", "_backward", "_softmax", "_step")  # callees first: numba reads them as globals
CACHE = True  # False: compile in memory only (to inspect the generated code)


def compiled():
    """Return (lanes_batch, lanes_metrics) compiled (numba imported and the kernels jitted on the first call)."""
    opts = {"cache": CACHE, "error_model": "numpy", "fastmath": {"reassoc", "contract"}}
    return jit_in_place(globals(), _CALLEES, ("lanes_batch", "lanes_metrics"), **opts)
