"""The run store: SQLite in WAL mode, one row per finished run written as it finishes, a killed sweep leaves its
finished runs readable, and `compare --resume` trains only what is missing (every run ends up there once)."""

import csv
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest
from conftest import ROOT

from engine.errors import UserError
from engine.sweep.store import RunStore, config_hash, default_store_path
from engine.training.compare import RunResult
from engine.training.config import TrainConfig
from engine.training.records import EpochRecord, nan_record
from main import main


def _result(seed=1, lr=0.1, diverged=False) -> RunResult:
    cfg = TrainConfig(points=60, epochs=2, seed=seed).with_field("lr", lr).validated()
    history = [EpochRecord(0, 1.1, None, 0.3, None, lr, 0.5, 0.0), EpochRecord(1, 0.9, None, 0.5, None, lr, 0.4, 0.01)]
    history.append(
        nan_record(2, lr, 0.02, False, True) if diverged else EpochRecord(2, 0.8, None, 0.6, None, lr, 0.3, 0.02)
    )
    return RunResult({"lr": str(lr)}, seed, cfg, history, "fused (batched)", 0.25, 2 if diverged else None)


def test_round_trip_keeps_configuration_history_and_divergence(tmp_path):
    path = tmp_path / "s.sqlite"
    with RunStore(path) as store:
        assert store.journal_mode == "wal"
        sweep = store.begin_sweep({"vary": [{"field": "lr", "values": ["0.1", "10"]}]}, "local", 2)
        a, b = _result(lr=0.1), _result(lr=10.0, diverged=True)
        store.add_run(sweep, a, "local")
        store.add_run(sweep, b, "ray")
        store.end_sweep(sweep, "finished")
    with sqlite3.connect(path) as raw:  # WAL stays on in the file itself
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with RunStore(path) as store:
        (s,) = store.sweeps()
        assert (s.status, s.planned, s.stored, s.backend) == ("finished", 2, 2, "local")
        ra, rb = store.runs(s.id)
        assert ra.result.config == a.config and ra.result.label == {"lr": "0.1"} and ra.result.seed == 1
        assert ra.result.history == a.history and ra.result.seconds == 0.25 and ra.backend == "local"
        assert ra.final_loss == 0.8 and ra.config_hash == config_hash(a.config)
        assert rb.result.diverged_at == 2 and math.isnan(rb.result.history[-1].train_loss) and rb.backend == "ray"
        assert store.run(rb.id).result.config.optimizer_params["lr"] == 10.0
        with pytest.raises(UserError, match="no run 99") as err:
            store.run(99)
        assert err.value.field == "run"


def test_config_hash_names_every_field_and_the_seed():
    a = TrainConfig(points=60, seed=1)
    assert config_hash(a) == config_hash(TrainConfig(points=60, seed=1))
    assert config_hash(a) != config_hash(TrainConfig(points=60, seed=2))
    assert config_hash(a) != config_hash(a.with_field("lr", 0.2))
    assert config_hash(a) != config_hash(TrainConfig(points=61, seed=1))


def test_default_store_is_in_the_users_data_folder_unless_the_environment_names_one(monkeypatch, tmp_path):
    monkeypatch.delenv("DESCENT_LAB_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "descent-lab" / "runs.sqlite"
    monkeypatch.setenv("DESCENT_LAB_STORE", str(tmp_path / "mine.sqlite"))
    assert default_store_path() == tmp_path / "mine.sqlite"


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="cannot open the run store") as err:
        RunStore(bad)
    assert err.value.field == "store"


def _summary(folder):
    return [(r["lr"], r["final_loss_mean"]) for r in csv.DictReader(open(folder / "summary.csv"))]


SWEEP = ["compare", "--points", "200", "--epochs", "60", "--vary", "lr=0.1,0.05", "--seeds", "1,2,3,4,5,6"]


@pytest.mark.slow
def test_a_killed_sweep_keeps_its_finished_runs_and_resume_completes_it_once(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *SWEEP, "--store", str(store), "--out", str(tmp_path / "killed")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        stored = 0
        while stored == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
            if store.exists():
                try:
                    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
                        stored = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
                except sqlite3.OperationalError:  # the schema is not there yet
                    pass
        assert proc.poll() is None, "the sweep ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    with RunStore(store) as s:
        runs = s.runs()
        assert 2 <= len(runs) < 12  # a group of two runs at least; not all six groups
        assert all(len(r.result.history) == 61 for r in runs)  # only finished runs, whole
        (sweep,) = s.sweeps()
        assert sweep.status == "running" and sweep.planned == 12
    assert not (tmp_path / "killed").exists()
    assert main([*SWEEP, "--store", str(store), "--resume", "--out", str(tmp_path / "resumed")]) == 0
    assert f"resume: {len(runs)} of 12 runs already stored" in capsys.readouterr().err
    with RunStore(store) as s:
        counts = Counter(r.config_hash for r in s.runs())
        assert len(counts) == 12 and set(counts.values()) == {1}  # every run exactly once
        (sweep,) = s.sweeps()  # the resumed sweep continues the killed one
        assert sweep.status == "finished" and sweep.stored == 12
    # the same numbers as one uninterrupted sweep
    assert main([*SWEEP, "--store", str(tmp_path / "fresh.sqlite"), "--out", str(tmp_path / "fresh")]) == 0
    assert _summary(tmp_path / "resumed") == _summary(tmp_path / "fresh")


def test_resume_skips_stored_runs_and_trains_the_new_ones(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    small = ["compare", "--points", "60", "--epochs", "3", "--seeds", "1,2", "--store", store]
    assert main([*small, "--vary", "lr=0.1,0.05", "--out", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert main([*small, "--vary", "lr=0.1,0.05,0.02", "--resume", "--out", str(tmp_path / "b")]) == 0
    assert "resume: 4 of 6 runs already stored" in capsys.readouterr().err
    with RunStore(store) as s:
        assert len(s.runs()) == 6 and [x.stored for x in s.sweeps()] == [4, 2]
    first, second = _summary(tmp_path / "a"), _summary(tmp_path / "b")
    assert second[:2] == first and len(second) == 3  # stored results count as if trained now
    # without --resume, every run trains again (and is stored again)
    assert main([*small, "--vary", "lr=0.1", "--out", str(tmp_path / "c")]) == 0
    with RunStore(store) as s:
        assert len(s.runs()) == 8
