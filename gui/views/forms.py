"""Parameter forms built from registry entries (defaults, ranges, help) — no form is written by hand."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.registry import Entry, Param


class ParamForm(QtWidgets.QWidget):
    """Editors for one entry's parameters; ``changed`` fires with the full value dict on every edit."""

    changed = QtCore.Signal(dict)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layout_ = QtWidgets.QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.entry: Entry | None = None
        self.editors: dict[str, QtWidgets.QWidget] = {}
        self._quiet = False
        self.typed: set[str] = set()  # the parameters the user edited by hand (kept when the entry changes)

    def set_entry(self, entry: Entry, values: dict | None = None, skip: tuple[str, ...] = ()) -> None:
        """Rebuild the editors for ``entry``, showing ``values`` (defaults where missing)."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.entry, self.editors, self.typed = entry, {}, set()
        current = {**entry.defaults(), **(values or {})}
        for p in entry.params:
            if p.name in skip:
                continue
            editor = self._editor(p, current[p.name])
            tip = f"{p.help + '. ' if p.help else ''}Default {p.default}; valid {p.describe_range()}"
            editor.setToolTip(tip)
            label = QtWidgets.QLabel(p.name.replace("_", " "))
            label.setToolTip(tip)
            self.layout_.addRow(label, editor)
            self.editors[p.name] = editor

    def _editor(self, p: Param, value) -> QtWidgets.QWidget:
        if p.kind == "bool":
            w = QtWidgets.QCheckBox()
            w.setChecked(bool(value))
            w.toggled.connect(lambda *_, n=p.name: self._edited(n))
        elif p.kind == "choice":
            w = QtWidgets.QComboBox()
            w.addItems([str(c) for c in p.choices])
            w.setCurrentText(str(value))
            w.currentTextChanged.connect(lambda *_, n=p.name: self._edited(n))
        elif p.kind == "int":
            w = QtWidgets.QSpinBox()
            w.setRange(
                int(p.low if p.low is not None else -(10**9)),
                int(min(p.high if p.high is not None else 10**9, 2**31 - 1)),
            )
            w.setValue(int(value))
            w.valueChanged.connect(lambda *_, n=p.name: self._edited(n))
        else:
            # pyqtgraph's SpinBox keeps the exact value (1e-8 stays 1e-8: a QDoubleSpinBox with 6 decimals would
            # round it to 0) and shows it in scientific notation where that is shorter; steps are relative (dec)
            w = pg.SpinBox(
                value=float(value),
                bounds=(p.low, p.high),
                dec=True,
                step=0.5,
                minStep=1e-12,
                decimals=6,
                compactHeight=False,
            )
            w.sigValueChanged.connect(lambda *_, n=p.name: self._edited(n))
        return w

    def values(self) -> dict:
        """Return the current values of every editor."""
        out = {}
        for name, w in self.editors.items():
            if isinstance(w, QtWidgets.QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, QtWidgets.QComboBox):
                out[name] = w.currentText()
            else:
                out[name] = _plain(w.value())
        return out

    def set_values(self, values: dict) -> None:
        """Show ``values`` without emitting ``changed`` for each one."""
        self._quiet = True
        try:
            for name, value in values.items():
                w = self.editors.get(name)
                if isinstance(w, QtWidgets.QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, QtWidgets.QComboBox):
                    w.setCurrentText(str(value))
                elif w is not None:
                    w.setValue(value)
        finally:
            self._quiet = False
        self._emit()

    def _edited(self, name: str) -> None:
        if not self._quiet:
            self.typed.add(name)
        self._emit()

    def _emit(self, *_):
        if not self._quiet:
            self.changed.emit(self.values())


def _plain(value):
    """Return a spin box's value as a plain int or float (pyqtgraph's SpinBox may hand back a Decimal)."""
    return value if isinstance(value, (bool, int)) else float(value)


class RegistryPicker(QtWidgets.QWidget):
    """A combo box of a registry's entries above the chosen entry's parameter form."""

    changed = QtCore.Signal()

    def __init__(self, registry, label: str, parent=None, skip: tuple[str, ...] = (), defaults=None):
        """``defaults(entry_id)`` gives the values an entry starts from where they are not the registry's own
        (a training run's learning rates: engine.optimizers.training_defaults)."""
        super().__init__(parent)
        self.registry, self.skip = registry, skip
        self._defaults = defaults
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QtWidgets.QComboBox()
        for e in registry:
            self.combo.addItem(e.name, e.id)
            self.combo.setItemData(self.combo.count() - 1, e.description, QtCore.Qt.ItemDataRole.ToolTipRole)
        self.combo.setToolTip(f"{label}: hover an item for what it does")
        self.form = ParamForm()
        layout.addWidget(self.combo)
        layout.addWidget(self.form)
        self.combo.currentIndexChanged.connect(self._entry_changed)
        self.form.changed.connect(lambda _v: self.changed.emit())
        self._entry_changed()

    def _entry_changed(self, *_):
        new = self.registry.get(self.current_id())
        # what the user typed by hand survives the switch (a learning rate typed for SGD stays for Adam);
        # values that were only defaults take the new entry's defaults
        shared = {p.name for p in new.params}
        kept = {k: v for k, v in self.form.values().items() if k in shared and k in self.form.typed}
        self.form.set_entry(new, {**self.defaults_of(new), **kept}, skip=self.skip)
        self.form.typed = set(kept)
        self.form.setVisible(bool(self.form.editors))
        self.changed.emit()

    def defaults_of(self, entry) -> dict:
        """Return the values ``entry`` starts from: the picker's own defaults where it has them, else the entry's."""
        return self._defaults(entry.id) if self._defaults else entry.defaults()

    def current_id(self) -> str:
        """Return the chosen entry's id."""
        return self.combo.currentData()

    def set_current(self, entry_id: str, values: dict | None = None) -> None:
        """Choose ``entry_id`` and show ``values``."""
        index = self.combo.findData(entry_id)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        if values is not None:  # every value, defaults where missing: a previous entry's typing never survives
            entry = self.registry.get(self.current_id())
            merged = {**self.defaults_of(entry), **values}
            self.form.set_values({k: v for k, v in merged.items() if k in self.form.editors})

    def values(self) -> dict:
        """Return the chosen entry's parameter values."""
        return self.form.values()
