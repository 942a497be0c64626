"""GUI responsiveness while training: event-loop stalls (timer probe) and throughput versus headless.

QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py      (or under xvfb-run for a real display)
"""

from __future__ import annotations

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

from engine.training.config import TrainConfig  # noqa: E402
from engine.training.trainer import Trainer  # noqa: E402
from gui.charts import style  # noqa: E402

PROBE_MS = 5


def headless_rate(cfg: TrainConfig) -> float:
    """Return training samples per second of a plain Trainer run (1 torch thread, as the GUI worker uses)."""
    torch.set_num_threads(1)
    t = Trainer(cfg)
    start = time.perf_counter()
    t.run()
    return cfg.epochs * len(t.data.x_train) / (time.perf_counter() - start)


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
    start = time.perf_counter()
    loop = QtCore.QEventLoop()  # a real event loop sleeps between events, as the app's does
    watch = QtCore.QTimer(interval=50)
    watch.timeout.connect(lambda: loop.quit() if view.status != "running" else None)
    watch.start()
    loop.exec()
    watch.stop()
    wall = time.perf_counter() - start
    timer.stop()
    s = view.snapshot
    samples = (s.records - 1) * view.trainer.data.x_train.shape[0]
    view.shutdown()
    view.deleteLater()
    gaps.sort()
    return {
        "rate": samples / s.elapsed,
        "wall_rate": samples / wall,
        "max_stall_ms": max(gaps),
        "p99_stall_ms": gaps[int(0.99 * (len(gaps) - 1))],
        "median_stall_ms": statistics.median(gaps),
        "ticks": len(gaps),
    }


def main() -> None:
    """Measure the spiral (100 epochs) and a Fashion-MNIST-sized run (2 epochs) and print the table."""
    style.configure()
    app = QtWidgets.QApplication(sys.argv)
    cases = [
        (
            "spiral 2-50-3, SGD momentum 0.5, batch 20, 100 epochs",
            replace(TrainConfig(), epochs=100, optimizer_params={"lr": 0.1, "momentum": 0.5}),
            lambda f: (f.epochs.setValue(100), f.optimizer.form.set_values({"lr": 0.1, "momentum": 0.5})),
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
    print(f"platform {QtWidgets.QApplication.platformName()}, probe every {PROBE_MS} ms")
    for name, cfg, setup in cases:
        headless = headless_rate(cfg)
        gui = gui_run(app, cfg, setup)
        print(f"{name}:")
        print(
            f"  headless {headless:,.0f} samples/s; in the GUI {gui['rate']:,.0f} samples/s "
            f"= {gui['rate'] / headless:.0%} of headless (wall clock incl. redraws {gui['wall_rate'] / headless:.0%})"
        )
        print(
            f"  event loop while training: max stall {gui['max_stall_ms']:.1f} ms, p99 {gui['p99_stall_ms']:.1f} ms, "
            f"median {gui['median_stall_ms']:.1f} ms over {gui['ticks']} probe ticks"
        )


if __name__ == "__main__":
    main()
