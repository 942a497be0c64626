"""Runs of SGD, momentum and Nesterov trained side by side equal each run trained alone, on every batched path.

A group that holds any Nesterov run once stepped every run on g + momentum·buf with the other runs' factor 0,
so momentum runs raced beside Nesterov silently trained as plain SGD (a user trial found it).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest
import torch

from engine.data.datasets import load_dataset
from engine.training.backends import numba_lanes, numba_mlp
from engine.training.config import TrainConfig
from engine.training.trainer import RunGroup

SPIRAL = load_dataset("spiral", points=60)
BASE = replace(TrainConfig(), points=60, epochs=3)
SETTINGS = [
    ("sgd", {"lr": 0.1}),
    ("momentum", {"lr": 0.1, "momentum": 0.9}),
    ("nesterov", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.5, "dampening": 0.3}),
    ("sgd", {"lr": 0.05, "momentum": 0.5, "nesterov": True}),
]
CONFIGS = [replace(BASE, optimizer=o, optimizer_params=p).validated() for o, p in SETTINGS]
HAS_NUMBA = importlib.util.find_spec("numba") is not None


def _trained(configs, path: str, monkeypatch) -> RunGroup:
    monkeypatch.setattr(numba_mlp, "ENABLED", path == "numba")
    monkeypatch.setattr(numba_mlp, "MIN_STEPS_TO_IMPORT", 0)
    monkeypatch.setattr(numba_lanes, "ENABLED", path == "lanes")
    monkeypatch.setattr(numba_lanes, "MIN_RUNS", 1)
    monkeypatch.setattr(numba_lanes, "MIN_RUN_STEPS", 0)
    group = RunGroup(configs, SPIRAL)
    group.run()
    return group


@pytest.mark.parametrize("path", ["torch", "numba", "lanes"])
def test_each_run_of_a_mixed_group_trains_as_it_would_alone(path, monkeypatch):
    if path != "torch" and not HAS_NUMBA:
        pytest.skip("numba is not installed")
    group = _trained(CONFIGS, path, monkeypatch)
    assert ("lanes" in group.backend.path) == (path == "lanes")
    assert ("numba kernel" in group.backend.path and "lanes" not in group.backend.path) == (path == "numba")
    for r, config in enumerate(CONFIGS):
        alone = _trained([config], "torch", monkeypatch)
        got = [rec.train_loss for rec in group.histories[r]]
        want = [rec.train_loss for rec in alone.histories[0]]
        assert got == pytest.approx(want, rel=0, abs=1e-9), SETTINGS[r]
        for a, b in zip(group.weights(r)["layers"], alone.weights(0)["layers"]):
            for key in ("weight", "bias"):
                assert torch.allclose(torch.as_tensor(a[key]), torch.as_tensor(b[key]), rtol=0, atol=1e-9)


def test_momentum_beside_nesterov_is_not_plain_sgd(monkeypatch):
    group = _trained(CONFIGS[:3], "torch", monkeypatch)
    sgd, momentum = group.histories[0][-1].train_loss, group.histories[1][-1].train_loss
    assert abs(sgd - momentum) > 1e-3  # the bug made them equal to the last digit
