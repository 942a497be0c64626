"""The comparison tab's sweep fields beyond the first two: more varied fields, and a random sample of the grid."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from engine.errors import UserError
from engine.training.compare import MAX_RUNS


class MoreFields(QtWidgets.QWidget):
    """``field=v1,v2; field=v1,v2`` for a third field and more, and "sample N combinations" (0: all of them)."""

    changed = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QtWidgets.QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.line = QtWidgets.QLineEdit()
        self.line.setPlaceholderText("more fields, e.g. batch_size=10,20; activation=relu,tanh")
        self.line.setToolTip(
            "Further varied fields after the second one, separated by semicolons: the sweep runs the whole grid"
        )
        self.sample = QtWidgets.QSpinBox()
        self.sample.setRange(0, MAX_RUNS)
        self.sample.setSpecialValueText("the whole grid")
        self.sample.setToolTip("Train a random subset of this many combinations (drawn from the base seed)")
        form.addRow("more fields", self.line)
        form.addRow("sample", self.sample)
        self.line.textChanged.connect(lambda _t: self.changed.emit())
        self.sample.valueChanged.connect(lambda _v: self.changed.emit())

    def vary(self, first: int) -> list[dict]:
        """Return the further varied fields as {field, values} dicts; raise UserError naming
        ``comparison.vary.N`` (N counted from ``first``) for a part that is not field=v1,v2."""
        out = []
        for k, part in enumerate(p.strip() for p in self.line.text().split(";") if p.strip()):
            name, sep, values = part.partition("=")
            items = [v.strip() for v in values.split(",") if v.strip()]
            if not sep or not name.strip() or not items:
                raise UserError(f"{part!r} must look like field=value1,value2", f"comparison.vary.{first + k}")
            out.append({"field": name.strip(), "values": items})
        return out

    def show_spec(self, spec) -> None:
        """Show the fields of ``spec`` after its first two, and its sample; returns nothing."""
        self.line.setText("; ".join(f"{v.field}={','.join(v.values)}" for v in spec.vary[2:]))
        self.sample.setValue(spec.sample)
