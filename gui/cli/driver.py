"""Running engine jobs from the command line: a Token, a plain ``for`` loop, Ctrl+C and a progress bar.

The command line consumes the same generators as the window (engine/training/jobs.py, engine/surface/paths.py).
The first Ctrl+C stops the job's token, so the job ends cleanly at its next checkpoint and the command exits
130 having written nothing; a second Ctrl+C interrupts at once. Progress bars (tqdm) go to stderr, only on a
terminal and only for work that takes longer than about a second.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from engine.errors import UserError
from engine.experiment import Experiment, ExperimentError, load_experiment, save_experiment
from engine.io import Staged
from engine.jobs import Job, Token
from gui.cli.flags import named

EXPERIMENT_FILE = "experiment.json"


@contextmanager
def stop_on_interrupt(token: Token) -> Iterator[None]:
    """Return a context in which the first Ctrl+C stops ``token`` and a second raises KeyboardInterrupt.

    The previous SIGINT handler is back when the block ends. Outside the main thread it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield
        return

    def handler(signum, frame) -> None:
        """Stop the token (a second Ctrl+C, while the job winds down, interrupts at once); returns nothing."""
        if token.stopped:
            raise KeyboardInterrupt
        token.stop()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def drive(job: Job, token: Token, on_snapshot: Callable[[Any], None] | None = None) -> Any:
    """Run ``job`` (which obeys ``token``) to its end and return its result.

    Each snapshot goes to ``on_snapshot``. Raises KeyboardInterrupt when the token was stopped (Ctrl+C), so
    that nothing is written from a stopped job.
    """
    result = []

    def keep_result() -> Job:
        """Yield the job's snapshots and keep its return value; returns nothing."""
        result.append((yield from job))

    with stop_on_interrupt(token):
        for snapshot in keep_result():
            if on_snapshot is not None:
                on_snapshot(snapshot)
    if token.stopped:
        raise KeyboardInterrupt
    return result[0]


def progress(total: int, desc: str, unit: str) -> tqdm:
    """Return a progress bar on stderr, shown on a terminal once the work has taken more than a second."""
    return tqdm(total=total, desc=desc, unit=unit, delay=1.0, file=sys.stderr, disable=None, dynamic_ncols=True)


def add_experiment_option(parser) -> None:
    """Add ``--experiment FILE`` to a sub-command's parser; returns nothing."""
    parser.add_argument(
        "--experiment",
        default=None,
        metavar="FILE",
        help="run a saved experiment (the window's File > Save); options given here override its settings",
    )


def load_file(args) -> Experiment | None:
    """Return the experiment named by ``--experiment`` (None without it); raise UserError naming the field."""
    path = getattr(args, "experiment", None)
    if path is None:
        return None
    try:
        return load_experiment(Path(path))
    except ExperimentError as err:
        raise named(UserError(err.message), f"--experiment {path}" + (f": {err.field}" if err.field else "")) from None


def write_experiment(out: Staged, loaded: Experiment | None, tab: int, section: str, settings, result) -> None:
    """Write experiment.json into ``out``: the file's experiment (or a new one) with this run's settings and result.

    ``section`` is ``surface``, ``training`` or ``comparison``; the file's other sections and results are kept.
    Returns nothing.
    """
    exp = loaded if loaded is not None else Experiment()
    setattr(exp, section, settings)
    setattr(exp.results, section, result)
    exp.tab = tab
    save_experiment(exp, out.path(EXPERIMENT_FILE))
