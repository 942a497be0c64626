"""The main window: three views in tabs, menus, shortcuts, experiments, export and remembered settings."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from engine.errors import UserError
from engine.experiment import Experiment, Results, experiment_to_dict, load_experiment, save_experiment
from gui.charts.export import export_csv
from gui.jobs import JobRunner
from gui.views.compare_view import CompareView
from gui.views.open_experiment import ask_discard, settings_key, show_opened
from gui.views.surface_view import SurfaceView
from gui.views.training_view import TrainingView
from gui.views.wheel_guard import install_wheel_guard

MAX_RECENT = 8


class MainWindow(QtWidgets.QMainWindow):
    """Descent Lab's window."""

    def __init__(self, settings: QtCore.QSettings | None = None):
        super().__init__()
        self.setWindowTitle("Descent Lab")
        self.qsettings = settings or QtCore.QSettings("Descent Lab", "Descent Lab")
        self.tabs = QtWidgets.QTabWidget()
        install_wheel_guard(QtWidgets.QApplication.instance())
        self.experiment = Experiment()
        self.runner = JobRunner(self)
        self.notice = ""
        self.surface = SurfaceView(self.experiment, self.runner)
        self.training = TrainingView(self.experiment, self.runner)
        self.compare = CompareView(self.experiment, self.runner)
        self.tabs.addTab(self.surface, "Loss surface")
        self.tabs.addTab(self.training, "Training")
        self.tabs.addTab(self.compare, "Comparison")
        self.setCentralWidget(self.tabs)
        self.tabs.currentChanged.connect(self._tab_hint)
        self._tab_hint(0)
        self.current_file: Path | None = None
        self._build_menus()
        self.clean_settings = settings_key(self.experiment)
        self.restore()

    def _tab_hint(self, index: int) -> None:
        hints = (
            "Click the map to start a path; Shift+click adds a start. Space plays, → steps.",
            "Step trains one epoch, Run to the end; Pause keeps the run, Stop ends it. Space runs/pauses.",
            "Pick what varies (or a preset) and this comparison's own base. Right-click a chart to export.",
        )
        self.statusBar().showMessage(hints[index] if 0 <= index < len(hints) else "")

    # -- menus --------------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.open_action = file.addAction("&Open experiment…", self.open_dialog, QtGui.QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.history_action = file.addAction("&History…", self.history_dialog, QtGui.QKeySequence("Ctrl+H"))
        self.history_action.setToolTip("Past sweeps and runs from the run store, reopened as experiments")
        self.save_action = file.addAction("&Save experiment", self.save, QtGui.QKeySequence.StandardKey.Save)
        file.addAction("Save experiment &as…", self.save_as_dialog, QtGui.QKeySequence.StandardKey.SaveAs)
        file.addSeparator()
        self.export_action = file.addAction(
            "&Export all charts of this view…", self.export_all_dialog, QtGui.QKeySequence("Ctrl+E")
        )
        self.animation_action = file.addAction("Export &animation…", self.export_animation_dialog)
        self.animation_action.setToolTip("The current view's race, run or comparison as a GIF or MP4")
        file.addSeparator()
        file.addAction("&Quit", self.close, QtGui.QKeySequence.StandardKey.Quit)
        run = bar.addMenu("&Run")
        self.play_action = run.addAction("&Play / pause", self.play_pause, QtGui.QKeySequence(QtCore.Qt.Key.Key_Space))
        self.step_action = run.addAction("&Step", self.step, QtGui.QKeySequence(QtCore.Qt.Key.Key_Right))
        run.addAction("&Reset", self.reset_current, QtGui.QKeySequence("Ctrl+R"))
        for action in (self.play_action, self.step_action):
            action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        view = bar.addMenu("&View")
        for i, name in enumerate(("Loss surface", "Training", "Comparison")):
            view.addAction(name, lambda i=i: self.tabs.setCurrentIndex(i), QtGui.QKeySequence(f"Ctrl+{i + 1}"))
        help_ = bar.addMenu("&Help")
        help_.addAction("&About Descent Lab", self.about)
        self._refresh_recent()

    def _focus_is_text(self) -> bool:
        w = QtWidgets.QApplication.focusWidget()
        return isinstance(w, (QtWidgets.QLineEdit, QtWidgets.QAbstractSpinBox, QtWidgets.QTextEdit))

    def play_pause(self) -> None:
        """Space: animate the paths, or run/pause training, depending on the tab."""
        if self._focus_is_text():
            return
        if self.tabs.currentWidget() is self.surface:
            self.surface.toggle_play()
        elif self.tabs.currentWidget() is self.training:
            self.training.toggle_run()
        else:
            self.compare.start()

    def step(self) -> None:
        """Right arrow: one animation step, or one training epoch."""
        if self._focus_is_text():
            return
        if self.tabs.currentWidget() is self.surface:
            self.surface.step_once()
        elif self.tabs.currentWidget() is self.training:
            self.training.step_epoch()

    def reset_current(self) -> None:
        """Reset the animation or the training run."""
        if self.tabs.currentWidget() is self.surface:
            self.surface.timeline.setValue(0)
        elif self.tabs.currentWidget() is self.training:
            self.training.reset()

    def about(self) -> None:
        """Show the About box."""
        QtWidgets.QMessageBox.about(
            self,
            "About Descent Lab",
            "<b>Descent Lab</b><p>See how optimizers, momentum, learning rates and schedules "
            "train neural networks.</p><p>Right-click any chart to export it (PNG, SVG, CSV).</p>",
        )

    # -- experiments --------------------------------------------------------------------------------------
    def experiment_dict(self) -> dict:
        """Return the whole experiment (settings and results) as the JSON-ready dict a file holds."""
        self.experiment.tab = max(0, self.tabs.currentIndex())
        return experiment_to_dict(self.experiment)

    def apply_experiment(self, loaded: Experiment) -> None:
        """Make ``loaded`` the current experiment: every view follows the model's events; charts are restored."""
        self.training.abandon()
        self.compare.abandon()
        exp = self.experiment
        exp.results = Results()  # views must not redraw an old result against new settings
        exp.surface = loaded.surface
        exp.training = loaded.training
        exp.comparison = loaded.comparison
        exp.landscape = loaded.landscape
        exp.results = loaded.results
        show_opened(self, loaded)  # its results, or empty views: nothing of the previous experiment stays
        self.tabs.setCurrentIndex(loaded.tab)
        self.clean_settings = settings_key(exp)

    def has_unsaved_settings(self) -> bool:
        """Return whether the settings changed since the experiment was opened, saved or the window started."""
        return settings_key(self.experiment) != self.clean_settings

    def open_from_history(self, loaded: Experiment) -> bool:
        """Open a run or sweep from History, after asking if unsaved settings would be lost; return if opened."""
        if self.has_unsaved_settings() and not ask_discard(self, "this run from History"):
            return False
        self.apply_experiment(loaded)
        self.current_file = None
        self.setWindowTitle("Descent Lab — from History")
        return True

    def open_training(self, settings) -> None:
        """Make ``settings`` the Training tab's configuration as a fresh run (as Reset does), show that tab and
        bring the window forward (a map dialog that asked stays open behind it); returns nothing."""
        self.experiment.training = settings
        self.tabs.setCurrentWidget(self.training)
        self.training.reset()
        self.raise_()
        self.activateWindow()

    def history_dialog(self) -> None:
        """File > History…: list the run store's sweeps and runs; the one opened becomes the experiment."""
        from gui.views.history_view import HistoryDialog

        HistoryDialog(self, self.open_from_history).exec()

    def save_to(self, path: str | Path) -> Path:
        """Write the experiment, results included, to ``path`` (atomically), remember it as recent; return the path."""
        path = save_experiment(self.experiment_with_tab(), path)
        self.current_file = path
        self._add_recent(path)
        self.setWindowTitle(f"Descent Lab — {path.name}")
        self.clean_settings = settings_key(self.experiment)
        return path

    def experiment_with_tab(self) -> Experiment:
        """Return the experiment with the current tab recorded."""
        self.experiment.tab = max(0, self.tabs.currentIndex())
        return self.experiment

    def open_path(self, path: str | Path) -> bool:
        """Load an experiment file; return True, or False after a message naming the field (state kept)."""
        path = Path(path)
        try:
            loaded = load_experiment(path)
        except UserError as err:
            QtWidgets.QMessageBox.warning(self, "Cannot open experiment", f"{path}:\n{err}")
            return False
        self.apply_experiment(loaded)
        self.current_file = path
        self._add_recent(path)
        self.setWindowTitle(f"Descent Lab — {path.name}")
        return True

    def save(self) -> None:
        """Ctrl+S: save to the current file, or ask for one."""
        if self.current_file is None:
            self.save_as_dialog()
        else:
            self._save_reporting(self.current_file)

    def _save_reporting(self, path) -> None:
        try:
            self.save_to(path)
            self.statusBar().showMessage(f"Saved {path}", 4000)
        except (OSError, UserError) as err:
            QtWidgets.QMessageBox.warning(self, "Cannot save", f"{path}:\n{getattr(err, 'strerror', None) or err}")

    def save_as_dialog(self) -> None:
        """Ask for a file and save the experiment there."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save experiment", "experiment.json", "Experiment (*.json)"
        )
        if path:
            self._save_reporting(path if path.endswith(".json") else path + ".json")

    def open_dialog(self) -> None:
        """Ask for an experiment file and open it."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open experiment", "", "Experiment (*.json);;All files (*)"
        )
        if path and (not self.has_unsaved_settings() or ask_discard(self, Path(path).name)):
            self.open_path(path)

    def _add_recent(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.qsettings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent()

    def recent_files(self) -> list[str]:
        """Return the recently used experiment files, newest first."""
        value = self.qsettings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for p in files:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(files))

    # -- export -------------------------------------------------------------------------------------------
    def export_all(self, folder: str | Path) -> list[Path]:
        """Write every chart of the current view (PNG, SVG, CSV) into ``folder``; return the files written."""
        view = self.tabs.currentWidget()
        written = view.charts.export_all(folder)
        if view is self.compare and self.compare.results:
            written.append(export_csv(*self.compare.summary_rows(), Path(folder) / "summary.csv"))
        return written

    def export_animation_dialog(self):
        """File → Export animation…: open the dialog for the current view; return it (None: nothing to animate)."""
        from gui.views.animation_dialog import open_animation_dialog

        return open_animation_dialog(self)

    def export_all_dialog(self) -> None:
        """Ctrl+E: choose a folder and export every chart of the current view."""
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Export all charts to folder")
        if not folder:
            return
        try:
            files = self.export_all(folder)
            self.statusBar().showMessage(f"Wrote {len(files)} files to {folder}", 6000)
        except OSError as err:
            QtWidgets.QMessageBox.warning(self, "Export failed", f"{folder}:\n{err.strerror or err}")

    # -- persistence --------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Restore geometry and the last session's experiment; anything unreadable gives defaults and a notice."""
        problems = []
        try:
            geometry = self.qsettings.value("geometry")
            if not (isinstance(geometry, (bytes, bytearray, QtCore.QByteArray)) and self.restoreGeometry(geometry)):
                self.resize(1500, 920)
        except Exception:  # noqa: BLE001 - a damaged settings file must never stop the window from opening
            self.resize(1500, 920)
            problems.append("window layout")
        try:
            last = self.qsettings.value("last_experiment")
            if last:
                self.apply_experiment(load_experiment(str(last)))
        except UserError as err:
            problems.append(f"last experiment ({err})")
        except Exception as err:  # noqa: BLE001
            problems.append(f"last experiment ({type(err).__name__})")
        if problems:
            self.notice = "Could not restore the " + " and the ".join(problems) + "; started with defaults."
            self.statusBar().showMessage(self.notice, 15000)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        """Remember layout and the experiment, then stop every job within a second."""
        try:
            self.qsettings.setValue("geometry", self.saveGeometry())
            self.qsettings.setValue("last_experiment", json.dumps(self.experiment_dict()))
        except (TypeError, ValueError, UserError):
            pass
        self.runner.shutdown(timeout=1.0)
        super().closeEvent(event)
