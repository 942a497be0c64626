"""How many torch threads a job should use: one for small models, every core for large matrix products.

Measured on the 2-core development machine (fused backend, one epoch, medians): the 5-run spiral comparison
(2-50-3, batch 20) gains at most 1.1-1.3x from a second thread when the machine is idle, and ran 9x slower
with two threads while other work kept the second core busy (torch's thread pool waits for its slowest
thread at every small operation); 784-40-40-40-10 at batch 50 gained 1.3x and 784-512-512-10 at batch 256
1.75x. So a job takes every core only when its matrix products are large enough to pay for the hand-off.

With torch's OpenMP build (the one installed here), ``torch.set_num_threads`` sets the count of the calling
thread: a job's choice leaves the GUI thread's and other jobs' counts alone (tests/test_gui_jobs.py checks
this). The training jobs (engine/training/jobs.py) call ``use_threads`` at their start, inside the job, so
on the command line and in the window's worker thread alike the count follows the job that runs.
"""

from __future__ import annotations

import os

# A batch step is "large" when its matrix products do at least this many multiply-adds for all runs together ...
LARGE_STEP_MACS = 1 << 20
# ... and its biggest weight matrix has at least this many entries (784x40 has 31,360; 50x50 has 2,500).
LARGE_MATRIX = 1 << 14


def available_cores() -> int:
    """Return the number of cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_for(layers, batch_rows: int, runs: int = 1, device: str = "cpu", cores: int | None = None) -> int:
    """Return the torch thread count for training ``runs`` networks of ``layers`` sizes on ``batch_rows`` rows.

    1 for small models (each operation is too short to share out), for CUDA (the CPU only launches
    kernels) and on a one-core machine; every available core (``cores``, default ``available_cores()``)
    when each batch step multiplies matrices of at least LARGE_MATRIX entries for LARGE_STEP_MACS
    multiply-adds or more.
    """
    cores = available_cores() if cores is None else max(1, int(cores))
    if str(device).startswith("cuda") or cores == 1:
        return 1
    sizes = [int(v) for v in layers]
    products = [a * b for a, b in zip(sizes, sizes[1:])]
    if not products:
        return 1
    macs = max(1, int(runs)) * max(1, int(batch_rows)) * sum(products)
    return cores if macs >= LARGE_STEP_MACS and max(products) >= LARGE_MATRIX else 1


def threads_for_configs(configs, train_rows: int) -> int:
    """Return the torch thread count for training ``configs`` together (one RunGroup) on ``train_rows`` rows.

    Known before the group is built, so its epoch-0 measurement already runs with it.
    """
    cfg = configs[0]
    rows = max(1, int(train_rows))
    batch = min(int(cfg.batch_size) or rows, rows)
    device = str(cfg.device)
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return threads_for(cfg.layers, batch, len(configs), device)


def use_threads(count: int) -> int:
    """Set torch's thread count (the calling thread's) to ``count`` when it differs; return the previous count."""
    import torch

    previous = torch.get_num_threads()
    if int(count) != previous:
        torch.set_num_threads(int(count))
    return previous
