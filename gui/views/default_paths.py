"""Where a file the window writes goes by default: the user's own folders, never the folder it was started in."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

Location = QtCore.QStandardPaths.StandardLocation


def user_folder(*kinds: Location) -> Path:
    """Return the first of ``kinds`` (default: Pictures, then Documents) that exists, else the home folder."""
    for kind in kinds or (Location.PicturesLocation, Location.DocumentsLocation):
        where = QtCore.QStandardPaths.writableLocation(kind)
        if where and Path(where).is_dir():
            return Path(where)
    return Path.home()


def default_file(name: str, *kinds: Location) -> Path:
    """Return ``name`` in the user's folder (see user_folder), numbered (``training-2.gif``) if it exists."""
    folder = user_folder(*kinds)
    path = folder / name
    stem, suffix, n = path.stem, path.suffix, 2
    while path.exists():
        path, n = folder / f"{stem}-{n}{suffix}", n + 1
    return path
