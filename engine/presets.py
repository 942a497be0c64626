"""Comparison presets that reproduce the seed notebooks' experiments: each owns its base configuration."""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    "Momentum 0 / 0.1 / 0.2 / 0.4 / 0.5 on the spiral (the seeds' lab)": {
        "base": {
            "dataset": "spiral",
            "layers": [2, 50, 3],
            "optimizer": "sgd",
            "optimizer_params": {"lr": 0.1},
            "epochs": 100,
            "batch_size": 20,
        },
        "vary": [{"field": "momentum", "values": ["0", "0.1", "0.2", "0.4", "0.5"]}],
    },
    "Five learning-rate schedulers (spiral)": {
        "base": {
            "dataset": "spiral",
            "layers": [2, 50, 3],
            "optimizer": "momentum",
            "optimizer_params": {"lr": 0.05},
            "epochs": 60,
            "batch_size": 20,
        },
        "vary": [{"field": "scheduler", "values": ["step", "exponential", "cyclic", "onecycle", "cosine-restarts"]}],
    },
    "SGD vs Adam vs Adagrad on MNIST": {
        "base": {
            "dataset": "mnist",
            "layers": [784, 40, 40, 40, 10],
            "optimizer": "adam",
            "optimizer_params": {"lr": 0.001},
            "epochs": 10,
            "batch_size": 50,
        },
        "vary": [{"field": "optimizer", "values": ["sgd", "adam", "adagrad"]}],
        # each at its own rate: SGD at Adam's 0.001 crawls (12 % after 10 epochs) and teaches the wrong lesson
        "per_optimizer": {"sgd": {"lr": 0.1}, "adam": {"lr": 0.001}, "adagrad": {"lr": 0.01}},
    },
    "Optimizer × learning rate grid (iris)": {
        "base": {
            "dataset": "iris",
            "layers": [4, 16, 3],
            "optimizer": "sgd",
            "optimizer_params": {"lr": 0.1},
            "epochs": 40,
            "batch_size": 16,
        },
        "vary": [
            {"field": "optimizer", "values": ["sgd", "adagrad", "rmsprop", "adam", "adamax", "nadam"]},
            {"field": "lr", "values": ["0.1", "0.01", "0.001"]},
        ],
    },
}


def preset_spec(name: str) -> dict:
    """Return the comparison spec (base, vary, seeds, target_acc, per_optimizer) of preset ``name`` as a dict."""
    p = PRESETS[name]
    per_optimizer = {oid: dict(params) for oid, params in p.get("per_optimizer", {}).items()}
    return {
        "base": dict(p["base"]),
        "vary": [dict(v) for v in p["vary"]],
        "seeds": [],
        "target_acc": 0.9,
        "per_optimizer": per_optimizer,
    }
