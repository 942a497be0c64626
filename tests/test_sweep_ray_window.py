"""The window's "Run on: Ray cluster at" (blank: a local Ray) keeps the app alive after the sweep ends.

A user trial found that the app died about 60 s after such a sweep: "Failed to connect to GCS within 60
seconds … The program will terminate." Ray starts a local head's processes (GCS, raylet) with Linux's
PR_SET_PDEATHSIG, which fires when the *thread* that started them ends: started from the sweep's worker thread,
they were killed as soon as that job ended, and Ray's client in the process aborted it once its GCS reconnect
timeout ran out. The test lowers that timeout to 2 s (``RAY_gcs_rpc_server_reconnect_timeout_s``), so the old
failure shows within seconds, then checks that the head outlives the job, the process lives past the failure
window, a second sweep reuses the same Ray, and the app's exit path shuts Ray down.

Like tests/test_sweep_ray.py, the window runs in a network namespace with loopback only and a PID namespace
(every Ray process ends with it); run as a script (``python tests/test_sweep_ray_window.py OUT``) this file is
that process.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECONNECT_S = 2  # Ray's GCS reconnect timeout in the test (60 s by default)
OUTLIVE_S = 2 * RECONNECT_S + 1  # the old failure came within ~1.5 reconnect timeouts of the job's end
PORT = 6394


def _ray_heads() -> list[str]:
    """Return the names of the Ray head processes (gcs_server, raylet) alive in this PID namespace."""
    names = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                exe = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0]
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            name = os.path.basename(exe).decode()
            if name in ("gcs_server", "raylet") and state != "Z":
                names.append(name)
    return sorted(names)


def _inside(out: Path) -> None:
    """Run two Ray comparisons from the window, with a wait past the failure window between them."""
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(1)
    from PySide6 import QtCore, QtWidgets

    from gui.app import end_session
    from gui.views.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    window = MainWindow(QtCore.QSettings(str(out / "settings.ini"), QtCore.QSettings.Format.IniFormat))
    window.show()
    c = window.compare
    c.base_form.points.setValue(60)
    c.base_form.epochs.setValue(3)
    c.field1.setCurrentText("lr")
    c.values1.setText("0.1,0.03")
    c.seeds.setText("1,2")
    c.run_on.where.setCurrentIndex(1)  # Ray cluster at … with the address blank: start a local Ray
    report: dict = {"choice": list(c.run_on.choice())}

    def run() -> dict:
        ended: list[str] = []
        loop = QtCore.QEventLoop()
        c.finished.connect(lambda status: (ended.append(status), loop.quit()))
        QtCore.QTimer.singleShot(180_000, loop.quit)
        began = time.perf_counter()
        c.start()
        loop.exec()
        c.finished.disconnect()
        for handle in list(window.runner.jobs):
            handle.thread.join(5)
        time.sleep(0.5)  # a head killed with its starting thread takes a moment to go
        return {
            "status": ended,
            "seconds": time.perf_counter() - began,
            "progress": c.progress.text(),
            "losses": sorted(r.history[-1].train_loss for r in c.results),
            "jobs_alive": sum(h.thread.is_alive() for h in window.runner.jobs),
            "heads_after_job": _ray_heads(),
        }

    report["first"] = run()
    deadline = time.monotonic() + OUTLIVE_S
    while time.monotonic() < deadline:  # the event loop runs on, as in the app
        app.processEvents()
        time.sleep(0.05)
    report["heads_after_wait"] = _ray_heads()
    (out / "report.json").write_text(json.dumps(report))  # the first half, should the second sweep fail
    report["second"] = run()
    (out / "report.json").write_text(json.dumps(report))
    import ray

    report["initialised_before_exit"] = ray.is_initialized()
    began = time.perf_counter()
    report["exit_clean"] = end_session(window)  # the app's exit path: jobs, then this session's Ray
    report["exit_seconds"] = time.perf_counter() - began
    report["initialised_after_exit"] = ray.is_initialized()
    time.sleep(1.0)
    report["heads_after_exit"] = _ray_heads()
    # a joined cluster is left when its sweep ends: stopping it afterwards must not take the window down
    ray_cli = str(Path(sys.executable).with_name("ray"))
    start = [ray_cli, "start", "--head", f"--port={PORT}", "--num-cpus=2", "--include-dashboard=false"]
    start += ["--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    began = time.perf_counter()
    subprocess.run(start, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report["start_seconds"] = time.perf_counter() - began
    time.sleep(3)  # an immediate connect after `ray start` returns failed once on these machines
    c.run_on.address.setText(f"127.0.0.1:{PORT}")
    report["joined"] = run()
    report["joined"]["initialised_after_job"] = ray.is_initialized()
    began = time.perf_counter()
    subprocess.run([ray_cli, "stop", "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report["joined"]["stop_seconds"] = time.perf_counter() - began
    report["joined"]["heads_after_stop"] = _ray_heads()
    time.sleep(OUTLIVE_S)
    window.close()
    (out / "report.json").write_text(json.dumps(report))


def _namespace_ok() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-n", "-p", "-f", "--mount-proc", "true"], capture_output=True)
    return None if probe.returncode == 0 else f"unshare is not permitted here ({probe.stderr.decode().strip()})"


@pytest.mark.slow
@pytest.mark.ray
def test_a_local_ray_started_by_the_window_outlives_its_sweep(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")
    reason = _namespace_ok()
    if reason:
        pytest.skip(reason)
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short (socket paths), and apart from other Ray sessions
    # bash stays the namespace's first process, and reaps the Ray processes that `ray stop` kills (exec would
    # leave them to python, as zombies that `ray stop` waits on for ~20 s)
    cmd = f"ip link set lo up; {sys.executable} {Path(__file__)} {tmp_path}; exit $?"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "OMP_NUM_THREADS": "1",
        "DESCENT_LAB_STORE": str(tmp_path / "store.sqlite"),
        "RAY_TMPDIR": temp,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",  # a loopback-only cluster of the test's own: no token to share
        "RAY_gcs_rpc_server_reconnect_timeout_s": str(RECONNECT_S),
    }
    try:
        done = subprocess.run(
            ["unshare", "-n", "-p", "-f", "--mount-proc", "bash", "-c", cmd],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=400,
            env=env,
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)  # every Ray process ended with the namespace
    report_file = tmp_path / "report.json"
    assert report_file.exists(), done.stderr[-3000:]
    report = json.loads(report_file.read_text())
    assert report["choice"] == ["ray", None]
    first = report["first"]
    assert first["status"] == ["finished"] and first["progress"] == "4 of 4 runs done · 0 running"
    assert first["jobs_alive"] == 0  # the worker thread that started Ray has ended ...
    assert first["heads_after_job"] == ["gcs_server", "raylet"]  # ... and the local Ray lives on
    assert report["heads_after_wait"] == ["gcs_server", "raylet"]
    # the process lived to the end (the report is written at each stage) ...
    assert done.returncode == 0 and "joined" in report, f"the window's process died: {done.stderr[-3000:]}"
    assert "Failed to connect to GCS" not in done.stderr
    # ... and ran a second sweep on the same Ray, with the same numbers
    second = report["second"]
    assert second["status"] == ["finished"] and second["losses"] == first["losses"]
    assert len(first["losses"]) == 4
    assert second["heads_after_job"] == ["gcs_server", "raylet"]
    # the app's exit path ends this session's Ray: no head process is left
    assert report["initialised_before_exit"] and report["exit_clean"]
    assert not report["initialised_after_exit"] and report["heads_after_exit"] == []
    # a joined cluster: same numbers, left at the sweep's end, then stopped under the window without harm
    joined = report["joined"]
    assert joined["status"] == ["finished"] and joined["losses"] == first["losses"]
    assert not joined["initialised_after_job"] and joined["heads_after_stop"] == []
    from engine.sweep.store import RunStore

    with RunStore(tmp_path / "store.sqlite") as store:
        assert [(s.status, s.stored, s.backend) for s in store.sweeps()] == [("finished", 4, "ray")] * 3


if __name__ == "__main__":
    _inside(Path(sys.argv[1]))
