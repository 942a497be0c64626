"""Animation frames as plain generators: which step or epoch each frame shows, and the checks on the options.

A frame schedule is the list of steps drawn: ``0, k, 2k, …`` for ``--every k`` and always the last step, so
an animation of ``steps`` steps has ``steps + 1`` frames with ``k = 1`` and ``ceil(steps / k) + 1`` frames
otherwise (``frame_count``). ``schedule_job`` yields one ``Frame`` per drawn step and checks a Token between
frames; ``training_frames`` trains a run ``k`` epochs at a time through the window's own ``train_job`` and
yields what each frame shows (the history so far and the side panel's pictures). The drawing and encoding live
in gui/charts/animation.py; nothing here imports Qt.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError

FORMATS = {".gif": "GIF", ".mp4": "MP4"}
MAX_FPS = {".gif": 50, ".mp4": 60}  # GIF delays are in 1/100 s and viewers slow anything under 20 ms down
DEFAULT_FPS = 10
MIN_SIDE, MAX_SIDE = 64, 3840


@dataclass(frozen=True)
class Frame:
    """One frame to draw: its place in the animation and the step (or epoch) it shows."""

    index: int  # 0-based frame number
    count: int  # frames in the animation
    step: int  # the step or epoch drawn
    last: int  # the last step or epoch of the animation


def frame_steps(steps: int, every: int = 1) -> list[int]:
    """Return the steps drawn for a run of ``steps`` steps: 0, every, 2·every, … and ``steps`` itself, ascending."""
    if steps < 0:
        raise UserError(f"the number of steps must be at least 0, not {steps}", "steps")
    every = check_every(every)
    drawn = list(range(0, steps + 1, every))
    if drawn[-1] != steps:
        drawn.append(steps)
    return drawn


def frame_count(steps: int, every: int = 1) -> int:
    """Return the number of frames for ``steps`` steps: steps + 1 with every = 1, else ceil(steps / every) + 1."""
    return len(frame_steps(steps, every))


def check_every(every, field: str = "every") -> int:
    """Return ``every`` as an int ≥ 1; raise UserError (``field``) otherwise."""
    try:
        value = int(str(every).strip())
    except ValueError:
        raise UserError(f"must be a whole number of steps, not {every!r}", field) from None
    if value < 1:
        raise UserError(f"must be at least 1, not {value}", field)
    return value


def animation_format(path, field: str = "animate") -> str:
    """Return the suffix (``.gif`` or ``.mp4``) of ``path``; raise UserError (``field``) for any other."""
    text = str(path or "").strip()
    if not text:
        raise UserError("the file name is empty (give a name ending in .gif or .mp4)", field)
    suffix = Path(text).suffix.lower()
    if suffix not in FORMATS:
        shown = f"'{suffix}'" if suffix else "no extension"
        raise UserError(f"{text}: unknown animation format ({shown}); use a name ending in .gif or .mp4", field)
    return suffix


def check_fps(fps, suffix: str, field: str = "fps") -> int:
    """Return ``fps`` as an int within the format's range (GIF 1..50, MP4 1..60); raise UserError otherwise."""
    try:
        value = int(str(fps).strip())
    except ValueError:
        raise UserError(f"must be a whole number of frames per second, not {fps!r}", field) from None
    high = MAX_FPS.get(suffix, 60)
    if not 1 <= value <= high:
        raise UserError(f"must be between 1 and {high} for {FORMATS.get(suffix, 'this format')}, not {value}", field)
    return value


def parse_size(text, suffix: str, field: str = "size") -> tuple[int, int]:
    """Return (width, height) from ``WxH`` (``800x600``); raise UserError (``field``) for a bad or odd size.

    MP4 (H.264 with 4:2:0 colour) needs even sides; GIF takes any size from 64 to 3840 pixels a side.
    """
    raw = str(text or "").strip().lower().replace("×", "x")
    parts = raw.split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise UserError(f"must be WIDTHxHEIGHT in pixels, e.g. 800x600, not {text!r}", field) from None
    for side in (width, height):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise UserError(f"each side must be between {MIN_SIDE} and {MAX_SIDE} pixels, not {width}x{height}", field)
    if suffix == ".mp4" and (width % 2 or height % 2):
        raise UserError(
            f"MP4 needs even sides, not {width}x{height} (try {width + width % 2}x{height + height % 2})", field
        )
    return width, height


def schedule_job(steps: int, every: int = 1, token=None) -> Generator[Frame, None, int]:
    """Yield one Frame per drawn step (see ``frame_steps``); return the number yielded.

    ``token.checkpoint()`` is called before each frame: a stop ends the job early (fewer frames returned).
    """
    drawn = frame_steps(steps, every)
    for index, step in enumerate(drawn):
        if token is not None and token.checkpoint():
            return index
        yield Frame(index, len(drawn), step, steps)
    return len(drawn)


@dataclass(frozen=True)
class TrainingFrame:
    """What one frame of a training animation shows: the history up to ``epoch`` and that epoch's panel."""

    frame: Frame
    history: list  # EpochRecord list, epochs 0..epoch
    visuals: object  # engine.training.jobs.Visuals at this epoch (decision regions or confusion matrix)
    diverged_at: int | None


def training_frames(trainer, token, every: int = 1) -> Generator[TrainingFrame, None, str]:
    """Train ``trainer`` to its end, ``every`` epochs at a time, yielding a TrainingFrame after each stretch.

    The first frame is the trainer's state before it goes on (epoch 0 for a new run). The stretches are the
    window's ``train_job``, so the history is the one an uninterrupted run has. A run that diverges ends the
    animation at that epoch. Returns "finished", "diverged" or "stopped" (the token stopped it; no more frames).
    """
    from engine.jobs import run_job
    from engine.training.jobs import train_job, training_visuals

    total = trainer.config.epochs
    every = check_every(every)
    drawn = frame_steps(total, every)
    count = len([e for e in drawn if e >= trainer.epoch]) + (0 if trainer.epoch in drawn else 1)
    index = 0

    def frame() -> TrainingFrame:
        h = list(trainer.history)
        return TrainingFrame(
            Frame(index, count, trainer.epoch, total), h, training_visuals(trainer), trainer.diverged_at
        )

    if token.checkpoint():
        return "stopped"
    yield frame()
    while not trainer.finished:
        index += 1
        target = min(total, (trainer.epoch // every + 1) * every)
        status = run_job(train_job(trainer, token, epochs=target - trainer.epoch))
        if status == "stopped" or token.stopped:
            return "stopped"
        yield frame()
    return "diverged" if trainer.diverged_at is not None else "finished"
