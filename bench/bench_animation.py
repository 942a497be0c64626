"""Animation export speed: a 200-step race of 8 optimizers on peaks written as GIF (and MP4), against the still.

What `surface ... --animate race.gif` does after the paths are computed: build the figure (contour, paths and the
loss per step beside the map), draw the 201 frames and encode them (gui/charts/animation.py). The reference is
the still export of the same figure (`render_surface`, what surface.png costs). Medians of a few calls after a
warm-up, in one process; the target is a GIF in under 10 s on this machine. The GIF's frames are streamed to the
file as they are drawn (one frame's palette indices are kept, whatever the count); tracemalloc's peak below
counts Python's allocations (numpy's included), not pillow's.

QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_animation.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from timing import median_time  # noqa: E402

from engine.animation import frame_count, frame_steps  # noqa: E402
from engine.optimizers import OPTIMIZERS  # noqa: E402
from engine.surface.functions import get_surface  # noqa: E402
from engine.surface.paths import PathSpec, compute_paths  # noqa: E402
from gui.charts.animation import export_animation  # noqa: E402
from gui.charts.figures import SurfaceFigure  # noqa: E402
from gui.charts.render import render_surface  # noqa: E402

RACE = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw"]
STEPS = 200
SIZE = (960, 600)  # the command line's default frame size
GRID = 300  # the command line's default contour grid


def race():
    """Return (surface, the 8 paths of 200 steps from the peaks start)."""
    surface = get_surface("peaks")
    specs = [PathSpec(i, {**OPTIMIZERS.get(i).defaults(), "lr": 0.05}) for i in RACE]
    return surface, compute_paths(surface, specs, [(-0.35, -0.67)], STEPS)


def export(surface, paths, target: Path) -> None:
    """Build the figure and write the whole animation, as the command line does."""
    figure = SurfaceFigure(surface, paths, grid=GRID, losses=True, size=SIZE)
    try:
        count = frame_count(STEPS)
        export_animation(figure, iter(frame_steps(STEPS)), count, target, 10, settle=STEPS)
    finally:
        figure.close()


def main() -> None:
    """Print the still's time, the GIF's and the MP4's, their ratios, a GIF's CPU time and its peak Python memory."""
    surface, paths = race()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        still = median_time(
            lambda: render_surface(surface, paths, folder / "still.png", grid=GRID, losses=True, size=SIZE), 5
        )
        gif = median_time(lambda: export(surface, paths, folder / "race.gif"), 3)
        mp4 = median_time(lambda: export(surface, paths, folder / "race.mp4"), 3)
        cpu = time.process_time()
        export(surface, paths, folder / "race.gif")
        cpu = time.process_time() - cpu  # this process's CPU seconds: what the GIF costs when no one else runs
        still_cpu = time.process_time()
        for _ in range(3):
            render_surface(surface, paths, folder / "still.png", grid=GRID, losses=True, size=SIZE)
        still_cpu = (time.process_time() - still_cpu) / 3
        tracemalloc.start()
        export(surface, paths, folder / "race.gif")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        sizes = {name: (folder / name).stat().st_size for name in ("race.gif", "race.mp4")}
    frames = frame_count(STEPS)
    print(f"race: {len(RACE)} optimizers x {STEPS} steps on peaks, {frames} frames of {SIZE[0]}x{SIZE[1]}")
    print(f"still export (surface.png of the same figure): {still * 1000:.0f} ms")
    for name, seconds in (("GIF", gif), ("MP4", mp4)):
        file = sizes[f"race.{name.lower()}"] / 1e6
        print(
            f"{name}: {seconds:.2f} s = {seconds / still:.0f}x the still, {seconds / frames * 1000:.1f} ms a frame, "
            f"{file:.1f} MB  (target for the GIF: < 10 s)"
        )
    print(
        f"GIF, CPU time of this process: {cpu:.2f} s = {cpu / still_cpu:.0f}x the still's {still_cpu * 1000:.0f} ms "
        "(the wall times above include waiting for a shared CPU)"
    )
    print(f"peak Python memory during a GIF export (tracemalloc): {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
