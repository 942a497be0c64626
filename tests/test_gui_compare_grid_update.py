"""The small multiples update in place while a comparison grows: the same curve items take longer data."""

import numpy as np
import pytest
from PySide6 import QtWidgets
from pytestqt.qtbot import QtBot

from engine.training.compare import RunResult
from engine.training.config import TrainConfig
from engine.training.records import EpochRecord
from gui.views.compare_panels import ComparisonPanels


def _runs(epochs: int, done: bool = False) -> list:
    """Four runs (momentum × lr), ``epochs`` records each, losses that differ per run; ``done``: each run has
    trained all its epochs (else they are still training)."""
    runs = []
    for i, m in enumerate(("0", "0.5")):
        for j, lr in enumerate(("0.1", "0.01")):
            history = [
                EpochRecord(e, 1.0 / (1 + e + i + 2 * j), None, 0.5, None, float(lr), None, 0.01) for e in range(epochs)
            ]
            runs.append(
                RunResult(
                    {"momentum": m, "lr": lr}, 1, TrainConfig(epochs=epochs - 1 if done else 100), history, "", 0.1
                )
            )
    return runs


@pytest.fixture
def panels(qtbot: QtBot):
    p = ComparisonPanels()
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    return p


def _drawn(panels) -> dict:
    """{panel title: its one curve item} as drawn in the grid."""
    out = {}
    for plot in panels.grid_plots:
        (item,) = [i for i in plot.listDataItems() if i.yData is not None and len(i.yData)]
        out[plot.titleLabel.text] = item
    return out


def test_grid_curve_items_are_reused_and_their_data_grows(panels, qtbot):
    panels.tabs.setCurrentIndex(1)
    panels.draw(_runs(3), ["momentum", "lr"], "train", 1, 0.9)
    first = _drawn(panels)
    assert len(first) == 4 and all(len(item.yData) == 3 for item in first.values())
    plots = list(panels.grid_plots)
    panels.draw(_runs(7), ["momentum", "lr"], "train", 1, 0.9)
    second = _drawn(panels)
    assert list(panels.grid_plots) == plots  # the same panels
    assert all(second[t] is first[t] for t in first)  # the same curve items, given new data
    assert all(len(item.yData) == 7 for item in second.values())
    item = second["momentum=0.5 · lr=0.01"]
    np.testing.assert_allclose(item.yData, [1.0 / (1 + e + 1 + 2) for e in range(7)])
    lo, hi = panels.grid_plots[0].vb.viewRange()[1]
    assert lo < 1.0 / 10 and hi > 1.0  # the shared y range follows the new data


def test_hidden_grid_is_drawn_when_its_tab_is_shown(panels, qtbot):
    panels.tabs.setCurrentIndex(0)  # overlay shown: the grid waits
    panels.draw(_runs(4), ["momentum", "lr"], "train", 1, 0.9)
    assert panels.grid_canvas.ci.layout.count() == 0  # nothing built while hidden
    assert len(panels.grid_cells) == 4  # the data is ready (export uses it)
    panels.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panels.grid_canvas.ci.layout.count() == 4, timeout=2000)
    assert all(len(item.yData) == 4 for item in _drawn(panels).values())


def test_enlarged_cell_follows_the_growing_data(panels, qtbot):
    panels.tabs.setCurrentIndex(1)
    panels.draw(_runs(3), ["momentum", "lr"], "train", 1, 0.9)
    panels.enlarge(("momentum=0", "lr=0.1"))
    big = panels.enlarged_chart
    panels.draw(_runs(6), ["momentum", "lr"], "train", 1, 0.9)
    assert panels.grid_stack.currentIndex() == 1 and panels.enlarged_chart is big  # still enlarged
    (curve,) = big.curves.values()
    assert len(curve.yData) == 6


def test_while_runs_train_panels_stay_when_runs_come_and_go_and_a_finished_grid_is_exact(panels, qtbot):
    panels.tabs.setCurrentIndex(1)
    panels.draw(_runs(3), ["momentum", "lr"], "train", 1, 0.9)
    plots = list(panels.grid_plots)
    some = [r for r in _runs(4) if r.label["momentum"] == "0"]  # one batched group listed, the other not (yet)
    panels.draw(some, ["momentum", "lr"], "train", 1, 0.9)
    assert list(panels.grid_plots) == plots  # not built again
    titles = sorted(p.titleLabel.text for p in panels.grid_plots)
    assert titles == [
        "momentum=0 · lr=0.01",
        "momentum=0 · lr=0.1",
        "momentum=0.5 · lr=0.01 — no run",
        "momentum=0.5 · lr=0.1 — no run",
    ]
    finished = [r for r in _runs(5, done=True) if r.label["momentum"] == "0"]
    panels.draw(finished, ["momentum", "lr"], "train", 1, 0.9)  # a finished comparison of two cells: two panels
    assert len(panels.grid_plots) == 2 and not set(panels.grid_plots) & set(plots)


def test_a_new_grid_is_built_one_panel_per_event_loop_turn(panels, qtbot):
    panels.tabs.setCurrentIndex(1)
    panels.draw(_runs(3), ["momentum", "lr"], "train", 1, 0.9)
    layout = panels.grid_canvas.ci.layout
    assert layout.count() == 1  # the first panel now; the others wait for the event loop, so clicks get through
    counts = [layout.count()]
    for _ in range(50):
        QtWidgets.QApplication.processEvents()
        counts.append(layout.count())
    assert sorted(set(counts)) == [1, 2, 3, 4]
    assert all(b - a <= 1 for a, b in zip(counts, counts[1:]))  # never two panels in one turn
    titles = sorted(p.titleLabel.text for p in panels.grid_plots)
    assert titles == ["momentum=0 · lr=0.01", "momentum=0 · lr=0.1", "momentum=0.5 · lr=0.01", "momentum=0.5 · lr=0.1"]
