"""``--format png,svg``: the file formats `surface`, `train` and `compare` write each chart in (default png).

Every chart a command writes (surface.png, loss.png, grid.png, …) is written once per listed format, side by
side: ``--format png,svg`` gives surface.png and surface.svg. The value is checked before any work, so a bad
one (``--format jpg``) ends with ``error: --format: …`` and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import UserError
from engine.io import Staged

FORMATS = ("png", "svg")


def add_format_option(parser) -> None:
    """Add ``--format`` to ``parser``; returns nothing."""
    parser.add_argument(
        "--format",
        default="png",
        metavar="png,svg",
        help="chart file formats, comma-separated: png (raster), svg (vector) or both (default png)",
    )


def parse_formats(text: str | None) -> tuple[str, ...]:
    """Return the formats listed in ``text`` ('png', 'svg', 'png,svg'), each once, in the order given.

    Raises UserError (field ``format``, printed ``error: --format: …``) for an empty list or an unknown format.
    """
    names = [t.strip().lower().lstrip(".") for t in str("png" if text is None else text).split(",")]
    if not any(names):
        raise UserError(f"give one or more of {', '.join(FORMATS)}, separated by commas", "format")
    for name in names:
        if name not in FORMATS:
            shown = name or "an empty name"
            raise UserError(f"{shown!r} is not a chart format; use {' or '.join(FORMATS)} (e.g. png,svg)", "format")
    return tuple(dict.fromkeys(names))


def chart_path(out: Staged, name: str, formats: tuple[str, ...]) -> Path:
    """Return the staged path of chart ``name`` (a stem: 'loss') in the first format, every format registered.

    The chart writers (gui.charts.render) write ``path.with_suffix('.' + fmt)`` for each format; registering
    each name with ``out`` is what moves those files into the output folder at the end.
    """
    paths = [out.path(f"{name}.{fmt}") for fmt in formats]
    return paths[0]


def chart_files(names: list[str], formats: tuple[str, ...]) -> str:
    """Return the chart files for a message: 'loss.png, loss.svg, accuracy.png, accuracy.svg'."""
    return ", ".join(f"{n}.{fmt}" for n in names for fmt in formats)
