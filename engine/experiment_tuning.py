"""The experiment's settings for fair races: each optimizer's own hyperparameters, and the learning-rate sweep.

``PerOptimizer`` holds, for a comparison that varies the optimizer, the hyperparameters each optimizer
runs with (only the values set; the rest are the optimizer's registry defaults). ``TuningSettings``
holds how a sweep finds each optimizer's best rate: the log grid and the criterion.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, model_validator

from engine.errors import UserError
from engine.experiment_fields import Choice, EventedSettings, Float, Int, Invalid, check_params, show
from engine.optimizers import OPTIMIZERS, resolve_optimizer
from engine.tuning import CRITERIA, DEFAULT_CRITERION, MAX_GRID


def _per_optimizer(value: Any) -> dict[str, dict]:
    if not isinstance(value, dict):
        raise Invalid(f"{show(value)} is not an object of hyperparameters per optimizer")
    out = {}
    for oid, params in value.items():
        if not isinstance(oid, str) or oid not in OPTIMIZERS:
            raise Invalid(f"{show(oid)} is not one of {', '.join(OPTIMIZERS.ids())}", oid)
        try:
            checked = check_params(OPTIMIZERS.get(oid), params)
        except Invalid as err:
            raise Invalid(err.message, oid, *err.path) from None
        try:
            resolve_optimizer(oid, checked)
        except UserError as err:
            raise Invalid(err.message, oid) from None
        out[oid] = checked
    return out


PerOptimizer = Annotated[dict[str, dict], PlainValidator(_per_optimizer)]


def _tuned_rates(value: Any) -> list[dict]:
    if not isinstance(value, (list, tuple)):
        raise Invalid(f"{show(value)} is not a list of tuned rates")
    out = []
    for i, item in enumerate(value):
        when = item.get("when") if isinstance(item, dict) else None
        if set(item if isinstance(item, dict) else ()) != {"when", "lr"} or not isinstance(when, dict):
            raise Invalid(f"{show(item)} is not a tuned rate {{when: {{field: value}}, lr: rate}}", i)
        if (
            not all(isinstance(k, str) and isinstance(v, str) for k, v in when.items())
            or when.get("optimizer") not in OPTIMIZERS
        ):
            raise Invalid(f"{show(when)} does not name an optimizer and its varied values as text", i, "when")
        lr = OPTIMIZERS.get(when["optimizer"]).param("lr")
        try:
            out.append({"when": dict(when), "lr": lr.coerce(item["lr"], when["optimizer"])})
        except UserError as err:
            raise Invalid(err.message, i, "lr") from None
    return out


# Rates tuned per configuration, when a race varies other fields beside the optimizer (momentum=0,0.5): each
# {"when": {"optimizer": "sgd", "momentum": "0.5"}, "lr": 0.1} applies to the runs with those values.
TunedRates = Annotated[list[dict], PlainValidator(_tuned_rates)]


class TuningSettings(EventedSettings):
    """A learning-rate sweep: ``points`` rates on a log grid lr_min..lr_max, scored by ``criterion``.

    ``budget`` is the steps (surface) or epochs (training) each trial runs; 0 means as many as the race.
    """

    lr_min: Float(1e-8, 10) = 1e-4
    lr_max: Float(1e-8, 10) = 1.0
    points: Int(2, MAX_GRID) = 13
    criterion: Choice(CRITERIA) = DEFAULT_CRITERION
    budget: Int(0, 100_000) = 0

    @model_validator(mode="after")
    def _ordered(self) -> "TuningSettings":
        if not self.lr_min < self.lr_max:
            raise Invalid(
                f"the lowest rate ({show(self.lr_min)}) must be below the highest ({show(self.lr_max)})", "lr_min"
            )
        return self
