"""Reading IDX files (MNIST's format, gzip or raw), finding them on disk, and the opt-in checked download."""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from engine.errors import UserError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SOURCES = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}


class FilesNotFound(UserError):
    """No folder searched holds the data set's files: point to a folder that does, or download them."""


SYSTEM_DIRS = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")]}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Return the array stored in an IDX file (gzip or raw); raise UserError naming the file if it is bad."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise UserError(f"{path.name} cannot be read: {err} (corrupt or truncated gzip?)", "data_dir") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise UserError(f"{path.name} is not an IDX file (bad magic number)", "data_dir")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise UserError(f"{path.name} is truncated inside its header", "data_dir")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise UserError(
            f"{path.name} is truncated: its header promises {expected} bytes of data, found {found}", "data_dir"
        )
    if found > expected:
        raise UserError(f"{path.name} has {found - expected} unexpected bytes after its data", "data_dir")
    # frombuffer on bytes is read-only; a bytearray copy gives a writable array
    return np.frombuffer(bytearray(raw[header:]), dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def cache_dir() -> Path:
    """Return the user cache folder for data sets (XDG_CACHE_HOME or ~/.cache)/descent-lab."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "descent-lab"


def candidate_dirs(name: str, data_dir: str | Path | None) -> list[Path]:
    """Return the folders searched for ``name``'s files, in order."""
    if data_dir:
        return [Path(data_dir)]
    dirs = []
    env = os.environ.get("DESCENT_LAB_DATA")
    if env:
        dirs += [Path(env) / name, Path(env)]
    dirs.append(cache_dir() / name)
    dirs += SYSTEM_DIRS.get(name, [])
    return dirs


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def locate(name: str, data_dir: str | Path | None = None) -> tuple[dict[str, Path], Path]:
    """Return ({role: file}, folder) for the first folder holding at least the two t10k files.

    Raises FilesNotFound (field ``data_dir``) listing where it looked when no folder has them.
    """
    searched = candidate_dirs(name, data_dir)
    for folder in searched:
        found = {role: _find(folder, stem) for role, stem in FILES.items()}
        if found["test_images"] and found["test_labels"]:
            return {k: v for k, v in found.items() if v is not None}, folder
    where = ", ".join(str(p) for p in searched)
    raise FilesNotFound(f"{name} IDX files not found (looked in {where})", "data_dir")


def download(name: str, folder: Path | None = None, opener=urllib.request.urlopen) -> Path:
    """Download ``name``'s four files into the cache (or ``folder``), verify each MD5, and return the folder."""
    base, files = SOURCES[name]
    folder = Path(folder or cache_dir() / name)
    folder.mkdir(parents=True, exist_ok=True)
    for filename, md5 in files.items():
        target = folder / filename
        if target.exists() and hashlib.md5(target.read_bytes()).hexdigest() == md5:
            continue
        try:
            with opener(base + filename, timeout=60) as response:
                data = response.read()
        except OSError as err:
            raise UserError(f"download of {filename} failed: {err}", "data_dir") from None
        digest = hashlib.md5(data).hexdigest()
        if digest != md5:
            raise UserError(
                f"download of {filename} has checksum {digest}, expected {md5}; nothing was kept", "data_dir"
            )
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return folder
