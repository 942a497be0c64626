"""What the user sets: the loss-surface tab, the training run, and the comparison with its own base.

All three are evented models (see ``EventedSettings``); every field is typed and ranged, and
registry hyperparameters are checked against their optimizer's or scheduler's table.
"""

from dataclasses import fields as dataclass_fields
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationInfo, field_validator, model_validator

from engine.data.datasets import DATASETS, DEFAULT_TEST_FRACTION
from engine.errors import UserError
from engine.experiment_fields import (
    Bool,
    Choice,
    EventedSettings,
    ExperimentError,
    Float,
    Int,
    Invalid,
    OptBool,
    Text,
    check_params,
    clean_text,
    number,
    show,
)
from engine.experiment_params import SwitchesParams as _SwitchesParams
from engine.experiment_params import registry_params as _registry_params
from engine.experiment_tuning import PerOptimizer, TunedRates, TuningSettings
from engine.optimizers import OPTIMIZERS
from engine.schedulers import SCHEDULERS
from engine.surface.formula import MAX_LENGTH
from engine.surface.functions import BUILTINS, Surface, get_surface, parse_domain
from engine.surface.paths import MAX_STEPS, PathSpec
from engine.sweep.grid import SweepGrid
from engine.training.compare import MAX_RUNS, Comparison
from engine.training.config import LOSSES, TrainConfig
from engine.training.model import ACTIVATIONS, INITS, OUTPUT_ACTIVATIONS

FORMULA = "formula"
DEFAULT_OPTIMIZERS = ["sgd", "momentum", "adam", "rmsprop"]
SEED_MAX = 2**31 - 1
MAX_STARTS = 100
TRAIN_FIELDS = {f.name for f in dataclass_fields(TrainConfig)} - {"optimizer_params", "scheduler_params"}
VARY_FIELDS = TRAIN_FIELDS | {p.name for e in OPTIMIZERS for p in e.params}  # what a comparison may vary


def surface_defaults(optimizer_id: str) -> dict:
    """Return the surface tab's default hyperparameters of one optimizer: its registry defaults, as on the
    command line (each optimizer at its own rate: SGD 0.01, Adam 0.001, …; never one rate for all)."""
    return OPTIMIZERS.get(optimizer_id).defaults()


# -- the loss-surface tab ------------------------------------------------------------------------------------
def _starts(value: Any) -> list[tuple[float, ...]]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_STARTS:
        raise Invalid(f"{show(value)} is not a list of at most {MAX_STARTS} start points")
    out = []
    for point in value:
        if not isinstance(point, (list, tuple)) or len(point) not in (1, 2):
            raise Invalid(f"{show(point)} is not a start point [x] or [x, y]")
        out.append(tuple(number(c, False, -1e12, 1e12, describe="a finite coordinate in -1e12..1e12") for c in point))
    return out


def _optimizer_list(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise Invalid(
            "no optimizer is chosen: tick at least one"
            if isinstance(value, (list, tuple))
            else f"{show(value)} is not a list"
        )
    for i, oid in enumerate(value):
        if not isinstance(oid, str) or oid not in OPTIMIZERS:
            raise Invalid(f"{show(oid)} is not one of {', '.join(OPTIMIZERS.ids())}")
        if oid in value[:i]:
            raise Invalid(f"{show(oid)} is listed twice")
    return list(value)


def _hyperparameters(value: Any) -> dict[str, dict]:
    if not isinstance(value, dict):
        raise Invalid(f"{show(value)} is not an object of hyperparameters per optimizer")
    out = {oid: surface_defaults(oid) for oid in OPTIMIZERS.ids()}
    for oid, params in value.items():
        if oid not in OPTIMIZERS:
            raise Invalid(f"{show(oid)} is not one of {', '.join(OPTIMIZERS.ids())}", oid)
        try:
            given = check_params(OPTIMIZERS.get(oid), params)
            out[oid] = _registry_params(OPTIMIZERS, oid, {**surface_defaults(oid), **given}, True)
        except Invalid as err:
            raise Invalid(err.message, oid, *err.path) from None
    return out


def _domain(text: str) -> str:
    if text.strip():
        try:
            parse_domain(text)
        except UserError as err:
            raise Invalid(f"{show(text)}: {err.message}") from None
    return text


def _formula_text(text: str) -> str:
    return clean_text(text, MAX_LENGTH)


class SurfaceSettings(_SwitchesParams):
    """The loss-surface tab: the function, the optimizers with their hyperparameters, the schedule, the starts."""

    _params_of: ClassVar[dict] = {"scheduler": ("scheduler_params", SCHEDULERS)}

    function: Choice([*BUILTINS, FORMULA]) = "peaks"
    formula: Text(_formula_text) = "x*sin(x**2)"
    domain: Text(_domain) = ""
    log: Bool = False
    optimizers: Annotated[list[str], PlainValidator(_optimizer_list)] = Field(
        default_factory=lambda: list(DEFAULT_OPTIMIZERS)
    )
    hyperparameters: Annotated[dict[str, dict], PlainValidator(_hyperparameters)] = Field(
        default_factory=lambda: {oid: surface_defaults(oid) for oid in OPTIMIZERS.ids()}
    )
    scheduler: Choice(SCHEDULERS.ids()) = "none"
    scheduler_params: dict = Field(default_factory=dict)
    steps: Int(1, MAX_STEPS) = 200  # Adam at its own rate (0.001) needs ~200 steps to move visibly on peaks
    starts: Annotated[list[tuple[float, ...]], PlainValidator(_starts)] = Field(default_factory=list)
    notebook_markers: Bool = False  # the seed notebooks' look: yellow step dots, blue end stars
    tuning: TuningSettings = Field(default_factory=TuningSettings)  # the "Tune learning rates" sweep

    @field_validator("scheduler_params", mode="plain")
    @classmethod
    def _scheduler_params(cls, value: Any, info: ValidationInfo) -> dict:
        if "scheduler" not in info.data:
            raise Invalid("cannot be checked while the scheduler is invalid")
        return _registry_params(SCHEDULERS, info.data["scheduler"], value, False)

    @model_validator(mode="after")
    def _formula_fits_domain(self) -> "SurfaceSettings":
        try:
            self.surface()
        except UserError as err:
            value = self.formula if err.field == "formula" else self.domain
            raise Invalid(f"{show(value)}: {err.message}", err.field) from None
        return self

    def surface(self) -> Surface:
        """Return the engine Surface these settings describe; raise ExperimentError (field formula or domain)."""
        if self.function != FORMULA:
            return get_surface(self.function)
        try:
            surface = get_surface(self.formula)
        except UserError as err:
            raise ExperimentError(err.message, "formula") from None
        if not self.domain.strip():
            return surface
        try:
            return get_surface(self.formula, parse_domain(self.domain, surface.dims))
        except UserError as err:
            raise ExperimentError(err.message, "domain") from None

    def specs(self) -> list[PathSpec]:
        """Return one PathSpec per chosen optimizer, with its hyperparameters, in the chosen order."""
        return [PathSpec(oid, dict(self.hyperparameters[oid])) for oid in self.optimizers]

    def start_points(self, surface: Surface) -> list[tuple[float, ...]]:
        """Return the starts that fit ``surface``'s dimension, or ``[surface.default_start]`` when none does."""
        return [s for s in self.starts if len(s) == surface.dims] or [tuple(surface.default_start)]


# -- the training run ------------------------------------------------------------------------------------------
def _dataset(text: str) -> str:
    if text in DEFAULT_TEST_FRACTION and text != "csv" or (text.startswith("csv:") and text[4:].strip()):
        return text
    raise Invalid(f"{show(text)} is not a data set; choose from {', '.join(DATASETS)}")


def _layers(value: Any) -> list[int]:
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 20:
        raise Invalid(f"{show(value)} is not a list of 2..20 layer sizes")
    return [number(size, True, 1, 100_000, describe="a layer size in 1..100000") for size in value]


_CULPRITS = (
    ("output activation", "output_activation"),
    ("activation", "activation"),
    ("loss", "loss"),
    ("initialisation", "init"),
    ("device", "device"),
    ("dropout", "dropout"),
    ("l1", "l1"),
    ("l2", "l2"),
    ("epochs", "epochs"),
    ("batch size", "batch_size"),
    ("layers", "layers"),
    ("unknown optimizer", "optimizer"),
    ("unknown scheduler", "scheduler"),
    ("scheduler", "scheduler_params"),
)


class TrainingSettings(_SwitchesParams):
    """One training run: exactly TrainConfig's fields and defaults, each typed and ranged."""

    _params_of: ClassVar[dict] = {
        "optimizer": ("optimizer_params", OPTIMIZERS),
        "scheduler": ("scheduler_params", SCHEDULERS),
    }

    dataset: Text(_dataset) = "spiral"
    data_dir: Text(optional=True) = None
    classes: Int(2, 10) = 3
    points: Int(2, 100_000) = 500
    noise: Float(0, 10) = 0.2
    target: Text(optional=True) = None
    standardize: OptBool = None
    test_fraction: Float(0, 1, high_open=True, optional=True) = None
    layers: Annotated[list[int], PlainValidator(_layers)] = Field(default_factory=lambda: [2, 50, 3])
    activation: Choice(ACTIVATIONS) = "relu"
    output_activation: Choice(OUTPUT_ACTIVATIONS) = "none"
    loss: Choice(LOSSES) = "cross-entropy"
    init: Choice(INITS) = "default"
    dropout: Float(0, 0.99) = 0.0
    batchnorm: Bool = False
    l1: Float(0, 10) = 0.0
    l2: Float(0, 10) = 0.0
    optimizer: Choice(OPTIMIZERS.ids()) = "sgd"
    optimizer_params: dict = Field(default_factory=lambda: {"lr": 0.1})
    scheduler: Choice(SCHEDULERS.ids()) = "none"
    scheduler_params: dict = Field(default_factory=dict)
    batch_size: Int(0, 1_000_000) = 20
    epochs: Int(1, 100_000) = 100
    seed: Int(0, SEED_MAX) = 1
    shuffle: Bool = True
    device: Choice(("auto", "cpu", "cuda")) = "auto"

    @field_validator("optimizer_params", "scheduler_params", mode="plain")
    @classmethod
    def _params(cls, value: Any, info: ValidationInfo) -> dict:
        owner = "optimizer" if info.field_name == "optimizer_params" else "scheduler"
        if owner not in info.data:
            raise Invalid(f"cannot be checked while the {owner} is invalid")
        return _registry_params(OPTIMIZERS if owner == "optimizer" else SCHEDULERS, info.data[owner], value, False)

    def to_config(self) -> TrainConfig:
        """Return the validated TrainConfig of these settings; raise ExperimentError naming the field."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(layers=tuple(self.layers), optimizer_params=dict(self.optimizer_params))
        values.update(scheduler_params=dict(self.scheduler_params))
        try:
            return TrainConfig(**values).validated()
        except UserError as err:
            culprit = next((f for word, f in _CULPRITS if word in err.message), "optimizer_params")
            raise ExperimentError(err.message, err.field or culprit) from None

    @classmethod
    def from_config(cls, config: TrainConfig) -> "TrainingSettings":
        """Return the settings of ``config``; raise ExperimentError if it holds an invalid value."""
        return cls.validate_data(config.to_dict())


# -- the comparison -----------------------------------------------------------------------------------------------
def _vary_field(text: str) -> str:
    if text in VARY_FIELDS or (text.startswith("sched.") and len(text) > 6):
        return text
    raise Invalid(f"{show(text)} is not a training field or optimizer hyperparameter (e.g. momentum, lr, optimizer)")


def _values(value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_RUNS:
        raise Invalid(f"{show(value)} is not a list of 1..{MAX_RUNS} values")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise Invalid(f"{show(item)} is not a value as text (e.g. '0.1')")
        clean_text(item)
        if item in value[:i]:
            raise Invalid(f"{show(item)} is listed twice")
    return list(value)


class VaryField(BaseModel):
    """One varied field of a comparison and its values, as typed (text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: Text(_vary_field)
    values: Annotated[list[str], PlainValidator(_values)]


def _seeds(value: Any) -> list[int]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_RUNS:
        raise Invalid(f"{show(value)} is not a list of at most {MAX_RUNS} seeds")
    out = []
    for seed in value:
        out.append(number(seed, True, 0, SEED_MAX, describe=f"a seed in 0..{SEED_MAX}"))
        if out[-1] in out[:-1]:
            raise Invalid(f"{show(seed)} is listed twice")
    return out


class ComparisonSpec(EventedSettings):
    """A comparison: its own base configuration, the fields that vary, the seeds and the target accuracy."""

    base: TrainingSettings = Field(default_factory=TrainingSettings)
    vary: list[VaryField] = Field(
        default_factory=lambda: [VaryField(field="momentum", values=["0", "0.1", "0.2", "0.4", "0.5"])]
    )
    seeds: Annotated[list[int], PlainValidator(_seeds)] = Field(default_factory=list)
    target_acc: Float(0, 1) = 0.9
    per_optimizer: PerOptimizer = Field(default_factory=dict)  # each optimizer's own settings in a race
    tuned_lr: TunedRates = Field(default_factory=list)  # rates tuned per configuration (other fields varied)
    tuning: TuningSettings = Field(default_factory=TuningSettings)
    sample: Int(0, MAX_RUNS) = 0  # a random subset of this many combinations (0: the whole grid)

    @field_validator("vary", mode="before")
    @classmethod
    def _vary_list(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise Invalid(f"{show(value)} is not a list of varied fields")
        return list(value)

    @field_validator("vary", mode="after")
    @classmethod
    def _distinct(cls, value: list[VaryField]) -> list[VaryField]:
        for i, v in enumerate(value):
            if any(w.field == v.field for w in value[:i]):
                raise Invalid(f"{show(v.field)} varies twice", i, "field")
        return value

    def to_comparison(self) -> Comparison:
        """Return the engine Comparison, validated run by run; raise ExperimentError (fields like vary.0.values)."""
        try:
            base = self.base.to_config()
        except ExperimentError as err:
            raise err.under("base") from None
        vary = [(v.field, list(v.values)) for v in self.vary]
        tuned = [(dict(t["when"]), t["lr"]) for t in self.tuned_lr]
        comparison = SweepGrid(base, vary, list(self.seeds), dict(self.per_optimizer), tuned, sample=self.sample)
        try:
            comparison.runs()
        except UserError as err:
            for i, v in enumerate(self.vary):
                for value in v.values:
                    try:
                        base.with_field(v.field, value).validated()
                    except UserError as bad:
                        raise ExperimentError(f"{show(value)}: {bad.message}", f"vary.{i}.values") from None
            raise ExperimentError(err.message, "vary" if self.vary else "seeds") from None
        return comparison
