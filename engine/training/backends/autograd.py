"""The autograd backend: one nn.Module per run with its torch.optim optimizer, for every set-up.

Used where the fused path does not apply (dropout, batch norm, other losses or output activations).
Each run's dropout masks come from its own generator, seeded from the run's seed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from engine.optimizers import build_optimizer
from engine.training.backends import Backend, Interrupted, chunk_rows, stop_requested
from engine.training.model import MLP, apply_output


def data_loss(
    z: torch.Tensor, y: torch.Tensor, loss: str, output_activation: str, n_classes: int | None
) -> torch.Tensor:
    """Return the mean loss of logits ``z`` against targets ``y`` (class indices or numbers)."""
    if n_classes is not None and loss == "cross-entropy":
        scores = torch.sigmoid(z) if output_activation == "sigmoid" else z  # softmax is part of cross-entropy
        return F.cross_entropy(scores, y)
    if n_classes is None or z.shape[1] == 1:
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


def penalty(model: MLP, cfg) -> torch.Tensor | float:
    """Return the run's L1 + L2 weight penalty (0.0 when it has none)."""
    if not cfg.l1 and not cfg.l2:
        return 0.0
    total = 0.0
    for linear in model.linears:
        if cfg.l1:
            total = total + cfg.l1 * linear.weight.abs().sum()
        if cfg.l2:
            total = total + cfg.l2 * linear.weight.pow(2).sum()
    return total


class AutogradBackend(Backend):
    """One MLP and one torch.optim optimizer per run."""

    path = "autograd, per-run torch.optim"

    def __init__(self, configs, models, device: torch.device, n_classes: int | None):
        super().__init__(configs, device, n_classes)
        self.models = [m.to(device) for m in models]
        self.optimizers = [
            build_optimizer(c.optimizer, m.parameters(), c.optimizer_params) for c, m in zip(configs, self.models)
        ]
        self._dropout_gens = [torch.Generator(device=device).manual_seed(c.seed + 1) for c in configs]
        self.frozen = [False] * self.R
        # Batch norm normalises with the batch's own statistics: a chunk's differ from the batch's, so a
        # batch-norm network is never chunked (its slow batches cannot be stopped half-way).
        self.chunkable = not configs[0].batchnorm

    def _loss(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cfg = self.configs[0]
        return data_loss(z, y, cfg.loss, cfg.output_activation, self.n_classes)

    def train_mode(self) -> None:
        """Put every model in training mode (dropout on, batch norm on batch statistics); returns nothing."""
        for m in self.models:
            m.train()

    def freeze(self, r: int) -> None:
        """Skip run r from now on (it has diverged); returns nothing."""
        self.frozen[r] = True

    def train_batch(self, xb: torch.Tensor, yb: torch.Tensor, lrs: list[float], token=None) -> bool:
        """Step every live run's optimizer on the batch (the drivers have set the rates ``lrs``).

        Returns False, with the weights, optimizers and dropout generators untouched, when stopped
        between two chunks of a slow batch.
        """
        n = len(xb)
        rows = chunk_rows(self.layers, self.R, n) if self.chunkable else n
        if rows < n:
            return self._train_chunked(xb, yb, rows, token)
        values = []
        for r, (model, opt, c) in enumerate(zip(self.models, self.optimizers, self.configs)):
            if self.frozen[r]:
                values.append(float("nan"))
                continue
            opt.zero_grad(set_to_none=True)
            loss = self._loss(model.logits(xb, self._dropout_gens[r]), yb) + penalty(model, c)
            loss.backward()
            values.append(float(loss.detach()))
            if math.isfinite(values[-1]):
                opt.step()
        self.batch_losses = values
        return True

    def _train_chunked(self, xb: torch.Tensor, yb: torch.Tensor, rows: int, token) -> bool:
        n = len(xb)
        live = [r for r in range(self.R) if not self.frozen[r]]
        states = [g.get_state() for g in self._dropout_gens]
        values = [float("nan")] * self.R
        for r in live:
            self.optimizers[r].zero_grad(set_to_none=True)
            values[r] = 0.0
        for k, start in enumerate(range(0, n, rows)):
            if k and stop_requested(token):
                for r in live:
                    self.optimizers[r].zero_grad(set_to_none=True)
                for g, state in zip(self._dropout_gens, states):
                    g.set_state(state)
                return False
            end = min(start + rows, n)
            for r in live:
                model = self.models[r]
                part = self._loss(model.logits(xb[start:end], self._dropout_gens[r]), yb[start:end]) * (
                    (end - start) / n
                )
                if end == n:
                    part = part + penalty(model, self.configs[r])
                part.backward()
                values[r] += float(part.detach())
        for r in live:
            if math.isfinite(values[r]):
                self.optimizers[r].step()
        self.batch_losses = values
        return True

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, token=None) -> tuple[list[float], list[float | None]]:
        """Return every run's (mean data loss, accuracy or None) on (x, y); raise Interrupted if stopped."""
        totals, correct = [0.0] * self.R, [0] * self.R
        classes = self.n_classes is not None
        with torch.no_grad():
            for k, i in enumerate(range(0, len(x), self.eval_chunk)):
                if k and stop_requested(token):
                    raise Interrupted
                xb, yb = x[i : i + self.eval_chunk], y[i : i + self.eval_chunk]
                for r in range(self.R):
                    z = self.logits(xb, r)
                    totals[r] += float(self._loss(z, yb)) * len(xb)
                    if classes:
                        correct[r] += int((predict_classes(z) == yb).sum())
        losses = [t / len(x) for t in totals]
        return losses, [c / len(x) for c in correct] if classes else [None] * self.R

    def train_metrics(self, x: torch.Tensor, y: torch.Tensor, token=None):
        """Return every run's (loss, accuracy or None, gradient norm of the data loss) in evaluation mode."""
        classes = self.n_classes is not None
        losses, accs, norms = [], [], []
        for model in self.models:
            was = model.training
            model.eval()
            model.zero_grad(set_to_none=True)
            total, right = 0.0, 0
            try:
                for k, i in enumerate(range(0, len(x), self.eval_chunk)):
                    if k and stop_requested(token):
                        raise Interrupted
                    xb, yb = x[i : i + self.eval_chunk], y[i : i + self.eval_chunk]
                    z = model.logits(xb)
                    part = self._loss(z, yb) * (len(xb) / len(x))
                    part.backward()
                    total += float(part.detach())
                    if classes:
                        right += int((predict_classes(z.detach()) == yb).sum())
                grads = [p.grad for p in model.parameters() if p.grad is not None]
                norms.append(float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))))
            finally:
                model.zero_grad(set_to_none=True)
                model.train(was)
            losses.append(total)
            accs.append(right / len(x) if classes else None)
        return losses, accs, norms

    def logits(self, x: torch.Tensor, r: int) -> torch.Tensor:
        """Return run r's logits for x in evaluation mode (dropout off, batch norm on running statistics)."""
        with torch.no_grad():
            x = x.to(self.device, torch.float32)
            model = self.models[r]
            was = model.training
            model.eval()
            out = model.logits(x)
            model.train(was)
            return out

    def weights(self, r: int) -> dict:
        """Return run r's weights in model.MLP.get_weights()'s layout."""
        return self.models[r].get_weights()
