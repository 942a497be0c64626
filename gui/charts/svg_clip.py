"""Cut an SVG's line geometry to its rectangular clip paths, for renderers that ignore ``clip-path``.

Qt writes the plot area's clip as ``<g clip-path="url(#clipPathN)">``. librsvg and browsers honour it; Qt's
own QSvgRenderer (6.11) does not, so a curve that leaves the view (a diverged optimizer path, a zoomed loss
chart) was drawn across the axes and the page there. :func:`clip_geometry` applies each rectangular clip to
the coordinates themselves: stroked polylines and M/L paths are cut at the rectangle (Liang–Barsky), filled
M/L/Z polygons are cut to it (Sutherland–Hodgman), and anything wholly outside is dropped. The clip-path stays,
so renderers that honour it still clip exactly (stroke ends, curves with Bézier segments).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

SVG = "http://www.w3.org/2000/svg"
_MATRIX = re.compile(r"matrix\(([^)]*)\)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
Rect = tuple[float, float, float, float]  # x0, y0, x1, y1


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _rect_of(clip: ET.Element) -> Rect | None:
    """Return the axis-aligned rectangle a clipPath holds, or None when it holds anything else."""
    shapes = list(clip)
    if len(shapes) != 1 or _tag(shapes[0]) != "path" or shapes[0].get("transform"):
        return None
    tokens = _TOKEN.findall(shapes[0].get("d", ""))
    if any(t.isalpha() and t not in "MLZ" for t in tokens):
        return None
    values = np.array([float(t) for t in tokens if not t.isalpha()])
    if len(values) < 8 or len(values) % 2:
        return None
    xs, ys = values[0::2], values[1::2]
    if len(np.unique(np.round(xs, 6))) != 2 or len(np.unique(np.round(ys, 6))) != 2:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def _local(rect: Rect, transform: str | None) -> Rect | None:
    """Return ``rect`` in the coordinates of an element drawn with ``transform`` (scale and shift only)."""
    if not transform:
        return rect
    match = _MATRIX.fullmatch(transform.strip())
    if not match:
        return None
    a, b, c, d, e, f = (float(v) for v in _NUMBER.findall(match.group(1)))
    if abs(b) > 1e-12 or abs(c) > 1e-12 or a == 0 or d == 0:
        return None
    x0, x1 = sorted(((rect[0] - e) / a, (rect[2] - e) / a))
    y0, y1 = sorted(((rect[1] - f) / d, (rect[3] - f) / d))
    return x0, y0, x1, y1


def _subpaths(d: str) -> list[tuple[np.ndarray, bool]] | None:
    """Return the (points, closed) of each subpath of M/L/Z path data; None when it has other commands."""
    out, points, command, numbers = [], [], None, []

    def flush_numbers():
        if len(numbers) % 2:
            raise ValueError
        points.extend(zip(numbers[0::2], numbers[1::2]))
        numbers.clear()

    try:
        for token in _TOKEN.findall(d):
            if not token.isalpha():
                numbers.append(float(token))
                continue
            flush_numbers()
            if token not in "MLZ":
                return None
            if token in "MZ" and points:
                out.append((np.array(points, dtype=float), token == "Z"))
                points = []
            command = token
        flush_numbers()
    except ValueError:
        return None
    if points:
        out.append((np.array(points, dtype=float), command == "Z"))
    return out


def _cut_segment(p, q, rect: Rect):
    """Return the part of segment p-q inside ``rect`` as (start, end), or None (Liang–Barsky)."""
    x0, y0, x1, y1 = rect
    dx, dy = q[0] - p[0], q[1] - p[1]
    t0, t1 = 0.0, 1.0
    for step, room in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if step == 0:
            if room < 0:
                return None
            continue
        t = room / step
        if step < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return (p[0] + t0 * dx, p[1] + t0 * dy), (p[0] + t1 * dx, p[1] + t1 * dy)


def _cut_lines(points: np.ndarray, closed: bool, rect: Rect) -> list[list[tuple[float, float]]]:
    """Return the runs of a polyline that lie inside ``rect``."""
    if closed:
        points = np.vstack([points, points[:1]])
    runs: list[list[tuple[float, float]]] = []
    for p, q in zip(points[:-1], points[1:]):
        cut = _cut_segment(p, q, rect)
        if cut is None:
            continue
        start, end = cut
        if runs and np.allclose(runs[-1][-1], start, atol=1e-9):
            runs[-1].append(end)
        else:
            runs.append([start, end])
    return runs


def _cut_polygon(points: np.ndarray, rect: Rect) -> np.ndarray:
    """Return a polygon cut to ``rect`` (Sutherland–Hodgman); it may be empty."""
    x0, y0, x1, y1 = rect
    edges = ((0, x0, 1), (0, x1, -1), (1, y0, 1), (1, y1, -1))  # axis, limit, inside when sign*(v-limit) >= 0
    poly = [tuple(p) for p in points]
    for axis, limit, sign in edges:
        if not poly:
            break
        out = []
        for i, cur in enumerate(poly):
            prev = poly[i - 1]
            cur_in, prev_in = sign * (cur[axis] - limit) >= 0, sign * (prev[axis] - limit) >= 0
            if cur_in != prev_in:
                t = (limit - prev[axis]) / (cur[axis] - prev[axis])
                out.append((prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])))
            if cur_in:
                out.append(cur)
        poly = out
    return np.array(poly, dtype=float).reshape(-1, 2)


def _fmt(points) -> str:
    return " L ".join(f"{x:.6g},{y:.6g}" for x, y in points)


def _bounds(element: ET.Element) -> Rect | None:
    """Return the bounding box of an element's coordinates (control points included), or None if unknown."""
    tag = _tag(element)
    if tag == "path":
        values = [float(t) for t in _TOKEN.findall(element.get("d", "")) if not t.isalpha()]
    elif tag in ("polyline", "polygon"):
        values = [float(v) for v in _NUMBER.findall(element.get("points", ""))]
    elif tag in ("rect", "image"):
        x, y = float(element.get("x", "0")), float(element.get("y", "0"))
        values = [x, y, x + float(element.get("width", "0")), y + float(element.get("height", "0"))]
    else:
        return None
    if len(values) < 2 or len(values) % 2:
        return None
    xs, ys = values[0::2], values[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _outside(box: Rect, rect: Rect) -> bool:
    return box[2] < rect[0] or box[0] > rect[2] or box[3] < rect[1] or box[1] > rect[3]


def _inside(box: Rect, rect: Rect) -> bool:
    return box[0] >= rect[0] and box[2] <= rect[2] and box[1] >= rect[1] and box[3] <= rect[3]


def _clip_element(element: ET.Element, group: ET.Element, rect: Rect) -> bool:
    """Cut ``element`` to ``rect`` in place; return False when nothing of it is left (drop it)."""
    box = _bounds(element)
    if box is None or _inside(box, rect):
        return True
    if _outside(box, rect):
        return False
    tag = _tag(element)
    if tag not in ("path", "polyline", "polygon"):
        return True  # a rect or an image half in view: the clip-path handles it where it is honoured
    if tag == "path":
        parts = _subpaths(element.get("d", ""))
    else:
        values = np.array([float(v) for v in _NUMBER.findall(element.get("points", ""))]).reshape(-1, 2)
        parts = [(values, tag == "polygon")]
    if parts is None:
        return True
    filled = element.get("fill", group.get("fill", "black")) != "none"
    stroked = element.get("stroke", group.get("stroke", "none")) != "none"
    if filled and stroked:
        return True  # cutting a stroked outline would stroke the cut edge: left to the clip-path
    pieces = []
    for points, closed in parts:
        if filled:
            poly = _cut_polygon(points, rect)
            if len(poly) >= 3:
                pieces.append(f"M {_fmt(poly)} Z")
        else:
            pieces += [f"M {_fmt(run)}" for run in _cut_lines(points, closed, rect)]
    if not pieces:
        return False
    element.attrib.pop("points", None)
    element.tag = f"{{{SVG}}}path"
    element.set("d", " ".join(pieces))
    return True


def clip_geometry(root: ET.Element) -> None:
    """Cut the drawing inside every rectangular ``clip-path`` group of ``root`` to its rectangle; returns nothing."""
    clips = {c.get("id"): _rect_of(c) for c in root.iter(f"{{{SVG}}}clipPath")}
    for outer in root.iter(f"{{{SVG}}}g"):
        ref = re.fullmatch(r"url\(#([^)]+)\)", outer.get("clip-path", "").strip())
        rect = clips.get(ref.group(1)) if ref else None
        if rect is None:
            continue
        for group in outer.findall(f"{{{SVG}}}g"):
            group_rect = _local(rect, group.get("transform"))
            for element in list(group):
                local = group_rect if not element.get("transform") else None
                if local is None and group_rect is not None and not group.get("transform"):
                    local = _local(rect, element.get("transform"))
                if local is not None and not _clip_element(element, group, local):
                    group.remove(element)
