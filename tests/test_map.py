"""Convergence maps as engine jobs (for loops) and the `map` command's contract."""

import csv
import json

import numpy as np
import pytest
from PySide6 import QtGui

from engine.errors import UserError
from engine.map_grid import Axis, parse_axis
from engine.surface.convergence_map import surface_map_job
from engine.surface.functions import get_surface
from engine.surface.paths import PathSpec, compute_paths
from engine.training.compare import Comparison, run_comparison
from engine.training.config import TrainConfig
from engine.training.convergence_map import training_map_job
from gui.cli import run_cli

BOWL = get_surface("bowl")  # 0.05·x² + y²: λmin 0.1, λmax 2
LAMBDA_MAX = 2.0


def drive(job):
    snaps = []
    while True:
        try:
            snaps.append(next(job))
        except StopIteration as end:
            return snaps, end.value


def test_momentum_map_on_a_quadratic_matches_the_stability_region():
    x, y = Axis("lr", 0.05, 2.0, 14), Axis("momentum", 0.0, 0.9, 10)
    snaps, result = drive(surface_map_job(BOWL, "momentum", {}, (-9.0, 2.0), x, y, 200))
    assert snaps[-1].step == 200 and result.unit == "step" and result.target == 0.0
    checked = 0
    for i, m in enumerate(result.ys):
        for j, lr in enumerate(result.xs):
            limit = 2 * (1 + m)  # heavy ball converges for 0 < lr·λmax < 2(1 + momentum)
            if lr * LAMBDA_MAX < 0.9 * limit:
                assert result.diverged_at[i, j] < 0 and result.final_loss[i, j] < result.initial_loss[i, j], (lr, m)
                checked += 1
            elif lr * LAMBDA_MAX > 1.1 * limit:
                assert result.diverged_at[i, j] > 0, (lr, m)
                checked += 1
    assert checked > 100


def test_a_surface_cell_equals_a_single_run_and_tolerance_counts_steps():
    x, y = Axis("lr", 0.01, 1.0, 5, log=True), Axis("beta1", 0.5, 0.9, 3)
    _, result = drive(surface_map_job(BOWL, "adam", {"beta2": 0.99}, (-9.0, 2.0), x, y, 80, tol=1e-2))
    for i, j in [(0, 0), (1, 3), (2, 4)]:
        (alone,) = compute_paths(BOWL, [PathSpec("adam", {"beta2": 0.99, **result.cell(i, j)})], [(-9.0, 2.0)], 80)
        assert result.final_loss[i, j] == alone.losses[-1]
        hits = np.nonzero(alone.losses <= 1e-2)[0]
        assert result.steps_to_tol[i, j] == (hits[0] if hits.size else -1)


def test_training_map_trains_every_cell_as_one_batch_equal_to_single_runs_and_marks_divergence():
    base = TrainConfig(points=30, layers=(2, 8, 3), epochs=4, loss="mse", optimizer="sgd").validated()
    x, y = Axis("lr", 0.01, 10.0, 4, log=True), Axis("momentum", 0.0, 0.9, 2)
    snaps, result = drive(training_map_job(base, x, y))
    assert snaps[-1].done == snaps[-1].total == 8 * 4 and result.unit == "epoch"
    assert "(batched)" in snaps[-1].runs[0].path
    for i in range(2):
        for j in range(4):
            cfg = base.with_field("lr", repr(result.xs[j])).with_field("momentum", repr(result.ys[i])).validated()
            (alone,) = run_comparison(Comparison(cfg, []))
            assert result.initial_loss[i, j] == pytest.approx(alone.history[0].train_loss, abs=1e-9)
            if alone.diverged_at is None:
                assert result.diverged_at[i, j] == -1
                assert result.final_loss[i, j] == pytest.approx(alone.history[-1].train_loss, abs=1e-9)
            else:
                assert result.diverged_at[i, j] == alone.diverged_at
    assert (result.diverged_at[:, -1] >= 0).all()  # lr 10 with mse blows up
    row = result.rows()[-1]
    assert row[:2] == [10.0, 0.9] and row[3] is None and row[4] == result.diverged_at[1, 3] and row[5] is None


def test_axes_are_parsed_and_checked():
    assert parse_axis("lr=0.001:1:4:log", "x").values() == pytest.approx([0.001, 0.01, 0.1, 1.0])
    assert parse_axis("momentum=0:0.9:4", "y").values() == pytest.approx([0, 0.3, 0.6, 0.9])
    for bad in ("lr", "lr=1:0.1:3", "lr=0:1:3:log", "lr=0.1:1:x", "lr=0.1:1:3:ln"):
        with pytest.raises(UserError) as err:
            parse_axis(bad, "x")
        assert err.value.field == "x"
    with pytest.raises(UserError) as err:
        drive(surface_map_job(BOWL, "sgd", {}, (1.0, 1.0), Axis("beta2", 0.9, 0.99, 2), Axis("lr", 0.1, 1, 2), 5))
    assert err.value.field == "x" and "beta2" in err.value.message


def cli(*argv):
    return run_cli(["map", *argv])


def test_map_command_surface_contract(tmp_path):
    out = tmp_path / "m"
    argv = ["--function", "bowl", "--start=-9,2", "--optimizer", "momentum", "--x", "lr=0.1:2:6", "--y"]
    assert cli(*argv, "momentum=0:0.9:4", "--steps", "60", "--format", "png,svg", "--out", str(out)) == 0
    rows = list(csv.DictReader(open(out / "map.csv")))
    assert list(rows[0]) == ["lr", "momentum", "initial_loss", "final_loss", "diverged_at", "steps_to_tol"]
    assert len(rows) == 24
    diverged = [r for r in rows if r["diverged_at"]]
    assert diverged and all(r["final_loss"] == "" for r in diverged)
    assert all(float(r["lr"]) * 2 > 2 * (1 + float(r["momentum"])) for r in diverged)
    assert any(r["diverged_at"] == "" and r["steps_to_tol"] for r in rows)
    meta = json.load(open(out / "map.json"))
    assert meta["x"]["field"] == "lr" and meta["unit"] == "step" and len(meta["cells"]) == 24
    image = QtGui.QImage(str(out / "map.png"))
    assert image.width() > 500
    assert (out / "map.svg").read_text().startswith("<?xml")
    exp = json.load(open(out / "experiment.json"))
    assert exp["surface"]["optimizers"] == ["momentum"] and exp["tab"] == 0


def test_map_command_training_contract_and_errors(tmp_path, capsys):
    out = tmp_path / "t"
    argv = ["--dataset", "spiral", "--points", "30", "--layers", "2,8,3", "--optimizer", "sgd", "--epochs", "3"]
    assert cli(*argv, "--x", "lr=0.01:1:3:log", "--y", "momentum=0:0.9:2", "--out", str(out)) == 0
    rows = list(csv.DictReader(open(out / "map.csv")))
    assert len(rows) == 6 and {r["momentum"] for r in rows} == {"0.0", "0.9"}
    assert json.load(open(out / "map.json"))["unit"] == "epoch"
    assert json.load(open(out / "experiment.json"))["training"]["epochs"] == 3
    assert "6 cells" in capsys.readouterr().out
    assert cli(*argv, "--x", "lr=1:0.1:3", "--y", "momentum=0:0.9:2", "--out", str(tmp_path / "a")) == 2
    assert capsys.readouterr().err.strip().startswith("error: --x:")
    assert cli(*argv, "--x", "lr=0.1:1:3", "--y", "lr=0.1:1:2", "--out", str(tmp_path / "b")) == 2
    assert capsys.readouterr().err.strip().startswith("error: --y:")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_map_format_is_the_shared_option(tmp_path, capsys):
    out = tmp_path / "m"
    argv = ["--function", "bowl", "--optimizer", "sgd", "--x", "lr=0.1:1:3", "--y", "momentum=0:0.5:2", "--steps", "5"]
    assert cli(*argv, "--format", "SVG, .png", "--out", str(out)) == 0  # spelled as every other command takes it
    assert (out / "map.svg").exists() and (out / "map.png").exists()
    assert cli(*argv, "--format", "png,,svg", "--out", str(tmp_path / "bad")) == 2
    assert "error: --format: an empty name is not a chart format" in capsys.readouterr().err.replace("'", "")
    assert not (tmp_path / "bad").exists()
