"""Checks before training: the device, whether the layers fit the data, which runs can train together."""

from __future__ import annotations

import torch

from engine.data.datasets import Dataset
from engine.errors import UserError
from engine.training.config import TrainConfig

GROUP_FIELDS = (
    "dataset",
    "data_dir",
    "classes",
    "points",
    "noise",
    "target",
    "standardize",
    "test_fraction",
    "layers",
    "activation",
    "output_activation",
    "loss",
    "init",
    "dropout",
    "batchnorm",
    "batch_size",
    "epochs",
    "seed",
    "shuffle",
    "device",
)


def resolve_device(name: str) -> torch.device:
    """Return the torch device for 'auto', 'cpu' or 'cuda'; raise UserError when CUDA is asked for but absent."""
    if name == "cuda":
        if not torch.cuda.is_available():
            build = "CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda} build, no GPU found"
            raise UserError(
                f"CUDA was requested but is not available (torch {torch.__version__}: {build}); choose cpu or auto",
                "device",
            )
        return torch.device("cuda")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"must be auto, cpu or cuda, not '{name}'", "device")


def check_shapes(config: TrainConfig, data: Dataset) -> None:
    """Raise UserError (naming the field at fault) when the layer sizes or the loss do not fit the data set."""
    first, last = config.layers[0], config.layers[-1]
    if first != data.n_features:
        raise UserError(
            f"the first layer has {first} inputs but {data.name} has {data.n_features} features "
            f"(try {data.n_features},{','.join(map(str, config.layers[1:]))})",
            "layers",
        )
    if data.n_classes is None:
        if last != 1:
            raise UserError(
                f"{data.name} has a numeric target: the last layer must have 1 output, not {last}", "layers"
            )
        if config.loss not in ("mse", "mae"):
            raise UserError(f"{data.name} has a numeric target: use the mse or mae loss, not {config.loss}", "loss")
        return
    if last == 1 and data.n_classes == 2:
        if config.loss == "cross-entropy":
            raise UserError(
                "a single output needs the bce, mse or mae loss (cross-entropy needs one output per class)", "loss"
            )
        return
    if last != data.n_classes:
        raise UserError(f"the last layer has {last} outputs but {data.name} has {data.n_classes} classes", "layers")


def can_group(configs: list[TrainConfig]) -> bool:
    """Return whether these runs share data, batch order and architecture, so one RunGroup can train them."""
    first = configs[0]
    return all(getattr(c, f) == getattr(first, f) for c in configs for f in GROUP_FIELDS)
