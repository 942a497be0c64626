"""Before a run starts: about how much memory it needs, how long it takes, and whether to start it at all.

``estimate_run(config, shape)`` and ``estimate_comparison(configs, shape)`` return an ``Estimate``: peak
bytes, seconds, a verdict ("ok", "slow" or "refuse") and a one-line message. Nothing is allocated: the
figures come from the layer sizes, the data's shape (``DataShape``: ``data_shape(config)`` knows the built-in
sets without loading them, ``DataShape.of(dataset)`` reads a loaded one), the backend the run will take
(engine/training/backends: fused float64 for a small first layer, fused float32 for a large one, autograd
float32 otherwise) and the optimizer.

Memory (the peak, in bytes):

- parameters: weights and biases × bytes per number × copies: the weights, their gradients, the optimizer's
  state (``optimizer_slots``: Adam 2, momentum 1, …) and scratch copies (the fused path builds float32 modules
  before stacking them, and copies the gradient at every epoch's end), × the runs trained together;
- activations: the largest block of rows pushed through the network at once (a training batch or its chunk,
  an evaluation chunk, the training visuals' decision-region grid), × the units of every layer, × ~3 tensors per layer;
- data: the data set as loaded (float32) and as trained on (the backend's dtype), plus an epoch's gathered copy;
- output: the final weights written as JSON, when asked (``weights_json``: about 160 bytes per weight while
  Python lists and the text exist; the command line writes weights.json and experiment.json).

Time: per epoch, the arithmetic of training (forward 2 and backward 4 FLOPs per multiply-add of the layers,
for every training row) and of the epoch-end measurements, divided by a measured FLOP rate; plus a cost per
activation element, a cost per batch (Python and torch call overhead: the optimizer step's calls, more
for per-run torch.optim optimizers and autograd), and the JSON writing. Measured on the development machine
(AMD EPYC, 2 cores, torch 2.x; see TIME_COSTS): fitted within ±35% on 19 timed runs, from iris to MNIST
with 4000 units.

The verdict is "refuse" when the peak exceeds MEMORY_SHARE of the memory free (RAM, or the GPU's for a CUDA
run), "slow" when it takes more than SLOW_SECONDS, else "ok". No Qt here: the window calls it too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.errors import UserError
from engine.optimizers import OPTIMIZERS
from engine.training.backends import EVAL_ELEMENTS, chunk_rows
from engine.training.backends import fused as fused_backend
from engine.training.checks import resolve_device
from engine.training.compare import plan_groups
from engine.training.config import TrainConfig
from engine.training.data_shape import (  # noqa: F401 - re-exported: the estimate's API
    DataShape,
    available_memory,
    check_batches,
    data_shape,
)
from engine.training.fused import can_fuse, fused_dtype
from engine.training.jobs import DECISION_GRID
from engine.training.stepper import ADAM_FAMILY, SGD_FAMILY, is_nesterov
from engine.training.trainer import GATHER_ELEMENTS, GRAD_ROWS

SLOW_SECONDS = 60.0  # a run estimated to take longer gets the verdict "slow" (the command line warns)
MEMORY_SHARE = 0.85  # refuse a run whose estimated peak is above this share of the memory free now

# Seconds per unit of each term of a run's work (see _group_cost). Fitted by least squares (on the log of
# the ratio) to 19 timed training runs on the development machine (AMD EPYC, 2 vCPUs, torch 2.x, one torch
# thread, data loaded beforehand): spiral, iris, digits and MNIST; 2-50-3 to 784-4000-10 and 2-2000-2000-3;
# fused SGD, fused Adam/RMSprop and autograd (dropout, batch norm, gelu); batches of 5 to the whole set. Every
# run's estimate came within 0.73-1.22 of its time. For reference, one thread's bmm alone reaches ~110
# GFLOP/s (float32) and ~60 GFLOP/s (float64) on large products. With torch's default two threads on this
# machine while other work ran, small networks trained up to 10x slower (thread synchronisation): the
# estimate then errs short; it is meant to tell seconds from minutes from hours.
# Fused Adam/AMSGrad/AdamW (FlatAdam: one fused-kernel call) re-measured 2026-11-23, one thread: a step took ~4 us
# for one 2-50-3 run, ~3.3 us more per run (SGD ~10 us, RMSprop ~45 us a run); whole runs, Adam against SGD: 2-50-3
# 0.077 s / 0.083 s (30 epochs), 784-40-40-40-10 0.279 s / 0.274 s (a Fashion-MNIST epoch). Estimates went from
# 1.3-2.0x the time taken (Adam charged as per-run torch.optim) to 1.1-1.2x, as SGD's.
TIME_COSTS = {
    "flop_float32": 1 / 100e9,  # one FLOP of the layers' matrix products (forward 2, backward 4 per multiply-add)
    "flop_float64": 1 / 45e9,
    "element": 2.7e-9,  # one hidden activation element through forward + backward (activation, its gradient)
    "step_byte": 0.11e-9,  # one byte of weights and optimizer state read and written by an optimizer step
    "batch": 25e-6,  # a fused batch's fixed cost (Python, a dozen torch calls), its optimizer step aside
    "step_calls": 10e-6,  # the fixed cost of a vectorised SGD or per-run torch.optim step (foreach calls, no_grad)
    "adam_run_batch": 3.3e-6,  # one run's share of a fused Adam kernel call (FlatAdam), its bytes aside
    "run_batch": 22e-6,  # one run's torch.optim step call on the fused path (RMSprop, Adagrad, ...)
    "autograd_batch": 180e-6,  # one run's batch on the autograd path (module calls, backward, optimizer)
    "epoch": 0.2e-3,  # one run's epoch-end measurement, fixed cost
    "json_weight": 2.1e-6,  # tolist, validation and json.dumps of one weight: weights.json 0.9, experiment.json 1.2
}
# CUDA: NOT measured (no GPU on the development machine). Rough figures for an H100-class GPU on these small
# batches (well below its peak); the per-batch costs, mostly Python and kernel launches, are kept from the CPU.
CUDA_TIME_COSTS = {**TIME_COSTS, "flop_float32": 1 / 20e12, "flop_float64": 1 / 10e12, "element": 0.1e-9}
JSON_BYTES_PER_WEIGHT = 160  # measured peak growth: Python floats and lists, the JSON text, the experiment's copy
DECISION_ROWS = DECISION_GRID**2  # the decision-region grid of the training visuals (one pass)
ACTIVATION_COPIES = 3  # tensors per layer alive at once in forward + backward (z, a, the gradient)


@dataclass(frozen=True)
class Estimate:
    """About how much memory a run (or a comparison) needs and how long it takes, with the verdict.

    ``bytes``: the estimated peak; ``seconds``: the estimated time of the training (and of writing the
    weights, when asked); ``verdict``: "ok", "slow" (over SLOW_SECONDS) or "refuse" (over MEMORY_SHARE of the
    memory free); ``message``: one line for the user ("" when ok); ``field``: the setting to blame when refused
    (``layers``, ``batch_size``, ``points``, ``dataset``); ``parts``: the peak's parts in bytes (parameters,
    activations, data, output); ``memory``/``free``: the memory judged against (bytes in all, bytes free).
    """

    bytes: int
    seconds: float
    verdict: str
    message: str
    field: str | None = None
    parameters: int = 0  # weights and biases of one network
    runs: int = 1
    flops: float = 0.0
    memory: int = 0
    free: int = 0
    parts: dict = dataclasses.field(default_factory=dict)

    @property
    def refused(self) -> bool:
        """Return whether the run should not start (the verdict is "refuse")."""
        return self.verdict == "refuse"

    def error(self) -> UserError:
        """Return the UserError that refuses the run (its message, naming ``field``)."""
        return UserError(self.message, self.field)

    def check(self) -> Estimate:
        """Return this estimate, or raise its UserError when the verdict is "refuse"."""
        if self.refused:
            raise self.error()
        return self

    def warning(self) -> str | None:
        """Return the warning for a slow run ("this run will take about 12 min (estimate)"), else None."""
        return self.message if self.verdict == "slow" else None

    def out_of_memory(self, detail: str = "") -> UserError:
        """Return the UserError for a run that ran out of memory after all, with this estimate in it."""
        what = "comparison" if self.runs > 1 else "run"
        need = f"the estimate was about {format_bytes(self.bytes)}"
        have = f"; this machine has {format_bytes(self.memory)} ({format_bytes(self.free)} free)" if self.memory else ""
        extra = f" ({detail})" if detail else ""
        return UserError(f"the {what} ran out of memory{extra}: {need}{have}", self.field or "layers")


def optimizer_slots(optimizer: str, params: dict, fused: bool) -> int:
    """Return how many weight-sized tensors the optimizer keeps per run (momentum 1, Adam 2, AMSGrad 3…).

    ``params`` are its hyperparameters (the registry's defaults fill in the rest); ``fused``: the fused path.
    """
    params = {**OPTIMIZERS.get(optimizer).defaults(), **params}
    if optimizer in SGD_FAMILY:
        if fused:  # VectorSGD keeps a buffer for every run, and a copy for weight decay or Nesterov
            return 1 + bool(params.get("weight_decay")) + is_nesterov(optimizer, params)
        return 1 if float(params.get("momentum", 0.0)) > 0 else 0
    if optimizer == "rmsprop":
        return 1 + (float(params.get("momentum", 0.0)) > 0) + bool(params.get("centered"))
    if optimizer == "adagrad":
        return 1
    if optimizer == "amsgrad":
        return 3
    return 2  # adam, adamw, adamax, nadam, radam, adadelta


def _dtype_name(config: TrainConfig, fused: bool) -> str:
    if not fused:
        return "float32"
    return "float64" if str(fused_dtype(list(config.layers))).endswith("float64") else "float32"


# -- the estimate -------------------------------------------------------------------------------------------------
@dataclass
class _Cost:
    """The cost of one RunGroup (runs trained together): bytes by part and seconds."""

    parameters: int
    activations: int
    data: int
    output: int
    seconds: float
    flops: float
    runs: int
    weights: int  # per run
    itemsize: int
    dtype: str
    copies: int
    optimizer: str
    rows: int  # rows of the largest activation block
    culprit: str  # the field that makes the activations large

    @property
    def bytes(self) -> int:
        return self.parameters + self.activations + self.data + self.output


def _group_cost(configs: list[TrainConfig], shape: DataShape, device: str, weights_json: bool) -> _Cost:
    cfg = configs[0]
    layers = [int(v) for v in cfg.layers]
    runs = len(configs)
    fused = can_fuse(cfg, shape.n_classes)
    dtype = _dtype_name(cfg, fused)
    itemsize = 8 if dtype == "float64" else 4
    weights = sum(a * b + b for a, b in zip(layers, layers[1:]))
    macs = sum(a * b for a, b in zip(layers, layers[1:]))
    units = sum(layers[1:])
    widest = max(layers[1:])
    slots = max(optimizer_slots(c.optimizer, c.optimizer_params, fused) for c in configs)
    nesterov = [is_nesterov(c.optimizer, c.optimizer_params) for c in configs]
    slots += fused and any(nesterov) and not all(nesterov)  # VectorSGD's pick between g + m·buf and buf
    penalties = any(c.l1 or c.l2 for c in configs)
    if fused:  # flat weights + gradients + state + the gradient's copy at the epoch's end (two with penalties)
        copies = 2 + slots + 1 + penalties
        parameters = max(weights * runs * (4 + 2 * itemsize), weights * runs * itemsize * copies)
    else:  # every run's module, its gradients, its optimizer's state and torch.optim's temporaries
        copies = 2 + slots + 1
        parameters = weights * runs * 4 * copies
    n = shape.n_train
    batch = min(int(cfg.batch_size) or n, n) if n else 0
    train_rows = chunk_rows(layers, runs, batch) if batch else 0
    eval_rows = max(64, min(8192, EVAL_ELEMENTS // max(1, runs * widest)))
    act_runs = runs if fused else 1  # the fused path stacks every run; autograd runs one after another
    blocks = [  # (elements, the field that makes it large, rows at a time)
        (train_rows * act_runs * units * ACTIVATION_COPIES, "batch_size", train_rows),
        (min(eval_rows, max(n, shape.n_test)) * act_runs * units * ACTIVATION_COPIES, "layers", eval_rows),
    ]
    if shape.n_features == 2 and shape.n_classes:  # one run's logits, two layers alive at a time
        blocks.append((DECISION_ROWS * 2 * widest, "layers", DECISION_ROWS))
    elements, culprit, rows = max(blocks)
    activations = elements * itemsize
    rows_all = n + shape.n_test
    data = rows_all * shape.n_features * 4 + rows_all * 8  # as loaded: float32 inputs, int64 labels
    if itemsize == 8:
        data += rows_all * shape.n_features * 8  # the float64 copy the fused path trains on
    if n * shape.n_features <= GATHER_ELEMENTS:
        data += n * shape.n_features * itemsize  # each epoch's rows gathered in batch order
    output = weights * JSON_BYTES_PER_WEIGHT if weights_json else 0
    # time: each term's count times its cost (TIME_COSTS)
    first = layers[0] * layers[1]
    grad_rows = min(n, GRAD_ROWS)
    epochs = int(cfg.epochs)
    batches = math.ceil(n / batch) if batch else 0
    train_flops = n * runs * (6 * macs - 2 * first)  # the inputs need no gradient
    eval_flops = runs * (2 * macs * (n if n > GRAD_ROWS else 0) + 6 * macs * grad_rows + 2 * macs * shape.n_test)
    flops = epochs * train_flops + (epochs + 1) * eval_flops
    hidden = units - layers[-1]
    sgd = fused and all(c.optimizer in SGD_FAMILY for c in configs)
    flat_adam = fused and fused_backend.FLAT_ADAM and all(c.optimizer in ADAM_FAMILY for c in configs)
    terms = {
        f"flop_{dtype}": flops,
        "element": runs * hidden * (epochs * n + (epochs + 1) * (n + shape.n_test + grad_rows) / 2),
        "step_byte": epochs * batches * runs * weights * itemsize * (1 + slots),
        "batch": epochs * batches * (1 if fused else 0),
        "step_calls": epochs * batches * (0 if flat_adam or not fused else 1),
        "adam_run_batch": epochs * batches * runs * (1 if flat_adam else 0),
        "run_batch": epochs * batches * runs * (0 if sgd or flat_adam or not fused else 1),
        "autograd_batch": epochs * batches * runs * (0 if fused else 1),
        "epoch": (epochs + 1) * runs,
        "json_weight": weights if weights_json else 0,
    }
    costs = CUDA_TIME_COSTS if device == "cuda" else TIME_COSTS
    seconds = sum(costs[k] * v for k, v in terms.items())
    return _Cost(
        parameters, activations, data, output, seconds, float(flops), runs, weights, itemsize, dtype, copies,
        cfg.optimizer if runs == 1 or len({c.optimizer for c in configs}) == 1 else "the optimizers'", rows, culprit,
    )  # fmt: skip


def estimate_run(
    config: TrainConfig,
    shape: DataShape,
    *,
    weights_json: bool = False,
    memory: tuple[int, int] | None = None,
) -> Estimate:
    """Return the Estimate of one training run of ``config`` (validated) on data of ``shape``.

    ``weights_json``: the final weights are written as JSON (the command line's weights.json and
    experiment.json). ``memory``: (bytes in all, bytes free) to judge against (default: ``available_memory``
    of the run's device). Raises UserError only for a device that is not there (``resolve_device``).
    """
    device = resolve_device(config.device).type
    cost = _group_cost([config], shape, device, weights_json)
    return _verdict([cost], shape, device, memory, comparison=False)


def estimate_comparison(
    configs: Iterable,
    shape: DataShape | Callable[[TrainConfig], DataShape],
    *,
    memory: tuple[int, int] | None = None,
) -> Estimate:
    """Return the Estimate of a comparison: ``configs`` are its runs' validated TrainConfigs (or the
    (label, seed, config) triples of ``Comparison.runs()``).

    Runs that share data, seed and architecture train together (as ``compare.plan_groups`` groups them) and
    the groups one after another: the peak is the largest group's plus every data set's (they stay loaded),
    the time the sum. ``shape`` is the base's data shape, or a function giving each configuration's (for a
    comparison that varies the data).
    """
    configs = [c[2] if isinstance(c, tuple) else c for c in configs]
    if not configs:
        raise UserError("a comparison needs at least one run")
    shape_of = shape if callable(shape) else (lambda _cfg: shape)
    device = resolve_device(configs[0].device).type
    groups = [[configs[i] for i in g] for g in plan_groups([(None, None, c) for c in configs])]
    costs, shapes = [], {}
    for members in groups:
        s = shape_of(members[0])
        shapes[members[0].dataset_key()] = s
        costs.append(_group_cost(members, s, device, False))
    data = sum(
        (s.n_train + s.n_test) * s.n_features * 4 + (s.n_train + s.n_test) * 8 for s in list(shapes.values())[:-1]
    )
    return _verdict(costs, shape_of(configs[0]), device, memory, comparison=True, extra_data=data)


def _verdict(
    costs: list[_Cost],
    shape: DataShape,
    device: str,
    memory: tuple[int, int] | None,
    comparison: bool,
    extra_data: int = 0,
) -> Estimate:
    peak = max(costs, key=lambda c: c.bytes)
    total_bytes = peak.bytes + extra_data
    seconds = sum(c.seconds for c in costs)
    runs = sum(c.runs for c in costs)
    flops = sum(c.flops for c in costs)
    total, free = memory if memory is not None else available_memory(device)
    parts = {"parameters": peak.parameters, "activations": peak.activations, "data": peak.data + extra_data}
    parts["output"] = peak.output
    what = "comparison" if comparison else "run"
    if free and total_bytes > MEMORY_SHARE * free:
        biggest = max(parts, key=parts.get)
        field_ = {"parameters": "layers", "output": "layers", "activations": peak.culprit}.get(biggest)
        if biggest == "data":
            field_ = "points" if shape.n_features == 2 else "dataset"
        subject = "this network" if biggest in ("parameters", "output") and not comparison else f"this {what}"
        message = (
            f"{subject} needs about {format_bytes(total_bytes)}: {_explain(peak, parts, biggest, shape)}; "
            f"{_machine(device, total, free)}"
        )
        verdict = "refuse"
    elif seconds > SLOW_SECONDS:
        field_ = None
        verdict = "slow"
        message = f"this {what} will take about {format_seconds(seconds)} (estimate)"
    else:
        field_, verdict, message = None, "ok", ""
    return Estimate(
        int(total_bytes), float(seconds), verdict, message, field_, peak.weights, runs, flops, total, free, parts
    )


def _explain(cost: _Cost, parts: dict, biggest: str, shape: DataShape) -> str:
    """Return the words that say where the memory goes: the largest part first, then any other sizeable one."""
    words = {
        "parameters": f"{cost.weights:,} weights × {cost.itemsize} bytes ({cost.dtype}) × {cost.copies} "
        f"(weights, gradients, {cost.optimizer} state, scratch)"
        + (f" × {cost.runs} runs" if cost.runs > 1 else "")
        + f" = {format_bytes(parts['parameters'])}",
        "output": f"{format_bytes(parts['output'])} to write the weights as JSON",
        "activations": f"{format_bytes(parts['activations'])} of activations ({cost.rows:,} rows at a time)",
        "data": f"{format_bytes(parts['data'])} of data ({shape.n_train + shape.n_test:,} rows × "
        f"{shape.n_features} features)",
    }
    order = ["parameters", "output"] if biggest in ("parameters", "output") else [biggest]
    order += [name for name in sorted(parts, key=parts.get, reverse=True) if name not in order]
    total = sum(parts.values())
    shown = [name for name in order if name in (biggest, "parameters") or parts[name] >= 0.05 * total]
    return ", ".join(words[name] for name in shown if parts[name])


def _machine(device: str, total: int, free: int) -> str:
    where = "the GPU has" if device == "cuda" else "this machine has"
    if free and total and free < 0.9 * total:
        return f"{where} {format_bytes(total)} ({format_bytes(free)} free)"
    return f"{where} {format_bytes(total or free)}"


def format_bytes(n: float) -> str:
    """Return a byte count in words: '512 bytes', '3.4 MB', '40 GB' (powers of 1000)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value >= 10 else f"{value:.1f} {unit}"
    return f"{int(n)} bytes"


def format_seconds(s: float) -> str:
    """Return a duration in words: '45 s', '12 min', '3.5 h', '2.1 days'."""
    if s < 90:
        return f"{max(1, round(s))} s"
    if s < 90 * 60:
        return f"{round(s / 60)} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"
