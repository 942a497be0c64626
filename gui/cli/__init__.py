"""The headless command line: `surface`, `train` and `compare`, a thin controller over engine/.

Every failure the user can cause ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys

from engine.errors import UserError

_NEGATIVE = re.compile(r"^-[\d.]")
_VALUE_OPTIONS = {"--start", "--domain", "--set", "--sched-set", "--vary", "--lr"}
_HINTS = {"data_dir": "pass --data-dir DIR, or --download"}  # for the data files not being found


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UserError(f"{self.prog}: {message}")


def _join_negative_values(argv: list[str]) -> list[str]:
    """Let `--start -0.3,-0.6` work like `--start=-0.3,-0.6` (argparse would read it as an option)."""
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        if tok in _VALUE_OPTIONS and i + 1 < len(argv) and _NEGATIVE.match(argv[i + 1]):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
        else:
            out.append(tok)
            i += 1
    return out


def parse_assignments(items: list[str], what: str) -> list[tuple[str, str]]:
    """Return (key, value) pairs from 'key=value' strings, or raise UserError naming the bad one."""
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"{what} {item!r} must look like name=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def flag_for(field: str) -> str:
    """Return the command-line option that sets an engine field: ``batch_size`` -> ``--batch-size``.

    ``optimizer_params.X`` is ``--set X`` (``--lr`` for the rate), ``scheduler_params.X`` is ``--sched-set X``.
    """
    head, _, rest = field.partition(".")
    if head == "optimizer_params" and rest:
        return "--lr" if rest == "lr" else f"--set {rest}"
    if head == "scheduler_params" and rest:
        return f"--sched-set {rest}"
    return "--" + field.replace("_", "-")


def error_line(err: UserError) -> str:
    """Return the one line printed for ``err``: ``error: --flag: message``, plus a hint where one helps."""
    from engine.data.idx import FilesNotFound

    if not err.field:
        return f"error: {err.message}"
    hint = _HINTS.get(err.field) if isinstance(err, FilesNotFound) else None
    return f"error: {flag_for(err.field)}: {err.message}" + (f" ({hint})" if hint else "")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with its three sub-commands."""
    from gui.cli import surface as cli_surface
    from gui.cli import train as cli_train

    parser = _Parser(
        prog="main.py",
        description="Descent Lab: see how optimizers, momentum, learning rates and "
        "schedules train. Without a command, opens the window.",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="{surface,train,compare}")
    cli_surface.add_parser(sub)
    cli_train.add_parsers(sub)
    return parser


def run_cli(argv: list[str]) -> int:
    """Parse ``argv``, run the command and return its exit code (2 for bad input)."""
    try:
        parser = build_parser()
        args = parser.parse_args(_join_negative_values(argv))
        if not args.command:
            parser.print_help()
            return 0
        return int(args.handler(args) or 0)
    except UserError as err:
        print(error_line(err), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        print(f"error: {err.strerror or err}{': ' + str(err.filename) if err.filename else ''}", file=sys.stderr)
        return 1
    except SystemExit as err:  # --help
        return int(err.code or 0)
    except Exception as err:  # noqa: BLE001 — a bug must still not print a traceback at the user
        print(f"error: internal error ({type(err).__name__}: {err}); please report it", file=sys.stderr)
        return 1
