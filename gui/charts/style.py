"""Colours and pyqtgraph settings shared by every chart, on screen and in exported files."""

from __future__ import annotations

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#00a6a6",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#17becf",
    "#000000",
]
START_COLOUR = "#e41a1c"  # the seeds' red start star
DOT_COLOUR = "#ffd92f"  # the seeds' yellow step dots
END_COLOUR = "#1f4fe0"  # the seeds' blue end star
CLASS_COLOURS = [
    "#e41a1c",
    "#4daf4a",
    "#377eb8",
    "#984ea3",
    "#ff7f00",
    "#a6761d",
    "#f781bf",
    "#999999",
    "#66c2a5",
    "#8da0cb",
]
CONTOUR_MAP = "viridis"

_configured = False


def configure() -> None:
    """Apply the app-wide pyqtgraph options once (white background, antialiasing, row-major images)."""
    global _configured
    if not _configured:
        import pyqtgraph as pg  # here, so that the colours alone load no Qt (the command line picks them early)

        pg.setConfigOptions(background="w", foreground="#222222", antialias=True, imageAxisOrder="row-major")
        _configured = True


def colour(i: int) -> str:
    """Return the i-th series colour (cycling)."""
    return PALETTE[i % len(PALETTE)]
