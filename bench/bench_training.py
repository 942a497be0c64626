"""Benchmarks: the 5-momentum spiral comparison and one MNIST-sized epoch, against notebook-style loops.

Prints ratios measured in this process (median of several repetitions; every path is warmed up first so
one-time costs such as torch's first optimizer import are not counted). The MNIST-sized part times the
DataLoader loop, the engine and the engine's path before the one-run pass in turn, so that load on a
shared machine falls on all three alike. Run: python bench/bench_training.py [--skip-spiral] [--skip-mnist]
"""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from reference_loops import dataloader_mnist_epoch, notebook_momentum_loop  # noqa: E402
from timing import interleaved  # noqa: E402
from timing import median_time as timed  # noqa: E402

from engine.data.datasets import load_dataset, spiral_arrays  # noqa: E402
from engine.training import fused_single, onednn  # noqa: E402
from engine.training.backends import fused as fused_backend  # noqa: E402
from engine.training.backends import numba_mlp  # noqa: E402
from engine.training.compare import Comparison, run_comparison  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.trainer import RunGroup, Trainer  # noqa: E402

MOMENTA = (0, 0.1, 0.2, 0.4, 0.5)


def spiral(repeats: int, epochs: int) -> dict:
    """Time the seeds' 5-momentum loop against `compare` (batched) and five single runs."""
    x, y = spiral_arrays()
    data = load_dataset("spiral")
    base = replace(TrainConfig(), epochs=epochs, optimizer_params={"lr": 0.1})
    comparison = Comparison(base, [("momentum", [str(m) for m in MOMENTA])])
    ref = timed(lambda: notebook_momentum_loop(x, y, MOMENTA, epochs=epochs), repeats)
    batched = timed(lambda: run_comparison(comparison, data_cache={base.dataset_key(): data}), repeats)
    numba_mlp.ENABLED = False  # the torch fused path, for the kernel's ratio
    torch_fused = timed(lambda: run_comparison(comparison, data_cache={base.dataset_key(): data}), repeats)
    numba_mlp.ENABLED, chosen_from = True, numba_mlp.MIN_STEPS_TO_IMPORT
    numba_mlp.MIN_STEPS_TO_IMPORT = 0  # the numba kernel even where a whole process would not choose it
    kernel = timed(lambda: run_comparison(comparison, data_cache={base.dataset_key(): data}), repeats)
    numba_mlp.MIN_STEPS_TO_IMPORT = chosen_from
    single = timed(lambda: [Trainer(base.with_field("momentum", m), data).run() for m in MOMENTA], repeats)
    path = RunGroup([base.with_field("momentum", m) for m in MOMENTA], data).path
    return {
        "reference_s": ref,
        "compare_s": batched,
        "torch_fused_s": torch_fused,
        "numba_s": kernel,
        "five_single_runs_s": single,
        "path": path,
    }


def _stacked_trainer(cfg, data) -> Trainer:
    """Return a Trainer on the path before the one-run pass: stacked bmm, torch.optim Adam, torch's products."""
    saved = fused_single.ENABLED, fused_backend.FLAT_ADAM
    fused_single.ENABLED = fused_backend.FLAT_ADAM = False
    try:
        return Trainer(cfg, data)
    finally:
        fused_single.ENABLED, fused_backend.FLAT_ADAM = saved


def mnist(repeats: int) -> dict | None:
    """Time one epoch (training, then train/test loss and accuracy) of 784-40-40-40-10 Adam, batch 50, 60k images.

    Three paths in turn: the DataLoader loop, the engine, and the engine's stacked path as it was before
    the one-run pass (fused_single, onednn, FlatAdam), for the before/after ratio in one run.
    """
    try:
        data = load_dataset("fashion-mnist")  # Debian's dataset-fashion-mnist: 60,000 training images
    except Exception as err:  # noqa: BLE001
        print(f"MNIST-sized benchmark skipped: {err}")
        return None
    cfg = TrainConfig(
        dataset="fashion-mnist",
        layers=(784, 40, 40, 40, 10),
        optimizer="adam",
        optimizer_params={"lr": 0.001},
        batch_size=50,
        epochs=1,
    )
    long = replace(cfg, epochs=repeats + 2)
    ours, before = Trainer(long, data), _stacked_trainer(long, data)  # built outside the timing, as the loop's data is
    t = interleaved(
        {
            "reference_s": lambda: dataloader_mnist_epoch(data.x_train, data.y_train, data.x_test, data.y_test),
            "engine_s": ours.run_epoch,
            "before_s": before.run_epoch,
        },
        repeats,
    )
    return {**t, "images": len(data.x_train), "path": ours.path, "before_path": before.path}


def main() -> None:
    """Run the benchmarks and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every path (default 1)")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--skip-spiral", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s), "
        f"torch {torch.__version__}, median of {args.repeats}"
    )
    if not args.skip_spiral:
        s = spiral(args.repeats, args.epochs)
        print(f"spiral 5-momentum x {args.epochs} epochs, batch 20:")
        print(f"  notebook loop (DataLoader)  {s['reference_s']:7.2f} s   1.0x")
        ratio = s["reference_s"] / s["five_single_runs_s"]
        print(f"  five single runs            {s['five_single_runs_s']:7.2f} s  {ratio:5.1f}x")
        print(
            f"  compare, torch fused        {s['torch_fused_s']:7.2f} s  {s['reference_s'] / s['torch_fused_s']:5.1f}x"
        )
        print(f"  compare, numba kernel       {s['numba_s']:7.2f} s  {s['reference_s'] / s['numba_s']:5.1f}x")
        print(f"  compare (batched: {s['path']}) {s['compare_s']:7.2f} s  {s['reference_s'] / s['compare_s']:5.1f}x")
    if not args.skip_mnist:
        m = mnist(args.repeats)
        if m:
            ref = m["reference_s"]
            print(f"MNIST-sized epoch ({m['images']} images, 784-40-40-40-10 Adam, batch 50), paths taken in turn:")
            print(f"  DataLoader loop                       {ref:7.2f} s   1.0x")
            print(f"  engine before ({m['before_path']}) {m['before_s']:7.2f} s  {ref / m['before_s']:5.1f}x")
            onednn_note = "oneDNN for large products" if onednn.usable() else "no oneDNN in this torch"
            print(f"  engine ({m['path']}, {onednn_note})  {m['engine_s']:7.2f} s  {ref / m['engine_s']:5.1f}x")


if __name__ == "__main__":
    main()
