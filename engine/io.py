"""Writing what the user asked for all-or-nothing: output folders that appear whole, files replaced in one step.

``Staged`` collects a command's output files in a hidden staging folder and moves them into place at the end
(a new folder appears whole, by one rename); ``atomic_write_text``, ``atomic_write_bytes`` and ``atomic_path``
write one file through a temporary file in the same folder and ``os.replace``. ``check_output_folder`` and
``check_output_file`` check a requested path before any work starts, creating nothing.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.errors import UserError

NAME_MAX = 255  # bytes in one folder or file name (Linux, macOS and Windows file systems)


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def _named_path(text, what: str, field: str | None) -> Path:
    """Return ``text`` as a Path; raise UserError when it is empty, blank or not a usable path string."""
    if text is None or (isinstance(text, str) and not text.strip()):
        raise UserError(f"the {what} name is empty (give a path; '.' is the current folder)", field)
    path = Path(text)
    try:
        os.fsencode(path)
    except (UnicodeError, ValueError) as err:
        raise UserError(f"{str(text)!r} cannot be a path on this system ({err})", field) from None
    if "\0" in str(path):
        raise UserError(f"{str(text)!r} contains a NUL character", field)
    long = next((part for part in path.parts if len(os.fsencode(part)) > NAME_MAX), None)
    if long is not None:
        raise UserError(f"the name {long[:40]!r}… is too long (at most {NAME_MAX} bytes per folder or file)", field)
    return path


def _existing_ancestor(path: Path, field: str | None, what: str = "") -> Path:
    """Return the nearest folder above ``path`` that exists; raise UserError when a file stands in the way.

    ``what`` words ``path`` in the messages ("output folder": "cannot create output folder X: …").
    """
    name = f"{what} {path}".strip()
    parent = path.absolute().parent
    while True:
        try:
            if parent.exists():
                break
        except OSError as err:  # a name too long, say
            raise UserError(f"cannot use {name}: {_reason(err)}", field) from None
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"cannot create {name}: {parent} is a file, not a folder", field)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot create {name}: folder {parent} is not writable", field)
    return parent


def check_output_folder(out, field: str | None = "out") -> Path:
    """Return ``out`` as a Path after checking that it is, or can become, a writable folder; create nothing.

    Raises UserError (``field``) for an empty or blank name, an existing file, or a folder that cannot be
    written or created (its nearest existing parent is a file or not writable).
    """
    path = _named_path(out, "output folder", field)
    try:
        exists = path.exists()
    except OSError as err:
        raise UserError(f"cannot use output folder {path}: {_reason(err)}", field) from None
    if exists:
        if not path.is_dir():
            raise UserError(f"{path} is a file, not a folder", field)
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"output folder {path} is not writable", field)
        return path
    _existing_ancestor(path, field, "output folder")
    return path


def check_output_file(target, field: str | None = None) -> Path:
    """Return ``target`` as a Path after checking that a file can be written there; create nothing.

    Raises UserError (``field``) for an empty name, an existing folder, or a parent that cannot be written
    or created.
    """
    path = _named_path(target, "file", field)
    try:
        is_dir = path.is_dir()
    except OSError as err:
        raise UserError(f"cannot use {path}: {_reason(err)}", field) from None
    if is_dir or str(target).endswith(("/", os.sep)):
        raise UserError(f"{path} is a folder; give a file name", field)
    parent = path.absolute().parent
    if parent.exists():
        if not parent.is_dir():
            raise UserError(f"cannot write {path}: {parent} is a file, not a folder", field)
        if not os.access(parent, os.W_OK | os.X_OK):
            raise UserError(f"cannot write {path}: folder {parent} is not writable", field)
    else:
        _existing_ancestor(path, field)
    return path


def check_writable(out: str | Path) -> Path:
    """Return ``out`` as a Path after creating it if needed; raise UserError (field ``out``) if it cannot be written."""
    path = check_output_folder(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {path}: {_reason(err)}", "out") from None
    return path


def _short(name: str, limit: int = 96) -> str:
    """Return ``name`` cut to at most ``limit`` bytes, so that a temporary name built on it stays legal."""
    while len(os.fsencode(name)) > limit:
        name = name[:-1]
    return name


def _temp_name(path: Path) -> Path:
    """Return a fresh hidden name beside ``path`` that keeps its suffix (exporters pick the format by it)."""
    suffix = _short(path.suffix, 16)
    return path.with_name(f".{_short(path.stem)}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")


class Staged:
    """Context manager: ``stage.path(name)`` gives a file to write; on success every file moves into ``out``.

    The files are written into a hidden staging folder: inside ``out`` when it exists (each file then
    replaces its namesake in one step), else beside where ``out`` will be, so that a new output folder appears
    whole, by one rename, or not at all. ``stage.external(path)`` stages a file that belongs elsewhere (the
    weights of ``--save-weights``), moved into place with the others. An exception inside the block leaves
    nothing behind; an OSError there (a full disk, an unwritable folder) comes out as a UserError naming the
    file and ``field``.
    """

    def __init__(self, out: str | Path, field: str | None = "out"):
        self.field = field
        self.out = check_output_folder(out, field)
        self.tmp: Path | None = None
        self.names: list[str] = []
        self.externals: list[tuple[Path, Path, str | None]] = []  # (temporary file, target, field)
        self._anchor: Path | None = None

    def __enter__(self) -> "Staged":
        new = not self.out.exists()
        anchor = _existing_ancestor(self.out, self.field) if new else self.out
        name = f".{_short(self.out.absolute().name) or 'out'}.staging-{secrets.token_hex(4)}"
        try:
            self.tmp = anchor / name
            os.mkdir(self.tmp, 0o777)  # the umask applies, as for mkdir: a new folder gets the usual mode
        except OSError as err:
            raise UserError(f"cannot write in {anchor}: {_reason(err)}", self.field) from None
        self._anchor = anchor
        return self

    def path(self, name: str) -> Path:
        """Return the staging path for output file ``name``."""
        self.names.append(name)
        return self.tmp / name

    def external(self, target: str | Path, field: str | None = None) -> Path:
        """Return a temporary path that becomes ``target`` when the others move into place.

        It lies in ``target``'s folder, or in the nearest existing folder above it when that does not exist
        yet (the missing folders are created at the end). Raises UserError (``field``) when ``target`` cannot
        be written.
        """
        target = check_output_file(target, field)
        folder = target.parent if target.parent.is_dir() else _existing_ancestor(target, field)
        tmp = folder / _temp_name(target).name
        self.externals.append((tmp, target, field))
        return tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self._commit()
                except OSError as err:
                    raise UserError(f"cannot write {self._final(err)}: {_reason(err)}", self.field) from None
        finally:
            if self.tmp is not None and self.tmp.exists():
                shutil.rmtree(self.tmp, ignore_errors=True)
            for tmp, _, _ in self.externals:
                if tmp.exists():
                    tmp.unlink()
        if exc_type is not None and issubclass(exc_type, OSError):
            raise UserError(f"cannot write {self._final(exc)}: {_reason(exc)}", self.field) from None

    def _final(self, err: OSError) -> Path:
        """Return the path the user knows for the file ``err`` is about: its final place, not the staging one."""
        name = getattr(err, "filename", None)
        if not name:
            return self.out
        path = Path(os.fsdecode(name))
        if self.tmp is not None and path.parent == self.tmp:
            return self.out / path.name
        return path

    def _commit(self) -> None:
        """Move every staged file into place: the whole folder by one rename when ``out`` is new."""
        written = [n for n in dict.fromkeys(self.names) if (self.tmp / n).exists()]
        for name in os.listdir(self.tmp):
            if name not in written:  # leftovers of a writer (its own temporary files)
                p = self.tmp / name
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        if not self.out.exists():
            self.out.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(self.tmp, self.out)
                self.tmp = None
            except OSError:
                if not self.out.is_dir():  # anything but "someone made it meanwhile"
                    raise
        if self.tmp is not None:
            for name in written:
                os.replace(self.tmp / name, self.out / name)
        for tmp, target, _ in self.externals:
            if tmp.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Return a context giving a temporary path beside ``path`` (same suffix) that replaces ``path`` at the end.

    Whatever the block writes there moves to ``path`` in one step when the block succeeds and has written it;
    on an exception the temporary file is removed and ``path`` is untouched. An existing file keeps its
    permissions. Raises OSError (naming ``path``) when the block wrote nothing or the move fails.
    """
    path = Path(path)
    tmp = _temp_name(path)
    try:
        yield tmp
        if not tmp.is_file():
            raise OSError(f"cannot write {path}: nothing was written")
        if path.is_file():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` all-or-nothing and return the Path; raise UserError naming the path.

    The bytes go to a temporary file in the same folder, which then replaces ``path`` in one step, so a
    crash or a full disk never leaves a half-written file. An existing file keeps its permissions.
    """
    path = Path(path)
    tmp = _temp_name(path)
    try:
        mode = path.stat().st_mode & 0o7777 if path.is_file() else None
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    except (OSError, ValueError) as err:
        raise UserError(f"cannot write {path}: {_reason(err)}") from None
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` all-or-nothing and return the Path; raise UserError naming the path.

    The text goes to a temporary file in the same folder, which then replaces ``path`` in one step, so a
    crash or a full disk never leaves a half-written file. An existing file keeps its permissions.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeError as err:
        raise UserError(f"cannot write {path}: {err}") from None
    return atomic_write_bytes(path, data)


def write_json(data, path: str | Path) -> Path:
    """Write ``data`` as indented JSON (non-finite numbers become null) atomically and return the path."""
    return atomic_write_text(path, json.dumps(clean_json(data), indent=1, allow_nan=False))


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


def csv_text(header: list[str], rows) -> str:
    """Return a CSV table with a header row as text (None cells empty)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def write_csv(header: list[str], rows, path: str | Path) -> Path:
    """Write a CSV table with a header atomically and return the path."""
    return atomic_write_text(path, csv_text(header, rows))
