import math
import time

import numpy as np
import pytest

from engine.errors import UserError
from engine.surface.functions import BUILTINS, get_surface, parse_domain

# (surface, point, value, gradient), values and derivatives worked out by hand
KNOWN = [
    ("peaks", (0.0, 0.0), 3 * math.exp(-1) - 1 / 3 * math.exp(-1), None),
    ("rosenbrock", (0.0, 0.0), 1.0, (-2.0, 0.0)),
    ("rosenbrock", (1.0, 1.0), 0.0, (0.0, 0.0)),
    ("himmelblau", (0.0, 0.0), 170.0, (-14.0, -22.0)),
    ("rastrigin", (0.0, 0.0), 0.0, (0.0, 0.0)),
    ("rastrigin", (1.0, 0.0), 1.0, (2.0, 0.0)),
    ("beale", (3.0, 0.5), 0.0, (0.0, 0.0)),
    ("beale", (0.0, 0.0), 1.5**2 + 2.25**2 + 2.625**2, (-12.75, 0.0)),
    ("saddle", (1.0, 2.0), -3.0, (2.0, -4.0)),
    ("bowl", (2.0, 1.0), 1.2, (0.2, 2.0)),
    ("six-hump-camel", (0.0, 0.0), 0.0, (0.0, 0.0)),
    ("six-hump-camel", (1.0, 1.0), 4 - 2.1 + 1 / 3 + 1, (8 - 8.4 + 2 + 1, 1 - 8 + 16)),
    ("xsin", (1.5,), 1.5 * math.sin(2.25), (math.sin(2.25) + 2 * 2.25 * math.cos(2.25),)),
    ("quadratic", (-2.0,), 4.0, (-4.0,)),
]


@pytest.mark.parametrize("name, point, value, grad", KNOWN)
def test_builtin_value_and_gradient(name, point, value, grad):
    s = get_surface(name)
    assert s.at(*point) == pytest.approx(value, abs=1e-12)
    if grad is not None:
        assert s.gradient(*point) == pytest.approx(grad, abs=1e-9)


def test_peaks_gradient_matches_finite_differences():
    s = get_surface("peaks")
    h = 1e-6
    g = s.gradient(-0.35, -0.67)
    fd = (
        (s.at(-0.35 + h, -0.67) - s.at(-0.35 - h, -0.67)) / (2 * h),
        (s.at(-0.35, -0.67 + h) - s.at(-0.35, -0.67 - h)) / (2 * h),
    )
    assert g == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("name", list(BUILTINS))
def test_every_known_minimum_is_a_stationary_point_with_its_value(name):
    s = get_surface(name)
    assert s.description and s.domain and len(s.default_start) == s.dims
    for m in s.minima:
        assert s.at(*m.point) == pytest.approx(m.value, abs=1e-5)
        assert np.linalg.norm(s.gradient(*m.point)) < 2e-3
    glob = [m.value for m in s.minima if m.kind == "global"]
    assert all(m.value >= min(glob) - 1e-9 for m in s.minima) if glob else True


def test_every_builtin_is_listed():
    assert set(BUILTINS) == {
        "peaks",
        "rosenbrock",
        "himmelblau",
        "rastrigin",
        "beale",
        "saddle",
        "bowl",
        "six-hump-camel",
        "xsin",
        "quadratic",
    }


def test_grid_is_row_major_and_fast():
    s = get_surface("rosenbrock")
    start = time.perf_counter()
    xs, ys, z = s.grid(400)
    elapsed = time.perf_counter() - start
    assert z.shape == (400, 400)
    assert z[0, 0] == pytest.approx(s.at(xs[0], ys[0]))
    assert z[399, 10] == pytest.approx(s.at(xs[10], ys[399]))
    assert elapsed < 1.0  # generous: it takes a few ms; this only catches a per-point Python loop


def test_formula_surface_and_domain():
    s = get_surface("x**2 + y", parse_domain("-1,1,0,2"))
    assert s.dims == 2 and s.domain == ((-1, 1), (0, 2))
    assert s.at(0.5, 1.0) == pytest.approx(1.25)
    xs, ys, z = get_surface("log(x)").grid(50)
    assert np.isnan(z[0]) and np.isfinite(z[-1])


@pytest.mark.parametrize("text", ["1,2,3", "a,b", "2,1", "0,1,5,5"])
def test_bad_domains_are_refused(text):
    with pytest.raises(UserError):
        parse_domain(text)


def test_unknown_name_suggests_the_builtins():
    with pytest.raises(UserError, match="peaks"):
        get_surface("peeks")


@pytest.mark.parametrize("text", ["x-y", "-x", "e-x", "pi-x", "x--y"])
def test_formulas_made_of_letters_and_dashes_are_formulas(text):
    # 'x-y' used to be taken for a misspelt built-in name ("unknown function 'x-y'")
    s = get_surface(text)
    assert s.id == "formula" and s.formula == text


@pytest.mark.parametrize("text, fragment", [("peeks", "unknown function 'peeks'"), ("six-hump", "unknown function")])
def test_misspelt_builtins_are_still_named_as_such(text, fragment):
    with pytest.raises(UserError, match=fragment):
        get_surface(text)


@pytest.mark.parametrize("text", ["2", "pi", "e", "0/0", "log(-1)"])
def test_a_constant_formula_is_refused(text):
    with pytest.raises(UserError, match="no x or y"):
        get_surface(text)


@pytest.mark.parametrize("text", ["1/x", "x*9**9**9**9", "9**9**9**x", "sqrt(x)", "log(x*y)", "x**-1"])
def test_grid_is_finite_or_nan_where_the_formula_is_not(text):
    s = get_surface(text)
    xs, ys, z = s.grid(3, ((-1.0, 1.0),) * s.dims)  # -1, 0, 1
    assert not np.isinf(z).any()
    assert np.isnan(z).any()
    assert z.shape == ((3,) if s.dims == 1 else (3, 3))
