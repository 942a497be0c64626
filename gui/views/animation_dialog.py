"""File → Export animation…: the current view's race, run or comparison as a GIF or MP4, with progress and Cancel.

The figure is drawn in the GUI thread (Qt draws only there), one frame at a time from a zero-interval timer, so
the window stays responsive; each frame goes through a small queue to ``encode_job`` (gui/charts/animation.py),
which the window's JobRunner runs in a worker thread and which writes the file under a temporary name. Cancel
stops the job's token: the temporary file is removed and nothing appears under the chosen name. At most
``QUEUE_FRAMES`` frames wait in the queue, so a long animation is never held in memory.

A training animation retrains the run from its start with the same configuration (same seed, same result: see
engine/training), in a third job, because the decision regions of past epochs are not kept; its frames come
through a second queue.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from engine.animation import DEFAULT_FPS, MAX_FPS, animation_format, check_fps, frame_count, frame_steps, parse_size
from engine.errors import UserError
from gui.charts.animation import encode_job

QUEUE_FRAMES = 4
POLL_S = 0.05
FULL_MS = 5
WAIT_MS = 15  # the drawing timer's pace while it waits for a training frame (not a busy loop)


def _queued(q: queue.Queue, token) -> Iterator:
    """Yield what ``q`` holds until its None, or until ``token`` stops (worker thread)."""
    while True:
        try:
            item = q.get(timeout=POLL_S)
        except queue.Empty:
            if token.stopped:
                return
            continue
        if item is None:
            return
        yield item


class AnimationExport(QtCore.QObject):
    """One export: draws ``figure`` at each state (GUI thread) and feeds the encoder job (worker thread).

    ``states`` is an iterator of states, or a function of nothing returning the next state (None at the end)
    without blocking. ``finished`` carries the path written, None when cancelled; ``failed`` a message.
    """

    progressed = QtCore.Signal(int, int)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, runner, figure, states, count: int, path, fps: int, settle=None, parent=None):
        super().__init__(parent)
        self.figure, self.count = figure, count
        self.frames: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._next: Callable = states if callable(states) else _from_iterator(iter(states))
        self._ended = False
        if settle is not None:
            figure.show(settle)
            figure.qimage()
        self.handle = runner.start(
            "animation",
            lambda token: encode_job(_queued(self.frames, token), path, fps, figure.size, count, token),
            on_snapshot=lambda p: self.progressed.emit(p.done, p.count),
            on_done=self._done,
        )
        self.timer = QtCore.QTimer(self, interval=0)
        self.timer.timeout.connect(self._draw_next)
        self.timer.start()

    def _draw_next(self) -> None:
        if self.handle.done or self.handle.token.stopped or self._ended:
            self.timer.stop()
            return
        if self.frames.full():
            self.timer.setInterval(FULL_MS)  # the encoder is behind: give it the thread's time, not a busy loop
            return
        try:
            state = self._next()
        except StopIteration:
            self._ended = True
            self.frames.put(None)
            return
        except UserError as err:
            self.cancel()
            self.failed.emit(err.message)
            return
        self.timer.setInterval(WAIT_MS if state is None else 0)
        if state is None:
            return  # not ready yet (a training frame still being trained): look again in WAIT_MS
        try:
            self.figure.show(state)
            self.frames.put(self.figure.image())
        except Exception as err:  # noqa: BLE001 — a drawing bug ends the export with a message, not a crash
            self.cancel()
            self.failed.emit(f"internal error while drawing a frame ({type(err).__name__}: {err})")

    def cancel(self) -> None:
        """Stop drawing and stop the encoder: nothing is left under the chosen name."""
        self.timer.stop()
        self.handle.stop()

    def _done(self, handle) -> None:
        self.timer.stop()
        self.figure.close()
        if handle.error is not None:
            self.failed.emit(handle.error.message)
        else:
            self.finished.emit(handle.result)


def _from_iterator(states: Iterator) -> Callable:
    return lambda: next(states)


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


class AnimationDialog(QtWidgets.QDialog):
    """Asks for the file, frames per second, every k-th step and the frame size; runs the export with a progress
    bar and a Cancel button. ``kind`` is "surface", "training" or "comparison"; ``build`` returns (figure, states,
    count, settle) for the chosen options, or raises UserError."""

    def __init__(self, parent, runner, kind: str, last: int, build: Callable, default_size=(960, 600)):
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        self.runner, self.kind, self.last, self.build = runner, kind, last, build
        self.export: AnimationExport | None = None
        self.written: Path | None = None
        unit = "step" if kind == "surface" else "epoch"
        form = QtWidgets.QFormLayout()
        self.path = QtWidgets.QLineEdit(f"{kind}.gif")
        self.path.setToolTip("A .gif (slides, web pages) or .mp4 (H.264) file")
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("File", row)
        self.fps = QtWidgets.QSpinBox(minimum=1, maximum=max(MAX_FPS.values()), value=DEFAULT_FPS)
        self.fps.setToolTip("Frames per second (GIF at most 50)")
        form.addRow("Frames per second", self.fps)
        self.every = QtWidgets.QSpinBox(minimum=1, maximum=max(1, last), value=1)
        self.every.setToolTip(f"One frame every k {unit}s, and always the last {unit}")
        form.addRow(f"Every k-th {unit}", self.every)
        self.width_box = QtWidgets.QSpinBox(minimum=64, maximum=3840, value=default_size[0], singleStep=2)
        self.height_box = QtWidgets.QSpinBox(minimum=64, maximum=3840, value=default_size[1], singleStep=2)
        size = QtWidgets.QHBoxLayout()
        size.addWidget(self.width_box)
        size.addWidget(QtWidgets.QLabel("×"))
        size.addWidget(self.height_box)
        form.addRow("Frame size (pixels)", size)
        self.losses = QtWidgets.QCheckBox("Loss per step beside the map")
        self.losses.setChecked(True)
        self.losses.setVisible(kind == "surface")
        form.addRow("", self.losses)
        self.frames_label = QtWidgets.QLabel()
        form.addRow("Frames", self.frames_label)
        self.progress = QtWidgets.QProgressBar()
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.buttons = QtWidgets.QDialogButtonBox()
        self.start_button = self.buttons.addButton("Export", QtWidgets.QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.every.valueChanged.connect(self._count)
        self._count()

    def reject(self) -> None:
        """Escape or the window's close button: cancel a running export (nothing is written), then close."""
        if self.export is not None:
            self.export.cancel()
            for extra in getattr(self, "extra_jobs", []):
                extra.stop()
        super().reject()

    def _count(self, *_) -> None:
        self.frames_label.setText(str(frame_count(self.last, self.every.value())))

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export animation", self.path.text(), "GIF animation (*.gif);;MP4 video (*.mp4)"
        )
        if path:
            self.path.setText(path)

    def options(self) -> tuple[Path, int, int, tuple[int, int]]:
        """Return (path, fps, every, size) as checked by the engine; raise UserError in the window's words."""
        text = self.path.text().strip()
        try:
            suffix = animation_format(text, "animate")
            fps = check_fps(self.fps.value(), suffix, "fps")
            size = parse_size(f"{self.width_box.value()}x{self.height_box.value()}", suffix, "size")
        except UserError as err:
            words = {"animate": "File", "fps": "Frames per second", "size": "Frame size"}.get(err.field, "")
            raise UserError(f"{words}: {err.message}" if words else err.message, err.field) from None
        return Path(text), fps, self.every.value(), size

    def start(self) -> None:
        """Check the options, build the figure and start the export; errors are shown in the dialog."""
        if self.export is not None:
            return
        try:
            path, fps, every, size = self.options()
            figure, states, count, settle = self.build(size, every, self.losses.isChecked())
            self.export = AnimationExport(self.runner, figure, states, count, path, fps, settle, self)
        except UserError as err:
            self._show_error(err.message)
            return
        self.progress.setRange(0, count)
        self.progress.setValue(0)
        self.status.setStyleSheet("")
        self.status.setText(f"Writing {path}…")
        self.start_button.setEnabled(False)
        self.export.progressed.connect(lambda done, total: self.progress.setValue(done))
        self.export.finished.connect(self._finished)
        self.export.failed.connect(self._failed)

    def cancel(self) -> None:
        """Cancel a running export (nothing is written), or close the dialog."""
        if self.export is not None:
            self.export.cancel()
            self.status.setText("Cancelling…")
            for extra in getattr(self, "extra_jobs", []):
                extra.stop()
        else:
            self.reject()

    def _finished(self, path) -> None:
        self.export = None
        self.start_button.setEnabled(True)
        if path is None:
            self.status.setText("Cancelled: nothing was written.")
            return
        self.written = Path(path)
        self.status.setText(f"Wrote {path}")
        self.accept()

    def _failed(self, message: str) -> None:
        self.export = None
        self.start_button.setEnabled(True)
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.status.setStyleSheet("color: #b00000;")
        self.status.setText(message)


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


def open_animation_dialog(window) -> AnimationDialog | None:
    """Open the dialog for the window's current view (returned); say so and return None when it has nothing yet."""
    view = window.tabs.currentWidget()
    jobs: list = []
    if view is window.surface:
        kind, found, size = "surface", surface_builder(view), (960, 600)
        empty = "The surface has no paths yet."
    elif view is window.training:
        kind, found, size = "training", training_builder(view, window.runner, jobs), (1200, 640)
        empty = "Train a run first (Step or Run): the animation retrains it from its start, one frame per epoch."
    else:
        kind, found, size = "comparison", comparison_builder(view), (1200, 560)
        empty = "Run the comparison first: the animation draws its curves growing epoch by epoch."
    if found is None:
        QtWidgets.QMessageBox.information(window, "Export animation", empty)
        return None
    last, build = found
    dialog = AnimationDialog(window, window.runner, kind, last, build, size)
    dialog.extra_jobs = jobs
    dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, False)
    dialog.finished.connect(lambda _result: [job.stop() for job in jobs])
    dialog.open()
    return dialog
