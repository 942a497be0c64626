"""File → Export animation… in the window: the current view's state as GIF/MP4, with progress and Cancel."""

import av
import imageio.v3 as iio
import numpy as np
import pytest
from PySide6 import QtCore

from gui.views.main_window import MainWindow

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.surface.paths), timeout=10000)
    yield w
    w.runner.shutdown()


def export(dialog, qtbot, path, size=(320, 200), every=1):
    dialog.path.setText(str(path))
    dialog.width_box.setValue(size[0])
    dialog.height_box.setValue(size[1])
    dialog.every.setValue(every)
    with qtbot.waitSignal(dialog.accepted, timeout=60000):
        dialog.start_button.click()


def test_the_surface_race_exports_a_frame_per_step_ending_on_the_still(window, qtbot, tmp_path):
    from gui.charts.figures import SurfaceFigure

    view = window.surface
    with qtbot.waitSignal(view.recomputed, timeout=10000):
        view.steps.setValue(12)
    steps = max(len(p.losses) - 1 for p in view.paths)
    assert steps == 12
    dialog = window.export_animation_dialog()
    assert dialog.frames_label.text() == str(steps + 1)
    export(dialog, qtbot, tmp_path / "race.gif")
    assert dialog.progress.value() == steps + 1 and dialog.written == tmp_path / "race.gif"
    frames = iio.imread(tmp_path / "race.gif", index=None)[..., :3]
    assert frames.shape == (steps + 1, 200, 320, 3)
    assert all(np.abs(frames[i].astype(int) - frames[i + 1]).mean() > 0 for i in range(steps))
    still = SurfaceFigure(view.surface, view.paths, scene=view.scene, losses=True, size=(320, 200))
    still.show(steps)
    still.save_png(tmp_path / "still.png")
    assert np.abs(frames[-1].astype(int) - iio.imread(tmp_path / "still.png")[..., :3]).mean() < 1.5


def test_cancel_leaves_nothing_and_bad_names_are_shown_in_the_dialog(window, qtbot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dialog = window.export_animation_dialog()
    dialog.path.setText(str(out / "race.mp4"))
    dialog.width_box.setValue(640)
    dialog.height_box.setValue(400)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.progress.value() >= 2, timeout=20000)
    with qtbot.waitSignal(window.runner.job_done, timeout=10000):
        dialog.cancel_button.click()
    qtbot.waitUntil(lambda: dialog.export is None, timeout=5000)
    assert dialog.status.text() == "Cancelled: nothing was written."
    assert list(out.iterdir()) == []  # neither the file nor its temporary
    # a bad name is shown in the dialog, in the window's words
    dialog.path.setText(str(tmp_path / "race.avi"))
    dialog.start_button.click()
    assert dialog.status.text().startswith("File: ") and "unknown animation format" in dialog.status.text()
    dialog.path.setText(str(tmp_path / "missing" / "race.gif"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: "does not exist" in dialog.status.text(), timeout=5000)
    assert dialog.export is None and not (tmp_path / "missing").exists()


def test_a_training_run_is_retrained_into_an_mp4_with_a_frame_per_epoch(window, qtbot, tmp_path):
    t = window.training
    t.form.points.setValue(60)
    t.form.epochs.setValue(3)
    t.run()
    qtbot.waitUntil(lambda: t.status == "finished", timeout=30000)
    window.tabs.setCurrentWidget(t)
    dialog = window.export_animation_dialog()
    export(dialog, qtbot, tmp_path / "train.mp4", size=(400, 240))
    with av.open(str(tmp_path / "train.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (240, 400, 3)
    assert all(np.abs(frames[i].astype(int) - frames[i + 1]).mean() > 0.05 for i in range(3))


def surface_dialog(window, qtbot, steps: int, first_states=None):
    """An export dialog for the surface race of ``steps`` steps; its first export draws ``first_states``, if given."""
    from gui.views.animation_dialog import AnimationDialog
    from gui.views.animation_sources import surface_builder

    view = window.surface
    with qtbot.waitSignal(view.recomputed, timeout=10000):
        view.steps.setValue(steps)
    last, build = surface_builder(view)
    builds = []

    def first_fails(size, every, losses):
        figure, states, count, settle = build(size, every, losses)
        builds.append(size)
        return figure, (iter(first_states) if len(builds) == 1 and first_states else states), count, settle

    dialog = AnimationDialog(window, window.runner, "surface", last, first_fails, (320, 200))
    dialog.show()
    return dialog


def test_a_frame_that_cannot_be_drawn_shows_its_error_not_a_cancel(window, qtbot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dialog = surface_dialog(window, qtbot, 20, first_states=[0, 1, "two"])  # "two" is no step: show() raises
    dialog.path.setText(str(out / "race.gif"))
    dialog.start_button.click()
    encoder = dialog.export.handle
    with qtbot.waitSignal(window.runner.job_done, timeout=20000, check_params_cb=lambda h: h is encoder):
        pass  # the encoder, stopped by the failure, has ended and told the dialog
    qtbot.wait(100)
    assert dialog.isVisible() and dialog.status.isVisible() and dialog.start_button.isEnabled()
    assert dialog.status.text().startswith("internal error while drawing a frame (TypeError"), dialog.status.text()
    assert "Cancelled" not in dialog.status.text()
    assert list(out.iterdir()) == []


def test_a_second_export_started_while_the_first_ends_can_be_cancelled(window, qtbot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dialog = surface_dialog(window, qtbot, 80, first_states=[0, 1, None, "two"])
    dialog.path.setText(str(out / "race.gif"))
    dialog.start_button.click()
    first = dialog.export
    with qtbot.waitSignal(first.failed, timeout=20000):
        pass
    assert first.handle in window.runner.running()  # its encoder is still ending when the next export starts
    dialog.start_button.click()
    assert dialog.status.text() == f"Writing {out / 'race.gif'}…"
    qtbot.waitUntil(lambda: first.handle not in window.runner.running(), timeout=5000)
    qtbot.waitUntil(lambda: dialog.progress.value() >= 2, timeout=20000)
    assert dialog.status.text() == f"Writing {out / 'race.gif'}…"  # the first one's late end changed nothing
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=10000)
    assert dialog.isVisible() and dialog.status.text() == "Cancelled: nothing was written."
    assert list(out.iterdir()) == []  # the second export was stopped: neither the file nor its temporary
    export(dialog, qtbot, out / "race.gif", every=40)  # and the next one runs to its end
    assert len(iio.imread(out / "race.gif", index=None)) == 3


def test_a_retraining_that_fails_shows_why(window, qtbot, tmp_path):
    data = tmp_path / "points.csv"
    rng = np.random.default_rng(3)
    rows = [f"{x:.3f},{y:.3f},{int(x > 0) + int(y > 0)}" for x, y in rng.normal(size=(90, 2))]
    data.write_text("x,y,label\n" + "\n".join(rows) + "\n")
    t = window.training
    t.form.dataset.setCurrentIndex(t.form.dataset.findData("csv"))
    t.form.folder.setText(str(data))
    t.form.target.setText("label")
    t.form.layers.setText("2,8,3")
    t.form.epochs.setValue(2)
    t.run()
    qtbot.waitUntil(lambda: t.status == "finished", timeout=30000)
    data.unlink()  # the data set is gone when the animation retrains the run
    window.tabs.setCurrentWidget(t)
    dialog = window.export_animation_dialog()
    dialog.path.setText(str(tmp_path / "train.gif"))
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.export is None, timeout=20000)
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=10000)
    qtbot.wait(100)
    assert dialog.status.isVisible() and dialog.status.text() == f"CSV file {data} not found"
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".gif"] == []  # neither the file nor a temporary
