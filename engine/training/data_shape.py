"""What a run's data set looks like before it is loaded, what that shape rules out, and the memory there is.

``data_shape(config)`` knows the built-in sets without loading them (the spiral from its settings,
scikit-learn's sets by their fixed sizes, MNIST and Fashion-MNIST from their IDX headers); ``check_batches``
refuses batch-norm batches of one row; ``available_memory`` reads the machine's (or the GPU's) memory.
Used by the estimate (estimate.py) and by the trainer before it allocates anything.
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass

from engine.data.datasets import DEFAULT_TEST_FRACTION
from engine.errors import UserError
from engine.training.config import TrainConfig

KNOWN_SETS = {  # name -> (rows, features, classes): scikit-learn's bundled sets, fixed sizes
    "digits": (1797, 64, 10),
    "iris": (150, 4, 3),
    "breast-cancer": (569, 30, 2),
}


@dataclass(frozen=True)
class DataShape:
    """What the estimate needs to know of a data set: its rows, its features and its classes (None: regression)."""

    n_train: int
    n_test: int
    n_features: int
    n_classes: int | None

    @classmethod
    def of(cls, data) -> DataShape:
        """Return the shape of a loaded engine Dataset."""
        return cls(len(data.x_train), len(data.x_test), data.n_features, data.n_classes)


# -- data shapes ------------------------------------------------------------------------------------------------
def data_shape(config: TrainConfig) -> DataShape | None:
    """Return the shape of ``config``'s data set without loading it, or None when that takes loading it.

    Known: the spiral (from its settings), scikit-learn's digits, iris and breast-cancer, and MNIST and
    Fashion-MNIST when their files are found (their headers give the sizes). CSV files are not: load them
    and use ``DataShape.of``. Settings the loader would refuse give None too (the load then says why).
    """
    try:
        name = config.dataset
        frac = None if config.test_fraction is None else float(config.test_fraction)
        if frac is not None and not 0 <= frac < 1:
            return None
        if name == "spiral":
            if not (2 <= int(config.classes) <= 10 and 2 <= int(config.points) <= 100_000):
                return None
            return _split_shape(int(config.classes) * int(config.points), frac, "spiral", 2, int(config.classes))
        if name in KNOWN_SETS:
            rows, features, classes = KNOWN_SETS[name]
            return _split_shape(rows, frac, name, features, classes)
        if name in ("mnist", "fashion-mnist"):
            return _idx_shape(name, config.data_dir, frac)
    except (OSError, ValueError, TypeError, EOFError, IndexError):
        return None
    return None


def _split_shape(rows: int, frac: float | None, name: str, features: int, classes: int | None) -> DataShape:
    frac = DEFAULT_TEST_FRACTION.get(name, 0.2) if frac is None else frac
    n_test = int(round(rows * frac))
    return DataShape(rows - n_test, n_test, features, classes)


def _idx_rows(path) -> tuple[int, int]:
    """Return (rows, values per row) from an IDX file's header, reading only its first bytes."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(4)
        ndim = head[3]
        dims = [int.from_bytes(fh.read(4), "big") for _ in range(ndim)]
    return dims[0], math.prod(dims[1:]) if len(dims) > 1 else 1


def _idx_shape(name: str, data_dir: str | None, frac: float | None) -> DataShape | None:
    from engine.data import idx

    try:
        found, _ = idx.locate(name, data_dir)
    except UserError:
        return None
    test_rows, features = _idx_rows(found["test_images"])
    if "train_images" in found and "train_labels" in found and not frac:
        train_rows, _ = _idx_rows(found["train_images"])
        return DataShape(train_rows, test_rows, features, 10)
    return _split_shape(test_rows, frac, "mnist", features, 10)


# -- what the data's shape rules out -----------------------------------------------------------------------------
def check_batches(config: TrainConfig, shape: DataShape) -> None:
    """Raise UserError (``batch_size``) when batch norm would meet a batch of one row; returns nothing.

    Batch norm normalises a batch by its own statistics, which one row does not have: torch raises in the
    middle of training. A batch size of 1, a training split of one row, or a last batch left with one row
    (61 rows in batches of 20) all do. Other set-ups train any batch.
    """
    if not config.batchnorm or shape.n_train <= 0:
        return
    n = shape.n_train
    batch = min(int(config.batch_size) or n, n)
    if batch < 2:
        raise UserError(
            f"batch norm needs at least 2 rows per batch, and the batches here have {batch} "
            f"({n} training row{'s' if n != 1 else ''})",
            "batch_size",
        )
    if n % batch == 1:
        fits = [b for b in (*range(batch - 1, 1, -1), *range(batch + 1, n + 1)) if n % b != 1]
        near = sorted(fits, key=lambda b: abs(b - batch))[:2]
        hint = f" (try {' or '.join(map(str, sorted(near)))})" if near else ""
        raise UserError(
            f"batch norm needs at least 2 rows per batch: {n} training rows in batches of {batch} leave a last "
            f"batch of 1 row{hint}",
            "batch_size",
        )


# -- memory ------------------------------------------------------------------------------------------------------
def available_memory(device: str = "cpu") -> tuple[int, int]:
    """Return (bytes in all, bytes free now) of the machine's RAM, or of the GPU for ``device`` "cuda".

    RAM: sysconf's physical pages; free is Linux's MemAvailable (what can be had without swapping), capped by
    a cgroup memory limit when there is one; elsewhere the physical size.
    """
    if device == "cuda":
        import torch

        free, total = torch.cuda.mem_get_info()
        return int(total), int(free)
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 0
    free = total
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        if limit.isdigit():
            with open("/sys/fs/cgroup/memory.current") as fh:
                used = int(fh.read().strip())
            total = min(total, int(limit)) if total else int(limit)
            free = min(free, max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return int(total), int(free)
