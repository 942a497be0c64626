"""What the app has computed so far, as plain JSON-ready data (no tensors): surface paths, a run, a comparison.

Numbers that are not finite (a diverged loss, say) stay floats in memory; in files they are written as
the strings "NaN", "Infinity" and "-Infinity", which these models read back, so nothing is lost.
"""

import math
from dataclasses import fields as dataclass_fields
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError

from engine.experiment_fields import (
    EventedSettings,
    ExperimentError,
    Invalid,
    check_params,
    clean_text,
    experiment_error,
    num,
    number,
    show,
)
from engine.experiment_settings import TrainingSettings
from engine.optimizers import OPTIMIZERS
from engine.surface.paths import Path
from engine.training.compare import RunResult
from engine.training.config import TrainConfig
from engine.training.trainer import EpochRecord

SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
RECORD_FIELDS = [f.name for f in dataclass_fields(EpochRecord)]
OPTIONAL_RECORD_FIELDS = {"test_loss", "train_acc", "test_acc", "grad_norm"}


def real(value: Any, optional: bool = False) -> float | None:
    """Return a result number as a float (NaN and infinities allowed, also as their JSON strings)."""
    if value is None and optional:
        return None
    if isinstance(value, str) and value in SPECIAL:
        return SPECIAL[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            x = float(value)
        except OverflowError:
            pass
        else:
            return math.nan if x != x else x  # one NaN object: equal after a round trip
    raise Invalid(f"{show(value)} is not a number{' or null' if optional else ''}")


def encode(value: Any) -> Any:
    """Return ``value`` JSON-ready: tuples as lists, non-finite floats as "NaN"/"Infinity"/"-Infinity"."""
    if isinstance(value, float) and not math.isfinite(value):
        return num(value)
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def _object(value: Any, keys: list[str], what: str) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{show(value)} is not an object ({what})")
    for key in value:
        if key not in keys:
            raise Invalid(f"{show(key)} is not a setting here; expected {', '.join(keys)}", key)
    for key in keys:
        if key not in value:
            raise Invalid("is missing", key)
    return value


def _list(value: Any, what: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise Invalid(f"{show(value)} is not a list of {what}")
    return list(value)


def _reals(value: Any, key: str, length: int | None = None) -> list[float]:
    try:
        items = _list(value, "numbers")
        if length is not None and len(items) != length:
            raise Invalid(f"has {len(items)} numbers; expected {length}")
        return [real(v) for v in items]
    except Invalid as err:
        raise Invalid(err.message, key) from None


def _epoch(value: Any) -> int | None:
    return None if value is None else number(value, True, 0, 10**9, describe="an epoch in 0..1000000000 or null")


def _inside(key: str, check, value: Any) -> Any:
    try:
        return check(value)
    except Invalid as err:
        raise Invalid(err.message, key, *err.path) from None
    except ExperimentError as err:
        raise Invalid(err.message, key, *(err.field.split(".") if err.field else ())) from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{show(value)} is not text")
    return clean_text(value)


# -- rows ------------------------------------------------------------------------------------------------
def _history(value: Any) -> list[dict]:
    rows = []
    for i, row in enumerate(_list(value, "epoch records")):
        try:
            _object(row, RECORD_FIELDS, "an epoch record")
            out = {"epoch": _inside("epoch", lambda v: number(v, True, 0, 10**9, describe="an epoch"), row["epoch"])}
            for key in RECORD_FIELDS[1:]:
                out[key] = _inside(key, lambda v, k=key: real(v, k in OPTIONAL_RECORD_FIELDS), row[key])
        except Invalid as err:
            raise Invalid(err.message, i, *err.path) from None
        rows.append(out)
    return rows


def _config(value: Any) -> dict:
    return TrainingSettings.validate_data(value).model_dump()


def _weights(value: Any) -> dict | None:
    if value is None:
        return None
    layers = _list(_object(value, ["layers"], "weights")["layers"], "layers")
    out = []
    for i, layer in enumerate(layers):
        try:
            _object(layer, ["weight", "bias"], "a layer's weight and bias")
            bias = _reals(layer["bias"], "bias")
            weight = [_reals(row, "weight") for row in _list(layer["weight"], "weight rows")]
            if len(weight) != len(bias) or len({len(r) for r in weight}) > 1:
                raise Invalid(f"a {len(weight)}-row weight does not fit {len(bias)} biases", "weight")
        except Invalid as err:
            raise Invalid(err.message, "layers", i, *err.path) from None
        out.append({"weight": weight, "bias": bias})
    return {"layers": out}


def _path(value: Any) -> dict:
    keys = ["optimizer", "label", "params", "start", "start_index", "points", "losses", "grad_norms", "lrs"]
    _object(value, [*keys, "diverged_at"], "a path")
    oid = _inside("optimizer", _text, value["optimizer"])
    if oid not in OPTIMIZERS:
        raise Invalid(f"{show(oid)} is not one of {', '.join(OPTIMIZERS.ids())}", "optimizer")
    out = {"optimizer": oid, "label": _inside("label", _text, value["label"])}
    out["params"] = _inside("params", lambda v: check_params(OPTIMIZERS.get(oid), v), value["params"])
    out["start"] = _reals(value["start"], "start")
    dims = len(out["start"])
    if dims not in (1, 2):
        raise Invalid(f"{show(value['start'])} is not a start point [x] or [x, y]", "start")
    out["start_index"] = _inside(
        "start_index", lambda v: number(v, True, 0, 10**6, describe="an index"), value["start_index"]
    )
    out["points"] = _inside(
        "points", lambda v: [_reals(p, str(i), dims) for i, p in enumerate(_list(v, "points"))], value["points"]
    )
    n = len(out["points"])
    if not n:
        raise Invalid("has no points", "points")
    out["losses"] = _reals(value["losses"], "losses", n)
    out["grad_norms"] = _reals(value["grad_norms"], "grad_norms", n)
    out["lrs"] = _reals(value["lrs"], "lrs")
    if len(out["lrs"]) > n:
        raise Invalid(f"has {len(out['lrs'])} rates for {n} points", "lrs")
    out["diverged_at"] = _inside("diverged_at", _epoch, value["diverged_at"])
    return out


def _paths(value: Any) -> list[dict]:
    return [_inside(str(i), _path, p) for i, p in enumerate(_list(value, "paths"))]


def _label(value: Any) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"{show(value)} is not an object of varied fields")
    for key, item in value.items():
        finite = math.isfinite(item) if isinstance(item, float) else not isinstance(item, int) or abs(item) < 2**63
        if not isinstance(item, (str, int, float, bool)) or not finite:
            raise Invalid(f"{show(item)} is not a value (text or a finite number)", key)
        if isinstance(item, str):
            clean_text(item)
    return dict(value)


def _run(value: Any) -> dict:
    keys = ["label", "seed", "config", "history", "path", "seconds", "diverged_at"]
    _object(value, keys, "a comparison run")
    return {
        "label": _inside("label", _label, value["label"]),
        "seed": _inside("seed", lambda v: number(v, True, 0, 2**31 - 1, describe="a seed"), value["seed"]),
        "config": _inside("config", _config, value["config"]),
        "history": _inside("history", _history, value["history"]),
        "path": _inside("path", _text, value["path"]),
        "seconds": _inside("seconds", real, value["seconds"]),
        "diverged_at": _inside("diverged_at", _epoch, value["diverged_at"]),
    }


def _runs(value: Any) -> list[dict]:
    return [_inside(str(i), _run, r) for i, r in enumerate(_list(value, "runs"))]


def _records(history: list[dict]) -> list[EpochRecord]:
    return [EpochRecord(**row) for row in history]


# -- models ---------------------------------------------------------------------------------------------------
class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise experiment_error(err) from None


class SurfaceResult(_Result):
    """The loss-surface tab's paths, each in Path.to_dict()'s form."""

    paths: Annotated[list[dict], PlainValidator(_paths)]

    @classmethod
    def from_paths(cls, paths: list[Path]) -> "SurfaceResult":
        """Return the result holding ``paths`` (engine Paths)."""
        return cls(paths=[p.to_dict() for p in paths])

    def to_paths(self) -> list[Path]:
        """Return the engine Paths, with numpy arrays, equal to those stored."""
        out = []
        for d in self.paths:
            dims = len(d["start"])
            out.append(
                Path(
                    d["optimizer"],
                    dict(d["params"]),
                    tuple(d["start"]),
                    d["start_index"],
                    np.array(d["points"], dtype=np.float64).reshape(-1, dims),
                    np.array(d["losses"], dtype=np.float64),
                    np.array(d["grad_norms"], dtype=np.float64),
                    np.array(d["lrs"], dtype=np.float64),
                    d["diverged_at"],
                    d["label"],
                )
            )
        return out


class TrainingResult(_Result):
    """One training run: its configuration, history, divergence, training path, final weights and data."""

    config: Annotated[dict, PlainValidator(_config)]
    history: Annotated[list[dict], PlainValidator(_history)]
    diverged_at: Annotated[int | None, PlainValidator(_epoch)] = None
    path: Annotated[str, PlainValidator(_text)] = ""
    weights: Annotated[dict | None, PlainValidator(_weights)] = None
    data_summary: Annotated[str, PlainValidator(_text)] = ""

    @classmethod
    def from_trainer(cls, trainer) -> "TrainingResult":
        """Return the result of an engine Trainer as it stands (history so far, current weights)."""
        return cls(
            config=trainer.config.to_dict(),
            history=[r.to_dict() for r in trainer.history],
            diverged_at=trainer.diverged_at,
            path=trainer.path,
            weights=trainer.weights(),
            data_summary=trainer.data.summary(),
        )

    def records(self) -> list[EpochRecord]:
        """Return the history as engine EpochRecords."""
        return _records(self.history)


class ComparisonResult(_Result):
    """A comparison's runs: label, seed, config, history, path, seconds and divergence of each."""

    runs: Annotated[list[dict], PlainValidator(_runs)]

    @classmethod
    def from_results(cls, results: list[RunResult]) -> "ComparisonResult":
        """Return the result holding engine RunResults."""
        return cls(
            runs=[
                {
                    "label": dict(r.label),
                    "seed": r.seed,
                    "config": r.config.to_dict(),
                    "history": [h.to_dict() for h in r.history],
                    "path": r.path,
                    "seconds": r.seconds,
                    "diverged_at": r.diverged_at,
                }
                for r in results
            ]
        )

    def to_results(self) -> list[RunResult]:
        """Return the runs as engine RunResults (TrainConfig and EpochRecords)."""
        return [
            RunResult(
                dict(r["label"]),
                r["seed"],
                TrainConfig.from_dict(r["config"]),
                _records(r["history"]),
                r["path"],
                r["seconds"],
                r["diverged_at"],
            )
            for r in self.runs
        ]


class Results(EventedSettings):
    """Everything computed so far; None where a tab has nothing yet. Evented: views hear new results."""

    surface: SurfaceResult | None = None
    training: TrainingResult | None = None
    comparison: ComparisonResult | None = None
