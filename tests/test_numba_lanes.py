"""The numba lanes backend (engine/training/backends/numba_lanes.py) against the torch fused path it replaces."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest

import engine.training.backends as backends
from engine.data.datasets import load_dataset
from engine.training.backends import numba_lanes, spread
from engine.training.config import TrainConfig
from engine.training.trainer import RunGroup

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")
SPIRAL = load_dataset("spiral", points=40, test_fraction=0.25)


def trained(configs, lanes: bool, monkeypatch, stop_every: int = 0) -> RunGroup:
    """Return a RunGroup trained to the end, by the lanes backend or the torch fused path.

    ``stop_every`` > 0 stops the run after every that many batches and resumes it.
    """
    monkeypatch.setattr(numba_lanes, "ENABLED", lanes)
    monkeypatch.setattr(numba_lanes, "MIN_RUN_STEPS", 0)
    group = RunGroup(configs, SPIRAL)
    calls = [0]

    def stop():
        calls[0] += 1
        return stop_every > 0 and calls[0] % stop_every == 0

    while not group.finished:
        group.run_epoch(stop)
    return group


def flat_weights(group: RunGroup) -> np.ndarray:
    """Return every run's weights and biases, flattened, one row per run."""
    rows = []
    for r in range(group.R):
        layers = group.weights(r)["layers"]
        rows.append(np.concatenate([np.ravel(v) for layer in layers for v in (layer["weight"], layer["bias"])]))
    return np.array(rows)


def assert_same(a: RunGroup, b: RunGroup, tol=1e-9):
    assert a.diverged_at == b.diverged_at
    for ha, hb in zip(a.histories, b.histories):
        assert len(ha) == len(hb)
        for x, y in zip(ha, hb):
            for field in ("train_loss", "test_loss", "train_acc", "test_acc", "grad_norm"):
                u, v = getattr(x, field), getattr(y, field)
                assert u == pytest.approx(v, rel=0, abs=tol, nan_ok=True), field
            assert x.lr == y.lr
    assert np.allclose(flat_weights(a), flat_weights(b), rtol=0, atol=1e-6, equal_nan=True)  # stored as float32


def grid(base: TrainConfig, rates, momenta) -> list[TrainConfig]:
    """Return the configs of a rate x momentum grid (momentum outer)."""
    return [base.with_field("momentum", repr(m)).with_field("lr", repr(lr)) for m in momenta for lr in rates]


@pytest.mark.parametrize(
    "activation, optimizer, extra, scheduler",
    [
        ("relu", "sgd", {}, "none"),
        ("tanh", "nesterov", {"weight_decay": 0.01}, "cyclic"),
        ("leaky-relu", "sgd", {"dampening": 0.2, "weight_decay": 0.001}, "onecycle"),
        ("sigmoid", "momentum", {}, "step"),
    ],
)
def test_a_grid_equals_the_torch_fused_path(activation, optimizer, extra, scheduler, monkeypatch):
    base = TrainConfig(
        points=40,
        test_fraction=0.25,
        layers=(2, 12, 6, 3),
        activation=activation,
        optimizer=optimizer,
        optimizer_params={"lr": 0.1, "momentum": 0.5, **extra},
        scheduler=scheduler,
        batch_size=16,
        epochs=6,
    )
    momenta = (0.2, 0.5, 0.9) if optimizer == "nesterov" else (0.0, 0.5, 0.9)
    configs = grid(base, (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0), momenta)  # 21 runs: one padded tile
    lanes, torch_path = trained(configs, True, monkeypatch), trained(configs, False, monkeypatch)
    assert lanes.path == "fused, numba lanes kernel"
    assert torch_path.path == "fused, vectorized SGD"
    assert_same(lanes, torch_path)
    assert lanes.histories[10][-1].train_loss < lanes.histories[10][0].train_loss  # it learned
    assert lanes.histories[0][0].test_loss is not None


def test_stops_resumes_and_chunked_batches_match(monkeypatch):
    base = TrainConfig(points=40, test_fraction=0.25, layers=(2, 10, 3), batch_size=30, epochs=5)
    configs = grid(base, (0.01, 0.03, 0.1, 0.3, 0.5), (0.0, 0.5, 0.8, 0.9))  # 20 runs
    reference = trained(configs, False, monkeypatch)
    assert_same(trained(configs, True, monkeypatch, stop_every=3), reference)
    monkeypatch.setattr(backends, "CHUNK_WORK", 20 * 10 * backends.row_work(base.layers))  # 3 chunks a batch
    assert_same(trained(configs, True, monkeypatch, stop_every=5), reference)  # a batch needs 3 calls


def test_where_it_applies(monkeypatch):
    monkeypatch.setattr(numba_lanes, "ENABLED", True)
    cell = TrainConfig(layers=(2, 50, 3), epochs=20)
    many = [cell] * 400
    assert numba_lanes.applies(many, 3, "cpu", 75)  # the 20x20 spiral map: 600,000 run-steps
    assert not numba_lanes.applies([cell] * 5, 3, "cpu", 75)  # too few runs to fill the lanes
    assert not numba_lanes.applies([replace(cell, epochs=1)] * 20, 3, "cpu", 75)  # too short to repay numba
    assert not numba_lanes.applies([replace(cell, optimizer="adam")] * 400, 3, "cpu", 75)
    assert not numba_lanes.applies([replace(cell, l1=0.01)] * 400, 3, "cpu", 75)
    assert not numba_lanes.applies([replace(cell, layers=(784, 40, 10))] * 400, 10, "cpu", 75)  # float32
    assert not numba_lanes.applies(many, 3, "cuda", 75)
    monkeypatch.setattr(numba_lanes, "ENABLED", False)
    assert not numba_lanes.applies(many, 3, "cpu", 75)


def test_tiles_spread_over_threads_give_the_same_numbers(monkeypatch):
    base = TrainConfig(points=40, test_fraction=0.25, layers=(2, 6, 3), batch_size=16, epochs=3)
    rates = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5)
    configs = grid(base, rates, (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95))  # 70 runs: three tiles
    monkeypatch.setattr(spread, "THREADS", 1)
    one = trained(configs, True, monkeypatch)
    monkeypatch.setattr(spread, "THREADS", 3)
    spread_out = trained(configs, True, monkeypatch)
    assert one.backend.threads == 1 and spread_out.backend.threads == 3
    assert_same(spread_out, one, tol=0.0)  # each tile's arithmetic does not depend on the thread that ran it
    assert np.array_equal(flat_weights(spread_out), flat_weights(one), equal_nan=True)


def test_tile_ranges_cover_every_tile_once():
    assert spread.piece_ranges(13, 1) == [(0, 13)]
    for tiles, threads in ((13, 2), (3, 4), (1, 2), (50, 3)):
        ranges = spread.piece_ranges(tiles, threads)
        covered = [t for a, b in ranges for t in range(a, b)]
        assert covered == list(range(tiles))
        assert len(ranges) == min(tiles, threads * spread.RANGES_PER_THREAD)


def test_an_error_in_a_helper_thread_reaches_the_caller():
    import threading
    import time

    seen = []

    def call(a, b):
        seen.append((a, b))
        if a == 0:
            raise ValueError("tile 0 failed")

    with pytest.raises(ValueError, match="tile 0 failed"):
        spread.spread(call, 6, 2)
    assert (0, 1) in seen and set(seen) <= set(spread.piece_ranges(6, 2))  # nothing ran twice or out of range

    def helper_fails(a, b):
        if threading.current_thread() is not caller:
            raise ValueError("a helper failed")
        time.sleep(0.01)  # leave ranges for the helper

    caller = threading.current_thread()
    with pytest.raises(ValueError, match="a helper failed"):
        spread.spread(helper_fails, 6, 2)


def test_thread_count_follows_the_setting_then_omp_num_threads_then_the_cores(monkeypatch):
    monkeypatch.setattr(spread, "THREADS", None)
    monkeypatch.setattr(spread, "available_cores", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert spread.thread_count(13) == 4 and spread.thread_count(2) == 2  # never more threads than pieces
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a Ray worker given one core
    assert spread.thread_count(13) == 1
    monkeypatch.setattr(spread, "THREADS", 3)
    assert spread.thread_count(13) == 3


def test_a_thread_that_leaves_cores_shares_out_over_fewer(monkeypatch):
    import threading

    monkeypatch.setattr(spread, "THREADS", None)
    monkeypatch.setattr(spread, "available_cores", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    seen = {}

    def job():
        spread.leave_cores(1)  # as the window's training job does, for its GUI thread
        seen["job"] = spread.thread_count(13)

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert seen["job"] == 3 and spread.thread_count(13) == 4  # the setting belongs to the thread that made it


def test_a_call_does_not_wait_for_another_callers_helpers():
    import threading
    import time

    release = threading.Event()

    def slow(a, b):
        release.wait(5)

    other = threading.Thread(target=spread.spread, args=(slow, 4, 2))  # its helper and itself block
    other.start()
    time.sleep(0.1)
    start = time.perf_counter()
    done = []
    spread.spread(lambda a, b: done.append((a, b)), 4, 2)  # this caller's helper is queued behind them
    waited = time.perf_counter() - start
    release.set()
    other.join()
    assert sorted(done) == spread.piece_ranges(4, 2) and waited < 1.0  # it did its ranges itself, at once


def test_two_jobs_compiling_a_kernel_module_at_once_both_get_it():
    import threading
    import types

    from engine.numba_jit import jit_in_place

    module = types.ModuleType("kernel")  # a kernel module: plain functions, a callee and an entry
    exec("def double(x):\n    return 2.0 * x\n\ndef entry(x):\n    return double(x) + 1.0\n", module.__dict__)
    barrier, got, errors = threading.Barrier(2), [], []

    def job():
        barrier.wait()
        try:
            got.append(jit_in_place(module.__dict__, ("double",), ("entry",))[0])
        except Exception as err:  # noqa: BLE001 — the bug was a TypeError in the second thread
            errors.append(err)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got[0] is got[1] and got[0](3.0) == 7.0


def test_loading_a_kernel_does_not_import_scipy_linalg_and_np_dot_still_compiles():
    import subprocess
    import sys

    script = (
        "import sys, types, numpy as np\n"
        "from engine.numba_jit import jit_in_place\n"
        "m = types.ModuleType('kernel')\n"
        "exec('import numpy as np\\ndef total(a):\\n    return np.sum(a)\\n"
        "def dot(a, b):\\n    return np.dot(a, b)\\n', m.__dict__)\n"
        "total, dot = jit_in_place(m.__dict__, (), ('total', 'dot'))\n"
        "print(total(np.arange(3.0)), 'scipy.linalg' in sys.modules, dot(np.arange(3.0), np.ones(3)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3.0", "False", "3.0"]  # np.dot, compiled later, loads SciPy's BLAS itself
