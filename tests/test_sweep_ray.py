"""`compare --backend ray`: a real Ray cluster gives the same numbers as the local backend, a killed worker is
retried by Ray, and without Ray installed the flag says how to install it.

Ray binds to the machine's own address unless told otherwise, and tests talk to loopback only: the cluster
part runs in a network namespace of its own with loopback alone up (and a PID namespace, so that every Ray
process ends with it). One Ray cluster and one driver serve the whole module (``ray_results``); run as a script
(``python tests/test_sweep_ray.py OUT``) this file is that driver, inside the namespace.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[1]
PORT = 6391
SWEEP24 = [
    "compare",
    "--points",
    "100",
    "--epochs",
    "8",
    "--vary",
    "optimizer=sgd,momentum,adam",
    "--vary",
    "lr=0.1,0.03",
    "--seeds",
    "1,2,3,4",
]
KILL = dict(points=200, epochs=150, seeds=[1, 2], lrs=["0.1", "0.05"])


def _kill_plan():
    from engine.sweep.grid import SweepGrid
    from engine.training.config import TrainConfig

    grid = SweepGrid(TrainConfig(points=KILL["points"], epochs=KILL["epochs"]), [("lr", KILL["lrs"])], KILL["seeds"])
    return grid, grid.runs()


def _final_losses(results) -> list[float]:
    return [r.history[-1].train_loss for r in results]


def _comparison_losses(folder: Path) -> list[float]:
    runs = json.loads((folder / "comparison.json").read_text())["runs"]
    return [r["history"][-1]["train_loss"] for r in runs]


# -- the driver, inside the namespace ------------------------------------------------------------------------------
def _ray_workers() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::train_group"):
                pids.append(int(entry))
    return pids


def _inside(out: Path, temp: str) -> None:
    """Start a Ray head on loopback, run the 24-run sweep through the CLI and a sweep with a killed worker."""
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    ray_cli = str(Path(sys.executable).with_name("ray"))
    subprocess.run(
        [ray_cli, "start", "--head", f"--port={PORT}", "--num-cpus=2", "--include-dashboard=false",
         "--disable-usage-stats", "--node-ip-address=127.0.0.1", f"--temp-dir={temp}"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(3)  # an immediate connect after `ray start` returns failed once on these machines
    from engine.jobs import Token
    from engine.sweep.executors import sweep_job
    from main import main

    report = {"start_seconds": time.perf_counter() - started}
    began = time.perf_counter()
    address = f"127.0.0.1:{PORT}"
    report["cli_rc"] = main(
        [
            *SWEEP24,
            "--backend",
            "ray",
            "--ray-address",
            address,
            "--store",
            str(out / "s.sqlite"),
            "--out",
            str(out / "o"),
        ]
    )
    report["cli_seconds"] = time.perf_counter() - began
    grid, planned = _kill_plan()
    job = sweep_job(grid, planned, Token(), "ray", ray_address=address)
    began = time.perf_counter()
    snap, killed = next(job), None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline:
        workers = _ray_workers()
        if workers:
            time.sleep(0.3)  # let it train a little: the retry must start the task over
            os.kill(workers[0], signal.SIGKILL)
            killed = workers[0]
            report["killed_after"] = time.perf_counter() - began
        time.sleep(0.02)
    try:
        while True:
            snap = next(job)
    except StopIteration as end:
        results = end.value
    report.update(
        killed=killed,
        failed=snap.failed,
        errors=snap.errors,
        kill_losses=_final_losses([results[i] for i in sorted(results)]),
        kill_sweep_seconds=time.perf_counter() - began,
    )
    # a task that fails every time (its layers do not fit the data) is retried, then reported; the rest finish
    from engine.sweep.grid import subset
    from engine.training.config import TrainConfig

    good, bad = TrainConfig(points=60, epochs=2), TrainConfig(points=60, epochs=2, layers=(5, 10, 3))
    mixed = subset(grid, [({"layers": "2,50,3"}, 0, good), ({"layers": "5,10,3"}, 0, bad)])
    job = sweep_job(mixed, mixed.runs(), Token(), "ray", ray_address=address)
    snap = list(job)[-1]
    report["failing"] = {"done": snap.done, "failed": snap.failed, "errors": snap.errors}
    # Stop: the tasks not finished are cancelled (their workers end), the sweep returns at once
    from engine.sweep.grid import SweepGrid

    long = SweepGrid(TrainConfig(points=300, epochs=2000), [("lr", ["0.1", "0.05"])], [1, 2, 3, 4, 5, 6])
    token = Token()
    job = sweep_job(long, long.runs(), token, "ray", ray_address=address)
    snap = next(job)
    deadline = time.monotonic() + 60
    while not _ray_workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    began = time.perf_counter()
    token.stop()
    snap = ([snap, *job])[-1]
    stopped_in = time.perf_counter() - began
    time.sleep(1.0)
    report["stop"] = {"done": snap.done, "total": snap.total, "seconds": stopped_in, "busy": len(_ray_workers())}
    # the window's job: the same sweep, each run stored as its task returns
    from engine.jobs import run_job
    from engine.sweep.session import stored_sweep_job
    from engine.sweep.store import RunStore

    results = run_job(stored_sweep_job(grid, {"vary": []}, Token(), out / "w.sqlite", "ray", address))
    with RunStore(out / "w.sqlite") as store:
        report["window"] = {
            "losses": _final_losses(results),
            "stored": sorted(r.result.history[-1].train_loss for r in store.runs()),
            "status": store.sweeps()[0].status,
            "backends": sorted({r.backend for r in store.runs()}),
        }
    (out / "report.json").write_text(json.dumps(report))
    import ray

    ray.shutdown()
    # this process is the PID namespace's first: when it exits, the kernel ends every Ray process in it


# -- the tests ---------------------------------------------------------------------------------------------------
def _namespace_ok() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-n", "-p", "-f", "--mount-proc", "true"], capture_output=True)
    return None if probe.returncode == 0 else f"unshare is not permitted here ({probe.stderr.decode().strip()})"


@pytest.fixture(scope="module")
def ray_results(tmp_path_factory):
    """Run the driver in its namespace once; return (its report, its output folder)."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")
    reason = _namespace_ok()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("ray")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short (socket paths), and apart from other Ray sessions
    cmd = f"ip link set lo up; exec {sys.executable} {Path(__file__)} {out} {temp}"
    try:
        done = subprocess.run(
            ["unshare", "-n", "-p", "-f", "--mount-proc", "bash", "-c", cmd],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            # a loopback-only cluster of the test's own: no token to share (Ray 2.60 turns token auth on by default)
            env={**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"},
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)  # every Ray process ended with the namespace
    assert (out / "report.json").exists(), done.stderr[-3000:]
    return json.loads((out / "report.json").read_text()), out


@pytest.mark.slow
def test_a_ray_cluster_sweep_equals_the_local_backend(ray_results, tmp_path):
    from main import main

    report, out = ray_results
    assert report["cli_rc"] == 0
    assert main([*SWEEP24, "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "local")]) == 0
    local, remote = _comparison_losses(tmp_path / "local"), _comparison_losses(out / "o")
    assert len(local) == len(remote) == 24
    assert local == pytest.approx(remote, abs=1e-9, rel=0)
    from engine.sweep.store import RunStore

    with RunStore(out / "s.sqlite") as store:
        runs = store.runs()
        assert len(runs) == 24 and {r.backend for r in runs} == {"ray"}
        assert store.sweeps()[0].status == "finished"


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_the_sweep_completes_identically(ray_results):
    from engine.jobs import Token, run_job
    from engine.sweep.executors import sweep_job

    report, _ = ray_results
    assert report["killed"] is not None, "no Ray worker was seen running a task"
    assert report["failed"] == 0 and report["errors"] == []
    grid, planned = _kill_plan()
    local = run_job(sweep_job(grid, planned, Token(), "local"))
    assert report["kill_losses"] == pytest.approx(_final_losses([local[i] for i in sorted(local)]), abs=1e-9, rel=0)


@pytest.mark.slow
def test_a_task_that_keeps_failing_is_reported_after_its_retries(ray_results):
    report, _ = ray_results
    failing = report["failing"]
    assert (failing["done"], failing["failed"]) == (1, 1)
    (line,) = failing["errors"]
    assert line.startswith("1 runs failed after 3 retries: ") and "the first layer has 5 inputs" in line


@pytest.mark.slow
def test_stop_cancels_the_remaining_tasks(ray_results):
    stop = ray_results[0]["stop"]
    assert stop["total"] == 12 and stop["done"] < 12
    assert stop["seconds"] < 5 and stop["busy"] == 0  # no worker still trains a cancelled task


@pytest.mark.slow
def test_the_windows_job_stores_every_ray_run(ray_results):
    report, _ = ray_results
    window = report["window"]
    assert window["losses"] == report["kill_losses"]  # the same sweep as the one with a killed worker
    assert window["stored"] == sorted(window["losses"]) and window["status"] == "finished"
    assert window["backends"] == ["ray"]


def test_without_ray_the_backend_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    from main import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    out = tmp_path / "o"
    args = ["compare", "--points", "60", "--epochs", "2", "--vary", "lr=0.1,0.2", "--backend", "ray", "--out", str(out)]
    assert main([*args, "--store", str(tmp_path / "s.sqlite")]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line == 'error: --backend: Ray is not installed: pip install -e ".[cluster]"'
    assert not out.exists()


@pytest.mark.parametrize(
    "address, line",
    [
        ("nohost", "error: --ray-address: 'nohost' is not auto or host:port (e.g. 10.0.0.5:6379)"),
        ("127.0.0.1:1", "error: --ray-address: cannot reach a Ray cluster at 127.0.0.1:1: Connection refused"),
    ],
)
def test_an_address_without_a_cluster_is_refused_at_once(tmp_path, capsys, address, line):
    from main import main

    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")
    out = tmp_path / "o"
    args = ["compare", "--points", "60", "--epochs", "2", "--vary", "lr=0.1,0.2", "--backend", "ray"]
    began = time.perf_counter()
    assert main([*args, "--ray-address", address, "--store", str(tmp_path / "s"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == line
    assert time.perf_counter() - began < 5 and not out.exists()


if __name__ == "__main__":
    _inside(Path(sys.argv[1]), sys.argv[2])
