"""Charts drawn by a second process, so that loading Qt and pyqtgraph overlaps loading torch and training.

A whole `main.py compare` or `main.py train` process starts the chart process first thing (``prestart``, from
main.py), before it imports torch. That process imports PySide6, pyqtgraph and gui.charts, creates its offscreen
QApplication and waits. When the results are in, ``draw`` sends it the chart calls (``gui.charts.render``
functions by name, with their arguments: series of plain numbers, titles, the staged file paths) and returns at
once; the parent writes its CSV and JSON files meanwhile, then ``Drawing.wait`` returns what the calls returned,
or raises the error a call raised (an OSError naming the file, a UserError), exactly as drawing here would.
The parent thus never loads Qt, nor tears it down at exit (0.15-0.25 s with pyqtgraph's clean-up).

The charts are the same code with the same arguments, so the files are byte for byte the ones drawn in
process. Without a chart process (a command run from Python, as the tests do, or one that could not start or
has died) the calls run here, in order, when ``wait`` is called. The chart process runs in its own process
group, so Ctrl+C reaches only the parent, which ends it; it also ends when the parent's pipe closes.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from gui.cli.startup import bulk_imports

ROOT = str(Path(__file__).resolve().parents[2])
CHART_COMMANDS = ("compare", "train")  # the commands whose charts a chart process draws
# How long a chart process may take to answer before it counts as hung (killed; the charts are drawn here):
# far above the ~0.3 s that compare's three charts take, so only a process that truly hangs reaches it.
ANSWER_S = 120.0
ANSWER_S_PER_CALL = 10.0
_HEADER = struct.Struct("<Q")
_BOOT = f"import sys; sys.path.insert(0, {ROOT!r}); from gui.cli.chart_process import serve; serve()"

Call = tuple[str, tuple, dict]  # (name of a gui.charts.render function, args, kwargs)


def _write(stream: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream: BinaryIO) -> Any:
    """Return the next message on ``stream``; raise EOFError when the other side has closed it."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    data = stream.read(_HEADER.unpack(header)[0])
    if len(data) < _HEADER.unpack(header)[0]:
        raise EOFError
    return pickle.loads(data)


class ChartProcess:
    """A started chart process: ``send`` the chart calls, then ``receive`` what they returned."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    @classmethod
    def start(cls) -> ChartProcess | None:
        """Return a new chart process, or None when none can be started."""
        if not sys.executable:  # an embedded interpreter: no Python to start
            return None
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
            )
        except OSError:
            return None
        return cls(proc)

    def send(self, calls: list[Call]) -> bool:
        """Send ``calls`` to be drawn; return False when the process is gone or the calls cannot be sent."""
        try:
            _write(self.proc.stdin, calls)
        except Exception:  # noqa: BLE001 — a broken pipe (the process died), or calls that do not pickle
            return False
        return True

    def receive(self, timeout: float) -> tuple[bool, Any]:
        """Return (True, the calls' results) or (True, the exception one raised), or (False, None) when the
        process died, or had not answered within ``timeout`` seconds (hung: the caller kills it)."""
        try:
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            if not ready:
                return False, None
            status, value = _read(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            return False, None
        return True, value if status == "ok" else _as_exception(value)

    def close(self, kill: bool = False) -> None:
        """End the process: it exits when its input closes; ``kill`` (or not exiting soon) kills it. Returns
        nothing."""
        if kill and self.proc.poll() is None:
            self.proc.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _as_exception(value: Any) -> BaseException:
    return value if isinstance(value, BaseException) else RuntimeError(str(value))


_early: ChartProcess | None = None


def prestart(argv: list[str]) -> None:
    """Start the chart process when ``argv`` is a command that draws charts (not its --help); returns nothing.

    Called by main.py before anything heavy is imported; ``take`` hands the process to the command.
    """
    global _early
    if argv and argv[0] in CHART_COMMANDS and not {"-h", "--help"} & set(argv) and _early is None:
        _early = ChartProcess.start()


def take() -> ChartProcess | None:
    """Return the chart process started by ``prestart`` (once; None when there is none)."""
    global _early
    process, _early = _early, None
    return process


def discard() -> None:
    """End a chart process that was started but never taken (the command failed first); returns nothing."""
    process = take()
    if process is not None:
        process.close(kill=True)  # at once: it may still be loading Qt, for nothing


class Drawing:
    """Charts being drawn: ``wait`` returns the calls' results or raises the error of the first that failed."""

    def __init__(self, calls: list[Call], process: ChartProcess | None):
        self.calls = calls
        self.process = process if process is not None and process.send(calls) else None
        if process is not None and self.process is None:
            process.close()

    def wait(self) -> list:
        """Return what each call returned (drawing here when there is no chart process, or it died)."""
        if self.process is not None:
            answered, value = self.process.receive(ANSWER_S + ANSWER_S_PER_CALL * len(self.calls))
            self.close(kill=not answered)  # a process that did not answer must write nothing more
            if answered:
                if isinstance(value, BaseException):
                    raise value
                return value
        return run_calls(self.calls)

    def close(self, kill: bool = False) -> None:
        """End the chart process (``kill``: at once, drawing or not), so that it writes nothing after this;
        returns nothing."""
        if self.process is not None:
            self.process.close(kill)
            self.process = None


@contextmanager
def draw(calls: list[Call]) -> Iterator[Drawing]:
    """Return a context in which ``calls`` are being drawn by the prestarted chart process, if any; the block
    calls ``wait`` for the results. Leaving it ends the chart process (also when the block fails)."""
    drawing = Drawing(calls, take())
    try:
        yield drawing
    except BaseException:
        drawing.close(kill=True)  # before the staged folder is removed: it writes nothing there any more
        raise
    drawing.close()


def run_calls(calls: list[Call]) -> list:
    """Run ``calls`` (gui.charts.render functions by name) in this process; return their results."""
    with bulk_imports():
        from gui.charts import render
        from gui.charts.export import png_writes_in_background

        render.ensure_app()
    with png_writes_in_background():  # each PNG encoded and written while the next chart is drawn
        return [getattr(render, name)(*args, **kwargs) for name, args, kwargs in calls]


def serve() -> None:
    """The chart process: import the charts, then draw each list of calls read from stdin, answering on stdout,
    until stdin closes; returns nothing (the process then exits at once)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the answers
    requests = sys.stdin.buffer
    failed: BaseException | None = None
    try:
        with bulk_imports():
            import gui.charts.curves  # noqa: F401  (what the charts draw with, loaded before the data comes)
            import gui.charts.export  # noqa: F401
            import gui.charts.images  # noqa: F401
            from gui.charts import render

            render.ensure_app()
        _warm_up(render)
    except BaseException as err:  # noqa: BLE001 — reported with the first request, as drawing here would
        failed = err
    while True:
        try:
            calls = _read(requests)
        except EOFError:
            break
        try:
            if failed is not None:
                raise failed
            reply = ("ok", run_calls(calls))
        except BaseException as err:  # noqa: BLE001 — every failure goes back to the parent
            reply = ("error", _picklable(err))
        try:
            _write(answers, reply)
        except OSError:  # the parent is gone
            break
    try:
        answers.close()
    except OSError:
        pass
    sys.stderr.flush()
    os._exit(0)  # skip tearing Qt down: nobody waits for it


def _warm_up(render) -> None:
    """Draw one small chart to a temporary file while the parent is still busy: the first real chart then finds
    Qt's fonts and caches ready (0.05-0.1 s sooner). Returns nothing; a failure here is left to the real charts."""
    import tempfile

    import numpy as np

    series = [{"name": "warm-up", "x": np.arange(3), "y": np.arange(3.0), "colour": "#1f77b4", "band": None}]
    try:
        with tempfile.TemporaryDirectory() as folder:
            render.render_lines(series, Path(folder) / "warm-up.png", "warm-up", "loss")
    except Exception:  # noqa: BLE001
        pass


def _picklable(err: BaseException) -> BaseException:
    """Return ``err``, or a RuntimeError with its type and message when it does not survive pickling."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err
