"""The experiment model: everything the user sets in the app plus the results so far, saved as versioned JSON.

``Experiment`` holds ``surface`` (SurfaceSettings), ``training`` (TrainingSettings), ``comparison``
(ComparisonSpec, which owns its base configuration), ``results`` (Results) and ``tab``. All of them are
psygnal ``EventedModel``\\ s: a view connects to ``exp.events.training`` (a whole section replaced) or to
``exp.training.events.epochs`` (one field) and never polls.

Errors. Every failure, in loading a file or dict, in building a model, and in assigning a field, raises
``ExperimentError`` (a ``UserError``, so a ``ValueError``), never a pydantic ``ValidationError``. Its
``field`` is the dotted path of the culprit and its message names the value::

    training.batch_size: 1e12 is not an integer in 0..1000000

Paths are relative to what was called: ``load_experiment`` and ``experiment_from_dict`` give full paths
(``surface.hyperparameters.adam.lr``); an assignment gives the path within the model assigned to
(``exp.training.epochs = 0`` -> ``epochs``; ``exp.training = {...}`` -> ``training.epochs``), and a failed
assignment leaves the model as it was. Views catch ``UserError`` (or ``ExperimentError``) around
assignments and use ``err.under(prefix)`` to make a relative path absolute.

Files. ``FORMAT_VERSION`` 3: ``{"descent_lab_experiment": 3, "surface": …, "training": …, "comparison": …,
"results": …, "tab": …}``. Version-1 files (the app before this model) are migrated on load; version-1 and -2
races get the rates they ran at written down (experiment_migrate.keep_raced_rates: raced optimizers now start
from their training rates); missing sections take their defaults; unknown keys are errors.
"""

import json
import os
import stat
from pathlib import Path as FilePath
from typing import Any

from pydantic import Field

from engine.errors import UserError
from engine.experiment_fields import (
    EventedSettings,
    ExperimentError,
    Int,
    Rule,
    show,
)
from engine.experiment_landscape import LandscapeSettings
from engine.experiment_migrate import keep_raced_rates, migrate_v1
from engine.experiment_results import (
    ComparisonResult,
    Results,
    SurfaceResult,
    TrainingResult,
    encode,
)
from engine.experiment_settings import (
    ComparisonSpec,
    SurfaceSettings,
    TrainingSettings,
    VaryField,
)
from engine.io import atomic_write_text

__all__ = [
    "FORMAT_VERSION",
    "ComparisonResult",
    "ComparisonSpec",
    "Experiment",
    "ExperimentError",
    "Results",
    "Rule",
    "SurfaceResult",
    "SurfaceSettings",
    "TrainingResult",
    "TrainingSettings",
    "VaryField",
    "experiment_from_dict",
    "experiment_to_dict",
    "load_experiment",
    "load_section",
    "save_experiment",
]

FORMAT_VERSION = 3  # 3: raced optimizers start from their training rates (engine.optimizers.training_lr)
VERSION_KEY = "descent_lab_experiment"
MAX_FILE_BYTES = 256 * 1024 * 1024


class Experiment(EventedSettings):
    """Everything the app holds: the three tabs' settings, the results so far and the current tab."""

    surface: SurfaceSettings = Field(default_factory=SurfaceSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    comparison: ComparisonSpec = Field(default_factory=ComparisonSpec)
    results: Results = Field(default_factory=Results)
    tab: Int(0, 2) = 0
    landscape: LandscapeSettings = Field(default_factory=LandscapeSettings)  # the Training tab's landscape panel


def experiment_to_dict(exp: Experiment) -> dict:
    """Return the JSON-ready document of ``exp`` (version FORMAT_VERSION, results included)."""
    body = exp.model_dump()
    return {VERSION_KEY: FORMAT_VERSION, **encode(body)}


def experiment_from_dict(data: Any) -> Experiment:
    """Return the Experiment of a version-1, -2 or -3 document; raise ExperimentError naming the field."""
    if not isinstance(data, dict):
        raise ExperimentError(f"{show(data)} is not a Descent Lab experiment (a JSON object)")
    if VERSION_KEY not in data:
        raise ExperimentError("is missing: this is not a Descent Lab experiment", VERSION_KEY)
    version = data[VERSION_KEY]
    if type(version) is not int or version not in (1, 2, FORMAT_VERSION):
        raise ExperimentError(f"{show(version)} is not a known experiment version (1 to {FORMAT_VERSION})", VERSION_KEY)
    try:
        body = migrate_v1(data) if version == 1 else {k: v for k, v in data.items() if k != VERSION_KEY}
        if version < 3:
            body = keep_raced_rates(body)
        return Experiment.validate_data(body)
    except RecursionError:
        raise ExperimentError("the document is nested too deeply") from None


def load_section(model: type, data: Any, section: str = "") -> Any:
    """Return ``model`` (a settings or results class) built from ``data``; errors name ``section.field``."""
    try:
        return model.validate_data(data)
    except ExperimentError as err:
        raise (err.under(section) if section else err) from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in an experiment file")


def _parse(text: str | bytes, source: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ExperimentError(f"{source} is nested too deeply") from None
    except UnicodeDecodeError:
        raise ExperimentError(f"{source} is not UTF-8 text") from None
    except ValueError as err:  # JSONDecodeError, NaN/Infinity, integers of more than 4300 digits
        raise ExperimentError(f"{source} is not valid JSON: {err}") from None


def load_experiment(source: Any) -> Experiment:
    """Return the Experiment in ``source``: a file path, JSON text (str starting with '{') or bytes, or a dict.

    Raises ExperimentError for every problem: unreadable file, not JSON, not an object, a bad field.
    """
    if isinstance(source, dict):
        return experiment_from_dict(source)
    if isinstance(source, (bytes, bytearray)):
        return experiment_from_dict(_parse(bytes(source), "the experiment"))
    if isinstance(source, str) and source.lstrip().startswith(("{", "[")):
        return experiment_from_dict(_parse(source, "the experiment"))
    if not isinstance(source, (str, os.PathLike)):
        raise ExperimentError(f"cannot read an experiment from {show(source)}")
    path = FilePath(source)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ExperimentError(f"{path} is not a file")
        if info.st_size > MAX_FILE_BYTES:
            raise ExperimentError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except ExperimentError:
        raise
    except (OSError, ValueError) as err:  # ValueError: a NUL in the path
        raise ExperimentError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    return experiment_from_dict(_parse(raw, str(path)))


def save_experiment(exp: Experiment, path: str | os.PathLike) -> FilePath:
    """Write ``exp`` (results included) to ``path`` atomically and return the path; ExperimentError if unwritable."""
    try:
        text = json.dumps(experiment_to_dict(exp), indent=1, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:  # only a model built around validation gets here
        raise ExperimentError(f"the experiment cannot be written as JSON: {err}") from None
    try:
        return atomic_write_text(path, text + "\n")
    except UserError as err:
        raise ExperimentError(err.message) from None
