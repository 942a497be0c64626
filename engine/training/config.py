"""TrainConfig: the complete, serialisable description of one training run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from engine.data.datasets import load_dataset
from engine.errors import UserError
from engine.optimizers import OPTIMIZERS, resolve_optimizer, training_defaults, training_lr
from engine.schedulers import SCHEDULERS, resolve_scheduler
from engine.training.model import ACTIVATIONS, INITS, OUTPUT_ACTIVATIONS, parse_layers

LOSSES = ("cross-entropy", "bce", "mse", "mae")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; two equal configs give identical histories."""

    dataset: str = "spiral"
    data_dir: str | None = None
    classes: int = 3  # spiral
    points: int = 500  # spiral, per class
    noise: float = 0.2  # spiral
    target: str | None = None  # csv
    standardize: bool | None = None
    test_fraction: float | None = None
    layers: tuple[int, ...] = (2, 50, 3)
    activation: str = "relu"
    output_activation: str = "none"
    loss: str = "cross-entropy"
    init: str = "default"
    dropout: float = 0.0
    batchnorm: bool = False
    l1: float = 0.0
    l2: float = 0.0
    optimizer: str = "sgd"
    optimizer_params: dict = field(default_factory=lambda: {"lr": 0.1})
    scheduler: str = "none"
    scheduler_params: dict = field(default_factory=dict)
    batch_size: int = 20  # 0 = the whole training set
    epochs: int = 100
    seed: int = 1
    shuffle: bool = True
    device: str = "auto"

    def validated(self) -> "TrainConfig":
        """Return a copy with names checked and hyperparameters filled in; raise UserError naming the field."""
        if self.activation not in ACTIVATIONS:
            raise UserError(
                f"unknown activation '{self.activation}'; choose from {', '.join(ACTIVATIONS)}", "activation"
            )
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise UserError(
                f"unknown output activation '{self.output_activation}'; choose from {', '.join(OUTPUT_ACTIVATIONS)}",
                "output_activation",
            )
        if self.loss not in LOSSES:
            raise UserError(f"unknown loss '{self.loss}'; choose from {', '.join(LOSSES)}", "loss")
        if self.init not in INITS:
            raise UserError(f"unknown initialisation '{self.init}'; choose from {', '.join(INITS)}", "init")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"must be auto, cpu or cuda, not '{self.device}'", "device")
        for name, value, lo, hi in (("dropout", self.dropout, 0, 0.99), ("l1", self.l1, 0, 10), ("l2", self.l2, 0, 10)):
            if not lo <= float(value) <= hi:
                raise UserError(f"must be in [{lo}, {hi}], not {value}", name)
        if not 1 <= int(self.epochs) <= 100_000:
            raise UserError(f"must be 1–100000, not {self.epochs}", "epochs")
        if int(self.batch_size) < 0:
            raise UserError(
                f"must be positive (or 'full' for the whole training set), not {self.batch_size}", "batch_size"
            )
        layers = tuple(parse_layers(list(self.layers)))
        OPTIMIZERS.get(self.optimizer)
        SCHEDULERS.get(self.scheduler)
        try:
            # a rate not set is the optimizer's training default (engine.optimizers.training_lr), in every run
            opt = resolve_optimizer(self.optimizer, {"lr": training_lr(self.optimizer), **self.optimizer_params})
        except UserError as err:
            raise err.under("optimizer_params") from None
        try:
            sched = resolve_scheduler(self.scheduler, self.scheduler_params)
        except UserError as err:
            raise err.under("scheduler_params") from None
        return replace(self, layers=layers, optimizer_params=opt, scheduler_params=sched)

    def with_field(self, name: str, value) -> "TrainConfig":
        """Return a copy with one field changed; optimizer hyperparameters (lr, momentum, …) are fields too.

        Changing the optimizer keeps the hyperparameters set (those that differ from the old optimizer's
        training defaults) that the new one also has: a rate typed for SGD stays for Adam, a rate left at SGD's
        default becomes Adam's own default.
        """
        own = {f.name: f for f in fields(self)}
        if name == "optimizer":
            entry = OPTIMIZERS.get(str(value))
            kept = {
                k: v
                for k, v in self.optimizer_params.items()
                if any(p.name == k for p in entry.params) and k in _explicit(self)
            }
            return replace(self, optimizer=entry.id, optimizer_params=kept)
        if name == "scheduler":
            SCHEDULERS.get(str(value))
            return replace(self, scheduler=str(value), scheduler_params={})
        if name == "layers":
            return replace(self, layers=tuple(parse_layers(value)))
        if name in own:
            return replace(self, **{name: _coerce(own[name], value, name)})
        if name.startswith("sched."):
            return replace(self, scheduler_params={**self.scheduler_params, name[6:]: value})
        entry = OPTIMIZERS.get(self.optimizer)
        entry.param(name)  # raises a clear error for unknown names
        return replace(self, optimizer_params={**self.optimizer_params, name: value})

    def to_dict(self) -> dict:
        """Return a JSON-ready dict of every field."""
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Return a config from to_dict()'s output; unknown keys raise UserError."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UserError(f"unknown configuration key(s): {', '.join(sorted(unknown))}")
        data = dict(data)
        if "layers" in data:
            data["layers"] = tuple(parse_layers(data["layers"]))
        return cls(**data)

    def dataset_key(self) -> tuple:
        """Return what identifies the loaded data (runs with equal keys share one data set)."""
        return (
            self.dataset,
            self.data_dir,
            self.classes,
            self.points,
            self.noise,
            self.target,
            self.standardize,
            self.test_fraction,
            self.seed,
        )

    def load_data(self, download: bool = False):
        """Return the Dataset this config trains on."""
        return load_dataset(
            self.dataset,
            seed=self.seed,
            test_fraction=self.test_fraction,
            data_dir=self.data_dir,
            classes=self.classes,
            points=self.points,
            noise=self.noise,
            target=self.target,
            standardize=self.standardize,
            download=download,
        )


def _explicit(config: TrainConfig) -> set[str]:
    defaults = training_defaults(config.optimizer)
    return {k for k, v in config.optimizer_params.items() if defaults.get(k) != v}


def _coerce(f, value, name):
    text = str(value).strip()
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    try:
        if name == "batch_size":
            return 0 if text.lower() in ("full", "0") else int(text)
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("float"):
            return None if text.lower() in ("", "none") else float(text)
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
    except ValueError:
        raise UserError(f"cannot be {value!r}", name) from None
    return value
