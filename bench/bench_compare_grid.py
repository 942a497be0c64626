"""The comparison tab's event loop while a 6 optimizers × 4 learning rates comparison trains and redraws.

A 10 ms QTimer measures how late each tick fires; the worst lateness is the longest time the window could
not answer a click. Measured with the small multiples shown, with the overlay shown (grid hidden), and the
cost of one grid update (panels built afresh versus updated in place).

QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_compare_grid.py      (or under xvfb-run)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("DESCENT_LAB_STORE", str(Path(tempfile.mkdtemp()) / "runs.sqlite"))  # not the user's store
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6 import QtCore, QtWidgets  # noqa: E402

from gui.charts import style  # noqa: E402

PROBE_MS = 10
PRESET = "Optimizer × learning rate grid (iris)"


def comparison_view(epochs: int):
    """Return a shown CompareView set to 6 optimizers × 4 learning rates on iris for ``epochs`` epochs."""
    from gui.views.compare_view import CompareView

    view = CompareView()
    view.confirm_slow = lambda *a: True
    view.resize(1400, 900)
    view.show()
    index = view.preset.findText(PRESET)
    view.preset.setCurrentIndex(index)
    view.preset.activated.emit(index)
    view.values2.setText("1,0.1,0.01,0.001")
    view.base_form.epochs.setValue(epochs)
    return view


def stalls(app, view, grid_shown: bool) -> dict:
    """Run the comparison with the grid's tab shown or hidden; return the probe's lateness figures (ms)."""
    view.panels.tabs.setCurrentIndex(1 if grid_shown else 0)
    for _ in range(20):
        app.processEvents()
    gaps, last = [], [time.perf_counter()]

    def probe():
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000 - PROBE_MS)
        last[0] = now

    timer = QtCore.QTimer(interval=PROBE_MS)
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.timeout.connect(probe)
    loop = QtCore.QEventLoop()
    view.finished.connect(lambda _s: loop.quit())
    start = time.perf_counter()
    view.start()
    timer.start()
    loop.exec()
    timer.stop()
    wall = time.perf_counter() - start
    view.finished.disconnect()
    gaps.sort()
    return {
        "wall_s": wall,
        "max_ms": max(gaps),
        "p99_ms": gaps[int(0.99 * (len(gaps) - 1))],
        "median_ms": statistics.median(gaps),
        "ticks": len(gaps),
        "runs": len(view.results),
    }


def update_cost(app, view, repeats: int = 5) -> tuple[float, float]:
    """Return (ms to redraw with the grid's panels built afresh, ms with the existing panels updated in place)
    for the shown results: overlay, table and painting included."""
    panels = view.panels
    panels.tabs.setCurrentIndex(1)
    app.processEvents()
    fresh, same = [], []
    for _ in range(repeats):
        panels.forget_grid()  # the next draw builds every panel again
        t = time.perf_counter()
        view.redraw()
        assert len(panels.grid_plots) == 24  # every row built (the window builds one per event-loop turn)
        app.processEvents()
        fresh.append(time.perf_counter() - t)
        t = time.perf_counter()
        view.redraw()
        app.processEvents()
        same.append(time.perf_counter() - t)
    return 1000 * statistics.median(fresh), 1000 * statistics.median(same)


def main() -> None:
    """Print the stall table for the grid shown and hidden, and the cost of one redraw."""
    style.configure()
    app = QtWidgets.QApplication(sys.argv)
    epochs = int(os.environ.get("BENCH_EPOCHS", "150"))
    print(f"platform {QtWidgets.QApplication.platformName()}, probe every {PROBE_MS} ms, {epochs} epochs, 24 runs")
    view = comparison_view(epochs)
    for shown in (True, False):
        r = stalls(app, view, shown)
        where = "small multiples shown" if shown else "overlay shown (grid hidden)"
        print(
            f"  {where}: {r['runs']} runs in {r['wall_s']:.1f} s; event loop max stall {r['max_ms']:.0f} ms, "
            f"p99 {r['p99_ms']:.0f} ms, median {r['median_ms']:.1f} ms over {r['ticks']} ticks"
        )
    fresh, same = update_cost(app, view)
    print(
        f"  one redraw of the finished comparison: panels built afresh {fresh:.0f} ms, updated in place {same:.0f} ms"
    )
    view.shutdown()


if __name__ == "__main__":
    main()
