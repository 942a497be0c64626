"""The map window's axis rows (field, low, high, cells, log) and their checks, made in the form before any job.

The checks are the command line's (``map --x FIELD=LO:HI:N[:log]``): low below high, a log axis above zero,
both ends inside the hyperparameter's range. A refusal names the axis and the end, with the value the user
typed (never a grid value between them), as a UserError whose field is ``x.low``, ``y.high``, … so that the
window outlines that box.
"""

from __future__ import annotations

from PySide6 import QtWidgets

from engine.errors import UserError
from engine.map_grid import MAX_AXIS, Axis
from engine.optimizers import OPTIMIZERS
from gui.views.sizing import FullSpinBox


def numeric_params(optimizer: str) -> list:
    """Return the optimizer's hyperparameters a map can vary (numbers, not switches or choices)."""
    return [p for p in OPTIMIZERS.get(optimizer).params if p.kind == "float"]


def map_title(result, colour_by: str) -> str:
    """Return the map's title as the command line writes it: "Momentum: final loss over lr × momentum"."""
    name = OPTIMIZERS.get(result.optimizer).name
    return f"{name}: {colour_by.replace('_', ' ')} over {result.x.field} × {result.y.field}"


def cell_outline(i: int, j: int) -> tuple[list[float], list[float]]:
    """Return the closed outline (xs, ys) of cell (row ``i``, column ``j``) in the map's plot coordinates."""
    return [j - 0.5, j + 0.5, j + 0.5, j - 0.5, j - 0.5], [i - 0.5, i - 0.5, i + 0.5, i + 0.5, i - 0.5]


class AxisEditor(QtWidgets.QWidget):
    """One axis: the field, low, high, the number of cells and log spacing."""

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.field = QtWidgets.QComboBox()
        self.low = FullSpinBox(value=0.001, dec=True, step=0.5, minStep=1e-12, decimals=4)
        self.high = FullSpinBox(value=1.0, dec=True, step=0.5, minStep=1e-12, decimals=4)
        self.n = QtWidgets.QSpinBox()
        self.n.setRange(1, 40)
        self.n.setValue(12)
        self.log = QtWidgets.QCheckBox("log")
        for w in (self.field, self.low, self.high, self.n, self.log):
            row.addWidget(w)
        self.field.setToolTip("the hyperparameter along this axis")
        self.low.setToolTip("the first cell's value")
        self.high.setToolTip("the last cell's value (above low)")
        self.n.setToolTip("cells along this axis")
        self.log.setToolTip("log spacing (low must be above 0)")

    def signals(self) -> list:
        """Return the signals that fire when the user edits this axis."""
        return [
            self.field.currentIndexChanged,
            self.low.valueChanged,
            self.high.valueChanged,
            self.n.valueChanged,
            self.log.toggled,
        ]

    def set_fields(self, params, prefer: str) -> None:
        """List ``params`` (registry Params) and choose ``prefer`` (or the first), with a range that fits it;
        returns nothing."""
        self.field.clear()
        for p in params:
            self.field.addItem(p.name.replace("_", " "), p.name)
        index = max(self.field.findData(prefer), 0)
        self.field.setCurrentIndex(index)
        if params:
            p = params[index]
            log = p.log
            low = 1e-3 if log else float(p.low if p.low is not None else 0.0)
            high = 1.0 if log else float(min(p.high if p.high is not None else 1.0, 0.95 if p.high == 1 else 1e9))
            self.low.setValue(low)
            self.high.setValue(high)
            self.log.setChecked(log)

    def axis(self) -> Axis:
        """Return the Axis shown, unchecked."""
        return Axis(
            self.field.currentData(),
            float(self.low.value()),
            float(self.high.value()),
            self.n.value(),
            self.log.isChecked(),
        )

    def checked(self, which: str, optimizer: str) -> Axis:
        """Return the Axis shown, checked as the command line checks it for ``optimizer``; raise UserError naming
        ``which`` (x or y) and the box: ``x.low``, ``x.high``, ``x.field``."""
        a = self.axis()
        if a.field is None:
            raise UserError("choose a hyperparameter", f"{which}.field")
        if a.n > 1 and a.low > a.high:
            raise UserError(f"low {a.low:g} is above high {a.high:g}; low must be below high", f"{which}.low")
        if a.n > 1 and a.low == a.high:
            raise UserError(f"low and high are both {a.low:g}; with {a.n} cells they must differ", f"{which}.high")
        if a.log and a.low <= 0:
            raise UserError(f"a log axis needs low above 0, not {a.low:g} (untick log to start at 0)", f"{which}.low")
        if not 1 <= a.n <= MAX_AXIS:
            raise UserError(f"{a.n} cells; 1..{MAX_AXIS}", f"{which}.n")
        param = OPTIMIZERS.get(optimizer).param(a.field)
        for end, value in (("low", a.low), ("high", a.high)) if a.n > 1 else (("low", a.low),):
            try:
                param.coerce(value, optimizer)
            except UserError:
                name = OPTIMIZERS.get(optimizer).name
                raise UserError(
                    f"{end} {value:g} is out of range: {name}'s {a.field} must be in {param.describe_range()}",
                    f"{which}.{end}",
                ) from None
        return a
