"""Optimizer paths on a loss surface: every position, loss and gradient norm, step by step."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.errors import UserError
from engine.jobs import Job, Token, run_job
from engine.optimizers import OPTIMIZERS, build_optimizer, resolve_optimizer
from engine.schedulers import LRDriver, RateHolder, resolve_scheduler
from engine.surface import path_kernel
from engine.surface.functions import Surface

MAX_STEPS = 100_000
PROGRESS_EVERY = 50  # steps between progress reports (and stop checks) of a paths job
# A path is diverged ("left the map") once it is this many domain widths outside the domain. The domain is what
# the map draws, so a path half a width past its edge is already out of sight; smaller overshoots (an
# oscillation that grazes the edge) still count as on the map.
DIVERGE_MARGIN = 0.5


@dataclass(frozen=True)
class PathSpec:
    """One optimizer configuration to run from every start point."""

    optimizer: str
    params: dict = field(default_factory=dict)
    label: str = ""


@dataclass
class Path:
    """One optimizer's path from one start: positions (steps+1 rows unless diverged), losses and more."""

    optimizer: str
    params: dict
    start: tuple[float, ...]
    start_index: int
    points: np.ndarray  # (n, dims)
    losses: np.ndarray  # (n,)
    grad_norms: np.ndarray  # (n,)
    lrs: np.ndarray  # (n-1,) the rate each step used
    diverged_at: int | None = None
    label: str = ""
    computed_by: str = ""  # "numba kernel" or "torch.optim" (not part of to_dict: experiment files keep their form)
    left_map: bool = False  # diverged by leaving the domain (finite), not by overflowing; not part of to_dict

    def ending(self) -> str:
        """Return how the path ended, in words: 'left the map at step N', 'diverged at step N' or ''."""
        if self.diverged_at is None:
            return ""
        return f"{'left the map' if self.left_map else 'diverged'} at step {self.diverged_at}"

    def to_dict(self) -> dict:
        """Return the JSON form used by paths.json."""
        return {
            "optimizer": self.optimizer,
            "label": self.label or self.optimizer,
            "params": self.params,
            "start": list(self.start),
            "start_index": self.start_index,
            "points": self.points.tolist(),
            "losses": self.losses.tolist(),
            "grad_norms": self.grad_norms.tolist(),
            "lrs": self.lrs.tolist(),
            "diverged_at": self.diverged_at,
        }


def parse_point(text: str, dims: int) -> tuple[float, ...]:
    """Return a start point parsed from 'x' or 'x,y', or raise UserError."""
    try:
        values = tuple(float(t) for t in str(text).split(","))
    except ValueError:
        raise UserError(f"start {text!r} must be {dims} number(s) separated by a comma") from None
    if len(values) != dims or not all(np.isfinite(values)):
        raise UserError(f"start {text!r} must be {dims} finite number(s) ({'x,y' if dims == 2 else 'x'})")
    return values


def check_start(surface: Surface, start: tuple[float, ...]) -> None:
    """Return None when ``start`` lies in the surface's domain; else raise UserError (field starts) naming it.

    A path from outside the domain would not be drawn and would count as having left the map at step 0.
    """
    names = "xy"
    for value, (lo, hi) in zip(start, surface.domain):
        if not lo <= value <= hi:
            point = ",".join(f"{v:g}" for v in start)
            ranges = ", ".join(f"{names[k]} {a:g}..{b:g}" for k, (a, b) in enumerate(surface.domain))
            raise UserError(
                f"start {point} is outside the domain of {surface.id} ({ranges}); choose a start inside it "
                "or widen the domain",
                "starts",
            )


@dataclass(frozen=True)
class PathsProgress:
    """How far a paths job has come: optimizer steps done of ``steps``."""

    step: int
    steps: int


def compute_paths(
    surface: Surface,
    specs: list[PathSpec],
    starts: list[tuple[float, ...]],
    steps: int,
    scheduler: str = "none",
    scheduler_params: dict | None = None,
    *,
    use_kernel: bool = True,
) -> list[Path]:
    """Return one Path per (spec, start), in spec-major order, after ``steps`` optimizer steps (paths_job, run here)."""
    return run_job(paths_job(surface, specs, starts, steps, scheduler, scheduler_params, use_kernel=use_kernel))


def paths_job(
    surface: Surface,
    specs: list[PathSpec],
    starts: list[tuple[float, ...]],
    steps: int,
    scheduler: str = "none",
    scheduler_params: dict | None = None,
    token: Token | None = None,
    *,
    use_kernel: bool = True,
) -> Job[list[Path] | None]:
    """Compute the paths as a job: yields PathsProgress every PROGRESS_EVERY steps; returns the Paths.

    Returns None when ``token`` is stopped (checked with each progress report). Validation errors are
    raised before the first yield.

    Built-in surfaces run in the compiled kernel (engine/surface/path_kernel.py: analytic gradients, every
    (optimizer, start) pair in one loop) when numba is there and ``use_kernel`` is True; typed formulas, and
    every surface with ``use_kernel=False``, run on torch: all positions evaluated together in one autograd
    call per step, each optimizer configuration one torch.optim instance over a (starts, dims) tensor, which
    is exact for these element-wise algorithms (and the reference the kernel is tested against). Each Path's
    ``computed_by`` says which ran. A path that leaves the finite numbers or goes far outside the domain is
    cut there and its ``diverged_at`` set; it never raises.
    """
    if not specs:
        raise UserError("choose at least one optimizer", "optimizers")
    if not starts:
        raise UserError("give at least one start point", "starts")
    if not 1 <= int(steps) <= MAX_STEPS:
        raise UserError(f"{steps} is not a whole number in 1..{MAX_STEPS}", "steps")
    steps = int(steps)
    for s in starts:
        if len(s) != surface.dims:
            raise UserError(f"start {s} has {len(s)} coordinate(s); {surface.id} is {surface.dims}-D", "starts")
        check_start(surface, s)
    sched_values = resolve_scheduler(scheduler, scheduler_params)
    resolved = [resolve_optimizer(spec.optimizer, spec.params) for spec in specs]
    if use_kernel and path_kernel.supports(surface):
        run = yield from kernel_paths(surface, specs, resolved, starts, steps, scheduler, sched_values, token)
    else:
        run = yield from _torch_paths(surface, specs, resolved, starts, steps, scheduler, sched_values, token)
    if run is None:
        return None
    return _assemble(specs, resolved, starts, *run)


def kernel_paths(surface, specs, resolved, starts, steps, scheduler, sched_values, token):
    """The compiled kernel: yields PathsProgress; returns _assemble's inputs, or None when stopped.

    The rates come from the same torch schedulers as on the torch path, driving a RateHolder (no torch.optim
    optimizer is built). Without 'plateau' they do not depend on the losses and are computed up front, one
    group per optimizer; 'plateau' reads each optimizer's mean loss, so the kernel then runs step by step.
    """
    n_starts, dims, n_specs = len(starts), surface.dims, len(specs)
    runs = n_specs * n_starts
    pos = np.tile(np.asarray(starts, dtype=np.float64).reshape(n_starts, dims), (n_specs, 1))
    kinds = np.array([path_kernel.OPTIMIZER_CODES[spec.optimizer] for spec in specs], dtype=np.int64)
    hp = np.array([path_kernel.hyperparameters(sp.optimizer, v) for sp, v in zip(specs, resolved)], dtype=np.float64)
    spec_of = np.repeat(np.arange(n_specs, dtype=np.int64), n_starts)
    state, mu_product = path_kernel.new_state(runs, n_specs)
    points = np.empty((steps + 1, runs, dims))
    losses = np.empty((steps + 1, runs))
    gnorms = np.empty((steps + 1, runs))
    diverged = np.full(runs, -1, dtype=np.int64)
    lo = np.array([d[0] for d in surface.domain], dtype=np.float64)
    hi = np.array([d[1] for d in surface.domain], dtype=np.float64)
    margin = DIVERGE_MARGIN * (hi - lo)
    code = path_kernel.SURFACE_CODES[surface.id]
    base = [float(v["lr"]) for v in resolved]
    lrs = np.empty((steps, n_specs))
    per_step = scheduler == "plateau"
    kernel = path_kernel.compiled()

    def run(t0: int, t1: int) -> int:
        args = (code, dims, kinds, hp, spec_of, pos, state, mu_product, t0, t1, steps, lrs, lo, hi, margin)
        return kernel(*args, points, losses, gnorms, diverged)

    if per_step:
        drivers = [LRDriver(RateHolder(lr), scheduler, sched_values, total_steps=steps) for lr in base]
    else:
        driver = LRDriver(RateHolder(base), scheduler, sched_values, total_steps=steps)
        for t in range(steps):
            lrs[t] = driver.lrs
            if driver.scheduler is not None:
                driver.step()
    t0 = 0
    while True:
        t1 = t0 + 1 if per_step else min(t0 + PROGRESS_EVERY, steps + 1)
        if per_step and t0 < steps:  # at t0 == steps the kernel only measures
            lrs[t0] = [d.lr for d in drivers]
        last = run(t0, t1)
        if last >= 0:
            break
        if per_step:
            for k, d in enumerate(drivers):
                d.step(float(np.mean(losses[t0, k * n_starts : (k + 1) * n_starts])))
        t0 = t1
        if t0 % PROGRESS_EVERY == 0:
            yield PathsProgress(t0, steps)
            if token is not None and token.checkpoint():
                return None
    return points, losses, gnorms, lrs[:last], diverged, last, path_kernel.NAME


def _torch_paths(surface, specs, resolved, starts, steps, scheduler, sched_values, token):
    """The torch.optim reference: yields PathsProgress; returns _assemble's inputs, or None when stopped."""
    n_starts, dims = len(starts), surface.dims
    start_t = torch.tensor(starts, dtype=torch.float64)
    # one buffer for every position; each optimizer steps its own slice of rows (a view, and a leaf
    # because the buffer itself needs no gradient), so no per-step concatenation is needed
    positions = start_t.repeat(len(specs), 1)
    leaves = [positions[k * n_starts : (k + 1) * n_starts] for k in range(len(specs))]
    optimizers = [
        build_optimizer(spec.optimizer, [leaf], values, fused=False)
        for spec, leaf, values in zip(specs, leaves, resolved)
    ]
    drivers = [LRDriver(opt, scheduler, sched_values, total_steps=steps) for opt in optimizers]
    # torch.optim's own update code, without the per-call hook/profiler wrapper that costs more
    # than the arithmetic on these tiny tensors; called under no_grad as the wrapper would.
    raw_steps = [inspect.unwrap(type(opt).step) for opt in optimizers]

    n_runs = len(specs) * n_starts
    points = torch.empty(steps + 1, n_runs, dims, dtype=torch.float64)
    losses = torch.empty(steps + 1, n_runs, dtype=torch.float64)
    gnorms = torch.empty(steps + 1, n_runs, dtype=torch.float64)
    lr_rows: list[list[float]] = []
    lo = torch.tensor([d[0] for d in surface.domain], dtype=torch.float64)
    hi = torch.tensor([d[1] for d in surface.domain], dtype=torch.float64)
    margin = DIVERGE_MARGIN * (hi - lo)
    diverged = torch.full((n_runs,), -1, dtype=torch.long)

    for t in range(steps + 1):
        if t % PROGRESS_EVERY == 0 and t:
            yield PathsProgress(t, steps)
            if token is not None and token.checkpoint():
                return None
        with np.errstate(all="ignore"):
            x = positions.clone().requires_grad_(True)
            current = x.detach()
            value = surface.value(x)
            if value.requires_grad:
                (grad,) = torch.autograd.grad(value.sum(), x)
            else:  # f does not depend on the position (a flat surface): nothing moves
                grad = torch.zeros_like(x)
            points[t] = current
            losses[t] = value.detach()
            gnorms[t] = grad.norm(dim=1)
            bad = (
                ~torch.isfinite(value.detach())
                | ~torch.isfinite(grad).all(dim=1)
                | ((current < lo - margin) | (current > hi + margin)).any(dim=1)
                | ~torch.isfinite(current).all(dim=1)
            )
            newly = bad & (diverged < 0)
            diverged[newly] = t
            if t == steps or bool((diverged >= 0).all()):
                break
            grad = torch.where(torch.isfinite(grad), grad, torch.zeros_like(grad))
            lr_rows.append([driver.lr for driver in drivers])
            with torch.no_grad():
                for k, (leaf, opt, driver, step) in enumerate(zip(leaves, optimizers, drivers, raw_steps)):
                    leaf.grad = grad[k * n_starts : (k + 1) * n_starts]
                    step(opt)
                    if driver.scheduler is not None:
                        metric = (
                            float(value[k * n_starts : (k + 1) * n_starts].detach().mean())
                            if driver.needs_metric
                            else None
                        )
                        driver.step(metric)
    lrs = np.array(lr_rows, dtype=np.float64).reshape(len(lr_rows), len(specs))
    return points.numpy(), losses.numpy(), gnorms.numpy(), lrs, diverged.numpy(), t, "torch.optim"


def _assemble(specs, resolved, starts, points, losses, gnorms, lrs, diverged, last, computed_by) -> list[Path]:
    """Return the Paths, spec-major, cut at their divergence, from the (steps+1, runs, ...) arrays."""
    n_starts = len(starts)
    paths = []
    for k, (spec, values) in enumerate(zip(specs, resolved)):
        for s in range(n_starts):
            r = k * n_starts + s
            d = int(diverged[r])
            end = last if d < 0 else d
            drawable = d >= 0 and bool(np.isfinite(points[d, r]).all() and np.isfinite(losses[d, r]))
            if d >= 0 and not drawable:
                end = d - 1  # the diverged point itself cannot be drawn
            end = max(end, 0)
            left = drawable and bool(np.isfinite(gnorms[d, r]))
            paths.append(
                Path(
                    spec.optimizer,
                    values,
                    tuple(starts[s]),
                    s,
                    points[: end + 1, r].copy(),
                    losses[: end + 1, r].copy(),
                    gnorms[: end + 1, r].copy(),
                    lrs[:end, k].copy(),
                    None if d < 0 else d,
                    spec.label or OPTIMIZERS.get(spec.optimizer).name,
                    computed_by,
                    left,
                )
            )
    return paths
