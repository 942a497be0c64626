"""The training worker: a QObject living in a QThread, publishing into a shared, locked state.

The GUI polls ``TrainState.snapshot()`` from a ~30 Hz timer instead of receiving a signal per batch.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PySide6 import QtCore

from engine.errors import UserError
from engine.training.config import TrainConfig
from engine.training.metrics import confusion_matrix, decision_grid, per_class_accuracy, predictions
from engine.training.trainer import Trainer

GRID_SAMPLES = 36
VISUALS_EVERY_S = 0.3  # decision regions / confusion are recomputed at most this often while training


@dataclass
class TrainState:
    """What the view draws: copied out under a lock by snapshot()."""

    history: list = field(default_factory=list)
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    samples_per_s: float = 0.0
    elapsed: float = 0.0
    device: str = ""
    path: str = ""
    status: str = "idle"  # idle | loading | running | paused | stopped | finished | diverged | error
    message: str = ""
    data_summary: str = ""
    decision: tuple | None = None  # (xs, ys, classes, confidence)
    points: tuple | None = None  # (x, y, n_classes) for the scatter
    confusion: tuple | None = None  # (matrix, labels, per_class)
    samples: tuple | None = None  # (images, true, predicted, shape)
    version: int = 0


class TrainWorker(QtCore.QObject):
    """Owns the Trainer; its slots run in the worker thread."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.state = TrainState()
        self.trainer: Trainer | None = None
        self.config: TrainConfig | None = None
        self._stop = False
        self._final = False
        self._started = 0.0
        self._elapsed_before = 0.0

    # -- called from the GUI thread ---------------------------------------------------------------------
    def request_stop(self, final: bool = False) -> None:
        """Ask the loop to stop before its next batch; ``final`` ends the run (no resuming)."""
        self._final = final
        self._stop = True

    def snapshot(self) -> TrainState:
        """Return a copy of the state that is safe to read in the GUI thread."""
        with self.lock:
            s = self.state
            return TrainState(
                list(s.history),
                s.epochs,
                s.batch,
                s.batches,
                s.samples_per_s,
                s.elapsed,
                s.device,
                s.path,
                s.status,
                s.message,
                s.data_summary,
                s.decision,
                s.points,
                s.confusion,
                s.samples,
                s.version,
            )

    # -- slots (worker thread) ----------------------------------------------------------------------------
    @QtCore.Slot(object)
    def prepare(self, config: TrainConfig) -> None:
        """Load the data and build a fresh trainer for ``config``."""
        torch.set_num_threads(1)  # the GUI thread needs the other core; small models gain nothing from two
        self._set(
            status="loading",
            message="loading data…",
            history=[],
            decision=None,
            confusion=None,
            samples=None,
            points=None,
            batch=0,
        )
        try:
            self.config = config
            self.trainer = Trainer(config)
        except UserError as err:
            self.trainer = None
            self._set(status="error", message=str(err))
            return
        except Exception as err:  # noqa: BLE001 — shown in the window, never a crash
            self.trainer = None
            self._set(status="error", message=f"{type(err).__name__}: {err}")
            return
        t = self.trainer
        data = t.data
        points = (
            (data.x_train.numpy(), data.y_train.numpy(), data.n_classes)
            if data.n_features == 2 and data.n_classes
            else None
        )
        self._elapsed_before = 0.0
        self._set(
            status="idle",
            message="ready",
            history=list(t.history),
            epochs=t.config.epochs,
            batches=t.batches_per_epoch,
            device=str(t.device),
            path=t.path,
            data_summary=data.summary(),
            points=points,
        )
        self._visuals()

    @QtCore.Slot(str)
    def train(self, mode: str) -> None:
        """Train one epoch ('step') or until the end ('run'), stopping between batches when asked."""
        t = self.trainer
        if t is None or t.finished:
            return
        self._stop = self._final = False
        self._started = time.perf_counter()
        self._set(status="running", message="")
        thread = QtCore.QThread.currentThread()
        should_stop = lambda: self._stop or thread.isInterruptionRequested()  # noqa: E731
        batch_size = t.group.batch_size
        last = [time.perf_counter(), 0]

        def on_batch(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] > 0.1 or done == total:  # publish at most ~10 times a second
                rate = (done - last[1]) * batch_size / max(now - last[0], 1e-9) if done > last[1] else 0.0
                last[0], last[1] = now, done
                self._set(batch=done, samples_per_s=rate, elapsed=self._elapsed_before + now - self._started)
            if done == total:
                last[1] = 0

        while not t.finished:
            record = t.run_epoch(should_stop, on_batch)
            if record is None:
                break
            self._set(history=list(t.history), batch=0)
            self._visuals(force=False)
            if mode == "step":
                break
        self._visuals()
        self._elapsed_before += time.perf_counter() - self._started
        if t.diverged_at is not None:
            status = "diverged"
        elif t.finished:
            status = "finished"
        else:
            status = "stopped" if self._final else "paused"
        self._set(
            status=status,
            elapsed=self._elapsed_before,
            message=f"diverged at epoch {t.diverged_at} (loss not finite)" if t.diverged_at else "",
        )

    # -- helpers ------------------------------------------------------------------------------------------
    def _visuals(self, force: bool = True) -> None:
        now = time.perf_counter()
        if not force and now - getattr(self, "_visuals_at", 0.0) < VISUALS_EVERY_S:
            return
        self._visuals_at = now
        t = self.trainer
        data = t.data
        update = {}
        if data.n_features == 2 and data.n_classes:
            update["decision"] = decision_grid(t.logits, data.x_train, n=150)
        if data.image_shape and data.n_classes:
            x, y = (data.x_test, data.y_test) if data.has_test else (data.x_train, data.y_train)
            pred = predictions(t.logits, x)
            matrix = confusion_matrix(y.numpy(), pred, data.n_classes)
            update["confusion"] = (matrix, data.class_names, per_class_accuracy(matrix))
            idx = np.random.RandomState(0).choice(len(x), size=min(GRID_SAMPLES, len(x)), replace=False)
            update["samples"] = (x[idx].numpy(), y[idx].numpy(), pred[idx], data.image_shape, data.class_names)
        if update:
            self._set(**update)

    def _set(self, **values) -> None:
        with self.lock:
            for k, v in values.items():
                setattr(self.state, k, v)
            self.state.version += 1
