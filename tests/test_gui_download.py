"""The window's Download offer: only on a click, a progress bar with Cancel, then the data set loads. No network."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6 import QtCore
from test_download import FakeResponse, fake_source

from gui.views.compare_view import CompareView
from gui.views.training_view import TrainingView

LEFT = QtCore.Qt.MouseButton.LeftButton


class SlowResponse(FakeResponse):
    """Hands out 700 bytes per read, and waits while ``gate`` is closed: the progress can be watched."""

    def __init__(self, data, gate: threading.Event):
        super().__init__(data)
        self.gate = gate

    def read(self, size=-1):
        self.gate.wait()
        time.sleep(0.002)
        return super().read(min(size, 700) if size > 0 else 700)


@pytest.fixture
def view(qtbot):
    v = TrainingView()
    qtbot.addWidget(v)
    v.resize(1300, 800)
    v.show()
    yield v
    v.shutdown()


def missing_mnist(view, qtbot, folder):
    view.form.dataset.setCurrentIndex(view.form.dataset.findData("mnist"))
    view.form.folder.setText(str(folder))
    view.form.layers.setText("784,5,10")
    qtbot.mouseClick(view.run_button, LEFT)
    qtbot.waitUntil(lambda: view.status == "error", timeout=10000)


def test_download_button_progress_then_the_data_set_loads(view, qtbot, tmp_path, monkeypatch):
    opener, asked = fake_source(monkeypatch)
    gate = threading.Event()
    view.download.opener = lambda url, timeout: SlowResponse(opener(url, timeout).getvalue(), gate)
    folder = tmp_path / "data"
    missing_mnist(view, qtbot, folder)
    bar = view.download
    assert "not found" in view.error.text()
    assert bar.isVisible() and bar.button.isVisible() and bar.button.text() == "Download"
    assert str(folder) in bar.label.text() and not bar.progress.isVisible()
    assert asked == []  # nothing downloads unless the user clicks

    qtbot.mouseClick(bar.button, LEFT)
    assert bar.progress.isVisible() and bar.cancel_button.isVisible() and not bar.button.isVisible()
    gate.set()
    qtbot.waitUntil(lambda: 0 < bar.progress.value() < bar.progress.maximum(), timeout=10000)
    assert "Downloading train-images-idx3-ubyte.gz (1 of 4)" in bar.label.text()
    seen = bar.progress.value()
    qtbot.waitUntil(lambda: bar.progress.value() > seen or "(2 of 4)" in bar.label.text(), timeout=10000)

    qtbot.waitUntil(lambda: "downloaded into" in bar.label.text(), timeout=20000)
    assert len(asked) == 4 and not bar.progress.isVisible() and not bar.cancel_button.isVisible()
    # afterwards the data set loads by itself: the error is gone and the data line names the folder
    qtbot.waitUntil(lambda: view.status == "idle" and view._job is None, timeout=20000)
    assert not view.error.isVisible() and str(folder) in view.data_label.text()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ]
    )


def test_cancel_keeps_nothing_and_offers_again(view, qtbot, tmp_path, monkeypatch):
    opener, _ = fake_source(monkeypatch, images=300)
    gate = threading.Event()
    gate.set()
    view.download.opener = lambda url, timeout: SlowResponse(opener(url, timeout).getvalue(), gate)
    folder = tmp_path / "data"
    missing_mnist(view, qtbot, folder)
    bar = view.download
    qtbot.mouseClick(bar.button, LEFT)
    qtbot.waitUntil(lambda: bar.progress.value() > 0, timeout=10000)
    qtbot.mouseClick(bar.cancel_button, LEFT)
    qtbot.waitUntil(lambda: "cancelled" in bar.label.text(), timeout=10000)
    assert bar.button.isVisible() and not bar.progress.isVisible()
    assert list(folder.iterdir()) == []
    assert view.status == "error"  # still without data: nothing pretends otherwise


def test_a_bad_checksum_is_shown_in_the_bar(view, qtbot, tmp_path, monkeypatch):
    fake_source(monkeypatch)
    view.download.opener = lambda url, timeout: FakeResponse(b"<html>moved</html>")
    missing_mnist(view, qtbot, tmp_path)
    qtbot.mouseClick(view.download.button, LEFT)
    qtbot.waitUntil(lambda: "failed" in view.download.label.text(), timeout=10000)
    assert "checksum" in view.download.label.text() and view.download.button.text() == "Try again"


def test_other_errors_and_other_data_sets_get_no_offer(view, qtbot, tmp_path):
    view.form.dataset.setCurrentIndex(view.form.dataset.findData("csv"))
    view.form.folder.setText(str(tmp_path / "nope.csv"))
    view.form.target.setText("label")
    qtbot.mouseClick(view.run_button, LEFT)
    qtbot.waitUntil(lambda: view.status == "error", timeout=10000)
    assert not view.download.isVisible()


def test_the_comparisons_base_form_offers_it_too(qtbot, tmp_path, monkeypatch):
    opener, asked = fake_source(monkeypatch)
    view = CompareView()
    qtbot.addWidget(view)
    view.confirm_slow = lambda parent, message: True
    view.show()
    view.download.opener = opener
    form = view.base_form
    form.dataset.setCurrentIndex(form.dataset.findData("mnist"))
    form.folder.setText(str(tmp_path))
    form.layers.setText("784,5,10")
    form.epochs.setValue(1)
    view.values1.setText("0,0.5")
    with qtbot.waitSignal(view.finished, timeout=10000):
        qtbot.mouseClick(view.run_button, LEFT)
    assert view.download.isVisible() and asked == []
    qtbot.mouseClick(view.download.button, LEFT)
    qtbot.waitUntil(lambda: "downloaded into" in view.download.label.text(), timeout=10000)
    with qtbot.waitSignal(view.finished, timeout=30000) as done:
        qtbot.mouseClick(view.run_button, LEFT)
    assert done.args == ["finished"] and len(view.results) == 2
    view.shutdown()
