"""Loss-landscape geometry: flat weights, planes through weight space, and projections onto them.

A network's weights are one flat float64 vector, per layer the weight matrix ([out, in], row-major) and then
the bias, in the order of ``weights.json``. A plane is a centre and two directions; the point at grid
coordinates (alpha, beta) is ``center + alpha * d0 + beta * d1``.

Planes (Li et al., "Visualizing the Loss Landscape of Neural Nets", 2018):
- ``random``: two Gaussian directions, filter-normalised: every row of a weight matrix (one output neuron,
  the MLP's filter) is scaled to the norm of the same row of the weights. Biases get a zero direction, as the
  paper's figures do (loss-landscape's ``--xignore biasbn``), so a bias moves only off the plane.
- ``pca``: the two leading singular directions of the path's offsets from the centre (the paper runs PCA on
  the same offsets). The plane goes through the centre, so the offsets are not mean-centred: a path that lies
  in any 2-D plane through the centre then lies in this plane exactly.
- ``three``: the plane through three weight vectors a, b, c, with a at (0, 0) and b at (1, 0).

The evaluation of losses on these planes is in landscape_eval.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import UserError

PLANES = ("random", "pca", "three")
SPAN_MARGIN = 1.25  # an automatic span reaches this far past the farthest projected path point


def layout(sizes) -> list[dict]:
    """Return the flat vector's layout: per layer, in order, {"layer", "name", "shape", "offset", "size"} for the
    weight ([out, in]) and then the bias ([out])."""
    out, offset = [], 0
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        for name, shape in (("weight", [n_out, n_in]), ("bias", [n_out])):
            size = int(np.prod(shape))
            out.append({"layer": i, "name": name, "shape": shape, "offset": offset, "size": size})
            offset += size
    return out


def n_params(sizes) -> int:
    """Return the number of weights and biases of an MLP with these layer sizes."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def flatten(weights: dict) -> np.ndarray:
    """Return a weights document ({"layers": [{"weight", "bias"}, ...]}) as one float64 vector in layout order."""
    parts = []
    for layer in weights["layers"]:
        parts.append(np.asarray(layer["weight"], dtype=np.float64).ravel())
        parts.append(np.asarray(layer["bias"], dtype=np.float64).ravel())
    return np.concatenate(parts)


def unflatten(flat: np.ndarray, sizes) -> dict:
    """Return the weights document ({"layers": [{"weight": [[...]], "bias": [...]}]}) of a flat vector."""
    flat = np.asarray(flat, dtype=np.float64)
    if flat.shape != (n_params(sizes),):
        raise UserError(f"{flat.size} values do not fit the network {','.join(map(str, sizes))}", "center")
    layers: list[dict] = []
    for part in layout(sizes):
        values = flat[part["offset"] : part["offset"] + part["size"]].reshape(part["shape"])
        if part["name"] == "weight":
            layers.append({"weight": values.tolist()})
        else:
            layers[-1]["bias"] = values.tolist()
    return {"layers": layers}


def filter_norms(vector: np.ndarray, sizes) -> list[np.ndarray]:
    """Return, per layer, the norm of every row (filter) of the weight matrix in ``vector``."""
    out = []
    for part in layout(sizes):
        if part["name"] == "weight":
            rows = vector[part["offset"] : part["offset"] + part["size"]].reshape(part["shape"])
            out.append(np.linalg.norm(rows, axis=1))
    return out


def random_direction(center: np.ndarray, sizes, rng: np.random.Generator) -> np.ndarray:
    """Return one filter-normalised Gaussian direction for the weights ``center`` (zero on the biases)."""
    d = np.zeros_like(center)
    for part in layout(sizes):
        if part["name"] != "weight":
            continue
        sl = slice(part["offset"], part["offset"] + part["size"])
        w = center[sl].reshape(part["shape"])
        g = rng.standard_normal(part["shape"])
        norms = np.linalg.norm(g, axis=1, keepdims=True)
        d[sl] = (g * (np.linalg.norm(w, axis=1, keepdims=True) / np.where(norms > 0, norms, 1.0))).ravel()
    return d


def random_plane(center: np.ndarray, sizes, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return two filter-normalised random directions (d0, d1) for ``center``, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    return random_direction(center, sizes, rng), random_direction(center, sizes, rng)


def pca_plane(
    path: np.ndarray, center: np.ndarray, sizes, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Return (d0, d1, explained): the unit directions through ``center`` that best fit the path (T, P), and the
    share of the path's squared distance from the centre each one holds.

    A path that spans only one direction (a straight line) gets, as second direction, a random filter-normalised
    one made orthogonal to the first (its share is then 0). Raises UserError (field ``landscape_plane``) when
    no path point differs from the centre.
    """
    offsets = np.asarray(path, dtype=np.float64) - center
    offsets = offsets[np.isfinite(offsets).all(axis=1)]
    total = float((offsets**2).sum())
    if offsets.shape[0] == 0 or total == 0:
        raise UserError("the PCA plane needs a path that has moved: train at least one epoch", "landscape_plane")
    _, s, vt = np.linalg.svd(offsets, full_matrices=False)
    d0 = vt[0]
    if len(s) > 1 and s[1] > 1e-12 * s[0]:
        d1, share1 = vt[1], float(s[1] ** 2 / total)
    else:
        r = random_direction(center, sizes, np.random.default_rng(seed))
        r = r - (r @ d0) * d0
        norm = np.linalg.norm(r)
        if norm == 0:  # a network whose weights are all zero: any direction orthogonal to d0
            r = np.random.default_rng(seed).standard_normal(len(d0))
            r -= (r @ d0) * d0
            norm = np.linalg.norm(r)
        d1, share1 = r / norm, 0.0
    return d0, d1, (float(s[0] ** 2 / total), share1)


def three_point_plane(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (center, d0, d1) of the plane through a, b and c: center = a, d0 = b − a, and d1 the part of
    c − a orthogonal to d0, scaled to the length of d0 (so the axes are drawn to one scale).

    a lies at (0, 0), b at (1, 0) and c at ((c−a)·d0/|d0|², |c−a⊥|/|d0|). Raises UserError (field
    ``landscape_plane``) when the three points do not span a plane.
    """
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    d0 = b - a
    n0 = float(np.linalg.norm(d0))
    if n0 == 0:
        raise UserError("the first two points are the same weights: they do not span a plane", "landscape_plane")
    u = c - a
    perp = u - (u @ d0) / (n0 * n0) * d0
    n1 = float(np.linalg.norm(perp))
    if n1 <= 1e-12 * max(n0, float(np.linalg.norm(u))):
        raise UserError("the three points lie on one line: they do not span a plane", "landscape_plane")
    return a, d0, perp * (n0 / n1)


@dataclass
class Projection:
    """Path points projected onto a plane: coordinates (T, 2), off-plane distance, distance from the centre,
    their ratio (0 at the centre itself), and the projected points themselves (T, P)."""

    coords: np.ndarray
    off_plane: np.ndarray
    distance: np.ndarray
    ratio: np.ndarray
    projected: np.ndarray


def project(points: np.ndarray, center: np.ndarray, d0: np.ndarray, d1: np.ndarray) -> Projection:
    """Return the orthogonal projection of ``points`` (T, P) onto the plane center + span(d0, d1).

    The coordinates solve the 2×2 normal equations, so the directions need not be orthogonal or of unit length.
    """
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    offsets = pts - center
    basis = np.stack([d0, d1])  # (2, P)
    gram = basis @ basis.T
    coords = np.linalg.solve(gram, basis @ offsets.T).T  # (T, 2)
    on_plane = coords @ basis
    residual = offsets - on_plane
    off = np.linalg.norm(residual, axis=1)
    dist = np.linalg.norm(offsets, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(dist > 0, off / np.where(dist > 0, dist, 1.0), 0.0)
    return Projection(coords, off, dist, ratio, center + on_plane)


def grid_axes(n: int, span: float | None, coords: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (alphas, betas): ``n`` values each from −span to span (0 in the middle for odd ``n``).

    ``span`` None: SPAN_MARGIN times the largest finite |coordinate| of the projected path (1.0 without one).
    """
    if span is None:
        finite = np.abs(coords[np.isfinite(coords)]) if coords is not None else np.empty(0)
        top = float(finite.max()) if finite.size else 0.0
        span = SPAN_MARGIN * top if top > 0 else 1.0
    axis = np.linspace(-span, span, n)
    return axis, axis.copy()


def check_grid(n, span) -> tuple[int, float | None]:
    """Return (grid, span) checked: grid a whole number 3–401, span None or a finite number > 0; raise UserError
    naming ``landscape_grid`` or ``landscape_span`` otherwise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 3 <= int(n) <= 401:
        raise UserError(f"must be a whole number of points per side in 3..401, not {n!r}", "landscape_grid")
    if span is not None:
        try:
            value = float(span)
        except (TypeError, ValueError):
            raise UserError(f"must be a number > 0, not {span!r}", "landscape_span") from None
        if not np.isfinite(value) or value <= 0 or value > 1e6:
            raise UserError(f"must be a number in (0, 1e6], not {span!r}", "landscape_span")
        span = value
    return int(n), span
