"""File → Export animation…: the current view's race, run or comparison as a GIF or MP4, with progress and Cancel.

The figure is drawn in the GUI thread (Qt draws only there), one frame at a time from a zero-interval timer, so
the window stays responsive; each frame goes through a small queue to ``encode_job`` (gui/charts/animation.py),
which the window's JobRunner runs in a worker thread and which writes the file under a temporary name. Cancel
stops the job's token: the temporary file is removed and nothing appears under the chosen name. At most
``QUEUE_FRAMES`` frames wait in the queue, so a long animation is never held in memory.

What each view draws, and the retraining behind a training animation (in a third job, its frames through a
second queue), is in gui/views/animation_sources.py.

An export ends with exactly one signal: ``finished`` (the path, or None when cancelled) or ``failed`` (a message).
A failure while drawing (or retraining) stops the encoder, whose job then ends as stopped: that end is not
reported again. The dialog listens to the export it started last only: the late end of an earlier one (a failed
export still stopping when the next one starts) changes nothing.
"""

from __future__ import annotations

import functools
import queue
from collections.abc import Callable, Iterator
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from engine.animation import DEFAULT_FPS, MAX_FPS, animation_format, check_fps, frame_count, parse_size
from engine.errors import UserError
from gui.charts.animation import encode_job
from gui.views.animation_sources import (
    POLL_S,
    QUEUE_FRAMES,
    comparison_builder,
    surface_builder,
    training_builder,
)
from gui.views.default_paths import default_file

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

    ``states`` is an iterator of states, or a function of nothing returning the next state (None while none is
    ready, StopIteration at the end) without blocking. ``jobs``: the handles of jobs that make the states (a
    retraining), stopped with the export. One of ``finished`` (the path written, None when cancelled) or
    ``failed`` (a message) is emitted, once.
    """

    progressed = QtCore.Signal(int, int)
    finished = QtCore.Signal(object)
    failed = QtCore.Signal(str)

    def __init__(self, runner, figure, states, count: int, path, fps: int, settle=None, parent=None, jobs=()):
        super().__init__(parent)
        self.figure, self.count, self.jobs = figure, count, list(jobs)
        self.frames: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._next: Callable = states if callable(states) else _from_iterator(iter(states))
        self._ended = False
        self._failed = False
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
            self._fail(err.message)
            return
        self.timer.setInterval(WAIT_MS if state is None else 0)
        if state is None:
            return  # not ready yet (a training frame still being trained): look again in WAIT_MS
        try:
            self.figure.show(state)
            self.frames.put(self.figure.image())
        except Exception as err:  # noqa: BLE001 — a drawing bug ends the export with a message, not a crash
            self._fail(f"internal error while drawing a frame ({type(err).__name__}: {err})")

    def cancel(self) -> None:
        """Stop drawing, the encoder and the jobs making the states: nothing is left under the chosen name."""
        self.timer.stop()
        self.handle.stop()
        for job in self.jobs:
            job.stop()

    def _fail(self, message: str) -> None:
        self._failed = True  # the encoder now ends as stopped: _done must not report that as a cancel
        self.cancel()
        self.failed.emit(message)

    def _done(self, handle) -> None:
        self.timer.stop()
        self.figure.close()
        for job in self.jobs:
            job.stop()
        if self._failed:
            return  # already reported
        if handle.error is not None:
            self.failed.emit(handle.error.message)
        else:
            self.finished.emit(handle.result)


def _from_iterator(states: Iterator) -> Callable:
    return lambda: next(states)


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
        self.path = QtWidgets.QLineEdit(str(default_file(f"{kind}.gif")))  # in full: the user sees where
        self.path.setMinimumWidth(min(640, self.path.fontMetrics().horizontalAdvance(self.path.text()) + 24))
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
        jobs = getattr(self, "extra_jobs", [])
        known = len(jobs)
        try:
            path, fps, every, size = self.options()
            figure, states, count, settle = self.build(size, every, self.losses.isChecked())
            export = AnimationExport(self.runner, figure, states, count, path, fps, settle, self, jobs[known:])
        except UserError as err:
            for job in jobs[known:]:
                job.stop()
            self._show_error(err.message)
            return
        self.export = export
        self.progress.setRange(0, count)
        self.progress.setValue(0)
        self.status.setStyleSheet("")
        self.status.setText(f"Writing {path}…")
        self.start_button.setEnabled(False)
        # each slot is told which export spoke: one that is no longer self.export is ignored
        export.progressed.connect(functools.partial(self._progressed, export))
        export.finished.connect(functools.partial(self._finished, export))
        export.failed.connect(functools.partial(self._failed, export))

    def cancel(self) -> None:
        """Cancel a running export (nothing is written), or close the dialog."""
        if self.export is not None:
            self.export.cancel()
            self.status.setText("Cancelling…")
            for extra in getattr(self, "extra_jobs", []):
                extra.stop()
        else:
            self.reject()

    def _progressed(self, export: AnimationExport, done: int, _total: int) -> None:
        if export is self.export:
            self.progress.setValue(done)

    def _finished(self, export: AnimationExport, path) -> None:
        if export is not self.export:
            return
        self.export = None
        self.start_button.setEnabled(True)
        if path is None:
            self.status.setText("Cancelled: nothing was written.")
            return
        self.written = Path(path)
        self.status.setText(f"Wrote {path}")
        self.accept()

    def _failed(self, export: AnimationExport, message: str) -> None:
        if export is not self.export:
            return
        self.export = None
        self.start_button.setEnabled(True)
        self._show_error(message)

    def _show_error(self, message: str) -> None:
        self.status.setStyleSheet("color: #b00000;")
        self.status.setText(message)


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
