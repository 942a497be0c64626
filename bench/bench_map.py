"""Benchmark: a 20×20 lr × momentum convergence map of the spiral set-up (2-50-3, batch 20, 20 epochs).

The whole map trains as one batch (400 stacked runs); its time is reported as a ratio against one single
run of the same set-up, both measured in this process (median of repetitions, after a warm-up).
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

from timing import median_time as timed  # noqa: E402

from engine.map_grid import Axis  # noqa: E402
from engine.training.compare import Comparison, run_comparison  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.convergence_map import training_map  # noqa: E402
from engine.training.tuning import tune  # noqa: E402
from engine.tuning import TuneSpec  # noqa: E402


def main() -> None:
    """Print the map's and the sweep's time as multiples of one single run; returns nothing."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cells", type=int, default=20, help="cells per axis (default 20)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = ap.parse_args()
    base = TrainConfig(layers=(2, 50, 3), batch_size=20, epochs=args.epochs, optimizer="sgd", device=args.device)
    base = base.validated()
    data = base.load_data()
    cache = {base.dataset_key(): data}
    x, y = Axis("lr", 1e-3, 3.0, args.cells, log=True), Axis("momentum", 0.0, 0.95, args.cells)
    single = timed(lambda: run_comparison(Comparison(base, []), data_cache=cache), args.repeats)
    whole = timed(lambda: training_map(base, x, y, data_cache=cache), args.repeats)
    race = Comparison(base, [("optimizer", ["sgd", "momentum", "adam", "rmsprop"])])
    sweep = timed(lambda: tune(race, TuneSpec(1e-4, 1.0, 13), data_cache=cache), args.repeats)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"one single run: {single:.3f} s")
    print(
        f"{args.cells}×{args.cells} map ({args.cells**2} runs, one batch): {whole:.3f} s"
        f" = {whole / single:.1f} single runs"
    )
    print(f"lr sweep (4 optimizers × 13 rates = 52 runs): {sweep:.3f} s = {sweep / single:.1f} single runs")


if __name__ == "__main__":
    main()
