"""The comparison's own base configuration box, kept as one truth with "Each optimizer's own settings".

The base optimizer's hyperparameters live in two places of the model: the base configuration's
``optimizer_params`` and, once set in the race panel or by tuning, ``per_optimizer[base optimizer]``, which wins
when the comparison runs. The box therefore shows what that optimizer really runs with (the two merged), and an
edit of its fields is written to both, so the two controls always agree and either one changes the race.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6 import QtWidgets

from engine.experiment import ComparisonSpec
from engine.optimizers import OPTIMIZERS
from gui.views.config_form import ConfigForm


def runs_with(spec: ComparisonSpec, oid: str) -> dict:
    """Return the hyperparameters set for ``oid`` in ``spec`` (the base's for its own optimizer, then its own)."""
    base = dict(spec.base.optimizer_params) if oid == spec.base.optimizer else {}
    return {**base, **spec.per_optimizer.get(oid, {})}


def synced_per_optimizer(spec: ComparisonSpec, base: dict) -> dict:
    """Return ``spec.per_optimizer`` with the base optimizer's own settings set to the base form's ``base`` values.

    Only the settings the race panel holds for that optimizer are written (the rest already come from the base);
    when the form switched to another optimizer, that optimizer's own settings are kept as they were.
    """
    oid, per = base["optimizer"], spec.per_optimizer
    if oid != spec.base.optimizer or oid not in per:
        return dict(per)
    params = base.get("optimizer_params", {})
    return {**per, oid: {k: params.get(k, v) for k, v in per[oid].items()}}


def kept_tuned_rates(spec: ComparisonSpec, base: dict) -> list[dict]:
    """Return ``spec.tuned_lr`` less the base optimizer's entries when the base form's ``base`` values give it
    another rate than the one shown (a rate typed by hand beats the rates tuned per configuration)."""
    oid = base["optimizer"]
    typed = base.get("optimizer_params", {}).get("lr")
    if oid != spec.base.optimizer or typed == runs_with(spec, oid).get("lr"):
        return list(spec.tuned_lr)
    return without_tuned(spec.tuned_lr, oid)


def without_tuned(tuned_lr: list, oid: str) -> list[dict]:
    """Return the comparison's per-configuration tuned rates without those of optimizer ``oid``."""
    return [t for t in tuned_lr if t["when"].get("optimizer") != oid]


def config_rate_words(spec: ComparisonSpec, oid: str) -> str:
    """Return the rates tuned per configuration for ``oid`` in words ('' when none), e.g. 'rates tuned per
    configuration, …: momentum=0: lr 1; momentum=0.9: lr 0.1'."""
    own = [t for t in spec.tuned_lr if t["when"].get("optimizer") == oid]
    if not own:
        return ""
    parts = [
        ", ".join(f"{k}={v}" for k, v in t["when"].items() if k != "optimizer") + f": lr {t['lr']:.3g}" for t in own
    ]
    return "rates tuned per configuration, which win over this rate: " + "; ".join(parts)


def varied_optimizers(spec: ComparisonSpec) -> list[str]:
    """Return the optimizers the comparison varies (empty when it does not vary the optimizer)."""
    return next((list(v.values) for v in spec.vary if v.field == "optimizer"), [])


class BaseBox(QtWidgets.QGroupBox):
    """The base configuration's form, its "Copy from the Training tab" button and the note on whose settings the
    optimizer fields are."""

    def __init__(self, parent=None):
        super().__init__("Base configuration (this comparison's own)", parent)
        v = QtWidgets.QVBoxLayout(self)
        note = QtWidgets.QLabel(
            "Every run starts from this configuration, with the varied fields changed. Runs with the same seed "
            "start from identical weights and see the same batches."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: #555;")
        self.copy_button = QtWidgets.QPushButton("Copy from the Training tab")
        self.copy_button.setToolTip("Replace this base with the Training tab's configuration")
        self.form = ConfigForm()
        self.optimizer_note = QtWidgets.QLabel()  # whose settings the optimizer fields are, when it is raced
        self.optimizer_note.setWordWrap(True)
        self.optimizer_note.setStyleSheet("color: #555;")
        v.addWidget(note)
        v.addWidget(self.copy_button)
        v.addWidget(self.form)
        group = self.form.optimizer.parentWidget().layout()  # the "Optimizer" group: the note sits under its fields
        (group if group is not None else v).addWidget(self.optimizer_note)
        self.optimizer_note.hide()

    def show_spec(self, spec: ComparisonSpec) -> None:
        """Show ``spec``'s base, its optimizer with the settings it runs with; returns nothing."""
        cfg = spec.base.to_config()
        self.form.set_config(replace(cfg, optimizer_params=runs_with(spec, cfg.optimizer)))
        self.show_note(spec)

    def show_note(self, spec: ComparisonSpec) -> None:
        """Say, when the optimizer is varied, that the optimizer fields are the base optimizer's own race settings
        (and its rates tuned per configuration, which win over the one shown); returns nothing."""
        varied = varied_optimizers(spec)
        oid = spec.base.optimizer
        if not varied:
            self.optimizer_note.hide()
            return
        name = OPTIMIZERS.get(oid).name if oid in OPTIMIZERS else oid
        if oid in varied:
            others = [OPTIMIZERS.get(o).name for o in varied if o != oid and o in OPTIMIZERS]
            text = (
                f"The optimizer varies: these are {name}'s settings in the race, the same as under \"Each "
                f"optimizer's own settings\" (editing either changes both)."
            )
            if others:
                text += f" {', '.join(others)} run with their own."
        else:
            text = f"The optimizer varies and {name} is not raced: these settings are not used."
        tuned = config_rate_words(spec, oid)
        if tuned and oid in varied:
            text += f" {name}: {tuned} (type a rate here to race at it instead)."
        self.optimizer_note.setText(text)
        self.optimizer_note.show()

    def shown_params_differ(self, spec: ComparisonSpec) -> bool:
        """Return whether the form's optimizer fields differ from what ``spec``'s base optimizer runs with."""
        want = runs_with(spec, spec.base.optimizer)
        have = self.form.optimizer.values()
        return self.form.optimizer.current_id() != spec.base.optimizer or any(have.get(k) != v for k, v in want.items())
