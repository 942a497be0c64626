"""Surface-path speed: 12 optimizers x 500 steps on peaks, kernel against torch.optim, and the contour grid.

Measured in one process, medians of several calls after a warm-up: the compiled kernel
(engine/surface/path_kernel.py), the torch.optim path of paths_job (``use_kernel=False``) and a plain
torch.optim loop written the way a notebook does it (one optimizer per path, autograd every step). The kernel's
first call in a fresh process (compile, or load from numba's cache) is timed in child processes: once with an
empty cache and once with it filled.

.venv/bin/python bench/bench_paths.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402
from timing import median_time  # noqa: E402

from engine.optimizers import OPTIMIZERS, build_optimizer  # noqa: E402
from engine.surface.functions import get_surface  # noqa: E402
from engine.surface.paths import PathSpec, compute_paths  # noqa: E402

START = (-0.35, -0.67)
FIRST_CALL = (
    "import time; t = time.perf_counter(); "
    "from engine.surface.functions import get_surface; from engine.surface.paths import PathSpec, compute_paths; "
    "from engine.optimizers import OPTIMIZERS; "
    "p = compute_paths(get_surface('peaks'), [PathSpec(i, {'lr': 0.05}) for i in OPTIMIZERS.ids()], [(-0.35, -0.67)], "
    "500); print(time.perf_counter() - t, p[0].computed_by)"
)


def plain_torch_loop(surface, steps: int = 500) -> list:
    """Return the end points of one torch.optim optimizer per optimizer id, stepped with autograd: the reference."""
    ends = []
    for oid in OPTIMIZERS.ids():
        p = torch.tensor(START, dtype=torch.float64, requires_grad=True)
        opt = build_optimizer(oid, [p], {"lr": 0.05}, fused=False)
        for _ in range(steps):
            opt.zero_grad()
            surface.value(p.unsqueeze(0)).sum().backward()
            opt.step()
        ends.append(p.detach())
    return ends


def first_call_seconds(cache_dir: str) -> str:
    """Return a child process's time for import + first 12x500 kernel call, with numba's cache in ``cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    done = subprocess.run([sys.executable, "-c", FIRST_CALL], cwd=ROOT, env=env, capture_output=True, text=True)
    return done.stdout.strip() or done.stderr.strip()[-300:]


def main() -> None:
    """Print the timings and ratios."""
    torch.set_num_threads(1)
    peaks = get_surface("peaks")
    specs = [PathSpec(i, {"lr": 0.05}) for i in OPTIMIZERS.ids()]
    four = [START, (0.3, 1.3), (-0.4, -0.5), (-0.3, -0.5)]
    kernel = median_time(lambda: compute_paths(peaks, specs, [START], 500), 9)
    torch_job = median_time(lambda: compute_paths(peaks, specs, [START], 500, use_kernel=False), 5)
    plain = median_time(lambda: plain_torch_loop(peaks), 3)
    kernel4 = median_time(lambda: compute_paths(peaks, specs, four, 500), 9)
    torch4 = median_time(lambda: compute_paths(peaks, specs, four, 500, use_kernel=False), 5)
    grid = median_time(lambda: peaks.grid(400), 7)
    print("12 optimizers x 500 steps on peaks (1 torch thread, medians, same process):")
    print(f"  plain torch.optim loop (reference)  {plain * 1000:8.1f} ms   1.0x")
    print(f"  paths_job on torch.optim            {torch_job * 1000:8.1f} ms  {plain / torch_job:5.1f}x")
    print(f"  paths_job, numba kernel             {kernel * 1000:8.1f} ms  {plain / kernel:5.1f}x")
    print(f"  4 starts: torch.optim {torch4 * 1000:.1f} ms, kernel {kernel4 * 1000:.1f} ms ({torch4 / kernel4:.0f}x)")
    print(f"peaks on a 400x400 grid: {grid * 1000:.1f} ms")
    tmp = tempfile.mkdtemp()
    try:
        started = time.perf_counter()
        cold = first_call_seconds(tmp)
        warm = first_call_seconds(tmp)
        print("first call in a fresh process (imports + 12x500 paths), seconds and path:")
        print(f"  empty numba cache (compiles): {cold}")
        print(f"  filled cache (loads):         {warm}   [{time.perf_counter() - started:.1f} s for both]")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
