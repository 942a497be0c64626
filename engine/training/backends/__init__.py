"""Training backends: how R runs of one architecture compute gradients and take steps, behind one interface.

RunGroup (trainer.py) owns the data, the batch order, the learning-rate drivers, divergence and the
histories; a backend owns the weights and the optimizers and does the arithmetic:

- ``fused`` (backends/fused.py): every run stacked, hand-written gradients, one bmm per layer for all runs;
- ``numba`` (backends/numba_mlp.py): the fused backend's small float64 SGD-family runs, each batch one
  compiled call, where the run is long enough to repay importing numba;
- ``numba lanes`` (backends/numba_lanes.py): the same for many runs (a map, a sweep), the runs side by side
  in SIMD lanes, training and epoch-end measurements compiled;
- ``autograd`` (backends/autograd.py): one nn.Module per run with torch.optim, for everything else.

A batch that is itself slow (its work, see ``row_work``, above CHUNK_WORK) is computed in row chunks whose
gradients add up to the batch's (gradient accumulation: the same maths up to rounding), with a checkpoint
between two chunks. A stop there discards the batch, weights and optimizer state untouched, so that it is
redone whole on resume. Evaluations check between their chunks too and raise Interrupted, having changed
nothing. Batches at or below the threshold (every usual set-up) take the single-pass code.
"""

from __future__ import annotations

import torch

# Work of one batch, in multiply-add equivalents, above which it is computed in chunks. A chunk of this much
# work takes about 0.25 s on one core of the development machine (AMD EPYC, float32; measured: ~0.06 ns per
# multiply-add, ~10 ns per hidden activation element in forward + backward), so a stop is seen within ~0.3 s.
CHUNK_WORK = 1 << 32
ELEMENT_WORK = 128  # one activation element (element-wise passes, memory traffic) costs ~128 multiply-adds
EVAL_ELEMENTS = 1 << 17  # activations per evaluation chunk: larger fresh tensors cost page faults on every call


class Interrupted(Exception):
    """A stop arrived between two chunks of an evaluation; nothing was changed."""


def row_work(layers) -> int:
    """Return one run's work for one training row (forward + backward), in multiply-add equivalents."""
    return sum(a * b for a, b in zip(layers, layers[1:])) + ELEMENT_WORK * sum(layers[1:])


def chunk_rows(layers, runs: int, rows: int) -> int:
    """Return the rows per chunk for a batch of ``rows`` rows of ``runs`` runs (``rows``: no chunking)."""
    per_row = runs * row_work(layers)
    if rows * per_row <= CHUNK_WORK:
        return rows
    return max(1, CHUNK_WORK // per_row)


def stop_requested(token) -> bool:
    """Return True when ``token`` (anything with checkpoint(), or None) says to stop; blocks while paused."""
    return token is not None and token.checkpoint()


class Backend:
    """R runs' weights and optimizers; the arithmetic of training and evaluating them.

    ``optimizers`` holds one torch optimizer per run: the learning-rate drivers set its rate.
    ``batch_losses`` is every run's loss on the last batch when the backend measures it (autograd; a NaN
    there marks a diverged run), None when it does not (fused: the epoch-end evaluation shows divergence).
    """

    path = ""
    dtype = torch.float32

    def __init__(self, configs, device: torch.device, n_classes: int | None):
        self.configs = configs
        self.R = len(configs)
        self.device = device
        self.n_classes = n_classes
        self.layers = list(configs[0].layers)
        self.optimizers: list = []
        self.batch_losses: list[float] | None = None
        self.eval_chunk = max(64, min(8192, EVAL_ELEMENTS // (self.R * max(self.layers[1:]))))

    def train_mode(self) -> None:
        """Prepare for a stretch of training batches (dropout and batch norm in training mode); returns nothing."""

    def freeze(self, r: int) -> None:
        """Stop stepping run ``r`` (it has diverged) where the backend can skip it; returns nothing."""

    def train_batch(self, xb: torch.Tensor, yb: torch.Tensor, lrs: list[float], token=None) -> bool:
        """Take one optimizer step per run on the batch (xb, yb) with these rates.

        Returns True when the step was taken, False when ``token`` stopped it between two chunks of a
        slow batch (then nothing changed: the batch is to be redone).
        """
        raise NotImplementedError

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, token=None) -> tuple[list[float], list[float | None]]:
        """Return every run's (mean data loss, accuracy or None) on (x, y); raise Interrupted if stopped."""
        raise NotImplementedError

    def train_metrics(self, x: torch.Tensor, y: torch.Tensor, token=None):
        """Return every run's (data loss, accuracy or None, norm of the data loss's gradient) on (x, y).

        Raises Interrupted when ``token`` stops it between two chunks.
        """
        raise NotImplementedError

    def logits(self, x: torch.Tensor, r: int) -> torch.Tensor:
        """Return run r's float logits for x (evaluation mode, no gradient)."""
        raise NotImplementedError

    def weights(self, r: int) -> dict:
        """Return run r's weights as {"layers": [{"weight", "bias"}, ...]}."""
        raise NotImplementedError


def make_backend(configs, models, device: torch.device, n_classes: int | None, batches_per_epoch: int = 0) -> Backend:
    """Return the backend for these runs: numba or fused where the set-up allows it, else autograd.

    ``models`` are the runs' initialised model.MLP modules (their weights are the starting point).
    ``batches_per_epoch`` (0: unknown) lets the numba backend judge whether the run repays importing numba.
    """
    from engine.training.backends.autograd import AutogradBackend
    from engine.training.backends.fused import FusedBackend
    from engine.training.fused import can_fuse

    if can_fuse(configs[0], n_classes):
        from engine.training.backends import numba_lanes, numba_mlp

        if batches_per_epoch and numba_lanes.applies(configs, n_classes, device, batches_per_epoch):
            return numba_lanes.LanesBackend(configs, models, device, n_classes)
        if batches_per_epoch and numba_mlp.applies(configs, n_classes, device, batches_per_epoch):
            return numba_mlp.NumbaBackend(configs, models, device, n_classes)
        return FusedBackend(configs, models, device, n_classes)
    return AutogradBackend(configs, models, device, n_classes)
