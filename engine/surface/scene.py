"""Everything the surface view and surface.png draw, computed in one job: grid, bounds and paths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.jobs import Job, Token
from engine.optimizers import optimizer_colour
from engine.surface.functions import Surface
from engine.surface.paths import Path, PathSpec, paths_job


@dataclass
class SurfaceScene:
    """A surface's grid, its drawing bounds and the optimizer paths on it, with a colour per path."""

    surface: Surface
    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray
    bounds: tuple  # ((xmin, xmax), (ymin, ymax)): the domain in 2-D; in 1-D x's domain and f's finite range
    paths: list[Path]
    colours: list[str]

    @property
    def styles(self) -> list[tuple[str, str]]:
        """Return each path's (symbol, dash) from its start index: the starts of one optimizer told apart."""
        return path_styles(self.paths)


# one look per start point, cycling: the colour stays the optimizer's, so the marker and the line tell the starts
# apart. Symbols are pyqtgraph's names, dashes are words ("solid", "dash", "dot", "dashdot") each front end maps.
START_SYMBOLS = ("o", "s", "t", "d", "+", "x")
START_DASHES = ("solid", "dash", "dot", "dashdot")


def start_style(index: int) -> tuple[str, str]:
    """Return the (step-dot symbol, line dash) of start ``index`` (0-based); start 0 is ('o', 'solid')."""
    return START_SYMBOLS[index % len(START_SYMBOLS)], START_DASHES[index % len(START_DASHES)]


def path_styles(paths: list[Path]) -> list[tuple[str, str]]:
    """Return each path's (symbol, dash): the style of its start."""
    return [start_style(p.start_index) for p in paths]


def start_name(label: str, start_index: int, several: bool) -> str:
    """Return a path's name in legends: 'Adam', or 'Adam · start 2' when there are several starts."""
    return f"{label} · start {start_index + 1}" if several else label


def plot_bounds(surface: Surface, z: np.ndarray) -> tuple:
    """Return the drawing bounds: the domain in 2-D; in 1-D the x domain and the finite range of f on the grid."""
    if surface.dims == 2:
        return tuple(surface.domain)
    finite = z[np.isfinite(z)]
    return (surface.domain[0], (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0))


def path_colours(paths: list[Path]) -> list[str]:
    """Return each path's colour: its optimizer's registry colour, the same in the window and every export."""
    return [optimizer_colour(p.optimizer) for p in paths]


def scene_job(
    surface: Surface,
    specs: list[PathSpec],
    starts: list[tuple[float, ...]],
    steps: int,
    scheduler: str = "none",
    scheduler_params: dict | None = None,
    grid: int | None = None,
    token: Token | None = None,
) -> Job[SurfaceScene | None]:
    """Compute the grid and the paths as one job; yields path progress; returns the scene, or None if stopped."""
    n = grid or (300 if surface.dims == 2 else 800)
    xs, ys, z = surface.grid(n)
    paths = yield from paths_job(surface, specs, starts, steps, scheduler, scheduler_params, token)
    if paths is None:
        return None
    return SurfaceScene(surface, xs, ys, z, plot_bounds(surface, z), paths, path_colours(paths))
