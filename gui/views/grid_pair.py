"""The small multiples' choice of two varied fields (rows, columns) when more than two fields vary."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


class GridPairChooser(QtWidgets.QWidget):
    """Two lists of the varied fields: the grid's rows and its columns. Hidden unless more than two fields vary."""

    changed = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        self.rows, self.cols = QtWidgets.QComboBox(), QtWidgets.QComboBox()
        self.rows.setToolTip("The varied field along the grid's rows")
        self.cols.setToolTip("The varied field along the grid's columns; the other fields are curves in each panel")
        for text, box in (("rows", self.rows), ("columns", self.cols)):
            row.addWidget(QtWidgets.QLabel(text))
            row.addWidget(box)
        row.addStretch(1)
        self._fields: list[str] = []
        self.rows.activated.connect(lambda _i: self._picked(self.rows, self.cols))
        self.cols.activated.connect(lambda _i: self._picked(self.cols, self.rows))
        self.hide()

    def _picked(self, box, other) -> None:
        if box.currentText() == other.currentText():  # the two must differ: swap the other to the old choice
            other.setCurrentText(next(f for f in self._fields if f != box.currentText()))
        self.changed.emit()

    def pair(self, varied: list[str]) -> tuple[str, str]:
        """Return the (rows, columns) fields for ``varied`` (the first two unless chosen otherwise here)."""
        if list(varied) != self._fields:
            self._fields = list(varied)
            for box, default in ((self.rows, varied[0]), (self.cols, varied[1])):
                box.blockSignals(True)
                box.clear()
                box.addItems(self._fields)
                box.setCurrentText(default)
                box.blockSignals(False)
            self.setVisible(len(varied) > 2)
        return self.rows.currentText(), self.cols.currentText()
