"""The learning-rate scheduler registry shared by surface paths and training, built on torch's schedulers."""

from __future__ import annotations

import re
import warnings

import torch
from torch.optim import lr_scheduler as S

from engine.errors import UserError
from engine.registry import Entry, Param, Registry


def _auto(value: int, total: int, fraction: float) -> int:
    return int(value) if value else max(1, int(round(total * fraction)))


SCHEDULERS = Registry(
    "scheduler",
    [
        Entry("none", "Constant", "The learning rate never changes", (), None, {"per_batch": False}),
        Entry(
            "step",
            "Step decay",
            "Multiply the rate by gamma every step_size epochs",
            (Param("step_size", 10, kind="int", low=1, high=100000), Param("gamma", 0.5, low=0, high=1, low_open=True)),
            lambda opt, total, step_size, gamma: S.StepLR(opt, step_size=step_size, gamma=gamma),
            {"per_batch": False},
        ),
        Entry(
            "exponential",
            "Exponential decay",
            "Multiply the rate by gamma every epoch",
            (Param("gamma", 0.95, low=0, high=1, low_open=True),),
            lambda opt, total, gamma: S.ExponentialLR(opt, gamma=gamma),
            {"per_batch": False},
        ),
        Entry(
            "cosine",
            "Cosine annealing",
            "Half a cosine from the rate down to eta_min over T_max epochs (0 = the whole run)",
            (Param("T_max", 0, kind="int", low=0, high=100000), Param("eta_min", 0.0, low=0, high=10)),
            lambda opt, total, T_max, eta_min: S.CosineAnnealingLR(
                opt, T_max=_auto(T_max, total, 1.0), eta_min=eta_min
            ),
            {"per_batch": False},
        ),
        Entry(
            "cosine-restarts",
            "Cosine with warm restarts (SGDR)",
            "Cosine decay restarted after T_0, then T_0·T_mult, … epochs",
            (
                Param("T_0", 10, kind="int", low=1, high=100000),
                Param("T_mult", 2, kind="int", low=1, high=10),
                Param("eta_min", 0.0, low=0, high=10),
            ),
            lambda opt, total, T_0, T_mult, eta_min: S.CosineAnnealingWarmRestarts(
                opt, T_0=T_0, T_mult=T_mult, eta_min=eta_min
            ),
            {"per_batch": False},
        ),
        Entry(
            "cyclic",
            "Cyclical (CLR)",
            "Rate swings between lr·base_factor and lr, stepped every batch",
            (
                Param("base_factor", 0.1, low=0, high=1, low_open=True),
                Param(
                    "step_size_up",
                    0,
                    kind="int",
                    low=0,
                    high=1000000,
                    help="batches per half cycle (0 = a tenth of the run)",
                ),
                Param("mode", "triangular", kind="choice", choices=("triangular", "triangular2", "exp_range")),
            ),
            lambda opt, total, base_factor, step_size_up, mode: S.CyclicLR(
                opt,
                base_lr=[g["lr"] * base_factor for g in opt.param_groups],
                max_lr=[g["lr"] for g in opt.param_groups],
                step_size_up=_auto(step_size_up, total, 0.1),
                mode=mode,
                cycle_momentum=False,
            ),
            {"per_batch": True},
        ),
        Entry(
            "onecycle",
            "One-cycle",
            "Warm up to lr, then anneal far below it, over the whole run (every batch)",
            (
                Param("pct_start", 0.3, low=0, high=1, low_open=True, high_open=True),
                Param("div_factor", 25.0, low=1, high=1e6),
                Param("final_div_factor", 1e4, low=1, high=1e9),
                Param("anneal_strategy", "cos", kind="choice", choices=("cos", "linear")),
            ),
            lambda opt, total, pct_start, div_factor, final_div_factor, anneal_strategy: S.OneCycleLR(
                opt,
                max_lr=[g["lr"] for g in opt.param_groups],
                total_steps=max(2, total),
                pct_start=pct_start,
                div_factor=div_factor,
                final_div_factor=final_div_factor,
                anneal_strategy=anneal_strategy,
                cycle_momentum=False,
            ),
            {"per_batch": True},
        ),
        Entry(
            "linear-warmup",
            "Linear warm-up",
            "Ramp linearly from lr·start_factor to lr over warmup epochs, then hold",
            (
                Param("warmup", 5, kind="int", low=1, high=100000),
                Param("start_factor", 0.1, low=0, high=1, low_open=True),
            ),
            lambda opt, total, warmup, start_factor: S.LinearLR(
                opt, start_factor=start_factor, end_factor=1.0, total_iters=warmup
            ),
            {"per_batch": False},
        ),
        Entry(
            "plateau",
            "Reduce on plateau",
            "Multiply the rate by factor when the loss stops improving for patience epochs",
            (
                Param("factor", 0.5, low=0, high=1, low_open=True, high_open=True),
                Param("patience", 5, kind="int", low=0, high=100000),
                Param("threshold", 1e-4, low=0, high=1),
                Param("min_lr", 0.0, low=0, high=10),
            ),
            lambda opt, total, factor, patience, threshold, min_lr: S.ReduceLROnPlateau(
                opt, mode="min", factor=factor, patience=patience, threshold=threshold, min_lr=min_lr
            ),
            {"per_batch": False},
        ),
    ],
)


class RateHolder(torch.optim.Optimizer):
    """What a torch scheduler reads and writes of an optimizer, without being one: ``param_groups[i]["lr"]``.

    One group per rate. A real torch.optim optimizer's constructor imports torch._dynamo (about 1 s) the
    first time one is built; this holder skips that constructor, so jobs whose steps are not torch.optim's
    (VectorSGD, the surface-path kernel) start without it. ``step`` does nothing: the rates are read back
    and applied by whoever does the arithmetic.
    """

    def __init__(self, lrs: float | list[float]):  # noqa: D107 — deliberately not Optimizer.__init__
        rates = [float(v) for v in (lrs if isinstance(lrs, (list, tuple)) else [lrs])]
        self.defaults = {"lr": rates[0]}
        self.param_groups = [{"params": [], "lr": v} for v in rates]
        self.state = {}
        self._opt_called = True  # tells the scheduler the step comes first, as it does in our loops

    def step(self, closure=None) -> None:
        """Do nothing and return None: the holder has no parameters."""
        return None


class LRDriver:
    """Drives one optimizer's learning rate with a registry scheduler, one step at a time.

    ``step(metric)`` advances the schedule (the metric is used by 'plateau' only); ``lr`` is the rate
    the next optimizer step will use.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        scheduler_id: str = "none",
        values: dict | None = None,
        total_steps: int = 100,
    ):
        entry = SCHEDULERS.get(scheduler_id)
        self.id = scheduler_id
        self.per_batch = bool(entry.extra.get("per_batch"))
        self.optimizer = optimizer
        resolved = entry.resolve(values)
        try:
            self.scheduler = entry.factory(optimizer, int(total_steps), **resolved) if entry.factory else None
        except ValueError as err:
            raise UserError(f"scheduler {scheduler_id}: {err}") from None
        self._steps = 0
        self._total = int(total_steps)
        self.needs_metric = isinstance(self.scheduler, S.ReduceLROnPlateau)

    @property
    def lr(self) -> float:
        """Return the learning rate of the optimizer's first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def lrs(self) -> list[float]:
        """Return the learning rate of every parameter group (one per rate of a RateHolder)."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def step(self, metric: float | None = None) -> None:
        """Advance the schedule by one step (epoch or batch, as the scheduler defines)."""
        self._steps += 1
        if self.scheduler is None:
            return
        if isinstance(self.scheduler, S.ReduceLROnPlateau):
            if metric is not None and metric == metric:  # NaN never improves, skip it
                self.scheduler.step(metric)
        elif isinstance(self.scheduler, S.OneCycleLR) and self._steps >= self._total:
            return  # OneCycleLR raises past its last step; the rate stays at its final value
        else:
            with warnings.catch_warnings():
                # we always step the optimizer first; torch cannot see that when its step wrapper is bypassed
                warnings.filterwarnings("ignore", message=re.escape("Detected call of `lr_scheduler.step()`"))
                self.scheduler.step()


def resolve_scheduler(scheduler_id: str, values: dict | None = None) -> dict:
    """Return the full, validated parameters of ``scheduler_id``."""
    return SCHEDULERS.get(scheduler_id).resolve(values)
