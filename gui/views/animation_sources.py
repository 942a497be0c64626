"""What File → Export animation… draws, view by view: each builder returns (last step or epoch, build), where
``build(size, every, losses)`` gives (figure, states, frame count, settle) for gui/views/animation_dialog.py.

A training animation retrains the run from its start with the same configuration (same seed, same result: see
engine/training), in a job of its own, because the decision regions of past epochs are not kept; its frames
come through a queue of at most ``QUEUE_FRAMES``.
"""

from __future__ import annotations

import queue
from collections.abc import Callable

from engine.animation import frame_count, frame_steps

QUEUE_FRAMES = 4
POLL_S = 0.05


def training_states(runner, config, every: int) -> tuple[Callable, object]:
    """Start retraining ``config`` from its start in a job that queues a TrainingFrame per drawn epoch; return
    (a function giving the next frame, None while none is ready, StopIteration at the end; the job's handle)."""
    from engine.animation import training_frames
    from engine.training.jobs import prepare_job

    frames: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)

    def job(token):
        trainer = yield from prepare_job(config, token)
        if trainer is None:
            return None
        for frame in training_frames(trainer, token, every):
            while not token.stopped:
                try:
                    frames.put(frame, timeout=POLL_S)
                    break
                except queue.Full:
                    continue
            yield frame.frame
        while not token.stopped:
            try:
                frames.put(StopIteration, timeout=POLL_S)
                break
            except queue.Full:
                continue
        return None

    handle = runner.start("animation frames", job)

    def next_state():
        if handle.error is not None:
            raise handle.error
        try:
            item = frames.get_nowait()
        except queue.Empty:
            if handle.done:
                raise StopIteration from None
            return None
        if item is StopIteration:
            raise StopIteration
        return item

    return next_state, handle


def surface_builder(view) -> tuple[int, Callable] | None:
    """Return (steps, build) for the surface view's race, or None when no paths are drawn yet."""
    if getattr(view, "paths", None) is None or not view.paths:
        return None
    from gui.charts.figures import SurfaceFigure

    steps = max(len(p.losses) - 1 for p in view.paths)

    def build(size, every, losses):
        figure = SurfaceFigure(
            view.surface,
            view.paths,
            log=view.log_scale.isChecked(),
            notebook=view.controls.notebook_markers.isChecked(),
            losses=losses,
            size=size,
            scene=view.scene,
        )
        return figure, iter(frame_steps(steps, every)), frame_count(steps, every), steps

    return steps, build


def comparison_builder(view) -> tuple[int, Callable] | None:
    """Return (epochs, build) for the comparison view's results, or None when there are none."""
    if not getattr(view, "results", None):
        return None
    from gui.charts.figures import CurvesFigure, comparison_panels

    results, names = list(view.results), list(view.varied)
    epochs = max(len(r.history) - 1 for r in results)

    def build(size, every, _losses):
        panels, which = comparison_panels(results, names)
        figure = CurvesFigure(panels, size, f"{which} curves, varying {' and '.join(names)}")
        return figure, iter(frame_steps(epochs, every)), frame_count(epochs, every), epochs

    return epochs, build


def training_builder(view, runner, jobs: list) -> tuple[int, Callable] | None:
    """Return (epochs, build) retraining the training view's run from its start, or None without a run."""
    trainer = getattr(view, "trainer", None)
    if trainer is None:
        return None
    from gui.charts.figures import TrainingFigure

    config = trainer.config
    epochs = config.epochs

    def build(size, every, _losses):
        next_state, handle = training_states(runner, config, every)
        jobs.append(handle)
        panel = getattr(view, "landscape", None)  # the landscape, when the panel shows one of this run
        shown = panel is not None and panel.enabled.isChecked() and panel.charts.landscape is not None
        landscape = panel.charts.landscape if shown else None
        figure = TrainingFigure(epochs, size, f"{config.dataset} · {config.optimizer}", landscape=landscape)
        return figure, next_state, frame_count(epochs, every), None

    return epochs, build
