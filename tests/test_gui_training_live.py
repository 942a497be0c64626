"""The training tab while a job runs: what is redrawn, when, and how little (issue 14: the window keeps up)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import job_snapshots

from engine.training.config import TrainConfig
from engine.training.jobs import Pace
from gui.charts.history_columns import HistoryColumns
from gui.charts.images import ConfusionMatrix, ImageGrid
from gui.views import training_live
from gui.views.training_live import LiveCharts
from gui.views.training_panels import TrainingPanels

SMALL = replace(TrainConfig(), points=60, epochs=6)


@pytest.fixture(scope="module")
def snapshots():
    """A real run's snapshots: the ready one, then one per batch and per epoch."""
    return job_snapshots(SMALL)


@pytest.fixture
def panels(qtbot):
    p = TrainingPanels()
    qtbot.addWidget(p)
    p.resize(1100, 600)
    p.show()
    return p


def drawn_epochs(panels):
    xs = panels.twin.curves["train loss"].getData()[0]
    return [] if xs is None else [int(x) for x in xs]


class CountingRecord:
    """An EpochRecord stand-in that counts how often its fields are read."""

    reads = 0

    def __init__(self, epoch):
        self._values = {"epoch": epoch, "train_loss": 1.0 / (epoch + 1), "test_loss": None, "lr": 0.1}

    def __getattr__(self, name):
        CountingRecord.reads += 1
        return self._values.get(name)


def test_history_columns_convert_only_the_new_records():
    history = [CountingRecord(e) for e in range(1000)]
    columns = HistoryColumns()
    columns.update(history[:990])
    first = columns.column("train_loss")
    CountingRecord.reads = 0
    assert columns.update(history) == 1000
    assert CountingRecord.reads == 10 * len(columns.columns)  # ten new records, not a thousand
    np.testing.assert_array_equal(columns.column("epoch"), np.arange(1000))
    assert np.isnan(columns.column("test_loss")).all() and (columns.column("lr") == 0.1).all()
    assert len(first) == 990 and first[-1] == 1 / 990  # a view handed out before keeps its values
    fresh = [CountingRecord(e) for e in range(3)]  # another run: other record objects, start afresh
    assert columns.update(fresh) == 3 and list(columns.column("epoch")) == [0, 1, 2]
    assert columns.update([]) == 0 and columns.column("epoch").size == 0


def test_live_charts_redraw_only_when_something_new_arrived(panels, snapshots, qtbot, monkeypatch):
    monkeypatch.setattr(training_live, "CHART_MS", 0)  # every snapshot is due: what is drawn depends on news alone
    live = LiveCharts(panels, Pace())
    ready = snapshots[1]

    def show(s):
        live.show(s, "running")
        qtbot.wait(5)  # the event loop runs between snapshots, as it does in the window

    show(ready)
    assert live.frames == 1 and drawn_epochs(panels) == [0]
    assert panels.decision.image.image is not None  # the side panel comes in the loop's next turn
    show(ready)  # the same state again: nothing to draw
    batches = [s for s in snapshots[2:] if s.records == 1 and s.visuals is ready.visuals]
    for s in batches:  # batches of epoch 1: no new record, no new visuals
        show(s)
    assert live.frames == 1 and len(batches) >= 5
    end = next(s for s in snapshots if s.records == 2)
    show(end)
    assert live.frames == 2 and drawn_epochs(panels) == [0, 1]


def test_a_snapshot_that_arrives_too_soon_is_drawn_within_chart_ms(panels, snapshots, qtbot, monkeypatch):
    monkeypatch.setattr(training_live, "CHART_MS", 150)
    live = LiveCharts(panels, Pace())
    live.show(snapshots[1], "running")  # drawn: the first
    later = snapshots[-1]
    live.show(later, "running")  # too soon: left for the timer, not lost when no other snapshot comes
    assert drawn_epochs(panels) == [0]
    qtbot.waitUntil(lambda: drawn_epochs(panels) == list(range(SMALL.epochs + 1)), timeout=2000)
    qtbot.waitUntil(lambda: panels.decision_plot.titleLabel.text.endswith(f"epoch {SMALL.epochs}"), timeout=2000)
    assert live.frames == 2


def test_the_epoch_axis_spans_the_planned_epochs_while_a_run_grows(panels, snapshots):
    panels.draw(snapshots[1])
    lo, hi = panels.twin.plot.vb.viewRange()[0]
    assert lo <= 0 and SMALL.epochs <= hi <= SMALL.epochs * 1.1  # 0…6 from the first record on
    panels.draw(snapshots[-1])
    assert panels.twin.plot.vb.viewRange()[0] == [lo, hi]  # the axis did not move as the curves grew
    assert panels.lr_chart.plot.vb.viewRange()[0] == [lo, hi]  # the learning-rate chart shares it
    panels.clear()
    panels.draw_history(snapshots[-1].history[:3])  # a drawn history outside a run: auto-range
    assert panels.twin.plot.vb.viewRange()[0][1] < SMALL.epochs


def records(test: bool):
    t = 0.9 if test else None
    return [SimpleNamespace(epoch=e, train_loss=1.0, test_loss=t, train_acc=0.5, test_acc=t, lr=0.1) for e in (0, 1)]


def test_the_legend_stays_while_the_chart_is_empty(panels):
    names = lambda: {label.text for _, label in panels.twin.legend.items}  # noqa: E731
    everything = {"train loss", "test loss", "train accuracy", "test accuracy"}
    assert names() == everything  # listed before the first run: no relayout when its data arrive
    panels.draw_history(records(test=True))
    panels.clear()
    assert names() == everything  # kept for the next run
    panels.draw_history(records(test=False))
    assert names() == {"train loss", "train accuracy"}  # a run without a test split lists no test curves
    panels.draw_history(records(test=True))
    assert names() == everything


def test_clear_shows_the_coming_runs_panel_empty(panels, snapshots):
    panels.draw(snapshots[-1])
    assert panels.decision.image.image is not None and sum(len(item.points()) for item in panels.decision.points) == 180
    panels.clear("decision")
    assert panels.side.currentWidget() is panels.decision_canvas
    assert panels.decision.image.image is None and sum(len(item.points()) for item in panels.decision.points) == 0
    assert panels.decision_plot.titleLabel.text == "decision regions"
    panels.clear("images")
    assert panels.side.currentWidget() is panels.image_canvas and panels.samples_plot.isVisible()
    panels.clear("confusion")
    assert panels.side.currentWidget() is panels.image_canvas and not panels.samples_plot.isVisible()
    panels.clear(None)
    assert panels.side.currentWidget() is panels.empty


def texts(items):
    return [(t.textItem.toPlainText(), t.color.name()) for t in items if t.isVisible()]


def test_the_confusion_matrix_redraws_changed_cells(qtbot):
    import pyqtgraph as pg

    canvas = pg.GraphicsLayoutWidget()
    qtbot.addWidget(canvas)
    chart = ConfusionMatrix(canvas.addPlot())
    chart.set_matrix(np.array([[5, 1], [0, 4]]), ["cat", "dog"])
    assert texts(chart.texts) == [("5", "#ffffff"), ("1", "#222222"), ("0", "#222222"), ("4", "#ffffff")]
    chart.set_matrix(np.array([[2, 4], [0, 4]]), ["cat", "dog"])
    assert texts(chart.texts) == [("2", "#222222"), ("4", "#ffffff"), ("0", "#222222"), ("4", "#ffffff")]
    assert chart.plot.getAxis("bottom")._tickLevels == [[(0, "cat"), (1, "dog")]]
    chart.set_matrix(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), ["a", "b", "c"])  # other labels: new axes
    assert [t for t, _ in texts(chart.texts)] == ["1", "0", "0", "0", "1", "0", "0", "0", "1"]
    assert chart.plot.getAxis("left")._tickLevels == [[(0, "a"), (1, "b"), (2, "c")]]
    chart.blank()
    assert texts(chart.texts) == [] and chart.image.image is None


def test_the_sample_grid_keeps_its_images_and_updates_its_labels(qtbot):
    import pyqtgraph as pg

    canvas = pg.GraphicsLayoutWidget()
    qtbot.addWidget(canvas)
    grid = ImageGrid(canvas.addPlot())
    images = np.random.RandomState(0).rand(4, 9)
    true = np.array([0, 1, 1, 0])
    grid.set_samples(images, true, np.array([0, 1, 0, 0]), (3, 3), ["no", "yes"])
    mosaic = grid.image.image.copy()
    assert texts(grid.texts) == [
        ("no/no", "#1a6e1a"),
        ("yes/yes", "#1a6e1a"),
        ("no/yes", "#d00000"),
        ("no/no", "#1a6e1a"),
    ]
    grid.set_samples(images.copy(), true, np.array([1, 1, 1, 0]), (3, 3), ["no", "yes"])
    assert texts(grid.texts) == [
        ("yes/no", "#d00000"),
        ("yes/yes", "#1a6e1a"),
        ("yes/yes", "#1a6e1a"),
        ("no/no", "#1a6e1a"),
    ]
    np.testing.assert_array_equal(grid.image.image, mosaic)
    assert np.isfinite(grid.frames.getData()[0]).sum() == 5  # one red frame: the one wrong prediction
    grid.set_samples(1 - images, true, true, (3, 3), ["no", "yes"])  # other images: a new mosaic
    assert not np.array_equal(grid.image.image, mosaic)


def test_the_status_line_follows_at_most_every_status_ms_but_a_new_state_at_once(panels, snapshots, monkeypatch):
    monkeypatch.setattr(training_live, "STATUS_MS", 10_000)
    monkeypatch.setattr(training_live, "CHART_MS", 10_000)
    live = LiveCharts(panels, Pace())
    batches = [s for s in snapshots if s.status == "running" and s.batch > 0][:3]
    live.show(batches[0], "running")
    assert panels.progress.value() == batches[0].batch
    live.show(batches[1], "running")  # too soon: the status line waits
    assert panels.progress.value() == batches[0].batch
    live.show(batches[2], "paused")  # a new state is shown at once, with the newest numbers
    assert panels.progress.value() == batches[2].batch and "<b>paused</b>" in panels.status_label.text()
    live.show(batches[1], "paused")
    live.draw()  # a chart redraw brings the status line up to date too
    assert panels.progress.value() == batches[1].batch
