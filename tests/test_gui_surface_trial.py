"""The surface tab after user trial 38: tuned races keep later edits, the map form checks its input, a map cell
joins the race instead of replacing it, and the first view races each optimizer at its own default rate."""

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from engine.optimizers import OPTIMIZERS
from gui.views.field_errors import HIGHLIGHT
from gui.views.map_dialog import MapDialog
from gui.views.tune_dialog import SurfaceTuneDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def view(shown_surface):
    return shown_surface()


def settle(view, qtbot, check):
    qtbot.waitUntil(lambda: check() and not view._debounce.isActive() and view._job is None, timeout=10000)


def test_the_first_view_races_each_optimizer_at_its_own_default_and_every_path_moves(view):
    ids = view.checked_optimizers()
    assert {p.optimizer: p.params["lr"] for p in view.paths} == {o: OPTIMIZERS.get(o).defaults()["lr"] for o in ids}
    (xlo, xhi), _ = view.scene.bounds
    for p in view.paths:
        moved = float(np.linalg.norm(p.points[-1] - p.points[0]))
        assert moved > 0.05 * (xhi - xlo), p.optimizer  # a visible path, Adam at 0.001 included
        assert p.diverged_at is None and np.isfinite(p.losses).all()  # none leaves the map
        assert p.losses[-1] < p.losses[0]


def test_race_at_the_tuned_rates_keeps_what_changed_since_and_says_so(view, qtbot):
    c = view.controls
    c.set_checked(["sgd", "adam"])
    c.steps.setValue(50)
    settle(view, qtbot, lambda: len(view.paths) == 2)
    c.tune_rates.click()
    (dialog,) = view.findChildren(SurfaceTuneDialog)
    dialog.lr_min.setValue(0.001)
    dialog.lr_max.setValue(0.3)
    dialog.points.setValue(6)
    with qtbot.waitSignal(dialog.tuned, timeout=20000):
        dialog.tune_button.click()
    best = dialog.result.best
    momentum_lr = c.params_of("momentum")["lr"]
    # the teacher changes the surface after tuning
    c.function.setCurrentIndex(c.function.findData("rosenbrock"))
    c.steps.setValue(200)
    c.set_checked(["sgd", "adam", "momentum"])
    dialog.race_button.click()
    settle(view, qtbot, lambda: len(view.paths) == 3)
    assert c.function.currentData() == "rosenbrock" and c.steps.value() == 200
    assert c.checked_optimizers() == ["sgd", "momentum", "adam"]
    assert {p.optimizer: p.params["lr"] for p in view.paths} == pytest.approx({**best, "momentum": momentum_lr})
    text = dialog.status.text()
    assert "Tuned on Peaks, 50 steps" in text and "the surface is now Rosenbrock" in text
    assert "the steps are now 200" in text and "tune again" in text and "Momentum (lr 0.01)" in text
    dialog.race_button.click()
    assert dialog.status.text() == text and text.count("Racing at the tuned rates") == 1
    dialog.close()


def map_dialog(view, qtbot) -> MapDialog:
    view.function.setCurrentIndex(view.function.findData("bowl"))
    view.set_checked(["sgd", "momentum", "adam"])
    settle(view, qtbot, lambda: len(view.paths) == 3 and view.surface.id == "bowl")
    view.optimizers.setCurrentRow(1)  # Momentum's form
    view.controls.map_button.click()
    (dialog,) = view.findChildren(MapDialog)
    dialog.resize(800, 760)
    qtbot.waitExposed(dialog)
    dialog.optimizer.setCurrentIndex(dialog.optimizer.findData("momentum"))
    dialog.x_axis.log.setChecked(False)
    dialog.x_axis.low.setValue(0.2)
    dialog.x_axis.high.setValue(1.8)
    dialog.x_axis.n.setValue(5)
    dialog.y_axis.low.setValue(0.0)
    dialog.y_axis.high.setValue(0.8)
    dialog.y_axis.n.setValue(3)
    return dialog


def compute(dialog, qtbot):
    with qtbot.waitSignal(dialog.finished_map, timeout=20000) as done:
        dialog.run_button.click()
    assert done.args == ["finished"]


def shown_error(dialog) -> tuple[str, str]:
    """(the error text, its colour) as drawn: the label's palette colour after the style sheet applies."""
    dialog.error.ensurePolished()
    return dialog.error.text(), dialog.error.palette().color(QtGui.QPalette.ColorRole.WindowText).name()


def test_the_map_form_refuses_what_the_command_line_refuses_in_red_and_marks_the_old_map(view, qtbot, capfd):
    dialog = map_dialog(view, qtbot)
    compute(dialog, qtbot)
    assert dialog.chart.plot.titleLabel.text == "Momentum: final loss over lr × momentum"  # as the CLI titles it
    assert dialog.chart.image.opacity() == 1.0
    drawn = dialog.result
    dialog.x_axis.low.setValue(2.0)  # above high
    text, colour = shown_error(dialog)
    assert dialog.error.isVisible() and colour == "#b00000"
    assert text == "x axis low: low 2 is above high 1.8; low must be below high"
    assert dialog.x_axis.low.styleSheet() == HIGHLIGHT
    assert dialog.chart.plot.titleLabel.text.startswith("out of date:") and dialog.chart.image.opacity() < 1
    dialog.run_button.click()  # refused: nothing starts, the old map stays marked
    assert dialog._job is None and dialog.result is drawn
    dialog.x_axis.low.setValue(0.0)
    dialog.x_axis.log.setChecked(True)  # log from 0: numpy's geomspace would raise
    dialog.run_button.click()
    assert shown_error(dialog)[0].startswith("x axis low: a log axis needs low above 0, not 0")
    dialog.x_axis.log.setChecked(False)
    dialog.run_button.click()
    assert shown_error(dialog)[0] == "x axis low: low 0 is out of range: Momentum's lr must be in (0, 10]"
    dialog.x_axis.low.setValue(0.2)
    dialog.y_axis.high.setValue(1.5)  # momentum must stay below 1
    dialog.run_button.click()
    text, colour = shown_error(dialog)
    assert (
        text == "y axis high: high 1.5 is out of range: Momentum's momentum must be in [0, 1)" and colour == "#b00000"
    )
    assert dialog.y_axis.high.styleSheet() == HIGHLIGHT and dialog.x_axis.low.styleSheet() == ""
    assert "Traceback" not in capfd.readouterr().err
    dialog.y_axis.high.setValue(0.8)
    assert not dialog.error.isVisible() and dialog.y_axis.high.styleSheet() == ""
    assert dialog.chart.image.opacity() == 1.0  # the form is the map's again
    dialog.close()


def test_a_map_cell_joins_the_race_is_outlined_and_can_be_put_back(view, qtbot):
    dialog = map_dialog(view, qtbot)
    compute(dialog, qtbot)
    sgd, adam = view.controls.params_of("sgd"), view.controls.params_of("adam")
    before = view.controls.params_of("momentum")
    from tests.test_map_gui import click_cell

    click_cell(qtbot, dialog, 2, 1)
    settle(view, qtbot, lambda: view.paths and view.paths[1].params["lr"] == pytest.approx(dialog.result.xs[1]))
    lr, m = dialog.result.xs[1], dialog.result.ys[2]
    assert view.checked_optimizers() == ["sgd", "momentum", "adam"]  # the race stays
    assert view.controls.params_of("sgd") == sgd and view.controls.params_of("adam") == adam
    momentum = view.controls.params_of("momentum")
    assert momentum["lr"] == pytest.approx(lr) and momentum["momentum"] == pytest.approx(m)
    assert view.opt_form.values()["lr"] == pytest.approx(lr)  # the form shown is Momentum's: it shows the cell
    assert dialog.status.text().startswith(
        f"Momentum set to lr {lr:.3g}, momentum {m:.3g} from the map (was lr 0.01, momentum 0.9). "
        "SGD and Adam race on unchanged."
    )
    xs, ys = dialog.marker.getData()
    assert list(xs) == [0.5, 1.5, 1.5, 0.5, 0.5] and list(ys) == [1.5, 1.5, 2.5, 2.5, 1.5]  # cell (2, 1)
    assert dialog.marker.isVisible() and dialog.marker.opts["pen"].color().name() == "#ffffff"
    image = dialog.canvas.grab().toImage()
    edge = dialog.canvas.mapFromScene(dialog.chart.plot.vb.mapViewToScene(QtCore.QPointF(1.0, 2.5)))
    assert image.pixelColor(edge.x(), edge.y()).lightness() > 200  # the white outline is painted there
    assert dialog.undo_button.isEnabled()
    dialog.undo_button.click()
    settle(view, qtbot, lambda: view.paths and view.paths[1].params["lr"] == pytest.approx(before["lr"]))
    assert view.controls.params_of("momentum") == before and view.checked_optimizers() == ["sgd", "momentum", "adam"]
    assert dialog.status.text() == "Momentum is back to lr 0.01, momentum 0.9, as before the map."
    assert len(dialog.marker.getData()[0] or []) == 0 and not dialog.undo_button.isEnabled()
    dialog.close()


def test_put_back_restores_every_optimizer_a_map_cell_was_opened_for(view, qtbot):
    from tests.test_map_gui import click_cell

    dialog = map_dialog(view, qtbot)
    before = {o: view.controls.params_of(o) for o in ("momentum", "sgd")}
    compute(dialog, qtbot)
    click_cell(qtbot, dialog, 2, 1)  # a Momentum cell
    settle(view, qtbot, lambda: view.controls.params_of("momentum") != before["momentum"])
    dialog.optimizer.setCurrentIndex(dialog.optimizer.findData("sgd"))  # then SGD's map, and one of its cells
    dialog.y_axis.field.setCurrentIndex(dialog.y_axis.field.findText("momentum"))
    dialog.y_axis.low.setValue(0.0)
    dialog.y_axis.high.setValue(0.5)
    compute(dialog, qtbot)
    click_cell(qtbot, dialog, 1, 1)
    settle(view, qtbot, lambda: view.controls.params_of("sgd") != before["sgd"])
    dialog.undo_button.click()
    settle(view, qtbot, lambda: all(view.controls.params_of(o) == p for o, p in before.items()))
    text = dialog.status.text()
    assert text.startswith("Momentum is back to") and "; SGD is back to" in text and text.endswith("as before the map.")
    dialog.close()
