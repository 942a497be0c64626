"""Loss surfaces: the built-in 1-D and 2-D test functions and typed formulas, with grid evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch

from engine.errors import UserError
from engine.surface.formula import CONSTANTS, FUNCTIONS, VARIABLES, parse_formula

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Minimum:
    """A known minimum: its point, value and kind ('global' or 'local')."""

    point: tuple[float, ...]
    value: float
    kind: str = "global"


@dataclass(frozen=True)
class Surface:
    """A loss function of 1 or 2 variables with its domain, known minima and a suggested start."""

    id: str
    name: str
    description: str
    dims: int
    fn: Fn
    domain: tuple[tuple[float, float], ...]
    minima: tuple[Minimum, ...] = ()
    default_start: tuple[float, ...] = ()
    formula: str = ""
    log_scale: bool = False  # contour reads better on a log scale
    extra: dict = field(default_factory=dict)

    def value(self, points: torch.Tensor) -> torch.Tensor:
        """Return f at each row of ``points`` (shape (..., dims)); differentiable with autograd."""
        x = points[..., 0]
        y = points[..., 1] if self.dims == 2 else torch.zeros_like(x)
        out = self.fn(x, y)
        return out if out.shape == x.shape else torch.broadcast_to(out, x.shape)  # a constant f

    def at(self, *coords: float) -> float:
        """Return f at one point as a Python float."""
        pt = torch.tensor([coords], dtype=torch.float64)
        return float(self.value(pt)[0])

    def gradient(self, *coords: float) -> tuple[float, ...]:
        """Return the gradient of f at one point (autograd, float64)."""
        pt = torch.tensor([coords], dtype=torch.float64, requires_grad=True)
        value = self.value(pt)
        if not value.requires_grad:  # f does not depend on the point: it is flat
            return (0.0,) * len(coords)
        (grad,) = torch.autograd.grad(value.sum(), pt)
        return tuple(float(g) for g in grad[0])

    def grid(self, n: int = 400, domain=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (xs, ys, Z) on an n-point grid per axis; Z[i, j] = f(xs[j], ys[i]) (row-major).

        In 1-D, ys is empty and Z has shape (n,). Non-finite values are kept as NaN.
        """
        dom = domain or self.domain
        xs = torch.linspace(dom[0][0], dom[0][1], n, dtype=torch.float64)
        with torch.no_grad():
            if self.dims == 1:
                z = self.fn(xs, torch.zeros_like(xs))
                return xs.numpy(), np.empty(0), _finite_or_nan(torch.broadcast_to(z, xs.shape))
            ys = torch.linspace(dom[1][0], dom[1][1], n, dtype=torch.float64)
            yy, xx = torch.meshgrid(ys, xs, indexing="ij")
            z = self.fn(xx, yy)
        return xs.numpy(), ys.numpy(), _finite_or_nan(torch.broadcast_to(z, xx.shape))


def _finite_or_nan(z: torch.Tensor) -> np.ndarray:
    arr = z.numpy().astype(np.float64, copy=True)
    arr[~np.isfinite(arr)] = np.nan
    return arr


def _peaks(x, y):
    return (
        3 * (1 - x) ** 2 * torch.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * torch.exp(-(x**2) - y**2)
        - 1 / 3 * torch.exp(-((x + 1) ** 2) - y**2)
    )


def _rastrigin(x, y):
    return 20 + x**2 - 10 * torch.cos(2 * math.pi * x) + y**2 - 10 * torch.cos(2 * math.pi * y)


def _beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _camel(x, y):
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


G, L = "global", "local"
BUILTINS: dict[str, Surface] = {
    s.id: s
    for s in [
        Surface(
            "peaks",
            "Peaks",
            "MATLAB's peaks: one global and one local minimum, two maxima",
            2,
            _peaks,
            ((-3, 3), (-3, 3)),
            (Minimum((0.228279, -1.625535), -6.551133, G), Minimum((-1.347396, 0.204519), -3.049849, L)),
            (-0.35, -0.67),
        ),
        Surface(
            "rosenbrock",
            "Rosenbrock",
            "A long curved valley; the minimum at (1, 1) is easy to see, hard to reach",
            2,
            lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
            ((-2, 2), (-1, 3)),
            (Minimum((1.0, 1.0), 0.0, G),),
            (-1.5, 2.0),
            log_scale=True,
        ),
        Surface(
            "himmelblau",
            "Himmelblau",
            "Four equal global minima: the start decides which one you reach",
            2,
            lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
            ((-5, 5), (-5, 5)),
            (
                Minimum((3.0, 2.0), 0.0, G),
                Minimum((-2.805118, 3.131313), 0.0, G),
                Minimum((-3.779310, -3.283186), 0.0, G),
                Minimum((3.584428, -1.848127), 0.0, G),
            ),
            (0.0, 0.0),
            log_scale=True,
        ),
        Surface(
            "rastrigin",
            "Rastrigin",
            "A bowl covered in local minima; only (0, 0) is global",
            2,
            _rastrigin,
            ((-5.12, 5.12), (-5.12, 5.12)),
            (Minimum((0.0, 0.0), 0.0, G),),
            (3.2, 2.1),
        ),
        Surface(
            "beale",
            "Beale",
            "Flat plateaus and a sharp valley towards (3, 0.5)",
            2,
            _beale,
            ((-4.5, 4.5), (-4.5, 4.5)),
            (Minimum((3.0, 0.5), 0.0, G),),
            (1.0, 1.5),
            log_scale=True,
        ),
        Surface(
            "saddle",
            "Saddle",
            "x² − y²: a saddle point at the origin and no minimum at all",
            2,
            lambda x, y: x**2 - y**2,
            ((-2, 2), (-2, 2)),
            (),
            (-1.5, 0.01),
        ),
        Surface(
            "bowl",
            "Ill-conditioned bowl",
            "0.05·x² + y²: steep across, shallow along — the classic momentum demo",
            2,
            lambda x, y: 0.05 * x**2 + y**2,
            ((-10, 10), (-3, 3)),
            (Minimum((0.0, 0.0), 0.0, G),),
            (-9.0, 2.0),
        ),
        Surface(
            "six-hump-camel",
            "Six-hump camel",
            "Two global minima and four local ones",
            2,
            _camel,
            ((-3, 3), (-2, 2)),
            (
                Minimum((0.089842, -0.712656), -1.031628, G),
                Minimum((-0.089842, 0.712656), -1.031628, G),
                Minimum((1.703607, -0.796084), -0.215464, L),
                Minimum((-1.703607, 0.796084), -0.215464, L),
                Minimum((1.607105, 0.568651), 2.10425, L),
                Minimum((-1.607105, -0.568651), 2.10425, L),
            ),
            (-1.5, 1.5),
        ),
        Surface(
            "xsin",
            "x·sin(x²)",
            "x·sin(x²) on [−2.5, 2.5]: gradient descent stops in whichever dip is nearest",
            1,
            lambda x, y: x * torch.sin(x**2),
            ((-2.5, 2.5),),
            (Minimum((2.194503,), -2.182770, G), Minimum((-1.355211,), -1.307619, L)),
            (1.5,),
        ),
        Surface(
            "quadratic",
            "Quadratic",
            "x²: the simplest bowl; the learning rate alone decides",
            1,
            lambda x, y: x**2,
            ((-3, 3),),
            (Minimum((0.0,), 0.0, G),),
            (2.5,),
        ),
    ]
}

DEFAULT_FORMULA_DOMAIN = (-3.0, 3.0)


def surface_ids() -> list[str]:
    """Return the ids of the built-in surfaces, 2-D first."""
    return list(BUILTINS)


def get_surface(name: str, domain: tuple[tuple[float, float], ...] | None = None) -> Surface:
    """Return the built-in surface ``name`` or, if it is not one, the surface of the typed formula.

    ``domain`` overrides the drawing/divergence domain. Raises UserError for unknown names or bad formulas.
    """
    if name in BUILTINS:
        surface = BUILTINS[name]
        if domain:
            surface = _with_domain(surface, domain)
        return surface
    try:
        formula = parse_formula(name)
    except UserError:
        # 'peeks' or 'six-hump' is a misspelt built-in rather than a formula ('x-y' and '-x' are formulas)
        if name.replace("-", "").replace("_", "").isalpha() and name not in (*VARIABLES, *CONSTANTS, *FUNCTIONS):
            raise UserError(
                f"unknown function '{name}'; choose from {', '.join(BUILTINS)} or type a formula in x and y"
            ) from None
        raise
    dom = domain or tuple([DEFAULT_FORMULA_DOMAIN] * formula.dims)
    return Surface(
        "formula",
        formula.text,
        f"typed formula: {formula.text}",
        formula.dims,
        formula,
        dom,
        (),
        tuple(0.5 * (lo + hi) + 0.3 * (hi - lo) for lo, hi in dom[: formula.dims]),
        formula=formula.text,
    )


def _with_domain(surface: Surface, domain) -> Surface:
    if len(domain) != surface.dims:
        raise UserError(f"{surface.id} is {surface.dims}-D; the domain needs {surface.dims} range(s)")
    return replace(surface, domain=tuple(tuple(map(float, d)) for d in domain))


def parse_domain(text: str, dims: int | None = None) -> tuple[tuple[float, float], ...]:
    """Return ranges parsed from 'xmin,xmax[,ymin,ymax]', or raise UserError."""
    try:
        nums = [float(t) for t in text.split(",")]
    except ValueError:
        raise UserError(f"domain must be numbers 'xmin,xmax[,ymin,ymax]', not {text!r}") from None
    if len(nums) not in (2, 4) or (dims and len(nums) != 2 * dims):
        raise UserError(
            f"domain needs {2 * (dims or 1)} numbers 'xmin,xmax{',ymin,ymax' if dims == 2 else ''}', got {text!r}"
        )
    pairs = tuple((nums[i], nums[i + 1]) for i in range(0, len(nums), 2))
    for lo, hi in pairs:
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise UserError(f"domain range {lo:g},{hi:g} must be finite with min < max")
    return pairs
