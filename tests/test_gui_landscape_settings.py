"""The landscape panel's settings live in the experiment (saved, reopened), and its three-point plane's two
epochs are the user's choice, bounded by the epochs recorded."""

import json

import pytest
from PySide6 import QtCore

from engine.experiment import Experiment, experiment_from_dict, experiment_to_dict, load_experiment
from engine.experiment_landscape import MIDDLE, LandscapeSettings
from gui.views.main_window import MainWindow
from gui.views.training_view import TrainingView


def _window(qtbot, tmp_path, name):
    settings = QtCore.QSettings(str(tmp_path / f"{name}.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    return w


def _controls(panel) -> tuple:
    return (
        panel.enabled.isChecked(),
        panel.plane.currentData(),
        panel.every.value(),
        panel.grid.value(),
        panel.first.value(),
        panel.second.value(),
        panel.first.isVisibleTo(panel),
    )


def test_panel_settings_are_saved_and_restored_on_open(qtbot, tmp_path):
    w = _window(qtbot, tmp_path, "a")
    panel = w.training.landscape
    assert _controls(panel)[:6] == (False, "random", 10, 31, 0, MIDDLE)  # the defaults
    panel.every.setValue(3)
    panel.grid.setValue(11)
    panel.plane.setCurrentIndex(panel.plane.findData("three"))
    panel.first.setValue(2)
    panel.second.setValue(7)
    panel.enabled.setChecked(True)  # no run yet: it says so and computes nothing
    assert w.experiment.landscape == LandscapeSettings(
        shown=True, plane="three", every=3, grid=11, first_epoch=2, second_epoch=7
    )
    path = w.save_to(tmp_path / "exp.json")
    saved = json.loads(path.read_text())["landscape"]
    assert saved == {"shown": True, "plane": "three", "every": 3, "grid": 11, "first_epoch": 2, "second_epoch": 7}
    w.runner.shutdown()

    other = _window(qtbot, tmp_path, "b")
    assert _controls(other.training.landscape)[0] is False
    assert other.open_path(path)
    assert _controls(other.training.landscape) == (True, "three", 3, 11, 2, 7, True)
    other.training.landscape.plane.setCurrentIndex(0)  # random: the epoch choices are hidden again
    assert not other.training.landscape.first.isVisibleTo(other.training.landscape)
    assert other.experiment.landscape.plane == "random"
    other.runner.shutdown()


def test_files_without_landscape_settings_open_with_the_defaults_and_bad_ones_are_named():
    doc = experiment_to_dict(Experiment())
    del doc["landscape"]
    assert experiment_from_dict(doc).landscape == LandscapeSettings()
    v1 = {"descent_lab_experiment": 1, "surface": {}, "training": {}, "tab": 0}
    assert load_experiment(v1).landscape == LandscapeSettings()
    doc["landscape"] = {"grid": 500}
    with pytest.raises(Exception) as err:
        experiment_from_dict(doc)
    assert err.value.field == "landscape.grid" and "500" in err.value.message
    doc["landscape"] = {"first_epoch": 3, "second_epoch": 3}
    with pytest.raises(Exception) as err:
        experiment_from_dict(doc)
    assert err.value.field == "landscape.second_epoch"


@pytest.fixture
def view(qtbot):
    v = TrainingView()
    qtbot.addWidget(v)
    v.resize(1300, 1000)
    v.show()
    yield v
    v.shutdown()


def test_three_point_plane_through_the_two_chosen_epochs_and_now(view, qtbot):
    view.form.points.setValue(60)
    view.form.epochs.setValue(6)
    panel = view.landscape
    panel.grid.setValue(7)
    view.run()
    qtbot.waitUntil(lambda: view.status == "finished" and view._job is None, timeout=30000)
    assert (panel.first.maximum(), panel.second.maximum()) == (5, 5)  # bounded by the epochs recorded (0..6)
    assert panel.second.minimum() == MIDDLE and panel.second.text() == "and the middle epoch"
    panel.enabled.setChecked(True)
    panel.plane.setCurrentIndex(panel.plane.findData("three"))
    qtbot.waitUntil(lambda: panel.charts.landscape is not None and panel.job is None, timeout=20000)
    qtbot.waitUntil(lambda: panel.charts.landscape.plane == "three", timeout=20000)
    assert panel.charts.landscape.plane_epochs == [0, 3, 6]  # by default: the start, the middle and now
    panel.first.setValue(1)
    panel.second.setValue(4)
    qtbot.waitUntil(lambda: panel.job is None and panel.charts.landscape.plane_epochs == [1, 4, 6], timeout=20000)
    ls = panel.charts.landscape
    assert ls.projection.off_plane[[1, 4, 6]].max() < 1e-9 * ls.projection.distance.max()  # on the plane
    assert ls.projection.off_plane[[0, 2]].min() > 1e-6 * ls.projection.distance.max()  # the others are not
    assert panel.charts.map_plot.titleLabel.text.startswith("plane through epochs 1, 4, 6")
    (sx,), (sy,) = panel.charts.path.start.getData()  # the start star: epoch 0, off this plane, projected
    assert (sx, sy) == pytest.approx(tuple(ls.projection.coords[0]))
    assert view.experiment.landscape.first_epoch == 1 and view.experiment.landscape.second_epoch == 4
    panel.second.setValue(1)  # the same epoch twice: no plane, said in words, the saved choice kept
    assert "two" in panel.status.text() and view.experiment.landscape.second_epoch == 4
