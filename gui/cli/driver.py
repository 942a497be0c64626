"""Running engine jobs from the command line: a Token, a plain ``for`` loop, Ctrl+C and a progress bar.

The command line consumes the same generators as the window (engine/training/jobs.py, engine/surface/paths.py).
The first Ctrl+C stops the job's token, so the job ends cleanly at its next checkpoint and the command exits
130 having written nothing; a second Ctrl+C interrupts at once. Progress bars (tqdm) go to stderr, only on a
terminal and only for work that takes longer than about a second.

Before any work, ``check_outputs`` checks every path the user asked to be written (``--out``,
``--save-weights``), and ``check_estimate`` refuses a run that would not fit in memory (or warns, one line,
that it will be slow: engine/training/estimate.py); ``memory_guard`` turns running out of memory anyway
into the same kind of one-line error.
"""

from __future__ import annotations

import re
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
from engine.io import Staged, check_output_file, check_output_folder
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
    if not path.strip():
        raise named(UserError("the file name is empty"), "--experiment")
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


def check_outputs(args, files: tuple[str, ...] = ()) -> None:
    """Check ``--out`` and the file options named in ``files`` (``save_weights``) before any work; create nothing.

    Raises UserError naming the flag and the path: an empty name, ``--out`` that is a file, a folder that
    cannot be created or written. Returns nothing.
    """
    try:
        check_output_folder(args.out, None)
    except UserError as err:
        raise named(err, "--out") from None
    for name in files:
        value = getattr(args, name, None)
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if str(value).strip() and Path(value).absolute() == Path(args.out).absolute():
            message = f"{value} is the output folder (--out): name a file, e.g. {Path(value) / 'weights.json'}"
            raise named(UserError(message), flag)
        try:
            check_output_file(value, None)
        except UserError as err:
            raise named(err, flag) from None


def check_estimate(estimate) -> None:
    """Raise the estimate's UserError when it refuses the run, else print one warning line on stderr when it is
    slow; returns nothing."""
    estimate.check()
    warning = estimate.warning()
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


OUT_OF_MEMORY = ("out of memory", "can't allocate memory", "cannot allocate memory", "not enough memory")


def is_out_of_memory(err: BaseException) -> bool:
    """Return whether ``err`` is running out of memory (MemoryError, torch's OutOfMemoryError or allocator error)."""
    if isinstance(err, MemoryError):
        return True
    return isinstance(err, RuntimeError) and any(words in str(err).lower() for words in OUT_OF_MEMORY)


def _allocation(err: BaseException) -> str:
    """Return the size torch failed to allocate, in words ('could not allocate 40 GB'), or '' when unsaid."""
    from engine.training.estimate import format_bytes

    found = re.search(r"allocate (?:memory: you tried to allocate )?(\d+) bytes", str(err))
    if found:
        return f"could not allocate {format_bytes(int(found.group(1)))}"
    found = re.search(r"allocate ([\d.]+ [KMGT]iB)", str(err))
    return f"could not allocate {found.group(1)}" if found else ""


def out_of_memory_error(err: BaseException, estimate=None) -> UserError:
    """Return the UserError for running out of memory (``err``), with the estimate when there is one."""
    detail = _allocation(err)
    if estimate is not None:
        return estimate.out_of_memory(detail)
    detail = f" ({detail})" if detail else ""
    return UserError(f"ran out of memory{detail}; try a smaller network or batch")


@contextmanager
def memory_guard(estimate=None) -> Iterator[None]:
    """Return a context in which running out of memory raises a UserError with the estimate, not a traceback."""
    try:
        yield
    except (MemoryError, RuntimeError) as err:
        if not is_out_of_memory(err):
            raise
        raise out_of_memory_error(err, estimate) from None
