"""SVG export renders like the PNG export: each chart kind, rendered by librsvg and by Qt, pixel by pixel.

Each chart is written as PNG and SVG at the same size by the command line's writers (gui.charts.render with
formats=("png", "svg")); the SVG is rendered with ``rsvg-convert`` (the renderer most viewers use) and with
Qt's QSvgRenderer, and each rendering is compared with the PNG. Anti-aliasing and hinting differ a little
between renderers, so a pixel counts as wrong only when nothing within 2 px of it in the other image is
close in colour; a chart passes when under 1 % of its pixels are wrong and no 16 × 16 block differs in its
mean colour by more than 20 levels (99th percentile). The SVG that Qt's generator wrote before (curves drawn
as solid blocks in librsvg, axes shrunk by 3/4 in Qt, images blurred) fails every chart by far.
"""

import base64
import re
import shutil
import subprocess

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtSvg

from gui.charts import render

RSVG = shutil.which("rsvg-convert")
RADIUS, FAR, MAX_FAR_SHARE, MAX_BLOCK_P99 = 2, 64, 0.01, 20.0


def rgb(image: QtGui.QImage) -> np.ndarray:
    """Return a QImage as an (h, w, 3) int16 array."""
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return data[:, : w * 3].reshape(h, w, 3).astype(np.int16)


def qt_render(svg, size: tuple[int, int]) -> np.ndarray:
    renderer = QtSvg.QSvgRenderer(str(svg))
    assert renderer.isValid()
    image = QtGui.QImage(size[0], size[1], QtGui.QImage.Format.Format_RGB32)
    image.fill(QtGui.QColor("white"))
    painter = QtGui.QPainter(image)
    renderer.render(painter, QtCore.QRectF(0, 0, *size))
    painter.end()
    return rgb(image)


def rsvg_render(svg, size: tuple[int, int], tmp_path) -> np.ndarray:
    if RSVG is None:
        pytest.skip("rsvg-convert is not installed (Debian/Ubuntu: apt-get install librsvg2-bin)")
    out = tmp_path / (svg.stem + ".rsvg.png")
    w, h = size
    subprocess.run([RSVG, "-w", str(w), "-h", str(h), "-b", "white", "-o", str(out), str(svg)], check=True)
    return rgb(QtGui.QImage(str(out)))


def far_pixels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels of ``a`` with no pixel of ``b`` within RADIUS that is close in colour (max channel difference)."""
    h, w, _ = a.shape
    far = np.abs(a - b).max(axis=-1) > FAR
    ys, xs = np.nonzero(far)  # only these can be far: search their neighbourhoods
    best = np.full(len(ys), 255, dtype=np.int16)
    for dy in range(-RADIUS, RADIUS + 1):
        for dx in range(-RADIUS, RADIUS + 1):
            other = b[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)]
            best = np.minimum(best, np.abs(a[ys, xs] - other).max(axis=-1))
    far[ys, xs] = best > FAR
    return far


def differences(png: np.ndarray, rendered: np.ndarray) -> tuple[float, float]:
    """Return (share of far pixels either way, 99th percentile of the 16 × 16 block mean difference)."""
    assert rendered.shape == png.shape
    far = far_pixels(png, rendered) | far_pixels(rendered, png)
    h, w = (png.shape[0] // 16) * 16, (png.shape[1] // 16) * 16

    def blocks(x):
        return x[:h, :w].reshape(h // 16, 16, w // 16, 16, 3).mean(axis=(1, 3))

    block = np.abs(blocks(png) - blocks(rendered)).max(axis=-1)
    return float(far.mean()), float(np.percentile(block, 99))


def check_same_picture(png_path, svg_path, tmp_path) -> None:
    png = rgb(QtGui.QImage(str(png_path)))
    size = (png.shape[1], png.shape[0])
    text = svg_path.read_text()
    assert f'width="{size[0]}"' in text and f'height="{size[1]}"' in text  # drawn at the PNG's size
    renderings = (("Qt", lambda: qt_render(svg_path, size)), ("librsvg", lambda: rsvg_render(svg_path, size, tmp_path)))
    for renderer, draw in renderings:  # Qt first: without rsvg-convert the test still checks Qt, then skips
        far, block = differences(png, draw())
        assert far < MAX_FAR_SHARE and block < MAX_BLOCK_P99, (
            f"{svg_path.name} in {renderer}: {far:.2%} of pixels differ from the PNG, 16-px blocks by {block:.1f}"
        )


def both(tmp_path, name):
    return tmp_path / f"{name}.png", tmp_path / f"{name}.svg"


FORMATS = ("png", "svg")


def test_line_chart_with_legend_and_band(tmp_path):
    x = np.arange(60)
    series = [
        {
            "name": "sgd",
            "x": x,
            "y": np.exp(-x / 12) + 0.1,
            "colour": "#1f77b4",
            "band": (np.exp(-x / 12), np.exp(-x / 12) + 0.2),
        },
        {"name": "adam", "x": x, "y": np.exp(-x / 5) + 0.05, "colour": "#ff7f0e", "dashed": True},
    ]
    png, svg = both(tmp_path, "loss")
    render.render_lines(series, png, "loss", "loss", formats=FORMATS)
    check_same_picture(png, svg, tmp_path)


def test_surface_contour_with_paths(tmp_path):
    from engine.surface.functions import get_surface
    from engine.surface.paths import Path

    surface = get_surface("peaks")
    t = np.linspace(0, 1, 21)[:, None]
    paths = [  # two optimizers from two starts, spiralling in (drawn as computed ones are)
        Path(
            opt,
            {},
            start,
            k,
            np.array(start) + t * (end - np.array(start)) + 0.3 * np.sin(9 * t) * (1 - t),
            np.linspace(3, 0, 21),
            np.ones(21),
            np.full(20, 0.1),
        )
        for opt, end in (("sgd", np.array([0.2, -1.6])), ("adam", np.array([-1.3, 0.2])))
        for k, start in enumerate([(-0.35, -0.67), (0.3, 1.3)])
    ]
    png, svg = both(tmp_path, "surface")
    render.render_surface(surface, paths, png, grid=120, formats=FORMATS)
    check_same_picture(png, svg, tmp_path)
    # the contour image is embedded at the size it is drawn, not at its 120 × 120 grid (blurred by viewers)
    image = QtGui.QImage()
    hrefs = re.findall(r'href="data:image/png;base64,([^"]+)"', svg.read_text())
    sizes = [image.loadFromData(base64.b64decode(h)) and (image.width(), image.height()) for h in hrefs]
    assert max(sizes) >= (400, 400)


def test_decision_regions_with_points(tmp_path):
    grid = np.linspace(-1, 1, 12)  # coarse cells: a blurred image shows as gradients between them
    classes = ((grid[None, :] + 0.5 * grid[:, None]) > 0).astype(int) + (grid[:, None] > 0.5)
    confidence = np.abs(np.sin(3 * grid[None, :] * grid[:, None]))
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (120, 2))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (x[:, 1] > 0.5)
    png, svg = both(tmp_path, "decision")
    render.render_decision(grid, grid, classes, confidence, x, y, 3, png, "decision regions", FORMATS)
    check_same_picture(png, svg, tmp_path)


def test_confusion_matrix(tmp_path):
    png, svg = both(tmp_path, "confusion")
    matrix = np.array([[15, 1, 0], [2, 17, 1], [0, 3, 19]])
    render.render_confusion(matrix, ["setosa", "versicolor", "virginica"], png, "confusion matrix", FORMATS)
    check_same_picture(png, svg, tmp_path)


def test_comparison_grid(tmp_path):
    x = np.arange(40)
    rows, cols = ["lr=0.1", "lr=0.01"], ["optimizer=sgd", "optimizer=adam", "optimizer=adagrad"]
    cells = {
        (r, c): [{"name": "run", "x": x, "y": np.exp(-x / (4 + 3 * i + j)), "colour": "#1f77b4"}]
        for i, r in enumerate(rows)
        for j, c in enumerate(cols)
    }
    png, svg = both(tmp_path, "grid")
    render.render_grid(cells, rows, cols, png, "loss: lr (rows) × optimizer (columns)", "loss", FORMATS)
    check_same_picture(png, svg, tmp_path)


def test_curves_are_clipped_to_the_plot_area(tmp_path):
    """A curve that leaves the zoomed view is cut at the axes, as in the PNG, not drawn over the page: by
    librsvg through the clip-path, by Qt (which ignores clip-path) through the cut geometry."""
    import pyqtgraph as pg

    from gui.charts.curves import LineChart
    from gui.charts.export import export_png, export_svg

    render.ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(640, 480)
    chart = LineChart(widget.addPlot(), "zoomed", "x", "y")
    x = np.linspace(0, 10, 200)
    chart.set_series("sin", x, 3 * np.sin(x), "#d00000", width=6)
    chart.plot.setXRange(2, 6, padding=0)
    chart.plot.setYRange(-1, 1, padding=0)
    widget.ci.layout.activate()
    png, svg = both(tmp_path, "zoomed")
    export_png(widget.ci, png, width=640)
    export_svg(widget.ci, svg, width=640)
    expected = rgb(QtGui.QImage(str(png)))
    size = (expected.shape[1], expected.shape[0])
    red_png = (expected[..., 0] > 180) & (expected[..., 1] < 80) & (expected[..., 2] < 80)
    for name, draw in (("Qt", lambda: qt_render(svg, size)), ("librsvg", lambda: rsvg_render(svg, size, tmp_path))):
        drawn = draw()
        red = (drawn[..., 0] > 180) & (drawn[..., 1] < 80) & (drawn[..., 2] < 80)
        assert red.sum() > 500 and abs(int(red.sum()) - int(red_png.sum())) < 0.05 * red_png.sum(), name
        far, _ = differences(expected, drawn)
        assert far < MAX_FAR_SHARE, name
    widget.close()


def test_window_export_writes_svg_at_the_png_size(tmp_path, qtbot):
    """The right-click / Export all path (ChartSet) draws the SVG as the PNG, at the same size."""
    import pyqtgraph as pg

    from gui.charts.chart_set import ChartSet
    from gui.charts.curves import LineChart

    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    qtbot.waitExposed(widget)
    chart = LineChart(widget.addPlot(), "loss", "epoch", "loss")
    chart.set_series("train", np.arange(30), np.exp(-np.arange(30) / 8), "#1f77b4")
    charts = ChartSet(widget)
    charts.add("loss", widget.ci, chart.table, plot=chart.plot)
    png = charts.export("loss", tmp_path / "loss.png")
    svg = charts.export("loss", tmp_path / "loss.svg")
    check_same_picture(png, svg, tmp_path)


def test_divergence_label_box_is_drawn_around_its_text(tmp_path):
    """The 1-D surface PNG had a stray empty box: the label's frame, drawn away from its text on a first paint."""
    import pyqtgraph as pg

    from engine.surface.functions import get_surface
    from engine.surface.paths import Path
    from engine.surface.scene import plot_bounds
    from gui.charts.contour import ContourMap
    from gui.charts.export import export_png, export_svg
    from gui.charts.paths import PathLayer

    render.ensure_app()
    surface = get_surface("quadratic")
    xs, ys, z = surface.grid(200)
    points = np.array([[1.0], [-2.0], [4.0], [-8.0], [16.0]])  # SGD at lr 1.5 on x²: it diverges
    path = Path("sgd", {"lr": 1.5}, (1.0,), 0, points, points[:, 0] ** 2, np.ones(5), np.full(4, 1.5), 4)
    widget = pg.GraphicsLayoutWidget()
    widget.resize(640, 480)
    plot = widget.addPlot()
    ContourMap(plot).set_surface(xs, ys, z, False, surface.minima)
    layer = PathLayer(plot)
    layer.bounds = plot_bounds(surface, z)
    layer.set_paths([path], ["#1f77b4"], ["SGD"])
    layer.show()
    widget.ci.layout.activate()
    png, svg = both(tmp_path, "diverged")
    export_png(widget.ci, png, width=1024)  # wider than the chart: the export scales the scene
    export_svg(widget.ci, svg, width=1024)
    label = layer.items[0].label
    assert label.isVisible() and "diverged at step 4" in label.textItem.toPlainText()
    box = label.mapRectToScene(label.textItem.mapRectToParent(label.textItem.boundingRect()))
    scale = 1024 / widget.ci.sceneBoundingRect().width()
    left, right, top = int(box.left() * scale), int(box.right() * scale), int(round(box.top() * scale))
    expected = rgb(QtGui.QImage(str(png)))
    renderings = [("PNG", expected), ("Qt", qt_render(svg, (expected.shape[1], expected.shape[0])))]
    if RSVG:
        renderings.append(("librsvg", rsvg_render(svg, (expected.shape[1], expected.shape[0]), tmp_path)))
    for name, image in renderings:
        edge = image[top - 2 : top + 3, left + (right - left) // 5 : right - (right - left) // 5]
        framed = (edge[..., 2] - edge[..., 0] > 40).any(axis=0).mean()  # the path's blue, anti-aliased
        assert framed > 0.8, f"{name}: the label's frame is not at its text (only {framed:.0%} of its top edge)"
    widget.close()
