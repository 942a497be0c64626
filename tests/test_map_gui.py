"""The window's convergence maps and surface tuning: computed in the background, drawn, and a click opens a cell."""

import numpy as np
import pytest
from PySide6 import QtCore

from engine.experiment import Experiment, load_section
from engine.experiment_settings import ComparisonSpec
from engine.optimizers import optimizer_colour
from gui.views.compare_view import CompareView
from gui.views.map_dialog import MapDialog
from gui.views.tune_dialog import SurfaceTuneDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def surface(qtbot, shown_surface):
    v = shown_surface()
    v.function.setCurrentIndex(v.function.findData("bowl"))
    v.set_checked(["momentum"])
    qtbot.waitUntil(lambda: [p.optimizer for p in v.paths] == ["momentum"], timeout=10000)
    return v


def click_cell(qtbot, dialog, i, j):
    """Click the centre of cell (row i, column j) of the map as a user would (once it has been painted)."""
    dialog.canvas.viewport().repaint()
    qtbot.wait(50)
    image = dialog.chart.image
    scene = image.mapToScene(QtCore.QPointF(j + 0.5, i + 0.5))  # the image's own pixel coordinates
    pos = dialog.canvas.mapFromScene(scene)
    qtbot.mouseClick(dialog.canvas.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)


def test_surface_map_is_drawn_and_a_click_runs_that_cell(surface, qtbot):
    surface.controls.map_button.click()
    (dialog,) = surface.findChildren(MapDialog)
    dialog.resize(800, 700)
    qtbot.waitExposed(dialog)
    assert dialog.x_axis.field.currentData() == "lr" and dialog.y_axis.field.currentData() == "momentum"
    dialog.x_axis.log.setChecked(False)
    dialog.x_axis.low.setValue(0.2)
    dialog.x_axis.high.setValue(1.8)
    dialog.x_axis.n.setValue(5)
    dialog.y_axis.low.setValue(0.0)
    dialog.y_axis.high.setValue(0.8)
    dialog.y_axis.n.setValue(3)
    with qtbot.waitSignal(dialog.finished_map, timeout=20000) as done:
        dialog.run_button.click()
    assert done.args == ["finished"]
    result = dialog.result
    assert dialog.chart.image.image.shape == (3, 5)
    crosses_x, _ = dialog.chart.crosses.getData()
    assert len(crosses_x) == int((result.diverged_at >= 0).sum()) > 0  # lr 1.8 with momentum 0 diverges
    assert dialog.progress.value() == dialog.progress.maximum()
    with qtbot.waitSignal(surface.recomputed, timeout=10000):
        click_cell(qtbot, dialog, 2, 1)
    (path,) = surface.paths
    assert path.optimizer == "momentum"
    assert path.params["lr"] == pytest.approx(result.xs[1]) and path.params["momentum"] == pytest.approx(result.ys[2])
    dialog.close()


def test_surface_tuning_draws_the_sweep_and_races_at_the_tuned_rates(surface, qtbot):
    surface.set_checked(["sgd", "momentum"])
    qtbot.waitUntil(lambda: len(surface.paths) == 2, timeout=10000)
    surface.controls.tune_rates.click()
    (dialog,) = surface.findChildren(SurfaceTuneDialog)
    dialog.lr_min.setValue(0.01)
    dialog.lr_max.setValue(3.0)
    dialog.points.setValue(8)
    with qtbot.waitSignal(dialog.tuned, timeout=20000):
        dialog.tune_button.click()
    best = dialog.result.best
    lines = [
        i
        for i in dialog.chart.plot.listDataItems()
        if i.opts["pen"] is not None and i.xData is not None and len(i.xData) > 1
    ]
    assert {i.opts["pen"].color().name() for i in lines} == {optimizer_colour("sgd"), optimizer_colour("momentum")}
    with qtbot.waitSignal(surface.recomputed, timeout=10000):
        dialog.race_button.click()
    assert {p.optimizer: p.params["lr"] for p in surface.paths} == pytest.approx(best)
    assert surface.experiment.surface.tuning.points == 8
    dialog.close()


def training_map_dialog(qtbot, epochs: int):
    """Return (experiment, comparison view, its map window set to 3×2 cells) for a small spiral base."""
    exp = Experiment()
    exp.comparison = load_section(
        ComparisonSpec,
        {"base": {"points": 30, "layers": [2, 8, 3], "epochs": epochs, "optimizer": "sgd"}, "vary": []},
    )
    view = CompareView(exp)
    qtbot.addWidget(view)
    dialog = view.race.open_map()
    dialog.resize(800, 700)
    qtbot.waitExposed(dialog)
    dialog.x_axis.n.setValue(3)
    dialog.y_axis.n.setValue(2)
    return exp, view, dialog


def test_training_map_from_the_comparison_opens_a_cell_in_the_training_tab(qtbot):
    exp, view, dialog = training_map_dialog(qtbot, epochs=2)
    with qtbot.waitSignal(dialog.finished_map, timeout=30000):
        dialog.run_button.click()
    assert dialog.result.unit == "epoch" and np.isfinite(dialog.chart.image.image).all()
    click_cell(qtbot, dialog, 1, 2)
    params = exp.training.to_config().optimizer_params
    assert params["lr"] == pytest.approx(dialog.result.xs[2]) and params["momentum"] == pytest.approx(
        dialog.result.ys[1]
    )
    assert exp.training.epochs == 2 and exp.training.points == 30
    dialog.close()
    view.runner.shutdown()


def test_a_training_map_fills_in_while_it_trains_and_a_stopped_one_says_where_it_stopped(qtbot):
    _, view, dialog = training_map_dialog(qtbot, epochs=100000)
    dialog.run_button.click()
    title = dialog.chart.plot.titleLabel
    qtbot.waitUntil(lambda: "training, epoch" in title.text and int(title.text.split()[-3]) >= 2, timeout=30000)
    drawn = dialog.chart.image.image
    assert drawn.shape == (2, 3) and np.isfinite(drawn).all()  # every cell coloured by its latest epoch's loss
    assert title.text.endswith("of 100000")
    assert "latest loss" in dialog.chart.colorbar.getAxis("left").labelText  # not a final loss yet
    with qtbot.waitSignal(dialog.finished_map, timeout=30000) as stopped:
        dialog.stop_button.click()
    assert stopped.args == ["stopped"]
    assert "stopped at epoch" in title.text and "epoch it reached" in dialog.status.text()
    assert dialog.result is not None and np.isfinite(dialog.chart.image.image).all()  # what it reached stays
    dialog.close()
    view.runner.shutdown()


def test_a_refused_cell_is_said_in_the_status_and_qdialog_open_still_works(surface, qtbot):
    from engine.errors import UserError

    def refuse(settings):
        raise UserError("the surface tab is computing", "surface")

    dialog = MapDialog("surface", surface.controls.read_settings, refuse, surface)
    qtbot.addWidget(dialog)
    dialog.open()  # QDialog.open(): shown window-modal, not a cell
    assert dialog.isVisible() and dialog.windowModality() == QtCore.Qt.WindowModality.WindowModal
    dialog.resize(800, 700)
    qtbot.waitExposed(dialog)
    dialog.x_axis.n.setValue(3)
    dialog.y_axis.n.setValue(2)
    with qtbot.waitSignal(dialog.finished_map, timeout=20000):
        dialog.run_button.click()
    click_cell(qtbot, dialog, 1, 1)  # an exception here would fail the test (pytest-qt captures slot errors)
    assert dialog.status.text() == "This cell cannot be opened: the surface tab is computing"
    dialog.close()
