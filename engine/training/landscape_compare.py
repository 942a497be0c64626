"""Two runs of a comparison on one landscape: the plane through their shared start and both ends.

Runs of a comparison start from identical weights (same seed, same initialisation), so the plane through the
start and the two final weight vectors contains all three exactly; both paths are projected onto it, each with
its off-plane ratio and its real-vs-projected loss, as for one run (landscape_job.py).

``two_runs_job`` trains the two runs itself (together in one RunGroup when they can be, as ``compare`` does),
recording every epoch's weights. Training is deterministic, so the runs are the comparison's own runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import UserError
from engine.jobs import run_job
from engine.training.backends import Interrupted
from engine.training.checks import can_group
from engine.training.landscape import Projection, check_grid, project, three_point_plane
from engine.training.landscape_eval import loss_model, plane_job, points_job
from engine.training.landscape_job import LandscapeProgress, stage
from engine.training.trainer import RunGroup

BOX_MARGIN = 0.25  # the grid reaches this share of the paths' extent beyond them on every side


def run_flat(group: RunGroup, r: int) -> np.ndarray:
    """Return run ``r``'s current weights as one float64 vector in landscape.layout order."""
    backend = group.backend
    with torch.no_grad():
        net = getattr(backend, "net", None)
        if net is not None:
            parts = [t for w, b in zip(net.W, net.B) for t in (w[r].reshape(-1), b[r])]
        else:
            parts = [t for lin in backend.models[r].linears for t in (lin.weight.reshape(-1), lin.bias)]
        return torch.cat([p.detach().double().cpu() for p in parts]).numpy()


def box_axes(n: int, coords: np.ndarray, span: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (alphas, betas) of ``n`` points each: ±span when given, else the box around every finite
    coordinate (and 0, the start) widened by BOX_MARGIN of its extent on each side."""
    if span is not None:
        axis = np.linspace(-span, span, n)
        return axis, axis.copy()
    pts = coords[np.isfinite(coords).all(axis=1)]
    pts = np.vstack([pts, np.zeros((1, 2))])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = max(float((hi - lo).max()), 1e-12)
    lo, hi = lo - BOX_MARGIN * extent, hi + BOX_MARGIN * extent
    return np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)


@dataclass
class RunPath:
    """One run on the shared plane: its name, epochs, projection and losses (real weights and projections)."""

    name: str
    epochs: list
    projection: Projection
    path_loss: np.ndarray
    projected_loss: np.ndarray
    diverged_at: int | None


@dataclass
class TwoRunLandscape:
    """The plane through the shared start (0, 0) and the ends of two runs (the first at (1, 0)), its loss grid
    (``loss[i, j]`` at center + alphas[j]·d0 + betas[i]·d1) and both runs' paths on it."""

    center: np.ndarray
    directions: tuple
    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    runs: list
    rows: np.ndarray
    n_train: int
    seconds: float

    def to_json(self, layout_parts: list) -> dict:
        """Return the landscape.json document of the comparison plane (``layout_parts``: landscape.layout)."""
        return {
            "plane": "start and two ends",
            "center": self.center.tolist(),
            "directions": [d.tolist() for d in self.directions],
            "alphas": self.alphas.tolist(),
            "betas": self.betas.tolist(),
            "loss": self.loss.tolist(),
            "layout": [{"layer": q["layer"], "name": q["name"], "shape": q["shape"]} for q in layout_parts],
            "runs": [
                {
                    "name": run.name,
                    "diverged_at": run.diverged_at,
                    "trajectory": [
                        {
                            "epoch": int(e),
                            "alpha": float(run.projection.coords[k, 0]),
                            "beta": float(run.projection.coords[k, 1]),
                            "off_plane": float(run.projection.off_plane[k]),
                            "off_plane_ratio": float(run.projection.ratio[k]),
                            "loss": float(run.path_loss[k]),
                            "projected_loss": float(run.projected_loss[k]),
                        }
                        for k, e in enumerate(run.epochs)
                    ],
                }
                for run in self.runs
            ],
            "samples": {"rows": self.rows.tolist(), "count": int(len(self.rows)), "of": int(self.n_train)},
            "seconds": self.seconds,
        }


def _train_recording(configs, data, token, done: int, total: int):
    """Train ``configs`` as RunGroups (one when they can share it), recording every run's weights per epoch.

    Yields LandscapeProgress("train", …) after every epoch; returns ([(epochs, path (T, P), diverged_at)] per
    config, epochs done), or None when stopped.
    """
    groups = [list(range(len(configs)))] if can_group(list(configs)) else [[i] for i in range(len(configs))]
    out: dict[int, tuple] = {}
    for members in groups:
        try:
            group = RunGroup([configs[i] for i in members], data, token=token)
        except Interrupted:
            return None
        paths = {i: ([0], [run_flat(group, r)]) for r, i in enumerate(members)}
        while not group.finished:
            if run_job(group.iter_epoch(token)) is None:
                return None
            for r, i in enumerate(members):
                if group.diverged_at[r] is None or group.diverged_at[r] >= group.epoch:
                    paths[i][0].append(group.epoch)
                    paths[i][1].append(run_flat(group, r))
            done += len(members)
            yield LandscapeProgress("train", done, total)
        for r, i in enumerate(members):
            out[i] = (paths[i][0], np.stack(paths[i][1]), group.diverged_at[r])
    return [out[i] for i in range(len(configs))], done


def two_runs_job(configs, names, data, token=None, grid: int = 31, span: float | None = None):
    """A job: train two runs, then the landscape on the plane through their start and both ends.

    Yields LandscapeProgress ("train" per epoch, then "grid" and "path" per chunk); returns a TwoRunLandscape,
    or None when ``token`` stopped it. Raises UserError (field ``landscape_plane``) when the runs do not share
    their start (different seeds or initialisations) or their ends and start lie on one line, and
    ``landscape_grid``/``landscape_span`` for a bad grid.
    """
    started = time.perf_counter()
    grid, span = check_grid(grid, span)
    if len(configs) != 2:
        raise UserError(f"the plane needs exactly two runs, not {len(configs)}", "landscape_plane")
    epochs_total = 2 * int(configs[0].epochs)
    total = epochs_total + grid * grid
    trained = yield from _train_recording(configs, data, token, 0, total)
    if trained is None:
        return None
    recorded, _ = trained
    (ea, pa, da), (eb, pb, db) = recorded
    if not np.array_equal(pa[0], pb[0]):
        raise UserError(
            "the two runs do not start from the same weights (different seeds or initialisations)", "landscape_plane"
        )
    ends = []
    for path in (pa, pb):
        finite = np.isfinite(path).all(axis=1)
        ends.append(path[np.nonzero(finite)[0][-1]])
    center, d0, d1 = three_point_plane(pa[0], ends[0], ends[1])
    projs = [project(p, center, d0, d1) for p in (pa, pb)]
    alphas, betas = box_axes(grid, np.vstack([q.coords for q in projs]), span)
    model = loss_model(configs[0], data)
    na = len(alphas)
    a_all, b_all = np.tile(alphas, len(betas)), np.repeat(betas, na)
    overall = total + 2 * (len(pa) + len(pb))
    loss = yield from stage(plane_job(model, center, d0, d1, a_all, b_all, token), "grid", epochs_total, overall)
    if loss is None:
        return None
    runs, before = [], total
    for name, epochs, path, proj, div in zip(names, (ea, eb), (pa, pb), projs, (da, db)):
        both = np.concatenate([path, proj.projected])
        t = len(path)
        job = points_job(model, lambda s, e, both=both: both[s:e], 2 * t, token)
        pair = yield from stage(job, "path", before, overall)
        if pair is None:
            return None
        before += 2 * t
        runs.append(RunPath(name, list(epochs), proj, pair[:t], pair[t:], div))
    return TwoRunLandscape(
        center,
        (d0, d1),
        alphas,
        betas,
        loss.reshape(len(betas), na),
        runs,
        model.rows,
        len(data.x_train),
        time.perf_counter() - started,
    )
