"""The window's side of sweeps: "Run on" with a runs done/running/failed progress bar, every finished run in the
run store, small multiples over two chosen fields when more vary, and History reopening sweeps and runs."""

import pytest
from PySide6 import QtCore
from pytestqt.qtbot import QtBot

from engine.experiment import Experiment
from engine.sweep.store import RunStore
from gui.views import run_on
from gui.views.history_view import HistoryDialog, HistoryView
from gui.views.main_window import MainWindow
from main import main


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "store.sqlite"
    monkeypatch.setenv("DESCENT_LAB_STORE", str(path))
    return path


@pytest.fixture
def window(qtbot: QtBot, tmp_path, store):
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    w.runner.shutdown()


def _run(window, qtbot):
    c = window.compare
    c.base_form.points.setValue(60)
    c.base_form.epochs.setValue(3)
    c.field1.setCurrentText("momentum")
    c.values1.setText("0,0.5")
    c.field2.setCurrentText("lr")
    c.values2.setText("0.1,0.01")
    c.seeds.setText("1,2")
    with qtbot.waitSignal(c.finished, timeout=60000) as done:
        c.start()
    assert done.args == ["finished"]
    return c


def test_run_on_this_machine_shows_runs_done_and_stores_every_run(window, qtbot, store):
    c = _run(window, qtbot)
    assert c.run_on.choice() == ("local", None)
    assert c.progress.text() == "8 of 8 runs done · 0 running"
    assert c.progress.value() == c.progress.maximum() == 8 * 3  # epochs, summed over runs
    with RunStore(store) as s:
        (sweep,) = s.sweeps()
        assert (sweep.status, sweep.planned, sweep.stored, sweep.backend) == ("finished", 8, 8, "local")
        stored = {(tuple(r.result.label.items()), r.result.seed): r.result.history[-1].train_loss for r in s.runs()}
    shown = {(tuple(r.label.items()), r.seed): r.history[-1].train_loss for r in c.results}
    assert stored == shown


def test_run_on_a_ray_cluster_takes_an_address_and_says_how_to_install_ray(qtbot, monkeypatch):
    box = run_on.RunOnBox()
    qtbot.addWidget(box)
    assert not box.address.isEnabled()
    box.where.setCurrentIndex(1)
    assert box.address.isEnabled() and box.choice() == ("ray", None)  # blank: a local Ray
    box.address.setText(" 10.0.0.5:6379 ")
    assert box.choice() == ("ray", "10.0.0.5:6379")
    monkeypatch.setattr(run_on, "ray_installed", lambda: False)
    bare = run_on.RunOnBox()
    qtbot.addWidget(bare)
    item = bare.where.model().item(1)
    assert not item.isEnabled() and item.toolTip() == 'Ray is not installed: pip install -e ".[cluster]"'


def test_three_fields_table_has_every_field_and_the_grid_takes_the_chosen_two(window, qtbot, tmp_path):
    out = tmp_path / "o"
    vary = ["--vary", "lr=0.1,0.01", "--vary", "momentum=0,0.5,0.9", "--vary", "batch_size=10,20"]
    assert main(["compare", "--points", "60", "--epochs", "2", *vary, "--out", str(out)]) == 0
    window.open_path(out / "experiment.json")
    panels = window.compare.panels
    headers = [panels.table.horizontalHeaderItem(i).text() for i in range(panels.table.columnCount())]
    assert headers[:3] == ["lr", "momentum", "batch size"] and panels.table.rowCount() == 12
    chooser = panels.grid_pair
    assert not chooser.isHidden() and (chooser.rows.currentText(), chooser.cols.currentText()) == ("lr", "momentum")
    assert len(panels.grid_plots) == 2 * 3
    assert all(len(cell) == 2 for cell in panels.grid_cells.values())  # a curve per batch size in each panel
    chooser.rows.setCurrentText("batch_size")
    chooser.rows.activated.emit(chooser.rows.currentIndex())
    chooser.cols.setCurrentText("lr")
    chooser.cols.activated.emit(chooser.cols.currentIndex())
    assert panels.grid_args[3] == "train loss: batch_size (rows) × lr (columns)"
    assert set(panels.grid_cells) == {(f"batch_size={b}", f"lr={lr}") for b in ("10", "20") for lr in ("0.1", "0.01")}
    assert all(len(cell) == 3 for cell in panels.grid_cells.values())  # a curve per momentum
    colours = {s["colour"] for s in panels.grid_cells[("batch_size=10", "lr=0.1")]}
    assert len(colours) == 3
    # the controls show the third field, and editing another control keeps it
    c = window.compare
    assert c.more.line.text() == "batch_size=10,20" and c.more.sample.value() == 0
    c.base_form.epochs.setValue(4)
    assert [v.field for v in window.experiment.comparison.vary] == ["lr", "momentum", "batch_size"]
    c.more.line.setText("batch_size=10,20; activation=relu,tanh")
    c.more.sample.setValue(5)
    spec = window.experiment.comparison
    assert [v.field for v in spec.vary][2:] == ["batch_size", "activation"] and spec.sample == 5
    assert len(spec.to_comparison().runs()) == 5
    c.more.line.setText("batch_size")
    assert not c.error.isHidden() and "More fields" in c.error.text()
    assert [v.field for v in window.experiment.comparison.vary][2:] == ["batch_size", "activation"]  # kept


def test_history_lists_sweeps_and_reopens_a_sweep_and_a_run(window, qtbot, store):
    c = _run(window, qtbot)
    window.apply_experiment(Experiment())  # something else is open now
    assert window.experiment.results.comparison is None
    dialog = HistoryDialog(window, window.apply_experiment)
    qtbot.addWidget(dialog)
    view = dialog.view
    assert view.tree.topLevelItemCount() == 1
    sweep = view.tree.topLevelItem(0)
    assert [sweep.text(i) for i in (0, 2, 3, 4)] == ["sweep 1", "local", "finished", "8/8"]
    assert sweep.text(6) == "momentum=0,0.5; lr=0.1,0.01; seeds 1,2" and sweep.childCount() == 8
    view.tree.setCurrentItem(sweep)
    view.open_selected()
    assert window.tabs.currentIndex() == 2 and len(window.compare.results) == 8
    assert [v.field for v in window.experiment.comparison.vary] == ["momentum", "lr"]
    assert window.compare.values1.text() == "0,0.5" and window.compare.seeds.text() == "1,2"
    run = sweep.child(0)
    view.tree.setCurrentItem(run)
    view.open_selected()
    assert window.tabs.currentIndex() == 1
    result = window.experiment.results.training
    with RunStore(store) as s:
        stored = s.run(int(run.text(0).split()[1])).result
    assert [h["train_loss"] for h in result.history] == [h.train_loss for h in stored.history]
    assert window.experiment.training.to_config() == stored.config
    assert c is window.compare


def test_history_without_a_store_says_so(qtbot, tmp_path):
    view = HistoryView(tmp_path / "none.sqlite")
    qtbot.addWidget(view)
    assert view.tree.topLevelItemCount() == 0 and not view.open_button.isEnabled()
    assert view.error.text() == "No runs yet: every comparison you run is kept here."


def test_history_menu_entry_exists(window):
    assert window.history_action.text() == "&History…"
    assert window.history_action.shortcut().toString() == "Ctrl+H"


def test_stop_keeps_the_curves_so_far_and_stores_only_finished_runs(window, qtbot, store):
    c = window.compare
    c.base_form.points.setValue(100)
    c.base_form.epochs.setValue(3000)
    c.field1.setCurrentText("lr")
    c.values1.setText("0.1,0.05")
    c.field2.setCurrentText("(none)")
    c.seeds.setText("1,2")
    with qtbot.waitSignal(c.finished, timeout=60000) as done:
        c.start()
        qtbot.waitUntil(lambda: len(c.results) == 2 and len(c.results[0].history) > 3, timeout=30000)
        c.worker_stop()
    assert done.args == ["stopped"]
    assert len(c.results) == 2 and all(1 < len(r.history) < 3001 for r in c.results)  # the first group, part-way
    assert c.progress.text().startswith("0 of 4 runs done")
    with RunStore(store) as s:
        (sweep,) = s.sweeps()
        assert sweep.status == "stopped" and s.runs() == []


def _stored_sweep(path, n=3):
    """A store holding one sweep of ``n`` runs written through RunStore (no training)."""
    from engine.training.compare import RunResult
    from engine.training.config import TrainConfig
    from engine.training.records import EpochRecord

    with RunStore(path) as s:
        sweep = s.begin_sweep({"vary": [{"field": "lr", "values": ["0.1"]}], "seeds": list(range(n))}, "local", n)
        for seed in range(n):
            cfg = TrainConfig(points=40, epochs=1, seed=seed).validated()
            history = [
                EpochRecord(0, 1.0, None, 0.3, None, 0.1, 0.5, 0.0),
                EpochRecord(1, 0.5 + seed, None, 0.5, None, 0.1, 0.4, 0.01),
            ]
            s.add_run(sweep, RunResult({"lr": "0.1"}, seed, cfg, history, "fused", 0.1), "local")
    return sweep


def test_history_lists_summaries_and_reads_a_run_only_when_opened(qtbot, tmp_path):
    import sqlite3

    path = tmp_path / "s.sqlite"
    _stored_sweep(path)
    with sqlite3.connect(str(path)) as db:
        db.execute("UPDATE runs SET history = 'not json' WHERE id = 2")  # damaged: only opening it reads it
    view = HistoryView(path)
    qtbot.addWidget(view)
    sweep = view.tree.topLevelItem(0)
    assert sweep.childCount() == 3 and sweep.text(4) == "3/3" and sweep.text(6) == "lr=0.1; seeds 0,1,2"
    assert [sweep.child(k).text(5) for k in range(3)] == ["0.5", "1.5", "2.5"] and view.error.isHidden()
    opened = []
    view.opened.connect(opened.append)
    view.tree.setCurrentItem(sweep.child(1))
    view.open_selected()
    assert not opened and "run 2 in the run store is damaged" in view.error.text()
    view.tree.setCurrentItem(sweep.child(2))
    view.open_selected()
    assert len(opened) == 1 and opened[0].results.training.records()[-1].train_loss == 2.5


def test_history_reads_while_a_sweep_holds_the_store(qtbot, tmp_path):
    import sqlite3

    path = tmp_path / "s.sqlite"
    _stored_sweep(path, 2)
    writer = sqlite3.connect(str(path), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a comparison writing its next run
    try:
        view = HistoryView(path)
        qtbot.addWidget(view)
        assert view.tree.topLevelItem(0).childCount() == 2 and view.error.isHidden()
    finally:
        writer.close()
