"""Loss-landscape grids: stacked evaluation against evaluating the grid's networks one by one in a loop.

Run: ``python bench/bench_landscape.py [--cuda]``. Targets (issue 12): a 41×41 grid for the spiral net
(2-50-3, 1500 points) under 0.5 s on CPU; a 21×21 grid for 784-40-40-40-10 on 2048 MNIST-sized rows under 3 s.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import median_time  # noqa: E402
from engine.data.datasets import Dataset  # noqa: E402
from engine.jobs import run_job  # noqa: E402
from engine.training.backends.autograd import data_loss  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.landscape import n_params  # noqa: E402
from engine.training.landscape_eval import loss_model, single_loss  # noqa: E402
from engine.training.landscape_job import landscape_job  # noqa: E402
from engine.training.model import MLP  # noqa: E402


def _case(name: str, cfg: TrainConfig, data: Dataset, grid: int, device: str) -> None:
    model = loss_model(cfg, data, device=device)
    rng = np.random.default_rng(0)
    p = n_params(cfg.layers)
    path = rng.standard_normal((2, p)) * 0.1
    job = lambda: run_job(landscape_job(model, [0, 1], path, "random", grid=grid))  # noqa: E731
    stacked = median_time(job, 3)
    center = path[-1]
    d = rng.standard_normal((2, p)) * 0.1
    alphas = np.linspace(-1, 1, grid)
    flats = [center + a * d[0] + b * d[1] for b in alphas for a in alphas]
    sample = flats[:: max(1, len(flats) // 200)]  # time a sample of the loops and scale them up
    one = median_time(lambda: [single_loss(model, f) for f in sample], 1) / len(sample) * len(flats)
    net = MLP(list(cfg.layers), cfg.activation).to(model.x.device, model.dtype)
    params = list(net.parameters())  # weight, bias per layer: the flat layout's order

    def module_loop():
        """One nn.Module per point, its weights copied in (as tools on saved checkpoints do)."""
        with torch.no_grad():
            for f in sample:
                t = torch.from_numpy(f).to(model.x.device, model.dtype)
                offset = 0
                for p_ in params:
                    p_.copy_(t[offset : offset + p_.numel()].view_as(p_))
                    offset += p_.numel()
                data_loss(net.logits(model.x), model.y, cfg.loss, cfg.output_activation, data.n_classes).item()

    loop = median_time(module_loop, 1) / len(sample) * len(flats)
    print(
        f"{name:32s} {device:4s} grid {grid}x{grid}: stacked {stacked:.3f} s (whole job: grid, path, line); "
        f"one nn.Module per point {loop:.3f} s ({loop / stacked:.1f}x); the stacked code one point at a time "
        f"{one:.3f} s ({one / stacked:.1f}x); loops estimated from {len(sample)} points"
    )


def main() -> None:
    """Print the timings; returns nothing."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cuda", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the window's jobs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if args.cuda and torch.cuda.is_available() else [])
    spiral_cfg = TrainConfig(layers=(2, 50, 3))
    spiral = spiral_cfg.load_data()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2048, 784, generator=g)
    y = torch.randint(0, 10, (2048,), generator=g)
    mnist = Dataset("mnist-sized", x, y, x[:0], y[:0], 10)
    mnist_cfg = TrainConfig(dataset="mnist", layers=(784, 40, 40, 40, 10))
    for dev in devices:
        _case(f"spiral 2-50-3, {len(spiral.x_train)} rows", spiral_cfg, spiral, 41, dev)
        _case("784-40-40-40-10, 2048 rows", mnist_cfg, mnist, 21, dev)


if __name__ == "__main__":
    main()
