"""Data sets: the seeds' spiral, MNIST and Fashion-MNIST, scikit-learn's small real sets, and user CSV files."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.data import idx
from engine.errors import UserError

DATASETS = ("spiral", "mnist", "fashion-mnist", "digits", "iris", "breast-cancer", "csv:PATH")
DEFAULT_TEST_FRACTION = {
    "spiral": 0.0,
    "mnist": 0.2,
    "fashion-mnist": 0.2,
    "digits": 0.2,
    "iris": 0.2,
    "breast-cancer": 0.2,
    "csv": 0.2,
}
FASHION_LABELS = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]


@dataclass
class Dataset:
    """Tensors for training and testing plus what is needed to label charts.

    ``n_classes`` is None for a regression target; ``x_test`` is empty when nothing is held out.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int | None
    class_names: list[str] = field(default_factory=list)
    image_shape: tuple[int, int] | None = None
    note: str = ""

    @property
    def n_features(self) -> int:
        """Return the number of input features."""
        return int(self.x_train.shape[1])

    @property
    def has_test(self) -> bool:
        """Return whether a held-out test split exists."""
        return len(self.x_test) > 0

    def summary(self) -> str:
        """Return one line describing the data set and its split."""
        kind = f"{self.n_classes} classes" if self.n_classes else "regression"
        test = f"{len(self.x_test)} test" if self.has_test else "no held-out test set"
        return f"{self.name}: {len(self.x_train)} train, {test}, {self.n_features} features, {kind}" + (
            f" ({self.note})" if self.note else ""
        )


def spiral_arrays(
    classes: int = 3, points: int = 500, noise: float = 0.2, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Return (X, y) from the seeds' spiral generator (sorted by class), with its own seeded RNG."""
    rng = np.random.RandomState(seed)
    x = np.zeros((points * classes, 2))
    y = np.zeros(points * classes, dtype="uint8")
    for j in range(classes):
        ix = range(points * j, points * (j + 1))
        r = np.linspace(0.0, 1, points)
        t = np.linspace(j * 4, (j + 1) * 4, points) + rng.randn(points) * noise
        x[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return x, y


def split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (train_index, test_index): a seeded permutation cut at ``test_fraction``."""
    if not 0 <= test_fraction < 1:
        raise UserError(f"must be in [0, 1), not {test_fraction}", "test_fraction")
    n_test = int(round(n * test_fraction))
    if test_fraction > 0 and (n_test == 0 or n_test == n):
        raise UserError(f"{test_fraction} leaves an empty split of {n} samples", "test_fraction")
    order = np.random.RandomState(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1
    return (x_train - mean) / std, (x_test - mean) / std


def _make(name, x, y, n_classes, test_fraction, seed, standardize=False, **kw) -> Dataset:
    tr, te = split(len(x), test_fraction, seed)
    x_tr, x_te = x[tr], x[te]
    if standardize:
        x_tr, x_te = _standardize(x_tr, x_te)
    ydtype = torch.long if n_classes else torch.float32
    with np.errstate(over="ignore", invalid="ignore"):  # reported below, in the user's words
        x_tr, x_te = x_tr.astype(np.float32), x_te.astype(np.float32)
        y32 = y.astype(np.float32)
    for part in (x_tr, x_te, y32):
        if not np.isfinite(part).all():  # the tensors are float32: a float64 value beyond its range is inf there
            raise UserError(f"{name} has values that are not finite as 32-bit floats (beyond ±3.4e38)", "dataset")
    return Dataset(
        name,
        torch.from_numpy(x_tr),
        torch.tensor(y[tr], dtype=ydtype),
        torch.from_numpy(x_te).reshape(len(te), x.shape[1]),
        torch.tensor(y[te], dtype=ydtype),
        n_classes,
        **kw,
    )


def load_dataset(
    name: str,
    *,
    seed: int = 1,
    test_fraction: float | None = None,
    data_dir: str | None = None,
    classes: int = 3,
    points: int = 500,
    noise: float = 0.2,
    target: str | None = None,
    standardize: bool | None = None,
    download: bool = False,
) -> Dataset:
    """Return the data set ``name`` split deterministically by ``seed``; raise UserError naming the field at fault."""
    key = "csv" if name.startswith("csv:") else name
    if key not in DEFAULT_TEST_FRACTION:
        raise UserError(f"unknown data set '{name}'; choose from {', '.join(DATASETS)}", "dataset")
    frac = DEFAULT_TEST_FRACTION[key] if test_fraction is None else float(test_fraction)
    if key == "spiral":
        for value, ok, field, rule in (
            (classes, 2 <= classes <= 10, "classes", "2–10 classes"),
            (points, 2 <= points <= 100_000, "points", "2–100000 points per class"),
            (noise, 0 <= noise <= 10, "noise", "noise in [0, 10]"),
        ):
            if not ok:
                raise UserError(f"the spiral needs {rule}, not {value}", field)
        x, y = spiral_arrays(classes, points, noise, seed)
        return _make(
            "spiral",
            x,
            y.astype(np.int64),
            classes,
            frac,
            seed,
            bool(standardize),
            class_names=[f"class {k}" for k in range(classes)],
        )
    if key in ("mnist", "fashion-mnist"):
        return load_idx_set(key, data_dir, frac if test_fraction is not None else None, seed, download)
    if key in ("digits", "iris", "breast-cancer"):
        return _sklearn(key, frac, seed, standardize)
    from engine.data.csv_table import load_csv  # it builds on this module's Dataset

    return load_csv(name[4:], target, frac, seed, bool(standardize))


def _sklearn(key: str, frac: float, seed: int, standardize: bool | None) -> Dataset:
    from sklearn import datasets as sk

    bunch = {"digits": sk.load_digits, "iris": sk.load_iris, "breast-cancer": sk.load_breast_cancer}[key]()
    x = bunch.data.astype(np.float64)
    if key == "digits" and not standardize:
        x = x / 16.0  # pixel intensities 0..16 -> 0..1
    names = [str(n) for n in bunch.target_names]
    return _make(
        key,
        x,
        bunch.target.astype(np.int64),
        len(names),
        frac,
        seed,
        standardize if standardize is not None else key != "digits",
        class_names=names,
        image_shape=(8, 8) if key == "digits" else None,
    )


def _signature(path: Path) -> tuple[str, int, int]:
    """Return (path, size, mtime): the cache key of one file, so that a file replaced on disk is read again."""
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1)  # read_idx says what is wrong with it
    return (str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_idx_folder(name: str, files: tuple[tuple[str, tuple[str, int, int]], ...]) -> dict[str, np.ndarray]:
    paths = {role: sig[0] for role, sig in files}
    arrays = {role: idx.read_idx(path) for role, path in paths.items()}
    for part in ("train", "test"):
        if f"{part}_images" in arrays:
            imgs, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
            img_name, lab_name = Path(paths[f"{part}_images"]).name, Path(paths[f"{part}_labels"]).name
            if imgs.ndim != 3 or labels.ndim != 1:
                raise UserError(
                    f"{img_name} must hold images (3 dimensions) and {lab_name} labels (1 dimension)", "data_dir"
                )
            if len(imgs) != len(labels):
                raise UserError(
                    f"{img_name} has {len(imgs)} images but {lab_name} has {len(labels)} labels", "data_dir"
                )
            if labels.min() < 0 or labels.max() > 9 or (labels.dtype.kind == "f" and (labels % 1).any()):
                raise UserError(f"{lab_name} has labels other than the whole numbers 0–9", "data_dir")
            with np.errstate(over="ignore"):
                if imgs.dtype == np.float64 and not np.isfinite(imgs.astype(np.float32)).all():
                    raise UserError(f"{img_name} holds values beyond the 32-bit float range (±3.4e38)", "data_dir")
    return arrays


def load_idx_set(
    name: str, data_dir: str | None, test_fraction: float | None, seed: int, download: bool = False
) -> Dataset:
    """Return MNIST or Fashion-MNIST: the official split, or the t10k files split by ``test_fraction``."""
    try:
        found, folder = idx.locate(name, data_dir)
    except idx.FilesNotFound:
        if not download:
            raise
        idx.download(name, None if not data_dir else Path(data_dir))
        found, folder = idx.locate(name, data_dir)
    has_train = "train_images" in found and "train_labels" in found
    files = tuple(
        sorted((role, _signature(path)) for role, path in found.items() if has_train or role.startswith("test"))
    )
    arrays = _read_idx_folder(name, files)
    labels = FASHION_LABELS if name == "fashion-mnist" else [str(d) for d in range(10)]
    if has_train and not test_fraction:
        x_tr, y_tr = arrays["train_images"], arrays["train_labels"]
        x_te, y_te = arrays["test_images"], arrays["test_labels"]
        note = f"official split, from {folder}"
    else:
        x_all, y_all = arrays["test_images"], arrays["test_labels"]
        frac = 0.2 if test_fraction is None else test_fraction
        tr, te = split(len(x_all), frac, seed)
        x_tr, y_tr, x_te, y_te = x_all[tr], y_all[tr], x_all[te], y_all[te]
        note = (
            f"only the t10k files were found in {folder}: {len(x_all)} images split "
            f"{len(tr)}/{len(te)} by test fraction {frac:g}"
            if not has_train
            else f"t10k files split by test fraction {frac:g}, from {folder}"
        )
    shape = x_tr.shape[1:]

    def flat(a):
        x = a.reshape(len(a), -1).astype(np.float32)
        x /= 255.0
        return torch.from_numpy(x)

    return Dataset(
        name,
        flat(x_tr),
        torch.from_numpy(y_tr.astype(np.int64)),
        flat(x_te),
        torch.from_numpy(y_te.astype(np.int64)),
        10,
        labels,
        tuple(shape),
        note,
    )
