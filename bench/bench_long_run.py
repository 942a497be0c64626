"""Does training keep its speed over a long run? Epochs per second at the start and at the end of 20,000 epochs.

The run is driven as the window drives it (train_job snapshots, read with history[:records]), so a history
that is copied per epoch, or any other cost that grows with the epoch count, shows up as a falling ratio.
Prints the rate of every window of epochs and the ratio of the last three windows' median to the first three's
(medians, because other work on a busy machine slows single windows at random); about 1.0 means the cost per
epoch does not grow.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.jobs import Token  # noqa: E402
from engine.training.backends import numba_mlp  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.jobs import train_job  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402


def epochs_per_second(epochs: int, window: int) -> tuple[list[float], str]:
    """Return the epochs/s of every consecutive ``window`` epochs of the run, and the backend that ran it."""
    torch.set_num_threads(1)
    cfg = TrainConfig(points=20, layers=(2, 8, 3), batch_size=0, epochs=epochs, optimizer_params={"lr": 0.05})
    trainer = Trainer(cfg)
    stamps = {}
    last_seen, drawn_at = 0, 0.0
    for snap in train_job(trainer, Token()):
        if snap.records != last_seen:
            last_seen = snap.records
            now = time.perf_counter()
            stamps[snap.epoch] = now
            if now - drawn_at >= 0.2:  # what the window's chart redraw reads, at most 5 times a second
                _ = snap.history[: snap.records]
                drawn_at = now
    ends = list(range(window, epochs + 1, window))
    return [window / (stamps[e] - stamps[max(1, e - window)]) for e in ends], trainer.path


def main() -> None:
    """Print epochs per second at the start and the end of a long run, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=2_000)
    parser.add_argument("--torch", action="store_true", help="the torch fused backend, not the numba kernel")
    args = parser.parse_args()
    if args.torch:
        numba_mlp.ENABLED = False
    rates, path = epochs_per_second(args.epochs, args.window)
    first, last = statistics.median(rates[:3]), statistics.median(rates[-3:])
    print(f"{args.epochs} epochs, full batch, 2-8-3 net on 60 points, 1 torch thread, backend: {path}")
    print(f"  epochs/s per {args.window} epochs: {' '.join(f'{r:.0f}' for r in rates)}")
    print(f"  first three windows (median): {first:8.0f} epochs/s")
    print(f"  last three windows (median):  {last:8.0f} epochs/s")
    print(f"  end / start: {last / first:.2f} (1.00 = no slow-down)")


if __name__ == "__main__":
    main()
