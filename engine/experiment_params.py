"""How the experiment's settings check registry hyperparameters, and keep them when an optimizer or schedule changes.

Split from ``engine.experiment_settings`` (which uses both for its surface, training and comparison models).
"""

from typing import Any, ClassVar

from engine.errors import UserError
from engine.experiment_fields import EventedSettings, ExperimentError, Invalid, check_params, show
from engine.optimizers import OPTIMIZERS, resolve_optimizer, training_defaults
from engine.registry import Registry


def registry_params(registry: Registry, entry_id: str, values: Any, full: bool) -> dict:
    """Return checked hyperparameters of ``entry_id`` (all of them when ``full``), or raise Invalid."""
    entry = registry.get(entry_id)
    checked = check_params(entry, values)
    if registry is OPTIMIZERS:
        try:
            resolved = resolve_optimizer(entry_id, checked)
        except UserError as err:
            raise Invalid(f"{show(checked.get('nesterov', True))} is not allowed: {err.message}", "nesterov") from None
    else:
        resolved = entry.resolve(checked)
    return resolved if full else checked


def kept_params(registry: Registry, new_id: str, params: dict, old_id: str) -> dict:
    """Return the entries of ``params`` that ``new_id`` also has and accepts (kept when the id changes); an
    optimizer's value left at the old one's training default (SGD's rate 0.1) gives way to the new one's own."""
    entry = registry.get(new_id)
    kept = {}
    defaults = training_defaults(old_id) if registry is OPTIMIZERS and old_id in OPTIMIZERS else {}
    for key, value in ((k, v) for k, v in params.items() if k not in defaults or defaults[k] != v):
        try:
            kept.update(check_params(entry, {key: value}))
        except Invalid:
            pass
    try:
        registry_params(registry, new_id, kept, False)
    except Invalid:
        return {}
    return kept


class SwitchesParams(EventedSettings):
    """A model whose optimizer/scheduler ids own a params dict: changing an id keeps only the params that fit."""

    _params_of: ClassVar[dict] = {}  # id field -> (params field, registry)

    def __setattr__(self, name: str, value: Any) -> None:
        pair = type(self)._params_of.get(name) if isinstance(value, str) else None
        if pair is None or value not in pair[1] or value == getattr(self, name):
            return super().__setattr__(name, value)
        params_name, registry = pair
        old = self.__dict__[params_name]
        self.__dict__[params_name] = kept_params(registry, value, old, getattr(self, name))
        try:
            super().__setattr__(name, value)
        except ExperimentError:
            self.__dict__[params_name] = old
            raise
        if self.__dict__[params_name] != old:
            getattr(self.events, params_name).emit(self.__dict__[params_name])
