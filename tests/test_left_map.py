"""A path that runs off the map is diverged (the same step in the kernel and on torch), and tuning and maps say so."""

import pytest

from engine.errors import UserError
from engine.surface.functions import get_surface
from engine.surface.paths import PathSpec, compute_paths
from engine.surface.tuning import tune_surface
from engine.tuning import TuneSpec

PEAKS = get_surface("peaks")
STARTS = [(-0.35, -0.67), (0.3, 1.3)]  # the user trial: momentum from the second start runs off the bottom


@pytest.mark.parametrize("use_kernel", [True, False])
def test_momentum_leaving_peaks_is_marked_at_the_same_step(use_kernel):
    paths = compute_paths(PEAKS, [PathSpec("momentum", {"lr": 0.1})], STARTS, 30, use_kernel=use_kernel)
    off = paths[1]
    assert off.diverged_at == 8 and off.left_map
    assert off.ending() == "left the map at step 8"
    lo, hi = PEAKS.domain[1]
    assert off.points[-1, 1] < lo - 0.5 * (hi - lo)  # half a domain width past the edge: out of the picture
    assert paths[0].diverged_at is None and paths[0].ending() == ""


def test_kernel_and_torch_cut_off_map_paths_identically():
    specs = [PathSpec("momentum", {"lr": lr}) for lr in (0.05, 0.1, 0.2, 0.4)] + [PathSpec("adam", {"lr": 0.5})]
    a = compute_paths(PEAKS, specs, STARTS, 60, use_kernel=True)
    b = compute_paths(PEAKS, specs, STARTS, 60, use_kernel=False)
    assert [p.diverged_at for p in a] == [p.diverged_at for p in b]
    assert [p.left_map for p in a] == [p.left_map for p in b]
    assert any(p.left_map for p in a)


def test_tuning_never_picks_a_rate_that_leaves_the_map():
    tuned = tune_surface(PEAKS, [PathSpec("momentum", {})], STARTS[1:], 30, TuneSpec(0.01, 1.0, 9))
    escaped = [t for t in tuned.trials if t.lr >= 0.1]
    assert escaped and all(t.diverged for t in escaped)  # before: final loss 0 far off the map, counted valid
    assert tuned.best["momentum"] < 0.1


def test_a_start_outside_the_domain_is_refused_by_name():
    with pytest.raises(UserError) as err:
        compute_paths(PEAKS, [PathSpec("sgd", {})], [(5.0, 0.0)], 10)
    assert err.value.field == "starts" and "5,0" in err.value.message and "outside the domain" in err.value.message


def test_a_map_marks_cells_that_leave_the_map_and_refuses_a_start_outside():
    from engine.map_grid import Axis
    from engine.surface.convergence_map import surface_map

    result = surface_map(PEAKS, "momentum", {}, STARTS[1], Axis("lr", 0.01, 0.1, 2), Axis("momentum", 0.9, 0.9, 1), 30)
    assert result.diverged_at.tolist() == [[-1, 8]]  # lr 0.1 ran off the bottom: before, counted as converged
    with pytest.raises(UserError) as err:
        surface_map(PEAKS, "sgd", {}, (0.0, -4.0), Axis("lr", 0.01, 0.1, 2), Axis("momentum", 0.0, 0.5, 2), 5)
    assert err.value.field == "start" and "0,-4" in err.value.message


def test_the_map_says_left_the_map_where_the_path_left_it(qtbot):
    import pyqtgraph as pg

    from engine.surface.scene import plot_bounds
    from gui.charts.paths import PathLayer

    paths = compute_paths(PEAKS, [PathSpec("momentum", {"lr": 0.1})], STARTS, 30)
    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    layer = PathLayer(widget.getPlotItem())
    layer.bounds = plot_bounds(PEAKS, PEAKS.grid(40)[2])
    layer.set_paths(paths, ["#1f77b4", "#1f77b4"], ["Momentum", "Momentum"])
    layer.show()
    widget.resize(640, 520)
    widget.getPlotItem().setRange(xRange=PEAKS.domain[0], yRange=PEAKS.domain[1], padding=0)
    labels = [i for i in widget.getPlotItem().items if isinstance(i, pg.TextItem) and i.isVisible()]
    assert [i.toPlainText() for i in labels] == ["Momentum · start 2\nleft the map at step 8"]  # two lines
    widget.grab()  # a TextItem places itself when it is painted
    view = widget.getPlotItem().vb.sceneBoundingRect()
    assert view.contains(labels[0].sceneBoundingRect())  # the words stay on the map, not cut at its edge


def test_a_label_near_the_middle_is_centred_and_near_an_edge_points_inwards():
    from gui.charts.paths import horizontal_anchor

    assert horizontal_anchor(0.0, (-3, 3)) == 0.5  # the trial's case: centred, so it reaches neither edge
    assert horizontal_anchor(-2.5, (-3, 3)) == 0.0 and horizontal_anchor(2.5, (-3, 3)) == 1.0
    assert horizontal_anchor(1.0, (float("-inf"), float("inf"))) == 0.0
