"""Stacked MLPs for R runs at once with hand-written gradients (no autograd graph per batch).

Weights are (R, out, in) tensors; every layer is one bmm for all runs. Small networks compute in
float64: bmm's rounding can depend on how many matrices it multiplies, and training is chaotic enough to
grow a float32 rounding difference ~1000-fold over 100 epochs; in float64 a single run (R = 1) and the
same run inside a batch agree far below 1e-6 (tests check it), and on small matrices the cost is per-call
overhead, not arithmetic. Networks with a large first layer (MNIST) are arithmetic-bound and use float32.
Covers plain MLPs (no dropout, no batch norm) with relu, leaky-relu, tanh or sigmoid hidden units,
trained with cross-entropy on logits or softmax outputs; other set-ups use autograd (backends/autograd.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.training import fused_single

FUSED_ACTIVATIONS = ("relu", "leaky-relu", "tanh", "sigmoid")
FLOAT64_MAX_FIRST_LAYER = 4096  # inputs x units of the first layer up to which float64 is used


def fused_dtype(layers) -> torch.dtype:
    """Return the dtype the fused path uses for these layer sizes."""
    return torch.float64 if layers[0] * layers[1] <= FLOAT64_MAX_FIRST_LAYER else torch.float32


def can_fuse(config, n_classes: int | None) -> bool:
    """Return whether ``config`` can use the fused path."""
    return (
        config.activation in FUSED_ACTIVATIONS
        and not config.batchnorm
        and config.dropout == 0
        and config.loss == "cross-entropy"
        and config.output_activation in ("none", "softmax")
        and n_classes is not None
        and config.layers[-1] >= 2
    )


def _act(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return torch.relu(z)
    if name == "leaky-relu":
        return F.leaky_relu(z, 0.01)
    if name == "tanh":
        return torch.tanh(z)
    return torch.sigmoid(z)


class FusedMLP:
    """R stacked MLPs of one architecture: weights W[i] (R, out, in) and biases B[i] (R, out)."""

    def __init__(
        self,
        weights: list[list[torch.Tensor]],
        biases: list[list[torch.Tensor]],
        activation: str,
        device: torch.device,
        l1: list[float],
        l2: list[float],
        dtype: torch.dtype | None = None,
    ):
        self.dtype = dtype or fused_dtype([weights[0][0].shape[1], weights[0][0].shape[0]])
        self.R = len(weights[0])
        # All of a run's parameters live in one row of a flat (R, P) buffer, each layer a view into it:
        # an optimizer then steps one tensor per run instead of two per layer.
        shapes = [tuple(w[0].shape) for w in weights] + [tuple(b[0].shape) for b in biases]
        total = sum(int(torch.Size(s).numel()) for s in shapes)
        self.flat = torch.zeros(self.R, total, dtype=self.dtype, device=device)
        self.gflat = torch.zeros_like(self.flat)
        views, gviews, offset = [], [], 0
        for shape in shapes:
            n = int(torch.Size(shape).numel())
            views.append(self.flat[:, offset : offset + n].view(self.R, *shape))
            gviews.append(self.gflat[:, offset : offset + n].view(self.R, *shape))
            offset += n
        n_layers = len(weights)
        self.W, self.B = views[:n_layers], views[n_layers:]
        self.gW, self.gB = gviews[:n_layers], gviews[n_layers:]
        with torch.no_grad():
            for view, tensors in zip(views, list(weights) + list(biases)):
                view.copy_(torch.stack(tensors))
        self.activation = activation
        # one run: 2-D products into reused buffers (fused_single.py), a third fewer torch calls a batch
        self.single = fused_single.SinglePass(self) if self.R == 1 and fused_single.ENABLED else None
        self.l1 = l1 if any(l1) else None
        self.l2 = l2 if any(l2) else None
        if self.l1:
            self._l1 = torch.tensor(l1, device=device, dtype=self.dtype).view(-1, 1, 1)
        if self.l2:
            self._l2x2 = torch.tensor([2 * v for v in l2], device=device, dtype=self.dtype).view(-1, 1, 1)

    @property
    def params(self) -> list[torch.Tensor]:
        """Return the parameter tensors an optimizer steps: the one (R, P) flat buffer."""
        return [self.flat]

    @property
    def grads(self) -> list[torch.Tensor]:
        """Return the gradient tensors matching ``params``."""
        return [self.gflat]

    def logits(self, x: torch.Tensor, run: int | None = None) -> torch.Tensor:
        """Return every run's logits, shape (R, len(x), outputs), or only run ``run``'s, shape (1, len(x), outputs)."""
        W, B = (
            (self.W, self.B)
            if run is None
            else ([w[run : run + 1] for w in self.W], [b[run : run + 1] for b in self.B])
        )
        if self.single is not None:
            return self.single.logits(x).unsqueeze(0)
        h = x.expand(W[0].shape[0], *x.shape)
        last = len(W) - 1
        for i, (w, b) in enumerate(zip(W, B)):
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if i < last:
                h = _act(self.activation, h)
        return h

    def losses(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Return each run's mean cross-entropy, shape (R,)."""
        logp = torch.log_softmax(z, dim=-1)
        return -logp.gather(2, y.view(1, -1, 1).expand(self.R, -1, 1)).squeeze(2).mean(1)

    def backward(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        want_loss: bool = True,
        *,
        rows: int | None = None,
        accumulate: bool = False,
        penalties: bool = True,
    ):
        """Fill ``grads`` with d(mean loss + penalties)/d(params) for the batch (x, y).

        For a batch computed in row chunks (gradient accumulation): ``rows`` is the whole batch's row count
        (the mean's divisor), ``accumulate`` adds to ``grads`` instead of overwriting them, and ``penalties``
        (the L1/L2 terms) is True for one chunk only. The defaults compute one whole batch.
        Returns (data losses (R,), correct predictions (R,)), or None when ``want_loss`` is False
        (the training hot path).
        """
        if self.single is not None:
            losses = self.single.backward(x, y, want_loss, rows or x.shape[0], accumulate)
        else:
            losses = self._backward_stacked(x, y, want_loss, rows, accumulate)
        if not penalties:
            return losses
        if self.l1 is not None:
            for w, g in zip(self.W, self.gW):
                g.addcmul_(torch.sign(w), self._l1)
        if self.l2 is not None:
            for w, g in zip(self.W, self.gW):
                g.addcmul_(w, self._l2x2)
        return losses

    def _backward_stacked(self, x, y, want_loss: bool, rows: int | None, accumulate: bool):
        hs, zs = [x.expand(self.R, *x.shape)], []
        last = len(self.W) - 1
        h = hs[0]
        for i, (w, b) in enumerate(zip(self.W, self.B)):
            z = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            zs.append(z)
            if i < last:
                h = _act(self.activation, z)
                hs.append(h)
        idx = y.view(1, -1, 1).expand(self.R, -1, 1)
        if want_loss:
            logp = torch.log_softmax(zs[-1], dim=-1)
            losses = (-logp.gather(2, idx).squeeze(2).mean(1), (zs[-1].argmax(dim=2) == y).sum(dim=1))
            dz = logp.exp()
        else:
            losses = None
            dz = torch.softmax(zs[-1], dim=-1)
        dz.scatter_add_(2, idx, self._minus_one(idx.shape, dz))
        dz.div_(rows or len(x))
        for i in range(last, -1, -1):
            if accumulate:
                self.gW[i].baddbmm_(dz.transpose(1, 2), hs[i])
                self.gB[i].add_(dz.sum(dim=1))
            else:
                torch.bmm(dz.transpose(1, 2), hs[i], out=self.gW[i])
                torch.sum(dz, dim=1, out=self.gB[i])
            if i:
                da = torch.bmm(dz, self.W[i])
                dz = fused_single.act_grad(self.activation, hs[i], da)  # a > 0 exactly where z > 0
        return losses

    def _minus_one(self, shape, like: torch.Tensor) -> torch.Tensor:
        cached = getattr(self, "_m1", None)
        if cached is None or cached.shape != shape:
            cached = self._m1 = torch.full(shape, -1.0, dtype=like.dtype, device=like.device)
        return cached

    def penalties(self) -> torch.Tensor | None:
        """Return each run's L1 + L2 penalty (R,), or None when there is none."""
        if self.l1 is None and self.l2 is None:
            return None
        total = torch.zeros(self.R, device=self.W[0].device, dtype=self.dtype)
        for w in self.W:
            if self.l1 is not None:
                total += self._l1.view(-1) * w.abs().sum((1, 2))
            if self.l2 is not None:
                total += self._l2x2.view(-1) / 2 * w.pow(2).sum((1, 2))
        return total

    def grad_norms(self) -> torch.Tensor:
        """Return each run's total gradient norm (R,)."""
        return torch.linalg.vector_norm(self.gflat, dim=1)

    def run_weights(self, r: int) -> dict:
        """Return run r's weights in the JSON layout of model.MLP.get_weights()."""
        return {
            "layers": [
                {"weight": w[r].float().cpu().tolist(), "bias": b[r].float().cpu().tolist()}
                for w, b in zip(self.W, self.B)
            ]
        }
