"""Loss-landscape evaluation: many networks at once as stacked MLPs, the grid as a job, and the recorded path.

Every grid point is one network. A chunk of K networks is one (K, P) tensor of flat weights; each layer is a
view into it, and one ``baddbmm`` per layer evaluates all K on the same rows (as the fused backend trains
stacked runs). Chunks are sized so that activations and weights stay within a fixed memory budget.

The loss is the training data loss without penalties (as the history's train_loss), over at most
MAX_ROWS training rows: all of them when the set is smaller, else a fixed random sample (seed 0).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import UserError
from engine.training.fused import fused_dtype
from engine.training.landscape import layout, n_params
from engine.training.model import ACTIVATIONS, apply_output

MAX_ROWS = 2048
CHUNK_BYTES = 1 << 21  # activations (networks × rows × widest layer) per chunk: larger fresh tensors cost page
# faults that outweigh the arithmetic (measured: 41×41 spiral grid 0.45 s at 2 MB, 0.7 s at 16 MB, float64)
CHUNK_WEIGHTS = 1 << 23  # flat weights (networks × parameters) per chunk
GEMM_INPUTS = 16  # from this many inputs the first layer is one GEMM over all networks (fewer: bmm is faster)
MAX_PATH_BYTES = 64 * 1024**2  # a recorded path holds at most this much (then it keeps every 2nd, 4th… epoch)
MAX_PATH_POINTS = 400
MAX_RECORDED_PARAMS = 20_000_000  # larger networks record no path


def sample_rows(n: int, max_rows: int = MAX_ROWS) -> np.ndarray:
    """Return the training rows the landscape's loss uses: all ``n`` rows, or a sorted random ``max_rows``."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(torch.randperm(n, generator=torch.Generator().manual_seed(0))[:max_rows].numpy())


@dataclass(frozen=True)
class LossModel:
    """What the loss of a flat weight vector needs: the architecture, the loss and the sampled training rows."""

    sizes: tuple
    activation: str
    output_activation: str
    loss: str
    n_classes: int | None
    x: torch.Tensor
    y: torch.Tensor
    rows: np.ndarray  # indices into the training set
    dtype: torch.dtype


def loss_model(
    config, data, max_rows: int = MAX_ROWS, dtype: torch.dtype | None = None, device: str | torch.device = "cpu"
) -> LossModel:
    """Return the LossModel of a training configuration and its data set, its rows on ``device``.

    Float64 for networks whose first layer is small (as the fused backend), else float32. Raises UserError
    (field ``batchnorm``) for batch-norm networks: their flat weights do not describe them.
    """
    if config.batchnorm:
        raise UserError("the loss landscape covers networks without batch norm", "batchnorm")
    sizes = tuple(int(s) for s in config.layers)
    dtype = dtype or fused_dtype(sizes)
    rows = sample_rows(len(data.x_train), max_rows)
    idx = torch.from_numpy(rows)
    x, y = data.x_train[idx].to(device, dtype), data.y_train[idx].to(device)
    if data.n_classes is None:
        y = y.to(dtype)
    return LossModel(sizes, config.activation, config.output_activation, config.loss, data.n_classes, x, y, rows, dtype)


def stacked_loss(z: torch.Tensor, y: torch.Tensor, model: LossModel) -> torch.Tensor:
    """Return each network's mean data loss (K,) from stacked logits z (K, N, outputs), as training computes it
    (backends/autograd.data_loss) for one network."""
    k, n, c = z.shape
    if model.n_classes is not None and model.loss == "cross-entropy":
        scores = torch.sigmoid(z) if model.output_activation == "sigmoid" else z
        logp = torch.log_softmax(scores, dim=-1)
        return -logp.gather(2, y.view(1, n, 1).expand(k, n, 1)).mean((1, 2))
    if model.n_classes is None or c == 1:
        target = y.reshape(1, n, 1).to(z.dtype)
    else:
        target = F.one_hot(y, c).to(z.dtype).unsqueeze(0)
    target = target.expand(k, n, c)
    if model.loss == "bce":
        if model.output_activation == "softmax":
            p = torch.softmax(z, -1).clamp(1e-7, 1 - 1e-7)
            return F.binary_cross_entropy(p, target, reduction="none").mean((1, 2))
        return F.binary_cross_entropy_with_logits(z, target, reduction="none").mean((1, 2))
    out = apply_output(z, model.output_activation)
    diff = out - target
    return (diff * diff if model.loss == "mse" else diff.abs()).mean((1, 2))


# in place where torch has it: a fresh activation tensor of a chunk costs page faults that outweigh the arithmetic
_IN_PLACE = {
    "relu": torch.relu_,
    "tanh": torch.tanh_,
    "sigmoid": torch.sigmoid_,
    "leaky-relu": lambda z: F.leaky_relu_(z, 0.01),
    "elu": F.elu_,
}


def stacked_losses(model: LossModel, flats: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
    """Return the loss (K,) of K networks given as flat weight vectors (K, P), in one stacked forward pass.

    ``first``: the first layer's outputs (K, N, units) before the activation, when the caller has them already
    (plane_job); its weights in ``flats`` are then not used.
    """
    k = flats.shape[0]
    act = _IN_PLACE.get(model.activation, ACTIVATIONS[model.activation])
    parts = {(p["layer"], p["name"]): p for p in layout(model.sizes)}
    n_layers = len(model.sizes) - 1
    h = model.x.expand(k, *model.x.shape)
    for i in range(n_layers):
        if i == 0 and first is not None:
            h = act(first) if n_layers > 1 else first
            continue
        pw, pb = parts[(i, "weight")], parts[(i, "bias")]
        w = flats[:, pw["offset"] : pw["offset"] + pw["size"]].view(k, *pw["shape"])
        b = flats[:, pb["offset"] : pb["offset"] + pb["size"]]
        if i == 0 and model.sizes[0] >= GEMM_INPUTS:  # one GEMM for all K: the input rows are shared
            out = pw["shape"][0]
            h = torch.addmm(b.reshape(1, k * out), model.x, w.reshape(k * out, -1).T)
            h = h.view(len(model.x), k, out).transpose(0, 1)
        else:
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if i < n_layers - 1:
            h = act(h)
    return stacked_loss(h, model.y, model)


def chunk_size(model: LossModel) -> int:
    """Return how many networks one stacked evaluation holds, within CHUNK_BYTES and CHUNK_WEIGHTS."""
    widest = max(model.sizes[1:])
    by_acts = CHUNK_BYTES // max(1, len(model.x) * widest * model.x.element_size())
    by_weights = CHUNK_WEIGHTS // max(1, n_params(model.sizes))
    return max(1, min(by_acts, by_weights, 4096))


def points_job(model: LossModel, make_flats, count: int, token=None, chunk: int | None = None):
    """A job: evaluate ``count`` networks whose flat weights ``make_flats(start, end)`` returns as a (n, P) float64
    array, chunk by chunk; yields (done, count) after each chunk and returns the losses (count,) as float64,
    or None when ``token`` stopped it (checked before every chunk)."""
    chunk = chunk or chunk_size(model)
    out = np.empty(count)
    with torch.no_grad():
        for start in range(0, count, chunk):
            if token is not None and token.checkpoint():
                return None
            end = min(start + chunk, count)
            flats = torch.from_numpy(np.ascontiguousarray(make_flats(start, end))).to(model.x.device, model.dtype)
            out[start:end] = stacked_losses(model, flats).double().cpu().numpy()
            yield end, count
    return out


def plane_job(model: LossModel, center, d0, d1, a_all, b_all, token=None, chunk: int | None = None):
    """A job like points_job for the networks center + a_all[k]·d0 + b_all[k]·d1 (a plane or a line).

    A layer's output is linear in its weights, so the first layer's, X·W(a, b)ᵀ + b(a, b), is
    Zc + a·Z0 + b·Z1 with Zc, Z0, Z1 computed once for the centre and the two directions: for a wide input
    (MNIST's 784) the per-network cost of the first layer falls from N×inputs×units multiply-adds to N×units.
    Narrow inputs (fewer than GEMM_INPUTS) are evaluated as plain points. Same yields and result as points_job.
    """
    a_all, b_all = np.asarray(a_all, dtype=np.float64), np.asarray(b_all, dtype=np.float64)
    count = len(a_all)

    def make(start: int, end: int) -> np.ndarray:
        """Return the flat weights of points start..end−1."""
        return center + a_all[start:end, None] * d0 + b_all[start:end, None] * d1

    if model.sizes[0] < GEMM_INPUTS:
        return (yield from points_job(model, make, count, token, chunk))
    pw, pb = layout(model.sizes)[:2]

    def layer0(v: np.ndarray) -> torch.Tensor:
        """Return X·Wᵀ + b (N, units) for the first layer of the flat vector v."""
        w = torch.from_numpy(v[pw["offset"] : pw["offset"] + pw["size"]].reshape(pw["shape"])).to(
            model.x.device, model.dtype
        )
        bias = torch.from_numpy(v[pb["offset"] : pb["offset"] + pb["size"]]).to(model.x.device, model.dtype)
        return torch.addmm(bias, model.x, w.T)

    chunk = chunk or chunk_size(model)
    out = np.empty(count)
    with torch.no_grad():
        zc, z0, z1 = layer0(center), layer0(d0), layer0(d1)
        for start in range(0, count, chunk):
            if token is not None and token.checkpoint():
                return None
            end = min(start + chunk, count)
            a = torch.from_numpy(a_all[start:end]).to(model.x.device, model.dtype).view(-1, 1, 1)
            b = torch.from_numpy(b_all[start:end]).to(model.x.device, model.dtype).view(-1, 1, 1)
            first = torch.addcmul(torch.addcmul(zc, a, z0), b, z1)  # (K, N, units)
            flats = torch.from_numpy(np.ascontiguousarray(make(start, end))).to(model.x.device, model.dtype)
            out[start:end] = stacked_losses(model, flats, first).double().cpu().numpy()
            yield end, count
    return out


def evaluate_points(model: LossModel, flats: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """Return the losses of the networks ``flats`` (K, P), evaluated stacked in chunks."""
    flats = np.atleast_2d(np.asarray(flats, dtype=np.float64))
    job = points_job(model, lambda a, b: flats[a:b], len(flats), chunk=chunk)
    while True:
        try:
            next(job)
        except StopIteration as end:
            return end.value


def single_loss(model: LossModel, flat: np.ndarray) -> float:
    """Return the loss of one network (P,) evaluated alone: the per-point reference the benchmarks divide by."""
    with torch.no_grad():
        return float(
            stacked_losses(
                model, torch.from_numpy(np.asarray(flat, dtype=np.float64)[None]).to(model.x.device, model.dtype)
            )
        )


# -- the recorded path ---------------------------------------------------------------------------------------
def trainer_flat(trainer) -> np.ndarray:
    """Return run 0's current weights as one float64 vector in landscape.layout order."""
    backend = trainer.group.backend
    net = getattr(backend, "net", None)
    cached = getattr(net, "_path_row", None)
    if cached is not None and cached[0] is net.flat:  # taken every epoch of a window's run: one gather, no torch
        return cached[1][cached[2]].astype(np.float64, copy=False)
    with torch.no_grad():
        if net is not None and net.flat.device.type == "cpu":
            # a numpy view of run 0's row and the layout's order, made once per flat tensor (torch indexing and
            # the layout's storage offsets took 8 of the 9 µs a recording cost)
            net._path_row = (net.flat, net.flat.detach()[0].numpy(), _layout_order(net))
            return trainer_flat(trainer)
        if net is not None:
            row = net.flat[0].detach().cpu().numpy()
            return row[_layout_order(net)].astype(np.float64, copy=False)
        parts = [t for lin in backend.models[0].linears for t in (lin.weight.reshape(-1), lin.bias)]
        return torch.cat([p.detach().double().cpu() for p in parts]).numpy()


def _layout_order(net) -> np.ndarray:
    """Return the positions in a fused net's flat row of landscape.layout's weights (W0, b0, W1, b1, …)."""
    base = net.flat.storage_offset()
    spans = tuple((t.storage_offset() - base, t[0].numel()) for w, b in zip(net.W, net.B) for t in (w, b))
    return _order_of(spans)


@functools.lru_cache(maxsize=32)
def _order_of(spans: tuple) -> np.ndarray:
    order = np.concatenate([np.arange(start, start + n) for start, n in spans])
    order.flags.writeable = False  # shared by every call with this layout
    return order


class WeightPath:
    """A run's weights after every epoch (epoch 0 first), for the landscape's path; thread-safe.

    When it would hold more than ``max_points`` it keeps every 2nd epoch (then every 4th …), always with the
    start and the newest epoch. ``config`` and ``data`` are the run's, for the loss.
    """

    def __init__(self, config, data, n: int):
        self.config, self.data = config, data
        self.max_points = max(8, min(MAX_PATH_POINTS, MAX_PATH_BYTES // (8 * max(1, n))))
        self.stride = 1
        self._kept: list[tuple[int, np.ndarray]] = []
        self._latest: tuple[int, np.ndarray] | None = None
        self._lock = threading.Lock()

    def record(self, epoch: int, flat: np.ndarray) -> None:
        """Add the weights after ``epoch`` (an epoch already recorded is replaced); returns nothing."""
        with self._lock:
            if self._kept and epoch <= self._kept[-1][0]:
                self._kept = [p for p in self._kept if p[0] < epoch]  # a new run or a replay from an earlier epoch
            self._latest = (epoch, flat)
            if epoch % self.stride == 0:
                self._kept.append((epoch, flat))
            if len(self._kept) > self.max_points:
                self.stride *= 2
                self._kept = [p for p in self._kept if p[0] % self.stride == 0]

    def points(self) -> tuple[list[int], np.ndarray]:
        """Return (epochs, weights (T, P)): the kept epochs and the newest one."""
        with self._lock:
            pts = list(self._kept)
            if self._latest is not None and (not pts or pts[-1][0] != self._latest[0]):
                pts.append(self._latest)
        if not pts:
            return [], np.empty((0, 0))
        return [p[0] for p in pts], np.stack([p[1] for p in pts])

    def newest(self) -> int | None:
        """Return the newest recorded epoch (None: nothing recorded), without copying any weights."""
        with self._lock:
            return None if self._latest is None else self._latest[0]

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept) + (
                self._latest is not None and (not self._kept or self._kept[-1][0] != self._latest[0])
            )


def record_path(trainer) -> None:
    """Record the trainer's current weights in ``trainer.weight_path`` (created on first use; single runs of
    networks up to MAX_RECORDED_PARAMS without batch norm); returns nothing."""
    path = getattr(trainer, "weight_path", None)
    if path is None:
        n = n_params(trainer.config.layers)
        if n > MAX_RECORDED_PARAMS or trainer.config.batchnorm:
            trainer.weight_path = False
            return
        path = trainer.weight_path = WeightPath(trainer.config, trainer.data, n)
    if path is False:
        return
    path.record(trainer.epoch, trainer_flat(trainer))
