"""How often the training tab paints its curves while a job runs (issue 14: every paint holds the GIL that the
training thread needs, so a redraw of new epochs is painted once, not twice)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import job_snapshots
from PySide6 import QtCore, QtWidgets

from engine.training.config import TrainConfig
from engine.training.jobs import Pace
from gui.views import training_live
from gui.views.training_live import LiveCharts
from gui.views.training_panels import TrainingPanels

SMALL = replace(TrainConfig(), points=60, epochs=8)


class PaintCounter(QtCore.QObject):
    """Counts the paint events a widget receives."""

    def __init__(self, widget: QtWidgets.QWidget):
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QtCore.QEvent.Type.Paint:
            self.count += 1
        return False


def settle_events(qtbot) -> None:
    """Let every queued paint and zero-delay timer run."""
    for _ in range(3):
        QtWidgets.QApplication.processEvents()
        qtbot.wait(20)


@pytest.fixture(scope="module")
def epoch_snapshots():
    """A real run's snapshots taken at epoch ends, each with more records and a lower loss than the one before."""
    snaps = job_snapshots(SMALL)
    seen, out = set(), []
    for s in snaps:
        if s.status == "running" and s.batch == 0 and s.records not in seen:
            seen.add(s.records)
            out.append(s)
    return out


def test_each_redraw_of_new_epochs_paints_the_curves_once(qtbot, monkeypatch, epoch_snapshots):
    monkeypatch.setattr(training_live, "CHART_MS", 0)  # every snapshot is drawn at once
    panels = TrainingPanels()
    qtbot.addWidget(panels)
    panels.resize(1100, 600)
    panels.show()
    qtbot.waitExposed(panels)
    live = LiveCharts(panels, Pace())
    live.show(epoch_snapshots[0], "running")
    settle_events(qtbot)
    counter = PaintCounter(panels.canvas.viewport())
    ranges = []
    for s in epoch_snapshots[1:]:
        frames, painted = live.frames, counter.count
        live.show(s, "running")
        settle_events(qtbot)
        assert live.frames == frames + 1  # the new epoch was drawn …
        assert counter.count - painted == 1  # … in one paint, axes and curves together
        ranges.append(tuple(panels.twin.plot.viewRange()[1]))
    assert len(epoch_snapshots) >= 6 and len(set(ranges)) > 1  # the loss axis moved: it could have asked for more
    xs = panels.twin.curves["train loss"].getData()[0]
    assert [int(x) for x in xs] == list(range(SMALL.epochs + 1))


def test_a_cleared_panel_is_laid_out_and_painted_before_the_run_trains(qtbot):
    """What the window can know before a run's job starts is drawn then: the class legend of the decision map
    and the epoch axis of the planned run, in a paint of each canvas that happens in clear/paint_now itself."""
    panels = TrainingPanels()
    qtbot.addWidget(panels)
    panels.resize(1100, 600)
    panels.show()
    qtbot.waitExposed(panels)
    settle_events(qtbot)
    charts, side = PaintCounter(panels.canvas.viewport()), PaintCounter(panels.decision_canvas.viewport())
    panels.clear("decision", classes=3, epochs=500)
    panels.paint_now()
    assert charts.count >= 1 and side.count >= 1  # painted now, not in the event loop's next turns
    labels = [label.text for _, label in panels.decision.legend.items]
    assert labels == ["class 0", "class 1", "class 2"]
    low, high = panels.twin.plot.viewRange()[0]
    assert low <= 0 and 500 <= high < 520  # the planned epochs, before a single record arrived
    panels.clear("decision", classes=2, epochs=20)
    assert [label.text for _, label in panels.decision.legend.items] == ["class 0", "class 1"]


def test_a_long_run_is_drawn_by_pixel_column_and_exported_whole(qtbot):
    """A 20,000-epoch history is drawn as each pixel column's highest and lowest value (a few points per column,
    the same extremes), while the chart's CSV table keeps every epoch."""
    from engine.training.records import EpochRecord

    rng = np.random.default_rng(3)
    epochs = np.arange(20_001)
    loss = 1.1 * np.exp(-epochs / 50) + 0.02 + 0.01 * rng.random(len(epochs))
    acc = np.clip(1 - 0.7 * np.exp(-epochs / 20) - 0.02 * rng.random(len(epochs)), 0, 1)
    history = [
        EpochRecord(int(e), float(a), None, float(b), None, 0.1, None, 0.0) for e, a, b in zip(epochs, loss, acc)
    ]
    panels = TrainingPanels()
    qtbot.addWidget(panels)
    panels.resize(1100, 600)
    panels.show()
    qtbot.waitExposed(panels)
    panels.draw_history(history)
    settle_events(qtbot)
    for name, values in (("train loss", loss), ("train accuracy", acc)):
        curve = panels.twin.curves[name]
        xs, ys = curve.getData()  # what is drawn
        width = curve.getViewBox().width()
        assert 0 < len(xs) <= 2.5 * width < len(values) / 10
        assert ys.max() == pytest.approx(values.max()) and ys.min() == pytest.approx(values.min())
    header, rows = panels.twin.table()
    assert header[0] == "epoch" and len(rows) == len(epochs) and rows[-1][0] == 20_000
