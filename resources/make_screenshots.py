"""Regenerates the README screenshots: the real window on an X display (run under xvfb-run), one per view.

xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python resources/make_screenshots.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6 import QtCore, QtWidgets  # noqa: E402

from gui.charts import style  # noqa: E402


def main() -> None:
    """Open the window, drive each view into a telling state and capture the screen with `import`."""
    style.configure()
    app = QtWidgets.QApplication(sys.argv)
    from gui.views.main_window import MainWindow

    settings = QtCore.QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(settings)
    w.setGeometry(0, 0, 1600, 1000)
    w.show()

    def pump(seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.02)

    def shoot(name: str) -> None:
        pump(0.8)
        subprocess.run(
            ["import", "-window", "root", "-crop", "1600x1000+0+0", str(ROOT / "resources" / name)], check=True
        )

    pump(2)
    s = w.surface
    s.set_checked(["sgd", "momentum", "nesterov", "rmsprop", "adam", "adadelta"])
    s.steps.setValue(80)
    s.add_start((-0.35, -0.67))
    s.add_start((0.3, 1.3), keep_others=True)
    pump(1)
    s.timeline.setValue(45)
    shoot("surface.png")

    w.tabs.setCurrentIndex(1)
    w.training.form.optimizer.form.set_values({"lr": 0.1, "momentum": 0.5})
    panel = w.training.landscape  # the loss landscape under the charts, on the PCA plane of the path
    panel.enabled.setChecked(True)
    panel.plane.setCurrentIndex(next(i for i in range(panel.plane.count()) if "PCA" in panel.plane.itemText(i)))
    w.training.run()
    end = time.time() + 60
    while w.training.status != "finished" and time.time() < end:
        pump(0.2)
    pump(4)  # the last landscape is computed in the background after the run ends
    shoot("training.png")
    panel.grab().save(str(ROOT / "resources" / "landscape.png"))

    w.tabs.setCurrentIndex(2)
    w.compare._preset(1)
    done = []
    w.compare.finished.connect(done.append)
    w.compare.start()
    end = time.time() + 120
    while not done and time.time() < end:
        pump(0.2)
    shoot("comparison.png")
    w.close()
    pump(0.5)


if __name__ == "__main__":
    main()
