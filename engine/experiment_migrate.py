"""Version-1 experiment files (the app before the experiment model) turned into version-2 documents.

A version-1 file holds ``surface`` (the same keys as now), ``training`` (TrainConfig.to_dict(), or {} when
the form was invalid), ``comparison`` as the comparison tab's text boxes (``field1``, ``values1``,
``field2``, ``values2``, ``seeds``, ``target``) and ``tab``. It has no comparison base: the comparison
then starts from the training settings, as the old app did.
"""

from typing import Any

from engine.experiment_fields import ExperimentError, show
from engine.optimizers import OPTIMIZERS, training_lr

V1_COMPARISON_KEYS = ("field1", "values1", "field2", "values2", "seeds", "target")
NO_FIELD = "(none)"


def _text(section: dict, key: str, default: str) -> str:
    value = section.get(key, default)
    if not isinstance(value, str):
        raise ExperimentError(f"{show(value)} is not text", f"comparison.{key}")
    return value


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _comparison(section: Any, training: Any) -> dict:
    if not isinstance(section, dict):
        raise ExperimentError(f"{show(section)} is not an object of settings", "comparison")
    for key in section:
        if key not in V1_COMPARISON_KEYS:
            raise ExperimentError(f"{show(key)} is not a setting here", f"comparison.{key}")
    vary = []
    for field_key, values_key, default in (("field1", "values1", "momentum"), ("field2", "values2", NO_FIELD)):
        name = _text(section, field_key, default).strip()
        values = _split(_text(section, values_key, ""))
        if name and name != NO_FIELD and values:
            vary.append({"field": name, "values": values})
    seeds_text = _text(section, "seeds", "")
    try:
        seeds = [int(s) for s in _split(seeds_text)]
    except ValueError:
        raise ExperimentError(
            f"{show(seeds_text)} is not whole numbers separated by commas", "comparison.seeds"
        ) from None
    out: dict[str, Any] = {"base": training, "vary": vary, "seeds": seeds}
    if "target" in section:
        out["target_acc"] = section["target"]
    return out


def migrate_v1(data: dict) -> dict:
    """Return the version-2 body (no version key) of a version-1 document; raise ExperimentError on v1 problems."""
    out = {key: value for key, value in data.items() if key not in ("descent_lab_experiment", "comparison")}
    training = data.get("training", {})
    if "comparison" in data:
        out["comparison"] = _comparison(data["comparison"], training)
    else:
        out["comparison"] = {"base": training}
    return out


def keep_raced_rates(body: dict) -> dict:
    """Return a version-1 or -2 document's body with its races' rates kept as they were run: an optimizer raced
    beside another base, with no rate of its own, ran at its registry default (0.01 for momentum and Nesterov);
    version 3 starts it from its training rate (0.1), so that rate is written down. Malformed sections are left
    for validation to report."""
    comparison = body.get("comparison")
    if not isinstance(comparison, dict) or not isinstance(comparison.get("vary", []), list):
        return body
    base = comparison.get("base") if isinstance(comparison.get("base"), dict) else {}
    per = comparison.get("per_optimizer") or {}
    if not isinstance(per, dict):
        return body
    raced = [
        v.get("values") for v in comparison.get("vary", []) if isinstance(v, dict) and v.get("field") == "optimizer"
    ]
    per = dict(per)
    for oid in raced[0] if raced and isinstance(raced[0], list) else []:
        own = per.get(oid, {})
        if oid == base.get("optimizer", "sgd") or oid not in OPTIMIZERS or not isinstance(own, dict) or "lr" in own:
            continue
        registry = OPTIMIZERS.get(oid).defaults()["lr"]
        if training_lr(oid) != registry:
            per[oid] = {**own, "lr": registry}
    return {**body, "comparison": {**comparison, "per_optimizer": per}}
