"""The command line's animation options (``--animate FILE``, ``--fps``, ``--every``, ``--size``), shared by
``surface``, ``train`` and ``compare``, and the writing of their animations.

``--animate race.gif`` (or ``.mp4``) is a file path like ``--save-weights``: relative to the current folder,
its folder must exist. It is checked with the other options before any work, and written all-or-nothing
(gui/charts/animation.py). Frames: one per step (or epoch) from 0 to the last, so ``steps + 1``; with
``--every k`` the steps 0, k, 2k, … and always the last one, so ``ceil(steps / k) + 1`` (engine/animation.py).

``train --landscape --animate`` keeps each drawn epoch's frame while it trains and draws them once the landscape
is computed, with its map and the path growing in the middle (the window's export figure).
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from engine.animation import DEFAULT_FPS, animation_format, check_every, check_fps, parse_size
from engine.errors import UserError
from gui.cli.flags import named

FLAGS = {"animate": "--animate", "fps": "--fps", "every": "--every", "size": "--size"}


@dataclass(frozen=True)
class AnimationOptions:
    """The checked animation options of one command."""

    path: Path
    fps: int
    every: int
    size: tuple[int, int]


def add_animation_options(parser, unit: str, default_size: str) -> None:
    """Add --animate, --fps, --every and --size to ``parser`` (``unit``: "step" or "epoch"); returns nothing."""
    parser.add_argument(
        "--animate",
        default=None,
        metavar="FILE.gif|FILE.mp4",
        help=f"also write an animation, one frame per {unit} (GIF or MP4 by the extension; path like --save-weights)",
    )
    parser.add_argument(
        "--fps", default=None, help=f"animation frames per second (default {DEFAULT_FPS}; GIF at most 50, MP4 60)"
    )
    parser.add_argument(
        "--every",
        default=None,
        metavar="K",
        help=f"one frame every K {unit}s ({unit}s 0, K, 2K, …) and the last {unit}: ceil({unit}s / K) + 1 frames "
        f"(default 1: {unit}s + 1 frames)",
    )
    parser.add_argument(
        "--size", default=None, metavar="WxH", help=f"animation frame size in pixels (default {default_size})"
    )


def animation_options(args, default_size: str) -> AnimationOptions | None:
    """Return the checked options, or None without --animate; raise UserError naming the flag at fault.

    --fps, --every or --size without --animate is refused (it would do nothing). Creates nothing.
    """
    if args.animate is None:
        for name in ("fps", "every", "size"):
            if getattr(args, name) is not None:
                raise named(UserError("needs --animate FILE.gif or FILE.mp4"), FLAGS[name])
        return None
    try:
        suffix = animation_format(args.animate, "animate")
        from engine.io import check_output_file

        path = check_output_file(args.animate, "animate")
        if not path.absolute().parent.is_dir():
            raise UserError(f"cannot write {path}: folder {path.absolute().parent} does not exist", "animate")
        fps = check_fps(DEFAULT_FPS if args.fps is None else args.fps, suffix, "fps")
        every = check_every(1 if args.every is None else args.every, "every")
        size = parse_size(default_size if args.size is None else args.size, suffix, "size")
    except UserError as err:
        raise named(err, FLAGS.get(err.field, "--animate")) from None
    return AnimationOptions(path, fps, every, size)


def write(figure, states, count: int, options: AnimationOptions, token=None, settle=None) -> tuple[Path, int]:
    """Draw ``figure`` at each state and write the animation, with a progress bar; return (path, frames written).

    Raises UserError naming --animate when the file cannot be written, KeyboardInterrupt when stopped.
    """
    from gui.charts.animation import export_animation
    from gui.cli.driver import progress, stop_on_interrupt

    done = [0]

    def advance(p) -> None:
        """Move the bar to the frames written; returns nothing."""
        done[0] = p.done
        bar.update(p.done - bar.n)

    try:
        with progress(count, "animate", "frame") as bar, stop_on_interrupt(token) if token else nullcontext():
            written = export_animation(figure, states, count, options.path, options.fps, token, advance, settle)
    except UserError as err:
        raise named(err, FLAGS.get(err.field, "--animate")) from None
    if written is None:
        raise KeyboardInterrupt
    return written, done[0]


def write_schedule(figure, last: int, options: AnimationOptions) -> Path:
    """Write ``figure``'s states 0, k, 2k, … and ``last`` (the --every schedule), close the figure, print one line;
    return the path written (UserError naming --animate)."""
    from engine.animation import frame_count, schedule_job
    from engine.jobs import Token

    token = Token()
    try:
        states = (frame.step for frame in schedule_job(last, options.every, token))
        path, frames = write(figure, states, frame_count(last, options.every), options, token, settle=last)
    finally:
        figure.close()
    report(path, frames, options)
    return path


def report(path: Path, count: int, options: AnimationOptions) -> None:
    """Print one line saying what animation was written; returns nothing."""
    seconds = count / options.fps
    print(f"wrote {path} ({count} frames, {options.size[0]}x{options.size[1]}, {options.fps} fps, {seconds:.1f} s)")
    sys.stdout.flush()


def animate_surface(
    surface, paths, steps: int, options: AnimationOptions, grid: int, log, notebook: bool, map_only: bool
):
    """Write the race of ``paths`` on ``surface``: one frame per drawn step, the map (and the loss per step beside
    it unless ``map_only``) drawn as surface.png is; return the path written (UserError naming --animate)."""
    from gui.charts.figures import SurfaceFigure

    figure = SurfaceFigure(
        surface, paths, grid=grid, log=log, notebook=notebook, losses=not map_only, size=options.size
    )
    return write_schedule(figure, steps, options)


def animate_training(cfg, init, data, options: AnimationOptions):
    """Build and train the run of ``cfg`` while writing its animation: one frame per drawn epoch (decision regions
    or confusion matrix beside loss and accuracy); return the trained Trainer (UserError naming --animate)."""
    from engine.animation import frame_count, training_frames
    from engine.jobs import Token
    from engine.training.jobs import prepare_job
    from gui.charts.figures import TrainingFigure
    from gui.cli.driver import drive

    token = Token()
    trainer = drive(prepare_job(cfg, token, init, data), token)
    print(trainer.data.summary(), file=sys.stderr)
    figure = TrainingFigure(cfg.epochs, options.size, _title(cfg))
    count = frame_count(cfg.epochs, options.every)
    try:
        path, frames = write(figure, training_frames(trainer, token, options.every), count, options, token)
    finally:
        figure.close()
    report(path, frames, options)
    return trainer


def record_training(cfg, init, data, every: int):
    """Build and train the run of ``cfg`` with an epoch bar, keeping the TrainingFrame of each drawn epoch (its
    history and decision regions or confusion matrix), to be drawn once the run's landscape is known; return
    (the trained Trainer, the frames). Raises KeyboardInterrupt when stopped."""
    from engine.animation import training_frames
    from engine.jobs import Token
    from engine.training.jobs import prepare_job
    from gui.cli.driver import drive, progress, stop_on_interrupt

    token = Token()
    trainer = drive(prepare_job(cfg, token, init, data), token)
    print(trainer.data.summary(), file=sys.stderr)
    frames = []
    with progress(cfg.epochs, "train", "epoch") as bar, stop_on_interrupt(token):
        for frame in training_frames(trainer, token, every):
            frames.append(frame)
            bar.update(frame.frame.step - bar.n)
    if token.stopped:
        raise KeyboardInterrupt
    return trainer, frames


def draw_training(cfg, frames, options: AnimationOptions, landscape=None) -> Path:
    """Write the animation of recorded TrainingFrames, with ``landscape``'s map and the path growing in the middle
    when there is one (the window's export figure); return the path written (UserError naming --animate)."""
    from engine.jobs import Token
    from gui.charts.figures import TrainingFigure

    figure = TrainingFigure(cfg.epochs, options.size, _title(cfg), landscape=landscape)
    try:
        path, count = write(figure, iter(frames), len(frames), options, Token())
    finally:
        figure.close()
    report(path, count, options)
    return path


def _title(cfg) -> str:
    lr = cfg.optimizer_params.get("lr")
    return f"{cfg.dataset} · {cfg.optimizer}" + (f", lr {lr:g}" if isinstance(lr, (int, float)) else "")


def animate_comparison(results, names: list[str], options: AnimationOptions) -> Path:
    """Write a comparison's overlay charts (loss, accuracy) growing epoch by epoch; return the path written."""
    from gui.charts.figures import CurvesFigure, comparison_panels

    panels, which = comparison_panels(results, names)
    epochs = max(len(r.history) - 1 for r in results)
    figure = CurvesFigure(panels, options.size, f"{which} curves, varying {' and '.join(names)}")
    return write_schedule(figure, epochs, options)
