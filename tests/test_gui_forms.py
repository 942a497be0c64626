"""Number fields keep exact values, typed settings survive an optimizer switch, the wheel scrolls forms."""

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from engine.optimizers import OPTIMIZERS
from gui.views.forms import ParamForm, RegistryPicker


def test_tiny_values_are_shown_and_kept_exactly(qtbot):
    form = ParamForm()
    qtbot.addWidget(form)
    form.set_entry(OPTIMIZERS.get("adam"), {"eps": 1e-8, "lr": 3e-4})
    assert form.values()["eps"] == 1e-8 and form.values()["lr"] == pytest.approx(3e-4)
    assert "1e-08" in form.editors["eps"].lineEdit().text()  # drawn in scientific notation, not 0.000000
    form.editors["eps"].lineEdit().setText("2.5e-9")
    form.editors["eps"].editingFinishedEvent()
    assert form.values()["eps"] == pytest.approx(2.5e-9, rel=1e-9)


def test_a_typed_learning_rate_survives_switching_optimizer(qtbot):
    picker = RegistryPicker(OPTIMIZERS, "Optimizer")
    qtbot.addWidget(picker)
    picker.form.editors["lr"].setValue(0.05)  # as a user would: the form marks it typed
    picker.form.editors["momentum"].setValue(0.7)
    picker.combo.setCurrentIndex(picker.combo.findData("adam"))
    values = picker.values()
    assert values["lr"] == pytest.approx(0.05)  # kept
    assert values["beta1"] == 0.9 and values["eps"] == 1e-8  # Adam's own defaults
    picker.combo.setCurrentIndex(picker.combo.findData("rmsprop"))
    assert picker.values()["lr"] == pytest.approx(0.05) and picker.values()["momentum"] == 0.0


def test_untouched_defaults_are_not_carried_over(qtbot):
    picker = RegistryPicker(OPTIMIZERS, "Optimizer")
    qtbot.addWidget(picker)
    picker.combo.setCurrentIndex(picker.combo.findData("adam"))
    assert picker.values()["lr"] == OPTIMIZERS.get("adam").defaults()["lr"]


def _wheel_down(widget):
    """Send one notch of the mouse wheel to ``widget`` (as the pointer over it would); returns nothing."""
    centre = QtCore.QPointF(widget.rect().center())
    event = QtGui.QWheelEvent(
        centre, widget.mapToGlobal(centre), QtCore.QPoint(), QtCore.QPoint(0, -120),
        QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier,
        QtCore.Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QtWidgets.QApplication.sendEvent(widget, event)


def test_the_wheel_over_an_unfocused_combo_scrolls_instead_of_changing_it(qtbot, tmp_path):
    from gui.views.main_window import MainWindow

    w = MainWindow(QtCore.QSettings(str(tmp_path / "w.ini"), QtCore.QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    w.tabs.setCurrentWidget(w.training)
    combo = w.training.form.optimizer.combo
    before = combo.currentData()
    for _ in range(3):
        _wheel_down(combo)
    assert combo.currentData() == before  # SGD did not become Adam
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus, timeout=2000)
    _wheel_down(combo)
    assert combo.currentData() != before  # a focused field still takes the wheel
    w.runner.shutdown()
