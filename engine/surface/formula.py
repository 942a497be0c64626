"""Safe parsing of typed formulas in x (1-D) or x and y (2-D) into torch functions.

The text is parsed with :mod:`ast` and compiled into a tree of closures over a whitelist of
operators and functions; user text is never passed to ``eval``. Every number is a float64 tensor
when the formula runs (Python integers are never computed with), so ``9**9**9**9`` costs no more than
``2**3`` and simply gives inf. A formula must use x or y: a constant has nothing to descend.
Every problem with the text is a :class:`UserError` whose field is ``formula``.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from dataclasses import dataclass
from typing import Callable

import torch

from engine.errors import UserError

MAX_LENGTH = 300
MAX_NODES = 200
FIELD = "formula"
SNIPPET = 24  # characters of the text quoted in a message before it is cut with '…'

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
}
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("x", "y")

_BINOPS = {
    ast.Add: torch.add,
    ast.Sub: torch.sub,
    ast.Mult: torch.mul,
    ast.Div: torch.div,
    ast.Pow: torch.pow,
}
_OP_HINTS = {
    ast.BitXor: "'^' is not a power here; write x**2",
    ast.FloorDiv: "'//' is not allowed; use '/'",
    ast.Mod: "'%' is not allowed",
    ast.MatMult: "'@' is not allowed",
}
# the names of the Python constructs a formula cannot use, in the user's words
_KINDS = {
    "IfExp": "'if … else'",
    "Tuple": "a list of values (a comma)",
    "List": "a list",
    "Set": "a set",
    "Dict": "a dict",
    "ListComp": "a comprehension",
    "SetComp": "a comprehension",
    "DictComp": "a comprehension",
    "GeneratorExp": "a comprehension",
    "NamedExpr": "':='",
    "JoinedStr": "a string",
    "Starred": "'*'",
    "Yield": "yield",
    "YieldFrom": "yield",
    "Await": "await",
    "Slice": "a slice",
}

# characters pasted from typeset formulas, and what to type instead
_CHAR_HINTS = {
    **{c: f"write **{d} for a power" for c, d in zip("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")},
    "−": "use '-'",
    "×": "use '*'",
    "·": "use '*'",
    "÷": "use '/'",
    "π": "write pi",
}

Node = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Formula:
    """A parsed formula: its text, dimension (1 or 2) and a torch function of x and y."""

    text: str
    dims: int
    _node: Node

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Return the formula evaluated element-wise at tensors x (and y)."""
        if y is None:
            y = torch.zeros_like(x)
        out = self._node(x, y)
        return out if out.shape == x.shape else out.expand_as(x).clone()


def _error(message: str) -> UserError:
    return UserError(message, FIELD)


def parse_formula(text: str) -> Formula:
    """Return the Formula for ``text`` or raise UserError (field ``formula``) naming the offending part.

    Columns in messages count characters of ``text`` from 1. Whitespace of any kind (tabs, newlines) counts
    as a space. A formula without x or y (a constant) is refused.
    """
    if not isinstance(text, str) or not text.strip():
        raise _error("formula is empty; type an expression in x (1-D) or x and y (2-D), e.g. x*sin(x**2)")
    if len(text) > MAX_LENGTH:
        raise _error(f"formula is too long ({len(text)} characters; at most {MAX_LENGTH})")
    flat = "".join(" " if c.isspace() else c for c in text)  # one line: columns stay those of the text
    lead = len(flat) - len(flat.lstrip())
    source = flat.strip()
    for i, c in enumerate(source):
        if not c.isprintable():
            raise _error(f"character U+{ord(c):04X} at column {lead + i + 1} is not allowed")
    tree = _parse(source, lead)
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise _error(f"formula is too complex ({count} parts; at most {MAX_NODES})")
    used: set[str] = set()
    try:
        node = _compile(tree.body, source, lead, used)
    except RecursionError:  # cannot happen within MAX_NODES, but a crash must never reach the user
        raise _error(f"formula is too deeply nested (at most {MAX_NODES} parts)") from None
    if not used:
        raise _error("the formula has no x or y: it is a constant, so there is nothing to descend")
    dims = 2 if "y" in used else 1
    return Formula(source, dims, node)


def _parse(source: str, lead: int) -> ast.Expression:
    """Return the ast of ``source`` (Python prints no warning); raise UserError for a syntax error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for '1if x else 2' must not reach stderr
            return ast.parse(source, mode="eval")
    except SyntaxError as err:
        offset = err.offset or 0
        if err.lineno not in (None, 1) or not 1 <= offset <= len(source):
            # the parser ran out of text ('x**', '(x'): the problem is at the end
            raise _error(f"syntax error at column {lead + len(source) + 1} (the end): {_msg(err, True)}") from None
        hint = _CHAR_HINTS.get(source[offset - 1])
        if err.msg == "invalid decimal literal" and re.match(r"[\d.]+[^\W\d_]", source[offset - 1 :]):
            hint = "write '*' between a number and a name, e.g. 2*x"
        raise _error(f"syntax error at column {lead + offset}: {_msg(err)}{'; ' + hint if hint else ''}") from None
    except (ValueError, RecursionError, MemoryError) as err:  # null bytes (3.11), absurd nesting
        raise _error(f"formula cannot be read ({err})") from None


def _msg(err: SyntaxError, at_end: bool = False) -> str:
    msg = " ".join(str(err.msg or "").split()) or "invalid syntax"
    return "the formula is incomplete" if at_end and msg == "invalid syntax" else msg


def _snippet(text: str) -> str:
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def _column(node: ast.AST, source: str, lead: int) -> int:
    """Return the 1-based character column of ``node`` (ast counts UTF-8 bytes)."""
    offset = getattr(node, "col_offset", 0) or 0
    return lead + len(source.encode("utf-8")[:offset].decode("utf-8", "ignore")) + 1


def _where(node: ast.AST, source: str, lead: int) -> str:
    seg = ast.get_source_segment(source, node) or type(node).__name__
    return f"'{_snippet(seg)}' at column {_column(node, source, lead)}"


def _number(node: ast.Constant, source: str, lead: int) -> float:
    """Return the float64 value of a number literal; raise UserError if it is not a finite float."""
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, complex):
            raise _error(f"complex numbers are not allowed ({_where(node, source, lead)})")
        raise _error(f"only numbers are allowed as constants, not {_where(node, source, lead)}")
    try:
        const = float(value)
    except OverflowError:
        const = math.inf
    if not math.isfinite(const):
        seg = ast.get_source_segment(source, node) or str(value)
        col = _column(node, source, lead)
        raise _error(f"number {_snippet(seg)} at column {col} is too large (the largest is about 1.8e308)")
    return const


def _compile(node: ast.AST, source: str, lead: int, used: set[str]) -> Node:
    where = lambda n: _where(n, source, lead)  # noqa: E731
    if isinstance(node, ast.Constant):
        const = _number(node, source, lead)
        return lambda x, y: torch.tensor(const, dtype=x.dtype, device=x.device)
    if isinstance(node, ast.Name):
        name = node.id
        if name == "x":
            used.add("x")
            return lambda x, y: x
        if name == "y":
            used.add("y")
            return lambda x, y: y
        if name in CONSTANTS:
            const = CONSTANTS[name]
            return lambda x, y: torch.tensor(const, dtype=x.dtype, device=x.device)
        if name in FUNCTIONS:
            raise _error(f"function {name} must be called, e.g. {name}(x)")
        hint = "; write pi" if name == "π" else f"; use x, y, pi, e or {', '.join(FUNCTIONS)}"
        raise _error(f"unknown name {where(node)}{hint}")
    if isinstance(node, ast.BinOp):
        op = type(node.op)
        if op not in _BINOPS:
            hint = _OP_HINTS.get(op, f"operator {op.__name__} is not allowed")
            raise _error(f"{hint} ({where(node)})")
        fn = _BINOPS[op]
        left = _compile(node.left, source, lead, used)
        right = _compile(node.right, source, lead, used)
        return lambda x, y: fn(left(x, y), right(x, y))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, (ast.Not, ast.Invert)):
            raise _error(f"operator {'not' if isinstance(node.op, ast.Not) else '~'} is not allowed ({where(node)})")
        operand = _compile(node.operand, source, lead, used)
        if isinstance(node.op, ast.USub):
            return lambda x, y: torch.neg(operand(x, y))
        return operand  # UAdd
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, (ast.Constant, ast.BinOp, ast.UnaryOp)):  # '2(x+1)', '(x+1)(x-1)'
            raise _error(f"a number or a bracket cannot be called; write '*' to multiply ({where(node)})")
        if not isinstance(func, ast.Name):
            raise _error(f"only calls to {', '.join(FUNCTIONS)} are allowed, not {where(func)}")
        if func.id in VARIABLES or func.id in CONSTANTS:
            raise _error(f"{func.id} is not a function; write {func.id}*(…) to multiply ({where(node)})")
        if func.id not in FUNCTIONS:
            raise _error(f"function '{_snippet(func.id)}' is not allowed; use one of {', '.join(FUNCTIONS)}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise _error(f"{func.id}() takes exactly one argument ({where(node)})")
        fn = FUNCTIONS[func.id]
        arg = _compile(node.args[0], source, lead, used)
        return lambda x, y: fn(arg(x, y))
    if isinstance(node, ast.Attribute):
        raise _error(f"attribute access is not allowed ({where(node)})")
    if isinstance(node, ast.Subscript):
        raise _error(f"subscripts are not allowed ({where(node)})")
    if isinstance(node, ast.Lambda):
        raise _error("lambda is not allowed")
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        raise _error(f"comparisons and and/or are not allowed ({where(node)})")
    kind = type(node).__name__
    raise _error(f"{_KINDS.get(kind, kind)} is not allowed ({where(node)})")
