import time

import pytest
from PySide6 import QtGui

from gui.views.training_view import TrainingView


@pytest.fixture
def view(qtbot):
    v = TrainingView()
    qtbot.addWidget(v)
    v.resize(1300, 800)
    v.show()
    yield v
    v.shutdown()


def small(view, points=60, epochs=3):
    view.form.points.setValue(points)
    view.form.epochs.setValue(epochs)
    view.form.optimizer.form.set_values({"lr": 0.1, "momentum": 0.5})


def wait_status(qtbot, view, *statuses, timeout=30000):
    qtbot.waitUntil(lambda: view.worker.snapshot().status in statuses and view._status in statuses, timeout=timeout)


def test_run_trains_in_the_background_and_draws(view, qtbot):
    small(view)
    qtbot.mouseClick(view.run_button, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton)
    wait_status(qtbot, view, "finished")
    s = view.worker.snapshot()
    assert [h.epoch for h in s.history] == [0, 1, 2, 3]
    xs, ys = view.twin.curves["train loss"].getData()
    assert len(xs) == 4 and ys[-1] < ys[0]
    assert view.side.currentWidget() is view.decision_canvas
    assert view.decision.image.image is not None and view.decision.image.image.shape[:2] == (150, 150)
    assert "finished" in view.status.text() and "epoch 3/3" in view.status.text()
    assert not view.run_button.isEnabled() and view.reset_button.isEnabled()


def test_step_one_epoch_then_continue(view, qtbot):
    small(view, epochs=4)
    view.step_epoch()
    qtbot.waitUntil(lambda: len(view.worker.snapshot().history) == 2 and view._status == "paused", timeout=20000)
    view.step_epoch()
    qtbot.waitUntil(lambda: len(view.worker.snapshot().history) == 3 and view._status == "paused", timeout=20000)
    view.run()
    wait_status(qtbot, view, "finished")
    assert len(view.worker.snapshot().history) == 5


def test_pause_resume_and_stop_take_effect_within_a_batch(view, qtbot):
    view.form.points.setValue(3000)
    view.form.epochs.setValue(500)
    view.run()
    qtbot.waitUntil(lambda: view.worker.snapshot().batch > 0, timeout=20000)
    start = time.perf_counter()
    view.pause()
    wait_status(qtbot, view, "paused", timeout=5000)
    assert time.perf_counter() - start < 2.0
    epochs = len(view.worker.snapshot().history)
    view.run()
    qtbot.waitUntil(lambda: len(view.worker.snapshot().history) > epochs, timeout=20000)
    view.stop()
    wait_status(qtbot, view, "stopped", timeout=5000)
    assert view.run_button.isEnabled()  # a new run can start (from the form)


def test_image_set_shows_confusion_matrix_and_samples(view, qtbot):
    view.form.dataset.setCurrentIndex(view.form.dataset.findData("digits"))
    assert view.form.layers.text() == "64,50,10"
    view.form.epochs.setValue(2)
    view.form.optimizer.set_current("adam", {"lr": 0.01})
    view.run()
    wait_status(qtbot, view, "finished")
    assert view.side.currentWidget() is view.image_canvas
    assert view.confusion.matrix.shape == (10, 10) and view.confusion.matrix.sum() == 359
    assert len(view.samples.rows) == 36
    assert "test accuracy" in [view.twin.legend.items[i][1].text for i in range(len(view.twin.legend.items))]


def test_bad_input_is_a_message_not_a_crash(view, qtbot, tmp_path):
    view.form.layers.setText("2,x,3")
    assert view.error.isVisible() and "--layers" in view.error.text()
    assert not view.run_button.isEnabled()
    view.form.dataset.setCurrentIndex(view.form.dataset.findData("mnist"))
    view.form.folder.setText(str(tmp_path))
    assert not view.error.isVisible()
    view.run()
    qtbot.waitUntil(lambda: view.worker.snapshot().status == "error", timeout=10000)
    qtbot.waitUntil(lambda: view.error.isVisible(), timeout=3000)
    assert "not found" in view.error.text()


def test_divergence_is_shown(view, qtbot):
    small(view, epochs=20)
    view.form.l2.setValue(1.0)
    view.form.optimizer.form.set_values({"lr": 10.0})
    view.run()
    wait_status(qtbot, view, "diverged")
    assert "Diverged" in view.error.text()


def test_cuda_choice_is_disabled_without_a_gpu(view):
    import torch

    item = view.form.device.model().item(1)
    assert item.isEnabled() == torch.cuda.is_available()


def test_closing_during_training_is_clean(qtbot):
    v = TrainingView()
    v.form.points.setValue(3000)
    v.form.epochs.setValue(1000)
    v.run()
    qtbot.waitUntil(lambda: v.worker.snapshot().batch > 0, timeout=20000)
    start = time.perf_counter()
    v.shutdown()
    assert time.perf_counter() - start < 3.0 and not v.thread.isRunning()


def test_charts_export(view, qtbot, tmp_path):
    small(view)
    view.run()
    wait_status(qtbot, view, "finished")
    files = {f.name for f in view.charts.export_all(tmp_path)}
    assert {"loss_accuracy.png", "loss_accuracy.svg", "loss_accuracy.csv", "decision_regions.png"} <= files
    assert "confusion_matrix.png" not in files  # not shown for a 2-D data set
    assert QtGui.QImage(str(tmp_path / "loss_accuracy.png")).width() >= 800
    header = (tmp_path / "loss_accuracy.csv").read_text().splitlines()[0]
    assert header.startswith("epoch,train_loss")
