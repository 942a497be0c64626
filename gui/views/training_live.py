"""How the training tab follows a running job: the job it runs, and the cadence of its redraws.

The window competes with its training thread for the GIL: every millisecond the GUI thread spends in Python
(setting data, laying out, pyqtgraph's paint code) is a millisecond the training loop waits. So the job
reports at most SNAPSHOT_EVERY_S apart, the status line follows at most every STATUS_MS, and the charts are
redrawn at most every CHART_MS, only when a new record or new visuals arrived, and at the latest CHART_MS
after the newest snapshot (nothing new is left undrawn when the job goes quiet). When both the curves and
the side panel have news, the side panel is drawn in the event loop's next turn, after the curves have
been painted: the two never hold the event loop in one piece.
"""

from __future__ import annotations

from PySide6 import QtCore

from engine.experiment import TrainingResult
from engine.training.jobs import Pace, prepare_job, train_job

CHART_MS = 200  # while training, charts redraw at most 5 times a second: painting holds the GIL the worker needs
STATUS_MS = 100  # ... and the status line (its progress bar repaints at once, ~0.5 ms) at most 10 times a second
SNAPSHOT_EVERY_S = 1 / 60  # the job's batch snapshots at most this often: the runner pulls ~30 times a second
SPARE_CORES = 1  # the GUI thread's core: a training thread pool that takes it stalls at every redraw


def session(config, trainer, epochs: int | None, pace: Pace | None = None):
    """Return a job: build the trainer if there is none, then train ``epochs`` (None: to the end, 0: none)
    at ``pace`` (read while it trains, so a change applies at once). The job returns (trainer or None, status,
    the run's TrainingResult or None): the result is built in the job's thread, since converting the weights
    takes ~0.2 µs a parameter (130 ms for 784-512-512-10) that the window would otherwise stall for."""

    def job(token):
        t = trainer
        if t is None:
            t = yield from prepare_job(config, token, spare_cores=SPARE_CORES)
            if t is None:
                return None, "stopped", None
        if epochs == 0:
            return t, "ready", None
        status = yield from train_job(t, token, epochs, pace, SNAPSHOT_EVERY_S, SPARE_CORES)
        return t, status, TrainingResult.from_trainer(t) if t.epoch > 0 else None

    return job


def settle(canvas) -> None:
    """Bring the auto-ranges and axes of a pyqtgraph ``canvas`` up to its new data now; returns nothing.

    pyqtgraph fits a plot's range to new data only when the scene is about to paint, and the axes it then moves
    ask for a second paint: every redraw of the curves was painted twice (~4 ms each, the curves in both, under
    the GIL the training thread needs). Fitted before the paint, one paint covers both regions.
    """
    canvas.scene().prepareForPaint()


class LiveCharts(QtCore.QObject):
    """Draws a training job's snapshots into TrainingPanels: the status line at once, the charts paced.

    ``frames`` counts the chart redraws that drew something (tests read it; a redraw with nothing new is
    skipped and not counted).
    """

    def __init__(self, panels, pace: Pace, parent=None):
        super().__init__(parent)
        self.panels = panels
        self.pace = pace
        self.snapshot = None
        self.status = ""
        self.frames = 0
        self._at = -(10**9)  # when the charts were last drawn (ms since midnight)
        self._status_at, self._status_shown = -(10**9), None  # when the status line was drawn, and in which state
        self._status_of = None  # the snapshot the status line shows
        self._visuals = None
        self._timer = QtCore.QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.draw)
        self._side = QtCore.QTimer(self, singleShot=True, interval=0)  # runs after the pending paints
        self._side.timeout.connect(self._draw_side)

    def show(self, s, status: str) -> None:
        """Show snapshot ``s`` in state ``status``: the status line and the charts now, or within STATUS_MS and
        CHART_MS (a new state, or a snapshot that is not "running", is shown at once). Returns nothing."""
        self.snapshot, self.status = s, status
        now = QtCore.QTime.currentTime().msecsSinceStartOfDay()
        if status != self._status_shown or s.status != "running" or not 0 <= now - self._status_at < STATUS_MS:
            self._draw_status(now)  # first: QProgressBar repaints itself at once, before the charts are touched
        # slowed down, every epoch's new visuals are drawn (the worker mostly waits, so painting costs it nothing)
        paced = self.pace.epochs_per_second is not None and s.visuals is not self._visuals
        if paced or s.status != "running" or now - self._at >= CHART_MS or now < self._at:
            self.draw()
        elif not self._timer.isActive():
            self._timer.start(max(1, CHART_MS - (now - self._at)))

    def draw(self) -> None:
        """Draw the newest snapshot's charts now (nothing when it brings nothing new); returns nothing."""
        self._timer.stop()
        s = self.snapshot
        if s is None:
            return
        self._at = QtCore.QTime.currentTime().msecsSinceStartOfDay()
        if self._status_of is not s:
            self._draw_status(self._at)  # the newest numbers with the newest curves
        self._visuals = s.visuals
        curves = self.panels.draw_curves(s)
        if curves:
            settle(self.panels.canvas)
        side = self.panels.visuals_new(s.visuals)
        self._side.stop()
        if curves and side and self.pace.epochs_per_second is None:
            self._side.start()
        elif side:
            self.panels.draw_visuals(s.visuals)
        if curves or side:
            self.frames += 1

    def _draw_status(self, now: int) -> None:
        self.panels.draw_status(self.snapshot, self.status)
        self._status_at, self._status_shown, self._status_of = now, self.status, self.snapshot

    def _draw_side(self) -> None:
        if self.snapshot is not None:
            self.panels.draw_visuals(self.snapshot.visuals)

    def cancel(self) -> None:
        """Forget the pending redraws and the snapshot (a new run starts, or the run was abandoned); returns
        nothing."""
        self._timer.stop()
        self._side.stop()
        self.snapshot = None
