"""`main.py compare` as a whole process draws its charts in a second process that loads Qt while the first loads
torch and trains (gui/cli/chart_process.py): the same files, byte for byte, and the same errors as drawing in
process; a command run from Python (as here) draws in process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gui.cli import chart_process

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["compare", "--dataset", "spiral", "--points", "30", "--epochs", "3", "--vary", "momentum=0,0.5"]
TRAIN = ["train", "--dataset", "spiral", "--points", "30", "--epochs", "3"]
ENV = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}


def whole_process(argv: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """Run main.py's process entry on ``argv`` in a fresh interpreter; return it and which libraries the parent
    had loaded at its end."""
    probe = (
        "import json, sys\n"
        f"sys.argv = ['main.py', *{argv!r}]\n"
        "import main\n"
        "rc = main.main_process()\n"
        "loaded = {m: m in sys.modules for m in ('PySide6', 'pyqtgraph', 'torch')}\n"
        "print('@@' + json.dumps(loaded))\n"  # unflushed: main.py flushes before it skips the interpreter's teardown
        "sys.exit(rc)\n"
    )
    env = ENV | {"DESCENT_LAB_STORE": str(tmp_path / "runs.sqlite")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("@@")]
    return done, json.loads(lines[-1][2:]) if lines else {}


@pytest.mark.parametrize(
    "argv, charts",
    [
        (SMALL, ["compare_accuracy.png", "compare_loss.png", "compare_lr.png"]),
        (TRAIN, ["accuracy.png", "decision.png", "loss.png", "lr.png"]),
    ],
)
def test_the_chart_process_draws_the_same_files_as_drawing_in_process(tmp_path, argv, charts):
    from main import main

    done, loaded = whole_process([*argv, "--out", str(tmp_path / "a")], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert loaded == {"PySide6": False, "pyqtgraph": False, "torch": True}  # the charts came from the other one
    assert "wrote " in done.stdout and "charts to" in done.stdout
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0  # in process: no chart process was started
    assert sorted(p.name for p in (tmp_path / "a").glob("*.png")) == charts
    for name in charts:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in (tmp_path / "b").iterdir())


def test_help_and_refused_commands_start_no_chart_process(tmp_path):
    for argv in (["compare", "--help"], ["surface", "--steps", "2"]):
        chart_process.prestart(argv)
        assert chart_process.take() is None
    done, _ = whole_process(["compare", "--vary", "momentum=0", "--epochs", "-1", "--out", str(tmp_path)], tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("error: --epochs"), done.stderr
    assert list(tmp_path.glob("*.png")) == []


def series():
    return [{"name": "a", "x": np.arange(4), "y": np.array([1.0, 0.5, 0.3, 0.2]), "colour": "#1f77b4", "band": None}]


def test_an_error_while_drawing_there_is_raised_here_as_drawing_here_raises_it(tmp_path):
    missing = tmp_path / "missing" / "loss.png"
    calls = [("render_lines", (series(), missing, "loss", "loss"), {})]
    with pytest.raises(OSError) as here:
        chart_process.run_calls(calls)
    process = chart_process.ChartProcess.start()
    with pytest.raises(OSError) as there:
        chart_process.Drawing(calls, process).wait()
    assert str(there.value) == str(here.value) and "does not exist" in str(there.value)
    assert there.value.filename == str(missing)
    assert process.proc.poll() is not None  # ended once it answered


def test_a_failing_chart_in_the_chart_process_ends_the_command_as_in_process(tmp_path, capsys, monkeypatch):
    """The whole command: the chart process's error gives the same `error: ...` line and exit code as drawing in
    process, the chart process ends, and nothing is written."""
    import gui.cli.compare as compare
    from main import main

    bad = tmp_path / "nowhere" / "loss.png"
    monkeypatch.setattr(compare, "chart_calls", lambda *a, **k: [("render_lines", (series(), bad, "t", "y"), {})])
    outcomes = []
    for prestarted in (False, True):
        if prestarted:
            chart_process.prestart(SMALL)
            process = chart_process._early
            assert process is not None
        try:
            code = main([*SMALL, "--out", str(tmp_path / "out")])
        finally:
            chart_process.discard()
        outcomes.append((code, capsys.readouterr().err.strip().splitlines()[-1]))
    assert outcomes[0] == outcomes[1]
    code, line = outcomes[1]
    assert code == 2 and line.startswith("error: --out: cannot write") and line.endswith(f"{bad.parent} does not exist")
    assert process.proc.poll() is not None
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".*staging*"))


def test_a_chart_process_that_died_is_replaced_by_drawing_here(tmp_path):
    process = chart_process.ChartProcess.start()
    process.proc.kill()
    process.proc.wait()
    target = tmp_path / "loss.png"
    written = chart_process.Drawing([("render_lines", (series(), target, "loss", "loss"), {})], process).wait()
    assert written == [target] and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_chart_process_that_hangs_is_killed_and_replaced_by_drawing_here(tmp_path, monkeypatch):
    import os
    import signal

    process = chart_process.ChartProcess.start()
    os.kill(process.proc.pid, signal.SIGSTOP)  # alive, but never answers
    monkeypatch.setattr(chart_process, "ANSWER_S", 0.5)
    monkeypatch.setattr(chart_process, "ANSWER_S_PER_CALL", 0.0)
    target = tmp_path / "loss.png"
    written = chart_process.Drawing([("render_lines", (series(), target, "loss", "loss"), {})], process).wait()
    assert written == [target] and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert process.proc.poll() is not None  # killed: it can write nothing after this


def test_calls_that_cannot_be_sent_leave_the_drawing_here_and_end_the_process(tmp_path):
    process = chart_process.ChartProcess.start()
    calls = [("render_lines", (series(), tmp_path / "loss.png", "loss", "loss"), {"why": lambda: None})]
    drawing = chart_process.Drawing(calls, process)  # a lambda does not pickle
    assert drawing.process is None  # wait() would draw here
    assert process.proc.wait(timeout=10) is not None


def test_bulk_imports_freeze_what_they_loaded_and_keep_collection_on():
    code = (
        "import gc\n"
        "from gui.cli.startup import bulk_imports\n"
        "with bulk_imports():\n"
        "    assert not gc.isenabled()\n"
        "    import fractions\n"
        "frozen = gc.get_freeze_count()\n"
        "assert gc.isenabled() and frozen > 0, frozen\n"
        "with bulk_imports():\n"
        "    import fractions\n"
        "assert gc.get_freeze_count() == frozen\n"  # nothing new loaded: nothing more frozen
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_chart_palette_loads_no_qt():
    code = (
        "import sys\nfrom gui.charts import style\nassert style.colour(1) == '#ff7f0e'\n"
        "assert 'pyqtgraph' not in sys.modules and 'PySide6' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_png_writes_in_background_write_the_same_files_and_raise_the_first_error(tmp_path, monkeypatch):
    from gui.charts import export, render

    calls = [("render_lines", (series(), tmp_path / f"{k}.png", f"chart {k}", "loss"), {}) for k in range(3)]
    drawn = chart_process.run_calls(calls)  # each PNG written in the background
    for name, args, kwargs in calls:  # one by one, as before
        getattr(render, name)(args[0], tmp_path / f"sync-{args[1].name}", *args[2:], **kwargs)
    assert drawn == [tmp_path / f"{k}.png" for k in range(3)]
    for k in range(3):
        assert (tmp_path / f"{k}.png").read_bytes() == (tmp_path / f"sync-{k}.png").read_bytes()

    real = export._encoded

    def refuse_first(image, fmt, path):
        if path.name == "first.png":
            raise export.export_error(path, f"Qt could not encode the image as {fmt}")
        return real(image, fmt, path)

    monkeypatch.setattr(export, "_encoded", refuse_first)
    later = tmp_path / "missing" / "later.png"
    failing = [("render_lines", (series(), tmp_path / name, "t", "y"), {}) for name in ("first.png", "second.png")]
    with pytest.raises(OSError) as raised:  # the first chart's write failed before the last chart failed to draw
        chart_process.run_calls([*failing, ("render_lines", (series(), later, "t", "y"), {})])
    assert raised.value.filename == str(tmp_path / "first.png") and "could not encode" in str(raised.value)
    assert not (tmp_path / "first.png").exists() and (tmp_path / "second.png").exists()


@pytest.mark.parametrize(
    "argv", [SMALL, [*TRAIN, "--test-fraction", "0.3"], ["train", "--dataset", "iris", "--epochs", "2"]]
)
def test_the_chart_calls_hold_no_torch_objects(tmp_path, monkeypatch, argv):
    """What goes to the chart process is plain numbers and words: unpickling it there loads no torch."""
    import pickle

    from main import main

    sent = []
    real = chart_process.ChartProcess.send
    monkeypatch.setattr(chart_process.ChartProcess, "send", lambda self, calls: sent.append(calls) or real(self, calls))
    chart_process.prestart(argv)
    try:
        assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    finally:
        chart_process.discard()
    assert len(sent) == 1 and sent[0]
    assert b"torch" not in pickle.dumps(sent[0])
    targets = sorted(a.name for _, args, _ in sent[0] for a in args if isinstance(a, Path))
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == targets and len(targets) >= 3
