"""The loss landscape as a job: a plane, its loss grid, the projected path with its honesty figures, the 1-D line.

``landscape_job`` yields LandscapeProgress after every chunk of networks and returns a Landscape (None when
its token stopped it). Honesty: for every path point the distance off the plane (relative to its distance
from the centre) and the loss at the real weights next to the loss at the projected point, both on the same
training rows as the grid, so that a user sees whether the contour under the path can be trusted.
The 1-D view is the loss along the straight line from the first to the last path point (Goodfellow et al.,
"Qualitatively characterizing neural network optimization problems", 2015).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine.errors import UserError
from engine.training.landscape import (
    PLANES,
    Projection,
    check_grid,
    grid_axes,
    layout,
    pca_plane,
    project,
    random_plane,
    three_point_plane,
)
from engine.training.landscape_eval import LossModel, plane_job, points_job

LINE_T = np.linspace(-0.25, 1.25, 61)  # the 1-D view's positions: 0 the start, 1 the current weights
PLANE_NAMES = {"random": "random filter-normalised", "pca": "PCA", "three": "three-point"}
RANDOM_SPAN = 1.0  # the random plane's default span: ±1 filter-normalised direction, as in the paper


@dataclass
class LandscapeProgress:
    """Where a landscape job stands: ``stage`` ("grid", "path" or "line"), networks done of the total."""

    stage: str
    done: int
    total: int


@dataclass
class Landscape:
    """A loss slice and the path on it; ``loss[i, j]`` is the loss at center + alphas[j]·d0 + betas[i]·d1."""

    plane: str
    sizes: tuple
    center: np.ndarray
    directions: tuple
    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    epochs: list
    projection: Projection
    path_loss: np.ndarray  # at the real weights of each path point
    projected_loss: np.ndarray  # at each point's projection onto the plane
    line_t: np.ndarray
    line_loss: np.ndarray
    rows: np.ndarray
    n_train: int
    center_epoch: int
    plane_epochs: list  # the path epochs the plane was made from (three-point plane), else []
    explained: tuple | None  # the PCA plane's share of the path's squared distance, per direction
    seconds: float

    def fidelity(self) -> dict:
        """Return how far the picture can be trusted: the largest and median off-plane ratio of the path points
        (0: on the plane, 1: entirely off it) and the largest |loss at the real weights − loss at the projection|."""
        ratio = self.projection.ratio[self.projection.distance > 0]  # the centre itself is on the plane by definition
        gap = np.abs(self.path_loss - self.projected_loss)
        finite = gap[np.isfinite(gap)]
        return {
            "max_ratio": float(np.max(ratio)) if ratio.size else 0.0,
            "median_ratio": float(np.median(ratio)) if ratio.size else 0.0,
            "max_loss_gap": float(finite.max()) if finite.size else float("nan"),
        }

    def colour_cap(self) -> float:
        """Return the loss above which the map's colours stop changing: 3 × the highest loss along the path (real
        or projected), so that the region the path crosses gets the colour levels; the grid's maximum if lower."""
        grid = self.loss[np.isfinite(self.loss)]
        path = np.concatenate([self.path_loss, self.projected_loss])
        path = path[np.isfinite(path)]
        top = float(grid.max()) if grid.size else 1.0
        return min(top, 3 * float(path.max())) if path.size and path.max() > 0 else top

    def summary(self) -> str:
        """Return one line a teacher can read: the plane, and how faithful the path drawn on it is."""
        f = self.fidelity()
        verdict = (
            "the path lies in the plane"
            if f["max_ratio"] < 0.05
            else "the path lies mostly off the plane: its dots show projections, not where the weights are"
            if f["median_ratio"] > 0.5
            else "the path lies partly off the plane"
        )
        return (
            f"{PLANE_NAMES[self.plane]} plane: off-plane ratio median {f['median_ratio']:.2f}, max "
            f"{f['max_ratio']:.2f}; real vs projected loss differ by up to {f['max_loss_gap']:.3g} ({verdict})"
        )

    def to_json(self) -> dict:
        """Return the landscape.json document (NaN becomes null when written with engine.io.write_json)."""
        p = self.projection
        return {
            "plane": self.plane,
            "center_epoch": self.center_epoch,
            "plane_epochs": self.plane_epochs,
            "explained": list(self.explained) if self.explained else None,
            "center": self.center.tolist(),
            "directions": [d.tolist() for d in self.directions],
            "alphas": self.alphas.tolist(),
            "betas": self.betas.tolist(),
            "loss": self.loss.tolist(),
            "layout": [{"layer": q["layer"], "name": q["name"], "shape": q["shape"]} for q in layout(self.sizes)],
            "trajectory": [
                {
                    "epoch": int(e),
                    "alpha": float(p.coords[k, 0]),
                    "beta": float(p.coords[k, 1]),
                    "off_plane": float(p.off_plane[k]),
                    "distance": float(p.distance[k]),
                    "off_plane_ratio": float(p.ratio[k]),
                    "loss": float(self.path_loss[k]),
                    "projected_loss": float(self.projected_loss[k]),
                }
                for k, e in enumerate(self.epochs)
            ],
            "samples": {
                "rows": self.rows.tolist(),
                "count": int(len(self.rows)),
                "of": int(self.n_train),
                "loss": "training data loss without penalties",
            },
            "line": {
                "from_epoch": int(self.epochs[0]),
                "to_epoch": int(self.epochs[-1]),
                "t": self.line_t.tolist(),
                "loss": self.line_loss.tolist(),
            },
            "fidelity": self.fidelity(),
            "seconds": self.seconds,
        }


def three_picks(epochs: list, first: int = 0, second: int | None = None) -> tuple[int, int, int]:
    """Return the path indices of the three-point plane: the recorded epochs nearest ``first`` and ``second``
    (None: the middle of the path), then the newest. Raise UserError naming ``landscape_three`` when two of the
    three fall on one recorded epoch (a path records every epoch, or every 2nd, 4th … of a long run)."""
    last = len(epochs) - 1

    def near(epoch: int) -> int:  # never the newest point: that one is the third
        return min(range(max(1, last)), key=lambda k: (abs(epochs[k] - epoch), k))

    picks = (near(first), len(epochs) // 2 if second is None else near(second), last)
    if len(set(picks)) < 3:
        shown = ", ".join(str(epochs[k]) for k in picks)
        raise UserError(
            f"the plane through three points needs three different recorded epochs, not {shown}", "landscape_three"
        )
    return picks


def _plane(plane: str, epochs, path: np.ndarray, sizes, seed: int, three):
    """Return (center, d0, d1, center epoch, plane epochs, explained) for the chosen plane."""
    if plane == "random":
        d0, d1 = random_plane(path[-1], sizes, seed)
        return path[-1], d0, d1, epochs[-1], [], None
    if plane == "pca":
        d0, d1, explained = pca_plane(path, path[-1], sizes, seed)
        return path[-1], d0, d1, epochs[-1], [], explained
    picks = three if three is not None else (0, len(path) // 2, len(path) - 1)
    if len(set(picks)) < 3:
        raise UserError(
            f"the plane through three points needs three different epochs; the path has {len(path)}",
            "landscape_plane",
        )
    center, d0, d1 = three_point_plane(*(path[i] for i in picks))
    return center, d0, d1, epochs[picks[0]], [int(epochs[i]) for i in picks], None


def landscape_job(
    model: LossModel,
    epochs: list,
    path: np.ndarray,
    plane: str = "random",
    grid: int = 31,
    span: float | None = None,
    token=None,
    seed: int = 0,
    three: tuple | None = None,
    n_train: int | None = None,
    three_epochs: tuple | None = None,
):
    """A job: the loss landscape around a path (T, P) of flat weights recorded after ``epochs``.

    Planes: "random" and "pca" through the last finite path point, "three" through the path points at the
    indices ``three`` (default: first, middle, last) or, given ``three_epochs`` = (first, second or None),
    through the recorded epochs nearest those two and the last (see three_picks). ``span`` None: ±1 for the
    random plane, else 1.25 × the farthest projected path point. Yields LandscapeProgress after every chunk of
    networks; returns a Landscape, or None when ``token`` stopped it. Raises UserError naming ``landscape_plane``,
    ``landscape_three``,
    ``landscape_grid`` or ``landscape_span`` for a plane or grid that cannot be made.
    """
    started = time.perf_counter()
    grid, span = check_grid(grid, span)
    if plane not in PLANES:
        raise UserError(f"unknown plane '{plane}'; choose from {', '.join(PLANES)}", "landscape_plane")
    path = np.atleast_2d(np.asarray(path, dtype=np.float64))
    finite = np.isfinite(path).all(axis=1)
    if not finite.any():
        raise UserError("no recorded weights are finite (the run diverged at once)", "landscape")
    path, epochs = path[finite], [e for e, ok in zip(epochs, finite) if ok]  # a diverged run: its finite part
    if plane == "three" and three_epochs is not None:
        three = three_picks(epochs, *three_epochs)
    center, d0, d1, center_epoch, plane_epochs, explained = _plane(plane, epochs, path, model.sizes, seed, three)
    proj = project(path, center, d0, d1)
    if span is None and plane == "random":
        span = RANDOM_SPAN
    alphas, betas = grid_axes(grid, span, proj.coords)
    n_grid = grid * grid
    t = len(path)
    line = len(path) > 1
    total = n_grid + 2 * t + (len(LINE_T) if line else 0)
    a_all, b_all = np.tile(alphas, len(betas)), np.repeat(betas, len(alphas))  # row-major: row i is betas[i]
    loss = yield from stage(plane_job(model, center, d0, d1, a_all, b_all, token), "grid", 0, total)
    if loss is None:
        return None
    both = np.concatenate([path, proj.projected])
    pair = yield from stage(points_job(model, lambda a, b: both[a:b], 2 * t, token), "path", n_grid, total)
    if pair is None:
        return None
    line_loss = np.empty(0)
    if line:
        start, end = path[0], path[-1]
        zero = np.zeros(len(LINE_T))
        line = plane_job(model, start, end - start, np.zeros_like(start), LINE_T, zero, token)
        line_loss = yield from stage(line, "line", n_grid + 2 * t, total)
        if line_loss is None:
            return None
    return Landscape(
        plane,
        tuple(model.sizes),
        center,
        (d0, d1),
        alphas,
        betas,
        loss.reshape(len(betas), len(alphas)),
        list(epochs),
        proj,
        pair[:t],
        pair[t:],
        LINE_T.copy() if line else np.empty(0),
        line_loss,
        model.rows,
        n_train if n_train is not None else len(model.rows),
        int(center_epoch),
        plane_epochs,
        explained,
        time.perf_counter() - started,
    )


def stage(job, name: str, before: int, total: int):
    """Drive one evaluation job (points_job or plane_job), yielding LandscapeProgress; return its losses, or None
    when stopped."""
    while True:
        try:
            done, _ = next(job)
        except StopIteration as end:
            return end.value
        yield LandscapeProgress(name, before + done, total)
