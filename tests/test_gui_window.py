import json

import pytest
from PySide6 import QtCore, QtWidgets

from gui.views.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.surface.paths), timeout=10000)
    yield w
    w.training.shutdown()
    w.compare.shutdown()


def test_three_views_and_menus(window):
    assert [window.tabs.tabText(i) for i in range(3)] == ["Loss surface", "Training", "Comparison"]
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus == ["&File", "&Run", "&View", "&Help"]
    assert window.save_action.shortcut().toString() == "Ctrl+S"
    assert window.export_action.shortcut().toString() == "Ctrl+E"
    assert window.play_action.shortcut().toString() == "Space"
    assert window.step_action.shortcut().toString() == "Right"


def test_keyboard_shortcuts_drive_the_current_view(window, qtbot):
    window.activateWindow()
    window.surface.timeline.setValue(0)
    window.canvas_focus = window.surface.canvas.setFocus()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Right)
    assert window.surface.timeline.value() == 1
    window.play_pause()
    assert window.surface._anim.isActive()
    window.play_pause()
    assert not window.surface._anim.isActive()


def test_comparison_runs_in_background_with_grid_and_table(window, qtbot, tmp_path):
    form = window.training.form
    form.points.setValue(60)
    form.epochs.setValue(4)
    c = window.compare
    c.field1.setCurrentText("momentum")
    c.values1.setText("0,0.5")
    c.field2.setCurrentText("lr")
    c.values2.setText("0.1,0.01")
    c.seeds.setText("1,2")
    with qtbot.waitSignal(c.finished, timeout=60000) as blocker:
        c.start()
    assert blocker.args == ["finished"]
    assert len(c.results) == 8 and c.table.rowCount() == 4
    assert len(c.grid_plots) == 4
    assert len(c.loss_chart.curves) == 4 and len(c.loss_chart.bands) == 4  # mean curve and seed band each
    assert all(r.history[0].train_loss == c.results[0].history[0].train_loss for r in c.results if r.seed == 1)
    window.tabs.setCurrentWidget(c)
    files = {p.name for p in window.export_all(tmp_path / "cmp")}
    assert {"compare_loss.png", "compare_loss.svg", "compare_loss.csv", "summary.csv"} <= files


def test_presets_set_the_base_and_fields(window):
    c = window.compare
    c._preset(c.preset.findText("Optimizer × learning rate grid (iris)"))
    assert window.training.form.dataset.currentData() == "iris"
    assert c.field1.currentText() == "optimizer" and c.field2.currentText() == "lr"
    c._preset(1)
    assert window.training.form.dataset.currentData() == "spiral" and c.values1.text() == "0,0.1,0.2,0.4,0.5"


def test_bad_comparison_input_is_inline(window):
    window.compare.values1.setText("0,2")
    window.compare.start()
    assert window.compare.error.isVisibleTo(window.compare) and "out of range" in window.compare.error.text()


def test_save_and_open_experiment_reproduces_settings(window, qtbot, tmp_path):
    window.training.form.seed.setValue(7)
    window.training.form.optimizer.set_current("adam", {"lr": 0.003})
    window.surface.add_start((0.25, -1.0))
    path = window.save_to(tmp_path / "exp.json")
    saved = json.loads(path.read_text())
    assert saved["training"]["seed"] == 7 and saved["training"]["optimizer_params"]["lr"] == 0.003
    other = MainWindow(QtCore.QSettings(str(tmp_path / "other.ini"), QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(other)
    assert other.open_path(path)
    qtbot.waitUntil(lambda: other.surface.starts == [(0.25, -1.0)], timeout=5000)
    assert other.training.form.config() == window.training.form.config()
    assert other.recent_files()[0] == str(path)
    other.training.shutdown()
    other.compare.shutdown()


def test_bad_experiment_file_warns_and_keeps_state(window, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    before = window.experiment()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert not window.open_path(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    assert not window.open_path(other)
    assert len(warnings) == 2 and "not a Descent Lab experiment" in warnings[1]
    assert window.experiment() == before


def test_settings_and_layout_are_remembered(qtbot, tmp_path):
    ini = str(tmp_path / "remember.ini")
    w = MainWindow(QtCore.QSettings(ini, QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.training.form.epochs.setValue(42)
    w.tabs.setCurrentIndex(2)
    w.close()
    again = MainWindow(QtCore.QSettings(ini, QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.training.form.epochs.value() == 42 and again.tabs.currentIndex() == 2
    again.close()
