"""How often the training tab paints its curves while a job runs (issue 14: every paint holds the GIL that the
training thread needs, so a redraw of new epochs is painted once, not twice)."""

from __future__ import annotations

from dataclasses import replace

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
