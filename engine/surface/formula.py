"""Safe parsing of typed formulas in x (1-D) or x and y (2-D) into torch functions.

The text is parsed with :mod:`ast` and compiled into a tree of closures over a whitelist of
operators and functions; user text is never passed to ``eval``.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Callable

import torch

from engine.errors import UserError

MAX_LENGTH = 300
MAX_NODES = 200

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


def parse_formula(text: str) -> Formula:
    """Return the Formula for ``text`` or raise UserError naming the offending part."""
    if not isinstance(text, str) or not text.strip():
        raise UserError("formula is empty; type an expression in x (1-D) or x and y (2-D), e.g. x*sin(x**2)")
    if len(text) > MAX_LENGTH:
        raise UserError(f"formula is too long ({len(text)} characters; at most {MAX_LENGTH})")
    source = text.strip()
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        col = err.offset or 1
        raise UserError(f"formula syntax error at column {col}: {err.msg}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise UserError(f"formula is too complex ({count} parts; at most {MAX_NODES})")
    used: set[str] = set()
    node = _compile(tree.body, source, used)
    dims = 2 if "y" in used else 1
    return Formula(source, dims, node)


def _where(node: ast.AST, source: str) -> str:
    seg = ast.get_source_segment(source, node) or type(node).__name__
    return f"'{seg}' at column {getattr(node, 'col_offset', 0) + 1}"


def _compile(node: ast.AST, source: str, used: set[str]) -> Node:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"formula: only numbers are allowed as constants, not {_where(node, source)}")
        const = float(value)
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
            raise UserError(f"formula: function {name} must be called, e.g. {name}(x)")
        raise UserError(f"formula: unknown name {_where(node, source)}; use x, y, pi, e or {', '.join(FUNCTIONS)}")
    if isinstance(node, ast.BinOp):
        op = type(node.op)
        if op not in _BINOPS:
            hint = _OP_HINTS.get(op, f"operator {op.__name__} is not allowed")
            raise UserError(f"formula: {hint} ({_where(node, source)})")
        fn = _BINOPS[op]
        left, right = _compile(node.left, source, used), _compile(node.right, source, used)
        return lambda x, y: fn(left(x, y), right(x, y))
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, source, used)
        if isinstance(node.op, ast.USub):
            return lambda x, y: torch.neg(operand(x, y))
        if isinstance(node.op, ast.UAdd):
            return operand
        raise UserError(f"formula: operator {type(node.op).__name__} is not allowed ({_where(node, source)})")
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            raise UserError(f"formula: only calls to {', '.join(FUNCTIONS)} are allowed, not {_where(func, source)}")
        if func.id not in FUNCTIONS:
            raise UserError(f"formula: function '{func.id}' is not allowed; use one of {', '.join(FUNCTIONS)}")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise UserError(f"formula: {func.id}() takes exactly one argument ({_where(node, source)})")
        fn = FUNCTIONS[func.id]
        arg = _compile(node.args[0], source, used)
        return lambda x, y: fn(arg(x, y))
    if isinstance(node, ast.Attribute):
        raise UserError(f"formula: attribute access is not allowed ({_where(node, source)})")
    if isinstance(node, ast.Subscript):
        raise UserError(f"formula: subscripts are not allowed ({_where(node, source)})")
    if isinstance(node, ast.Lambda):
        raise UserError("formula: lambda is not allowed")
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        raise UserError(f"formula: comparisons and and/or are not allowed ({_where(node, source)})")
    raise UserError(f"formula: {type(node).__name__} is not allowed ({_where(node, source)})")
