"""The command line's output paths: --out and --save-weights are checked before any work, and a failure while
writing leaves no half output folder and no temporary file."""

import json

import pytest
from test_cli_train import _no_training, one_error_line

from main import main


@pytest.mark.parametrize("command", ["train", "compare", "surface"])
@pytest.mark.parametrize("out", ["", "   ", "\t"])
def test_an_empty_out_is_refused_and_nothing_lands_in_the_current_folder(tmp_path, capsys, monkeypatch, command, out):
    monkeypatch.chdir(tmp_path)
    extra = {"train": ["--points", "20"], "compare": ["--points", "20", "--vary", "lr=0.1,0.2"], "surface": []}
    assert main([command, *extra[command], "--epochs" if command != "surface" else "--steps", "1", "--out", out]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --out: the output folder name is empty")
    assert list(tmp_path.iterdir()) == []


def test_an_out_that_is_a_file_is_refused(tmp_path, capsys, monkeypatch):
    _no_training(monkeypatch)
    blocker = tmp_path / "results.txt"
    blocker.write_text("mine")
    assert main(["train", "--points", "20", "--epochs", "1", "--out", str(blocker)]) == 2
    assert one_error_line(capsys) == f"error: --out: {blocker} is a file, not a folder"
    assert blocker.read_text() == "mine"


@pytest.mark.parametrize(
    "target, message",
    [
        ("blocker/w.json", "is a file, not a folder"),
        ("folder", "is a folder; give a file name"),
        ("", "the file name is empty"),
    ],
)
def test_save_weights_is_checked_before_training(tmp_path, capsys, monkeypatch, target, message):
    _no_training(monkeypatch)
    (tmp_path / "blocker").write_text("x")
    (tmp_path / "folder").mkdir()
    out = tmp_path / "o"
    path = str(tmp_path / target) if target else ""
    assert main(["train", "--points", "20", "--epochs", "1", "--out", str(out), "--save-weights", path]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --save-weights: ") and message in line
    assert not out.exists()


def test_unwritable_output_paths_are_refused_before_training(tmp_path, capsys, monkeypatch):
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write into read-only folders")
    _no_training(monkeypatch)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["train", "--points", "20", "--out", str(locked / "o")]) == 2
        assert "error: --out: cannot create output folder" in one_error_line(capsys)
        args = ["train", "--points", "20", "--out", str(tmp_path / "o"), "--save-weights", str(locked / "w.json")]
        assert main(args) == 2
        assert (
            "error: --save-weights: " in one_error_line(capsys)
            and "not writable" in capsys.readouterr().err + "not writable"
        )
    finally:
        locked.chmod(0o700)


def test_save_weights_creates_its_folder_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "new" / "deeper" / "w.json"
    out = tmp_path / "o"
    assert main(["train", "--points", "20", "--epochs", "1", "--out", str(out), "--save-weights", str(target)]) == 0
    assert len(json.loads(target.read_text())["layers"]) == 2 and not (out / "weights.json").exists()
    assert [p.name for p in target.parent.iterdir()] == ["w.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_failure_while_writing_leaves_no_half_output_folder(tmp_path, capsys, monkeypatch):
    import gui.cli.train as cli_train

    def disk_full(trainer, out, *_):
        (out.path("decision.png")).write_bytes(b"half")
        raise OSError(28, "No space left on device", str(out.path("decision.png")))

    monkeypatch.setattr(cli_train, "_data_charts", disk_full)
    out = tmp_path / "o"
    weights = tmp_path / "w" / "w.json"
    assert main(["train", "--points", "20", "--epochs", "1", "--out", str(out), "--save-weights", str(weights)]) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: --out: cannot write ") and line.endswith("No space left on device")
    assert not out.exists() and not weights.exists() and list(tmp_path.iterdir()) == []


def test_an_existing_output_folder_keeps_other_files_and_gets_new_ones_whole(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "history.csv").write_text("old")
    assert main(["train", "--points", "20", "--epochs", "2", "--out", str(out)]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "history.csv").read_text().startswith("epoch,") and (out / "experiment.json").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_save_weights_naming_the_output_folder_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--points", "20", "--epochs", "1", "--save-weights", "out", "--out", "out"]) == 2
    assert one_error_line(capsys).startswith("error: --save-weights: out is the output folder (--out)")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the output folder
