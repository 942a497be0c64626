"""Benchmark: a 20×20 lr × momentum convergence map of the spiral set-up (2-50-3, batch 20, 20 epochs).

The whole map trains as one batch (400 stacked runs); its time is reported as a ratio against one single
run of the same set-up, both measured in this process (medians of alternating repetitions, after a warm-up).
The map runs on the numba lanes kernel where numba is installed, its tiles shared out over every core this
process may use, and again on one core, and on the torch fused path for comparison (``--no-torch`` skips
that). The single run is what the app runs for one cell alone (one thread).
Also times a learning-rate sweep (4 optimizers × 13 rates) the same way. Run: python bench/bench_map.py
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from timing import interleaved  # noqa: E402
from timing import median_time as timed  # noqa: E402

from engine.map_grid import Axis  # noqa: E402
from engine.threads import available_cores  # noqa: E402
from engine.training.backends import numba_lanes, spread  # noqa: E402
from engine.training.compare import Comparison, run_comparison  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.convergence_map import training_map  # noqa: E402
from engine.training.tuning import tune  # noqa: E402
from engine.tuning import TuneSpec  # noqa: E402


def torch_fused(fn):
    """Return fn run with the lanes backend switched off (the torch fused path)."""

    def run():
        numba_lanes.ENABLED = False
        try:
            return fn()
        finally:
            numba_lanes.ENABLED = True

    return run


def one_core(fn):
    """Return fn run with the lanes kernel's tiles on one thread."""

    def run():
        spread.THREADS = 1
        try:
            return fn()
        finally:
            spread.THREADS = None

    return run


def main() -> None:
    """Print the map's and the sweep's time as multiples of one single run; returns nothing."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cells", type=int, default=20, help="cells per axis (default 20)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--no-torch", action="store_true", help="skip timing the map on the torch fused path")
    args = ap.parse_args()
    base = TrainConfig(layers=(2, 50, 3), batch_size=20, epochs=args.epochs, optimizer="sgd", device=args.device)
    base = base.validated()
    data = base.load_data()
    cache = {base.dataset_key(): data}
    x, y = Axis("lr", 1e-3, 3.0, args.cells, log=True), Axis("momentum", 0.0, 0.95, args.cells)
    one = lambda: run_comparison(Comparison(base, []), data_cache=cache)  # noqa: E731
    whole = lambda: training_map(base, x, y, data_cache=cache)  # noqa: E731
    fns = {"single": one, "map": whole, "map_1": one_core(whole)}
    if not args.no_torch:
        fns["map_torch"] = torch_fused(whole)
    t = interleaved(fns, args.repeats)
    batches = -(-len(data.x_train) // base.batch_size)
    lanes = numba_lanes.applies([base] * args.cells**2, data.n_classes, "cpu", batches) and base.device != "cuda"
    path = "numba lanes kernel" if lanes else "torch fused path"
    race = Comparison(base, [("optimizer", ["sgd", "momentum", "adam", "rmsprop"])])
    sweep = timed(lambda: tune(race, TuneSpec(1e-4, 1.0, 13), data_cache=cache), args.repeats)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"one single run: {t['single']:.3f} s")
    cells = f"{args.cells}×{args.cells} map ({args.cells**2} runs, one batch"
    if lanes:  # only the lanes kernel shares its tiles out over the cores
        cores = available_cores()
        print(f"{cells}, {path}, {cores} cores): {t['map']:.3f} s = {t['map'] / t['single']:.1f} single runs")
        print(f"{cells}, {path}, 1 core): {t['map_1']:.3f} s = {t['map_1'] / t['single']:.1f} single runs")
    else:
        print(f"{cells}, {path}): {t['map']:.3f} s = {t['map'] / t['single']:.1f} single runs")
    if "map_torch" in t:
        print(f"{cells}, torch fused path): {t['map_torch']:.3f} s = {t['map_torch'] / t['single']:.1f} single runs")
    print(f"lr sweep (4 optimizers × 13 rates = 52 runs): {sweep:.3f} s = {sweep / t['single']:.1f} single runs")


if __name__ == "__main__":
    main()
