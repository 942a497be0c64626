"""Descent Lab: `python main.py` opens the window; `python main.py surface|train|compare|map|runs ...` runs headless."""

from __future__ import annotations

import atexit
import os
import sys

COMMANDS = ("surface", "train", "compare", "runs", "map")
_finished_with: list[int] = []  # a command's exit code, once it has returned one


def main(argv: list[str] | None = None) -> int:
    """Run the command named in ``argv`` (or the GUI when there is none) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from gui.cli import run_cli

        return run_cli(argv)
    if argv:
        print(
            f"error: unknown command '{argv[0]}'; use one of {', '.join(COMMANDS)}, or no argument for the window",
            file=sys.stderr,
        )
        return 2
    from gui.app import run_app

    return run_app()


def main_process() -> int:
    """Run ``main`` as the whole process does: a command that draws charts first starts the chart process (which
    loads Qt while this one loads torch and trains: gui.cli.chart_process); return the exit code."""
    argv = sys.argv[1:]
    if not argv or argv[0] not in COMMANDS:
        return main(argv)
    atexit.register(_end_without_teardown)  # the first registered: it runs after every other exit handler
    from gui.cli import chart_process

    chart_process.prestart(argv)
    try:
        code = main(argv)
    finally:
        chart_process.discard()
    _finished_with.append(code)
    return code


def _end_without_teardown() -> None:
    """At exit, after the other exit handlers (Ray's shutdown, logging's flush, temporary folders), end a command
    that returned its exit code without the interpreter's teardown of torch's modules, object by object (0.1 s
    with them frozen, 0.4 s without: gui.cli.startup); returns only when the command did not finish normally."""
    if not _finished_with:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing more can be written anyway
            pass
    os._exit(_finished_with[-1])


if __name__ == "__main__":
    sys.exit(main_process())
