import gzip
import struct

import numpy as np
import pytest
import torch

from engine.data import idx
from engine.data.datasets import load_dataset, spiral_arrays
from engine.errors import UserError


def test_spiral_is_the_seed_generator_exactly():
    x, y = spiral_arrays(3, 500, 0.2, seed=1)
    # the seed: np.random.seed(1), then per class r = linspace(0, 1, N), t = linspace(4j, 4(j+1), N) + randn(N)*0.2
    np.random.seed(1)
    for j in range(3):
        r = np.linspace(0.0, 1, 500)
        t = np.linspace(j * 4, (j + 1) * 4, 500) + np.random.randn(500) * 0.2
        np.testing.assert_array_equal(x[500 * j : 500 * (j + 1)], np.c_[r * np.sin(t), r * np.cos(t)])
        assert (y[500 * j : 500 * (j + 1)] == j).all()


def test_spiral_dataset_uses_all_points_by_default_and_is_seeded():
    d = load_dataset("spiral")
    assert len(d.x_train) == 1500 and not d.has_test and d.n_classes == 3
    assert torch.equal(load_dataset("spiral", seed=4).x_train, load_dataset("spiral", seed=4).x_train)
    assert not torch.equal(load_dataset("spiral", seed=4).x_train, load_dataset("spiral", seed=5).x_train)
    split = load_dataset("spiral", test_fraction=0.2, classes=4, points=100, noise=0.1)
    assert len(split.x_train) == 320 and len(split.x_test) == 80 and split.n_classes == 4


@pytest.mark.parametrize(
    "name, n, features, classes", [("digits", 1797, 64, 10), ("iris", 150, 4, 3), ("breast-cancer", 569, 30, 2)]
)
def test_small_real_sets(name, n, features, classes):
    d = load_dataset(name, seed=3)
    assert len(d.x_train) + len(d.x_test) == n and d.n_features == features and d.n_classes == classes
    assert len(d.x_test) == round(n * 0.2)
    again = load_dataset(name, seed=3)
    assert torch.equal(d.x_test, again.x_test)


def test_real_mnist_t10k_only_folder_is_split_and_says_so(mnist_dir):
    d = load_dataset("mnist", data_dir=str(mnist_dir), test_fraction=0.25, seed=2)
    assert len(d.x_train) == 7500 and len(d.x_test) == 2500 and d.n_features == 784
    assert "only the t10k files" in d.note and "7500/2500" in d.note
    assert 0 <= float(d.x_train.min()) and float(d.x_train.max()) <= 1
    counts = np.bincount(torch.cat([d.y_train, d.y_test]).numpy(), minlength=10)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # the real t10k label counts


def _write_idx(path, array, magic_type=0x08, compress=True, cut=0):
    header = bytes([0, 0, magic_type, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    raw = raw[: len(raw) - cut] if cut else raw
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _fake_set(folder, n_images=20, n_labels=20, cut=0, compress=True):
    folder.mkdir(exist_ok=True)
    rng = np.random.RandomState(0)
    suffix = ".gz" if compress else ""
    _write_idx(
        folder / f"t10k-images-idx3-ubyte{suffix}", rng.randint(0, 255, (n_images, 28, 28)), compress=compress, cut=cut
    )
    _write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", rng.randint(0, 10, n_labels), compress=compress)
    return folder


def test_synthetic_idx_raw_and_gzip_round_trip(tmp_path):
    for compress in (True, False):
        folder = _fake_set(tmp_path / f"ok{compress}", compress=compress)
        d = load_dataset("mnist", data_dir=str(folder), seed=1)
        assert len(d.x_train) + len(d.x_test) == 20


def test_truncated_file_is_named(tmp_path):
    folder = _fake_set(tmp_path / "cut", cut=100)
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz is truncated"):
        load_dataset("mnist", data_dir=str(folder))


def test_corrupt_gzip_is_named(tmp_path):
    folder = _fake_set(tmp_path / "bad")
    data = (folder / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte.gz cannot be read"):
        load_dataset("mnist", data_dir=str(folder))


def test_not_an_idx_file(tmp_path):
    folder = _fake_set(tmp_path / "magic")
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"hello world, not idx"))
    with pytest.raises(UserError, match="not an IDX file") as info:
        load_dataset("mnist", data_dir=str(folder))
    assert info.value.field == "data_dir" and not isinstance(info.value, idx.FilesNotFound)


def test_mismatched_counts_are_named(tmp_path):
    folder = _fake_set(tmp_path / "mm", n_images=20, n_labels=19)
    with pytest.raises(UserError, match="20 images but t10k-labels-idx1-ubyte.gz has 19 labels"):
        load_dataset("mnist", data_dir=str(folder))


def test_missing_files_say_where_they_looked(tmp_path):
    with pytest.raises(idx.FilesNotFound, match="not found") as info:
        load_dataset("mnist", data_dir=str(tmp_path))
    assert info.value.field == "data_dir" and str(tmp_path) in info.value.message
    assert "--" not in info.value.message  # the front end words the remedy (a flag, a folder picker)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"name": "nope"}, "dataset"),
        ({"name": "spiral", "classes": 11}, "classes"),
        ({"name": "spiral", "points": 1}, "points"),
        ({"name": "spiral", "noise": -1}, "noise"),
        ({"name": "iris", "test_fraction": 1.5}, "test_fraction"),
        ({"name": "iris", "test_fraction": 0.001}, "test_fraction"),
    ],
)
def test_bad_requests_name_their_field_not_a_flag(kwargs, field):
    with pytest.raises(UserError) as info:
        load_dataset(kwargs.pop("name"), **kwargs)
    assert info.value.field == field and "--" not in info.value.message


def test_environment_variable_and_full_official_split(tmp_path, monkeypatch):
    folder = _fake_set(tmp_path / "mnist")
    rng = np.random.RandomState(1)
    _write_idx(folder / "train-images-idx3-ubyte.gz", rng.randint(0, 255, (30, 28, 28)))
    _write_idx(folder / "train-labels-idx1-ubyte.gz", rng.randint(0, 10, 30))
    monkeypatch.setenv("DESCENT_LAB_DATA", str(tmp_path))
    d = load_dataset("mnist")
    assert len(d.x_train) == 30 and len(d.x_test) == 20 and "official split" in d.note


def test_download_verifies_checksums_without_network(tmp_path):
    class Fake:
        def __init__(self, data):
            self.data = data

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def read(self, size=-1):  # the download job reads in chunks: the whole body once, then the end
            data, self.data = self.data, b""
            return data

    with pytest.raises(UserError, match="checksum"):
        idx.download("mnist", tmp_path, opener=lambda url, timeout: Fake(b"not the real file"))
    assert not list(tmp_path.glob("*.gz"))


def test_csv_dataset(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("a,b,label\n" + "\n".join(f"{i},{i * 2},{i % 2}" for i in range(50)))
    d = load_dataset(f"csv:{f}", target="label", standardize=True)
    assert d.n_classes == 2 and d.n_features == 2 and len(d.x_test) == 10
    assert abs(float(d.x_train.mean())) < 1e-5
    r = tmp_path / "r.csv"
    r.write_text("x,y\n" + "\n".join(f"{i},{i * 0.5 + 0.25}" for i in range(20)))
    assert load_dataset(f"csv:{r}", target="y").n_classes is None
    with pytest.raises(UserError, match="not a column") as info:
        load_dataset(f"csv:{f}", target="nope")
    assert info.value.field == "target" and "--" not in info.value.message
    with pytest.raises(UserError, match="needs a target column") as info:
        load_dataset(f"csv:{f}")
    assert info.value.field == "target"
    bad = tmp_path / "bad.csv"
    bad.write_text("a,label\n1,0\nx,1\n2,0\n")
    with pytest.raises(UserError, match="line 3"):
        load_dataset(f"csv:{bad}", target="label")


# -- hostile files: each test below was once a traceback, a hang or silent garbage -------------------------------


def _labels(n=20):
    return bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(k % 10 for k in range(n))


def _images_pair(folder, images: bytes, labels: bytes | None = None, gz=False):
    folder.mkdir(exist_ok=True)
    suffix = ".gz" if gz else ""
    (folder / f"t10k-images-idx3-ubyte{suffix}").write_bytes(gzip.compress(images) if gz else images)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(_labels() if labels is None else labels)
    return str(folder)


@pytest.mark.parametrize(
    "dims, message",
    [
        ((0x10000, 0x10000, 0x10000, 0x10000), "each side at most 4096"),  # the product wraps to 0 in int64
        ((0x1000000, 1, 1), "16777216 items; at most 10000000"),
        ((20, 0, 28), "empty dimension"),
        ((10_000_000, 4096, 4096), "more than the 2147483648 supported"),
    ],
)
def test_idx_header_dimensions_are_checked_before_reading(tmp_path, dims, message):
    header = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    for gz in (False, True):
        folder = _images_pair(tmp_path / f"d{gz}", header + bytes(100), gz=gz)
        with pytest.raises(UserError, match=message) as info:
            load_dataset("mnist", data_dir=folder)
        assert info.value.field == "data_dir" and "t10k-images-idx3-ubyte" in info.value.message


def test_idx_sizes_are_compared_before_the_data_is_read(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 20, 4, 4)
    folder = _images_pair(tmp_path / "long", header + bytes(20 * 16 + 5))
    with pytest.raises(UserError, match="5 unexpected bytes after its data"):
        load_dataset("mnist", data_dir=folder)
    folder = _images_pair(tmp_path / "short", header + bytes(7))
    with pytest.raises(UserError, match="promises 320 bytes of data, found 7"):
        load_dataset("mnist", data_dir=folder)
    # a 1 KB gzip cannot hold the 100 MB its header announces: refused without inflating anything
    big = bytes([0, 0, 8, 3]) + struct.pack(">III", 100_000, 32, 32)
    folder = _images_pair(tmp_path / "gz", big + bytes(1000), gz=True)
    with pytest.raises(UserError, match="more than a gzip of .* bytes can hold"):
        load_dataset("mnist", data_dir=folder)
    folder = _images_pair(tmp_path / "bomb", header + bytes(20 * 16 + 10_000), gz=True)
    with pytest.raises(UserError, match="inflates beyond the 320 bytes its header announces"):
        load_dataset("mnist", data_dir=folder)


@pytest.mark.parametrize("code, fmt", [(0x0D, ">f4"), (0x0E, ">f8")])
def test_float_idx_images_must_be_finite(tmp_path, code, fmt):
    header = bytes([0, 0, code, 3]) + struct.pack(">III", 20, 2, 2)
    pixels = np.zeros((20, 2, 2), fmt)
    ok = _images_pair(tmp_path / "ok", header + pixels.tobytes())
    assert load_dataset("mnist", data_dir=ok).n_features == 4  # float pixels are read (and divided by 255)
    for k, bad in enumerate((np.nan, np.inf, -np.inf)):
        pixels[7, 1, 0] = bad
        folder = _images_pair(tmp_path / f"bad{k}", header + pixels.tobytes())
        with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte holds NaN or infinite values \(item 7"):
            load_dataset("mnist", data_dir=folder)
    if code == 0x0E:  # finite in float64, infinite as the float32 the tensors hold
        pixels[7, 1, 0] = 1e300
        folder = _images_pair(tmp_path / "huge", header + pixels.tobytes())
        with pytest.raises(UserError, match="beyond the 32-bit float range"):
            load_dataset("mnist", data_dir=folder)


def test_float_idx_labels_must_be_whole_numbers(tmp_path):
    images = bytes([0, 0, 8, 3]) + struct.pack(">III", 20, 2, 2) + bytes(80)
    labels = np.full(20, 1.5, ">f4")
    folder = _images_pair(tmp_path / "f", images, bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 20) + labels.tobytes())
    with pytest.raises(UserError, match="labels other than the whole numbers 0–9"):
        load_dataset("mnist", data_dir=folder)


def test_a_replaced_idx_file_is_read_again(tmp_path):
    folder = _fake_set(tmp_path / "again")
    assert len(load_dataset("mnist", data_dir=str(folder)).x_train) == 16
    _fake_set(folder, n_images=30, n_labels=30)
    assert len(load_dataset("mnist", data_dir=str(folder)).x_train) == 24


@pytest.mark.parametrize("value", ["1e39", "1e308", "-3.5e38", "nan", "inf", "-Infinity"])
def test_csv_values_beyond_float32_are_named(tmp_path, value):
    f = tmp_path / "big.csv"
    rows = [f"{i},{i * 2},{i % 2}" for i in range(20)]
    rows[6] = f"6,{value},0"
    f.write_text("a,b,label\n" + "\n".join(rows))
    for standardize in (False, True):
        with pytest.raises(UserError, match=r"big.csv line 8, column 'b': .* not a finite number") as info:
            load_dataset(f"csv:{f}", target="label", standardize=standardize)
        assert info.value.field == "dataset"
    g = tmp_path / "target.csv"
    g.write_text("a,y\n" + "\n".join(f"{i},{value if i == 3 else i * 0.5}" for i in range(10)))
    with pytest.raises(UserError, match="line 5, column 'y'"):
        load_dataset(f"csv:{g}", target="y")


def test_csv_reading_is_bounded_and_worded(tmp_path, monkeypatch):
    from engine.data import csv_table as datasets

    f = tmp_path / "t.csv"
    f.write_text("a,b,label\n" + "\n".join(f"{i},{i * 2},{i % 2}" for i in range(50)))
    monkeypatch.setattr(datasets, "MAX_CSV_BYTES", 100)
    with pytest.raises(UserError, match="at most 0 MB can be loaded"):
        load_dataset(f"csv:{f}", target="label")
    monkeypatch.setattr(datasets, "MAX_CSV_BYTES", 200 * 2**20)
    monkeypatch.setattr(datasets, "MAX_CSV_CELLS", 60)
    with pytest.raises(UserError, match="more than 60 cells"):
        load_dataset(f"csv:{f}", target="label")
    monkeypatch.setattr(datasets, "MAX_CSV_CELLS", 10_000_000)
    cases = {
        b"a,label\n1,0\n\xff\xfe2,1\n3,0\n": "line 3 is not UTF-8 text",
        b"a,label\n1,0\n2\x003,1\n3,0\n": "line 3 contains a NUL byte",
        b"a\x00,label\n1,0\n2,1\n3,0\n": "line 1 contains a NUL byte",
        b"a,label\n1,0\n\n\n,\n": "at least two data rows",
        b"": "is empty",
        b"label\n1\n0\n1\n": "at least one feature column besides the target",
        b'a,label\n1,0\n"' + b"9" * 200_000 + b'",1\n': "line 3 cannot be parsed: field larger than field limit",
        b"a,label\n1,0\n" + b"x" * 5000 + b",1\n": r"line 3: 'xxxx.*\.\.\.' is not a number",
    }
    for k, (content, message) in enumerate(cases.items()):
        g = tmp_path / f"c{k}.csv"
        g.write_bytes(content)
        with pytest.raises(UserError, match=message) as info:
            load_dataset(f"csv:{g}", target="label")
        assert len(str(info.value)) < 300 and "\n" not in str(info.value)
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffa,label\n".encode() + b"\n".join(b"%d,%d" % (i, i % 2) for i in range(10)))
    assert load_dataset(f"csv:{bom}", target="a").n_classes == 10  # the byte-order mark is not in the name
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"column{i}" for i in range(500)) + "\n")
    with pytest.raises(UserError, match=r"column19, … \(500 in all\)"):
        load_dataset(f"csv:{wide}", target="nope")


def test_csv_whole_number_target_beyond_the_class_limit_is_regression(tmp_path):
    f = tmp_path / "years.csv"
    f.write_text("a,y\n" + "\n".join(f"{i},{[1990, 2000, 10**15][i % 3]}" for i in range(30)))
    d = load_dataset(f"csv:{f}", target="y")  # once: 10**15 + 1 class names, a hang
    assert d.n_classes is None and d.y_train.dtype == torch.float32
