"""The download job (engine/data/download.py) with a fake opener: progress, Cancel, checksums. No network."""

from __future__ import annotations

import gzip
import hashlib
import io

import numpy as np
import pytest

from engine.data import idx
from engine.data.download import download_job
from engine.errors import UserError
from engine.jobs import Token, run_job


class FakeResponse(io.BytesIO):
    """What urlopen returns, as far as the job uses it: read(n), headers, a context manager."""

    def __init__(self, data: bytes, announce: bool = True):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))} if announce else {}


def _idx_gz(array: np.ndarray) -> bytes:
    kind = 0x08
    head = bytes([0, 0, kind, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(head + array.astype(np.uint8).tobytes())


def fake_source(monkeypatch, name="mnist", images=20):
    """Make ``name``'s source four small real IDX files with their own MD5s; return (opener, urls asked)."""
    rng = np.random.RandomState(0)
    blobs = {
        "train-images-idx3-ubyte.gz": _idx_gz(rng.randint(0, 255, (images, 28, 28))),
        "train-labels-idx1-ubyte.gz": _idx_gz(rng.randint(0, 10, images)),
        "t10k-images-idx3-ubyte.gz": _idx_gz(rng.randint(0, 255, (images, 28, 28))),
        "t10k-labels-idx1-ubyte.gz": _idx_gz(rng.randint(0, 10, images)),
    }
    monkeypatch.setitem(
        idx.SOURCES, name, ("https://example.invalid/", {k: hashlib.md5(v).hexdigest() for k, v in blobs.items()})
    )
    asked = []

    def opener(url, timeout):
        asked.append(url)
        return FakeResponse(blobs[url.rsplit("/", 1)[1]])

    return opener, asked


def test_progress_increases_per_file_and_files_land_checked(tmp_path, monkeypatch):
    opener, asked = fake_source(monkeypatch)
    snaps = []
    folder = run_job(download_job("mnist", tmp_path / "m", Token(), opener, chunk=1000), snaps.append)
    assert folder == tmp_path / "m" and len(asked) == 4
    assert sorted(p.name for p in folder.iterdir()) == sorted(idx.SOURCES["mnist"][1])  # no .part left
    first = [s for s in snaps if s.index == 0]
    assert first[0].done == 0 and first[-1].done == first[-1].total > 1000
    assert [s.done for s in first] == sorted(s.done for s in first) and len(first) > 3
    assert snaps[-1].finished and [s.index for s in snaps] == sorted(s.index for s in snaps)
    assert idx.locate("mnist", folder)[1] == folder  # and the data set now loads from there
    # a second download keeps the checked files and asks the network for nothing
    run_job(download_job("mnist", folder, Token(), opener))
    assert len(asked) == 4


def test_cancel_leaves_no_partial_file(tmp_path, monkeypatch):
    opener, _ = fake_source(monkeypatch, images=200)
    token = Token()
    job = download_job("mnist", tmp_path, token, opener, chunk=512)
    for snap in job:
        if snap.done > 2000:
            token.stop()
    with pytest.raises(StopIteration) as end:
        next(job)
    assert end.value.value is None
    assert list(tmp_path.iterdir()) == []  # nothing half-written, nothing hidden


def test_bad_checksum_is_a_clear_error_naming_data_dir(tmp_path, monkeypatch):
    fake_source(monkeypatch)

    def wrong(url, timeout):
        return FakeResponse(b"an error page, not the file", announce=False)

    with pytest.raises(UserError, match="checksum") as info:
        run_job(download_job("mnist", tmp_path, Token(), wrong))
    assert info.value.field == "data_dir" and "nothing was kept" in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_network_failure_and_oversized_files_are_user_errors(tmp_path, monkeypatch):
    fake_source(monkeypatch)

    def offline(url, timeout):
        raise OSError("Network is unreachable")

    with pytest.raises(UserError, match="failed: Network is unreachable") as info:
        run_job(download_job("mnist", tmp_path, Token(), offline))
    assert info.value.field == "data_dir"

    huge = FakeResponse(b"")
    huge.headers = {"Content-Length": str(1 << 40)}
    with pytest.raises(UserError, match="more than"):
        run_job(download_job("mnist", tmp_path, Token(), lambda url, timeout: huge))
    assert list(tmp_path.iterdir()) == []


def test_the_cli_path_downloads_through_the_same_job(tmp_path, monkeypatch):
    opener, asked = fake_source(monkeypatch)
    assert idx.download("mnist", tmp_path, opener=opener) == tmp_path and len(asked) == 4


def test_cli_download_flag_drives_the_job_then_trains(tmp_path, monkeypatch, capsys):
    import urllib.request

    from main import main

    opener, asked = fake_source(monkeypatch)
    monkeypatch.setattr(urllib.request, "urlopen", opener)  # the job's default opener, looked up at each call
    data = tmp_path / "data"
    out = tmp_path / "out"
    argv = ["train", "--dataset", "mnist", "--data-dir", str(data), "--download", "--layers", "784,5,10"]
    assert main([*argv, "--epochs", "1", "--batch-size", "10", "--out", str(out)]) == 0
    assert len(asked) == 4 and sorted(p.name for p in data.iterdir()) == sorted(idx.SOURCES["mnist"][1])
    assert (out / "history.csv").is_file() and "official split" in capsys.readouterr().err


def test_each_file_is_synced_to_disk_before_it_is_moved_into_place(tmp_path, monkeypatch):
    import os

    opener, _ = fake_source(monkeypatch)
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    run_job(download_job("mnist", tmp_path, Token(), opener))
    moved = [e for e in events if e[0] == "replace"]
    assert sorted(os.path.basename(e[2]) for e in moved) == sorted(idx.SOURCES["mnist"][1])
    for _, src, _dst in moved:  # the temporary file was synced before the move
        assert ("fsync", src) in events[: events.index(("replace", src, _dst))]
