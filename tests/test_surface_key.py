"""The surface map names its minima markers and says what its colour bar shows, in the window and the PNG."""

import pyqtgraph as pg

from engine.surface.functions import get_surface
from gui.charts.contour import ContourMap


def key_texts(contour):
    return [label.text for _sample, label in contour.key.items]


def draw(function_id, log):
    s = get_surface(function_id)
    contour = ContourMap(pg.PlotItem())
    xs, ys, z = s.grid(120)
    contour.set_surface(xs, ys, z, log, s.minima)
    return contour


def test_peaks_key_lists_the_global_plus_and_the_local_cross(qtbot):
    contour = draw("peaks", False)
    assert key_texts(contour) == ["global minimum", "local minimum"]
    symbols = [sample.item.opts["symbol"] for sample, _ in contour.key.items]
    assert symbols == [contour.minima.opts["symbol"], contour.local_minima.opts["symbol"]] == ["+", "x"]
    assert contour.colorbar.getAxis("left").labelText == "f"


def test_rosenbrock_log_colour_bar_is_labelled_and_ticked_in_f(qtbot):
    contour = draw("rosenbrock", True)
    assert "log scale" in contour.colorbar.getAxis("left").labelText
    ticks = [text for _pos, text in contour.colorbar.axis._tickLevels[0]]
    assert ticks[0] == "0" and "1" in ticks and "100" in ticks  # values of f, not 0..4 of log10(1 + f/scale)
    assert key_texts(contour) == ["global minimum"]


def test_window_keeps_the_key_after_drawing_paths(qtbot):
    from gui.views.surface_view import SurfaceView

    view = SurfaceView()
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: bool(view.paths), timeout=10000)
    assert view.contour.key.isVisible() and "global minimum" in key_texts(view.contour)


def test_png_export_shows_the_key_bottom_right(tmp_path):
    from PySide6 import QtGui

    from engine.surface.paths import PathSpec, compute_paths
    from gui.charts.render import render_surface

    s = get_surface("peaks")
    paths = compute_paths(s, [PathSpec("adam", {"lr": 0.05})], [(-0.35, -0.67)], 20)
    out = render_surface(s, paths, tmp_path / "s.png", grid=100)
    image = QtGui.QImage(str(out))
    w, h = image.width(), image.height()
    light = total = 0
    for x in range(int(0.78 * w), int(0.88 * w), 4):
        for y in range(int(0.87 * h), int(0.91 * h), 4):
            c = image.pixelColor(x, y)
            total += 1
            light += min(c.red(), c.green(), c.blue()) > 180
    assert light / total > 0.7  # the key's pale box over peaks' teal corner


def test_a_left_the_map_label_stays_off_the_minima_key(qtbot):
    """The README screenshot's case: Momentum from (0.3, 1.3) leaves peaks at the bottom, under the key's corner."""
    from engine.experiment import Experiment, SurfaceSettings
    from gui.views.surface_view import SurfaceView

    view = SurfaceView(Experiment(surface=SurfaceSettings(hyperparameters={"momentum": {"lr": 0.05}})))
    qtbot.addWidget(view)
    view.resize(1400, 900)
    view.show()
    view.set_checked(["sgd", "momentum", "adam"])
    view.steps.setValue(80)
    view.add_start((-0.35, -0.67))
    view.add_start((0.3, 1.3), keep_others=True)
    qtbot.waitUntil(lambda: any(p.diverged_at is not None for p in view.paths), timeout=30000)
    view.grab()  # text items place themselves when painted
    plot = view.contour.plot
    texts = [i for i in plot.items if isinstance(i, pg.TextItem) and i.isVisible()]
    labels = [i for i in texts if "left the map" in i.toPlainText()]
    assert labels and view.contour.key.isVisible()
    key = view.contour.key.sceneBoundingRect()
    for label in labels:
        assert "\n" in label.toPlainText()  # the long label is broken after the path's name
        assert not label.sceneBoundingRect().intersects(key), label.toPlainText()
        assert plot.vb.sceneBoundingRect().contains(label.sceneBoundingRect())
