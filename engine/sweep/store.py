"""The run store: every finished run of every sweep, in an embedded SQLite database.

One row per finished run holds its full configuration (JSON), its history, timing, backend and the sweep it
belongs to; a sweeps table holds each sweep's specification. Each run is committed on its own as it finishes,
so an interrupted sweep (Ctrl+C, a killed process, a lost cluster) loses at most the runs in flight. The
database is in WAL mode (readers never block the one writer, and a killed writer leaves it consistent).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.training.compare import RunResult
from engine.training.config import TrainConfig
from engine.training.records import EpochRecord

STORE_FILE = "runs.sqlite"
STORE_ENV = "DESCENT_LAB_STORE"  # overrides the default path (tests; several stores on one account)
_COLUMNS = "id, sweep_id, config_hash, config, label, seed, history, seconds, backend, path, diverged_at, finished"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    backend TEXT NOT NULL,
    planned INTEGER NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    ended REAL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    label TEXT NOT NULL,
    seed INTEGER NOT NULL,
    history TEXT NOT NULL,
    seconds REAL NOT NULL,
    backend TEXT NOT NULL,
    path TEXT NOT NULL,
    diverged_at INTEGER,
    final_loss REAL,
    finished REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_hash ON runs(config_hash);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs(sweep_id);
"""


def default_store_path() -> Path:
    """Return the store's path: $DESCENT_LAB_STORE when set, else in the user's data folder
    (e.g. ~/.local/share/descent-lab/runs.sqlite)."""
    import platformdirs

    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV])
    return Path(platformdirs.user_data_dir("descent-lab", appauthor=False)) / STORE_FILE


def config_hash(config: TrainConfig) -> str:
    """Return the hash that identifies a run: every field of its configuration, the seed included."""
    text = json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class StoredRun:
    """One row of the runs table, read back."""

    id: int
    sweep_id: int
    config_hash: str
    result: RunResult
    backend: str
    finished: float

    @property
    def final_loss(self) -> float | None:
        """Return the last epoch's loss (test loss where there is a test set), None without history."""
        if not self.result.history:
            return None
        last = self.result.history[-1]
        return last.test_loss if last.test_loss is not None else last.train_loss


@dataclass
class Sweep:
    """One row of the sweeps table, with how many of its runs are stored."""

    id: int
    created: float
    backend: str
    planned: int
    spec: dict
    status: str
    ended: float | None
    stored: int


class RunStore:
    """An open run store; the process that opens it is its one writer. Use as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            mode = self.db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self.db.execute("PRAGMA synchronous=NORMAL")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise UserError(f"{self.path} was written by a newer Descent Lab (schema {version})", "store")
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.DatabaseError, OSError) as err:
            raise UserError(f"cannot open the run store {self.path}: {err}", "store") from None
        self.journal_mode = mode

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; returns nothing."""
        self.db.close()

    def _write(self, sql: str, params: tuple) -> int:
        """Run one statement in its own committed transaction; return the row id."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            return self.db.execute(sql, params).lastrowid

    # -- writing ------------------------------------------------------------------------------------------
    def begin_sweep(self, spec: dict, backend: str, planned: int) -> int:
        """Record a new sweep (its comparison specification as JSON); return its id."""
        return self._write(
            "INSERT INTO sweeps (created, backend, planned, spec) VALUES (?, ?, ?, ?)",
            (time.time(), backend, planned, json.dumps(spec)),
        )

    def end_sweep(self, sweep_id: int, status: str) -> None:
        """Mark a sweep finished, stopped or failed; returns nothing."""
        self._write("UPDATE sweeps SET status = ?, ended = ? WHERE id = ?", (status, time.time(), sweep_id))

    def add_run(self, sweep_id: int, result: RunResult, backend: str) -> int:
        """Commit one finished run at once; return its id."""
        history = [h.to_dict() for h in result.history]
        last = result.history[-1] if result.history else None
        final = None if last is None else (last.test_loss if last.test_loss is not None else last.train_loss)
        return self._write(
            "INSERT INTO runs (sweep_id, config_hash, config, label, seed, history, seconds, backend, path, "
            "diverged_at, final_loss, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sweep_id,
                config_hash(result.config),
                json.dumps(result.config.to_dict()),
                json.dumps(result.label),
                result.seed,
                json.dumps(history),
                float(result.seconds),
                backend,
                result.path,
                result.diverged_at,
                final,
                time.time(),
            ),
        )

    # -- reading ------------------------------------------------------------------------------------------
    def sweeps(self) -> list[Sweep]:
        """Return every sweep, oldest first, with its count of stored runs."""
        rows = self.db.execute(
            "SELECT s.id, s.created, s.backend, s.planned, s.spec, s.status, s.ended, COUNT(r.id) "
            "FROM sweeps s LEFT JOIN runs r ON r.sweep_id = s.id GROUP BY s.id ORDER BY s.id"
        ).fetchall()
        return [Sweep(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows]

    def sweep(self, sweep_id: int) -> Sweep:
        """Return one sweep; raise UserError naming ``sweep`` when there is none with that id."""
        for s in self.sweeps():
            if s.id == sweep_id:
                return s
        raise UserError(f"no sweep {sweep_id} in {self.path}", "sweep")

    def runs(self, sweep_id: int | None = None) -> list[StoredRun]:
        """Return the stored runs (of one sweep, or all), in the order they finished."""
        sql = f"SELECT {_COLUMNS} FROM runs"
        rows = self.db.execute(
            sql + (" WHERE sweep_id = ? ORDER BY id" if sweep_id is not None else " ORDER BY id"),
            (sweep_id,) if sweep_id is not None else (),
        ).fetchall()
        return [_stored(r) for r in rows]

    def run(self, run_id: int) -> StoredRun:
        """Return one stored run; raise UserError naming ``run`` when there is none with that id."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise UserError(f"no run {run_id} in {self.path}", "run")
        return _stored(row)

    def stored_hashes(self) -> dict[str, StoredRun]:
        """Return the newest stored run of every configuration hash."""
        return {r.config_hash: r for r in self.runs()}


def _stored(row: tuple) -> StoredRun:
    """Return a StoredRun from a runs row."""
    rid, sweep_id, chash, config, label, seed, history, seconds, backend, path, diverged_at, finished = row
    records = [EpochRecord(**h) for h in json.loads(history)]
    result = RunResult(
        json.loads(label), seed, TrainConfig.from_dict(json.loads(config)), records, path, seconds, diverged_at
    )
    return StoredRun(rid, sweep_id, chash, result, backend, finished)
