"""Two runs of a comparison on the plane through their shared start and both ends."""

from dataclasses import replace

import numpy as np
import pytest

from engine.errors import UserError
from engine.jobs import Token, run_job
from engine.training.config import TrainConfig
from engine.training.landscape import layout
from engine.training.landscape_compare import two_runs_job
from engine.training.landscape_job import LandscapeProgress
from engine.training.trainer import Trainer

BASE = TrainConfig(points=60, layers=(2, 8, 3), epochs=3, batch_size=30, optimizer_params={"lr": 0.1, "momentum": 0.0})
FAST = replace(BASE, optimizer_params={"lr": 0.1, "momentum": 0.5})


@pytest.fixture(scope="module")
def data():
    return BASE.load_data()


@pytest.fixture(scope="module")
def result(data):
    snaps = []
    out = run_job(two_runs_job([BASE, FAST], ["momentum 0", "momentum 0.5"], data, grid=7), snaps.append)
    return out, snaps


def test_the_plane_contains_the_start_and_both_ends_exactly(result):
    ls, _ = result
    a, b = ls.runs
    assert a.projection.coords[0].tolist() == [0.0, 0.0] and a.projection.off_plane[0] == 0.0
    assert a.projection.coords[-1] == pytest.approx([1.0, 0.0], abs=1e-12)
    scale = np.linalg.norm(ls.directions[0])
    assert a.projection.off_plane[-1] <= 1e-12 * scale
    assert b.projection.off_plane[-1] <= 1e-12 * scale and b.projection.off_plane[0] == 0.0
    assert a.epochs == b.epochs == [0, 1, 2, 3]
    # the middle epochs are off the plane in general: the honesty figures say how far
    assert 0 < a.projection.ratio[1] <= 1


def test_the_paths_are_the_comparisons_own_runs(result, data):
    ls, snaps = result
    for cfg, run in zip((BASE, FAST), ls.runs):
        trainer = Trainer(cfg, data)
        trainer.run()
        assert run.path_loss == pytest.approx([r.train_loss for r in trainer.history], abs=1e-9)
    # the grid's point (0, 0) is the shared start when it lies on the grid; the stored loss matches the run's start
    assert ls.runs[0].projected_loss[0] == pytest.approx(ls.runs[0].path_loss[0], abs=1e-12)
    assert [s.stage for s in snaps][:3] == ["train"] * 3 and isinstance(snaps[-1], LandscapeProgress)
    assert ls.loss.shape == (7, 7) and np.isfinite(ls.loss).all()
    # the box holds both paths
    coords = np.vstack([r.projection.coords for r in ls.runs])
    assert ls.alphas[0] < coords[:, 0].min() and ls.alphas[-1] > coords[:, 0].max()
    assert ls.betas[0] < coords[:, 1].min() and ls.betas[-1] > coords[:, 1].max()
    doc = ls.to_json(layout(BASE.layers))
    assert [r["name"] for r in doc["runs"]] == ["momentum 0", "momentum 0.5"] and len(doc["center"]) == 51


def test_runs_from_different_starts_are_refused(data):
    with pytest.raises(UserError) as err:
        run_job(two_runs_job([BASE, replace(FAST, seed=5)], ["a", "b"], data, grid=5))
    assert err.value.field == "landscape_plane"


def test_a_stopped_job_returns_none(data):
    token = Token()
    token.stop()
    assert run_job(two_runs_job([BASE, FAST], ["a", "b"], data, token, grid=5)) is None


def test_writer_draws_both_routes_on_one_landscape(tmp_path, data):
    from PySide6 import QtGui

    from engine.io import Staged
    from engine.training.compare import Comparison
    from gui.cli.landscape_out import LandscapeRequest, write_two_run_landscape

    comparison = Comparison(BASE, [("momentum", ["0", "0.5"])])
    with Staged(tmp_path / "o") as out:
        line = write_two_run_landscape(comparison, LandscapeRequest(9, None, "random"), out, data)
    doc = __import__("json").loads((tmp_path / "o" / "landscape.json").read_text())
    assert [r["name"] for r in doc["runs"]] == ["momentum 0", "momentum 0.5"]
    assert doc["runs"][0]["trajectory"][-1]["off_plane"] < 1e-9 and doc["runs"][1]["trajectory"][-1]["off_plane"] < 1e-9
    assert "momentum 0.5: 3 epochs" in line
    image = QtGui.QImage(str(tmp_path / "o" / "landscape.png"))
    assert image.width() == 1000
    # both routes in their colours on the map (upper part): blue (#1f77b4) and orange (#ff7f0e) pixels
    colours = [image.pixelColor(x, y) for x in range(0, 1000, 2) for y in range(0, image.height() // 2, 2)]
    assert sum(1 for c in colours if c.red() > 230 and 100 < c.green() < 150 and c.blue() < 40) > 10
    assert sum(1 for c in colours if c.red() < 50 and 100 < c.green() < 140 and c.blue() > 160) > 10
