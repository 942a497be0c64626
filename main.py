"""Descent Lab: `python main.py` opens the window; `python main.py surface|train|compare|map|runs ...` runs headless."""

from __future__ import annotations

import sys

COMMANDS = ("surface", "train", "compare", "runs", "map")


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


if __name__ == "__main__":
    sys.exit(main())
