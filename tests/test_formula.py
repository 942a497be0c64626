import math
import time
import warnings

import pytest
import torch

from engine.errors import UserError
from engine.surface.formula import parse_formula


@pytest.mark.parametrize(
    "text, x, y, expected",
    [
        ("x*sin(x**2)", 1.5, 0.0, 1.5 * math.sin(2.25)),
        ("(1-x)**2 + 100*(y-x**2)**2", 0.5, 2.0, 0.25 + 100 * 1.75**2),
        ("-x + +y - 3/4", 1.0, 2.0, 0.25),
        (
            "exp(x) + log(y) + sqrt(4) + abs(-x) + tanh(0) + sinh(0) + cosh(0) + cos(pi) + tan(0)",
            0.0,
            e_ := math.e,
            1 + 1 + 2 + 0 + 0 + 0 + 1 - 1 + 0,
        ),
        ("2**-1 * e + 0*x", 0.0, 0.0, math.e / 2),
    ],
)
def test_accepted_formulas_evaluate_like_python(text, x, y, expected):
    f = parse_formula(text)
    got = f(torch.tensor([x], dtype=torch.float64), torch.tensor([y], dtype=torch.float64))
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_dimension_follows_the_variables_used():
    assert parse_formula("x**2").dims == 1
    assert parse_formula("x + y").dims == 2
    assert parse_formula("y**2").dims == 2


def test_gradient_comes_from_autograd():
    f = parse_formula("x*sin(x**2)")
    x = torch.tensor([1.3], dtype=torch.float64, requires_grad=True)
    f(x).sum().backward()
    assert x.grad.item() == pytest.approx(math.sin(1.69) + 2 * 1.69 * math.cos(1.69), rel=1e-12)


def test_a_formula_that_uses_x_but_not_its_value_is_flat():
    f = parse_formula("0*x + 3")
    x = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    out = f(x)
    assert out.tolist() == [3.0] * 4
    out.sum().backward()
    assert x.grad.tolist() == [0.0] * 4


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os').system('echo hi')", "not '__import__('os').system'"),
        ("__import__('os')", "'__import__' is not allowed"),
        ("x.__class__", "attribute access"),
        ("().__class__.__bases__", "attribute access"),
        ("__builtins__", "unknown name '__builtins__'"),
        ("open('f')", "'open' is not allowed"),
        ("eval('1')", "'eval' is not allowed"),
        ("z + 1", "unknown name 'z'"),
        ("x[0]", "subscripts"),
        ("lambda: 1", "lambda"),
        ("'abc'", "only numbers"),
        ("x ^ 2", "write x**2"),
        ("x if y else 1", "'if … else' is not allowed"),
        ("x < y", "comparisons"),
        ("sin(x, y)", "exactly one argument"),
        ("sin", "must be called"),
        ("x +", "syntax error"),
        ("", "empty"),
        ("x+" * 400 + "x", "too long"),
        ("[x for x in y]", "a comprehension is not allowed"),
        ("True + x", "only numbers"),
    ],
)
def test_rejected_formulas_name_the_problem(text, fragment):
    with pytest.raises(UserError) as err:
        parse_formula(text)
    assert fragment in err.value.message
    assert err.value.field == "formula" and "\n" not in err.value.message


@pytest.mark.parametrize(
    "text", ["2", "0/0", "9**9**9**9", "1e308*1e308", "log(-1)", "pi", "-e", "sqrt(4) + 0x10", "(((1)))"]
)
def test_a_constant_is_refused_because_there_is_nothing_to_descend(text):
    # these used to raise RuntimeError ("element 0 of tensors does not require grad") in the paths job
    with pytest.raises(UserError) as err:
        parse_formula(text)
    assert err.value.message == "the formula has no x or y: it is a constant, so there is nothing to descend"
    assert err.value.field == "formula"


@pytest.mark.parametrize(
    "text, number",
    [
        ("0x" + "f" * 280, "0xfffffffffffffffffffff…"),  # used to raise OverflowError
        ("x*0x" + "f" * 280, "0xfffffffffffffffffffff…"),
        ("1e309*x", "1e309"),
        ("x + 1.8e308", "1.8e308"),
        ("x + 0b" + "1" * 1025, None),  # too long: refused before it is read
        ("x*" + "9" * 298 + "0" * 11, None),
    ],
)
def test_a_number_too_large_for_a_float_is_named(text, number):
    with pytest.raises(UserError) as err:
        parse_formula(text)
    if number is None:
        assert "too long" in err.value.message
    else:
        assert f"number {number} at column" in err.value.message and "too large" in err.value.message


def test_the_largest_and_smallest_floats_are_fine():
    f = parse_formula("x*1.7976931348623157e308 + 1e-400 + 5e-324 + 0x" + "f" * 250)
    assert f.dims == 1
    assert math.isfinite(f(torch.tensor([0.0], dtype=torch.float64)).item())


def test_huge_powers_are_float_arithmetic_not_python_integers():
    # a Python int 9**9**9**9 would never finish; as float64 tensors it is inf at once
    start = time.perf_counter()
    f = parse_formula("x*9**9**9**9 + 9**9**9**x")
    out = f(torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64))
    assert time.perf_counter() - start < 1.0
    assert math.isinf(out[0].item()) and math.isnan(out[1].item())


def test_python_warnings_are_not_printed(capfd):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(UserError, match="'if … else' is not allowed"):
            parse_formula("1if x else 2")  # Python warns 'invalid decimal literal' while parsing this
        with pytest.raises(UserError):
            parse_formula("x + '\\d'")  # and 'invalid escape sequence' for this
    assert caught == []
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    "text, column, fragment",
    [
        ("x**", 4, "(the end): the formula is incomplete"),  # these used to say column 1
        ("x**2+y**2+", 11, "(the end): the formula is incomplete"),
        ("x +", 4, "(the end)"),
        ("sin(x", 4, "'(' was never closed"),
        ("x+$", 3, "invalid syntax"),
        ("  x ** ** 2", 8, "invalid syntax"),  # columns count from the text as typed
        ("x)", 2, "unmatched ')'"),
        ("x²", 2, "write **2 for a power"),
        ("x − 1", 3, "use '-'"),
        ("2x", 1, "write '*' between a number and a name"),
        ("x+3y", 3, "write '*' between a number and a name"),
        ("x+\u200b1", 3, "U+200B"),
        ("x+\x00", 3, "U+0000"),
    ],
)
def test_syntax_errors_point_at_the_problem(text, column, fragment):
    with pytest.raises(UserError) as err:
        parse_formula(text)
    assert f"at column {column}" in err.value.message and fragment in err.value.message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("(" * 149 + "x" + ")" * 149, None),
        ("-(" * 90 + "x" + ")" * 90, None),  # 90 negations: within the part limit
        ("sin(" * 50 + "x" + ")" * 50, None),
        ("x**" * 40 + "2", None),
        ("-(" * 150 + "x" + ")" * 150, "too long"),
        ("-" * 299 + "x", "too complex"),
        ("x" + "**x" * 99, "too complex"),
        ("x\n+ y", None),  # any whitespace is a space
        ("\tx\u00a0+\u3000y ", None),
        ("١+x", "invalid character '١' (U+0661)"),  # Arabic-Indic digit
        ("x+١", "at column 3"),
        ("e(x)", "e is not a function"),
        ("pi(x)", "pi is not a function"),
        ("x(2)", "x is not a function"),
        ("2(x+1)", "write '*' to multiply"),
        ("(x+1)(x-1)", "write '*' to multiply"),
        ("3j*x", "complex numbers are not allowed"),
        ("~x", "operator ~ is not allowed"),
        ("not x", "operator not is not allowed"),
        ("x, y", "a list of values"),
        ("(x := 2)", "':=' is not allowed"),
        ("f'{x}'", "a string is not allowed"),
        ("π*x", "write pi"),
        ("unknown_" + "a" * 200, "unknown name 'unknown_aaaaaaaaaaaaaaa…'"),
    ],
)
def test_odd_formulas_are_surfaces_or_user_errors(text, fragment):
    if fragment is None:
        f = parse_formula(text)
        f(torch.linspace(-1, 1, 5, dtype=torch.float64), torch.linspace(-1, 1, 5, dtype=torch.float64))
        return
    with pytest.raises(UserError) as err:
        parse_formula(text)
    assert fragment in err.value.message


def test_columns_count_characters_not_bytes():
    assert parse_formula("𝑥**2").dims == 1  # Python reads the mathematical italic x as x (NFKC)
    with pytest.raises(UserError, match="'z' at column 5"):
        parse_formula("𝑥 + z")  # 𝑥 is four bytes in UTF-8
