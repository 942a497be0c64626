"""What a training job reports and how many threads it takes, for the window (issue 14: the window keeps up)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import engine.threads as threads
import engine.training.jobs as jobs
from engine.jobs import Token, run_job
from engine.training.config import TrainConfig
from engine.training.jobs import job_threads, train_job
from engine.training.trainer import Trainer
from engine.training.visuals import visuals_kind

SMALL = replace(TrainConfig(), points=60, epochs=3)  # 180 points, 9 batches an epoch
SMALL_DATA = SMALL.load_data()


def drive(job):
    """Return (the job's result, its snapshots)."""
    snaps = []
    return run_job(job, snaps.append), snaps


def losses(history):
    return np.array([[r.train_loss, r.test_loss, r.train_acc] for r in history], dtype=float)


def test_a_snapshot_interval_leaves_out_snapshots_but_never_the_end(monkeypatch):
    monkeypatch.setattr(jobs, "VISUALS_EVERY_S", 1e9)  # a loaded machine must not make the visuals due mid-run
    every, every_snaps = drive(train_job(Trainer(SMALL, SMALL_DATA), Token()))
    trainer = Trainer(SMALL, SMALL_DATA)
    status, snaps = drive(train_job(trainer, Token(), snapshot_every=60.0))
    assert status == every == "finished"
    assert len(every_snaps) == SMALL.epochs * (9 + 1) + 1
    # within a minute: the first batch's snapshot, then the last one (with the final visuals)
    assert [(s.epoch, s.batch, s.records) for s in snaps] == [(0, 1, 1), (SMALL.epochs, 0, SMALL.epochs + 1)]
    assert snaps[-1].visuals.epoch == SMALL.epochs
    np.testing.assert_array_equal(losses(trainer.history), losses(every_snaps[-1].history))


def test_a_paced_job_with_an_interval_still_reports_every_epoch():
    trainer = Trainer(SMALL, SMALL_DATA)
    _, snaps = drive(train_job(trainer, Token(), pace=10, snapshot_every=60.0))
    epochs = [s.visuals.epoch for s in snaps if s.visuals is not None]
    assert sorted(set(epochs)) == [1, 2, 3]  # every epoch's visuals reach the window, none left out


def test_the_window_keeps_a_core_for_its_gui_thread(monkeypatch):
    big = TrainConfig(dataset="fashion-mnist", layers=(784, 40, 40, 40, 10), batch_size=50)
    for cores, spare, expected in ((2, 0, 2), (2, 1, 1), (8, 1, 7), (1, 1, 1)):
        monkeypatch.setattr(threads, "available_cores", lambda cores=cores: cores)
        monkeypatch.setattr(jobs, "available_cores", lambda cores=cores: cores)
        assert job_threads([big], 60000, spare) == expected
    assert job_threads([SMALL], 180, 1) == 1  # small models take one thread whatever the cores


@pytest.mark.parametrize(
    ("dataset", "kind"),
    [("spiral", "decision"), ("iris", "confusion"), ("breast-cancer", "confusion"), ("digits", "images")],
)
def test_the_side_panel_is_known_before_the_data_load(dataset, kind):
    assert visuals_kind(replace(TrainConfig(), dataset=dataset)) == kind


def test_a_csv_side_panel_is_only_known_once_loaded(tmp_path):
    assert visuals_kind(replace(TrainConfig(), dataset=f"csv:{tmp_path / 'table.csv'}")) is None


def test_training_visuals_are_still_importable_from_the_jobs_module():
    from engine.training.jobs import DECISION_GRID, training_visuals

    trainer = run_job(jobs.prepare_job(SMALL, Token(), data=SMALL_DATA))
    assert training_visuals(trainer).decision[2].shape == (DECISION_GRID, DECISION_GRID)
