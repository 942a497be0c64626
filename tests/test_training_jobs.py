"""Training and comparisons as jobs: plain generators driven by for loops, stopped and paused by a Token."""

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.jobs import Token, run_job
from engine.training import backends
from engine.training.compare import Comparison, run_comparison
from engine.training.config import TrainConfig
from engine.training.jobs import Pace, comparison_job, prepare_job, train_job
from engine.training.trainer import RunGroup, Trainer

SMALL = replace(TrainConfig(), points=60, epochs=4)  # 180 points, 9 batches an epoch: fast
SMALL_DATA = SMALL.load_data()


def drive(job, on_snapshot=None):
    """Run a job with a plain for loop; return (its result, its snapshots)."""
    snaps = []
    while True:
        try:
            snap = next(job)
        except StopIteration as end:
            return end.value, snaps
        snaps.append(snap)
        if on_snapshot is not None:
            on_snapshot(snap)


def rows(history):
    """Every value of every record but the (timing) seconds."""
    return np.array([[np.nan if v is None else v for v in r.row()[:-1]] for r in history], dtype=float)


def test_prepare_and_train_reach_the_same_history_as_trainer_run():
    reference = Trainer(SMALL, SMALL_DATA).run()
    trainer, snaps = drive(prepare_job(SMALL, Token()))
    assert [s.status for s in snaps] == ["loading", "ready"]
    ready = snaps[-1]
    assert ready.records == 1 and ready.batches == 9 and ready.path.startswith("fused") and ready.device == "cpu"
    assert ready.visuals.points is not None and ready.visuals.decision[2].shape == (150, 150)
    status, snaps = drive(train_job(trainer, Token()))
    assert status == "finished" and trainer.finished
    np.testing.assert_array_equal(rows(trainer.history), rows(reference))
    # one snapshot per batch, one per epoch, one at the end with fresh visuals
    assert len(snaps) == SMALL.epochs * (9 + 1) + 1
    assert snaps[-1].visuals.epoch == SMALL.epochs and snaps[-1].elapsed > 0
    records = [s.records for s in snaps]
    assert records == sorted(records) and records[-1] == SMALL.epochs + 1


def test_snapshots_share_the_history_list():
    trainer, snaps = drive(prepare_job(SMALL, Token()))
    assert snaps[-1].history is trainer.history
    _, snaps = drive(train_job(trainer, Token(), epochs=1))
    assert all(s.history is trainer.history for s in snaps)
    assert snaps[0].records == 1 and snaps[-1].records == 2  # read history[:records]


def test_a_stop_before_or_during_loading_is_never_lost():
    token = Token()
    token.stop()
    trainer, snaps = drive(prepare_job(SMALL, token))
    assert trainer is None and [s.status for s in snaps] == ["loading"]
    token = Token()  # stopped while the data load (after the loading snapshot)
    trainer, snaps = drive(prepare_job(SMALL, token), lambda s: token.stop() if s.status == "loading" else None)
    assert trainer is None and [s.status for s in snaps] == ["loading"]


def test_stop_after_k_batches_then_a_new_job_gives_the_uninterrupted_history():
    cfg = replace(SMALL, scheduler="onecycle")
    reference = Trainer(cfg, SMALL_DATA).run()
    trainer = Trainer(cfg, SMALL_DATA)
    for k in (3, 7, 12):
        token = Token()
        seen = []

        def stop_after_k(snap, token=token, seen=seen, k=k):
            seen.append(snap)
            if len(seen) == k:
                token.stop()

        status, _ = drive(train_job(trainer, token), stop_after_k)
        assert status == "stopped" and not trainer.finished
    assert trainer.epoch == 2 and trainer.batch_in_epoch > 0  # stopped mid-epoch
    status, _ = drive(train_job(trainer, Token()))
    assert status == "finished"
    np.testing.assert_array_equal(rows(trainer.history), rows(reference))


def test_epochs_counts_a_partly_done_epoch_as_the_first():
    trainer = Trainer(SMALL, SMALL_DATA)
    token = Token()
    drive(train_job(trainer, token), lambda s: token.stop() if s.batch == 4 else None)
    assert (trainer.epoch, trainer.batch_in_epoch) == (0, 4)
    status, _ = drive(train_job(trainer, Token(), epochs=1))
    assert status == "finished" and trainer.epoch == 1 and not trainer.finished


def test_a_paused_token_blocks_at_its_checkpoint():
    trainer = Trainer(SMALL, SMALL_DATA)
    token = Token()
    token.pause()
    job = train_job(trainer, token, epochs=1)
    seen = {}

    def resume():
        seen["batch"] = trainer.batch_in_epoch  # nothing trained while paused
        token.resume()

    timer = threading.Timer(0.3, resume)
    timer.start()
    started = time.perf_counter()
    first = next(job)  # blocks at the checkpoint before the first batch until resumed
    waited = time.perf_counter() - started
    timer.join(timeout=5)
    assert not timer.is_alive()
    assert seen["batch"] == 0 and first.batch == 1 and waited >= 0.25
    status, _ = drive(job)
    assert status == "finished" and trainer.epoch == 1
    assert trainer.history[1].seconds < 0.25 and trainer.elapsed < 0.25  # the pause is not training time


class StopInEvaluation:
    """A token that stops whenever the group is measuring an epoch's end (between evaluation chunks)."""

    def __init__(self, group):
        self.group, self.stops = group, 0

    def checkpoint(self):
        if self.group._epoch_done:
            self.stops += 1
            return True
        return False


def test_a_stop_inside_the_epoch_end_evaluation_is_redone_on_resume():
    cfg = replace(SMALL, layers=(2, 2000, 3), epochs=3)  # evaluation chunks of 65 rows: three per measurement
    reference = RunGroup([cfg], SMALL_DATA).run()
    group = RunGroup([cfg], SMALL_DATA)
    token = StopInEvaluation(group)
    while not group.finished:
        assert run_job(group.iter_epoch(token)) is None  # stopped between two evaluation chunks
        assert not group.finished and len(group.histories[0]) == group.epoch + 1
        run_job(group.iter_epoch(None))
    assert token.stops == 3
    np.testing.assert_array_equal(rows(group.histories[0]), rows(reference[0]))


# -- slow batches ---------------------------------------------------------------------------------------------
class StopAfter:
    """A token whose checkpoint says stop from its n-th call on."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def checkpoint(self):
        self.calls += 1
        return self.calls >= self.n


def test_a_huge_batch_stops_between_chunks_and_changes_nothing():
    # allowed but slow: a 100000-unit layer over a 450-row batch is ~6e9 multiply-adds, above CHUNK_WORK
    cfg = replace(SMALL, points=150, layers=(2, 100_000, 3), batch_size=0, epochs=2, optimizer="adam")
    data = cfg.load_data()
    group = RunGroup([cfg], data)
    assert backends.chunk_rows(cfg.layers, 1, 450) < 450
    before = group.backend.net.flat.clone()
    token = StopAfter(2)  # the checkpoint before the batch passes; the one after the first chunk stops
    assert run_job(group.iter_epoch(token)) is None and token.calls == 2
    assert group.batch_in_epoch == 0 and group.lr_trace == [] and group.epoch == 0
    assert torch.equal(group.backend.net.flat, before)
    stepper = group.backend.stepper  # Adam took no step: no step counted, no moment estimated
    assert all(float(n) == 0 for n in stepper.steps) and not any(m.any() for m in stepper.exp_avg)


def _gradient_of_one_batch(cfg, monkeypatch, chunk_work):
    monkeypatch.setattr(backends, "CHUNK_WORK", chunk_work)
    group = RunGroup([cfg], SMALL_DATA)
    backend = group.backend
    backend.train_mode()
    assert backend.train_batch(group.x_train, group.y_train, [0.1], None)
    if hasattr(backend, "net"):
        return backend.net.gflat.clone()
    return torch.cat([p.grad.flatten() for p in backend.models[0].parameters()])


@pytest.mark.parametrize("extra", [{}, {"loss": "mse"}], ids=["fused", "autograd"])
def test_chunked_and_whole_batch_gradients_agree(monkeypatch, extra):
    cfg = replace(SMALL, layers=(2, 3000, 3), batch_size=0, l2=1e-3, **extra)  # float32 on both paths
    whole = _gradient_of_one_batch(cfg, monkeypatch, 1 << 62)
    chunked = _gradient_of_one_batch(cfg, monkeypatch, backends.row_work(cfg.layers) * 50)
    assert backends.chunk_rows(cfg.layers, 1, 180) == 50  # four chunks: 50, 50, 50 and 30 rows
    assert whole.dtype == torch.float32 and not torch.equal(whole, chunked)  # summed in another order
    rel = float((whole - chunked).norm() / whole.norm())
    assert rel < 1e-5, rel


# -- comparisons ----------------------------------------------------------------------------------------------
COMPARISON = Comparison(replace(SMALL, epochs=3), [("momentum", ["0", "0.5"])], [1, 2])


def test_comparison_job_grows_and_ends_with_run_comparisons_results():
    expected = run_comparison(COMPARISON)
    results, snaps = drive(comparison_job(COMPARISON, Token()))
    assert [s.done for s in snaps] == sorted(s.done for s in snaps) and snaps[-1].done == snaps[-1].total == 12
    assert [len(s.runs) for s in snaps] == sorted(len(s.runs) for s in snaps) and snaps[-1].finished == 4
    assert [r.label for r in results] == [r.label for r in expected] and [r.seed for r in results] == [1, 2, 1, 2]
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(rows(got.history), rows(want.history))
        assert got.path == want.path == "fused, vectorized SGD (batched)"
    # partial results share their group's history lists: they grow as the group trains
    first = snaps[0].runs[0]
    assert len(first.history) == 4 and first.history is results[0].history


def test_a_stopped_comparison_returns_the_partial_runs():
    token = Token()
    results, snaps = drive(comparison_job(COMPARISON, token), lambda s: token.stop() if s.done >= 2 else None)
    assert len(results) == 2 and [r.seed for r in results] == [1, 1]  # the first group (seed 1) only
    assert all(len(r.history) == 2 for r in results)  # epoch 0 and 1 of 3
    assert snaps[-1].finished == 2 and snaps[-1].done == 2
    stopped = Token()
    stopped.stop()
    assert drive(comparison_job(COMPARISON, stopped))[0] == []


def test_a_paced_job_takes_its_time_and_trains_the_same_history():
    config = replace(SMALL, epochs=6)
    reference, _ = drive(prepare_job(config, Token(), data=SMALL_DATA))
    drive(train_job(reference, Token(), epochs=5))
    trainer, _ = drive(prepare_job(config, Token(), data=SMALL_DATA))
    start = time.perf_counter()
    status, snaps = drive(train_job(trainer, Token(), epochs=5, pace=20.0))
    took = time.perf_counter() - start
    assert status == "finished" and took >= 0.2  # 4 waits of 50 ms at least (none after the last epoch)
    np.testing.assert_array_equal(rows(trainer.history), rows(reference.history))
    ends = [s for s in snaps if s.batch == 0 and s.records > 1]
    assert [s.visuals.epoch for s in ends[:5]] == [1, 2, 3, 4, 5]  # the visuals are fresh at every epoch


def test_a_stop_or_pause_during_a_paced_wait_is_honoured_at_once():
    trainer, _ = drive(prepare_job(SMALL, Token()))
    token, pace = Token(), Pace(1.0)
    job = train_job(trainer, token, pace=pace)
    for s in job:
        if s.records == 2:  # epoch 1 ended: the job now waits about a second before epoch 2
            break
    before = s.elapsed
    timer = threading.Timer(0.1, token.stop)
    timer.start()
    start = time.perf_counter()
    status, _ = drive(job)
    assert status == "stopped" and time.perf_counter() - start < 0.2  # 0.1 s to the stop, then < 0.1 s
    assert trainer.epoch == 1 and trainer.batch_in_epoch == 0
    assert trainer.elapsed - before < 0.05  # the waiting is not part of the training time
    # a new job goes on from there to the uninterrupted history; pace changed mid-run applies at once
    pace.epochs_per_second = None
    start = time.perf_counter()
    assert drive(train_job(trainer, Token(), pace=pace))[0] == "finished"
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(rows(trainer.history), rows(Trainer(SMALL, SMALL_DATA).run()))


def test_a_pace_changed_during_the_wait_applies_at_once():
    trainer, _ = drive(prepare_job(SMALL, Token()))
    pace = Pace(0.5)  # two seconds an epoch...
    job = train_job(trainer, Token(), epochs=2, pace=pace)
    for s in job:
        if s.records == 2:
            break
    threading.Timer(0.1, lambda: setattr(pace, "epochs_per_second", None)).start()  # ... until it is lifted
    start = time.perf_counter()
    assert drive(job)[0] == "finished" and time.perf_counter() - start < 1.0
