"""Before a run starts in the window: refuse what cannot fit, and ask before a run that will be slow."""

from __future__ import annotations

from PySide6 import QtWidgets

from engine.errors import UserError
from engine.training.estimate import data_shape, estimate_comparison, estimate_run


def confirm_slow(parent: QtWidgets.QWidget, message: str) -> bool:
    """Ask whether to start a slow run; return True to go on (the default button)."""
    answer = QtWidgets.QMessageBox.question(
        parent,
        "A slow run",
        f"{message[0].upper() + message[1:]}.\n\nStart it anyway? (Stop ends it at any time.)",
        QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
        QtWidgets.QMessageBox.StandardButton.Yes,
    )
    return answer == QtWidgets.QMessageBox.StandardButton.Yes


def may_start(parent, configs, ask=confirm_slow) -> bool:
    """Return whether the run (one config) or comparison (several) may start.

    Raises the estimate's UserError (naming the field, with the estimate) when it cannot fit; asks through
    ``ask(parent, message)`` when it will be slow. Data sets whose size is only known once loaded (CSV files)
    are not estimated here.
    """
    try:
        shape = data_shape(configs[0])
    except Exception:  # noqa: BLE001 - a file the estimate cannot read is the loader's to report, in its words
        shape = None
    if shape is None:
        return True
    try:
        est = estimate_run(configs[0], shape) if len(configs) == 1 else estimate_comparison(configs, shape)
    except UserError:
        return True  # e.g. a device that is not there: the run itself says so, in its own words
    est.check()
    warning = est.warning()
    return ask(parent, warning) if warning else True
