"""The headless command line: `surface`, `train` and `compare`, a thin controller over engine/.

Every failure the user can cause ends in one line on stderr and a non-zero exit, never a traceback; Ctrl+C
stops the running job cleanly (exit 130, nothing written). Each command can run a saved experiment
(``--experiment FILE``), and writes experiment.json, which the window opens with its charts.

Modules: ``flags`` (how errors name flags; the leaf), ``driver`` (jobs, Ctrl+C, progress bars, experiment
files), ``options`` (the training options `train` and `compare` share), and one module per command.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from engine.errors import UserError
from gui.cli.flags import error_line, flag_for, named, parse_assignments
from gui.cli.startup import bulk_imports

__all__ = ["build_parser", "error_line", "flag_for", "parse_assignments", "run_cli"]

COMMANDS = ("surface", "train", "compare", "runs", "map")
_NEGATIVE = re.compile(r"^-[\d.]")
_VALUE_OPTIONS = {"--start", "--domain", "--set", "--sched-set", "--vary", "--lr"}


_ARGUMENT = re.compile(r"^argument (?P<flag>-[^/:\s]+)(?:/\S+)?: (?P<rest>.*)$", re.S)
_REQUIRED = "the following arguments are required: "
_CHOICE = re.compile(r"^invalid choice: (?P<value>.*) \(choose from (?P<choices>.*)\)$", re.S)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """Raise argparse's ``message`` as a UserError naming its flag, so that it prints as one line
        ``error: --flag: message`` with no usage dump (argparse's own format otherwise); never returns."""
        found = _ARGUMENT.match(message)
        if message.startswith(_REQUIRED):
            flags = message[len(_REQUIRED) :].split(", ")
            words = "this option is required" if len(flags) == 1 else f"these options are required: {', '.join(flags)}"
            raise named(UserError(words), flags[0])
        if found is None:
            raise UserError(f"{self.prog}: {message}")
        rest = found["rest"]
        choice = _CHOICE.match(rest)
        if choice is not None:
            rest = f"{choice['value']} is not one of: {choice['choices'].replace(chr(39), '')}"
        elif rest == "expected one argument":
            rest = "needs a value"
        raise named(UserError(rest), found["flag"])


def one_line(text: str) -> str:
    """Return ``text`` on one line: every line break (``\\n``, ``\\r``, Unicode separators) becomes a space."""
    return " ".join(text.splitlines())


def _join_negative_values(argv: list[str]) -> list[str]:
    """Let `--start -0.3,-0.6` work like `--start=-0.3,-0.6` (argparse would read it as an option)."""
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        formula = tok == "--function" and nxt.startswith("-") and not nxt.startswith("--")  # `--function -x`
        if (tok in _VALUE_OPTIONS and _NEGATIVE.match(nxt)) or formula:
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
        else:
            out.append(tok)
            i += 1
    return out


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    """Return the argument parser with its sub-commands: all three, or only those named in ``commands``.

    Each command's module is imported only when its sub-command is registered, so running `compare`
    never imports `surface` (nor what only `surface` needs).
    """
    parser = _Parser(
        prog="main.py",
        description="Descent Lab: see how optimizers, momentum, learning rates and "
        "schedules train. Without a command, opens the window.",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="{" + ",".join(COMMANDS) + "}")
    for name in COMMANDS if commands is None else [c for c in COMMANDS if c in commands]:
        importlib.import_module(f"gui.cli.{name}").add_parser(sub)
    return parser


def run_cli(argv: list[str]) -> int:
    """Parse ``argv``, run the command and return its exit code (2 for bad input)."""
    try:
        chosen = [argv[0]] if argv and argv[0] in COMMANDS else None
        with bulk_imports():  # the command's modules, torch among them
            parser = build_parser(chosen)
        args = parser.parse_args(_join_negative_values(argv))
        if not args.command:
            parser.print_help()
            return 0
        return int(args.handler(args) or 0)
    except UserError as err:
        print(one_line(error_line(err)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        print(
            one_line(f"error: {err.strerror or err}{': ' + str(err.filename) if err.filename else ''}"), file=sys.stderr
        )
        return 1
    except (MemoryError, RuntimeError) as err:  # out of memory outside a command's own guard
        from gui.cli.driver import is_out_of_memory, out_of_memory_error

        if is_out_of_memory(err):
            print(one_line(error_line(out_of_memory_error(err))), file=sys.stderr)
            return 2
        print(one_line(f"error: internal error ({type(err).__name__}: {err}); please report it"), file=sys.stderr)
        return 1
    except SystemExit as err:  # --help
        return int(err.code or 0)
    except Exception as err:  # noqa: BLE001 — a bug must still not print a traceback at the user
        print(one_line(f"error: internal error ({type(err).__name__}: {err}); please report it"), file=sys.stderr)
        return 1
