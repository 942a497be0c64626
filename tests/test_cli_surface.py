import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from PySide6 import QtGui

from main import main


def run(*args):
    return main(["surface", *args])


def test_surface_command_writes_json_csv_and_png(tmp_path, capsys):
    out = tmp_path / "o"
    code = run(
        "--function",
        "peaks",
        "--start=-0.35,-0.67",
        "--start",
        "0.3,1.3",
        "--optimizers",
        "sgd,adam,adadelta",
        "--lr",
        "0.1",
        "--set",
        "adadelta.lr=1",
        "--steps",
        "10",
        "--out",
        str(out),
    )
    assert code == 0
    data = json.loads((out / "paths.json").read_text())
    assert data["function"] == "peaks" and data["steps"] == 10
    assert [r["optimizer"] for r in data["runs"]] == ["sgd", "sgd", "adam", "adam", "adadelta", "adadelta"]
    first = data["runs"][0]
    assert first["start"] == [-0.35, -0.67] and len(first["points"]) == 11 and first["points"][0] == [-0.35, -0.67]
    assert first["params"]["lr"] == 0.1 and data["runs"][4]["params"]["lr"] == 1.0
    assert first["diverged_at"] is None
    # the first SGD step is start - lr * gradient
    from engine.surface.functions import get_surface

    g = get_surface("peaks").gradient(-0.35, -0.67)
    assert first["points"][1] == pytest.approx([-0.35 - 0.1 * g[0], -0.67 - 0.1 * g[1]], abs=1e-12)
    rows = list(csv.DictReader(open(out / "paths.csv")))
    assert len(rows) == 6 * 11 and set(rows[0]) == {"optimizer", "start_index", "step", "x", "y", "loss"}
    assert float(rows[1]["x"]) == pytest.approx(first["points"][1][0])
    img = QtGui.QImage(str(out / "surface.png"))
    assert img.width() >= 900 and img.height() >= 600
    assert "adadelta" in capsys.readouterr().out
    assert not list(out.glob(".staging*"))


def test_one_dimensional_points_are_single_values(tmp_path):
    out = tmp_path / "o"
    assert (
        run(
            "--function",
            "xsin",
            "--start",
            "1.5",
            "--optimizers",
            "sgd",
            "--lr",
            "0.01",
            "--steps",
            "10",
            "--out",
            str(out),
        )
        == 0
    )
    data = json.loads((out / "paths.json").read_text())
    pts = np.array(data["runs"][0]["points"])
    assert pts.shape == (11, 1)
    # the seed's hand-written loop: x <- x - lr * (sin(x^2) + 2 x^2 cos(x^2))
    x = 1.5
    for _ in range(10):
        x = x - 0.01 * (np.sin(x * x) + 2 * x * x * np.cos(x * x))
    assert pts[-1, 0] == pytest.approx(x, abs=1e-12)


def test_scheduler_and_sched_set(tmp_path):
    out = tmp_path / "o"
    assert (
        run(
            "--function",
            "bowl",
            "--optimizers",
            "momentum",
            "--lr",
            "0.1",
            "--scheduler",
            "step",
            "--sched-set",
            "step_size=5",
            "--steps",
            "12",
            "--out",
            str(out),
        )
        == 0
    )
    lrs = json.loads((out / "paths.json").read_text())["runs"][0]["lrs"]
    assert lrs == pytest.approx([0.1] * 5 + [0.05] * 5 + [0.025] * 2)


def test_divergence_is_in_the_output_not_a_crash(tmp_path):
    out = tmp_path / "o"
    assert (
        run(
            "--function",
            "quadratic",
            "--start",
            "1",
            "--optimizers",
            "sgd",
            "--lr",
            "1.5",
            "--steps",
            "50",
            "--out",
            str(out),
        )
        == 0
    )
    run_ = json.loads((out / "paths.json").read_text())["runs"][0]
    # x doubles in sign-flipping steps (1, -2, 4, -8): past half a domain width beyond -3..3 it has left the map
    assert run_["diverged_at"] == 3 and len(run_["points"]) == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["--function", "nope"], "unknown function 'nope'"),
        (["--optimizers", "sgd,foo"], "unknown optimizer 'foo'"),
        (["--start", "1,2,3"], "start '1,2,3'"),
        (["--start", "a,b"], "start 'a,b'"),
        (["--function", "__import__('os').system('id')"], "are allowed, not"),
        (["--function", "x.__class__"], "attribute access"),
        (["--set", "adam.lr=1"], "not in --optimizers"),
        (["--set", "momentum=2", "--optimizers", "momentum"], "out of range"),
        (["--steps", "ten"], "--steps"),
        (["--scheduler", "sometimes"], "unknown scheduler"),
        (["--sched-set", "gamma"], "name=value"),
        (["--lr", "-1"], "out of range"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_non_zero_with_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "o"
    assert run(*args, "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert run("--out", str(blocker / "sub")) == 2
    assert "cannot create output folder" in capsys.readouterr().err


def test_help_and_real_process_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, str(ROOT / "main.py"), "surface", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "--optimizers" in ok.stdout
    bad = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "surface", "--function", "zz", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_running_out_of_memory_anywhere_is_one_error_line(tmp_path, capsys, monkeypatch):
    import gui.cli.surface as cli_surface

    def paths_job(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(cli_surface, "paths_job", paths_job)
    assert run("--steps", "3", "--grid", "20", "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: ran out of memory; try a smaller network or batch"]


def test_a_failed_write_names_the_final_path_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import gui.charts.render as render

    def no_space(surface, paths, path, **kwargs):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(render, "render_surface", no_space)
    out = tmp_path / "o"
    assert run("--steps", "3", "--grid", "20", "--out", str(out)) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: --out: cannot write {out / 'surface.png'}: No space left on device"]
    assert list(tmp_path.iterdir()) == []


def test_surface_png_tells_two_starts_of_one_optimizer_apart(tmp_path, monkeypatch):
    """surface.png draws each start in its own symbol and dash, with smaller stars and a legend entry per start."""
    from PySide6 import QtCore

    import gui.charts.paths as chart_paths

    layers = []

    class Recording(chart_paths.PathLayer):
        def __init__(self, plot, **options):
            super().__init__(plot, **options)
            layers.append(self)

    monkeypatch.setattr(chart_paths, "PathLayer", Recording)
    out = tmp_path / "o"
    code = run(
        "--function", "peaks", "--start=-0.35,-0.67", "--start", "0.3,1.3", "--optimizers", "adam",
        "--steps", "10", "--grid", "40", "--out", str(out),
    )  # fmt: skip
    assert code == 0 and (out / "surface.png").exists()
    (layer,) = layers
    a, b = layer.items
    assert a.line.opts["symbol"] != b.line.opts["symbol"]
    assert a.line.opts["pen"].style() == QtCore.Qt.PenStyle.SolidLine
    assert b.line.opts["pen"].style() == QtCore.Qt.PenStyle.DashLine
    assert a.line.opts["pen"].color() == b.line.opts["pen"].color()
    assert a.start.opts["size"] < 18
    legend = [label.text for _sample, label in layer.plot.legend.items]
    assert legend == ["Adam", "start 1", "start 2"]


def test_notebook_markers_flag_draws_yellow_dots_and_is_kept_in_the_experiment(tmp_path):
    from PySide6 import QtGui

    from engine.experiment import load_experiment
    from gui.charts import style

    out = tmp_path / "nb"
    assert main(["surface", "--optimizers", "sgd", "--steps", "20", "--notebook-markers", "--out", str(out)]) == 0
    image = QtGui.QImage(str(out / "surface.png"))
    seen = {image.pixelColor(x, y).name() for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}
    assert style.DOT_COLOUR in seen and style.END_COLOUR in seen
    assert load_experiment(out / "experiment.json").surface.notebook_markers is True
