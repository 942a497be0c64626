"""Optimizer steps for R runs whose parameters are stacked along the first dimension.

``VectorSGD`` updates every run of the SGD family at once with per-run hyperparameter tensors, doing
exactly the arithmetic of torch.optim.SGD (tests compare them bitwise). ``FlatAdam`` calls torch's fused
Adam/AdamW kernel itself, the one torch.optim.Adam(fused=True) calls, on each run's flat row: the same
arithmetic without the optimizer's per-step Python (about 40 us a step, a fifth of an MNIST batch).
``PerRunOptim`` gives each run its own torch.optim optimizer over views into the stacked tensors, for
every other algorithm.
"""

from __future__ import annotations

import inspect

import torch

from engine.optimizers import build_optimizer, resolve_optimizer
from engine.schedulers import RateHolder

SGD_FAMILY = ("sgd", "momentum", "nesterov")
ADAM_FAMILY = ("adam", "amsgrad", "adamw")  # the optimizers FlatAdam steps


def is_nesterov(optimizer: str, params: dict) -> bool:
    """Return whether an SGD-family run with these hyperparameters steps the Nesterov way."""
    return optimizer == "nesterov" or bool(params.get("nesterov"))


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
        nesterov = [is_nesterov(c.optimizer, h) for h, c in zip(hp, configs)]
        self.any_wd, self.any_nesterov = any(self.wd), any(nesterov)
        self.all_nesterov = all(n and m > 0 for n, m in zip(nesterov, self.momentum))
        self._mom = [_column(self.momentum, p) for p in params]
        self._damp1 = [_column(damp1, p) for p in params]
        self._wd = [_column(self.wd, p) for p in params]
        self._nest = [_column([m if n else 0.0 for m, n in zip(self.momentum, nesterov)], p) for p in params]
        self._is_nest = [n != 0 for n in self._nest]  # momentum 0 with Nesterov steps on g = buf either way
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
            steps = self.bufs
            if self.any_nesterov:  # Nesterov runs step on g + momentum·buf, the others on buf, as torch.optim does
                ahead = torch._foreach_addcmul(grads, self.bufs, self._nest)
                steps = (
                    ahead
                    if self.all_nesterov
                    else [torch.where(n, a, b) for n, a, b in zip(self._is_nest, ahead, self.bufs)]
                )
            torch._foreach_addcmul_(self.params, steps, self._neg_lr)


class FlatAdam:
    """Adam, AMSGrad and AdamW for R runs: torch's fused kernel on each run's row of the flat buffers.

    State per run as torch.optim.Adam(fused=True) keeps it (a float32 step count on the parameters'
    device, exp_avg, exp_avg_sq and, for AMSGrad, max_exp_avg_sq), in (R, P) buffers; runs with the same
    hyperparameters and rate are stepped by one kernel call. ``optimizers`` are the rate holders the
    learning-rate drivers set; ``step`` takes their rates as ``lrs``. Tests check that the weights come
    out bitwise equal to torch.optim's.
    """

    name = "fused Adam"

    def __init__(self, params: list[torch.Tensor], configs):
        self.params = params
        self.hp, rates = [], []
        for c in configs:
            v = resolve_optimizer(c.optimizer, c.optimizer_params)
            self.hp.append(
                (c.optimizer == "adamw", c.optimizer == "amsgrad", v["beta1"], v["beta2"], v["weight_decay"], v["eps"])
            )
            rates.append(v["lr"])
        self.exp_avg = [torch.zeros_like(p) for p in params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in params]
        amsgrad = any(h[1] for h in self.hp)
        self.max_exp_avg_sq = [torch.zeros_like(p) for p in params] if amsgrad else None
        self.steps = [torch.zeros((), dtype=torch.float32, device=params[0].device) for _ in configs]
        self._one = torch.ones((), dtype=torch.float32, device=params[0].device)
        self.optimizers = [RateHolder(lr) for lr in rates]
        self._groups: list[tuple] = []
        self._group_key: list[float] | None = None
        self._grads: tuple | None = None  # (the gradient tensors, their per-group row views)

    def _group(self, lrs: list[float]) -> list[tuple]:
        """Return (kernel, keyword arguments, tensor lists) per set of runs that one kernel call steps."""
        by_key: dict[tuple, list[int]] = {}
        for r, (hp, lr) in enumerate(zip(self.hp, lrs)):
            by_key.setdefault((*hp, float(lr)), []).append(r)
        groups = []
        for (decoupled, amsgrad, beta1, beta2, wd, eps, lr), runs in by_key.items():
            kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
            kw = dict(lr=lr, beta1=beta1, beta2=beta2, weight_decay=wd, eps=eps, amsgrad=amsgrad, maximize=False)
            rows = [(r, k) for r in runs for k in range(len(self.params))]
            tensors = (
                [self.params[k][r] for r, k in rows],
                [self.exp_avg[k][r] for r, k in rows],
                [self.exp_avg_sq[k][r] for r, k in rows],
                [self.max_exp_avg_sq[k][r] for r, k in rows] if amsgrad else [],
                [self.steps[r] for r, _ in rows],
            )
            groups.append((kernel, kw, rows, tensors))
        return groups

    def step(self, grads: list[torch.Tensor], lrs: list[float]) -> None:
        """Take one Adam step per run with these rates; returns nothing."""
        if lrs != self._group_key:
            self._groups = self._group(lrs)
            self._group_key, self._grads = list(lrs), None
        if self._grads is None or any(a is not b for a, b in zip(self._grads[0], grads)):
            self._grads = (list(grads), [[grads[k][r] for r, k in rows] for _, _, rows, _ in self._groups])
        # no torch.no_grad(): these tensors are in no graph, and entering it costs more than the step's add
        if len(self.steps) == 1:
            self.steps[0].add_(self._one)  # a 0-d tensor: a Python 1 would be converted on every call
        else:
            torch._foreach_add_(self.steps, 1)
        for (kernel, kw, _, (params, avg, avg_sq, max_sq, steps)), g in zip(self._groups, self._grads[1]):
            kernel(params, g, avg, avg_sq, max_sq, steps, **kw)


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
