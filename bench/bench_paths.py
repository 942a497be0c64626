"""Surface-path speed: 12 optimizers x 500 steps on peaks, and the 400x400 contour grid evaluation.

.venv/bin/python bench/bench_paths.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from timing import median_time  # noqa: E402

from engine.optimizers import OPTIMIZERS  # noqa: E402
from engine.surface.functions import get_surface  # noqa: E402
from engine.surface.paths import PathSpec, compute_paths  # noqa: E402


def main() -> None:
    """Print the timings."""
    peaks = get_surface("peaks")
    specs = [PathSpec(i, {"lr": 0.05}) for i in OPTIMIZERS.ids()]
    paths = median_time(lambda: compute_paths(peaks, specs, [(-0.35, -0.67)], 500), 7)
    four = median_time(
        lambda: compute_paths(peaks, specs, [(-0.35, -0.67), (0.3, 1.3), (-0.4, -0.5), (-0.3, -0.5)], 500), 7
    )
    grid = median_time(lambda: peaks.grid(400), 7)
    print(f"12 optimizers x 500 steps, 1 start:  {paths * 1000:6.0f} ms")
    print(f"12 optimizers x 500 steps, 4 starts: {four * 1000:6.0f} ms")
    print(f"peaks on a 400x400 grid:             {grid * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
