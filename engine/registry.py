"""Uniform tables of entries (surfaces, optimizers, schedulers), each with typed, ranged parameters.

The GUI builds its forms from these tables and the command line validates ``--set`` values with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from engine.errors import UserError


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its name, default, kind and valid range."""

    name: str
    default: Any
    kind: str = "float"  # float | int | bool | choice
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: value must be > low (not >=)
    high_open: bool = False  # True: value must be < high (not <=)
    choices: tuple = ()
    help: str = ""
    log: bool = False  # suggests a log-scale editor (learning rates)

    def describe_range(self) -> str:
        """Return the valid range as text, e.g. '(0, 1)' or '[0, inf)'."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return " | ".join(map(str, self.choices))
        lo = "-inf" if self.low is None else _fmt(self.low)
        hi = "inf" if self.high is None else _fmt(self.high)
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return f"{left}{lo}, {hi}{right}"

    def coerce(self, value: Any, owner: str = "") -> Any:
        """Return ``value`` converted to this parameter's type, or raise UserError naming the problem."""
        label = f"{owner}.{self.name}" if owner else self.name
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise UserError(f"{label} must be true or false, not {value!r}", self.name)
        if self.kind == "choice":
            if value in self.choices:
                return value
            text = str(value).strip()
            for choice in self.choices:
                if str(choice) == text:
                    return choice
            raise UserError(f"{label} must be one of {self.describe_range()}, not {value!r}", self.name)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{label} must be a number, not {value!r}", self.name) from None
        if not math.isfinite(number):
            raise UserError(f"{label} must be a finite number, not {value!r}", self.name)
        if self.kind == "int":
            if number != int(number):
                raise UserError(f"{label} must be a whole number, not {value!r}", self.name)
            number = int(number)
        too_low = self.low is not None and (number < self.low or (self.low_open and number == self.low))
        too_high = self.high is not None and (number > self.high or (self.high_open and number == self.high))
        if too_low or too_high:
            raise UserError(f"{label} = {_fmt(number)} is out of range; valid: {self.describe_range()}", self.name)
        return number


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Entry:
    """One row of a registry: an id, display name, description, parameters and a factory."""

    id: str
    name: str
    description: str
    params: tuple[Param, ...] = ()
    factory: Callable[..., Any] | None = None
    extra: dict = field(default_factory=dict)

    def param(self, name: str) -> Param:
        """Return the parameter called ``name`` or raise UserError listing the valid ones."""
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params) or "none"
        raise UserError(f"{self.id} has no parameter '{name}'; its parameters: {valid}", name)

    def defaults(self) -> dict:
        """Return a fresh dict of every parameter's default value."""
        return {p.name: p.default for p in self.params}

    def resolve(self, overrides: dict | None = None) -> dict:
        """Return the defaults updated with ``overrides``, each validated and coerced."""
        values = self.defaults()
        for key, value in (overrides or {}).items():
            values[key] = self.param(key).coerce(value, self.id)
        return values


class Registry:
    """An ordered table of entries looked up by id."""

    def __init__(self, kind: str, entries: list[Entry]):
        self.kind = kind
        self._entries = {e.id: e for e in entries}

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def ids(self) -> list[str]:
        """Return every entry id in table order."""
        return list(self._entries)

    def get(self, key: str) -> Entry:
        """Return the entry ``key`` or raise UserError listing the valid ids."""
        try:
            return self._entries[key]
        except KeyError:
            raise UserError(
                f"unknown {self.kind} '{key}'; choose from: {', '.join(self._entries)}", self.kind
            ) from None
