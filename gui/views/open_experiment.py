"""Opening an experiment over the current one: ask before unsaved settings are lost, then make every view show
the opened experiment and nothing of the previous one (charts, tables, titles, status lines)."""

from __future__ import annotations

import json

from PySide6 import QtWidgets

from engine.experiment import Experiment, experiment_to_dict

SETTINGS = ("surface", "training", "comparison", "landscape")  # what a user sets; results and the tab are not


def settings_key(experiment: Experiment) -> str:
    """Return the experiment's settings (not its results) as one comparable JSON string."""
    whole = experiment_to_dict(experiment)
    return json.dumps({k: whole.get(k) for k in SETTINGS}, sort_keys=True, default=str)


def ask_discard(parent: QtWidgets.QWidget, what: str) -> bool:
    """Ask whether the current settings may be replaced by ``what``; return True for Discard."""
    Box = QtWidgets.QMessageBox
    answer = Box.question(
        parent,
        "Replace the current experiment?",
        f"Opening {what} replaces every tab's settings and results. The current settings are not saved.\n\n"
        "Discard them and open it?",
        Box.StandardButton.Discard | Box.StandardButton.Cancel,
        Box.StandardButton.Cancel,
    )
    return answer == Box.StandardButton.Discard


def clear_training(view) -> None:
    """Show the Training tab with no run: empty charts, an idle status line, no batch counter."""
    panels = view.panels
    panels.clear()
    panels.status_label.setText("<b>idle</b> · no run yet: Step or Run trains the configuration on the left")
    panels.data_label.setText("")
    panels.progress.reset()


def clear_comparison(view) -> None:
    """Show the Comparison tab with no results: empty charts with their plain titles and an empty table."""
    view.show_results([], [])
    view.panels.loss_chart.plot.setTitle("loss")
    view.panels.acc_chart.plot.setTitle("accuracy")


def show_opened(window, loaded: Experiment) -> None:
    """Draw ``loaded``'s results in ``window``'s views, or empty views where it has none; returns nothing."""
    if loaded.results.training is not None:
        window.training.show_result(loaded.results.training)
        window.training.panels.progress.reset()  # a restored run has no batch in progress
    else:
        clear_training(window.training)
    if loaded.results.comparison is not None:
        varied = [v.field for v in loaded.comparison.vary]
        window.compare.show_results(loaded.results.comparison.to_results(), varied)
    else:
        clear_comparison(window.compare)
