"""Optimizer steps for R runs whose parameters are stacked along the first dimension.

``VectorSGD`` updates every run of the SGD family at once with per-run hyperparameter tensors, doing
exactly the arithmetic of torch.optim.SGD (tests compare them bitwise). ``PerRunOptim`` gives each run
its own torch.optim optimizer over views into the stacked tensors, for every other algorithm.
"""

from __future__ import annotations

import inspect

import torch

from engine.optimizers import build_optimizer
from engine.schedulers import RateHolder

SGD_FAMILY = ("sgd", "momentum", "nesterov")


def _column(values: list[float], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=like.dtype, device=like.device).view((len(values),) + (1,) * (like.dim() - 1))


class VectorSGD:
    """torch.optim.SGD for R runs at once; ``optimizers`` are per-run holders the schedulers drive."""

    name = "vectorized SGD"

    def __init__(self, params: list[torch.Tensor], configs):
        self.params = params
        hp = [c.optimizer_params for c in configs]
        self.momentum = [float(h.get("momentum", 0.0)) for h in hp]
        damp1 = [1.0 - float(h.get("dampening", 0.0)) for h in hp]
        self.wd = [float(h.get("weight_decay", 0.0)) for h in hp]
        nesterov = [bool(h.get("nesterov")) or c.optimizer == "nesterov" for h, c in zip(hp, configs)]
        self.any_wd, self.any_nesterov = any(self.wd), any(nesterov)
        self._mom = [_column(self.momentum, p) for p in params]
        self._damp1 = [_column(damp1, p) for p in params]
        self._wd = [_column(self.wd, p) for p in params]
        self._nest = [_column([m if n else 0.0 for m, n in zip(self.momentum, nesterov)], p) for p in params]
        self.bufs: list[torch.Tensor | None] = [None] * len(params)
        # what the learning-rate drivers read and set; not torch.optim.SGD, whose constructor imports torch._dynamo
        self.optimizers = [RateHolder(c.optimizer_params["lr"]) for c in configs]
        self._lr_key: list[float] | None = None
        self._neg_lr: list[torch.Tensor] = []

    def step(self, grads: list[torch.Tensor], lrs: list[float]) -> None:
        """Apply one step with these per-run learning rates.

        A run with momentum 0 keeps a buffer too: 0·buf + g is exactly g, the step torch takes without one.
        """
        if lrs != self._lr_key:
            self._neg_lr = [_column([-v for v in lrs], p) for p in self.params]
            self._lr_key = list(lrs)
        with torch.no_grad():
            if self.any_wd:
                grads = torch._foreach_addcmul(grads, self.params, self._wd)
            if self.bufs[0] is None:
                self.bufs = [g.clone() for g in grads]
            else:
                torch._foreach_mul_(self.bufs, self._mom)
                torch._foreach_addcmul_(self.bufs, grads, self._damp1)
            steps = torch._foreach_addcmul(grads, self.bufs, self._nest) if self.any_nesterov else self.bufs
            torch._foreach_addcmul_(self.params, steps, self._neg_lr)


class PerRunOptim:
    """One torch.optim optimizer per run, over views of that run's slice of each stacked tensor."""

    name = "per-run torch.optim"

    def __init__(self, params: list[torch.Tensor], configs):
        self.views = [[p[r] for p in params] for r in range(len(configs))]
        self.optimizers = [
            build_optimizer(c.optimizer, views, c.optimizer_params) for c, views in zip(configs, self.views)
        ]
        # torch.optim's own update, without the per-call hook/profiler wrapper (it costs more than a
        # fused Adam step on these sizes); called under no_grad as the wrapper would
        self._raw = [inspect.unwrap(type(opt).step) for opt in self.optimizers]

    def step(self, grads: list[torch.Tensor], lrs: list[float] | None = None) -> None:
        """Step every run's optimizer with its slice of ``grads``."""
        with torch.no_grad():
            for r, (views, opt, raw) in enumerate(zip(self.views, self.optimizers, self._raw)):
                for v, g in zip(views, grads):
                    v.grad = g[r]
                raw(opt)
