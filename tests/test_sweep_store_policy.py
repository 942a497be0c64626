"""The run store never blocks a comparison: a store that cannot be opened is an error only where the user named
it (--store, --resume), before any data is loaded; otherwise the runs train unstored after one warning line, in
the command line and in the window. --no-store trains without the store."""

import csv

import pytest
from PySide6 import QtCore
from pytestqt.qtbot import QtBot

from engine.jobs import Token
from engine.sweep.session import stored_sweep_job
from engine.training.compare import Comparison
from engine.training.config import TrainConfig
from gui.views.main_window import MainWindow
from main import main

SMALL = ["compare", "--points", "40", "--epochs", "2", "--vary", "lr=0.1,0.05"]


@pytest.fixture
def blocked(tmp_path):
    """A store path that cannot be opened: its folder is a regular file (as a read-only data folder would be)."""
    (tmp_path / "file").write_text("not a folder")
    return tmp_path / "file" / "runs.sqlite"


def test_an_unopenable_default_store_warns_once_and_the_comparison_runs(tmp_path, blocked, monkeypatch, capsys):
    monkeypatch.setenv("DESCENT_LAB_STORE", str(blocked))
    assert main([*SMALL, "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "will not be stored" in warnings[0] and str(blocked) in warnings[0]
    assert len({r["run"] for r in csv.DictReader(open(tmp_path / "o" / "runs.csv"))}) == 2


@pytest.mark.parametrize("flags", [["--store", "{blocked}"], ["--resume"]])
def test_a_named_store_that_cannot_be_opened_is_an_error_before_any_data(tmp_path, blocked, monkeypatch, capsys, flags):
    monkeypatch.setenv("DESCENT_LAB_STORE", str(blocked))
    argv = [*SMALL, *[f.format(blocked=blocked) for f in flags], "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --store: cannot open the run store") and err.count("\n") == 1
    assert "points" not in err and not (tmp_path / "o").exists()  # no data summary: nothing was loaded


def test_no_store_trains_without_writing_the_store(tmp_path, monkeypatch, capsys):
    store = tmp_path / "s.sqlite"
    monkeypatch.setenv("DESCENT_LAB_STORE", str(store))
    assert main([*SMALL, "--no-store", "--out", str(tmp_path / "o")]) == 0
    assert not store.exists() and (tmp_path / "o" / "runs.csv").exists()
    assert "warning" not in capsys.readouterr().err
    assert main([*SMALL, "--no-store", "--resume", "--out", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err.strip() == "error: --resume: needs the run store: drop --no-store"
    assert main(["compare", "--help"]) == 0
    assert "--no-store" in capsys.readouterr().out


def test_the_sweep_job_trains_unstored_and_says_why(blocked):
    comparison = Comparison(TrainConfig(points=40, epochs=2).validated(), [("lr", ["0.1", "0.05"])])
    job = stored_sweep_job(comparison, {}, Token(), blocked)
    snaps = []
    while True:
        try:
            snaps.append(next(job))
        except StopIteration as end:
            runs = end.value
            break
    assert len(runs) == 2 and all(len(r.history) == 3 for r in runs)
    assert snaps and all(s.notice.startswith("runs not stored: cannot open the run store") for s in snaps)


def test_the_window_compares_without_a_store_and_shows_a_warning(qtbot: QtBot, tmp_path, blocked, monkeypatch):
    monkeypatch.setenv("DESCENT_LAB_STORE", str(blocked))
    w = MainWindow(QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    try:
        c = w.compare
        c.base_form.points.setValue(40)
        c.base_form.epochs.setValue(2)
        c.field1.setCurrentText("lr")
        c.values1.setText("0.1,0.05")
        with qtbot.waitSignal(c.finished, timeout=60000) as done:
            c.start()
        assert done.args == ["finished"] and len(c.results) == 2
        assert not c.store_note.isHidden() and "runs not stored" in c.store_note.text()
        assert c.error.isHidden()
    finally:
        w.runner.shutdown()
