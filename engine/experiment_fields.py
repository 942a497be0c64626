"""The experiment model's building blocks: its error type, typed and ranged fields, and the evented base class.

Every check here words its own message and names the value at fault (``1e12 is not an integer in
0..1000000``); pydantic's wording never reaches the user. ``Rule`` objects sit in each field's
``Annotated`` metadata, so a view can read a setting's kind and range from ``Model.model_fields``.
"""

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Callable

from psygnal import EventedModel
from pydantic import ConfigDict, PlainValidator, ValidationError, field_validator

from engine.errors import UserError
from engine.registry import Entry, Param

MAX_TEXT = 1000  # characters in any text setting


class ExperimentError(UserError):
    """Any problem with an experiment's settings or file; ``field`` is the dotted path of the culprit."""

    def under(self, prefix: str) -> "ExperimentError":
        """Return the same error with its field placed under ``prefix`` (``epochs`` -> ``training.epochs``)."""
        return ExperimentError(self.message, f"{prefix}.{self.field}" if self.field else prefix)

    def __reduce__(self):
        return (ExperimentError, (self.message, self.field))


class Invalid(ValueError):
    """Raised inside validators: a message naming the value, and the path below the field being checked."""

    def __init__(self, message: str, *path: Any):
        super().__init__(message)
        self.message = message
        self.path = tuple(str(p) for p in path)


# -- wording ----------------------------------------------------------------------------------------------
def num(x: float) -> str:
    """Return a bound or value as short text: 1000000, 0.99, 1e12, -Infinity, true."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x) if x.bit_length() < 100 else f"a {_digits(x)}-digit{' negative' if x < 0 else ''} integer"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x.is_integer() and abs(x) < 1e6:
        return str(int(x))
    text = repr(x)
    if "e" not in text and (abs(x) >= 1e6):
        mantissa, exponent = f"{x:.16e}".split("e")
        text = f"{float(mantissa)!r}e{int(exponent)}"
    return re.sub(r"e\+?(-?)0*(\d)", r"e\1\2", text).replace(".0e", "e")


def _digits(x: int) -> int:
    return int(abs(x).bit_length() * 0.30103) + 1


def show(value: Any, depth: int = 0) -> str:
    """Return ``value`` as short, safe text for a message (JSON words, truncated, never huge)."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return num(value)
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:40] + "…"
        return repr(text)
    if depth >= 2:
        return "[…]" if isinstance(value, (list, tuple)) else "{…}"
    if isinstance(value, (list, tuple)):
        items = [show(v, depth + 1) for v in value[:6]]
        return "[" + ", ".join(items + (["…"] if len(value) > 6 else [])) + "]"
    if isinstance(value, dict):
        items = [f"{show(k, depth + 1)}: {show(v, depth + 1)}" for k, v in list(value.items())[:4]]
        return "{" + ", ".join(items + (["…"] if len(value) > 4 else [])) + "}"
    return f"a {type(value).__name__}"


# -- rules --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """How one setting is checked: its kind (int, float, bool, text, choice), range or choices."""

    kind: str
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    choices: tuple = ()
    optional: bool = False
    extra: Callable[[str], str] | None = None  # text: a further check that returns the value or raises Invalid

    def describe(self) -> str:
        """Return what a valid value is, e.g. 'an integer in 0..1000000' or 'one of relu, tanh'."""
        if self.kind in ("int", "float"):
            noun = "an integer" if self.kind == "int" else "a number"
            span = f"[{num(self.low)}, {num(self.high)})" if self.high_open else f"{num(self.low)}..{num(self.high)}"
            text = f"{noun} in {span}"
        elif self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(map(str, self.choices))
        else:
            text = f"text of at most {MAX_TEXT} characters"
        return text + (" or null" if self.optional else "")

    def check(self, value: Any) -> Any:
        """Return ``value`` checked and normalised (5.0 -> 5 for integers), or raise Invalid naming it."""
        if value is None and self.optional:
            return None
        if self.kind in ("int", "float"):
            return number(value, self.kind == "int", self.low, self.high, self.high_open, self.describe())
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
        elif self.kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
        elif isinstance(value, str):
            text = clean_text(value)
            return self.extra(text) if self.extra else text
        raise Invalid(f"{show(value)} is not {self.describe()}")


def number(value: Any, integer: bool, low, high, high_open: bool = False, describe: str = "") -> int | float:
    """Return ``value`` as an int or float within [low, high] (or [low, high)), or raise Invalid naming it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and isinstance(value, float):
        ok = math.isfinite(value) and (not integer or value.is_integer())
    if ok:
        ok = (low is None or value >= low) and (high is None or (value < high if high_open else value <= high))
    if ok and not integer:
        try:
            return float(value)
        except OverflowError:
            ok = False
    if not ok:
        raise Invalid(f"{show(value)} is not {describe}")
    return int(value)


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """Return ``value`` if it is printable text of at most ``limit`` characters, else raise Invalid."""
    if len(value) > limit:
        raise Invalid(f"{show(value)} is longer than {limit} characters")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF or ord(c) == 0x7F for c in value):
        raise Invalid(f"{show(value)} contains control characters or broken unicode")
    return value


def typed(rule: Rule, base: Any) -> Any:
    """Return an ``Annotated`` type checked by ``rule`` (which stays readable in the field's metadata)."""
    return Annotated[base, rule, PlainValidator(rule.check)]


def Int(low: int, high: int) -> Any:
    """Return an integer setting type in low..high."""
    return typed(Rule("int", low, high), int)


def Float(low: float, high: float, high_open: bool = False, optional: bool = False) -> Any:
    """Return a finite number setting type in low..high (or [low, high))."""
    return typed(Rule("float", low, high, high_open, optional=optional), float | None if optional else float)


def Choice(choices, optional: bool = False) -> Any:
    """Return a setting type that must be one of ``choices``."""
    return typed(Rule("choice", choices=tuple(choices), optional=optional), str)


def Text(extra: Callable[[str], str] | None = None, optional: bool = False) -> Any:
    """Return a text setting type (printable, bounded), optionally checked further by ``extra``."""
    return typed(Rule("text", optional=optional, extra=extra), str | None if optional else str)


Bool = typed(Rule("bool"), bool)
OptBool = typed(Rule("bool", optional=True), bool | None)


# -- registry hyperparameters ---------------------------------------------------------------------------------
def check_param(p: Param, value: Any) -> Any:
    """Return one registry hyperparameter's value checked against its kind and range, or raise Invalid."""
    if p.kind == "bool":
        if isinstance(value, bool):
            return value
        raise Invalid(f"{show(value)} is not true or false")
    if p.kind == "choice":
        if isinstance(value, str) and value in p.choices:
            return value
        raise Invalid(f"{show(value)} is not one of {', '.join(map(str, p.choices))}")
    noun = "an integer" if p.kind == "int" else "a number"
    value = number(value, p.kind == "int", None, None, describe=f"{noun} in {p.describe_range()}")
    try:
        return p.coerce(value)
    except (UserError, OverflowError):
        raise Invalid(f"{show(value)} is not {noun} in {p.describe_range()}") from None


def check_params(entry: Entry, values: Any) -> dict:
    """Return ``values`` (a dict of some of ``entry``'s hyperparameters) checked, or raise Invalid naming one."""
    if not isinstance(values, dict):
        raise Invalid(f"{show(values)} is not an object of {entry.id} parameters")
    names = [p.name for p in entry.params]
    out = {}
    for key, value in values.items():
        if key not in names:
            valid = ", ".join(names) or "none"
            raise Invalid(f"{show(key)} is not a parameter of {entry.id}; its parameters: {valid}", key)
        try:
            out[key] = check_param(entry.param(key), value)
        except Invalid as err:
            raise Invalid(err.message, key) from None
    return out


# -- pydantic errors -> ExperimentError -------------------------------------------------------------------------
def experiment_error(err: ValidationError) -> ExperimentError:
    """Return the first problem of a pydantic ValidationError as an ExperimentError in our own words."""
    first = err.errors(include_url=False)[0]
    path = [str(p) for p in first["loc"]]
    cause = (first.get("ctx") or {}).get("error")
    value = first.get("input")
    if isinstance(cause, Invalid):
        path += cause.path
        message = cause.message
    elif isinstance(cause, UserError):
        path += cause.field.split(".") if cause.field else []
        message = cause.message
    elif isinstance(cause, ValidationError):
        inner = experiment_error(cause)
        path += inner.field.split(".") if inner.field else []
        message = inner.message
    elif first["type"] == "extra_forbidden":
        message = f"{show(path[-1] if path else value)} is not a setting here"
    elif first["type"] in ("model_type", "model_attributes_type", "dict_type"):
        message = f"{show(value)} is not an object of settings"
    elif first["type"] == "list_type":
        message = f"{show(value)} is not a list"
    elif first["type"] == "missing":
        message = "is missing"
    elif first["type"] == "frozen_instance":
        message = "cannot be changed in place; assign a new value to its owner"
    else:
        message = f"{show(value)} is not valid here"
    return ExperimentError(message, ".".join(path) or None)


def _detach(value: Any) -> Any:
    """Return evented sub-models as dicts of their fields, so that assigning one builds a copy for its new owner.

    The copy is shallow where sharing is harmless (frozen results, frozen VaryFields) and fresh everywhere
    else (sub-models are copied the same way, lists and dicts are rebuilt by their validators).
    """
    if isinstance(value, EventedModel):
        return {name: getattr(value, name) for name in type(value).model_fields}
    if isinstance(value, list) and any(isinstance(v, EventedModel) for v in value):
        return [_detach(v) for v in value]
    if isinstance(value, dict) and any(not isinstance(k, str) for k in value):
        bad = next(k for k in value if not isinstance(k, str))
        raise Invalid(f"{show(bad)} is not a setting name")
    return value


class EventedSettings(EventedModel):
    """Base of the experiment's models: evented, validated on assignment, failures raised as ExperimentError.

    A failed assignment leaves the model unchanged and raises ExperimentError whose field is relative to
    the model assigned to (``exp.training.epochs = 0`` -> field ``epochs``). A sub-model is copied when it
    is assigned, so two owners never share one (the comparison's base is never the Training tab's settings).
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise experiment_error(err) from None

    @field_validator("*", mode="before")
    @classmethod
    def _copy_sub_models(cls, value: Any) -> Any:
        return _detach(value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name not in type(self).model_fields:
            return super().__setattr__(name, value)
        old = self.__dict__[name]
        try:
            super().__setattr__(name, value)
        except ValidationError as err:
            self.__dict__[name] = old  # a failing model-level check runs after pydantic has stored the value
            raise experiment_error(err) from None

    @classmethod
    def validate_data(cls, data: Any):
        """Return a model built from ``data`` (a dict), or raise ExperimentError naming the bad field."""
        if not isinstance(data, dict):
            raise ExperimentError(f"{show(data)} is not an object of settings")
        for key in data:
            if not isinstance(key, str):
                raise ExperimentError(f"{show(key)} is not a setting name")
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise experiment_error(err) from None
        except RecursionError:
            raise ExperimentError("the settings are nested too deeply") from None
