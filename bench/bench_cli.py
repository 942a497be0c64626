"""Whole-process speed of the 5-momentum spiral `compare`, against the seeds' loop run as its own process.

Each repetition runs every command once, in turn (alternating, so a busy machine slows all of them alike),
and the table shows medians: wall time, and CPU time (user + system, with the chart process `compare` starts;
less sensitive to other work on the machine). ``--tree DIR`` adds the same `compare` run from another copy of
the project (for example a copy taken before a change), so before and after are measured side by side.

.venv/bin/python bench/bench_cli.py [--repeats 5] [--tree /tmp/before]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MOMENTA = "0,0.1,0.2,0.4,0.5"
REFERENCE = (
    "import sys, torch; torch.set_num_threads({threads}); sys.path.insert(0, {bench!r}); "
    "from reference_loops import notebook_momentum_loop; "
    "from engine.data.datasets import spiral_arrays; "
    "x, y = spiral_arrays(); notebook_momentum_loop(x, y, (0, 0.1, 0.2, 0.4, 0.5))"
)


def compare_command(tree: Path, out: Path) -> list[str]:
    """Return the `compare` command line run in ``tree``, writing into ``out``."""
    return [
        sys.executable,
        str(tree / "main.py"),
        "compare",
        "--dataset",
        "spiral",
        "--vary",
        f"momentum={MOMENTA}",
    ] + [
        "--out",
        str(out),
    ]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Return the wall time and the CPU time (user + system, its own child processes included) of one process run
    of ``cmd`` (raises when it fails)."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip()[-400:]}")
    return elapsed, _children_cpu() - cpu


def main() -> None:
    """Print the medians and the ratios against the seeds' loop."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tree", type=Path, action="append", default=[], help="another copy of the project")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--reference-threads",
        type=int,
        default=1,
        help="torch threads of the seeds' loop (default 1, its fastest here: with torch's default of all cores it "
        "ran 2-10x slower on this busy 2-core machine, which would flatter the ratio)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, tuple[list[str], Path]] = {}
        if not args.skip_reference:
            code = REFERENCE.format(bench=str(ROOT / "bench"), threads=args.reference_threads)
            runs["seeds' loop (process)"] = ([sys.executable, "-c", code], ROOT)
        runs["compare (this tree)"] = (compare_command(ROOT, Path(tmp) / "this"), ROOT)
        for k, tree in enumerate(args.tree):
            runs[f"compare ({tree})"] = (compare_command(tree.resolve(), Path(tmp) / f"tree{k}"), tree.resolve())
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, (cmd, cwd) in runs.items():
                wall, used = timed_run(cmd, cwd)
                times[name].append(wall)
                cpu[name].append(used)
    medians = {name: statistics.median(t) for name, t in times.items()}
    ref = medians.get("seeds' loop (process)")
    print(
        f"5-momentum spiral, 100 epochs, whole processes, median of {args.repeats} alternating runs "
        f"(seeds' loop at {args.reference_threads} torch thread(s))"
    )
    for name, m in medians.items():
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        ratio = f"{ref / m:5.1f}x" if ref else ""
        print(f"  {name:40s} {m:6.2f} s  ({spread})  {ratio}   cpu {statistics.median(cpu[name]):5.2f} s")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
