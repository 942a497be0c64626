import time

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from engine.experiment import Experiment
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
    qtbot.waitUntil(lambda: view.status in statuses and view._job is None, timeout=timeout)


def drawn_epochs(view):
    xs = view.twin.curves["train loss"].getData()[0]
    return [] if xs is None else [int(x) for x in xs]


def test_run_trains_in_the_background_and_draws(view, qtbot):
    small(view)
    qtbot.mouseClick(view.run_button, QtCore.Qt.MouseButton.LeftButton)
    wait_status(qtbot, view, "finished")
    assert [h.epoch for h in view.snapshot.history] == [0, 1, 2, 3]
    xs, ys = view.twin.curves["train loss"].getData()
    assert len(xs) == 4 and ys[-1] < ys[0]
    assert view.side.currentWidget() is view.decision_canvas
    assert view.decision.image.image is not None and view.decision.image.image.shape[:2] == (150, 150)
    assert "finished" in view.status_label.text() and "epoch 3/3" in view.status_label.text()
    assert not view.run_button.isEnabled() and view.reset_button.isEnabled()
    # the run is in the experiment's results (what a save keeps)
    assert [r["epoch"] for r in view.experiment.results.training.history] == [0, 1, 2, 3]


def test_step_one_epoch_then_continue(view, qtbot):
    small(view, epochs=4)
    view.step_epoch()
    qtbot.waitUntil(lambda: drawn_epochs(view) == [0, 1] and view.status == "paused", timeout=20000)
    view.step_epoch()
    qtbot.waitUntil(lambda: drawn_epochs(view) == [0, 1, 2] and view.status == "paused", timeout=20000)
    view.run()
    wait_status(qtbot, view, "finished")
    assert drawn_epochs(view) == [0, 1, 2, 3, 4]


def test_pause_resume_and_stop_take_effect_within_a_batch(view, qtbot):
    view.form.points.setValue(3000)
    view.form.epochs.setValue(500)
    view.run()
    qtbot.waitUntil(lambda: view.snapshot is not None and view.snapshot.batch > 0, timeout=20000)
    start = time.perf_counter()
    view.pause()
    wait_status(qtbot, view, "paused", timeout=5000)
    assert time.perf_counter() - start < 2.0
    epochs = view.snapshot.records
    view.run()
    qtbot.waitUntil(lambda: view.snapshot.records > epochs, timeout=20000)
    view.stop()
    wait_status(qtbot, view, "stopped", timeout=5000)
    assert view.run_button.isEnabled()  # a new run can start (from the form)


def test_rapid_run_stop_is_honoured_every_time(view, qtbot):
    """100 Run→Stop pairs as fast as a user can click: every Stop ends its run, none keeps training."""
    view.form.points.setValue(3000)
    view.form.epochs.setValue(1000)
    for i in range(100):
        view.run()
        view.stop()
        if i % 10 == 0:
            qtbot.wait(1)  # let some stops land while the data load, some while training
    wait_status(qtbot, view, "stopped", timeout=10000)
    assert view.trainer is None and not view.runner.running("training")
    drawn = view.snapshot.records if view.snapshot else 0
    qtbot.wait(300)
    assert (view.snapshot.records if view.snapshot else 0) == drawn and view.status == "stopped"


def test_stop_during_data_loading_is_not_lost(view, qtbot, monkeypatch):
    import engine.training.config as config

    slow = config.TrainConfig.load_data

    def load_slowly(self, *a, **k):
        time.sleep(0.5)
        return slow(self, *a, **k)

    monkeypatch.setattr(config.TrainConfig, "load_data", load_slowly)
    small(view, epochs=50)
    view.run()
    qtbot.waitUntil(lambda: view.status == "loading", timeout=3000)
    view.stop()
    wait_status(qtbot, view, "stopped", timeout=5000)
    assert view.trainer is None
    assert view.experiment.results.training is None  # nothing was trained


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


def test_bad_input_names_the_field_in_the_windows_words(view, qtbot, tmp_path):
    view.form.layers.setText("2,x,3")
    assert view.error.isVisible() and view.error.text().startswith("Layers:")
    assert "--" not in view.error.text()
    assert "d00000" in view.form.layers.styleSheet()  # the control is outlined
    assert not view.run_button.isEnabled()
    view.form.layers.setText("2,50,3")
    assert not view.error.isVisible() and view.form.layers.styleSheet() == ""
    view.form.dataset.setCurrentIndex(view.form.dataset.findData("mnist"))
    view.form.folder.setText(str(tmp_path))
    view.run()
    wait_status(qtbot, view, "error", timeout=10000)
    assert view.error.isVisible() and "not found" in view.error.text()
    assert "--data-dir" not in view.error.text() and "--download" not in view.error.text()


def test_divergence_is_shown(view, qtbot):
    small(view, epochs=20)
    view.form.l2.setValue(1.0)
    view.form.optimizer.form.set_values({"lr": 10.0})
    view.run()
    wait_status(qtbot, view, "diverged")
    assert "Diverged" in view.error.text()
    # the charts show where: the finite start is drawn as a dot, and a red line marks the divergence
    xs, ys = view.twin.curves["train loss"].getData()
    assert xs is not None and np.isfinite(ys).any()
    assert view.twin.curves["train loss"].opts["symbol"] == "o"
    assert view.twin.diverged.isVisible() and view.twin.diverged.value() == view.snapshot.diverged_at


def test_form_rows_are_labelled(view):
    labels = {w: view.form._data_form.labelForField(w).text() for w in (view.form.classes, view.form.points)}
    assert labels == {view.form.classes: "arms", view.form.points: "points per arm"}


def test_cuda_choice_is_disabled_without_a_gpu(view):
    import torch

    item = view.form.device.model().item(1)
    assert item.isEnabled() == torch.cuda.is_available()


def test_closing_during_training_ends_within_a_second(qtbot):
    v = TrainingView()
    v.form.points.setValue(3000)
    v.form.epochs.setValue(1000)
    v.run()
    qtbot.waitUntil(lambda: v.snapshot is not None and v.snapshot.batch > 0, timeout=20000)
    start = time.perf_counter()
    assert v.shutdown(timeout=1.0)
    assert time.perf_counter() - start < 1.0


def test_opened_result_is_drawn_without_training(qtbot):
    first = TrainingView()
    qtbot.addWidget(first)
    small(first)
    first.run()
    wait_status(qtbot, first, "finished")
    exp = Experiment.model_validate(first.experiment.model_dump())
    again = TrainingView(exp)
    qtbot.addWidget(again)
    assert drawn_epochs(again) == [0, 1, 2, 3] and again.status == "finished" and again.trainer is None
    assert "restored" in again.status_label.text() and "epoch 3/3" in again.status_label.text()
    # the decision regions come back from the saved weights: the same picture as after training
    qtbot.waitUntil(lambda: again.side.currentWidget() is again.decision_canvas, timeout=10000)
    qtbot.waitUntil(lambda: again.decision.image.image is not None, timeout=10000)
    import numpy as np

    assert np.array_equal(again.decision.image.image, first.decision.image.image)
    first.shutdown()
    again.shutdown()


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


def test_a_run_that_cannot_fit_is_refused_before_it_starts(view, qtbot):
    view.form.layers.setText("2,100000,100000,3")
    view.run()
    assert view.error.isVisible() and view.error.text().startswith("Layers: this network needs about")
    assert "GB" in view.error.text() and view._job is None and view.status == "idle"


def test_a_slow_run_asks_first_and_can_be_declined(view, qtbot):
    asked = []
    view.confirm_slow = lambda parent, message: asked.append(message) or False
    view.form.points.setValue(20000)
    view.form.epochs.setValue(100000)
    view.run()
    assert asked and "will take about" in asked[0]
    assert view._job is None and view.status == "idle"
    view.confirm_slow = lambda parent, message: True  # "Start anyway"
    view.run()
    qtbot.waitUntil(lambda: view.status == "running", timeout=20000)
    view.stop()
    wait_status(qtbot, view, "stopped", timeout=5000)


def test_settings_changed_during_a_run_start_a_fresh_run(view, qtbot):
    view.form.points.setValue(3000)
    view.form.epochs.setValue(500)
    view.run()
    qtbot.waitUntil(lambda: view.status == "running", timeout=20000)
    view.form.optimizer.form.editors["lr"].setValue(0.0123)
    view.pause()
    qtbot.waitUntil(lambda: view._job is None, timeout=5000)
    assert view.trainer is None  # the paused run had the old rate: it is not continued
    view.form.epochs.setValue(1)
    view.run()
    wait_status(qtbot, view, "finished")
    assert view.trainer.config.optimizer_params["lr"] == pytest.approx(0.0123)


def test_speed_control_defaults_to_full_speed(view):
    assert view.speed.currentText() == "as fast as possible" and view.pace.epochs_per_second is None
    assert [view.speed.itemText(i) for i in range(1, view.speed.count())] == [
        "100 epochs/s",
        "30 epochs/s",
        "10 epochs/s",
        "3 epochs/s",
        "1 epochs/s",
    ]
    assert view.speed.toolTip()
    view.speed.setCurrentIndex(3)
    assert view.pace.epochs_per_second == 10
    assert "speed" not in str(view.experiment.training)  # a view setting, not part of the experiment file


def test_a_slowed_run_draws_the_decision_regions_of_every_epoch(view, qtbot, monkeypatch):
    small(view, epochs=4)
    view.set_speed(5)
    titles = []
    draw = view._on_snapshot

    def spy(s):
        draw(s)
        title = view.panels.decision_plot.titleLabel.text
        if not titles or titles[-1] != title:
            titles.append(title)

    monkeypatch.setattr(view, "_on_snapshot", spy)
    start = time.perf_counter()
    view.run()
    wait_status(qtbot, view, "finished")
    assert time.perf_counter() - start >= 0.6  # three waits of 0.2 s at least
    epochs = [int(t.rsplit(" ", 1)[-1]) for t in titles if "after epoch" in t]
    assert [e for e in epochs if e > 0] == [1, 2, 3, 4]  # every epoch drawn, in order


def test_changing_the_speed_during_a_run_applies_at_once(view, qtbot):
    small(view, epochs=30)
    view.set_speed(1)
    view.run()
    qtbot.waitUntil(lambda: view.snapshot is not None and view.snapshot.records >= 2, timeout=20000)
    start = time.perf_counter()
    view.speed.setCurrentIndex(0)  # as fast as possible
    wait_status(qtbot, view, "finished")
    assert time.perf_counter() - start < 5.0  # 28 more epochs at 1 epoch/s would take 28 s


def test_iris_shows_the_confusion_matrix_without_test_images(view, qtbot):
    view.form.dataset.setCurrentIndex(view.form.dataset.findData("iris"))
    view.form.epochs.setValue(2)
    view.form.optimizer.set_current("adam", {"lr": 0.01})
    view.run()
    wait_status(qtbot, view, "finished")
    assert view.side.currentWidget() is view.image_canvas
    assert view.snapshot.visuals.samples is None
    matrix = view.confusion.matrix
    assert matrix.shape == (3, 3) and matrix.sum() == 30  # 20 % of iris's 150 rows are the test split
    panels = view.panels
    qtbot.waitUntil(lambda: panels.confusion_plot.height() > 0.9 * panels.image_canvas.height(), timeout=2000)
    assert not panels.samples_plot.isVisible()  # the test-image grid is for image data only
    view.form.dataset.setCurrentIndex(view.form.dataset.findData("digits"))  # image data brings the grid back
    view.run()
    wait_status(qtbot, view, "finished")
    assert panels.samples_plot.isVisible() and len(view.samples.rows) == 36
    qtbot.waitUntil(lambda: panels.samples_plot.height() > 0.3 * panels.image_canvas.height(), timeout=2000)
