"""Property-based tests: hostile or broken files (IDX, CSV, weights JSON) end in a UserError or load, nothing else.

Every file is written to a fresh temporary folder; example counts and sizes are small so the module takes a
few seconds (no per-example deadline: a timing on this shared 2-core machine would fail by load, not by
bug). FUZZ_SCALE=50 in the environment runs 50 times as many examples, for a deeper search.
"""

import contextlib
import gzip
import io
import json
import math
import os
import struct
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.data.datasets import load_dataset
from engine.errors import UserError
from engine.training.config import TrainConfig
from engine.training.model import load_weights_file
from engine.training.trainer import Trainer
from main import main


def _outcome(err: UserError | None) -> None:
    """Tell hypothesis' statistics how an example ended (``--hypothesis-show-statistics``)."""
    words = [w for w in (err.message if err else "loaded").split() if not any(c.isdigit() or c == "/" for c in w)]
    event(" ".join(words[1:5]) if err else "loaded")


SCALE = int(os.environ.get("FUZZ_SCALE", "1"))
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
IMAGES, LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape) + array.tobytes()


GOOD_IMAGES = _idx(np.arange(10 * 3 * 3, dtype=np.uint8).reshape(10, 3, 3))
GOOD_LABELS = _idx(np.arange(10, dtype=np.uint8) % 10)
EDGE_DIMS = [0, 1, 0x100, 0x10000, 0x1000000, 0x80000000, 2**32 - 1, 4096, 4097, 10_000_000, 10_000_001]


def _bomb(header: bytes, inflated: int) -> bytes:
    """Return a gzip of ``header`` and ``inflated`` zero bytes, built from one repeated deflate block (fast).

    Its trailer (CRC and length) is left zero: a reader that stops where the header says never gets there.
    """
    block = 1 << 20
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(header) + co.flush(zlib.Z_FULL_FLUSH)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = co.compress(bytes(block)) + co.flush(zlib.Z_FULL_FLUSH)  # a full flush: each copy stands alone
    tail = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head + zeros * (inflated // block) + tail + bytes(8)


@st.composite
def idx_files(draw) -> bytes:
    """A broken (or, by chance, valid) IDX file: random bytes or a mutation of a valid small one."""
    base = draw(st.sampled_from([GOOD_IMAGES, GOOD_LABELS]))
    kind = draw(
        st.sampled_from(
            ["random", "flip", "truncate", "append", "magic", "header", "bomb"] + ["header", "float", "float"]
        )
    )
    if kind == "random":
        data = draw(st.binary(max_size=300))
    elif kind == "flip":
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, min(15, len(data) - 1)))] = draw(st.integers(0, 255))
        data = bytes(data)
    elif kind == "truncate":
        data = base[: draw(st.integers(0, len(base) - 1))]
    elif kind == "append":
        data = base + draw(st.binary(min_size=1, max_size=50))
    elif kind == "magic":
        data = bytes([draw(st.integers(0, 255)), draw(st.integers(0, 255)), draw(st.integers(0, 255))]) + base[3:]
    elif kind == "header":  # any type, any dimensions (those that wrap a 64-bit product included), a little data
        ndim = draw(st.integers(0, 5))
        dims = [
            draw(st.one_of(st.integers(0, 40), st.sampled_from(EDGE_DIMS), st.integers(0, 2**32 - 1)))
            for _ in range(ndim)
        ]
        code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0A, 0xFF]))
        data = bytes([0, 0, code, ndim]) + b"".join(struct.pack(">I", d) for d in dims)
        data += draw(st.binary(max_size=200))
    elif kind == "bomb":
        header = base[: 4 + 4 * base[3]]
        return _bomb(header, draw(st.integers(1, 8)) << 20)
    else:  # float images or labels holding anything, NaN, infinities and values beyond float32 included
        code, fmt = draw(st.sampled_from([(0x0D, ">f4"), (0x0E, ">f8")]))
        values = np.array(draw(st.lists(st.floats(0, 255), min_size=40, max_size=40)), fmt)
        for _ in range(draw(st.integers(0, 2))):
            with np.errstate(over="ignore"):  # 1e300 is inf as float32
                values[draw(st.integers(0, 39))] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e39, 3e38]))
        data = _idx(values.reshape(10, 2, 2) if base is GOOD_IMAGES else values[:10], code)
    if draw(st.booleans()):
        data = gzip.compress(data, compresslevel=1)
        if draw(st.booleans()):  # a damaged gzip
            cut = draw(st.integers(0, len(data)))
            data = data[:cut] + draw(st.binary(max_size=8))
    return data


@contextlib.contextmanager
def _folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _pair(folder: Path, images: bytes, labels: bytes, gz: tuple[bool, bool]) -> None:
    (folder / (IMAGES + (".gz" if gz[0] else ""))).write_bytes(images)
    (folder / (LABELS + (".gz" if gz[1] else ""))).write_bytes(labels)


@settings(FAST, max_examples=120 * SCALE)
@given(idx_files(), idx_files(), st.sampled_from(["images", "labels", "both"]), st.tuples(st.booleans(), st.booleans()))
def test_idx_files_load_or_raise_a_user_error(images, labels, broken, gz):
    images = images if broken != "labels" else GOOD_IMAGES
    labels = labels if broken != "images" else GOOD_LABELS
    with _folder() as folder:
        _pair(folder, images, labels, gz)
        started = time.perf_counter()
        try:
            data = load_dataset("mnist", data_dir=str(folder))
        except UserError as err:
            _outcome(err)
            assert err.field == "data_dir" and "\n" not in err.message
        else:
            _outcome(None)
            assert data.x_train.dtype == np.float32 or str(data.x_train.dtype) == "torch.float32"
            assert bool(data.x_train.isfinite().all()) and bool(data.x_test.isfinite().all())
        assert time.perf_counter() - started < 2


def test_a_gzip_bomb_is_refused_at_once_in_little_memory(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 10_000, 28, 28)  # MNIST's t10k: 7.8 MB announced
    bomb = _bomb(header, 1 << 30)  # ~1 MB of gzip that inflates to 1 GiB
    assert len(bomb) < 1_100_000
    _pair(tmp_path, bomb, GOOD_LABELS, (True, False))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(UserError, match="inflates beyond the 7840000 bytes its header announces"):
            load_dataset("mnist", data_dir=str(tmp_path))
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1, elapsed
    assert peak < 2 * 7_840_000 + (4 << 20), peak  # the announced data, one chunk and a little more


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**40), 10**40).map(str),
    st.integers(0, 3).map(str),
    st.sampled_from(["", " ", "nan", "inf", "-Infinity", "1e39", "1e308", "3.4e38", "-1e-320", "1_0", "0x10", "\x00"]),
    st.text(max_size=6),
)


@st.composite
def csv_files(draw) -> tuple[bytes, str]:
    """A CSV file (mostly UTF-8 text with numbers, sometimes anything) and the target column asked for."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "y", " y ", "", "a,b", "é"]), min_size=1, max_size=4))
    if draw(st.integers(0, 3)):
        names = list(dict.fromkeys(names + ["y"]))
    width = len(names)
    rows = [",".join(f'"{n}"' if "," in n else n for n in names)]
    odd = draw(st.integers(0, 2)) == 0  # a third of the files hold odd cells, ragged rows and blank lines
    for _ in range(draw(st.integers(0, 25))):
        if odd and draw(st.integers(0, 9)) == 0:
            rows.append("")
            continue
        n = width if not odd or draw(st.integers(0, 5)) else draw(st.integers(0, 6))
        cells = CELLS if odd else st.one_of(st.integers(0, 3).map(str), st.floats(-1e6, 1e6).map(repr), st.just("0"))
        if not odd and draw(st.integers(0, 4)) == 0:  # a numeric file with a rare extreme value
            cells = st.one_of(
                cells, cells, cells, cells, st.sampled_from(["1e39", "1e308", "-1e39", "nan", "inf", "3e38"])
            )
        rows.append(",".join(draw(cells) for _ in range(n)))
    text = "\n".join(rows) + draw(st.sampled_from(["", "\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "utf-16", "latin-1", "binary"]))
    if encoding == "binary":
        encoded = draw(st.binary(max_size=200))
    else:
        encoded = text.encode(encoding, "replace" if encoding == "latin-1" else "surrogatepass")
    target = draw(st.sampled_from(names + ["y", "y", "nope", ""]))
    return encoded, target


def _load_csv(content: bytes, target: str, standardize: bool):
    with _folder() as folder:
        path = folder / "data.csv"
        path.write_bytes(content)
        return load_dataset(f"csv:{path}", target=target or None, standardize=standardize)


@settings(FAST, max_examples=150 * SCALE)
@given(csv_files(), st.booleans())
def test_csv_files_load_or_raise_a_user_error(file, standardize):
    content, target = file
    try:
        data = _load_csv(content, target, standardize)
    except UserError as err:
        _outcome(err)
        assert err.field in ("dataset", "target", "test_fraction") and "\n" not in err.message
        assert len(err.message) < 400
    else:
        _outcome(None)
        for t in (data.x_train, data.x_test, data.y_train.float(), data.y_test.float()):
            assert bool(t.isfinite().all())
        assert data.n_classes is None or data.n_classes <= 1000


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**50), 10**50)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(["layers", "weight", "bias", "x"]), children, max_size=3)
    ),
    max_leaves=30,
)
NUMBERS = st.one_of(
    st.floats(-2, 2),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([3e38, -3e38, 1e39, 10**40, 10**400, 0, True]),
)


@st.composite
def weights_documents(draw):
    """Random JSON, or a near-valid 2,50,3 weights document with odd values or shapes."""
    if draw(st.integers(0, 3)) == 0:
        return draw(JSON_VALUES)
    layers = []
    for fan_in, fan_out in ((2, 50), (50, 3)):
        rows = fan_out if draw(st.integers(0, 4)) else draw(st.integers(0, 4))
        cols = fan_in if draw(st.integers(0, 4)) else draw(st.integers(0, 4))
        odd = draw(st.booleans())
        value = draw(NUMBERS) if odd else 0.01
        weight = [[value if odd and draw(st.integers(0, 20)) == 0 else 0.01 for _ in range(cols)] for _ in range(rows)]
        bias = [draw(NUMBERS) if odd and draw(st.integers(0, 10)) == 0 else 0.0 for _ in range(rows)]
        entry = {"weight": weight, "bias": bias}
        if draw(st.integers(0, 9)) == 0:
            entry[draw(st.sampled_from(["weight", "bias"]))] = draw(JSON_VALUES)
        layers.append(entry)
    if draw(st.integers(0, 9)) == 0:
        layers = layers[: draw(st.integers(0, 1))]
    return {"layers": layers}


TINY = TrainConfig(points=20, epochs=1)
TINY_DATA = TINY.load_data()


@settings(FAST, max_examples=120 * SCALE)
@given(weights_documents(), st.booleans())
def test_weights_documents_load_or_raise_a_user_error(doc, autograd):
    with _folder() as folder:
        path = folder / "w.json"
        path.write_text(json.dumps(doc))
        try:
            weights = load_weights_file(path)
            t = Trainer(TrainConfig(points=20, epochs=1, dropout=0.1 if autograd else 0.0), TINY_DATA, weights)
            t.run()
        except UserError as err:
            _outcome(err)
            assert err.field == "init_weights" and "\n" not in err.message
            assert "w.json" in err.message or err.message.startswith("weights")
        else:
            _outcome(None)
            for layer in weights["layers"]:  # what was accepted is finite float32
                for key in ("weight", "bias"):
                    assert np.isfinite(np.asarray(layer[key], np.float64).astype(np.float32)).all()
            assert t.diverged_at is not None or all(math.isfinite(r.train_loss) for r in t.history)


@pytest.mark.parametrize("depth", [100, 990, 5000, 200_000])
def test_deeply_nested_weights_are_a_user_error(tmp_path, depth):
    path = tmp_path / "deep.json"
    path.write_text('{"layers": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(UserError, match="deep.json") as info:
        Trainer(TINY, TINY_DATA, load_weights_file(path))
    assert info.value.field == "init_weights"


def _cli(args: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    return code, err.getvalue()


def _check_cli(code: int, stderr: str) -> None:
    assert code in (0, 2), stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    if code == 2:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr


@settings(FAST, max_examples=12 * SCALE, deadline=None)
@given(csv_files())
def test_cli_train_on_random_csv_exits_0_or_2(file):
    content, target = file
    with _folder() as folder:
        path = folder / "data.csv"
        path.write_bytes(content)
        args = ["train", "--dataset", f"csv:{path}", "--epochs", "1", "--out", str(folder / "out")]
        _check_cli(*_cli(args + (["--target", target] if target else [])))


@settings(FAST, max_examples=8 * SCALE, deadline=None)
@given(idx_files(), st.booleans())
def test_cli_train_on_random_idx_exits_0_or_2(images, gz):
    with _folder() as folder:
        _pair(folder, images, GOOD_LABELS, (gz, False))
        args = ["train", "--dataset", "mnist", "--data-dir", str(folder), "--epochs", "1", "--out", str(folder / "o")]
        _check_cli(*_cli(args))
