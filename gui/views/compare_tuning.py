"""The comparison sidebar's learning-rate sweep: a chart that fits the narrow panel, its words, and staleness.

The sidebar is about 330 pixels wide: the chart gets a short title, one-line legend entries ("SGD · lr 1") in
a column below the plot, and the notes that would widen it (a rate at the edge of the grid, tied rates) go to
the status line in words. "Enlarge…" opens the full chart, notes in its legend. When the settings the sweep was
tuned for change (the base set-up, the raced optimizers, their other settings, the grid or criterion), the
chart says it is stale rather than silently describing another problem.
"""

from __future__ import annotations

import json

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from engine.experiment import ComparisonSpec
from engine.optimizers import OPTIMIZERS
from engine.training.tuning import NOT_TUNED
from engine.tuning import best_words, notes_words, rate_notes
from gui.charts.curves import SideLegend
from gui.charts.tuning import TuningChart
from gui.views.compare_base import runs_with

SIDEBAR_TITLE = "rate sweep"
WIDEN = 'widen "rates from" … "to"'
STALE_STYLE = "color: #a05000;"


def tuned_for(spec: ComparisonSpec, optimizers: list[str]) -> dict:
    """Return what a sweep of ``optimizers`` depends on in ``spec``: the base set-up (its optimizer aside), each
    raced optimizer's settings other than the rate, the other varied values (each configuration is tuned on its
    own), the first seed, and the tuning settings."""
    base = spec.base.model_dump(mode="json")
    for key in ("optimizer", "optimizer_params", "epochs", "seed", "device"):  # where it trains changes no score
        base.pop(key, None)
    tuning = spec.tuning.model_dump(mode="json")
    return {
        "base": base,
        "epochs": spec.tuning.budget or spec.base.epochs,
        "seed": (spec.seeds or [spec.base.seed])[0],
        "optimizers": {oid: _settings(spec, oid) for oid in optimizers},
        "varied": [[v.field, list(v.values)] for v in spec.vary if v.field not in NOT_TUNED],  # each tuned alone
        "tuning": tuning,
    }


def _settings(spec: ComparisonSpec, oid: str) -> dict:
    """Return every setting but the rate that ``oid`` runs with (its defaults where none is set)."""
    own = {**OPTIMIZERS.get(oid).defaults(), **runs_with(spec, oid)} if oid in OPTIMIZERS else runs_with(spec, oid)
    return {k: v for k, v in own.items() if k != "lr"}


def changed_words(old: dict, new: dict) -> str:
    """Return which parts of two ``tuned_for`` records differ, in words ('the base set-up, the tuning grid')."""
    words = {
        "base": "the base set-up",
        "epochs": "the epochs",
        "seed": "the seed",
        "optimizers": "the optimizers or their settings",
        "varied": "the other varied values",
        "tuning": "the tuning settings",
    }
    return ", ".join(text for key, text in words.items() if json.dumps(old.get(key)) != json.dumps(new.get(key)))


def tuned_words(result) -> str:
    """Return the status line after a sweep: each tuned rate, and each note the CLI prints (edge of the grid)."""
    notes = notes_words(rate_notes(list(result.trials), result.best, WIDEN), result.best)
    parts = [f"Tuned rates: {best_words(result.best)}.", notes, "Run the comparison to race them at these rates."]
    return " ".join(part for part in parts if part)


class SweepPanel(QtWidgets.QWidget):
    """The sidebar's sweep chart, a stale note and an "Enlarge…" button; hidden until a sweep is shown."""

    def __init__(self, parent=None):
        super().__init__(parent)
        v = QtWidgets.QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMinimumHeight(340)  # the legend goes below: the axes need the height
        # nothing in the scene may ask for more width than the sidebar has: the view fits the chart to itself
        self.plot_widget.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        plot = self.plot_widget.getPlotItem()
        self.chart = TuningChart(plot, SIDEBAR_TITLE, notes_in_legend=False)
        plot.layout.removeItem(self.chart.legend)  # the chart's legend is made for the wide tuning.png
        plot.scene().removeItem(self.chart.legend)
        self.chart.legend = SideLegend(plot, place="bottom", columns=1)
        plot.setContentsMargins(6, 4, 10, 4)  # the turned "final loss" title stays whole
        self.stale = QtWidgets.QLabel()
        self.stale.setWordWrap(True)
        self.stale.setStyleSheet(STALE_STYLE)
        self.stale.hide()
        self.enlarge_button = QtWidgets.QPushButton("Enlarge…")
        self.enlarge_button.setToolTip("The sweep in its own window, with every note in its legend")
        self.enlarge_button.clicked.connect(self.enlarge)
        v.addWidget(self.stale)
        v.addWidget(self.plot_widget)
        v.addWidget(self.enlarge_button, 0, QtCore.Qt.AlignmentFlag.AlignRight)
        self.result = None
        self._for: dict | None = None
        self.dialog = None
        self.hide()

    def set_result(self, result, tuned_for: dict) -> None:
        """Draw ``result`` (a TuningResult) as fresh, tuned for ``tuned_for``; returns nothing."""
        self.result, self._for = result, tuned_for
        self.chart.set_trials(result.trials, result.best, result.criterion)
        self.set_stale("")
        self.show()

    def check(self, now: dict) -> None:
        """Mark the chart stale when ``now`` (tuned_for of the current settings) differs from what it was tuned for;
        returns nothing."""
        if self._for is not None:
            self.set_stale(changed_words(self._for, now))

    def set_stale(self, what: str) -> None:
        """Mark the chart stale because ``what`` changed since the sweep ('' marks it current); returns nothing."""
        plot = self.plot_widget.getPlotItem()
        if what:
            self.stale.setText(f"Stale: {what} changed since this sweep; its rates may not suit them. Tune again.")
            plot.setTitle(f"{SIDEBAR_TITLE} (stale)", color="#a05000")
        else:
            plot.setTitle(SIDEBAR_TITLE)
        self.stale.setVisible(bool(what))
        plot.vb.setOpacity(0.4 if what else 1.0)  # the curves fade: they describe other settings

    @property
    def is_stale(self) -> bool:
        """Return whether the chart describes settings that have changed since."""
        return bool(self.stale.text()) and not self.stale.isHidden()

    def enlarge(self) -> QtWidgets.QDialog | None:
        """Open the sweep in its own resizable window, notes in the legend; return the dialog."""
        if self.result is None:
            return None
        dialog = QtWidgets.QDialog(self)
        dialog.setWindowTitle("Learning-rate sweep")
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QtWidgets.QVBoxLayout(dialog)
        canvas = pg.GraphicsLayoutWidget()
        title = f"learning-rate sweep: {self.result.criterion.replace('_', ' ')}, diverged excluded"
        if self.is_stale:
            title += " (stale)"
            layout.addWidget(QtWidgets.QLabel(self.stale.text()))
        dialog.chart = TuningChart(canvas.addPlot(), title)
        dialog.chart.set_trials(self.result.trials, self.result.best, self.result.criterion)
        layout.addWidget(canvas)
        dialog.resize(900, 640)
        dialog.show()
        self.dialog = dialog
        return dialog
