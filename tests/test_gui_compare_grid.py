"""The comparison's small multiples in the window: readable panels, click to enlarge, exported with the rest."""

import pytest
from PySide6 import QtCore
from pytestqt.qtbot import QtBot

from gui.views.main_window import MainWindow


@pytest.fixture
def window(qtbot: QtBot, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    w.runner.shutdown()


def _run_3x2(window, qtbot):
    c = window.compare
    c.base_form.points.setValue(60)
    c.base_form.epochs.setValue(3)
    c.field1.setCurrentText("momentum")
    c.values1.setText("0,0.5,0.9")
    c.field2.setCurrentText("lr")
    c.values2.setText("0.1,0.01")
    c.seeds.setText("1,2")
    with qtbot.waitSignal(c.finished, timeout=60000):
        c.start()
    window.tabs.setCurrentWidget(c)
    return c


def test_grid_panels_are_readable_enlarge_on_click_and_export(window, qtbot, tmp_path):
    c = _run_3x2(window, qtbot)
    p = c.panels
    p.tabs.setCurrentIndex(1)  # Small multiples
    qtbot.wait(100)
    assert len(c.grid_plots) == 6
    for plot in c.grid_plots:
        assert plot.sceneBoundingRect().height() >= 120
        curves = [i for i in plot.listDataItems() if i.yData is not None and len(i.yData)]
        assert curves, plot.titleLabel.text  # every cell has its mean curve
    assert {k for k in p.grid_cells} == {
        (f"momentum={m}", f"lr={lr}") for m in ("0", "0.5", "0.9") for lr in (0.1, 0.01)
    }
    assert all(s["band"] is not None for cell in p.grid_cells.values() for s in cell)  # two seeds: a band each

    target = c.grid_plots[3]
    pos = p.grid_canvas.mapFromScene(target.sceneBoundingRect().center().toPoint())
    qtbot.mouseClick(p.grid_canvas.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: p.grid_stack.currentIndex() == 1, timeout=2000)
    big = p.enlarged_chart
    key = list(p.grid_charts)[3]
    assert big.plot.titleLabel.text.startswith(f"{key[0]} · {key[1]}")
    assert len(big.curves) == 1 and len(big.bands) == 1
    assert big.plot.sceneBoundingRect().height() > 2 * target.sceneBoundingRect().height()
    p.grid_back.click()
    assert p.grid_stack.currentIndex() == 0

    p.tabs.setCurrentIndex(0)  # the grid is exported even while its tab is hidden
    files = {f.name for f in window.export_all(tmp_path / "all")}
    assert {"compare_grid.png", "compare_grid.svg", "compare_grid.csv", "compare_loss.png"} <= files
    from PySide6 import QtGui

    image = QtGui.QImage(str(tmp_path / "all" / "compare_grid.png"))
    assert image.width() >= 2 * 200 and image.height() >= 3 * 150
