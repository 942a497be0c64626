"""The run store: SQLite in WAL mode, one row per finished run written as it finishes, a killed sweep leaves its
finished runs readable, and `compare --resume` trains only what is missing (every run ends up there once)."""

import csv
import json
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
        # the new sweep lists all six: the two it trained and the four it took from the first one
        assert len(s.runs()) == 6 and [x.stored for x in s.sweeps()] == [4, 6]
        assert len(s.runs(2)) == 6 and sorted(r.id for r in s.summaries(2)) == [1, 2, 3, 4, 5, 6]
    assert main(["runs", "list", "--sweep", "2", "--store", store]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 6
    assert main(["runs", "export", "--sweep", "2", "--store", store, "--out", str(tmp_path / "two.csv")]) == 0
    exported = list(csv.DictReader(open(tmp_path / "two.csv")))
    assert len({r["run"] for r in exported}) == 6 and {r["lr"] for r in exported} == {"0.1", "0.05", "0.02"}
    first, second = _summary(tmp_path / "a"), _summary(tmp_path / "b")
    assert second[:2] == first and len(second) == 3  # stored results count as if trained now
    # without --resume, every run trains again (and is stored again)
    assert main([*small, "--vary", "lr=0.1", "--out", str(tmp_path / "c")]) == 0
    with RunStore(store) as s:
        assert len(s.runs()) == 8


def _version_1_store(path, results):
    """Write a store as schema version 1 wrote it: no sweep_runs table; each run names its one sweep."""
    db = sqlite3.connect(str(path))
    db.executescript(
        "CREATE TABLE sweeps (id INTEGER PRIMARY KEY, created REAL NOT NULL, backend TEXT NOT NULL, planned INTEGER "
        "NOT NULL, spec TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'running', ended REAL);"
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, sweep_id INTEGER NOT NULL, config_hash TEXT NOT NULL, config "
        "TEXT NOT NULL, label TEXT NOT NULL, seed INTEGER NOT NULL, history TEXT NOT NULL, seconds REAL NOT NULL, "
        "backend TEXT NOT NULL, path TEXT NOT NULL, diverged_at INTEGER, final_loss REAL, finished REAL NOT NULL);"
        "PRAGMA user_version=1;"
    )
    db.execute("INSERT INTO sweeps (created, backend, planned, spec) VALUES (1, 'local', 2, '{}')")
    for r in results:
        db.execute(
            "INSERT INTO runs (sweep_id, config_hash, config, label, seed, history, seconds, backend, path, "
            "diverged_at, final_loss, finished) VALUES (1, ?, ?, ?, ?, ?, 0.5, 'local', 'p', NULL, 0.8, 2)",
            (config_hash(r.config), json.dumps(r.config.to_dict()), json.dumps(r.label), r.seed,
             json.dumps([h.to_dict() for h in r.history])),
        )  # fmt: skip
    db.commit()
    db.close()


def test_a_version_1_store_reads_and_is_migrated_on_the_first_write(tmp_path):
    path = tmp_path / "old.sqlite"
    _version_1_store(path, [_result(1), _result(2)])
    with RunStore(path, read_only=True) as s:  # a reader changes nothing, and still lists the sweep's runs
        assert [x.stored for x in s.sweeps()] == [2] and [r.id for r in s.summaries(1)] == [1, 2]
    assert sqlite3.connect(str(path)).execute("PRAGMA user_version").fetchone()[0] == 1
    with RunStore(path) as s:
        new = s.begin_sweep({}, "local", 3)
        s.link_runs(new, [1, 2])
        s.add_run(new, _result(3), "local")
        assert [x.stored for x in s.sweeps()] == [2, 3]
        assert [r.id for r in s.runs(1)] == [1, 2] and [r.id for r in s.runs(new)] == [1, 2, 3]
    assert sqlite3.connect(str(path)).execute("PRAGMA user_version").fetchone()[0] == 2


def test_readers_open_read_only_and_list_without_histories(tmp_path):
    path = tmp_path / "s.sqlite"
    with RunStore(path) as s:
        sweep = s.begin_sweep({"vary": [{"field": "lr", "values": ["0.1", "0.2"]}], "seeds": [1, 2]}, "local", 2)
        s.add_run(sweep, _result(1, 0.1), "local")
        s.add_run(sweep, _result(2, 0.2, diverged=True), "local")
    before = path.read_bytes()
    with RunStore(path, read_only=True) as s:
        (a, b) = s.summaries(sweep)
        assert (a.id, a.seed, a.name, a.final_loss, a.diverged_at) == (1, 1, "lr=0.1", 0.8, None)
        assert b.diverged_at == 2 and b.backend == "local" and not hasattr(b, "history")
        assert s.run(1).final_loss == 0.8  # the stored column, not recomputed
        assert s.sweeps()[0].varied() == "lr=0.1,0.2; seeds 1,2"
        with pytest.raises(UserError, match="cannot write to the run store") as err:
            s.begin_sweep({}, "local", 1)  # a reader cannot write
        assert err.value.field == "store"
    assert path.read_bytes() == before
    with pytest.raises(UserError, match="no run store") as err:
        RunStore(tmp_path / "missing.sqlite", read_only=True)
    assert err.value.field == "store" and not (tmp_path / "missing.sqlite").exists()


def test_sqlite_errors_become_user_errors_naming_the_store(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    with RunStore(path) as s:
        s.begin_sweep({}, "local", 1)
    locker = sqlite3.connect(str(path), isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the store
    try:
        with RunStore(path) as s:
            s.db.execute("PRAGMA busy_timeout=50")
            with pytest.raises(UserError, match="cannot write to the run store") as err:
                s.add_run(1, _result(), "local")
            assert err.value.field == "store"
        assert main(["runs", "list", "--store", str(path)]) == 0  # WAL: a reader is never blocked by the writer
    finally:
        locker.close()
    damaged = tmp_path / "damaged.sqlite"  # a database whose sweeps table is not the store's
    db = sqlite3.connect(str(damaged))
    db.executescript("CREATE TABLE runs (id INTEGER); CREATE TABLE sweeps (id INTEGER);")
    db.close()
    capsys.readouterr()
    assert main(["runs", "list", "--store", str(damaged)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: --store: cannot read the run store {damaged}: no such column") and "internal" not in err
    )
