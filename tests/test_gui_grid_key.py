"""The comparison grid says which colour is which when a cell holds curves of a third varied field."""

import numpy as np
import pyqtgraph as pg

from gui.charts.grid import grid_widget


def _series(name, colour):
    return {"name": name, "x": np.arange(3), "y": np.array([1.0, 0.5, 0.2]), "colour": colour, "band": None}


def _title(widget):
    labels = [item for item in widget.ci.items if isinstance(item, pg.LabelItem)]
    return labels[0].text


def test_a_colour_key_names_each_curve_inside_the_cells(qtbot):
    cells = {("a", "x"): [_series("batch_size=16", "#1f77b4"), _series("batch_size=64", "#ff7f0e")]}
    text = _title(grid_widget(cells, ["a"], ["x"], "loss; a curve per batch_size", "loss"))
    assert "batch_size=16" in text and "batch_size=64" in text
    assert "#1f77b4" in text and "#ff7f0e" in text  # each name next to its curve's colour


def test_one_curve_per_cell_needs_no_key(qtbot):
    cells = {("a", "x"): [_series("run", "#1f77b4")], ("a", "y"): [_series("run", "#1f77b4")]}
    assert _title(grid_widget(cells, ["a"], ["x", "y"], "loss", "loss")) == "loss"
