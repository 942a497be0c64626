"""The "Download" offer shown under a data set's "files not found" error, with a progress bar and Cancel.

Nothing is downloaded until the user clicks Download. The download is the engine's job
(engine/data/download.py) run on the shared JobRunner: one progress bar per file, Cancel stops it between two
chunks and keeps nothing partial, and a damaged file is refused by its checksum.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from engine.data.download import SIZES, TITLES, download_job, is_downloadable, target_folder
from engine.data.idx import FilesNotFound
from gui.jobs import JobRunner


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


class DownloadBar(QtWidgets.QFrame):
    """Offers to download MNIST / Fashion-MNIST; ``downloaded(folder)`` fires once the files are in place."""

    downloaded = QtCore.Signal(str)
    opener = None  # how URLs are opened: None is urllib's urlopen (tests put a fake here: no network)

    def __init__(self, runner: JobRunner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.job = None
        self.name: str | None = None
        self.data_dir: str | None = None
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        self.label = QtWidgets.QLabel()
        self.label.setWordWrap(True)
        self.button = QtWidgets.QPushButton("Download")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setMaximumWidth(200)
        self.progress.setToolTip("Bytes of the file being downloaded")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing partial is kept")
        row.addWidget(self.label, 1)
        for w in (self.progress, self.cancel_button, self.button):
            row.addWidget(w)
        self.button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.hide()

    @property
    def busy(self) -> bool:
        """Return whether a download is under way."""
        return self.job is not None

    def offer_for(self, err: Exception, dataset: str, data_dir: str | None) -> bool:
        """Offer the download when ``err`` says ``dataset``'s files are missing and it can be downloaded;
        return whether the offer is shown."""
        if not isinstance(err, FilesNotFound) or not is_downloadable(dataset):
            return False
        self.offer(dataset, data_dir)
        return True

    def offer(self, dataset: str, data_dir: str | None) -> None:
        """Show the Download button for ``dataset`` (into ``data_dir``, else the user cache); returns nothing."""
        if self.busy:
            return
        self.name, self.data_dir = dataset, data_dir
        where = target_folder(dataset, data_dir)
        self.label.setText(f"Download {TITLES[dataset]} (about {_mb(SIZES[dataset])}, checked by MD5) into {where}?")
        self.button.setText("Download")
        self.button.setToolTip(f"Download the four {TITLES[dataset]} files from their official source")
        self._show(offering=True)
        self.show()

    def withdraw(self) -> None:
        """Hide the offer (the data set or its folder changed); a download under way goes on; returns nothing."""
        if not self.busy:
            self.hide()

    def start(self) -> None:
        """Start the download in the background (only ever on the user's click); returns nothing."""
        if self.busy or self.name is None:
            return
        name, data_dir, opener = self.name, self.data_dir, self.opener
        self.progress.setRange(0, 0)
        self.progress.setValue(0)
        self.label.setText(f"Connecting to download {TITLES[name]}…")
        self._show(offering=False)
        self.job = self.runner.start(
            "download",
            lambda token: download_job(name, data_dir, token, opener),
            on_snapshot=self._on_snapshot,
            on_done=self._on_done,
            threads=None,
        )

    def cancel(self) -> None:
        """Stop the download at its next chunk; returns nothing."""
        if self.job is not None:
            self.job.stop()

    def _show(self, offering: bool) -> None:
        self.button.setVisible(offering)
        self.progress.setVisible(not offering)
        self.cancel_button.setVisible(not offering)

    def _on_snapshot(self, s) -> None:
        if s.total:
            self.progress.setRange(0, s.total)
            self.progress.setValue(min(s.done, s.total))
        else:
            self.progress.setRange(0, 0)  # size unknown: a busy bar
        self.progress.setFormat(f"{s.index + 1}/{s.files} · %p%")
        self.label.setText(f"Downloading {s.file} ({s.index + 1} of {s.files}): {_mb(s.done)} of {_mb(s.total)}")

    def _on_done(self, handle) -> None:
        self.job = None
        title = TITLES[self.name]
        if handle.error is not None:
            self.label.setText(f"The download failed: {handle.error.message}")
            self.button.setText("Try again")
            self._show(offering=True)
        elif handle.result is None:
            self.label.setText(f"Download of {title} cancelled; nothing partial was kept.")
            self.button.setText("Download")
            self._show(offering=True)
        else:
            self.label.setText(f"{title} downloaded into {handle.result}.")
            self.button.hide()
            self.progress.hide()
            self.cancel_button.hide()
            self.downloaded.emit(str(handle.result))
