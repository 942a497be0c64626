"""The MLP: layers from a list, hidden/output activations, initialisations, dropout, batch norm, JSON weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import UserError

ACTIVATIONS = {
    "relu": F.relu,
    "leaky-relu": lambda z: F.leaky_relu(z, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "softmax": lambda z: torch.softmax(z, dim=-1),
}
OUTPUT_ACTIVATIONS = ("none", "sigmoid", "softmax")
INITS = ("default", "zeros", "normal", "xavier", "he")


def parse_layers(text: str | list) -> list[int]:
    """Return layer sizes from '2,50,3' (or a list); raise UserError (field ``layers``) unless 2+ sizes 1–100000."""
    if isinstance(text, (list, tuple)):
        sizes = list(text)
    else:
        try:
            sizes = [int(t) for t in str(text).replace(" ", "").split(",") if t]
        except ValueError:
            raise UserError(
                f"must be whole numbers separated by commas, e.g. 2,50,3 (got {text!r})", "layers"
            ) from None
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes) or any(int(s) > 100_000 for s in sizes):
        raise UserError(f"need at least an input and an output size, each 1–100000 (got {text!r})", "layers")
    return [int(s) for s in sizes]


class MLP(nn.Module):
    """Linear layers with a hidden activation (optionally batch norm and dropout) and an output activation."""

    def __init__(
        self,
        layers: list[int],
        activation: str = "relu",
        output_activation: str = "none",
        dropout: float = 0.0,
        batchnorm: bool = False,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise UserError(f"unknown activation '{activation}'; choose from {', '.join(ACTIVATIONS)}", "activation")
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise UserError(
                f"unknown output activation '{output_activation}'; choose from {', '.join(OUTPUT_ACTIVATIONS)}",
                "output_activation",
            )
        if not 0 <= dropout < 1:
            raise UserError(f"must be in [0, 1), not {dropout}", "dropout")
        self.sizes = list(layers)
        self.activation = activation
        self.output_activation = output_activation
        self.dropout = float(dropout)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(layers, layers[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in layers[1:-1]) if batchnorm else None

    def logits(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return the last layer's output before the output activation.

        Dropout masks come from ``generator`` so that runs are reproducible and comparable.
        """
        act = ACTIVATIONS[self.activation]
        last = len(self.linears) - 1
        for i, linear in enumerate(self.linears):
            x = linear(x)
            if i < last:
                if self.norms is not None:
                    x = self.norms[i](x)
                x = act(x)
                if self.training and self.dropout > 0:
                    keep = torch.rand(x.shape, generator=generator, device=x.device) >= self.dropout
                    x = x * keep / (1 - self.dropout)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the network's output after the output activation."""
        return apply_output(self.logits(x), self.output_activation)

    def get_weights(self) -> dict:
        """Return {"layers": [{"weight": [[...]], "bias": [...]}, ...]} in torch's [out, in] layout."""
        return {
            "layers": [
                {"weight": l.weight.detach().cpu().tolist(), "bias": l.bias.detach().cpu().tolist()}
                for l in self.linears
            ]
        }

    def set_weights(self, data: dict) -> None:
        """Load weights in get_weights()'s format; raise UserError on any count or shape mismatch."""
        layers = data.get("layers") if isinstance(data, dict) else None
        if not isinstance(layers, list):
            raise UserError('weights must be {"layers": [{"weight": ..., "bias": ...}, ...]}', "init_weights")
        if len(layers) != len(self.linears):
            raise UserError(
                f"weights have {len(layers)} layers; the network {','.join(map(str, self.sizes))} "
                f"has {len(self.linears)}",
                "init_weights",
            )
        with torch.no_grad():
            for i, (entry, linear) in enumerate(zip(layers, self.linears)):
                try:
                    w = torch.tensor(entry["weight"], dtype=torch.float32)
                    b = torch.tensor(entry["bias"], dtype=torch.float32)
                except (KeyError, TypeError, ValueError):
                    raise UserError(
                        f"weights layer {i} needs numeric 'weight' and 'bias' arrays", "init_weights"
                    ) from None
                if tuple(w.shape) != tuple(linear.weight.shape) or tuple(b.shape) != tuple(linear.bias.shape):
                    raise UserError(
                        f"weights layer {i}: weight {list(w.shape)} / bias {list(b.shape)} do not fit "
                        f"{list(linear.weight.shape)} / {list(linear.bias.shape)}",
                        "init_weights",
                    )
                linear.weight.copy_(w)
                linear.bias.copy_(b)


def apply_output(z: torch.Tensor, output_activation: str) -> torch.Tensor:
    """Return z after the output activation ('none', 'sigmoid' or 'softmax')."""
    if output_activation == "sigmoid":
        return torch.sigmoid(z)
    if output_activation == "softmax":
        return torch.softmax(z, dim=-1)
    return z


def initialise(model: MLP, scheme: str, generator: torch.Generator) -> None:
    """Set every linear layer's weights by ``scheme``, drawing only from ``generator``."""
    if scheme not in INITS:
        raise UserError(f"unknown initialisation '{scheme}'; choose from {', '.join(INITS)}", "init")
    with torch.no_grad():
        for linear in model.linears:
            w, b = linear.weight, linear.bias
            fan_in, fan_out = w.shape[1], w.shape[0]
            if scheme == "default":  # torch's nn.Linear default, with our generator
                bound = 1 / math.sqrt(fan_in)
                w.uniform_(-bound, bound, generator=generator)
                b.uniform_(-bound, bound, generator=generator)
                continue
            b.zero_()
            if scheme == "zeros":
                w.zero_()
            elif scheme == "normal":
                w.normal_(0.0, 0.05, generator=generator)
            elif scheme == "xavier":
                bound = math.sqrt(6 / (fan_in + fan_out))
                w.uniform_(-bound, bound, generator=generator)
            else:  # he
                w.normal_(0.0, math.sqrt(2 / fan_in), generator=generator)


def load_weights_file(path: str | Path) -> dict:
    """Return the parsed weights JSON at ``path``; raise UserError if unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"weights file {path} not found", "init_weights") from None
    except (OSError, ValueError) as err:
        raise UserError(f"weights file {path} is not valid JSON: {err}", "init_weights") from None
