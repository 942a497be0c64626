"""`main.py train ... --landscape --animate FILE`: the frames carry the landscape map with the path growing."""

import json

import imageio.v3 as iio
import numpy as np
import pyqtgraph as pg

from engine.jobs import Token
from main import main

RUN = ["--dataset", "spiral", "--points", "40", "--layers", "2,8,3", "--lr", "0.3", "--batch-size", "20"]
RUN += ["--seed", "1", "--epochs", "3"]
LANDSCAPE = ["--landscape", "--landscape-grid", "7", "--landscape-plane", "pca"]
SIZE = (480, 200)


def gif_frames(path) -> np.ndarray:
    return iio.imread(path, index=None)[..., :3]


def near(image: np.ndarray, colours: np.ndarray, tolerance: int = 12) -> int:
    """Pixels of ``image`` within ``tolerance`` (sum of |ΔRGB|) of any of ``colours``."""
    flat = image.reshape(-1, 1, 3).astype(int)
    return int((np.abs(flat - colours.reshape(1, -1, 3).astype(int)).sum(axis=2) < tolerance).any(axis=1).sum())


VIRIDIS = pg.colormap.get("viridis").getLookupTable(nPts=64)[:, :3]
DOT = np.array([[0xFF, 0xD9, 0x2F]])  # style.DOT_COLOUR: the path's yellow epoch dots
START = np.array([[0xE4, 0x1A, 0x1C]])  # style.START_COLOUR: the path's start star
MIDDLE = slice(30, None), slice(SIZE[0] // 3, 2 * SIZE[0] // 3)


def animate(tmp_path, name: str, *extra: str) -> np.ndarray:
    target = tmp_path / f"{name}.gif"
    size = f"{SIZE[0]}x{SIZE[1]}"
    assert main(["train", *RUN, "--out", str(tmp_path / name), "--animate", str(target), "--size", size, *extra]) == 0
    return gif_frames(target)


def test_the_animation_shows_the_landscape_with_the_path_growing(tmp_path, capsys):
    frames = animate(tmp_path, "with", *LANDSCAPE)
    assert frames.shape == (4, SIZE[1], SIZE[0], 3)  # epochs 0..3
    assert all(np.abs(frames[i].astype(int) - frames[i + 1]).mean() > 0.05 for i in range(3))
    assert near(frames[-1][MIDDLE], VIRIDIS) > 2000  # the contour map fills the middle third
    assert near(frames[-1][MIDDLE], START) > 20  # the red start star of the path
    # only the path changes in the middle: more of it differs from the first frame epoch by epoch
    changed = [int((np.abs(f[MIDDLE].astype(int) - frames[0][MIDDLE]).sum(axis=2) > 60).sum()) for f in frames]
    assert 0 < changed[1] < changed[2] < changed[3]
    assert near(frames[-1][MIDDLE], DOT, 30) > near(frames[0][MIDDLE], DOT, 30)  # its yellow epoch dots
    assert "(4 frames, 480x200" in capsys.readouterr().out
    assert (tmp_path / "with" / "landscape.png").is_file()

    plain = animate(tmp_path, "without")
    assert plain.shape == frames.shape
    assert near(plain[-1][MIDDLE], VIRIDIS) < 50  # no landscape panel without --landscape


def test_every_k_epochs_and_the_last_frame_is_the_final_state(tmp_path):
    from engine.animation import Frame, TrainingFrame
    from engine.jobs import run_job
    from engine.training.config import TrainConfig
    from engine.training.jobs import prepare_job, train_job, training_visuals
    from engine.training.landscape_eval import loss_model
    from engine.training.landscape_job import landscape_job
    from gui.charts.figures import TrainingFigure

    frames = animate(tmp_path, "every", *LANDSCAPE, "--every", "2")
    assert frames.shape == (3, SIZE[1], SIZE[0], 3)  # epochs 0, 2, 3
    # the still of the final state, drawn from the same run and the same landscape by the window's figure
    cfg = TrainConfig.from_dict(json.loads((tmp_path / "every" / "history.json").read_text())["config"])
    token = Token()
    trainer = run_job(prepare_job(cfg, token))
    run_job(train_job(trainer, token))
    epochs, path = trainer.weight_path.points()
    ls = run_job(landscape_job(loss_model(cfg, trainer.data), epochs, path, "pca", grid=7))
    saved = json.loads((tmp_path / "every" / "landscape.json").read_text())
    assert np.allclose(np.asarray(saved["loss"], dtype=float), ls.loss, rtol=1e-5, atol=1e-6)
    title = f"{cfg.dataset} · {cfg.optimizer}, lr {cfg.optimizer_params['lr']:g}"
    figure = TrainingFigure(cfg.epochs, SIZE, title, landscape=ls)
    try:
        figure.show(TrainingFrame(Frame(2, 3, 3, 3), list(trainer.history), training_visuals(trainer), None))
        still = figure.image()
    finally:
        figure.close()
    assert float(np.abs(frames[-1].astype(int) - still).mean()) < 1.5
