"""Output folders written all-or-nothing: files go to a hidden staging folder and move in at the end."""

from __future__ import annotations

import csv
import json
import math
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from engine.errors import UserError


def check_writable(out: str | Path) -> Path:
    """Return ``out`` as a Path after creating it if needed; raise UserError if it cannot be written."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UserError(f"output folder {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {path}: {err.strerror or err}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"output folder {path} is not writable")
    return path


class Staged:
    """Context manager: ``stage.path(name)`` gives a file to write; all files move into ``out`` on success."""

    def __init__(self, out: str | Path):
        self.out = check_writable(out)
        self.tmp: Path | None = None
        self.names: list[str] = []

    def __enter__(self) -> "Staged":
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.out))
        except OSError as err:
            raise UserError(f"cannot write in output folder {self.out}: {err.strerror or err}") from None
        return self

    def path(self, name: str) -> Path:
        """Return the staging path for output file ``name``."""
        self.names.append(name)
        return self.tmp / name

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for name in self.names:
                    src = self.tmp / name
                    if src.exists():
                        os.replace(src, self.out / name)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` all-or-nothing and return the Path; raise UserError naming the path.

    The text goes to a temporary file in the same folder, which then replaces ``path`` in one step, so a
    crash or a full disk never leaves a half-written file. An existing file keeps its permissions.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        mode = path.stat().st_mode & 0o7777 if path.is_file() else None
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    except (OSError, ValueError, UnicodeError) as err:
        raise UserError(f"cannot write {path}: {getattr(err, 'strerror', None) or err}") from None
    return path


def write_json(data, path: str | Path) -> Path:
    """Write ``data`` as indented JSON (non-finite numbers become null) and return the path."""
    path = Path(path)
    with open(path, "w") as fh:
        json.dump(clean_json(data), fh, indent=1, allow_nan=False)
    return path


def clean_json(value):
    """Return ``value`` with NaN/inf replaced by None, tuples by lists, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return clean_json(value.item())
    return value


def write_csv(header: list[str], rows, path: str | Path) -> Path:
    """Write a CSV table with a header and return the path."""
    path = Path(path)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    return path
