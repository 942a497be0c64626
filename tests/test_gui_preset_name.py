"""The comparison's preset box names the preset on show, however it was applied, until a field is edited."""

from PySide6 import QtCore

from engine.presets import PRESETS
from gui.views.main_window import MainWindow


def test_the_preset_box_names_the_applied_preset_until_an_edit(qtbot, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    compare = window.compare
    name = list(PRESETS)[1]
    compare._preset(compare.preset.findText(name))  # as the screenshot script and the menus apply one
    qtbot.wait(50)
    assert compare.preset.currentText() == name
    compare.values1.setText("0,0.9")  # edited by hand: no longer that preset
    qtbot.waitUntil(lambda: compare.preset.currentIndex() == 0, timeout=3000)
    window.runner.shutdown()
