"""Large float32 matrix products on the CPU through oneDNN, the kernel library torch ships for this.

torch's CPU matrix products call MKL, which on non-Intel processors runs a slower code path: on the
development machine (AMD EPYC, AVX-512) a 3276x784 by 784x40 product ran at 38 GMAC/s through MKL and
92 GMAC/s through oneDNN, one thread each. oneDNN costs about 12 us more per call, so only products of
at least MIN_WORK multiply-adds use it; smaller ones stay on torch.addmm / torch.mm. Measured inside a
training epoch of 784-40-40-40-10: evaluation chunks take 2.5x less time; a batch of 50 is at the
cross-over (the same epoch time either way), a batch of 200 trains 20 % faster. Both compute the same
float32 sums in another order: results agree to float32 rounding (tests compare them). Where torch has
no oneDNN (another build, another device, float64) everything stays on torch's own products. The
operator has no autograd formula: it is only given tensors outside any graph (the fused path's are).
"""

from __future__ import annotations

import torch

MIN_WORK = 1 << 20  # multiply-adds from which oneDNN's per-call cost is repaid (measured cross-over ~0.9e6)
ENABLED = True  # False: torch's own products everywhere (tests compare the two)

_usable: bool | None = None


def usable() -> bool:
    """Return whether this torch build has oneDNN's linear operator and it computes a product correctly."""
    global _usable
    if _usable is None:
        _usable = False
        try:
            if torch.backends.mkldnn.is_available():
                x = torch.arange(6.0).view(2, 3)
                w = torch.arange(12.0).view(4, 3)
                b = torch.ones(4)
                out = torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
                _usable = bool(torch.equal(out, torch.addmm(b, x, w.t())))
        except (RuntimeError, AttributeError, NotImplementedError):
            _usable = False
    return _usable


def usable_for(like: torch.Tensor) -> bool:
    """Return whether products of tensors like ``like`` (dtype, device, no autograd) may go through oneDNN."""
    return ENABLED and like.dtype == torch.float32 and like.device.type == "cpu" and not like.requires_grad and usable()


def big(rows: int, w: torch.Tensor) -> bool:
    """Return whether ``rows`` rows times weight ``w`` is enough work to repay oneDNN's per-call cost."""
    return rows * w.numel() >= MIN_WORK


def linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Return x @ w.T (+ b) as a new (len(x), len(w)) tensor: oneDNN for large float32 CPU products, else torch.

    No activation is fused into oneDNN's product: its relu turns NaN into 0, which would hide a diverged run.
    """
    if big(x.shape[0], w) and usable_for(x) and not w.requires_grad:
        return torch.ops.mkldnn._linear_pointwise(x, w, b, "none", [], "")
    return torch.mm(x, w.t()) if b is None else torch.addmm(b, x, w.t())


def grad_weight_t(dz_t: torch.Tensor, h_t: torch.Tensor, out: torch.Tensor, accumulate: bool = False) -> None:
    """Write dz_t @ h_t.T into ``out`` (add it with ``accumulate``) through oneDNN; returns nothing.

    A layer's weight gradient from dL/dz as (units, rows) and the layer's input as (inputs, rows); the
    caller has checked ``usable_for`` and ``big``.
    """
    g = torch.ops.mkldnn._linear_pointwise(dz_t, h_t, None, "none", [], "")
    if accumulate:
        out.add_(g)
    else:
        out.copy_(g)
