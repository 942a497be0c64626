"""Widgets that keep their full height in a crowded form (a squashed spin box clips its own text)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets


class FullSpinBox(pg.SpinBox):
    """pyqtgraph's SpinBox (SI units, log steps) at a Qt spin box's full height: pyqtgraph caps its height at
    one text line ("compactHeight") and hints 0 pixels, so a form short of room squashes it and cuts its digits."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("compactHeight", False)  # pyqtgraph's default caps the height at one line of text
        super().__init__(*args, **kwargs)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QtCore.QSize:
        """Return pyqtgraph's width and the height a Qt spin box needs for its text and arrows."""
        return QtCore.QSize(super().sizeHint().width(), QtWidgets.QAbstractSpinBox.minimumSizeHint(self).height())

    def minimumSizeHint(self) -> QtCore.QSize:
        """Return the least size that shows the text uncut: the full height of sizeHint."""
        return QtCore.QSize(QtWidgets.QAbstractSpinBox.minimumSizeHint(self).width(), self.sizeHint().height())
