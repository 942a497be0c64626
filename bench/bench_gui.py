"""GUI responsiveness while training: event-loop stalls (timer probe) and throughput versus headless.

QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py [--repeat N]   (or under xvfb-run for a display)

Fair by construction: headless is a plain Trainer.run of the same configuration, on the same training path,
at the torch thread count the window's job uses (engine.training.jobs.job_threads with the window's spare
core); its rate at the command line's own count is printed beside it when that differs. Each case runs
headless and in the window alternately ``--repeat`` times (default 3): the rates are the best of each (the
machine is shared, so the best run is the one least disturbed, on both sides alike), the stall is the worst
over every window run, and the median ratio is printed too.

On a machine that other work keeps busy, rates measure the neighbours as much as the window, so a
load-independent line follows: CPU seconds per sample of the training thread (process CPU less the GUI
thread's) against headless, and the GUI thread's CPU time as a share of the training time. PySide holds the
GIL in the GUI thread's Python and Qt calls alike, so that share is time the training loop cannot run; the
estimate (CPU ratio × (1 − share)) is pessimistic where painting overlaps with torch kernels. Where Linux
shows the training thread's scheduler statistics (/proc/self/task/ID/schedstat), a last line splits that
thread's time in the window into running, waiting for a core (both busy: mostly other programs on a shared
machine) and the rest, waiting for the GIL (what the window's Python and painting cost it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from engine.threads import threads_for_configs  # noqa: E402
from engine.training.config import TrainConfig  # noqa: E402
from engine.training.jobs import job_threads  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402
from gui.charts import style  # noqa: E402
from gui.views.training_live import SPARE_CORES  # noqa: E402

PROBE_MS = 5


def headless_rate(cfg: TrainConfig, data, threads: int) -> tuple[float, str, float]:
    """Return (training samples per second, training path, CPU seconds per sample) of a plain Trainer run at
    ``threads`` torch threads."""
    torch.set_num_threads(threads)
    t = Trainer(cfg, data)
    start, cpu = time.perf_counter(), time.process_time()
    t.run()
    samples = cfg.epochs * len(t.data.x_train)
    return samples / (time.perf_counter() - start), t.group.path, (time.process_time() - cpu) / samples


def schedstat(tid: int) -> tuple[float, float] | None:
    """Return (seconds on a core, seconds waiting for one) of thread ``tid`` of this process, or None where the
    kernel does not show them (or the thread has ended)."""
    try:
        with open(f"/proc/self/task/{tid}/schedstat") as f:
            run, wait = f.read().split()[:2]
    except (OSError, ValueError):
        return None
    return int(run) / 1e9, int(wait) / 1e9


def gui_run(app, cfg: TrainConfig, dataset_setup) -> dict:
    """Train ``cfg`` in the Training view; return throughput and the event loop's stalls while it ran."""
    from gui.app import settle_garbage_collector
    from gui.views.training_view import TrainingView

    view = TrainingView()
    view.resize(1400, 900)
    view.show()
    dataset_setup(view.form)
    settle_garbage_collector()  # as the app does once its window is built
    gaps, last = [], [time.perf_counter()]

    def probe():
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000 - PROBE_MS)
        last[0] = now

    timer = QtCore.QTimer(interval=PROBE_MS)
    timer.timeout.connect(probe)
    for _ in range(20):
        app.processEvents()
    view.run()
    while view.status != "running":
        app.processEvents()
    gaps.clear()
    last[0] = time.perf_counter()
    timer.start()
    jobs = view.runner.running("training")
    tid = jobs[0].thread.native_id if jobs else None
    first = (time.perf_counter(), schedstat(tid)) if tid else None
    sched = [first]  # the training thread's statistics, read every 50 ms while it lives: (when, (run, wait))
    start, cpu, gui_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    loop = QtCore.QEventLoop()  # a real event loop sleeps between events, as the app's does

    def check():
        stat = schedstat(tid) if tid else None
        if stat is not None:
            sched.append((time.perf_counter(), stat))
        if view.status != "running":
            loop.quit()

    watch = QtCore.QTimer(interval=50)
    watch.timeout.connect(check)
    watch.start()
    loop.exec()
    watch.stop()
    wall = time.perf_counter() - start
    cpu, gui_cpu = time.process_time() - cpu, time.thread_time() - gui_cpu
    timer.stop()
    s = view.snapshot
    samples = (s.records - 1) * view.trainer.data.x_train.shape[0]
    path = view.trainer.group.path
    view.shutdown()
    view.deleteLater()
    # delete it now: left to the next run's event loop, destroying its thousands of items (~60 ms of Qt's
    # C++ work) landed inside the next run's measurement as a stall the app itself never has
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    gaps.sort()
    return {
        "rate": samples / s.elapsed,
        "wall_rate": samples / wall,
        "max_stall_ms": max(gaps),
        "p99_stall_ms": gaps[int(0.99 * (len(gaps) - 1))],
        "median_stall_ms": statistics.median(gaps),
        "ticks": len(gaps),
        "path": path,
        "gui_share": gui_cpu / wall,  # the GUI thread's CPU time over the training time (it holds the GIL then)
        "worker_cpu": (cpu - gui_cpu) / samples,  # the training thread's CPU seconds per sample
        "sched": _time_split(sched),
    }


def _time_split(sched: list) -> tuple[float, float, float] | None:
    """Return the training thread's (running, waiting for a core, waiting for the GIL) shares of the wall time
    between its first and last statistics read, or None when there were not two reads."""
    if len(sched) < 2 or sched[0] is None or sched[0][1] is None:
        return None
    (t0, (run0, wait0)), (t1, (run1, wait1)) = sched[0], sched[-1]
    wall = t1 - t0
    if wall <= 0:
        return None
    run, core = (run1 - run0) / wall, (wait1 - wait0) / wall
    return run, core, max(0.0, 1.0 - run - core)


def main() -> None:
    """Measure the spiral (1000 epochs unless --spiral-epochs) and a Fashion-MNIST-sized run (2 epochs); print the
    table. Returns nothing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="headless/window pairs per case (default 3)")
    # 100 epochs of the spiral train in ~0.1 s on the numba kernel: less than the window's first paint of its
    # charts, so that run measures start-up, not throughput. 1000 epochs (~1 s) measure the steady state.
    parser.add_argument("--spiral-epochs", type=int, default=1000, help="epochs of the spiral run (default 1000)")
    args = parser.parse_args()
    repeat, epochs = max(1, args.repeat), max(1, args.spiral_epochs)
    style.configure()
    app = QtWidgets.QApplication(sys.argv)
    cases = [
        (
            f"spiral 2-50-3, SGD momentum 0.5, batch 20, {epochs} epochs",
            replace(TrainConfig(), epochs=epochs, optimizer_params={"lr": 0.1, "momentum": 0.5}),
            lambda f: (f.epochs.setValue(epochs), f.optimizer.form.set_values({"lr": 0.1, "momentum": 0.5})),
        )
    ]
    try:
        TrainConfig(dataset="fashion-mnist").load_data()
        cases.append(
            (
                "Fashion-MNIST 784-40-40-40-10, Adam, batch 50, 2 epochs",
                TrainConfig(
                    dataset="fashion-mnist",
                    layers=(784, 40, 40, 40, 10),
                    optimizer="adam",
                    optimizer_params={"lr": 0.001},
                    batch_size=50,
                    epochs=2,
                ),
                lambda f: (
                    f.dataset.setCurrentIndex(f.dataset.findData("fashion-mnist")),
                    f.epochs.setValue(2),
                    f.batch_size.setValue(50),
                    f.optimizer.set_current("adam", {"lr": 0.001}),
                ),
            )
        )
    except Exception as err:  # noqa: BLE001
        print(f"(Fashion-MNIST case skipped: {err})")
    print(
        f"platform {QtWidgets.QApplication.platformName()}, probe every {PROBE_MS} ms, best of {repeat}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    for name, cfg, setup in cases:
        data = cfg.load_data()
        rows = len(data.x_train)
        threads, own = job_threads([cfg], rows, SPARE_CORES), threads_for_configs([cfg], rows)
        heads, guis = [], []
        for _ in range(repeat):
            heads.append(headless_rate(cfg, data, threads))
            guis.append(gui_run(app, cfg, setup))
        head = max(rate for rate, _, _ in heads)
        gui = max(g["rate"] for g in guis)
        paths = {p for _, p, _ in heads} | {g["path"] for g in guis}
        print(f"{name}:")
        print(f"  training path {' / '.join(sorted(paths))}; {threads} torch thread(s) in both")
        print(
            f"  headless {head:,.0f} samples/s; in the window {gui:,.0f} samples/s = {gui / head:.0%} of headless "
            f"(median ratio {statistics.median(g['rate'] / h for g, (h, _, _) in zip(guis, heads)):.0%}; "
            f"wall clock incl. redraws {max(g['wall_rate'] for g in guis) / head:.0%})"
        )
        if own != threads:
            alone = max(headless_rate(cfg, data, own)[0] for _ in range(repeat))
            print(f"  (headless at the command line's {own} threads: {alone:,.0f} samples/s)")
        efficiency = statistics.median(c for _, _, c in heads) / statistics.median(g["worker_cpu"] for g in guis)
        share = statistics.median(g["gui_share"] for g in guis)
        print(
            f"  load-independent: the training thread spends {1 / efficiency:.0%} of headless CPU per sample, "
            f"the GUI thread is busy {share:.1%} of the time (holding the GIL): "
            f"about {efficiency * (1 - share):.0%} of headless"
        )
        splits = [g["sched"] for g in guis if g["sched"] is not None]
        if splits:
            run, core, gil = (statistics.median(x[k] for x in splits) for k in range(3))
            print(
                f"  training thread in the window (median of {len(splits)}): running {run:.0%}, waiting for a core "
                f"{core:.0%} (cores busy: other programs, or those and the GUI), waiting for the GIL {gil:.0%}"
            )
        print(
            f"  event loop while training: max stall {max(g['max_stall_ms'] for g in guis):.1f} ms, "
            f"p99 {max(g['p99_stall_ms'] for g in guis):.1f} ms, "
            f"median {statistics.median(g['median_stall_ms'] for g in guis):.1f} ms "
            f"over {sum(g['ticks'] for g in guis)} probe ticks"
        )


if __name__ == "__main__":
    main()
