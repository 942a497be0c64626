"""A compiled kernel for surface paths: every (optimizer, start) pair of the built-in surfaces in one numba loop.

The built-in surfaces have analytic gradients here; each optimizer's update is torch.optim's single-tensor
arithmetic written out per coordinate (same operations, same order; tests compare every optimizer and
scheduler with torch.optim to 1e-10). Typed formulas, which have no analytic gradient, stay on torch
(engine/surface/paths.py), which is also the reference.

How close: where a path converges, kernel and torch agree to about 1e-15 after hundreds of steps. Both differ
in the last bit now and then (the analytic gradient is not autograd's operation order, and torch's compiled
CPU kernels may fuse a multiply-add), and a path that keeps circling a minimum at a high rate (RMSprop at
lr 0.05 on peaks, Adadelta at lr 3) amplifies such a bit into 1e-8 or more after a hundred steps: two
correct float64 implementations of a chaotic orbit part ways. The torch path is there for a bit-exact
torch.optim replay (``use_kernel=False``).

numba is imported, and the functions below compiled, on the first kernel run (``compiled()``), so a process
that draws no path never loads it. ``njit(cache=True)`` stores the machine code in __pycache__, so only the
first run on a machine pays the compile (measured in bench/bench_paths.py). Without numba, ``available()`` is
False and paths use torch.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from engine.numba_jit import jit_in_place

NAME = "numba kernel"

# surface ids -> kernel codes (the built-ins whose gradients are written out below)
SURFACE_CODES = {
    "peaks": 0,
    "rosenbrock": 1,
    "himmelblau": 2,
    "rastrigin": 3,
    "beale": 4,
    "saddle": 5,
    "bowl": 6,
    "six-hump-camel": 7,
    "xsin": 8,
    "quadratic": 9,
}
# optimizer ids -> kernel codes; nesterov and momentum are SGD with those flags
OPTIMIZER_CODES = {
    "sgd": 0,
    "momentum": 0,
    "nesterov": 0,
    "adagrad": 1,
    "rmsprop": 2,
    "adadelta": 3,
    "adam": 4,
    "amsgrad": 4,
    "adamax": 5,
    "nadam": 6,
    "adamw": 7,
    "radam": 8,
}
N_HP = 8  # hyperparameter slots per optimizer configuration


def hyperparameters(optimizer_id: str, values: dict) -> list[float]:
    """Return the N_HP numbers the kernel reads for one optimizer configuration (resolved ``values``)."""
    v = values
    wd = float(v.get("weight_decay", 0.0))
    if OPTIMIZER_CODES[optimizer_id] == 0:
        nesterov = optimizer_id == "nesterov" or bool(v.get("nesterov"))
        damp = 0.0 if optimizer_id == "nesterov" else float(v.get("dampening", 0.0))
        return [float(v.get("momentum", 0.0)), damp, wd, float(nesterov), 0, 0, 0, 0]
    if optimizer_id == "adagrad":
        return [float(v["lr_decay"]), float(v["initial_accumulator_value"]), wd, float(v["eps"]), 0, 0, 0, 0]
    if optimizer_id == "rmsprop":
        return [float(v["alpha"]), float(v["eps"]), wd, float(v["momentum"]), float(bool(v["centered"])), 0, 0, 0]
    if optimizer_id == "adadelta":
        return [float(v["rho"]), float(v["eps"]), wd, 0, 0, 0, 0, 0]
    amsgrad = float(optimizer_id == "amsgrad")
    return [
        float(v["beta1"]),
        float(v["beta2"]),
        float(v["eps"]),
        wd,
        amsgrad,
        float(v.get("momentum_decay", 0.0)),
        0,
        0,
    ]


def supports(surface) -> bool:
    """Return whether the kernel can run paths on ``surface`` (a built-in with an analytic gradient)."""
    from engine.surface.functions import BUILTINS

    builtin = BUILTINS.get(surface.id)
    return available() and builtin is not None and builtin.fn is surface.fn and surface.id in SURFACE_CODES


def available() -> bool:
    """Return whether numba is installed (else every path runs on torch)."""
    return importlib.util.find_spec("numba") is not None


_CALLEES = ("_value_grad", "_lerp", "_step")  # callees first: numba reads them as globals


def compiled():
    """Return the compiled ``run_steps`` (numba imported and the kernel's functions jitted on the first call)."""
    (kernel,) = jit_in_place(globals(), _CALLEES, ("run_steps",), cache=True, error_model="numpy")
    return kernel


def _value_grad(code, x, y):
    """Return (f, df/dx, df/dy) of built-in surface ``code`` at (x, y)."""
    if code == 0:  # peaks
        a = math.exp(-(x**2) - (y + 1) ** 2)
        b = math.exp(-(x**2) - y**2)
        c = math.exp(-((x + 1) ** 2) - y**2)
        p = x / 5 - x**3 - y**5
        f = 3 * (1 - x) ** 2 * a - 10 * p * b - 1 / 3 * c
        fx = 3 * (-2 * (1 - x) * a - 2 * x * (1 - x) ** 2 * a) - 10 * ((0.2 - 3 * x**2) * b - 2 * x * p * b)
        fx += 2 / 3 * (x + 1) * c
        fy = -6 * (y + 1) * (1 - x) ** 2 * a - 10 * (-5 * y**4 * b - 2 * y * p * b) + 2 / 3 * y * c
        return f, fx, fy
    if code == 1:  # rosenbrock
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2, -2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)
    if code == 2:  # himmelblau
        u, v = x**2 + y - 11, x + y**2 - 7
        return u**2 + v**2, 4 * x * u + 2 * v, 2 * u + 4 * y * v
    if code == 3:  # rastrigin
        tp = 2 * math.pi
        f = 20 + x**2 - 10 * math.cos(tp * x) + y**2 - 10 * math.cos(tp * y)
        # autograd's order: (10 sin(2 pi x)) * 2 pi, then plus 2x
        return f, 2 * x + 10 * math.sin(tp * x) * tp, 2 * y + 10 * math.sin(tp * y) * tp
    if code == 4:  # beale
        a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
        fx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
        fy = 2 * a * x + 4 * b * x * y + 6 * c * x * y**2
        return a**2 + b**2 + c**2, fx, fy
    if code == 5:  # saddle
        return x**2 - y**2, 2 * x, -2 * y
    if code == 6:  # bowl
        return 0.05 * x**2 + y**2, 0.1 * x, 2 * y
    if code == 7:  # six-hump camel
        q = 4 - 2.1 * x**2 + x**4 / 3
        f = q * x**2 + x * y + (-4 + 4 * y**2) * y**2
        return f, (-4.2 * x + 4 * x**3 / 3) * x**2 + 2 * x * q + y, x + 16 * y**3 - 8 * y
    if code == 8:  # x sin(x^2)
        return x * math.sin(x**2), math.sin(x**2) + 2 * x**2 * math.cos(x**2), 0.0
    return x**2, 2 * x, 0.0  # quadratic


def _lerp(a, b, w):
    """torch.lerp's formula: a + w (b - a) for |w| < 0.5, else b - (b - a)(1 - w)."""
    if abs(w) < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (1.0 - w)


def run_steps(
    surface,
    dims,
    kinds,
    hp,
    spec_of,
    pos,
    state,
    mu_product,
    t0,
    t1,
    steps,
    lrs,
    lo,
    hi,
    margin,
    points,
    losses,
    gnorms,
    diverged,
):
    """Measure and step every run for t = t0 .. t1 - 1 (or until done); return the last t measured when done, else -1.

    ``pos`` (runs, 2) is stepped in place; ``state`` (runs, 2, 4) holds each optimizer's buffers and
    ``mu_product`` (specs,) float32 Nadam's product (torch keeps it in float32). Row t of points, losses and
    gnorms is the position before step t; ``diverged[r]`` is the first bad t (-1: none). Done means t ==
    steps or every run diverged, as in paths_job.
    """
    runs = pos.shape[0]
    for t in range(t0, t1):
        n_bad = 0
        for r in range(runs):
            x = pos[r, 0]
            y = pos[r, 1] if dims == 2 else 0.0
            f, gx, gy = _value_grad(surface, x, y)
            points[t, r, 0] = x
            losses[t, r] = f
            if dims == 2:
                points[t, r, 1] = y
                gnorms[t, r] = math.sqrt(gx * gx + gy * gy)
            else:
                gnorms[t, r] = abs(gx)
            bad = not math.isfinite(f) or not math.isfinite(gx) or not math.isfinite(gy)
            for d in range(dims):
                p = pos[r, d]
                if not math.isfinite(p) or p < lo[d] - margin[d] or p > hi[d] + margin[d]:
                    bad = True
            if bad and diverged[r] < 0:
                diverged[r] = t
            if diverged[r] >= 0:
                n_bad += 1
            # the step uses the gradient with non-finite parts zeroed, as paths_job does
            state[r, 0, 3] = gx if math.isfinite(gx) else 0.0
            state[r, 1, 3] = gy if math.isfinite(gy) else 0.0
        if t == steps or n_bad == runs:
            return t
        step = t + 1.0
        for k in range(kinds.shape[0]):
            if kinds[k] == 6:  # Nadam's product: one float32 per parameter tensor (spec), as torch keeps it
                mu = hp[k, 0] * (1.0 - 0.5 * (0.96 ** (step * hp[k, 5])))
                mu_product[k] = np.float32(mu_product[k]) * np.float32(mu)
        for r in range(runs):
            k = spec_of[r]
            lr = lrs[t, k]
            _step(kinds[k], hp[k], lr, step, pos, state, mu_product, r, k, dims)
    return -1


def _step(kind, h, lr, step, pos, state, mu_product, r, k, dims):
    """One torch.optim step (single-tensor arithmetic) of run r's coordinates; returns nothing."""
    for d in range(dims):
        g = state[r, d, 3]
        p = pos[r, d]
        s = state[r, d]
        if kind == 0:  # sgd / momentum / nesterov: h = momentum, dampening, wd, nesterov
            if h[2] != 0:
                g = g + h[2] * p
            if h[0] != 0:
                if step == 1.0:
                    s[0] = g
                else:
                    s[0] = s[0] * h[0] + (1 - h[1]) * g
                g = g + h[0] * s[0] if h[3] != 0 else s[0]
            pos[r, d] = p + (-lr) * g
        elif kind == 1:  # adagrad: lr_decay, initial accumulator, wd, eps
            if h[2] != 0:
                g = g + h[2] * p
            clr = lr / (1 + (step - 1) * h[0])
            if step == 1.0:
                s[0] = h[1]
            s[0] = s[0] + g * g
            pos[r, d] = p + (-clr) * (g / (math.sqrt(s[0]) + h[3]))
        elif kind == 2:  # rmsprop: alpha, eps, wd, momentum, centered
            if h[2] != 0:
                g = g + h[2] * p
            s[0] = s[0] * h[0] + (1 - h[0]) * g * g
            if h[4] != 0:
                s[1] = _lerp(s[1], g, 1 - h[0])
                avg = math.sqrt(s[0] + (-1.0) * s[1] * s[1]) + h[1]
            else:
                avg = math.sqrt(s[0]) + h[1]
            if h[3] > 0:
                s[2] = s[2] * h[3] + g / avg
                pos[r, d] = p + (-lr) * s[2]
            else:
                pos[r, d] = p + (-lr) * (g / avg)
        elif kind == 3:  # adadelta: rho, eps, wd
            if h[2] != 0:
                g = g + h[2] * p
            s[0] = s[0] * h[0] + (1 - h[0]) * g * g
            std = math.sqrt(s[0] + h[1])
            delta = math.sqrt(s[1] + h[1]) / std * g
            s[1] = s[1] * h[0] + (1 - h[0]) * delta * delta
            pos[r, d] = p + (-lr) * delta
        else:  # the Adam family: beta1, beta2, eps, wd, amsgrad, momentum_decay
            b1, b2, eps, wd = h[0], h[1], h[2], h[3]
            if kind == 7:  # adamw: decoupled weight decay
                p = p * (1 - lr * wd)
            elif wd != 0:
                g = g + wd * p
            if kind == 5:  # adamax
                s[0] = _lerp(s[0], g, 1 - b1)
                s[1] = max(s[1] * b2, abs(g) + eps)
                clr = lr / (1 - b1**step)
                pos[r, d] = p + (-clr) * (s[0] / s[1])
                continue
            s[0] = _lerp(s[0], g, 1 - b1)
            s[1] = s[1] * b2 + (1 - b2) * g * g
            bc2 = 1 - b2**step
            if kind == 6:  # nadam
                mu = b1 * (1.0 - 0.5 * (0.96 ** (step * h[5])))
                mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * h[5])))
                prod = float(mu_product[k])
                denom = math.sqrt(s[1] / bc2) + eps
                p = p + (-lr * (1.0 - mu) / (1.0 - prod)) * (g / denom)
                pos[r, d] = p + ((-lr * mu_next) / (1.0 - prod * mu_next)) * (s[0] / denom)
            elif kind == 8:  # radam
                bc1 = 1 - b1**step
                corrected = s[0] / bc1
                rho_inf = 2 / (1 - b2) - 1
                rho_t = rho_inf - 2 * step * (b2**step) / bc2
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    adaptive = (bc2**0.5) / (math.sqrt(s[1]) + eps)
                    pos[r, d] = p + (-1.0) * (corrected * lr * adaptive * rect)
                else:
                    pos[r, d] = p + (-1.0) * (corrected * lr)
            else:  # adam, amsgrad, adamw
                step_size = lr / (1 - b1**step)
                bc2_sqrt = bc2**0.5
                if h[4] != 0:
                    s[2] = max(s[2], s[1])
                    denom = math.sqrt(s[2]) / bc2_sqrt + eps
                else:
                    denom = math.sqrt(s[1]) / bc2_sqrt + eps
                pos[r, d] = p + (-step_size) * (s[0] / denom)


def new_state(runs: int, specs: int) -> tuple[np.ndarray, np.ndarray]:
    """Return fresh optimizer buffers: (runs, 2, 4) float64 zeros and Nadam's (specs,) float32 ones."""
    return np.zeros((runs, 2, 4)), np.ones(specs, dtype=np.float32)
