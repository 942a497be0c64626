"""Shared test set-up: Qt without a screen, one torch thread, markers, and the shared data folder."""

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Comparisons store every finished run (engine/sweep/store.py): tests write to a throw-away store, never the user's.
os.environ.setdefault("DESCENT_LAB_STORE", os.path.join(tempfile.mkdtemp(prefix="descent-lab-tests-"), "runs.sqlite"))
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402
import torch  # noqa: E402

# Small models are per-call-overhead bound: on this 2-core machine one comparison test took 72 s with
# torch's default threads and 8 s with one. Tests that are about threads set their own.
torch.set_num_threads(1)

MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"


def pytest_collection_modifyitems(config, items):
    """Mark every test of a test_gui_* module 'gui' and every test that reads real MNIST 'mnist'; put the
    modules with Ray tests first.

    The workers take whole modules in collection order (``--dist loadfile``): a Ray module (a cluster
    started in a network namespace, ~40 s, mostly waiting on its processes) taken last kept one worker busy
    long after the others had finished (~178 s against ~157 s). Three workers on the two cores (pyproject)
    let the other modules use the cores while a Ray module waits.
    """
    for item in items:
        if Path(str(item.fspath)).name.startswith("test_gui"):
            item.add_marker(pytest.mark.gui)
        if "mnist_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mnist)
    ray_modules = {str(item.fspath) for item in items if item.get_closest_marker("ray")}
    items.sort(key=lambda item: str(item.fspath) not in ray_modules)  # stable: the order within stays


@pytest.fixture
def mnist_dir():
    """The real MNIST t10k files from ../shared/data/mnist, or a skip saying they are absent."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST files not found in {MNIST_DIR} (only present on the project's machines)")
    return MNIST_DIR


@pytest.fixture
def shown_surface(qtbot):
    """Return a function that builds the surface tab (for ``experiment``, default when None), shows it at
    1300×800 and waits for its first paths."""
    from gui.views.surface_view import SurfaceView

    def build(experiment=None):
        view = SurfaceView(experiment) if experiment is not None else SurfaceView()
        qtbot.addWidget(view)
        view.resize(1300, 800)
        view.show()
        qtbot.waitUntil(lambda: bool(view.paths), timeout=10000)
        return view

    return build


def job_snapshots(config) -> list:
    """Return every snapshot of a real run of ``config`` (the prepare job's, then the training job's)."""
    from engine.jobs import Token, run_job
    from engine.training.jobs import prepare_job, train_job

    token, snaps = Token(), []
    trainer = run_job(prepare_job(config, token), snaps.append)
    run_job(train_job(trainer, token), snaps.append)
    return snaps
