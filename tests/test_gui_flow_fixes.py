"""A teacher's trial of the window: a map cell opens a fresh run in front, History asks before replacing the
experiment and every view then shows the opened one, empty charts look empty, exports default to the user's folder."""

import pytest
from PySide6 import QtCore, QtWidgets

from engine.experiment import load_section
from engine.experiment_settings import ComparisonSpec, TrainingSettings
from gui.views.main_window import MainWindow
from tests.test_map_gui import click_cell

pytestmark = pytest.mark.gui

SMALL = {"points": 30, "layers": [2, 8, 3], "epochs": 2, "optimizer": "sgd"}


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.runner.shutdown()


def finish_a_run(window, qtbot):
    """Train the small configuration to its end on the Training tab; Run is then disabled."""
    window.experiment.training = load_section(TrainingSettings, SMALL, "training")
    window.tabs.setCurrentWidget(window.training)
    qtbot.waitUntil(lambda: window.training.run_button.isEnabled(), timeout=10000)
    window.training.run()
    qtbot.waitUntil(lambda: window.training.status == "finished", timeout=30000)
    assert not window.training.run_button.isEnabled()


def test_a_map_cell_opens_a_fresh_run_in_the_training_tab_in_front(window, qtbot):
    finish_a_run(window, qtbot)
    window.experiment.comparison = load_section(ComparisonSpec, {"base": SMALL, "vary": []}, "comparison")
    window.tabs.setCurrentWidget(window.compare)
    dialog = window.compare.race.open_map()
    qtbot.waitExposed(dialog)
    dialog.x_axis.n.setValue(3)
    dialog.y_axis.n.setValue(2)
    with qtbot.waitSignal(dialog.finished_map, timeout=30000):
        dialog.run_button.click()
    click_cell(qtbot, dialog, 1, 2)
    assert window.tabs.currentWidget() is window.training
    assert window.experiment.training.to_config().optimizer_params["lr"] == pytest.approx(dialog.result.xs[2])
    qtbot.waitUntil(lambda: window.training.run_button.isEnabled(), timeout=10000)
    assert window.training.step_button.isEnabled()
    text = window.training.panels.status_label.text()
    assert "finished" not in text and "epoch 0/2" in text, text
    assert window.training.panels.lr_chart.plot.viewRange()[1] == [0, 1]  # the old run's lr axis is gone
    # still open, and no longer tied above the window: the window came forward over it
    assert dialog.isVisible() and dialog.windowHandle().transientParent() is None
    assert QtWidgets.QApplication.activeWindow() is window
    click_cell(qtbot, dialog, 0, 0)  # restored, it opens another cell
    assert window.experiment.training.to_config().optimizer_params["lr"] == pytest.approx(dialog.result.xs[0])
    window.grab().save("/tmp/shots/map_cell.png")
    dialog.close()


def test_opening_from_history_asks_first_then_every_view_shows_only_the_opened_run(window, qtbot, monkeypatch):
    from engine.experiment import Experiment

    c = window.compare
    c.base_form.points.setValue(30)
    c.base_form.epochs.setValue(2)
    c.field1.setCurrentText("optimizer")
    c.values1.setText("sgd,adam")
    with qtbot.waitSignal(c.finished, timeout=60000):
        c.start()
    assert c.table.rowCount() == 2 and "optimizer" in c.loss_chart.plot.titleLabel.text
    finish_a_run(window, qtbot)
    landscape = window.training.landscape
    landscape.charts.map_plot.setTitle("random plane around epoch 2")  # as a computed landscape leaves it
    opened = Experiment()
    opened.training = load_section(TrainingSettings, {**SMALL, "epochs": 3}, "training")
    opened.results.training = window.experiment.results.training  # a stored run, as History reopens one
    opened.tab = 1
    window.training.form.epochs.setValue(5)  # an unsaved change
    asked = []
    answer = QtWidgets.QMessageBox.StandardButton.Cancel
    monkeypatch.setattr(QtWidgets.QMessageBox, "question", lambda *a, **k: asked.append(a[1]) or answer)
    assert window.has_unsaved_settings()
    assert window.open_from_history(opened) is False
    assert len(asked) == 1 and window.experiment.training.epochs == 5 and c.table.rowCount() == 2
    answer = QtWidgets.QMessageBox.StandardButton.Discard
    assert window.open_from_history(opened) is True and len(asked) == 2
    assert window.experiment.training.epochs == 3 and window.tabs.currentWidget() is window.training
    # the comparison tab shows the opened experiment's (no) comparison: no curves, no table, a plain title
    assert c.table.rowCount() == 0 and c.loss_chart.plot.listDataItems() == []
    assert c.loss_chart.plot.titleLabel.text == "loss"
    # the training tab: the reopened run is said to be restored, and Run (a new run) is available
    t = window.training
    assert "restored" in t.panels.status_label.text() and t.run_button.isEnabled()
    assert "batch 1 / 1" not in t.panels.progress.text()
    # the landscape: empty and untitled
    assert not landscape.charts.map_plot.titleLabel.isVisible() or landscape.charts.map_plot.titleLabel.text == ""
    assert not window.has_unsaved_settings()
    window.grab().save("/tmp/shots/history_open.png")
    # opening it again with nothing changed asks nothing
    assert window.open_from_history(opened) is True and len(asked) == 2


def label_inside(canvas, plot, side) -> bool:
    """Whether the axis title ``side`` of ``plot`` is drawn wholly inside ``canvas``'s visible area."""
    label = plot.getAxis(side).label
    rect = canvas.mapFromScene(label.sceneBoundingRect()).boundingRect()
    return label.isVisible() and canvas.viewport().rect().contains(rect)


def full_height(widget) -> bool:
    return widget.sizeHint().height() >= 20 and widget.height() >= widget.sizeHint().height()


def test_default_size_keeps_rate_boxes_whole_and_axis_labels_visible(window, qtbot):
    from gui.views.map_dialog import MapDialog
    from gui.views.tune_dialog import SurfaceTuneDialog

    window.resize(1500, 920)
    window.tabs.setCurrentWidget(window.compare)
    race = window.compare.race
    qtbot.wait(50)
    assert full_height(race.lr_min) and full_height(race.lr_max)
    map_dialog = MapDialog("training", lambda: window.experiment.comparison.base, lambda s: None, window)
    map_dialog.show()
    qtbot.waitExposed(map_dialog)
    for box in (map_dialog.x_axis.low, map_dialog.x_axis.high, map_dialog.y_axis.low, map_dialog.tol):
        assert full_height(box)
    map_dialog.close()
    tune = SurfaceTuneDialog(window.surface.controls.read_settings, lambda s: None, window)
    tune.show()
    qtbot.waitExposed(tune)
    assert full_height(tune.lr_min) and full_height(tune.lr_max)
    tune.close()
    window.tabs.setCurrentWidget(window.training)
    landscape = window.training.landscape
    landscape.enabled.setChecked(True)
    qtbot.wait(100)
    charts = landscape.charts
    for plot in (charts.map_plot, charts.ratio_chart.plot, charts.line_chart.plot):
        assert label_inside(landscape.canvas, plot, "bottom"), plot.getAxis("bottom").labelText
    assert "x0.001" not in charts.map_plot.getAxis("bottom").labelString()
    window.grab().save("/tmp/shots/training_landscape.png")


def test_the_sidebar_sweep_chart_keeps_its_legend_off_the_curves_and_its_axes_visible(window, qtbot):
    window.resize(1500, 920)
    window.experiment.comparison = load_section(
        ComparisonSpec,
        {
            "base": SMALL,
            "vary": [{"field": "optimizer", "values": ["sgd", "adam"]}],
            "tuning": {"lr_min": 0.001, "lr_max": 1.0, "points": 3},
        },
        "comparison",
    )
    window.tabs.setCurrentWidget(window.compare)
    race = window.compare.race
    with qtbot.waitSignal(race.tuned, timeout=60000):
        race.tune_button.click()
    qtbot.wait(50)
    plot, canvas = race.chart.plot, race.plot_widget
    legend = race.chart.legend
    assert legend.isVisible() and len(legend.items) == 2  # one entry per optimizer
    assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect())  # beside the data, not over it
    assert label_inside(canvas, plot, "bottom") and label_inside(canvas, plot, "left")
    assert race.plot_widget.height() >= race.plot_widget.minimumHeight() >= 300
    race.grab().save("/tmp/shots/race.png")


def test_charts_before_any_data_are_clean_and_empty(window):
    panels, compare = window.training.panels, window.compare.panels
    plots = [panels.twin.plot, panels.lr_chart.plot, compare.loss_chart.plot, compare.lr_chart.plot]
    for plot in plots:
        assert plot.listDataItems() == [] or all(len(i.xData or []) == 0 for i in plot.listDataItems())
        for side in ("bottom", "left"):
            assert "(x" not in plot.getAxis(side).labelString()  # no "(x0.001)" scale on an empty axis
        (x0, x1), (y0, y1) = plot.viewRange()
        assert (x0, x1, y0, y1) == (0, 10, 0, 1)
    panels.log_loss.setChecked(True)  # a log axis with no data shows whole decades, not a lone 2…9 decade
    assert panels.twin.plot.viewRange()[1] == [-3, 0]


def test_an_animation_defaults_to_the_users_pictures_folder_in_full(window, tmp_path, monkeypatch):
    from gui.views.animation_dialog import AnimationDialog

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.delenv("XDG_PICTURES_DIR", raising=False)

    def dialog():
        d = AnimationDialog(window, window.runner, "training", 10, lambda *a: None)
        d.deleteLater()
        return d.path.text()

    assert dialog() == str(tmp_path / "training.gif")  # no Pictures or Documents folder: the home folder
    (tmp_path / "Pictures").mkdir()
    assert dialog() == str(tmp_path / "Pictures" / "training.gif")
    (tmp_path / "Pictures" / "training.gif").write_bytes(b"GIF89a")
    assert dialog() == str(tmp_path / "Pictures" / "training-2.gif")  # an earlier export is never overwritten
