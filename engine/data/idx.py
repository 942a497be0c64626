"""Reading IDX files (MNIST's format, gzip or raw), finding them on disk, and the opt-in checked download."""

from __future__ import annotations

import gzip
import math
import os
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


# Sane limits on what a header may announce, checked before anything is read or allocated; the
# product is computed with Python ints, so no header can wrap it round to a small number.
MAX_ITEMS = 10_000_000  # the first dimension: images or labels
MAX_SIDE = 4096  # every further dimension (an image's rows, columns)
MAX_VALUES = 2**31  # all dimensions multiplied
DEFLATE_RATIO = 1032  # deflate's largest expansion (a 258-byte match in 2 bits): a gzip cannot inflate further
_CHUNK = 1 << 20  # bytes decompressed (or read) at a time


def read_idx(path: str | Path) -> np.ndarray:
    """Return the array stored in an IDX file (gzip or raw); raise UserError naming the file if it is bad.

    The header is read first and checked against MAX_ITEMS, MAX_SIDE and MAX_VALUES; then exactly the
    bytes it announces are read, never more: a raw file's size is compared before reading it, and a gzip
    is decompressed in chunks and refused as soon as it inflates past the announced size (a gzip bomb costs
    one chunk beyond the announced data). Float data must be finite.
    """
    path = Path(path)
    gzipped = False
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            gzipped = fh.read(2) == b"\x1f\x8b"
            fh.seek(0)
            if not gzipped:
                return _read_stream(fh, path.name, size, gzipped=False)
            with gzip.GzipFile(fileobj=fh) as stream:
                return _read_stream(stream, path.name, size, gzipped=True)
    except (OSError, EOFError, zlib.error) as err:
        detail = " (corrupt or truncated gzip?)" if gzipped else ""
        raise UserError(f"{path.name} cannot be read: {err}{detail}", "data_dir") from None


def _read_exactly(stream, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` chunk by chunk; return how many bytes it got (fewer at the end of the data)."""
    done = 0
    while done < len(view):
        n = stream.readinto(view[done : done + _CHUNK])
        if not n:
            break
        done += n
    return done


def _check_shape(name: str, shape: tuple[int, ...]) -> None:
    dims = "×".join(map(str, shape))
    if 0 in shape:
        raise UserError(f"{name} has an empty dimension in its header ({dims}): it holds no data", "data_dir")
    if shape[0] > MAX_ITEMS:
        raise UserError(f"{name} announces {shape[0]} items; at most {MAX_ITEMS} are supported", "data_dir")
    if any(s > MAX_SIDE for s in shape[1:]):
        raise UserError(
            f"{name} announces items of {'×'.join(map(str, shape[1:]))}; each side at most {MAX_SIDE}", "data_dir"
        )
    if math.prod(shape) > MAX_VALUES:
        raise UserError(f"{name} announces {dims} values, more than the {MAX_VALUES} supported", "data_dir")


def _read_stream(stream, name: str, file_size: int, gzipped: bool) -> np.ndarray:
    head = bytearray(4)
    got = _read_exactly(stream, memoryview(head))
    if got < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES:
        raise UserError(f"{name} is not an IDX file (bad magic number)", "data_dir")
    ndim = head[3]
    dims = bytearray(4 * ndim)
    if ndim == 0 or _read_exactly(stream, memoryview(dims)) < len(dims):
        raise UserError(f"{name} is truncated inside its header", "data_dir")
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    _check_shape(name, shape)
    dtype = np.dtype(_DTYPES[head[2]])
    expected = math.prod(shape) * dtype.itemsize
    header = 4 + 4 * ndim
    if not gzipped:
        found = file_size - header
        if found > expected:
            raise UserError(f"{name} has {found - expected} unexpected bytes after its data", "data_dir")
        if found < expected:
            raise UserError(
                f"{name} is truncated: its header promises {expected} bytes of data, found {found}", "data_dir"
            )
    elif expected + header > DEFLATE_RATIO * file_size:
        raise UserError(
            f"{name} is truncated: its header promises {expected} bytes of data, "
            f"more than a gzip of {file_size} bytes can hold",
            "data_dir",
        )
    try:
        data = np.empty(expected, np.uint8)  # pages are only touched as the data arrives
    except MemoryError:
        raise UserError(
            f"{name} announces {expected} bytes of data, more than this machine can hold", "data_dir"
        ) from None
    found = _read_exactly(stream, memoryview(data))
    if found < expected:
        raise UserError(f"{name} is truncated: its header promises {expected} bytes of data, found {found}", "data_dir")
    if gzipped and stream.read(1):  # at most one byte (and one chunk of compressed input) beyond the data
        raise UserError(f"{name} inflates beyond the {expected} bytes its header announces", "data_dir")
    array = data.view(dtype).reshape(shape)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    if dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(array.reshape(-1)))
        if bad.size:
            item = int(bad[0]) // (math.prod(shape[1:]) if ndim > 1 else 1)
            raise UserError(f"{name} holds NaN or infinite values (item {item} is the first)", "data_dir")
    return array


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


def download(name: str, folder: Path | None = None, opener=None) -> Path:
    """Download ``name``'s four files into the cache (or ``folder``), verify each MD5, and return the folder.

    The same job as the window's Download button (engine/data/download.py), run to its end in this thread.
    """
    from engine.data.download import download_job  # it builds on this module's SOURCES
    from engine.jobs import Token, run_job

    return run_job(download_job(name, folder, Token(), opener))
