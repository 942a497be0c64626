"""Chart exports (gui/charts/export.py, ChartSet): failures raise an OSError naming the path; files appear whole."""

import os

import pyqtgraph as pg
import pytest
from PySide6 import QtGui, QtSvg, QtWidgets

from engine.errors import UserError
from gui.charts import export
from gui.charts.chart_set import ChartSet
from gui.charts.export import export_csv, export_png, export_svg


@pytest.fixture
def charts(qtbot):
    """A ChartSet with one visible line chart, 'loss'."""
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.resize(640, 420)
    widget.plot([0, 1, 2, 3], [3.0, 2.0, 1.5, 1.2], pen="b")
    widget.show()
    qtbot.waitExposed(widget)
    chart_set = ChartSet(widget)
    chart_set.add("loss", widget.getPlotItem(), lambda: (["epoch", "loss"], [[0, 3.0], [1, 2.0]]))
    return chart_set


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("suffix", ["png", "svg", "csv"])
def test_export_to_a_missing_folder_raises_naming_the_path(charts, tmp_path, suffix):
    """The window's right-click export used to say nothing when QImage.save returned False."""
    target = tmp_path / "missing" / f"loss.{suffix}"
    with pytest.raises(OSError) as caught:
        charts.export("loss", target)
    assert str(target) in caught.value.strerror and "does not exist" in caught.value.strerror
    assert caught.value.filename == str(target)
    assert not target.parent.exists()


@pytest.mark.parametrize("suffix", ["png", "svg", "csv"])
def test_export_into_a_file_or_onto_a_folder_raises(charts, tmp_path, suffix):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(OSError, match="is a file, not a folder"):
        charts.export("loss", blocker / f"loss.{suffix}")
    folder = tmp_path / f"loss.{suffix}"
    folder.mkdir()
    with pytest.raises(OSError, match="it is a folder"):
        charts.export("loss", folder)


def test_export_to_an_unwritable_folder_raises(charts, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can write into read-only folders")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OSError, match="is not writable"):
            charts.export("loss", locked / "loss.png")
    finally:
        locked.chmod(0o700)


def test_exports_write_whole_files_and_leave_no_temporary_ones(charts, tmp_path):
    png = charts.export("loss", tmp_path / "loss.png")
    svg = charts.export("loss", tmp_path / "loss.svg")
    csv = charts.export("loss", tmp_path / "loss.csv")
    assert QtGui.QImage(str(png)).width() >= 800
    assert QtSvg.QSvgRenderer(str(svg)).isValid()
    assert csv.read_text().splitlines() == ["epoch,loss", "0,3.0", "1,2.0"]
    assert leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="unknown export format"):
        charts.export("loss", tmp_path / "loss.bmp")


def test_a_failed_png_encode_leaves_the_old_file_untouched(charts, tmp_path, monkeypatch):
    target = tmp_path / "loss.png"
    target.write_bytes(b"old picture")
    monkeypatch.setattr(QtGui.QImage, "save", lambda self, *args: False)  # what Qt does on failure: no exception
    with pytest.raises(OSError, match="could not encode"):
        export_png(charts.charts["loss"][0], target)
    assert target.read_bytes() == b"old picture" and leftovers(tmp_path) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "table.csv"
    target.write_text("old")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError) as caught:
        export_csv(["a"], [[1]], target)
    assert caught.value.strerror == f"cannot write {target}: No space left on device"
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_an_existing_file_is_replaced_and_keeps_its_permissions(charts, tmp_path):
    target = tmp_path / "loss.svg"
    target.write_text("old")
    target.chmod(0o640)
    export_svg(charts.charts["loss"][0], target)
    assert target.read_bytes().startswith(b"<?xml") and (target.stat().st_mode & 0o777) == 0o640


def test_export_all_into_a_folder_it_cannot_create_raises_naming_it(charts, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(OSError) as caught:
        charts.export_all(blocker / "charts")
    assert caught.value.strerror.startswith(f"cannot create folder {blocker / 'charts'}")
    written = charts.export_all(tmp_path / "all")
    assert sorted(p.name for p in written) == ["loss.csv", "loss.png", "loss.svg"] and leftovers(tmp_path / "all") == []


@pytest.mark.parametrize(
    "error",
    [OSError(13, "cannot write /x/loss.png: folder /x is not writable", "/x/loss.png"), UserError("bad", "layers")],
)
def test_the_right_click_export_reports_every_failure_in_a_message_box(charts, tmp_path, monkeypatch, error):
    shown = []
    target = str(tmp_path / "loss")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (target, "PNG image (*.png)"))
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda parent, title, text: shown.append((title, text)))

    def fail(name, path):
        raise error

    monkeypatch.setattr(charts, "export", fail)
    charts.ask_and_export("loss", "png")
    reason = error.message if isinstance(error, UserError) else error.strerror
    assert shown == [("Export failed", f"Could not write {target}.png:\n{reason}")]


def test_the_right_click_export_of_a_real_missing_folder_shows_the_reason(charts, tmp_path, monkeypatch):
    shown = []
    target = str(tmp_path / "gone" / "loss.png")
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (target, ""))
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    charts.ask_and_export("loss", "png")
    assert len(shown) == 1 and "does not exist" in shown[0] and target in shown[0]


def test_check_target_refuses_an_empty_name():
    with pytest.raises(OSError, match="no file name"):
        export.check_target("")
