"""The MLP: layers from a list, hidden/output activations, initialisations, dropout, batch norm, JSON weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
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
        """Load weights in get_weights()'s format; raise UserError on any malformed value, count or shape mismatch.

        Errors name the layer, and the file when ``data`` came from load_weights_file.
        """
        where = _where(data)
        arrays = check_weights(data)
        if len(arrays) != len(self.linears):
            raise UserError(
                f"{where} have {len(arrays)} layers; the network {','.join(map(str, self.sizes))} "
                f"has {len(self.linears)}",
                "init_weights",
            )
        with torch.no_grad():
            for i, ((w, b), linear) in enumerate(zip(arrays, self.linears)):
                if w.shape != tuple(linear.weight.shape) or b.shape != tuple(linear.bias.shape):
                    raise UserError(
                        f"{where} layer {i}: weight {list(w.shape)} / bias {list(b.shape)} do not fit "
                        f"{list(linear.weight.shape)} / {list(linear.bias.shape)}",
                        "init_weights",
                    )
                linear.weight.copy_(torch.from_numpy(w))
                linear.bias.copy_(torch.from_numpy(b))


MAX_WEIGHTS_BYTES = 2 * 1024**3  # a weights file larger than this is refused before it is read (a 784,100000,10
# network's weights are ~1.4 GB of JSON text)


class WeightsDocument(dict):
    """A weights document read by load_weights_file: a dict that remembers its file for error messages."""

    source: str = ""


def _where(data) -> str:
    source = getattr(data, "source", "")
    return f"weights in {source}" if source else "weights"


def _array(value, ndim: int, where: str, i: int, key: str) -> np.ndarray:
    """Return ``value`` (nested lists of numbers) as a float32 array of ``ndim`` dimensions, or raise UserError."""
    what = "a list of rows of numbers" if ndim == 2 else "a list of numbers"
    fail = UserError(f"{where} layer {i}: '{key}' must be {what}", "init_weights")
    if not isinstance(value, list) or not value:
        raise fail
    if ndim == 2 and not all(isinstance(row, list) for row in value):
        raise fail
    if ndim == 2 and len({len(row) for row in value}) != 1:
        raise UserError(f"{where} layer {i}: the rows of 'weight' differ in length", "init_weights")
    try:
        arr = np.array(value)
        if arr.dtype.kind not in "iufO" or arr.ndim != ndim:
            raise fail
        arr = arr.astype(np.float64)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise fail from None
    with np.errstate(over="ignore", invalid="ignore"):
        arr32 = arr.astype(np.float32)
    if arr32.size == 0 or not np.isfinite(arr32).all():
        raise UserError(
            f"{where} layer {i}: '{key}' holds NaN, infinite or empty values, or values beyond the 32-bit float range",
            "init_weights",
        )
    return arr32


def check_weights(data) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return [(weight [out, in], bias [out]) as float32 arrays] from a weights document, checked throughout.

    Raises UserError (field ``init_weights``), naming the layer (and the file, for a WeightsDocument), when
    the document is not {"layers": [{"weight": [[...]], "bias": [...]}, ...]} with finite numbers whose
    shapes chain from layer to layer.
    """
    where = _where(data)
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list) or not layers:
        raise UserError(f'{where} must be {{"layers": [{{"weight": ..., "bias": ...}}, ...]}}', "init_weights")
    out = []
    for i, entry in enumerate(layers):
        if not isinstance(entry, dict) or "weight" not in entry or "bias" not in entry:
            raise UserError(f"{where} layer {i} needs numeric 'weight' and 'bias' arrays", "init_weights")
        w = _array(entry["weight"], 2, where, i, "weight")
        b = _array(entry["bias"], 1, where, i, "bias")
        if len(b) != len(w):
            raise UserError(f"{where} layer {i}: {len(b)} biases for {len(w)} weight rows", "init_weights")
        if out and w.shape[1] != len(out[-1][1]):
            raise UserError(
                f"{where} layer {i} takes {w.shape[1]} inputs but layer {i - 1} gives {len(out[-1][1])}",
                "init_weights",
            )
        out.append((w, b))
    return out


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


def load_weights_file(path: str | Path) -> WeightsDocument:
    """Return the weights JSON at ``path``, checked by check_weights; raise UserError naming the file otherwise.

    A file over MAX_WEIGHTS_BYTES is refused before it is read.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if not file.is_file():
            raise UserError(f"weights file {path} is not a file", "init_weights")
        if size > MAX_WEIGHTS_BYTES:
            raise UserError(
                f"weights file {path} is {size / 2**30:.1f} GiB; at most {MAX_WEIGHTS_BYTES // 2**30} GiB can be read",
                "init_weights",
            )
        data = json.loads(file.read_bytes())
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(f"weights file {path} not found", "init_weights") from None
    except RecursionError:
        raise UserError(f"weights file {path} is not valid JSON: it is nested too deeply", "init_weights") from None
    except MemoryError:
        raise UserError(f"weights file {path} is too large to read into memory", "init_weights") from None
    except OSError as err:
        raise UserError(f"weights file {path} cannot be read: {err.strerror or err}", "init_weights") from None
    except ValueError as err:
        detail = " ".join(str(err).split())[:200]
        raise UserError(f"weights file {path} is not valid JSON: {detail}", "init_weights") from None
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean"}.get(
            type(data), "a number" if data is not None else "null"
        )
        raise UserError(f'weights file {path} must hold {{"layers": [...]}}, not {kind}', "init_weights")
    doc = WeightsDocument(data)
    doc.source = str(path)
    check_weights(doc)
    return doc
