"""Start-up imports: a job imports only what it needs (no torch._dynamo, no Qt before a chart, no other command).

Each check runs in a fresh interpreter, because this test session has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WATCHED = ("torch._dynamo", "numba", "PySide6", "pyqtgraph", "gui.cli.surface", "gui.cli.train", "gui.cli.compare")


def loaded_after(code: str) -> dict[str, bool]:
    """Return which WATCHED modules are loaded after running ``code`` in a fresh interpreter in the repo root."""
    probe = f"{code}\nimport json, sys\nprint('@@' + json.dumps({{m: m in sys.modules for m in {WATCHED!r}}}))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("@@")][-1]
    return json.loads(line[2:])


def test_help_and_parsing_import_no_qt():
    loaded = loaded_after(
        "import contextlib, io\n"
        "from main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "    assert main(['compare', '--help']) == 0\n"
        "    assert main(['compare', '--vary']) == 2\n"  # parsed, refused before any work
    )
    assert not loaded["PySide6"] and not loaded["pyqtgraph"]
    assert not loaded["torch._dynamo"]


def test_compare_imports_only_its_own_command():
    loaded = loaded_after(
        "import contextlib, io\n"
        "from gui.cli import run_cli\n"
        "with contextlib.redirect_stderr(io.StringIO()):\n"
        "    assert run_cli(['compare', '--epochs', '0']) == 2\n"
    )
    assert loaded["gui.cli.compare"]
    assert not loaded["gui.cli.surface"] and not loaded["gui.cli.train"]
    assert not loaded["PySide6"]


def test_sgd_training_and_comparison_jobs_do_not_import_dynamo():
    """The fused SGD-family path steps with VectorSGD: no torch.optim optimizer is built, so no torch._dynamo."""
    loaded = loaded_after(
        "from dataclasses import replace\n"
        "from engine.jobs import Token, run_job\n"
        "from engine.training.compare import Comparison\n"
        "from engine.training.config import TrainConfig\n"
        "from engine.training.jobs import comparison_job, prepare_job, train_job\n"
        "base = replace(TrainConfig(), points=20, epochs=3, optimizer_params={'lr': 0.1}, scheduler='onecycle')\n"
        "results = run_job(comparison_job(Comparison(base, [('momentum', ['0', '0.5'])]), Token()))\n"
        "assert len(results) == 2 and results[0].path.startswith('fused'), results[0].path\n"
        "trainer = run_job(prepare_job(replace(base, optimizer='nesterov'), Token()))\n"
        "assert run_job(train_job(trainer, Token())) == 'finished'\n"
    )
    assert not loaded["torch._dynamo"]
    assert not loaded["PySide6"]
    assert not loaded["numba"]  # only surface paths use it, and load it on their first run


def test_the_check_sees_dynamo_when_torch_optim_is_built():
    """The probe itself works: a real torch.optim optimizer (the autograd path) does import torch._dynamo."""
    loaded = loaded_after("import torch\ntorch.optim.Adam([torch.zeros(1, requires_grad=True)])\n")
    assert loaded["torch._dynamo"]
