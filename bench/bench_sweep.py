"""Benchmark: a 96-run spiral sweep (4 optimizers × 4 learning rates × 6 seeds) on the local backend against a
local Ray cluster on this machine; runs per second for each, and what Ray costs per task.

Ray must talk to loopback only here, so the script runs itself inside a network namespace with loopback alone
up (and a PID namespace, so that every Ray process ends with it): `unshare -n -p -f --mount-proc`, as root.
Run: python bench/bench_sweep.py [--epochs 20] [--points 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPTIMIZERS = "sgd,momentum,adam,rmsprop"
RATES = "0.3,0.1,0.03,0.01"
SEEDS = [1, 2, 3, 4, 5, 6]
NOOP_TASKS = 200


def plan(points: int, epochs: int):
    """Return the 96-run sweep and its planned runs."""
    from engine.sweep.grid import SweepGrid
    from engine.training.config import TrainConfig

    grid = SweepGrid(
        TrainConfig(points=points, epochs=epochs),
        [("optimizer", OPTIMIZERS.split(",")), ("lr", RATES.split(","))],
        SEEDS,
    )
    return grid, grid.runs()


def sweep(grid, planned, backend: str) -> tuple[float, dict]:
    """Return (wall seconds, results) of one sweep on ``backend``."""
    from engine.jobs import Token, run_job
    from engine.sweep.executors import sweep_job

    began = time.perf_counter()
    results = run_job(sweep_job(grid, planned, Token(), backend))
    return time.perf_counter() - began, results


def noop_overhead(ray) -> tuple[float, float]:
    """Return (ms per task when NOOP_TASKS empty tasks run at once, ms for one task's round trip)."""

    @ray.remote(num_cpus=1)
    def noop():
        return None

    ray.get([noop.remote() for _ in range(10)])  # workers up
    began = time.perf_counter()
    ray.get([noop.remote() for _ in range(NOOP_TASKS)])
    batch = (time.perf_counter() - began) / NOOP_TASKS
    began = time.perf_counter()
    for _ in range(20):
        ray.get(noop.remote())
    return batch * 1000, (time.perf_counter() - began) / 20 * 1000


def inside(args) -> dict:
    """Measure both backends in this process (already in the namespace); return the numbers."""
    import torch

    from engine.sweep.executors import connect_ray, task_groups

    grid, planned = plan(args.points, args.epochs)
    tasks = len(task_groups(planned))
    sweep(*plan(args.points, 2), "local")  # warm torch up (first optimizer, kernels), not timed
    local_s, local = sweep(grid, planned, "local")
    began = time.perf_counter()
    ray = connect_ray(None)  # a local Ray, as `--backend ray` without an address starts
    init_s = time.perf_counter() - began
    cpus = int(ray.cluster_resources().get("CPU", 1))
    cold_s, _ = sweep(grid, planned, "ray")  # workers start and import torch and the engine
    warm_s, remote = sweep(grid, planned, "ray")
    noop_ms, round_trip_ms = noop_overhead(ray)
    compute = sum(r.seconds for r in remote.values())  # training time inside the tasks (per run, summed)
    same = max(abs(local[i].history[-1].train_loss - remote[i].history[-1].train_loss) for i in local)
    ray.shutdown()
    return {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "runs": len(planned),
        "tasks": tasks,
        "epochs": args.epochs,
        "points": args.points,
        "local_s": local_s,
        "ray_init_s": init_s,
        "ray_cpus": cpus,
        "ray_cold_s": cold_s,
        "ray_warm_s": warm_s,
        "noop_task_ms": noop_ms,
        "round_trip_ms": round_trip_ms,
        "overhead_per_task_s": max(0.0, (warm_s * min(cpus, tasks) - compute) / tasks),
        "max_final_loss_difference": same,
    }


def report(m: dict) -> None:
    """Print the numbers as a table; returns nothing."""
    runs = m["runs"]
    print(f"{m['machine']}")
    print(f"spiral sweep: {runs} runs ({OPTIMIZERS} × lr {RATES} × {len(SEEDS)} seeds), {m['points']} points,")
    print(f"  {m['epochs']} epochs, cut into {m['tasks']} tasks of batched run groups")
    print(f"  local backend (one process)      {m['local_s']:7.2f} s  {runs / m['local_s']:7.1f} runs/s")
    cold = f"Ray, {m['ray_cpus']} CPUs, first sweep (cold)"
    print(f"  {cold:32} {m['ray_cold_s']:7.2f} s  {runs / m['ray_cold_s']:7.1f} runs/s")
    print(f"  Ray, second sweep (warm workers) {m['ray_warm_s']:7.2f} s  {runs / m['ray_warm_s']:7.1f} runs/s")
    print(f"  Ray start-up (ray.init, local)   {m['ray_init_s']:7.2f} s")
    per_task = m["overhead_per_task_s"] * 1000
    print(f"  Ray overhead per sweep task      {per_task:7.0f} ms  (wall × CPUs − training time, per task)")
    print(f"  Ray overhead per empty task      {m['noop_task_ms']:7.2f} ms  ({NOOP_TASKS} at once);")
    print(f"                                   {m['round_trip_ms']:7.2f} ms  one task's round trip")
    print(f"  largest final-loss difference, local vs Ray: {m['max_final_loss_difference']:.3g}")


def main() -> None:
    """Run the benchmark (inside a loopback-only namespace) and print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--points", type=int, default=300)
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        m = inside(args)
        print(json.dumps(m))
        return
    try:
        import ray  # noqa: F401
    except ImportError:
        sys.exit('Ray is not installed: pip install -e ".[cluster]"')
    sizes = f"--epochs {args.epochs} --points {args.points}"
    cmd = f"ip link set lo up; exec {sys.executable} {Path(__file__)} --inside {sizes}"
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's session files, apart from any other Ray's
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": temp}
    try:
        done = subprocess.run(
            ["unshare", "-n", "-p", "-f", "--mount-proc", "bash", "-c", cmd], capture_output=True, text=True, env=env
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.exit(f"the benchmark failed inside its namespace:\n{done.stderr[-3000:]}")
    m = json.loads(lines[-1])
    report(m)
    if args.json:
        Path(args.json).write_text(json.dumps(m, indent=1))


if __name__ == "__main__":
    main()
