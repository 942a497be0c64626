"""The fused backend: R plain MLPs stacked into one FusedMLP, hand-written gradients, vectorised steps.

All runs cost about one: every layer is one bmm for all runs, and the SGD family steps every run at once
(VectorSGD); Adam, AMSGrad and AdamW call torch's fused kernel on the flat weights (FlatAdam); other
optimizers get one torch.optim optimizer per run over views of the stacked weights.
"""

from __future__ import annotations

import torch

from engine.training.backends import Backend, Interrupted, chunk_rows, stop_requested
from engine.training.fused import FusedMLP
from engine.training.stepper import ADAM_FAMILY, SGD_FAMILY, FlatAdam, PerRunOptim, VectorSGD

FLAT_ADAM = True  # False: Adam through per-run torch.optim as before FlatAdam (the benchmark's comparison)


class FusedBackend(Backend):
    """Stacked weights (``net``) and their stepper; see engine/training/fused.py for the maths."""

    def __init__(self, configs, models, device: torch.device, n_classes: int | None):
        super().__init__(configs, device, n_classes)
        n_layers = len(models[0].linears)
        self.net = FusedMLP(
            [[m.linears[i].weight.detach() for m in models] for i in range(n_layers)],
            [[m.linears[i].bias.detach() for m in models] for i in range(n_layers)],
            configs[0].activation,
            device,
            [c.l1 for c in configs],
            [c.l2 for c in configs],
        )
        if all(c.optimizer in SGD_FAMILY for c in configs):
            self.stepper = VectorSGD(self.net.params, configs)
        elif FLAT_ADAM and all(c.optimizer in ADAM_FAMILY for c in configs):
            self.stepper = FlatAdam(self.net.params, configs)
        else:
            self.stepper = PerRunOptim(self.net.params, configs)
        self.optimizers = self.stepper.optimizers
        self.path = f"fused, {self.stepper.name}"
        self.dtype = self.net.dtype
        self._chunk_rows: dict[int, int] = {}  # batch rows -> rows per chunk

    def train_batch(self, xb: torch.Tensor, yb: torch.Tensor, lrs: list[float], token=None) -> bool:
        """Take one step for every run; return False (nothing changed) when stopped inside a slow batch."""
        n = xb.shape[0]
        rows = self._chunk_rows.get(n)
        if rows is None:
            rows = self._chunk_rows[n] = chunk_rows(self.layers, self.R, n)
        if rows >= n:
            # no loss or norm here: a diverged run's weights turn NaN and the epoch-end evaluation shows it
            self.net.backward(xb, yb, want_loss=False)
        else:
            # the gradients are scratch space: overwriting them leaves the weights and the stepper untouched
            for k, start in enumerate(range(0, n, rows)):
                if k and stop_requested(token):
                    return False
                end = min(start + rows, n)
                self.net.backward(
                    xb[start:end], yb[start:end], want_loss=False, rows=n, accumulate=k > 0, penalties=end == n
                )
        self.stepper.step(self.net.grads, lrs)
        return True

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, token=None) -> tuple[list[float], list[float | None]]:
        """Return every run's (mean cross-entropy, accuracy) on (x, y); raise Interrupted if stopped."""
        totals, correct = torch.zeros(self.R, dtype=torch.float64), torch.zeros(self.R, dtype=torch.long)
        with torch.no_grad():
            for k, i in enumerate(range(0, len(x), self.eval_chunk)):
                if k and stop_requested(token):
                    raise Interrupted
                xb, yb = x[i : i + self.eval_chunk], y[i : i + self.eval_chunk]
                if self.net.single is not None:  # one run: summed in float32 within the chunk
                    loss_sum, right = self.net.single.evaluate(xb, yb)
                    totals += loss_sum.double().cpu()
                    correct += right.cpu()
                    continue
                z = self.net.logits(xb)
                totals += self.net.losses(z, yb).double().cpu() * len(xb)
                correct += (z.argmax(dim=2) == yb).sum(dim=1).cpu()
        return (totals / len(x)).tolist(), (correct.double() / len(x)).tolist()

    def train_metrics(self, x: torch.Tensor, y: torch.Tensor, token=None):
        """Return every run's (loss, accuracy, gradient norm of the data loss) from one forward and backward pass."""
        loss = torch.zeros(self.R, dtype=torch.float64)
        correct = torch.zeros(self.R, dtype=torch.long)
        acc_grads = None
        for k, i in enumerate(range(0, len(x), self.eval_chunk)):
            if k and stop_requested(token):
                raise Interrupted
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
        flat = acc_grads[0]
        if self.net.l1 is not None or self.net.l2 is not None:
            flat = self._without_penalty_grads(flat)
        norms = torch.linalg.vector_norm(flat, dim=1).double().cpu().tolist()
        return loss.tolist(), (correct.double() / len(x)).tolist(), norms

    def _without_penalty_grads(self, flat_grad: torch.Tensor) -> torch.Tensor:
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
        return out

    def logits(self, x: torch.Tensor, r: int) -> torch.Tensor:
        """Return run r's float logits for x."""
        with torch.no_grad():
            return self.net.logits(x.to(self.device, self.dtype), r)[0].float()

    def weights(self, r: int) -> dict:
        """Return run r's weights in model.MLP.get_weights()'s layout."""
        return self.net.run_weights(r)
