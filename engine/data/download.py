"""Downloading MNIST / Fashion-MNIST as a job: progress per file, Cancel, checked MD5, atomic placement.

``download_job`` is a plain generator (engine/jobs.py): it yields a ``DownloadProgress`` after every chunk and
checks its ``Token`` between chunks, so the window (a progress bar with Cancel) and the command line (a tqdm
bar, Ctrl+C) drive the same code. Each file is written to a hidden temporary file beside its target, hashed
as it arrives, and renamed into place only when its MD5 matches: a cancelled or failed download leaves no
partial file behind. ``opener`` (urllib's ``urlopen`` by default) is injectable, so tests never touch the
network.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from engine.data.idx import SOURCES, cache_dir
from engine.errors import UserError
from engine.io import atomic_path
from engine.jobs import Job, Token

CHUNK = 1 << 16  # bytes read between two checkpoints (a cancel is seen within one chunk)
MAX_FILE = 64 << 20  # the largest file accepted (MNIST's biggest is 9.9 MB): a server sending more is refused


SIZES = {"mnist": 11_594_722, "fashion-mnist": 30_878_645}  # the four .gz files together, in bytes
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


@dataclass(frozen=True)
class DownloadProgress:
    """Where a download stands: the file in progress (``index`` of ``files``) and its bytes done of ``total``.

    ``total`` is None when the server does not say the file's size; ``finished`` is True in the last snapshot.
    """

    name: str
    folder: str
    file: str
    index: int
    files: int
    done: int
    total: int | None
    finished: bool = False


def target_folder(name: str, data_dir: str | Path | None = None) -> Path:
    """Return where ``name``'s files are downloaded: ``data_dir`` when given, else the user cache's folder."""
    return Path(data_dir) if data_dir else cache_dir() / name


def is_downloadable(name: str) -> bool:
    """Return whether ``name`` is a data set this module can download (MNIST, Fashion-MNIST)."""
    return name in SOURCES


def _has(target: Path, md5: str) -> bool:
    if not target.is_file():
        return False
    digest = hashlib.md5()
    with open(target, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == md5


def _size(response) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    try:
        size = int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return size if size is not None and size >= 0 else None


def download_job(
    name: str, folder: str | Path | None, token: Token, opener=None, chunk: int = CHUNK
) -> Job[Path | None]:
    """Download ``name``'s four files into ``folder`` (None: the user cache), yielding DownloadProgress.

    ``opener(url, timeout)`` opens a URL (None: ``urllib.request.urlopen``, looked up at each call).
    Returns the folder, or None when the token was stopped (nothing partial is left). Files already there
    with the right MD5 are kept. Raises UserError (field ``data_dir``) when the folder cannot be written, the
    network fails, a file is too large, or a checksum does not match.
    """
    if name not in SOURCES:
        raise UserError(f"{name} cannot be downloaded; only {', '.join(SOURCES)} can", "dataset")
    base, files = SOURCES[name]
    opener = opener or urllib.request.urlopen
    folder = target_folder(name, folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(
            f"cannot create the folder {folder} for the download: {err.strerror or err}", "data_dir"
        ) from None
    names = list(files)
    for index, filename in enumerate(names):
        target = folder / filename
        if _has(target, files[filename]):
            yield DownloadProgress(name, str(folder), filename, index, len(names), 1, 1)
            continue
        got = yield from _fetch(name, base + filename, target, files[filename], index, len(names), token, opener, chunk)
        if not got:
            return None
    yield DownloadProgress(name, str(folder), names[-1], len(names) - 1, len(names), 1, 1, finished=True)
    return folder


class _Stopped(Exception):
    """The token stopped a file's download part-way (nothing of it is kept)."""


def _fetch(name, url, target: Path, md5: str, index: int, count: int, token: Token, opener, chunk: int) -> Job[bool]:
    """Download one file to ``target`` through a temporary file (engine.io.atomic_path), synced to disk before
    it is moved into place; return False when stopped (nothing kept)."""
    filename = target.name
    try:
        with atomic_path(target) as tmp:
            try:
                out = open(tmp, "wb")
            except OSError as err:
                raise UserError(f"cannot write into {target.parent}: {err.strerror or err}", "data_dir") from None
            with out:
                digest = yield from _stream(name, url, target, index, count, token, opener, chunk, out)
                out.flush()
                os.fsync(out.fileno())
            found = digest.hexdigest()
            if found != md5:
                raise UserError(
                    f"download of {filename} has checksum {found}, expected {md5} (a damaged or changed file); "
                    f"nothing was kept in {target.parent}",
                    "data_dir",
                )
    except _Stopped:
        return False
    except OSError as err:  # the move into place
        raise UserError(f"cannot write {target}: {err.strerror or err}", "data_dir") from None
    return True


def _stream(name, url, target: Path, index: int, count: int, token: Token, opener, chunk: int, out):
    """Copy ``url`` into the open file ``out`` chunk by chunk, yielding progress; return its MD5 object.

    Raises _Stopped when the token stops it, UserError when the network fails or the file is too large.
    """
    filename = target.name
    digest = hashlib.md5()
    done = 0
    try:
        with opener(url, timeout=60) as response:
            total = _size(response)
            if total is not None and total > MAX_FILE:
                raise UserError(f"{filename} would be {total} bytes, more than the {MAX_FILE} expected", "data_dir")
            yield DownloadProgress(name, str(target.parent), filename, index, count, 0, total)
            while True:
                if token.checkpoint():
                    raise _Stopped
                piece = response.read(chunk)
                if not piece:
                    return digest
                done += len(piece)
                if done > MAX_FILE:
                    raise UserError(f"{filename} is larger than the {MAX_FILE} bytes expected", "data_dir")
                digest.update(piece)
                out.write(piece)
                yield DownloadProgress(name, str(target.parent), filename, index, count, done, total)
    except OSError as err:  # urllib's URLError, a timeout, a reset connection, a full disk
        reason = getattr(err, "reason", None) or err.strerror or err
        raise UserError(f"download of {filename} from {url} failed: {reason}", "data_dir") from None
