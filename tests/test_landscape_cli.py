"""`main.py train ... --landscape`: landscape.json/.csv/.png as the issue specifies, and bad flags."""

import csv
import json

import numpy as np
import pytest
import torch
from PySide6 import QtGui

from engine.training.backends.autograd import data_loss
from engine.training.model import MLP
from main import main

BASE = ["train", "--dataset", "spiral", "--points", "60", "--layers", "2,12,3", "--epochs", "4", "--seed", "2"]


def _run(tmp_path, *extra):
    out = tmp_path / "o"
    code = main([*BASE, "--out", str(out), "--landscape", "--landscape-grid", "7", *extra])
    return code, out


def _loss_from(doc, flat, x, y) -> float:
    """Rebuild the network from landscape.json's layout and evaluate it alone in float64."""
    layers, offset = [], 0
    for part in doc["layout"]:
        n = int(np.prod(part["shape"]))
        values = torch.tensor(flat[offset : offset + n], dtype=torch.float64).view(*part["shape"])
        offset += n
        if part["name"] == "weight":
            layers.append([values])
        else:
            layers[-1].append(values)
    sizes = [layers[0][0].shape[1]] + [w.shape[0] for w, _ in layers]
    m = MLP(sizes).double()
    with torch.no_grad():
        for lin, (w, b) in zip(m.linears, layers):
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        return float(data_loss(m.logits(x), y, "cross-entropy", "none", 3))


def test_landscape_files_follow_the_contract(tmp_path):
    code, out = _run(tmp_path)
    assert code == 0
    doc = json.loads((out / "landscape.json").read_text())
    weights = json.loads((out / "weights.json").read_text())
    n = sum(len(w) * len(w[0]) + len(b) for w, b in ((l["weight"], l["bias"]) for l in weights["layers"]))
    assert len(doc["center"]) == n == 2 * 12 + 12 + 12 * 3 + 3
    assert [len(d) for d in doc["directions"]] == [n, n]
    assert len(doc["alphas"]) == len(doc["betas"]) == 7 and doc["alphas"][3] == 0.0
    assert np.array(doc["loss"]).shape == (7, 7)
    # the layout lists weight then bias per layer, the weights.json order, and the centre is those weights
    assert [(p["layer"], p["name"], p["shape"]) for p in doc["layout"]] == [
        (0, "weight", [12, 2]),
        (0, "bias", [12]),
        (1, "weight", [3, 12]),
        (1, "bias", [3]),
    ]
    flat32 = np.concatenate([np.ravel(weights["layers"][0]["weight"]), weights["layers"][0]["bias"]])
    assert np.allclose(doc["center"][: len(flat32)], flat32, rtol=1e-6)
    assert [t["epoch"] for t in doc["trajectory"]] == [0, 1, 2, 3, 4]
    for key in ("alpha", "beta", "off_plane", "off_plane_ratio", "loss", "projected_loss"):
        assert key in doc["trajectory"][0]
    assert doc["samples"]["count"] == doc["samples"]["of"] == 180 and doc["samples"]["rows"] == list(range(180))
    # the centre's loss is the history's last train loss
    history = json.loads((out / "history.json").read_text())["history"]
    assert doc["loss"][3][3] == pytest.approx(history[-1]["train_loss"], abs=1e-9)
    rows = list(csv.DictReader(open(out / "landscape.csv")))
    assert list(rows[0]) == ["alpha", "beta", "loss"] and len(rows) == 49
    assert float(rows[8]["loss"]) == pytest.approx(doc["loss"][1][1])
    image = QtGui.QImage(str(out / "landscape.png"))
    assert image.width() >= 900 and image.height() >= 900


def test_stored_losses_match_rebuilt_networks(tmp_path):
    from engine.training.config import TrainConfig

    code, out = _run(tmp_path, "--landscape-plane", "pca", "--landscape-span", "3")
    assert code == 0
    doc = json.loads((out / "landscape.json").read_text())
    assert doc["plane"] == "pca" and doc["alphas"][0] == -3.0
    data = TrainConfig(dataset="spiral", points=60, seed=2).load_data()
    x, y = data.x_train.double(), data.y_train
    center, d0, d1 = (np.array(v) for v in (doc["center"], *doc["directions"]))
    rng = np.random.default_rng(0)
    for _ in range(3):
        i, j = (int(v) for v in rng.integers(0, 7, 2))
        flat = center + doc["alphas"][j] * d0 + doc["betas"][i] * d1
        assert doc["loss"][i][j] == pytest.approx(_loss_from(doc, flat, x, y), abs=1e-6)
    # the PCA plane of a 5-point path holds most of it; the last point (the centre) is on it exactly
    assert doc["trajectory"][-1]["off_plane"] == 0.0
    assert doc["fidelity"]["median_ratio"] < 0.5


def _pixels(path) -> np.ndarray:
    """The PNG as an (h, w, 3) uint8 array."""
    image = QtGui.QImage(str(path)).convertToFormat(QtGui.QImage.Format.Format_RGB888)
    raw = np.array(image.constBits(), dtype=np.uint8, copy=True)[: image.sizeInBytes()]  # copied while alive
    return raw.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(image.height(), -1, 3)


def test_landscape_png_draws_the_map_and_the_path(tmp_path):
    code, out = _run(tmp_path, "--landscape-plane", "pca")
    px = _pixels(out / "landscape.png").astype(int)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    top = slice(0, px.shape[0] // 2)  # the map fills the upper part of the figure
    assert ((r > 200) & (g < 60) & (b < 60))[top].sum() > 20  # the red start star
    assert ((r > 230) & (g > 190) & (b < 90))[top].sum() > 20  # the yellow epoch dots
    assert ((b > 180) & (r < 80) & (g < 110))[top].sum() > 20  # the blue current star
    teal = (g > r + 40) & (b > r + 20)  # viridis' middle bands
    assert teal[top].sum() > 2000


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--landscape", "--landscape-grid", "2"], "error: --landscape-grid: must be a whole number"),
        (["--landscape", "--landscape-grid", "many"], "error: --landscape-grid: must be a whole number"),
        (["--landscape", "--landscape-span", "-1"], "error: --landscape-span: must be a number"),
        (["--landscape", "--landscape-plane", "diagonal"], "error: --landscape-plane: must be random or pca"),
        (["--landscape-grid", "9"], "error: --landscape-grid: only applies with --landscape"),
        (["--landscape", "--batchnorm"], "error: --landscape: the loss landscape covers networks without batch"),
    ],
)
def test_bad_landscape_flags_exit_2_before_training(tmp_path, capsys, flags, message):
    out = tmp_path / "o"
    code = main([*BASE, "--out", str(out), *flags])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "train" not in err.split(message)[0][-5:]
    assert not out.exists()


def test_compare_landscape_puts_the_shared_start_and_both_ends_on_its_plane(tmp_path, capsys):
    out = tmp_path / "c"
    args = ["compare", "--dataset", "spiral", "--points", "60", "--vary", "momentum=0,0.5,0.9", "--epochs", "3"]
    assert main([*args, "--landscape", "--landscape-grid", "5", "--out", str(out)]) == 0
    doc = json.loads((out / "landscape.json").read_text())
    assert len(doc["loss"]) == 5 and all(len(row) == 5 for row in doc["loss"])
    finals = {
        float(r["label"]["momentum"]): r["history"][-1]
        for r in json.loads((out / "comparison.json").read_text())["runs"]
    }
    assert [run["name"] for run in doc["runs"]] == ["momentum 0", "momentum 0.5"]  # the first two runs
    for run in doc["runs"]:
        start, end = run["trajectory"][0], run["trajectory"][-1]
        assert (start["alpha"], start["beta"], start["off_plane"]) == (0.0, 0.0, 0.0)
        assert end["epoch"] == 3 and end["off_plane"] == pytest.approx(0.0, abs=1e-6)
        assert end["projected_loss"] == pytest.approx(end["loss"], rel=1e-6)  # the end lies in the plane exactly
        momentum = float(run["name"].split()[-1])
        assert end["loss"] == pytest.approx(finals[momentum]["train_loss"], rel=1e-5)  # the comparison's own run
    assert (out / "landscape.png").stat().st_size > 10_000
    assert main([*args, "--landscape", "--landscape-plane", "pca", "--out", str(tmp_path / "d")]) == 2
    assert "error: --landscape-plane: compare draws the plane" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_landscape_follows_format(tmp_path):
    # --format svg alone: the chart is landscape.svg (a vector drawing of the map), and no PNG
    code, out = _run(tmp_path, "--format", "svg")
    assert code == 0
    assert not (out / "landscape.png").exists()
    svg = (out / "landscape.svg").read_text()
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg[:400]
    assert svg.count("<path") + svg.count("<polyline") > 10
    assert not (out / "loss.png").exists() and (out / "loss.svg").exists()


def test_compare_landscape_follows_format(tmp_path):
    out = tmp_path / "c"
    args = ["compare", "--dataset", "spiral", "--points", "40", "--vary", "momentum=0,0.9", "--epochs", "2"]
    assert main([*args, "--landscape", "--landscape-grid", "3", "--format", "png,svg", "--out", str(out)]) == 0
    assert QtGui.QImage(str(out / "landscape.png")).width() == 1000
    assert "<svg" in (out / "landscape.svg").read_text()
