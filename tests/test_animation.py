"""Animations: frame schedules (engine), GIF/MP4 files read back with imageio and PyAV, the command line's options."""

import av
import imageio.v3 as iio
import numpy as np
import pytest

from engine.animation import (
    animation_format,
    check_fps,
    frame_count,
    frame_steps,
    parse_size,
    schedule_job,
)
from engine.errors import UserError
from engine.jobs import Token
from main import main

PEAKS = ["surface", "--function", "peaks", "--optimizers", "sgd,momentum,adam", "--lr", "0.05", "--grid", "40"]


def gif_frames(path) -> np.ndarray:
    """Every frame of a GIF as (n, height, width, 3) RGB, read with imageio."""
    return iio.imread(path, index=None)[..., :3]


def mp4_frames(path) -> list[np.ndarray]:
    """Every frame of an MP4 as RGB arrays, decoded with PyAV."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def colour(hex_colour: str) -> list[int]:
    return [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]


def png(path) -> np.ndarray:
    return iio.imread(path)[..., :3]


def differ(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two RGB images, 0..255."""
    return float(np.abs(a.astype(int) - b.astype(int)).mean())


# -- the schedule ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "steps, every, drawn",
    [(10, 1, list(range(11))), (10, 3, [0, 3, 6, 9, 10]), (10, 5, [0, 5, 10]), (10, 50, [0, 10]), (0, 1, [0])],
)
def test_frame_steps_are_every_kth_step_and_always_the_last(steps, every, drawn):
    assert frame_steps(steps, every) == drawn
    assert frame_count(steps, every) == len(drawn)
    frames = list(schedule_job(steps, every))
    assert [f.step for f in frames] == drawn and [f.index for f in frames] == list(range(len(drawn)))
    assert {f.count for f in frames} == {len(drawn)} and {f.last for f in frames} == {steps}


def test_frame_count_is_steps_plus_one_or_ceil_over_every_plus_one():
    for steps in (1, 7, 200):
        assert frame_count(steps) == steps + 1
        for every in (2, 3, 9):
            assert frame_count(steps, every) == -(-steps // every) + 1


def test_a_stopped_schedule_yields_no_more_frames():
    token, seen = Token(), []
    for frame in schedule_job(100, 1, token):
        seen.append(frame.step)
        if frame.step == 4:
            token.stop()
    assert seen == [0, 1, 2, 3, 4]


def test_option_checks_name_the_field():
    assert animation_format("a/race.GIF") == ".gif" and animation_format("x.mp4") == ".mp4"
    with pytest.raises(UserError, match="unknown animation format") as err:
        animation_format("race.avi")
    assert err.value.field == "animate"
    with pytest.raises(UserError, match="between 1 and 50"):
        check_fps("60", ".gif")
    assert check_fps("60", ".mp4") == 60
    assert parse_size("321x200", ".gif") == (321, 200)
    with pytest.raises(UserError, match="even sides"):
        parse_size("321x200", ".mp4")
    with pytest.raises(UserError, match="WIDTHxHEIGHT"):
        parse_size("big", ".gif")


# -- surface race ------------------------------------------------------------------------------------------------
def still_of_last_step(tmp_path, steps: int, size, losses=True):
    """The still PNG export of the race's last step, drawn from the paths the command wrote."""
    from engine.experiment import load_experiment
    from engine.surface.functions import get_surface
    from gui.charts.render import render_surface

    paths = load_experiment(tmp_path / "o" / "experiment.json").results.surface.to_paths()
    target = tmp_path / "still.png"
    render_surface(get_surface("peaks"), paths, target, grid=40, step=steps, losses=losses, size=size)
    return png(target)


def test_surface_race_gif_has_a_frame_per_step_of_the_asked_size_ending_on_the_still(tmp_path, capsys):
    target = tmp_path / "race.gif"
    args = [*PEAKS, "--steps", "6", "--out", str(tmp_path / "o"), "--animate", str(target), "--size", "320x200"]
    assert main(args) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "race.gif"]  # no temporary file left
    assert f"wrote {target} (7 frames, 320x200, 10 fps" in capsys.readouterr().out
    frames = gif_frames(target)
    assert frames.shape == (7, 200, 320, 3)  # steps + 1
    assert all(differ(frames[i], frames[i + 1]) > 0 for i in range(6))
    assert differ(frames[-1], still_of_last_step(tmp_path, 6, (320, 200))) < 1.5


def test_surface_race_mp4_every_k_steps_plus_the_last(tmp_path):
    target = tmp_path / "race.mp4"
    args = [*PEAKS, "--steps", "10", "--out", str(tmp_path / "o"), "--animate", str(target)]
    assert main([*args, "--every", "4", "--fps", "25", "--size", "320x192"]) == 0
    frames = mp4_frames(target)
    assert len(frames) == 4  # steps 0, 4, 8 and 10
    assert {f.shape for f in frames} == {(192, 320, 3)}
    assert all(differ(frames[i], frames[i + 1]) > 0.05 for i in range(3))
    assert differ(frames[-1], still_of_last_step(tmp_path, 10, (320, 192))) < 4  # H.264 with 4:2:0 colour
    with av.open(str(target)) as container:
        assert container.streams.video[0].average_rate == 25


def test_map_only_frames_have_no_loss_chart(tmp_path):
    target = tmp_path / "race.gif"
    args = [*PEAKS, "--steps", "3", "--out", str(tmp_path / "o"), "--animate", str(target), "--size", "300x240"]
    assert main([*args, "--map-only"]) == 0
    frames = gif_frames(target)
    assert differ(frames[-1], still_of_last_step(tmp_path, 3, (300, 240), losses=False)) < 1.5
    assert differ(frames[-1], still_of_last_step(tmp_path, 3, (300, 240), losses=True)) > 5


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--animate", "race.avi"], "error: --animate: race.avi: unknown animation format ('.avi'); use a name"),
        (["--animate", "{tmp}/missing/race.gif"], "error: --animate: cannot write {tmp}/missing/race.gif: folder"),
        (["--animate", "{tmp}/r.mp4", "--size", "321x200"], "error: --size: MP4 needs even sides, not 321x200"),
        (["--animate", "{tmp}/r.gif", "--fps", "0"], "error: --fps: must be between 1 and 50 for GIF, not 0"),
        (["--animate", "{tmp}/r.gif", "--every", "0"], "error: --every: must be at least 1, not 0"),
        (["--fps", "5"], "error: --fps: needs --animate FILE.gif or FILE.mp4"),
    ],
)
def test_bad_animation_options_end_with_one_line_and_write_nothing(tmp_path, capsys, extra, message):
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    assert main([*PEAKS, "--steps", "2", "--out", str(tmp_path / "o"), *extra]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(message.replace("{tmp}", str(tmp_path)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", ["gif", "mp4"])
def test_a_full_disk_leaves_no_file_under_the_final_name(tmp_path, capsys, monkeypatch, suffix):
    import gui.charts.animation as animation

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if suffix == "gif":
        write = animation.AnimationWriter._write

        def full_after_two_frames(writer, chunks):  # the header and two frames are in the temporary file
            if writer.frames >= 2:
                no_space()
            write(writer, chunks)

        monkeypatch.setattr(animation.AnimationWriter, "_write", full_after_two_frames)
    else:
        monkeypatch.setattr(av.VideoFrame, "from_ndarray", no_space)
    target = tmp_path / f"race.{suffix}"
    target.write_bytes(b"the old file")
    args = [*PEAKS, "--steps", "3", "--out", str(tmp_path / "o"), "--animate", str(target), "--size", "200x160"]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"error: --animate: cannot write {target}: No space left on device"
    assert target.read_bytes() == b"the old file"  # untouched: the export went to a temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"race.{suffix}"]  # and --out was not written either


def test_a_stopped_encode_job_leaves_nothing(tmp_path):
    from gui.charts.animation import encode_job

    token = Token()
    frames = (np.full((64, 96, 3), i * 20, np.uint8) for i in range(10))
    job = encode_job(frames, tmp_path / "a.gif", 10, (96, 64), 10, token)
    for progress in job:
        if progress.done == 3:
            token.stop()
    assert list(tmp_path.iterdir()) == []


# -- training and comparison ------------------------------------------------------------------------------------------
SPIRAL = ["--dataset", "spiral", "--layers", "2,16,3", "--lr", "0.3", "--batch-size", "50", "--seed", "1"]


def test_train_animation_has_a_frame_per_epoch_with_the_regions_changing(tmp_path, capsys):
    target = tmp_path / "train.mp4"
    args = ["train", *SPIRAL, "--epochs", "5", "--out", str(tmp_path / "o"), "--animate", str(target)]
    assert main([*args, "--size", "480x256"]) == 0
    frames = mp4_frames(target)
    assert len(frames) == 6 and {f.shape for f in frames} == {(256, 480, 3)}
    assert all(differ(frames[i], frames[i + 1]) > 0.05 for i in range(5))
    left = slice(40, 220), slice(20, 220)  # the decision-region panel
    assert differ(frames[0][left], frames[-1][left]) > 1
    assert "wrote " + str(target) + " (6 frames" in capsys.readouterr().out
    import json

    history = json.loads((tmp_path / "o" / "history.json").read_text())["history"]
    assert len(history) == 6  # the same run as without --animate: every epoch recorded


def test_training_frames_last_frame_equals_the_still_export(tmp_path):
    from engine.animation import training_frames
    from engine.training.config import TrainConfig
    from engine.training.trainer import Trainer
    from gui.charts.animation import AnimationWriter
    from gui.charts.figures import TrainingFigure

    cfg = TrainConfig(dataset="iris", layers=[4, 8, 3], epochs=4, batch_size=30)
    trainer = Trainer(cfg, cfg.load_data())
    figure = TrainingFigure(cfg.epochs, (400, 240))
    epochs = []
    with AnimationWriter(tmp_path / "t.gif", 5, figure.size) as writer:
        for frame in training_frames(trainer, Token(), every=3):
            epochs.append(frame.frame.step)
            assert len(frame.history) == frame.frame.step + 1 and frame.visuals.confusion is not None
            figure.show(frame)
            writer.add(figure.image())
    assert epochs == [0, 3, 4]
    figure.save_png(tmp_path / "still.png")
    frames = gif_frames(tmp_path / "t.gif")
    assert frames.shape == (3, 240, 400, 3)
    assert differ(frames[-1], png(tmp_path / "still.png")) < 1.5


def test_compare_animation_grows_the_overlay_charts(tmp_path):
    target = tmp_path / "cmp.gif"
    args = ["compare", *SPIRAL, "--epochs", "4", "--vary", "momentum=0,0.9", "--out", str(tmp_path / "o")]
    assert main([*args, "--animate", str(target), "--size", "480x224"]) == 0
    frames = gif_frames(target)
    assert frames.shape == (5, 224, 480, 3)
    assert all(differ(frames[i], frames[i + 1]) > 0 for i in range(4))


def test_a_training_animation_draws_the_landscape_path_up_to_each_epoch(tmp_path):
    from engine.animation import training_frames
    from engine.jobs import run_job
    from engine.training.config import TrainConfig
    from engine.training.jobs import prepare_job, train_job
    from engine.training.landscape_eval import loss_model
    from engine.training.landscape_job import landscape_job
    from gui.charts.figures import TrainingFigure
    from gui.charts.landscape import PATH_COLOUR

    cfg = TrainConfig(points=60, layers=(2, 8, 3), epochs=4, batch_size=30)
    token = Token()
    first = run_job(prepare_job(cfg, token))
    run_job(train_job(first, token))
    epochs, path = first.weight_path.points()
    ls = run_job(landscape_job(loss_model(cfg, first.data), epochs, path, "pca", grid=9))
    figure = TrainingFigure(cfg.epochs, (900, 360), landscape=ls)
    light = []  # pixels of the path's colour in the middle (landscape) panel, frame by frame
    for frame in training_frames(run_job(prepare_job(cfg, token)), token):  # retrained: the same run
        figure.show(frame)
        middle = figure.image()[60:, 300:600]
        light.append(int((np.abs(middle.astype(int) - colour(PATH_COLOUR)).sum(axis=2) < 12).sum()))
    assert len(light) == 5 and light[-1] > light[1] > 0  # the path grows on the landscape


def test_a_diverged_path_does_not_flatten_the_other_loss_curves():
    from engine.surface.functions import get_surface
    from engine.surface.paths import PathSpec, compute_paths
    from gui.charts.figures import SurfaceFigure

    surface = get_surface("rosenbrock")
    paths = compute_paths(surface, [PathSpec("sgd", {"lr": 0.5}), PathSpec("adam", {"lr": 0.5})], [(-1.5, 2.0)], 30)
    assert paths[0].diverged_at is not None and paths[1].diverged_at is None
    figure = SurfaceFigure(surface, paths, grid=40, losses=True, size=(480, 300))
    top = figure.loss_chart.plot.viewRange()[1][1]
    assert np.nanmax(paths[1].losses) <= top < 2 * np.nanmax(paths[1].losses)  # Adam's range, not SGD's 1e9


# -- streaming: a GIF's frames go to the file as they come, nothing grows with their number --------------------------
def noisy_frames(count: int, size=(160, 120)):
    """Frames of a white chart with a block of noise that moves: each one differs and compresses badly."""
    rng = np.random.default_rng(7)
    width, height = size
    for i in range(count):
        frame = np.full((height, width, 3), 255, np.uint8)
        x = (3 * i) % (width - 60)
        frame[20:100, x : x + 60] = rng.integers(0, 8, (80, 60, 3), dtype=np.uint8) * 32
        yield frame


def test_gif_frames_are_written_to_the_temporary_file_as_they_are_added(tmp_path):
    from gui.charts.animation import AnimationWriter

    target = tmp_path / "race.gif"
    sizes = []
    with AnimationWriter(target, 10, (160, 120)) as writer:
        for i, frame in enumerate(noisy_frames(40)):
            writer.add(frame)
            if i % 10 == 9:
                (temporary,) = list(tmp_path.iterdir())  # only the temporary file, nothing under the final name
                assert temporary != target
                sizes.append(temporary.stat().st_size)
    assert sizes[0] > 20_000 and all(b > a + 20_000 for a, b in zip(sizes, sizes[1:]))  # ~5 kB a frame
    assert target.stat().st_size >= sizes[-1] and len(gif_frames(target)) == 40


def test_gif_export_memory_does_not_grow_with_the_frame_count(tmp_path):
    import tracemalloc

    from gui.charts.animation import AnimationWriter

    def peak(count: int) -> int:
        tracemalloc.start()
        with AnimationWriter(tmp_path / f"{count}.gif", 10, (160, 120)) as writer:
            for frame in noisy_frames(count):
                writer.add(frame)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    peak(5)  # imports and pillow's first-use tables
    few, many = peak(20), peak(80)
    written = (tmp_path / "80.gif").stat().st_size - (tmp_path / "20.gif").stat().st_size
    assert written > 250_000  # what 60 more frames take in the file
    assert many - few < written / 10, (few, many)  # and not in memory
    assert len(gif_frames(tmp_path / "80.gif")) == 80


def test_gif_frames_come_back_exactly_across_a_palette_change():
    """Flat colours on white, a marker moving, then new colours (a new palette): every frame read back as drawn."""
    import tempfile
    from pathlib import Path

    from gui.charts.animation import AnimationWriter

    frames = []
    for i in range(12):
        frame = np.full((90, 140, 3), 255, np.uint8)
        frame[10:20, 5 * i : 5 * i + 8] = (31, 119, 180)
        frame[60:80, 100:130] = (0, 0, 0)  # black: a colour that must not be taken for the unchanged pixels
        if i == 5:
            frame[30:40, 30:40] = (255, 255, 255)  # an unchanged frame part, the same as the one before
        if i >= 7:  # 300 new colours: the frame needs a palette of its own
            frame[30:45, 20:40] = np.arange(300 * 3, dtype=np.uint32).reshape(15, 20, 3) * 7919 % 256
        frames.append(frame)
    frames.insert(3, frames[2].copy())  # a frame that changes nothing is still a frame
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "flat.gif"
        with AnimationWriter(target, 25, (140, 90)) as writer:
            for frame in frames:
                writer.add(frame)
        back = gif_frames(target)
        with av.open(str(target)) as container:  # ffmpeg's decoder composites the frames the same way
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert back.shape == (13, 90, 140, 3) and len(decoded) == 13
    for i in range(7):
        assert np.array_equal(back[i], frames[i]) and np.array_equal(decoded[i], frames[i]), i
    for i in range(7, 13):  # the palette of 255 colours holds the flat ones exactly, the 300 new ones nearly
        assert np.array_equal(back[i][:30], frames[i][:30]) and np.array_equal(back[i][45:], frames[i][45:])
        assert differ(back[i], frames[i]) < 1 and np.array_equal(decoded[i], back[i])
    assert back[-1][0, 0].tolist() == [255, 255, 255]
