"""The one-run fused pass (fused_single.py), oneDNN products (onednn.py) and FlatAdam against the paths before them.

float64 networks must agree with the stacked path to 1e-9 over whole runs. float32 ones agree to float32
rounding per step; over many Adam steps float32 rounding differences can grow (a gradient at rounding
level changes sign, and Adam turns it into a full step), so whole float32 runs are compared over a few
epochs only.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.data.datasets import Dataset, load_dataset
from engine.optimizers import build_optimizer
from engine.training import fused_single, onednn
from engine.training.backends import fused as fused_backend
from engine.training.config import TrainConfig
from engine.training.fused import FusedMLP
from engine.training.model import MLP, initialise
from engine.training.trainer import RunGroup, Trainer

SPIRAL = load_dataset("spiral", points=60)
SMALL = replace(TrainConfig(), points=60, epochs=3)
DIGITS = load_dataset("digits")
# 64 x 200 inputs x units: float32; 100 rows x 12,800 weights is above onednn.MIN_WORK, so oneDNN runs
DIGITS_CFG = TrainConfig(
    dataset="digits", layers=(64, 200, 40, 10), optimizer="adam", optimizer_params={"lr": 0.002}, batch_size=100
)


def history(t) -> list[tuple]:
    """Return every epoch's measured numbers (a data set without a test split has None there)."""
    return [
        tuple(v for v in (r.train_loss, r.test_loss, r.train_acc, r.test_acc, r.grad_norm) if v is not None)
        for r in t.history
    ]


def trainer(cfg, data, monkeypatch, single=True, dnn=True, flat_adam=True) -> Trainer:
    monkeypatch.setattr(fused_single, "ENABLED", single)
    monkeypatch.setattr(onednn, "ENABLED", dnn)
    monkeypatch.setattr(fused_backend, "FLAT_ADAM", flat_adam)
    return Trainer(cfg, data)


def nets(layers, activation, dtype, l1=0.0, l2=0.0):
    """Return (one-run net, the same weights on the stacked path)."""
    m = MLP(list(layers), activation)
    initialise(m, "default", torch.Generator().manual_seed(3))
    args = (
        [[lin.weight.detach().to(dtype)] for lin in m.linears],
        [[lin.bias.detach().to(dtype)] for lin in m.linears],
        activation,
        torch.device("cpu"),
        [l1],
        [l2],
    )
    single = FusedMLP(*args, dtype=dtype)
    fused_single.ENABLED = False
    try:
        stacked = FusedMLP(*args, dtype=dtype)
    finally:
        fused_single.ENABLED = True
    assert single.single is not None and stacked.single is None
    return single, stacked


@pytest.mark.parametrize("activation", ["relu", "leaky-relu", "tanh", "sigmoid"])
def test_one_run_gradients_equal_the_stacked_path_in_float64(activation):
    single, stacked = nets((5, 9, 7, 4), activation, torch.float64, l1=1e-3, l2=1e-2)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(33, 5, generator=g, dtype=torch.float64), torch.randint(0, 4, (33,), generator=g)
    for net in (single, stacked):
        loss, right = net.backward(x, y)
    expect_loss, expect_right = stacked.backward(x, y)
    got_loss, got_right = single.backward(x, y)
    assert float(got_loss[0]) == pytest.approx(float(expect_loss[0]), rel=1e-13)
    assert int(got_right[0]) == int(expect_right[0])
    torch.testing.assert_close(single.gflat, stacked.gflat, rtol=1e-12, atol=1e-14)
    assert float(single.gflat.abs().max()) > 0.01  # a real gradient, not zeros on both sides
    # in row chunks (gradient accumulation), as a slow batch is computed
    single.backward(x[:20], y[:20], want_loss=False, rows=33, penalties=False)
    single.backward(x[20:], y[20:], want_loss=False, rows=33, accumulate=True)
    torch.testing.assert_close(single.gflat, stacked.gflat, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(single.logits(x), stacked.logits(x), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("dnn", [True, False], ids=["onednn", "torch-products"])
def test_one_run_float32_gradients_match_the_stacked_path(dnn, monkeypatch):
    monkeypatch.setattr(onednn, "ENABLED", dnn)
    single, stacked = nets((784, 40, 40, 10), "relu", torch.float32)
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(64, 784, generator=g), torch.randint(0, 10, (64,), generator=g)
    single.backward(x, y, want_loss=False)
    stacked.backward(x, y, want_loss=False)
    torch.testing.assert_close(single.gflat, stacked.gflat, rtol=1e-4, atol=1e-6)
    assert float(stacked.gflat.abs().max()) > 1e-3


def test_onednn_products_match_torch():
    if not onednn.usable():
        pytest.skip("this torch build has no oneDNN linear operator")
    g = torch.Generator().manual_seed(2)
    x, w, b = torch.randn(300, 784, generator=g), torch.randn(40, 784, generator=g), torch.randn(40, generator=g)
    assert onednn.big(len(x), w)
    torch.testing.assert_close(onednn.linear(x, w, b), torch.addmm(b, x, w.t()), rtol=1e-5, atol=1e-4)
    dz = torch.randn(300, 40, generator=g)
    out = torch.full((40, 784), float("nan"))
    onednn.grad_weight_t(dz.t(), x.t(), out)
    torch.testing.assert_close(out, dz.t() @ x, rtol=1e-5, atol=1e-4)
    onednn.grad_weight_t(dz.t(), x.t(), out, accumulate=True)
    torch.testing.assert_close(out, 2 * (dz.t() @ x), rtol=1e-5, atol=1e-4)
    # float64, autograd tensors and small products stay on torch's own products, exactly
    x64, w64 = x.double(), w.double()
    assert torch.equal(onednn.linear(x64, w64), x64 @ w64.t())
    assert not onednn.usable_for(x.clone().requires_grad_())
    # NaN weights give NaN outputs (a diverged run stays visible)
    w[3, 5] = float("nan")
    assert bool(onednn.linear(x, w, b)[:, 3].isnan().all())


def test_one_run_training_equals_the_stacked_path_in_float64(monkeypatch):
    for opt in ("adam", "sgd", "rmsprop"):
        cfg = replace(SMALL, optimizer=opt, optimizer_params={"lr": 0.05}, l2=1e-3)
        a = trainer(cfg, SPIRAL, monkeypatch, single=True)
        b = trainer(cfg, SPIRAL, monkeypatch, single=False, flat_adam=False)
        assert "numba" not in a.path and (a.path != b.path or opt != "adam")
        a.run(), b.run()
        for ra, rb in zip(history(a), history(b)):
            assert ra == pytest.approx(rb, rel=1e-9, abs=1e-12)
        assert history(a)[-1][0] < history(a)[0][0]  # it learned


def test_one_run_float32_training_with_onednn_matches_the_path_before(monkeypatch):
    cfg = replace(DIGITS_CFG, epochs=2)
    calls = []
    if onednn.usable():  # count the weight gradients that go through oneDNN
        real = onednn.grad_weight_t
        monkeypatch.setattr(onednn, "grad_weight_t", lambda *a, **k: calls.append(1) or real(*a, **k))
    now = trainer(cfg, DIGITS, monkeypatch)
    assert now.group.backend.net.dtype == torch.float32 and now.path == "fused, fused Adam"
    now.run()  # before the flags change for the path before
    # at least the first layer's gradient in 14 of an epoch's 15 batches (the last has 38 rows, too few)
    assert len(calls) >= (2 * 14 if onednn.usable() else 0)
    before = trainer(cfg, DIGITS, monkeypatch, single=False, dnn=False, flat_adam=False)
    assert before.path == "fused, per-run torch.optim"
    before.run()
    for ra, rb in zip(history(now), history(before)):
        assert ra == pytest.approx(rb, rel=2e-4, abs=1e-5)
    assert now.history[-1].test_acc > 0.8  # it learned


@pytest.mark.parametrize(
    "opt, params",
    [
        ("adam", {"lr": 0.01, "weight_decay": 0.01, "beta1": 0.8}),
        ("amsgrad", {"lr": 0.02, "eps": 1e-6}),
        ("adamw", {"lr": 0.01, "weight_decay": 0.1, "beta2": 0.99}),
    ],
)
def test_flat_adam_steps_exactly_as_torch_optim(opt, params, monkeypatch):
    """FlatAdam against torch.optim over the same gradients: the same kernel, so bitwise equal weights."""
    base = replace(SMALL, optimizer=opt, optimizer_params=params, scheduler="exponential")
    cfgs = [base, base.with_field("lr", params["lr"] / 3)]
    flat = RunGroup(cfgs, SPIRAL)
    monkeypatch.setattr(fused_backend, "FLAT_ADAM", False)
    ref = RunGroup(cfgs, SPIRAL)
    assert flat.path == "fused, fused Adam" and ref.path == "fused, per-run torch.optim"
    flat.run(), ref.run()
    assert torch.equal(flat.backend.net.flat, ref.backend.net.flat)
    assert [h[-1].lr for h in flat.histories] == [h[-1].lr for h in ref.histories]
    assert flat.histories[0][-1].lr < params["lr"]  # the scheduler drove FlatAdam's rates
    # and the same weights as a plain torch.optim loop over one nn.Module's parameters, in float64
    m = MLP(list(base.layers))
    initialise(m, "default", torch.Generator().manual_seed(base.seed))
    m = m.double()
    optim = build_optimizer(opt, m.parameters(), params)
    sched = torch.optim.lr_scheduler.ExponentialLR(optim, gamma=0.95)  # the registry's default gamma
    g = torch.Generator().manual_seed(base.seed)
    x, y = SPIRAL.x_train.double(), SPIRAL.y_train
    for _ in range(base.epochs):
        order = torch.randperm(len(x), generator=g)
        for b in range(0, len(x), base.batch_size):
            idx = order[b : b + base.batch_size]
            optim.zero_grad()
            torch.nn.functional.cross_entropy(m.logits(x[idx]), y[idx]).backward()
            optim.step()
        sched.step()
    with torch.no_grad():
        expected = float(torch.nn.functional.cross_entropy(m.logits(x), y))
    assert flat.histories[0][-1].train_loss == pytest.approx(expected, rel=1e-9)


def test_adam_training_does_not_import_dynamo():
    """FlatAdam builds no torch.optim optimizer, whose first construction imports torch._dynamo (about 1 s)."""
    code = (
        "import sys\n"
        "from dataclasses import replace\n"
        "from engine.training.config import TrainConfig\n"
        "from engine.training.trainer import Trainer\n"
        "t = Trainer(replace(TrainConfig(), points=20, epochs=2, optimizer='adamw'))\n"
        "t.run()\n"
        "print(t.path, 'torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-4:] == ["fused,", "fused", "Adam", "False"]


def test_a_nan_input_on_the_onednn_path_is_divergence_at_epoch_0():
    """NaN reaching a relu after a oneDNN product stays NaN (oneDNN's own relu would make it 0): a result."""
    x = DIGITS.x_train.clone()
    x[5, 20] = float("nan")  # a data set built in code can hold anything: the loaders refuse this
    data = Dataset("nan", x, DIGITS.y_train, DIGITS.x_test, DIGITS.y_test, 10)
    t = Trainer(replace(DIGITS_CFG, epochs=2), data)
    t.run()
    assert t.diverged_at == 0 and t.epoch == 0 and len(t.history) == 1
    assert math.isnan(t.history[0].train_loss)
