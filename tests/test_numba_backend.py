"""The numba backend (engine/training/backends/numba_mlp.py) against the torch fused path it replaces."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest
import torch

from engine.data.datasets import load_dataset
from engine.training.backends import numba_mlp
from engine.training.config import TrainConfig
from engine.training.trainer import RunGroup

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")
SPIRAL = load_dataset("spiral", points=60)


def trained(configs, enabled: bool, monkeypatch) -> RunGroup:
    """Return a RunGroup of ``configs`` trained to the end, with the numba backend allowed or not."""
    monkeypatch.setattr(numba_mlp, "ENABLED", enabled)
    monkeypatch.setattr(numba_mlp, "MIN_STEPS_TO_IMPORT", 0)
    group = RunGroup(configs, SPIRAL)
    group.run()
    return group


def assert_same(a: RunGroup, b: RunGroup, tol=1e-9):
    for ha, hb in zip(a.histories, b.histories):
        assert len(ha) == len(hb)
        for x, y in zip(ha, hb):
            assert x.train_loss == pytest.approx(y.train_loss, rel=0, abs=tol)
            assert x.train_acc == y.train_acc and x.lr == y.lr
            assert x.grad_norm == pytest.approx(y.grad_norm, rel=0, abs=tol)
    assert torch.allclose(a.backend.net.flat, b.backend.net.flat, rtol=0, atol=tol)


@pytest.mark.parametrize(
    "activation, optimizer, params, scheduler",
    [
        ("relu", "momentum", {"lr": 0.1}, "none"),
        ("tanh", "nesterov", {"lr": 0.05, "weight_decay": 0.01}, "cyclic"),
        ("leaky-relu", "sgd", {"lr": 0.1, "momentum": 0.5, "dampening": 0.2, "weight_decay": 0.001}, "onecycle"),
        ("sigmoid", "sgd", {"lr": 0.5}, "step"),
    ],
)
def test_same_results_as_the_torch_fused_path(activation, optimizer, params, scheduler, monkeypatch):
    base = TrainConfig(
        points=60,
        layers=(2, 16, 8, 3),
        activation=activation,
        optimizer=optimizer,
        optimizer_params=params,
        scheduler=scheduler,
        batch_size=16,
        epochs=15,
    )
    configs = [base, replace(base, optimizer_params={**params, "lr": params["lr"] / 2})]
    numba_group = trained(configs, True, monkeypatch)
    torch_group = trained(configs, False, monkeypatch)
    assert numba_group.path == "fused, numba kernel"
    assert torch_group.path == "fused, vectorized SGD"
    assert_same(numba_group, torch_group)
    assert numba_group.histories[0][-1].train_loss < numba_group.histories[0][0].train_loss  # it learned


def test_the_spiral_comparison_matches(monkeypatch):
    base = replace(TrainConfig(), points=60, epochs=10, optimizer_params={"lr": 0.1})
    configs = [base.with_field("momentum", m) for m in (0, 0.5, 0.9)]
    assert_same(trained(configs, True, monkeypatch), trained(configs, False, monkeypatch))


def test_measurements_on_a_test_set_in_chunks_and_a_diverging_run_match(monkeypatch):
    data = load_dataset("spiral", points=60, test_fraction=0.3)
    base = replace(TrainConfig(), points=60, test_fraction=0.3, epochs=6, optimizer_params={"lr": 0.1})
    # weight decay 1 at rate 10 multiplies the weights by -9 a step: the second run overflows
    configs = [base.with_field("momentum", "0.5"), replace(base, optimizer_params={"lr": 10.0, "weight_decay": 1.0})]
    monkeypatch.setattr(numba_mlp, "MIN_STEPS_TO_IMPORT", 0)
    monkeypatch.setattr(numba_mlp, "METRIC_ROWS", 50)  # 126 training rows: three compiled calls a measurement
    groups = []
    for enabled in (True, False):
        monkeypatch.setattr(numba_mlp, "ENABLED", enabled)
        groups.append(RunGroup(configs, data))
        groups[-1].run()
    kernel, reference = groups
    assert kernel.path == "fused, numba kernel"
    assert kernel.diverged_at == reference.diverged_at and kernel.diverged_at[1] is not None
    for x, y in zip(kernel.histories[0], reference.histories[0]):
        assert x.test_loss == pytest.approx(y.test_loss, rel=0, abs=1e-9)
        assert x.test_acc == y.test_acc and x.train_acc == y.train_acc
        assert x.grad_norm == pytest.approx(y.grad_norm, rel=0, abs=1e-9)


def test_where_it_applies(monkeypatch):
    monkeypatch.setattr(numba_mlp, "ENABLED", True)
    small = TrainConfig(points=60, layers=(2, 50, 3), epochs=300)
    assert numba_mlp.applies([small], 3, "cpu", 75)  # 22,500 batch steps repay importing numba
    assert numba_mlp.applies([replace(small, epochs=100)], 3, "cpu", 75)  # the spiral comparison's 7,500 too
    assert not numba_mlp.applies([replace(small, epochs=60)], 3, "cpu", 75)  # 4,500 do not
    assert not numba_mlp.applies([replace(small, optimizer="adam")], 3, "cpu", 75)  # not the SGD family
    assert not numba_mlp.applies([replace(small, l2=0.01)], 3, "cpu", 75)
    assert not numba_mlp.applies([replace(small, layers=(784, 40, 10))], 10, "cpu", 75)  # float32 on the fused path
    assert not numba_mlp.applies([small], 3, "cuda", 75)
    monkeypatch.setattr(numba_mlp, "ENABLED", False)
    assert not numba_mlp.applies([small], 3, "cpu", 75)


def test_runs_trained_and_measured_on_several_threads_give_the_same_numbers(monkeypatch):
    from engine.training.backends import spread

    base = replace(TrainConfig(), points=60, epochs=4, optimizer_params={"lr": 0.1})
    configs = [base.with_field("momentum", m) for m in ("0", "0.3", "0.6", "0.9")]
    groups = []
    for threads in (1, 3):
        monkeypatch.setattr(spread, "THREADS", threads)
        groups.append(trained(configs, True, monkeypatch))
    one, shared = groups
    assert one.backend.threads == 1 and shared.backend.threads == 3
    assert_same(shared, one, tol=0.0)  # every run is trained and measured whole by one thread, wherever it runs


@pytest.mark.parametrize("activation", ["relu", "leaky-relu", "tanh", "sigmoid"])
def test_a_not_a_number_input_is_divergence_at_epoch_0_as_on_torch(activation, monkeypatch):
    from engine.data.datasets import Dataset

    x = SPIRAL.x_train.clone()
    x[5, 0] = float("nan")  # relu(NaN) must stay NaN: a kernel that made it 0 would hide the divergence
    data = Dataset("nan", x, SPIRAL.y_train, SPIRAL.x_test, SPIRAL.y_test, SPIRAL.n_classes)
    cfg = replace(TrainConfig(), points=60, epochs=3, activation=activation)
    monkeypatch.setattr(numba_mlp, "MIN_STEPS_TO_IMPORT", 0)
    groups = []
    for enabled in (True, False):
        monkeypatch.setattr(numba_mlp, "ENABLED", enabled)
        groups.append(RunGroup([cfg, cfg.with_field("lr", "0.05")], data))
        groups[-1].run()
    kernel, reference = groups
    assert kernel.path == "fused, numba kernel" and reference.path == "fused, vectorized SGD"
    assert kernel.diverged_at == reference.diverged_at == [0, 0]


def test_an_epoch_trains_in_stretches_that_stop_and_resume_to_the_same_numbers(monkeypatch):
    from engine.jobs import run_job

    base = replace(TrainConfig(), points=60, epochs=4, optimizer_params={"lr": 0.1})
    configs = [base.with_field("momentum", m) for m in ("0", "0.9")]
    reference = trained(configs, False, monkeypatch)  # torch, batch by batch
    monkeypatch.setattr(numba_mlp, "ENABLED", True)  # trained() left the import threshold at 0
    group = RunGroup(configs, SPIRAL)
    yields = list(group.iter_epoch())
    assert group.path == "fused, numba kernel" and yields == [group.batches_per_epoch]  # one stretch, one yield
    monkeypatch.setattr(numba_mlp, "SPAN_WORK", 1)  # one batch a stretch: a stop can land between any two

    class StopEvery:
        calls = 0

        def checkpoint(self):
            self.calls += 1
            return self.calls % 3 == 0

    token = StopEvery()
    while not group.finished:
        run_job(group.iter_epoch(token))
    assert_same(group, reference)


def test_the_reported_rate_counts_every_batch_of_a_stretch(monkeypatch):
    import time

    from engine.jobs import Token
    from engine.training.jobs import train_job
    from engine.training.trainer import Trainer

    monkeypatch.setattr(numba_mlp, "MIN_STEPS_TO_IMPORT", 0)
    trainer = Trainer(replace(TrainConfig(), points=200, epochs=3000, optimizer_params={"lr": 0.1}), None)
    assert trainer.path == "fused, numba kernel"
    started = time.perf_counter()
    rates = [s.samples_per_s for s in train_job(trainer, Token()) if s.samples_per_s > 0]
    elapsed = time.perf_counter() - started
    actual = 3000 * len(trainer.data.x_train) / elapsed
    assert rates and max(rates) > actual / 3  # counted per batch, not per yield: a stretch is a whole epoch
    assert max(rates) < actual * 20
