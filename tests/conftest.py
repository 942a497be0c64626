"""Shared test set-up: Qt without a screen, the repository on sys.path, and the shared data folder."""
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture
def mnist_dir():
    """The real MNIST t10k files from ../shared/data/mnist, or a skip saying they are absent."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST files not found in {MNIST_DIR} (only present on the project's machines)")
    return MNIST_DIR
