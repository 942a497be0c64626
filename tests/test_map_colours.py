"""The convergence map's colours and axes say what they show (peaks has negative losses; log axes get decades)."""

import numpy as np
import pyqtgraph as pg

from engine.map_grid import Axis
from engine.surface.convergence_map import surface_map
from engine.surface.functions import get_surface
from gui.charts.convergence_map import ConvergenceMapChart, axis_ticks, map_values

PEAKS = get_surface("peaks")


def peaks_map():
    x, y = Axis("lr", 0.001, 1.0, 8, log=True), Axis("momentum", 0.0, 0.95, 6)
    return surface_map(PEAKS, "sgd", {}, (-0.35, -0.67), x, y, 60)


def test_negative_losses_are_coloured_by_their_gap_to_the_minimum(qtbot):
    result = peaks_map()
    values, label = map_values(result, "final_loss")
    assert label == f"log10(final loss − minimum {result.target:.4g}), floor 1e-12"
    ok = result.diverged_at < 0
    gap = result.final_loss[ok] - result.target
    assert np.allclose(values[ok], np.log10(np.maximum(gap, 1e-12)))
    # before: log10 of the loss clamped at 1e-300, so the map spanned -300..0 and looked two-coloured
    assert values[ok].min() >= -12 and values[ok].max() < 2
    assert np.isnan(values[~ok]).all()
    chart = ConvergenceMapChart(pg.PlotItem())
    chart.set_map(result)
    assert chart.colorbar.getAxis("left").labelText == label


def test_a_map_without_decades_is_drawn_linear():
    result = peaks_map()
    result.target_known = False
    result.final_loss = np.where(
        result.diverged_at < 0, -1.0 - 0.01 * np.arange(result.final_loss.size).reshape(result.final_loss.shape), np.nan
    )
    values, label = map_values(result, "final_loss")
    assert label == "final loss"
    ok = result.diverged_at < 0
    assert np.array_equal(values[ok], result.final_loss[ok])


def test_log_axes_get_decade_ticks_and_both_ends_are_labelled():
    ticks = axis_ticks(0.001, 1.0, 12, log=True)
    assert [t for _, t in ticks] == ["0.001", "0.01", "0.1", "1"]
    assert ticks[0][0] == 0 and ticks[-1][0] == 11
    wide = [t for _, t in axis_ticks(1e-5, 0.3, 20, log=True)]
    assert wide[0] == "1e-5" and "1e-4" in wide and wide[-1] == "0.3"
    lin = axis_ticks(0.0, 0.95, 12, log=False)
    assert [t for _, t in lin] == ["0", "0.2", "0.4", "0.6", "0.8", "0.95"]
    assert lin[-1][0] == 11
