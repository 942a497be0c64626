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
    w.runner.shutdown()


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
    c = window.compare
    form = c.base_form  # the comparison's own base
    form.points.setValue(60)
    form.epochs.setValue(4)
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
    assert len(window.experiment.results.comparison.runs) == 8
    window.tabs.setCurrentWidget(c)
    files = {p.name for p in window.export_all(tmp_path / "cmp")}
    assert {"compare_loss.png", "compare_loss.svg", "compare_loss.csv", "summary.csv"} <= files


def test_presets_set_the_comparison_and_never_the_training_tab(window, qtbot):
    c = window.compare
    training_before = window.training.form.config()
    model_before = window.experiment.training.model_dump()
    name = "Optimizer × learning rate grid (iris)"
    c.preset.setCurrentIndex(c.preset.findText(name))
    c._preset(c.preset.findText(name))
    qtbot.wait(500)  # the fields' late echoes of the values just shown
    assert c.preset.currentText() == name  # the combo still says which preset is loaded
    assert c.base_form.dataset.currentData() == "iris"
    assert window.experiment.comparison.base.dataset == "iris"
    assert c.field1.currentText() == "optimizer" and c.field2.currentText() == "lr"
    c._preset(1)
    assert c.base_form.dataset.currentData() == "spiral" and c.values1.text() == "0,0.1,0.2,0.4,0.5"
    assert window.training.form.config() == training_before  # the Training tab is untouched
    assert window.experiment.training.model_dump() == model_before


def test_copy_base_from_training_is_explicit(window):
    window.training.form.epochs.setValue(17)
    assert window.compare.base_form.epochs.value() != 17
    window.compare.copy_base.click()
    assert window.compare.base_form.epochs.value() == 17
    assert window.experiment.comparison.base.epochs == 17


def test_bad_comparison_input_names_the_field(window):
    window.compare.values1.setText("0,2")
    window.compare.start()
    assert window.compare.error.isVisibleTo(window.compare)
    assert "2" in window.compare.error.text() and "--" not in window.compare.error.text()


def test_save_and_open_round_trip_keeps_settings_and_results(window, qtbot, tmp_path):
    window.training.form.seed.setValue(7)
    window.training.form.points.setValue(60)
    window.training.form.epochs.setValue(3)
    window.training.form.optimizer.set_current("adam", {"lr": 0.003})
    with qtbot.waitSignal(window.surface.recomputed, timeout=5000):
        window.surface.add_start((0.25, -1.0))
    window.training.run()
    qtbot.waitUntil(lambda: window.training.status == "finished", timeout=30000)
    path = window.save_to(tmp_path / "exp.json")
    saved = json.loads(path.read_text())
    assert saved["descent_lab_experiment"] == 3
    assert saved["training"]["seed"] == 7 and saved["training"]["optimizer_params"]["lr"] == 0.003
    assert [h["epoch"] for h in saved["results"]["training"]["history"]] == [0, 1, 2, 3]
    other = MainWindow(QtCore.QSettings(str(tmp_path / "other.ini"), QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(other)
    assert other.open_path(path)
    qtbot.waitUntil(lambda: other.surface.starts == [(0.25, -1.0)], timeout=5000)
    assert other.training.form.config() == window.training.form.config()
    # the charts come back from the file, without training
    xs, ys = other.training.twin.curves["train loss"].getData()
    assert list(xs) == [0, 1, 2, 3] and other.training.trainer is None
    assert list(ys) == [h["train_loss"] for h in saved["results"]["training"]["history"]]
    assert other.recent_files()[0] == str(path)
    other.close()


def test_version_1_file_still_opens(window, tmp_path):
    v1 = {
        "descent_lab_experiment": 1,
        "surface": {"function": "rosenbrock", "optimizers": ["adam"], "steps": 40, "starts": []},
        "training": {
            "dataset": "iris",
            "layers": [4, 16, 3],
            "epochs": 12,
            "optimizer": "sgd",
            "optimizer_params": {"lr": 0.05},
        },
        "comparison": {
            "field1": "lr",
            "values1": "0.1,0.01",
            "field2": "(none)",
            "values2": "",
            "seeds": "1,2",
            "target": 0.8,
        },
        "tab": 1,
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(v1))
    assert window.open_path(path)
    assert window.training.form.dataset.currentData() == "iris" and window.training.form.epochs.value() == 12
    assert window.compare.values1.text() == "0.1,0.01" and window.compare.seeds.text() == "1,2"
    assert window.compare.base_form.dataset.currentData() == "iris"
    assert window.tabs.currentIndex() == 1


def test_bad_experiment_file_warns_naming_the_field_and_keeps_state(window, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    before = window.experiment_dict()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert not window.open_path(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    assert not window.open_path(other)
    field = tmp_path / "field.json"
    field.write_text(json.dumps({"descent_lab_experiment": 2, "training": {"batch_size": 1e12}}))
    assert not window.open_path(field)
    assert len(warnings) == 3 and "training.batch_size" in warnings[2] and "1e12" in warnings[2].replace("+", "")
    assert window.experiment_dict() == before


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
    assert again.notice == ""
    again.close()


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff\xfe garbage [General\nlast_experiment=@ByteArray(\x01\x02)\ngeometry=@Rect(",
        b'[General]\nlast_experiment="{\\"descent_lab_experiment\\": 2, \\"training\\": {\\"epochs\\": 0}}"\n',
        b"[General]\nlast_experiment=not json at all\ngeometry=12\nrecent=@Variant(\\0\\0\\0\\x7f)\n",
    ],
)
def test_corrupt_settings_give_defaults_and_a_notice(qtbot, tmp_path, content):
    ini = tmp_path / "corrupt.ini"
    ini.write_bytes(content)
    w = MainWindow(QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    assert w.training.form.epochs.value() == 100  # defaults
    if b"last_experiment" in content and b"epochs" in content or b"not json" in content:
        assert "Could not restore" in w.notice
    w.close()


def test_start_up_process_survives_a_corrupt_settings_file(tmp_path):
    """The real start-up path (main.py), with a damaged settings file: the window opens, no abort."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    home = tmp_path / "home"
    conf = home / ".config" / "Descent Lab"
    conf.mkdir(parents=True)
    (conf / "Descent Lab.conf").write_bytes(b'[General]\nlast_experiment="{\\"descent_lab_experiment\\":9}"\n\x00\x01')
    code = (
        "import sys; from PySide6 import QtCore, QtWidgets; sys.argv=['x'];"
        "app = QtWidgets.QApplication(sys.argv);"
        "QtCore.QTimer.singleShot(1500, app.quit);"
        "from gui.app import run_app; sys.exit(run_app())"
    )
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "QT_QPA_PLATFORM": "offscreen",
           "PYTHONFAULTHANDLER": "1"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert b"Traceback" not in proc.stderr


@pytest.mark.slow
def test_closing_the_window_mid_way_through_a_slow_batch_takes_under_a_second(qtbot, tmp_path):
    """One full batch of a 64-60000-10 network takes seconds; Close still ends every job within 1 s."""
    w = MainWindow(QtCore.QSettings(str(tmp_path / "slow.ini"), QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    form = w.training.form
    form.dataset.setCurrentIndex(form.dataset.findData("digits"))
    form.layers.setText("64,60000,10")
    form.batch_size.setValue(0)  # the whole training set in one batch
    form.epochs.setValue(5)
    w.training.run()
    qtbot.waitUntil(lambda: w.training.status == "running", timeout=60000)
    qtbot.wait(300)  # inside the batch
    start = __import__("time").perf_counter()
    w.close()
    elapsed = __import__("time").perf_counter() - start
    assert elapsed < 1.0
    assert all(not h.thread.is_alive() for h in w.runner.jobs)  # the job itself ended, not only the window


def test_an_optimizer_race_uses_each_optimizers_own_colour(window, qtbot):
    from engine.optimizers import optimizer_colour

    c = window.compare
    c.base_form.points.setValue(60)
    c.base_form.epochs.setValue(2)
    c.field1.setCurrentText("optimizer")
    c.values1.setText("sgd,adam")
    c.field2.setCurrentText("(none)")
    with qtbot.waitSignal(c.finished, timeout=60000):
        c.start()
    drawn = {name: curve.opts["pen"].color().name() for name, curve in c.loss_chart.curves.items()}
    assert drawn == {"sgd": optimizer_colour("sgd"), "adam": optimizer_colour("adam")}
    # the same colour as the surface tab's swatch and path for Adam
    window.surface.set_checked(["adam"])
    qtbot.waitUntil(lambda: [p.optimizer for p in window.surface.paths] == ["adam"], timeout=5000)
    assert window.surface.layer.items[0].line.opts["pen"].color().name() == optimizer_colour("adam")


def test_opening_a_file_during_a_run_keeps_the_files_results(window, qtbot, tmp_path):
    window.training.form.points.setValue(60)
    window.training.form.epochs.setValue(2)
    window.training.run()
    qtbot.waitUntil(lambda: window.training.status == "finished", timeout=30000)
    path = window.save_to(tmp_path / "two.json")
    form = window.training.form
    form.points.setValue(3000)
    form.epochs.setValue(500)
    window.training.run()
    qtbot.waitUntil(lambda: window.training.status == "running", timeout=20000)
    assert window.open_path(path)
    qtbot.wait(500)  # the abandoned run ends meanwhile: it must not write over the opened results
    assert [h["epoch"] for h in window.experiment.results.training.history] == [0, 1, 2]
    assert window.training.status == "finished" and window.training.form.epochs.value() == 2


def test_values_beyond_the_old_widget_ranges_open_unchanged(window, tmp_path):
    doc = {"descent_lab_experiment": 2, "training": {"points": 50000, "noise": 5.0, "l2": 1e-6, "dropout": 0.95,
                                                     "batch_size": 500000, "layers": [2, 50, 3]}}  # fmt: skip
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(doc))
    assert window.open_path(path)
    t = window.experiment.training
    assert (t.points, t.noise, t.l2, t.dropout, t.batch_size) == (50000, 5.0, 1e-6, 0.95, 500000)
    assert window.training.form.config().l2 == 1e-6


def test_training_charts_share_the_epoch_axis_and_log_box(window):
    panels = window.training.panels
    twin, lr = panels.twin.plot, panels.lr_chart.plot
    assert lr.vb.linkedView(lr.vb.XAxis) is twin.vb  # stacked charts: one epoch axis
    panels.log_loss.setChecked(True)
    assert twin.getAxis("left").logMode is True and twin.getAxis("right").logMode is False
    panels.log_loss.setChecked(False)
    assert twin.getAxis("left").logMode is False


def test_comparison_legend_beside_the_loss_chart(window):
    chart = window.compare.loss_chart
    for k in range(18):
        chart.set_series(f"run {k}", [0, 1, 2], [3.0, 2.0, 1.0 + k / 10], "#1f77b4")
    window.tabs.setCurrentWidget(window.compare)
    QtWidgets.QApplication.processEvents()
    assert chart.legend.columnCount == 2
    assert not chart.legend.sceneBoundingRect().intersects(chart.plot.vb.sceneBoundingRect())
