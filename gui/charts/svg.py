"""Make the SVG that Qt's QSvgGenerator writes render the same everywhere (librsvg, Qt, browsers).

Qt draws a cosmetic pen (pyqtgraph's curves, axes, grid lines: a width in device pixels) inside a group whose
transform maps data to the page, and marks it ``vector-effect="non-scaling-stroke"``. librsvg (2.54, the
renderer behind most Linux viewers) ignores that attribute and scales the stroke with the data transform: a
2 px curve on an axis spanning 0..1 in 300 px becomes 600 px wide, and the chart turns into solid blocks.
:func:`fix_svg` therefore moves such geometry into page coordinates (the points are transformed, the group
loses its transform), so the stroke width means the same thing in every renderer.

Raster images (the contour map, decision regions, the confusion heat map) are embedded by Qt at their own
size, e.g. 3 × 3 pixels for a confusion matrix; librsvg and browsers smooth them when scaling up, which blurs
band edges into gradients. They are re-embedded at the size they are drawn on the page (nearest neighbour,
as pyqtgraph paints them), so every renderer shows the same sharp cells as the PNG export.

Text is written as the outlines of its glyphs, laid out by Qt exactly as in the PNG (each keeps its words as a
``<title>``). Qt names the application's font ("Sans Serif"), which is no CSS family: a browser would fall back
to a serif font, and any other font makes titles and legend entries wider or narrower than their boxes. This
is also what matplotlib writes by default (``svg.fonttype: path``).
"""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image
from PySide6 import QtGui

from gui.charts.svg_clip import clip_geometry

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)
MAX_IMAGE_SIDE = 4096  # an image zoomed far past the page is kept at its own size rather than blown up
_MATRIX = re.compile(r"matrix\(([^)]*)\)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_PATH_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_KAPPA = 0.5522847498  # cubic Bézier control distance for a quarter ellipse


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _matrix(text: str | None) -> np.ndarray | None:
    """Return the 2×3 affine matrix of a ``matrix(a,b,c,d,e,f)`` transform, or None for anything else."""
    match = _MATRIX.fullmatch((text or "").strip())
    if not match:
        return None
    a, b, c, d, e, f = (float(v) for v in _NUMBER.findall(match.group(1)))
    return np.array([[a, c, e], [b, d, f]])


def _apply(m: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return xy @ m[:, :2].T + m[:, 2]


def _fmt(xy: np.ndarray) -> list[str]:
    return [f"{x:.6g},{y:.6g}" for x, y in xy]


def _path_d(d: str, m: np.ndarray) -> str | None:
    """Return path data ``d`` with every point mapped by ``m``; None when it uses commands other than M L C Z.

    Qt writes only absolute M, L, C and Z, and an affine map of their points is exact."""
    tokens = _PATH_TOKEN.findall(d)
    out, numbers = [], []

    def flush():
        if len(numbers) % 2:
            raise ValueError("odd coordinate count")
        if numbers:
            out.extend(_fmt(_apply(m, np.array(numbers, dtype=float).reshape(-1, 2))))
            numbers.clear()

    try:
        for token in tokens:
            if token.isalpha():
                if token not in "MLCZ":
                    return None
                flush()
                out.append(token)
            else:
                numbers.append(float(token))
        flush()
    except ValueError:
        return None
    return " ".join(out)


def _ellipse_d(cx: float, cy: float, rx: float, ry: float, m: np.ndarray) -> str:
    """Return an ellipse as four cubic Béziers, mapped by ``m`` (exact for any affine map)."""
    k = _KAPPA
    pts = [(1, 0), (1, k), (k, 1), (0, 1), (-k, 1), (-1, k), (-1, 0), (-1, -k), (-k, -1), (0, -1), (k, -1), (1, -k)]
    xy = _apply(m, np.array([(cx + rx * u, cy + ry * v) for u, v in pts]))
    s = _fmt(xy)
    return f"M {s[0]} C {s[1]} {s[2]} {s[3]} C {s[4]} {s[5]} {s[6]} C {s[7]} {s[8]} {s[9]} C {s[10]} {s[11]} {s[0]} Z"


def _flatten(child: ET.Element, m: np.ndarray) -> bool:
    """Map ``child``'s geometry by ``m`` in place (rect and ellipse become paths); return False if it cannot."""
    tag = _tag(child)
    if tag == "path":
        d = _path_d(child.get("d", ""), m)
        if d is None:
            return False
        child.set("d", d)
    elif tag in ("polyline", "polygon"):
        values = [float(v) for v in _NUMBER.findall(child.get("points", ""))]
        if len(values) % 2:
            return False
        child.set("points", " ".join(_fmt(_apply(m, np.array(values).reshape(-1, 2)))))
    elif tag == "rect":
        x, y, w, h = (float(child.get(k, "0")) for k in ("x", "y", "width", "height"))
        corners = _fmt(_apply(m, np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])))
        for k in ("x", "y", "width", "height"):
            child.attrib.pop(k, None)
        child.tag = f"{{{SVG}}}path"
        child.set("d", f"M {corners[0]} L {corners[1]} L {corners[2]} L {corners[3]} Z")
    elif tag == "ellipse":
        cx, cy, rx, ry = (float(child.get(k, "0")) for k in ("cx", "cy", "rx", "ry"))
        for k in ("cx", "cy", "rx", "ry"):
            child.attrib.pop(k, None)
        child.tag = f"{{{SVG}}}path"
        child.set("d", _ellipse_d(cx, cy, rx, ry, m))
    else:
        return False
    child.set("vector-effect", "none")
    return True


def _push_transform(group: ET.Element, m: np.ndarray) -> None:
    """Move ``group``'s transform down: cosmetic strokes are mapped to page units, the rest keep the transform."""
    text = group.attrib.pop("transform")
    for child in group:
        if child.get("vector-effect") == "non-scaling-stroke" and _flatten(child, m):
            continue
        child.set("transform", text)


def _image_size(element: ET.Element, m: np.ndarray | None) -> tuple[int, int] | None:
    """Return the (width, height) in page pixels an axis-aligned image is drawn at, or None if rotated."""
    w, h = float(element.get("width", "0")), float(element.get("height", "0"))
    if m is not None:
        if abs(m[0, 1]) > 1e-9 or abs(m[1, 0]) > 1e-9:
            return None
        w, h = abs(m[0, 0]) * w, abs(m[1, 1]) * h
    return int(round(w)), int(round(h))


def _sharpen(element: ET.Element, m: np.ndarray | None) -> None:
    """Re-embed a nearest-neighbour image at the pixel size it covers on the page (never smaller than its own)."""
    if element.get("image-rendering") != "optimizeSpeed":
        return  # Qt marks images drawn without smoothing; a smoothed one is meant to be smooth
    href = element.get(f"{{{XLINK}}}href", "")
    head, _, data = href.partition(",")
    size = _image_size(element, m)
    if not head.startswith("data:image/") or ";base64" not in head or size is None:
        return
    try:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        image.load()
    except (OSError, ValueError):
        return  # not an image Pillow reads: left as Qt wrote it
    w, h = max(size[0], image.width), max(size[1], image.height)
    if (w, h) == image.size or max(w, h) > MAX_IMAGE_SIDE:
        return
    # Pillow's nearest neighbour samples pixel centres, as Qt's painter does (QImage.scaled shifts the edges)
    out = io.BytesIO()
    image.resize((w, h), Image.Resampling.NEAREST).save(out, "PNG")
    element.set(f"{{{XLINK}}}href", "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii"))


def _path_data(path: QtGui.QPainterPath) -> str:
    """Return a QPainterPath as SVG path data (M, L, C; absolute)."""
    out, i, n = [], 0, path.elementCount()
    move, line = QtGui.QPainterPath.ElementType.MoveToElement, QtGui.QPainterPath.ElementType.LineToElement
    while i < n:
        e = path.elementAt(i)
        if e.type == move:
            out.append(f"M{e.x:.2f},{e.y:.2f}")
            i += 1
        elif e.type == line:
            out.append(f"L{e.x:.2f},{e.y:.2f}")
            i += 1
        else:  # CurveTo and its two CurveToData points
            c2, end = path.elementAt(i + 1), path.elementAt(i + 2)
            out.append(f"C{e.x:.2f},{e.y:.2f} {c2.x:.2f},{c2.y:.2f} {end.x:.2f},{end.y:.2f}")
            i += 3
    return "".join(out)


def _text_as_path(element: ET.Element, dpi: float) -> None:
    """Replace a ``<text>`` by the outline of its glyphs, laid out by Qt as in the PNG (the text stays as a title)."""
    text = element.text or ""
    family = element.get("font-family", "").split(",")[0].strip().strip("'\"")
    font = QtGui.QFont(family)
    font.setPointSizeF(float(element.get("font-size", "12")) * 72.0 / dpi)  # Qt wrote the size in pixels
    font.setWeight(QtGui.QFont.Weight(int(float(element.get("font-weight", "400")))))
    font.setItalic(element.get("font-style", "normal") != "normal")
    outline = QtGui.QPainterPath()
    outline.addText(float(element.get("x", "0")), float(element.get("y", "0")), font, text)
    keep = {k: v for k, v in element.attrib.items() if k in ("fill", "fill-opacity", "transform")}
    element.clear()
    element.tag = f"{{{SVG}}}path"
    element.attrib.update(keep)
    element.set("stroke", "none")
    element.set("fill-rule", "nonzero")
    element.set("d", _path_data(outline))
    title = ET.SubElement(element, f"{{{SVG}}}title")
    title.text = text


def fix_svg(data: bytes, width: int, height: int, dpi: float = 96.0) -> bytes:
    """Return Qt's SVG ``data`` rewritten to render alike in librsvg, Qt and browsers, sized ``width`` × ``height`` px.

    The page's user units are its pixels (the viewBox is 0 0 width height), cosmetic strokes are moved out of
    scaling transforms, nearest-neighbour images are embedded at the size they are drawn, and line geometry
    is cut to its rectangular clip (gui.charts.svg_clip), for Qt's renderer, which ignores clip-path; text
    becomes the outlines of its glyphs. ``dpi``: the resolution Qt's generator ran at (font sizes in pixels)."""
    root = ET.fromstring(data)
    root.set("width", str(int(width)))
    root.set("height", str(int(height)))
    root.set("viewBox", f"0 0 {int(width)} {int(height)}")
    parents = {child: parent for parent in root.iter() for child in parent}
    for group in list(root.iter(f"{{{SVG}}}g")):
        m = _matrix(group.get("transform"))
        if m is None:
            continue
        for image in group.findall(f"{{{SVG}}}image"):
            _sharpen(image, m)
        scaled = not np.allclose(m[:, :2], np.eye(2))
        if scaled and any(c.get("vector-effect") == "non-scaling-stroke" for c in group):
            _push_transform(group, m)
    for image in root.iter(f"{{{SVG}}}image"):
        if _matrix(parents[image].get("transform")) is None and image.get("transform") is None:
            _sharpen(image, None)
    clip_geometry(root)
    for element in list(root.iter(f"{{{SVG}}}text")):
        _text_as_path(element, dpi)
    text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + text).encode("utf-8")
