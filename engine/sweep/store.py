"""The run store: every finished run of every sweep, in an embedded SQLite database.

One row per finished run holds its full configuration (JSON), its history, timing, backend and the sweep it
belongs to; a sweeps table holds each sweep's specification. Each run is committed on its own as it finishes,
so an interrupted sweep (Ctrl+C, a killed process, a lost cluster) loses at most the runs in flight. The
database is in WAL mode (readers never block the one writer, and a killed writer leaves it consistent).

Readers (``runs list|show|export``, the History) open it read-only (``RunStore(path, read_only=True)``): no
schema change, no write, so a store in a read-only folder or in use by a running sweep still reads. A sweep
lists its runs through the ``sweep_runs`` link table: the runs it trained and those ``--resume`` took from
earlier sweeps. Every SQLite error (disk full, locked, not a database) is a UserError naming ``store``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from engine.errors import UserError
from engine.training.compare import RunResult
from engine.training.config import TrainConfig
from engine.training.records import EpochRecord

STORE_FILE = "runs.sqlite"
STORE_ENV = "DESCENT_LAB_STORE"  # overrides the default path (tests; several stores on one account)
_COLUMNS = (
    "r.id, r.sweep_id, r.config_hash, r.config, r.label, r.seed, r.history, r.seconds, r.backend, r.path, "
    "r.diverged_at, r.final_loss, r.finished"
)
_SUMMARY = "l.sweep_id, r.id, r.sweep_id, r.label, r.seed, r.final_loss, r.diverged_at, r.backend, r.seconds, r.path"
SCHEMA_VERSION = 2  # 2: the sweep_runs link table (a sweep's runs include those --resume reused)
_OLD_LINKS = "(SELECT sweep_id, id AS run_id FROM runs)"  # what sweep_runs holds, in a version-1 store

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
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    PRIMARY KEY (sweep_id, run_id)
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


def final_loss(result: RunResult) -> float | None:
    """Return the last epoch's loss (test loss where there is a test set), None without history."""
    if not result.history:
        return None
    last = result.history[-1]
    return last.test_loss if last.test_loss is not None else last.train_loss


@dataclass
class StoredRun:
    """One row of the runs table, read back (``final_loss`` as stored with it)."""

    id: int
    sweep_id: int
    config_hash: str
    result: RunResult
    backend: str
    finished: float
    final_loss: float | None = None


@dataclass
class RunSummary:
    """One run as a listing shows it, without its configuration or history: the sweep it is listed under
    (``sweep_id``), the sweep that trained it (``trained_in``), and its label, seed and outcome."""

    sweep_id: int
    id: int
    trained_in: int
    label: dict
    seed: int
    final_loss: float | None
    diverged_at: int | None
    backend: str
    seconds: float
    path: str

    @property
    def name(self) -> str:
        """Return the run's short label, as RunResult.name words it ('momentum=0.1, lr=0.01')."""
        return RunResult.name.fget(self)


@dataclass
class Sweep:
    """One row of the sweeps table, with how many runs it lists (trained in it or reused by --resume)."""

    id: int
    created: float
    backend: str
    planned: int
    spec: dict
    status: str
    ended: float | None
    stored: int

    def varied(self) -> str:
        """Return what the sweep varies, in words: 'optimizer=sgd,adam; seeds 1,2; sample 4'."""
        text = "; ".join(f"{v['field']}={','.join(map(str, v['values']))}" for v in self.spec.get("vary", []))
        seeds = self.spec.get("seeds") or []
        sample = self.spec.get("sample") or 0
        return (
            text + (f"; seeds {','.join(map(str, seeds))}" if seeds else "") + (f"; sample {sample}" if sample else "")
        )


class RunStore:
    """An open run store: the process that opens it for writing is its one writer; ``read_only`` opens it
    without any write (a reader). Use as a context manager."""

    def __init__(self, path: str | Path, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self.journal_mode = None
        try:
            self.db = self._open_reader() if read_only else self._open_writer()
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except (sqlite3.Error, OSError) as err:
            raise UserError(f"cannot open the run store {self.path}: {err}", "store") from None
        if read_only and "runs" not in tables:
            self.db.close()
            raise UserError(f"{self.path} is not a Descent Lab run store", "store")
        self._links = "sweep_runs" if "sweep_runs" in tables else _OLD_LINKS

    def _check_version(self, db) -> int:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            db.close()
            raise UserError(f"{self.path} was written by a newer Descent Lab (schema {version})", "store")
        return version

    def _open_writer(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
        self.journal_mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        db.execute("PRAGMA synchronous=NORMAL")
        version = self._check_version(db)
        db.executescript(_SCHEMA)
        if version < SCHEMA_VERSION:
            with db:
                db.execute("BEGIN IMMEDIATE")
                if version < 2:  # link every run to the sweep that trained it
                    db.execute("INSERT OR IGNORE INTO sweep_runs (sweep_id, run_id) SELECT sweep_id, id FROM runs")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return db

    def _open_reader(self):
        if not self.path.is_file():
            raise UserError(f"no run store at {self.path}", "store")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
            self._check_version(db)
        except sqlite3.OperationalError:
            # a WAL database in a folder we cannot write (no -shm to create): no writer can be at work there
            db = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
            self._check_version(db)
        return db

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; returns nothing."""
        self.db.close()

    def _write(self, sql: str, params: tuple) -> int:
        """Run one statement in its own committed transaction; return the row id."""
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                return self.db.execute(sql, params).lastrowid
        except sqlite3.Error as err:
            raise UserError(f"cannot write to the run store {self.path}: {err}", "store") from None

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Return the rows of one query."""
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise UserError(f"cannot read the run store {self.path}: {err}", "store") from None

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
        """Commit one finished run at once, listed in its sweep; return its id."""
        history = [h.to_dict() for h in result.history]
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                run_id = self.db.execute(
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
                        final_loss(result),
                        time.time(),
                    ),
                ).lastrowid
                self.db.execute("INSERT INTO sweep_runs (sweep_id, run_id) VALUES (?, ?)", (sweep_id, run_id))
        except sqlite3.Error as err:
            raise UserError(f"cannot write to the run store {self.path}: {err}", "store") from None
        return run_id

    def link_runs(self, sweep_id: int, run_ids: list[int]) -> None:
        """List stored runs (reused by --resume) in sweep ``sweep_id`` too; returns nothing."""
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.executemany(
                    "INSERT OR IGNORE INTO sweep_runs (sweep_id, run_id) VALUES (?, ?)",
                    [(sweep_id, r) for r in run_ids],
                )
        except sqlite3.Error as err:
            raise UserError(f"cannot write to the run store {self.path}: {err}", "store") from None

    # -- reading ------------------------------------------------------------------------------------------
    def sweeps(self) -> list[Sweep]:
        """Return every sweep, oldest first, with its count of runs."""
        rows = self._read(
            "SELECT s.id, s.created, s.backend, s.planned, s.spec, s.status, s.ended, COUNT(l.run_id) "
            f"FROM sweeps s LEFT JOIN {self._links} l ON l.sweep_id = s.id GROUP BY s.id ORDER BY s.id"
        )
        return [Sweep(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows]

    def sweep(self, sweep_id: int) -> Sweep:
        """Return one sweep; raise UserError naming ``sweep`` when there is none with that id."""
        for s in self.sweeps():
            if s.id == sweep_id:
                return s
        raise UserError(f"no sweep {sweep_id} in {self.path}", "sweep")

    def runs(self, sweep_id: int | None = None) -> list[StoredRun]:
        """Return the stored runs (those a sweep lists, or all), oldest first, with their histories."""
        if sweep_id is None:
            rows = self._read(f"SELECT {_COLUMNS} FROM runs r ORDER BY r.id")
        else:
            rows = self._read(
                f"SELECT {_COLUMNS} FROM runs r JOIN {self._links} l ON l.run_id = r.id WHERE l.sweep_id = ? "
                "ORDER BY r.id",
                (sweep_id,),
            )
        return [_stored(r) for r in rows]

    def summaries(self, sweep_id: int | None = None) -> list[RunSummary]:
        """Return the runs a sweep lists (or every sweep's, by sweep), without configuration or history."""
        where = " WHERE l.sweep_id = ?" if sweep_id is not None else ""
        rows = self._read(
            f"SELECT {_SUMMARY} FROM runs r JOIN {self._links} l ON l.run_id = r.id{where} ORDER BY l.sweep_id, r.id",
            (sweep_id,) if sweep_id is not None else (),
        )
        return [RunSummary(a, b, c, json.loads(label), *rest) for a, b, c, label, *rest in rows]

    def run(self, run_id: int) -> StoredRun:
        """Return one stored run; raise UserError naming ``run`` when there is none with that id."""
        rows = self._read(f"SELECT {_COLUMNS} FROM runs r WHERE r.id = ?", (run_id,))
        if not rows:
            raise UserError(f"no run {run_id} in {self.path}", "run")
        return _stored(rows[0])

    def stored_hashes(self) -> dict[str, StoredRun]:
        """Return the newest stored run of every configuration hash."""
        return {r.config_hash: r for r in self.runs()}


def _stored(row: tuple) -> StoredRun:
    """Return a StoredRun from a runs row."""
    rid, sweep_id, chash, config, label, seed, history, seconds, backend, path, diverged_at, loss, finished = row
    try:
        records = [EpochRecord(**h) for h in json.loads(history)]
        result = RunResult(
            json.loads(label), seed, TrainConfig.from_dict(json.loads(config)), records, path, seconds, diverged_at
        )
    except (ValueError, TypeError, KeyError) as err:  # a row written by hand, or damaged
        raise UserError(f"run {rid} in the run store is damaged ({type(err).__name__}: {err})", "store") from None
    return StoredRun(rid, sweep_id, chash, result, backend, finished, loss)
