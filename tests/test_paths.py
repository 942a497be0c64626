from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.errors import UserError
from engine.optimizers import OPTIMIZERS, build_optimizer, resolve_optimizer
from engine.schedulers import SCHEDULERS, LRDriver
from engine.surface.functions import get_surface
from engine.surface.paths import PathSpec, compute_paths, parse_point


def by_hand(surface, opt_id, params, start, steps, scheduler="none", sched_params=None):
    """The reference: one torch.optim optimizer stepping one point, the way a notebook does it."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = build_optimizer(opt_id, [p], params)
    driver = LRDriver(opt, scheduler, sched_params, total_steps=steps)
    points, lrs = [p.detach().clone()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = surface.value(p.unsqueeze(0)).sum()
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        driver.step(loss.item())
        points.append(p.detach().clone())
    return torch.stack(points).numpy(), np.array(lrs)


@pytest.mark.parametrize("opt_id", OPTIMIZERS.ids())
def test_each_optimizer_matches_torch_optim_driven_by_hand(opt_id):
    s = get_surface("peaks")
    params = resolve_optimizer(opt_id, {"lr": 0.05})
    starts = [(-0.35, -0.67), (0.3, 1.3)]
    paths = compute_paths(s, [PathSpec(opt_id, params)], starts, 60)
    for path, start in zip(paths, starts):
        ref, _ = by_hand(s, opt_id, params, start, 60)
        # momentum 0.9 at lr 0.05 flies off the second start down onto peaks' flat plain (it stops near
        # y = -7.4 with f = 7e-18): that path has left the map, and is cut there
        off = opt_id == "momentum" and start == (0.3, 1.3)
        assert (path.diverged_at is not None) == off and path.left_map == off
        n = len(path.points)
        assert n == 61 or (off and path.points[-1, 1] < -6)
        np.testing.assert_allclose(path.points, ref[:n], rtol=0, atol=1e-12)
        np.testing.assert_allclose(path.losses, [s.at(*pt) for pt in ref[:n]], atol=1e-12)


@pytest.mark.parametrize("sched", [e.id for e in SCHEDULERS if e.id != "none"])
def test_schedulers_drive_paths_like_torch(sched):
    s = get_surface("bowl")
    params = resolve_optimizer("momentum", {"lr": 0.1})
    (path,) = compute_paths(s, [PathSpec("momentum", params)], [(-9.0, 2.0)], 40, sched, {})
    ref, ref_lrs = by_hand(s, "momentum", params, (-9.0, 2.0), 40, sched, {})
    np.testing.assert_allclose(path.points, ref, atol=1e-12)
    np.testing.assert_allclose(path.lrs, ref_lrs, rtol=1e-12)
    assert len(set(np.round(path.lrs, 12))) > 1  # the schedule really moved the rate


def test_several_optimizers_and_starts_are_independent():
    s = get_surface("himmelblau")
    specs = [PathSpec("sgd", {"lr": 0.01}), PathSpec("adam", {"lr": 0.1})]
    starts = [(0.0, 0.0), (-1.0, 1.0), (-1.0, -1.0)]
    together = compute_paths(s, specs, starts, 50)
    for k, spec in enumerate(specs):
        for j, start in enumerate(starts):
            (alone,) = compute_paths(s, [spec], [start], 50)
            np.testing.assert_array_equal(together[k * 3 + j].points, alone.points)


def test_divergence_is_reported_and_the_path_cut():
    s = get_surface("quadratic")
    (path,) = compute_paths(s, [PathSpec("sgd", {"lr": 1.5})], [(1.0,)], 200)
    # x_{t+1} = x_t - 1.5 * 2 x_t = -2 x_t: |x| passes 3 + 0.5*6 = 6 (half a domain width beyond -3..3) at
    # step 3 (|x| = 8): it has left the map
    assert path.diverged_at == 3 and path.left_map
    assert len(path.points) == 4 and abs(path.points[-1, 0]) == 8
    (ok,) = compute_paths(s, [PathSpec("sgd", {"lr": 0.1})], [(1.0,)], 200)
    assert ok.diverged_at is None and len(ok.points) == 201


def test_non_finite_values_end_the_path_without_raising():
    s = get_surface("log(x)")
    (path,) = compute_paths(s, [PathSpec("sgd", {"lr": 1.0})], [(0.5,)], 10)
    # log(x) pushes x down: 0.5 - 1/0.5 = -1.5, where log is NaN
    assert path.diverged_at == 1
    assert np.isfinite(path.points).all() and len(path.points) == 1


def test_one_diverged_path_does_not_stop_the_others():
    s = get_surface("quadratic")
    paths = compute_paths(s, [PathSpec("sgd", {"lr": 1.5}), PathSpec("sgd", {"lr": 0.1})], [(1.0,)], 30)
    assert paths[0].diverged_at is not None and paths[1].diverged_at is None
    assert len(paths[1].points) == 31


def test_bad_requests_are_refused_with_messages():
    s = get_surface("peaks")
    with pytest.raises(UserError, match="steps"):
        compute_paths(s, [PathSpec("sgd")], [(0.0, 0.0)], 0)
    with pytest.raises(UserError, match="2-D"):
        compute_paths(s, [PathSpec("sgd")], [(0.0,)], 5)
    with pytest.raises(UserError, match="unknown optimizer"):
        compute_paths(s, [PathSpec("nope")], [(0.0, 0.0)], 5)
    with pytest.raises(UserError, match="range"):
        compute_paths(s, [PathSpec("adam", {"beta1": 1.0})], [(0.0, 0.0)], 5)
    with pytest.raises(UserError, match="nesterov"):
        compute_paths(s, [PathSpec("sgd", {"nesterov": True})], [(0.0, 0.0)], 5)
    with pytest.raises(UserError):
        parse_point("1,x", 2)


@pytest.mark.parametrize(
    "opt_id, name, bad",
    [
        ("sgd", "lr", -0.1),
        ("sgd", "lr", 0),
        ("momentum", "momentum", 1.0),
        ("rmsprop", "alpha", 1.5),
        ("adam", "eps", 0),
        ("adagrad", "lr", "abc"),
    ],
)
def test_invalid_hyperparameters_are_refused(opt_id, name, bad):
    with pytest.raises(UserError, match=f"{opt_id}.{name}"):
        resolve_optimizer(opt_id, {name: bad})


def test_registry_entries_are_uniform():
    for entry in OPTIMIZERS:
        assert entry.name and entry.description and entry.params[0].name == "lr"
        for p in entry.params:
            assert p.coerce(p.default, entry.id) == p.default


@pytest.mark.parametrize(
    "text", ["log(x)", "1/x", "x**-1", "sqrt(x)", "sqrt(-x)", "9**9**9**x", "x*9**9**9**9", "log(x*y)", "x/y"]
)
def test_formulas_that_are_not_finite_somewhere_never_raise(text):
    s = get_surface(text)
    starts = [(-2.0, 0.0, 0.5, 1.8, 3.0)[i : i + s.dims] for i in range(4)]
    specs = [PathSpec("sgd", {"lr": 0.1}), PathSpec("adam", {}), PathSpec("momentum", {"lr": 1.0})]
    paths = compute_paths(s, specs, starts, 40)
    assert len(paths) == len(specs) * len(starts)
    for p in paths:
        assert np.isfinite(p.points).all() and len(p.points) >= 1
        if p.diverged_at is None:
            assert len(p.points) == 41 and np.isfinite(p.losses).all()
        if not np.isfinite(s.at(*p.start)):
            assert p.diverged_at == 0 and len(p.points) == 1  # a start where f is not a number ends at once


def test_a_start_where_the_value_is_not_finite_is_diverged_at_step_0():
    s = get_surface("sqrt(x)")
    (path,) = compute_paths(s, [PathSpec("adam", {})], [(-1.0,)], 10)
    assert path.diverged_at == 0
    assert path.points.tolist() == [[-1.0]] and np.isnan(path.losses[0]) and len(path.lrs) == 0


def test_a_flat_formula_leaves_every_path_where_it_started():
    s = get_surface("0*x + y - y")
    paths = compute_paths(s, [PathSpec("sgd", {"lr": 0.1}), PathSpec("adam", {})], [(1.0, 2.0)], 20)
    for p in paths:
        assert p.diverged_at is None and (p.points == [1.0, 2.0]).all() and (p.grad_norms == 0).all()


def test_a_surface_whose_function_ignores_its_input_does_not_raise():
    # formulas without x or y are refused, but a Surface built in code may still be constant
    s = replace(get_surface("peaks"), fn=lambda x, y: torch.tensor(2.0, dtype=torch.float64))
    (path,) = compute_paths(s, [PathSpec("adam", {})], [(0.5, 0.5)], 5)
    assert path.diverged_at is None and (path.points == [0.5, 0.5]).all() and (path.losses == 2.0).all()
    assert s.gradient(0.5, 0.5) == (0.0, 0.0) and s.at(0.5, 0.5) == 2.0
    assert (s.grid(10)[2] == 2.0).all()
