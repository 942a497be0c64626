"""One run's pass through a FusedMLP (R = 1): 2-D matrix products into reused buffers, few torch calls.

The stacked path spends most of a small batch on per-call overhead: a bmm and its views per layer, fresh
activation tensors, a transpose and an unsqueeze per product. With one run the same maths is one addmm
per layer written into a buffer kept for the batch size, the activation applied in place (its derivative
is computed from the activation's output, so the pre-activation is not kept), and the gradients written
straight into the flat gradient buffer's 2-D views. The output layer is computed transposed, (outputs,
rows): torch's softmax over a short last dimension costs 7 us on a 50x10 batch, over the first 1.5 us.
Large float32 products (the first layer of an MNIST-sized network, evaluation chunks) go through oneDNN
(onednn.py). The arithmetic is fused.py's stacked pass up to rounding (tests compare them: float64 to
1e-12, float32 to float32 rounding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.training import onednn

ENABLED = True  # False: one run takes the stacked path too (tests compare the two)
MAX_SIZES = 4  # batch sizes whose buffers are kept (the batch, the epoch's last batch, a metrics chunk, ...)


def _act_(name: str, z: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return z.relu_()
    if name == "leaky-relu":
        return F.leaky_relu_(z, 0.01)
    if name == "tanh":
        return z.tanh_()
    return z.sigmoid_()


def act_grad(name: str, a: torch.Tensor, da: torch.Tensor) -> torch.Tensor:
    """Return dL/dz from dL/da and the activation's output a (a > 0 exactly where z > 0 for the relus)."""
    if name == "relu":
        return torch.ops.aten.threshold_backward(da, a, 0)
    if name == "leaky-relu":
        return torch.where(a > 0, da, da * 0.01)
    if name == "tanh":
        return da * (1 - a * a)
    return da * (a * (1 - a))


class _Rows:
    """Buffers and kernel choices for batches of one row count."""

    def __init__(self, single: SinglePass, n: int, like: torch.Tensor):
        kw = {"dtype": like.dtype, "device": like.device}
        dnn = onednn.usable_for(like)
        # per hidden layer: oneDNN (a new tensor each call: it writes no given output) or addmm into a buffer
        self.dnn = [dnn and onednn.big(n, w) for w in single.W]
        self.hidden = [None if d else torch.empty(n, w.shape[0], **kw) for d, w in zip(self.dnn, single.W[:-1])]
        self.hidden_t = [None if h is None else h.t() for h in self.hidden]
        self.out_t = torch.empty(single.W[-1].shape[0], n, **kw)
        self.minus_one = torch.full((1, n), -1.0, **kw)
        # the mean's divisor per row count, as a 0-d tensor (a Python number is made a tensor on every call)
        self.divisors: dict[int, torch.Tensor] = {}


class SinglePass:
    """Forward and backward for a FusedMLP of one run; ``net`` keeps the weights and the flat gradient."""

    def __init__(self, net):
        self.activation = net.activation
        self.W = [w[0] for w in net.W]
        self.Wt = [w.t() for w in self.W]  # views of the flat weights: valid for the net's whole life
        self.B = [b[0] for b in net.B]
        self.gW = [g[0] for g in net.gW]
        self.gB = [g[0] for g in net.gB]
        self.b_last = self.B[-1].view(-1, 1)  # the output bias as a column, for the transposed output layer
        self._rows: dict[int, _Rows] = {}

    def _plan(self, n: int, like: torch.Tensor) -> _Rows:
        plan = self._rows.get(n)
        if plan is None:
            if len(self._rows) >= MAX_SIZES:
                self._rows.clear()
            plan = self._rows[n] = _Rows(self, n, like)
        return plan

    def _hidden(self, x: torch.Tensor, plan: _Rows | None) -> tuple[list[torch.Tensor], list]:
        """Return ([x, a1, a2, ...], their transposes where kept, else None): the input and every hidden
        layer's activation."""
        hs, hts = [x], [None]
        for i, (wt, b) in enumerate(zip(self.Wt[:-1], self.B[:-1])):
            if plan is None or plan.dnn[i]:
                hs.append(_act_(self.activation, onednn.linear(hs[-1], self.W[i], b)))
                hts.append(None)
            else:
                torch.addmm(b, hs[-1], wt, out=plan.hidden[i])
                hs.append(_act_(self.activation, plan.hidden[i]))
                hts.append(plan.hidden_t[i])
        return hs, hts

    def _output_t(self, h: torch.Tensor, h_t: torch.Tensor | None, plan: _Rows | None) -> torch.Tensor:
        """Return the output layer's logits transposed, (outputs, rows)."""
        if plan is None or plan.dnn[-1]:
            return onednn.linear(h, self.W[-1], self.B[-1]).t()
        return torch.addmm(self.b_last, self.W[-1], h.t() if h_t is None else h_t, out=plan.out_t)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits (len(x), outputs) in a fresh tensor."""
        return onednn.linear(self._hidden(x, None)[0][-1], self.W[-1], self.B[-1])

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (summed cross-entropy, number of correct predictions) over (x, y), as 0-d tensors."""
        hs, hts = self._hidden(x, None)
        z = self._output_t(hs[-1], hts[-1], None)
        return -torch.log_softmax(z, dim=0).gather(0, y.view(1, -1)).sum(), (z.argmax(dim=0) == y).sum()

    def backward(self, x: torch.Tensor, y: torch.Tensor, want_loss: bool, rows: int, accumulate: bool):
        """Write (or with ``accumulate`` add) d(mean data loss over ``rows`` rows)/d(params) to the gradients.

        Returns ((loss,), (correct,)) as 1-element tensors when ``want_loss``, else None.
        """
        plan = self._plan(x.shape[0], x)
        hs, hts = self._hidden(x, plan)
        z, row = self._output_t(hs[-1], hts[-1], plan), y.view(1, -1)
        if want_loss:
            logp = torch.log_softmax(z, dim=0)
            losses = (-logp.gather(0, row).mean().view(1), (z.argmax(dim=0) == y).sum().view(1))
            dz_t = logp.exp()
        else:
            losses = None
            dz_t = torch.softmax(z, dim=0)
        dz_t.scatter_add_(0, row, plan.minus_one)
        divisor = plan.divisors.get(rows)
        if divisor is None:
            divisor = plan.divisors[rows] = torch.tensor(float(rows), dtype=x.dtype, device=x.device)
        dz_t.div_(divisor)
        # dz_t is dL/dz as (units, rows): the output layer's is contiguous so; below it dz is computed as
        # (rows, units), for the elementwise work to run on contiguous tensors, and dz_t is its transpose
        dz = None
        for i in range(len(self.W) - 1, -1, -1):
            if plan.dnn[i]:
                onednn.grad_weight_t(dz_t, hs[i].t() if hts[i] is None else hts[i], self.gW[i], accumulate)
            elif accumulate:
                self.gW[i].addmm_(dz_t, hs[i])
            else:
                torch.mm(dz_t, hs[i], out=self.gW[i])
            if accumulate:
                self.gB[i].add_(dz_t.sum(dim=1))
            else:
                torch.sum(dz_t, dim=1, out=self.gB[i])
            if i:
                dz = act_grad(self.activation, hs[i], torch.mm(dz_t.t() if dz is None else dz, self.W[i]))
                dz_t = dz.t()
        return losses
