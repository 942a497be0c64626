"""The landscape's weight path as a training job records it: only the epochs it keeps, and the newest weights
whenever a snapshot or the job's end shows them (issue 14: copying the weights every epoch cost ~5 % of the
spiral's speed in the window)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import engine.training.jobs as jobs
import engine.training.landscape_eval as landscape_eval
from engine.jobs import Token, run_job
from engine.training.config import TrainConfig
from engine.training.landscape_eval import trainer_flat
from engine.training.trainer import Trainer

SMALL = replace(TrainConfig(), points=60, epochs=40)  # 180 points, 9 batches an epoch
SMALL_DATA = SMALL.load_data()


def counting(monkeypatch) -> list[int]:
    """Count the epochs whose weights the job copies into the path; return the list it appends them to."""
    copied: list[int] = []
    record = jobs.record_path

    def counted(trainer):
        copied.append(trainer.epoch)
        record(trainer)

    monkeypatch.setattr(jobs, "record_path", counted)
    return copied


def test_the_path_keeps_the_same_epochs_and_weights_with_fewer_copies(monkeypatch):
    monkeypatch.setattr(landscape_eval, "MAX_PATH_POINTS", 8)  # thins to every 2nd, 4th, 8th epoch within 40
    monkeypatch.setattr(jobs, "VISUALS_EVERY_S", 1e9)
    every = Trainer(SMALL, SMALL_DATA)
    run_job(jobs.train_job(every, Token()))  # a snapshot after every batch: every epoch is recorded
    monkeypatch.setattr(jobs, "PATH_NEWEST_EVERY_S", 1e9)
    copied = counting(monkeypatch)
    sparse = Trainer(SMALL, SMALL_DATA)
    run_job(jobs.train_job(sparse, Token(), snapshot_every=60.0))
    epochs, points = sparse.weight_path.points()
    expected_epochs, expected = every.weight_path.points()
    assert epochs == expected_epochs and epochs[0] == 0 and epochs[-1] == SMALL.epochs
    np.testing.assert_array_equal(points, expected)
    np.testing.assert_array_equal(points[-1], trainer_flat(sparse))
    assert len(copied) < SMALL.epochs // 2  # kept epochs (every 8th by the end), the start and the end
    assert set(epochs) <= set(copied)


def test_every_snapshot_shows_a_path_whose_newest_weights_are_its_epochs(monkeypatch):
    monkeypatch.setattr(landscape_eval, "MAX_PATH_POINTS", 8)
    monkeypatch.setattr(jobs, "PATH_NEWEST_EVERY_S", 1e9)
    trainer = Trainer(SMALL, SMALL_DATA)
    seen = []
    for s in jobs.train_job(trainer, Token(), pace=1000.0, snapshot_every=60.0):  # paced: a snapshot every epoch
        if s.batch == 0:
            seen.append((s.epoch, s.weight_path.newest()))
            assert np.array_equal(s.weight_path.points()[1][-1], trainer_flat(trainer))
    assert sorted({e for e, _ in seen}) == list(range(1, SMALL.epochs + 1))  # each epoch, the last one twice
    assert all(epoch == newest for epoch, newest in seen)


class StopAt:
    """A token (anything with checkpoint()) that stops at its first checkpoint once the trainer has trained
    ``epochs`` epochs."""

    def __init__(self, trainer, epochs: int):
        self.trainer, self.epochs = trainer, epochs
        self.stopped = False

    def checkpoint(self) -> bool:
        self.stopped = self.stopped or self.trainer.epoch >= self.epochs
        return self.stopped


def test_a_stop_between_epochs_records_the_newest_weights(monkeypatch):
    monkeypatch.setattr(landscape_eval, "MAX_PATH_POINTS", 8)
    monkeypatch.setattr(jobs, "PATH_NEWEST_EVERY_S", 1e9)
    trainer = Trainer(SMALL, SMALL_DATA)
    token = StopAt(trainer, 11)  # past epoch 8, the last one an 8-point path keeps by then
    assert run_job(jobs.train_job(trainer, token, snapshot_every=60.0)) == "stopped"
    assert trainer.epoch == 11 and trainer.batch_in_epoch == 0  # stopped before epoch 12's first batch
    assert trainer.weight_path.newest() == 11
    np.testing.assert_array_equal(trainer.weight_path.points()[1][-1], trainer_flat(trainer))


@pytest.mark.parametrize("layers", [(2, 8, 3), (2, 6, 5, 3)])
def test_a_paths_weights_are_the_runs_weights_in_landscape_order(layers):
    trainer = Trainer(replace(TrainConfig(), layers=layers, points=40, epochs=2))
    trainer.run()
    net = trainer.group.backend.net
    want = [t.double().numpy().ravel() for w, b in zip(net.W, net.B) for t in (w[0], b[0])]  # W0, b0, W1, b1, …
    got = trainer_flat(trainer)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.concatenate(want))
    net.flat[0, 0] += 1.0  # a copy, not a view: the path keeps the epoch's weights
    assert got[0] != net.flat[0, 0].item()
