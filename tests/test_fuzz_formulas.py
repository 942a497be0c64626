"""Property-based tests: any text typed as a formula gives a Surface or a UserError, never a crash.

Formulas come from a grammar over everything a formula may contain (the whitelisted functions, operators,
constants, x, y and odd number literals: huge, tiny, hex, 1e308, 0), plus things it may not, plus cut or
garbled versions of them, plus random printable text. Set FUZZ_SCALE=20 to run twenty times as many examples.
"""

import contextlib
import io
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import main
from engine.errors import UserError
from engine.surface.formula import CONSTANTS, FUNCTIONS
from engine.surface.functions import Surface, get_surface
from engine.surface.paths import PathSpec, compute_paths

SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
STEPS = 20

# ---- the grammar ------------------------------------------------------------------------------------------

_HUGE_INTS = st.one_of(
    st.integers(min_value=0, max_value=10**20),
    st.integers(min_value=10**300, max_value=10**330),
    st.sampled_from([2**1023, 2**1024, 2**1024 - 2**970, 10**308, 10**309]),
)
NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=100).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: repr(abs(v))),
    _HUGE_INTS.map(str),
    _HUGE_INTS.map(hex),
    st.integers(min_value=1, max_value=290).map(lambda n: "0x" + "f" * n),
    st.sampled_from(
        ["0", "0.0", "1e308", "1.7976931348623157e308", "1.8e308", "1e309", "1e-308", "5e-324", "1e-400", "1_000"]
        + ["0b101", "0o17", ".5", "5.", "1E3", "00", "3j", "0e0", "9"]
    ),
)
LEAVES = st.one_of(st.sampled_from(["x", "y", "x", "y", *CONSTANTS]), NUMBERS, st.sampled_from(["x", "y"]))
OPS = ["+", "-", "*", "/", "**", " + ", " - ", " * ", " / ", " ** "]
BAD_OPS = ["^", "//", "%", "@", "<", "==", " and ", " if x else ", ",", "&"]
NAMES = [*FUNCTIONS, *CONSTANTS, "x", "y", "z", "sin", "open", "__import__"]


def _extend(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from(OPS), inner).map("".join),
        st.tuples(inner, st.sampled_from(BAD_OPS), inner).map("".join),
        st.tuples(st.sampled_from(["-", "+", "-(", "--", "not ", "~"]), inner).map(
            lambda t: t[0] + t[1] + (")" if t[0].endswith("(") else "")
        ),
        st.tuples(st.sampled_from(list(FUNCTIONS)), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(NAMES), st.lists(inner, max_size=2)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        inner.map(lambda s: f"({s})"),
    )


GRAMMAR = st.recursive(LEAVES, _extend, max_leaves=10)


@st.composite
def _garbled(draw):
    """A grammar formula cut short, or with characters inserted: the typos a user makes while typing."""
    text = draw(GRAMMAR)
    cut = draw(st.integers(min_value=0, max_value=len(text)))
    if draw(st.booleans()):
        return text[:cut]
    extra = draw(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=3))
    return text[:cut] + extra + text[cut:]


_NESTED = st.one_of(
    st.integers(min_value=1, max_value=160).map(lambda n: "(" * n + "x" + ")" * n),
    st.integers(min_value=1, max_value=150).map(lambda n: "-(" * n + "x" + ")" * n),
    st.integers(min_value=1, max_value=299).map(lambda n: "-" * n + "x"),
    st.integers(min_value=1, max_value=75).map(lambda n: "sin(" * n + "x" + ")" * n),
    st.integers(min_value=1, max_value=100).map(lambda n: "x**" * n + "9"),
    st.integers(min_value=1, max_value=100).map(lambda n: "9**" * n + "x"),
)
FORMULAS = st.one_of(
    GRAMMAR,
    GRAMMAR,
    GRAMMAR,
    GRAMMAR,
    _garbled(),
    _NESTED,
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    st.text(max_size=20),
)


# ---- the properties ---------------------------------------------------------------------------------------


def _cli(text: str, out) -> tuple[int, str]:
    """Run `main.py surface --function TEXT` in this process; return (exit code, what it wrote on stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main.main(["surface", "--function", text, "--steps", "5", "--grid", "20", "--out", str(out)])
    return code, stderr.getvalue()


@pytest.fixture(scope="module", autouse=True)
def _warm_up(tmp_path_factory):
    """Run the command line once so that its first-time imports (the PNG renderer) count against no deadline."""
    assert _cli("x*y", tmp_path_factory.mktemp("warm"))[0] == 0


def _surface_or_none(text: str) -> Surface | None:
    """Return get_surface(text), or None when it raised UserError; anything else fails the test."""
    try:
        surface = get_surface(text)
    except UserError as err:
        assert "\n" not in err.message and err.message.strip()
        return None
    assert isinstance(surface, Surface)
    return surface


@settings(
    max_examples=300 * SCALE,
    deadline=None,  # a fuzz test, not a timing: on a loaded 2-core machine one example took over 2 s
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
@given(FORMULAS)
def test_any_text_is_a_surface_or_a_user_error_and_never_crashes_the_paths(text):
    surface = _surface_or_none(text)
    if surface is None:
        return
    assert surface.dims in (1, 2) and len(surface.default_start) == surface.dims
    xs, ys, z = surface.grid(40)
    assert z.shape == ((40,) if surface.dims == 1 else (40, 40))
    assert not np.isinf(z).any()  # finite or NaN
    value = surface.at(*surface.default_start)
    grad = surface.gradient(*surface.default_start)
    assert len(grad) == surface.dims and isinstance(value, float)
    specs = [PathSpec("sgd", {"lr": 0.1}), PathSpec("adam", {})]
    paths = compute_paths(surface, specs, [surface.default_start], STEPS)
    assert len(paths) == 2
    for p in paths:
        assert len(p.points) >= 1 and p.points.shape[1] == surface.dims
        assert np.isfinite(p.points).all()  # a path is cut before it leaves the finite numbers
        if p.diverged_at is None:
            assert len(p.points) == STEPS + 1 and np.isfinite(p.losses).all()
        else:
            assert 0 <= p.diverged_at <= STEPS and len(p.points) <= p.diverged_at + 1
    if not math.isfinite(value):
        assert all(p.diverged_at == 0 for p in paths)


# a 1-D path that starts where f is NaN is drawn at (x, NaN): pyqtgraph warns while the PNG is rendered
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@settings(
    max_examples=120 * SCALE,
    deadline=None,  # a fuzz test, not a timing: on a loaded 2-core machine one example took over 2 s
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(text=FORMULAS)
def test_the_command_line_answers_any_formula_with_0_or_one_error_line(text, tmp_path_factory):
    code, err = _cli(text, tmp_path_factory.mktemp("fuzz"))
    assert code in (0, 2), err
    assert "internal error" not in err and "Traceback" not in err
    if code == 2:
        assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
        assert len(err.splitlines()) == 1


# ---- the cases the fuzzing started from, through the command line ----------------------------------------


@pytest.mark.parametrize(
    "text, line",
    [
        ("2", "the formula has no x or y: it is a constant, so there is nothing to descend"),  # was exit 1
        ("9**9**9**9", "the formula has no x or y: it is a constant, so there is nothing to descend"),
        ("log(-1)", "the formula has no x or y: it is a constant, so there is nothing to descend"),
        ("0x" + "f" * 280, "number 0xfffffffffffffffffffff… at column 1 is too large (the largest is about 1.8e308)"),
        ("1if x else 2", "'if … else' is not allowed ('1if x else 2' at column 1)"),  # no SyntaxWarning line
        ("x**", "syntax error at column 4 (the end): the formula is incomplete"),
        ("x**2+y**2+", "syntax error at column 11 (the end): the formula is incomplete"),
    ],
)
def test_the_command_line_names_each_formula_problem_in_one_line(text, line, tmp_path):
    code, err = _cli(text, tmp_path)
    assert (code, err) == (2, f"error: --function: {line}\n")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("text", ["x*9**9**9**9", "x-y", "sqrt(x)"])
def test_the_command_line_draws_formulas_that_are_not_finite_somewhere(text, tmp_path):
    code, err = _cli(text, tmp_path)
    assert code == 0 and "error" not in err
    assert (tmp_path / "paths.json").exists() and (tmp_path / "surface.png").exists()
