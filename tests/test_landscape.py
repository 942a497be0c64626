"""The loss landscape engine: flat weights, planes, stacked grid evaluation, projections, the job and the path."""

import numpy as np
import pytest
import torch

from engine.errors import UserError
from engine.jobs import Token, run_job
from engine.training.backends.autograd import data_loss
from engine.training.config import TrainConfig
from engine.training.jobs import prepare_job, train_job
from engine.training.landscape import (
    filter_norms,
    flatten,
    layout,
    n_params,
    pca_plane,
    project,
    random_plane,
    three_point_plane,
    unflatten,
)
from engine.training.landscape_eval import (
    evaluate_points,
    loss_model,
    sample_rows,
    single_loss,
    stacked_losses,
)
from engine.training.landscape_job import LandscapeProgress, landscape_job
from engine.training.model import MLP

SMALL = dict(points=60, layers=(2, 8, 3), epochs=4, batch_size=30)


@pytest.fixture(scope="module")
def trained():
    """A small spiral run trained 4 epochs through the real jobs (so its path was recorded)."""
    cfg = TrainConfig(**SMALL)
    token = Token()
    trainer = run_job(prepare_job(cfg, token))
    run_job(train_job(trainer, token))
    return trainer


def _reference_loss(trainer, flat, rows=None) -> float:
    """The loss of one network built as a torch MLP from the flat weights (the per-point reference)."""
    cfg, data = trainer.config, trainer.data
    m = MLP(list(cfg.layers), cfg.activation, cfg.output_activation).double()
    doc = unflatten(flat, cfg.layers)
    with torch.no_grad():
        for lin, layer in zip(m.linears, doc["layers"]):
            lin.weight.copy_(torch.tensor(layer["weight"], dtype=torch.float64))
            lin.bias.copy_(torch.tensor(layer["bias"], dtype=torch.float64))
        idx = torch.arange(len(data.x_train)) if rows is None else torch.from_numpy(rows)
        z = m.logits(data.x_train[idx].double())
        return float(data_loss(z, data.y_train[idx], cfg.loss, cfg.output_activation, data.n_classes))


def test_flatten_follows_the_weights_json_order(trained):
    doc = trained.weights()
    flat = flatten(doc)
    assert flat.shape == (n_params(trained.config.layers),) == (2 * 8 + 8 + 8 * 3 + 3,)
    assert flat[:16].tolist() == pytest.approx(np.ravel(doc["layers"][0]["weight"]).tolist())
    assert flat[16:24].tolist() == pytest.approx(doc["layers"][0]["bias"])
    assert [(p["name"], p["shape"]) for p in layout((2, 8, 3))] == [
        ("weight", [8, 2]),
        ("bias", [8]),
        ("weight", [3, 8]),
        ("bias", [3]),
    ]
    back = unflatten(flat, (2, 8, 3))
    assert np.array_equal(flatten(back), flat)


def test_path_is_recorded_every_epoch(trained):
    epochs, path = trained.weight_path.points()
    assert epochs == [0, 1, 2, 3, 4]
    assert np.allclose(path[-1], flatten(trained.weights()), rtol=1e-7, atol=0)  # weights.json is float32
    assert not np.array_equal(path[0], path[-1])


def test_grid_centre_equals_the_model_loss(trained):
    model = loss_model(trained.config, trained.data)
    epochs, path = trained.weight_path.points()
    job = landscape_job(model, epochs, path, "random", grid=7)
    result = run_job(job)
    assert result.loss.shape == (7, 7)
    assert result.alphas[3] == 0 and result.betas[3] == 0
    # the centre is the trained network: the history's own train loss (all 180 rows, within 2048)
    assert result.loss[3, 3] == pytest.approx(trained.history[-1].train_loss, abs=1e-9)
    assert result.path_loss[-1] == pytest.approx(trained.history[-1].train_loss, abs=1e-9)
    assert result.path_loss[0] == pytest.approx(trained.history[0].train_loss, abs=1e-9)


def test_grid_points_equal_direct_evaluations(trained):
    model = loss_model(trained.config, trained.data)
    epochs, path = trained.weight_path.points()
    result = run_job(landscape_job(model, epochs, path, "random", grid=9, span=0.8))
    doc = result.to_json()
    center, (d0, d1) = np.array(doc["center"]), [np.array(d) for d in doc["directions"]]
    rng = np.random.default_rng(3)
    for _ in range(4):
        i, j = rng.integers(0, 9, size=2)
        flat = center + doc["alphas"][j] * d0 + doc["betas"][i] * d1
        assert doc["loss"][i][j] == pytest.approx(_reference_loss(trained, flat), abs=1e-6)


def test_filter_normalisation_matches_the_weights_filter_norms(trained):
    center = flatten(trained.weights())
    d0, d1 = random_plane(center, (2, 8, 3), seed=5)
    for d in (d0, d1):
        for got, want in zip(filter_norms(d, (2, 8, 3)), filter_norms(center, (2, 8, 3))):
            assert np.allclose(got, want, rtol=1e-12)
    assert not np.allclose(d0, d1)
    biases = [p for p in layout((2, 8, 3)) if p["name"] == "bias"]
    for p in biases:
        assert not d0[p["offset"] : p["offset"] + p["size"]].any()  # biases: zero direction (paper's biasbn)


def test_pca_plane_contains_a_two_dimensional_path():
    rng = np.random.default_rng(0)
    center, u, v = rng.standard_normal((3, 40))
    path = np.array([center + a * u + b * v for a, b in [(3, 1), (2, -1), (1.5, 0.2), (0.5, 0.7), (0, 0)]])
    d0, d1, explained = pca_plane(path, center, (4, 8))
    proj = project(path, center, d0, d1)
    assert np.max(proj.off_plane) < 1e-12 * np.max(proj.distance)
    assert sum(explained) == pytest.approx(1.0)
    assert abs(d0 @ d1) < 1e-12 and np.linalg.norm(d0) == pytest.approx(1)


def test_pca_plane_of_a_straight_path_still_has_two_directions():
    center = np.zeros(40) + 0.1
    path = np.array([center + t * np.arange(40) for t in (2, 1, 0)])
    d0, d1, explained = pca_plane(path, center, (4, 8))
    assert explained == (pytest.approx(1.0), 0.0)
    assert abs(d0 @ d1) < 1e-12 and np.linalg.norm(d1) == pytest.approx(1)


def test_three_point_plane_contains_its_points_exactly():
    rng = np.random.default_rng(1)
    a, b, c = rng.standard_normal((3, 500))
    center, d0, d1 = three_point_plane(a, b, c)
    proj = project(np.stack([a, b, c]), center, d0, d1)
    assert proj.off_plane.max() <= 1e-12 * np.linalg.norm(b - a)
    assert proj.coords[0].tolist() == [0.0, 0.0]
    assert proj.coords[1] == pytest.approx([1.0, 0.0], abs=1e-12)
    assert abs(d0 @ d1) < 1e-9 and np.linalg.norm(d1) == pytest.approx(np.linalg.norm(d0))
    with pytest.raises(UserError) as err:
        three_point_plane(a, b, a + 2 * (b - a))
    assert err.value.field == "landscape_plane"


def test_off_plane_ratio_of_a_point_beside_the_plane():
    center, d0, d1 = np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    proj = project(np.array([[3.0, 0, 4.0], [0, 0, 0]]), center, d0, d1)
    assert proj.coords[0].tolist() == [3.0, 0.0]
    assert proj.off_plane.tolist() == [4.0, 0.0]
    assert proj.ratio.tolist() == [pytest.approx(0.8), 0.0]


def test_stacked_evaluation_equals_per_point_evaluation(trained):
    model = loss_model(trained.config, trained.data)
    flats = flatten(trained.weights()) + np.random.default_rng(2).standard_normal((23, 51)) * 0.3
    stacked = evaluate_points(model, flats, chunk=5)
    for k in range(23):
        assert stacked[k] == pytest.approx(single_loss(model, flats[k]), abs=1e-12)
        assert stacked[k] == pytest.approx(_reference_loss(trained, flats[k]), abs=1e-9)


@pytest.mark.parametrize(
    "loss,out", [("mse", "softmax"), ("bce", "none"), ("mae", "sigmoid"), ("cross-entropy", "sigmoid")]
)
def test_stacked_loss_matches_training_loss_for_every_loss(trained, loss, out):
    cfg = TrainConfig(**{**SMALL, "loss": loss, "output_activation": out, "activation": "tanh"})
    model = loss_model(cfg, trained.data)
    flats = np.random.default_rng(4).standard_normal((3, 51))
    got = evaluate_points(model, flats)
    for k in range(3):
        doc = unflatten(flats[k], cfg.layers)
        m = MLP(list(cfg.layers), "tanh", out).double()
        with torch.no_grad():
            for lin, layer in zip(m.linears, doc["layers"]):
                lin.weight.copy_(torch.tensor(layer["weight"], dtype=torch.float64))
                lin.bias.copy_(torch.tensor(layer["bias"], dtype=torch.float64))
            z = m.logits(trained.data.x_train.double())
        want = float(data_loss(z, trained.data.y_train, loss, out, trained.data.n_classes))
        assert got[k] == pytest.approx(want, abs=1e-9)


def test_linear_mse_slice_is_the_closed_form_quadratic():
    """A linear model with MSE: L(c + a·u + b·v) = mean((X(w + a·u_w + b·v_w) + ... − y)²), exactly quadratic."""
    from engine.data.datasets import Dataset

    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.standard_normal((50, 3)))
    y = torch.from_numpy(rng.standard_normal(50))
    data = Dataset("lin", x.float(), y.float(), x[:0].float(), y[:0].float(), None)
    cfg = TrainConfig(dataset="csv", layers=(3, 1), loss="mse")
    model = loss_model(cfg, data, dtype=torch.float64)
    center, d0, d1 = rng.standard_normal((3, 4))
    epochs, path = [0, 1], np.stack([center + d0, center])
    result = run_job(landscape_job(model, epochs, path, "random", grid=5, span=2.0))
    X = np.hstack([model.x.numpy(), np.ones((50, 1))])  # weights then bias, as in the layout
    Y = model.y.numpy()
    c, u, v = result.center, *result.directions
    for i, b in enumerate(result.betas):
        for j, a in enumerate(result.alphas):
            r0, ru, rv = X @ c - Y, X @ u, X @ v
            want = np.mean(r0**2) + 2 * a * np.mean(r0 * ru) + 2 * b * np.mean(r0 * rv)
            want += a * a * np.mean(ru**2) + b * b * np.mean(rv**2) + 2 * a * b * np.mean(ru * rv)
            assert result.loss[i, j] == pytest.approx(want, rel=1e-10)


def test_job_yields_progress_and_stops(trained):
    model = loss_model(trained.config, trained.data)
    epochs, path = trained.weight_path.points()
    snaps = []
    result = run_job(landscape_job(model, epochs, path, "pca", grid=31), snaps.append)
    assert all(isinstance(s, LandscapeProgress) for s in snaps)
    assert snaps[-1].done == snaps[-1].total == 31 * 31 + 2 * 5 + 61
    assert [s.done for s in snaps] == sorted(s.done for s in snaps)
    assert result.projection.ratio.max() < 0.9  # the PCA plane holds most of a short path
    token = Token()
    token.stop()
    assert run_job(landscape_job(model, epochs, path, "pca", grid=31, token=token)) is None


def test_line_runs_from_start_to_current(trained):
    model = loss_model(trained.config, trained.data)
    epochs, path = trained.weight_path.points()
    result = run_job(landscape_job(model, epochs, path, "three", grid=5))
    k0, k1 = list(result.line_t).index(0.0), int(np.argmin(np.abs(result.line_t - 1)))
    assert result.line_loss[k0] == pytest.approx(trained.history[0].train_loss, abs=1e-9)
    assert result.line_loss[k1] == pytest.approx(trained.history[-1].train_loss, abs=1e-9)
    assert result.plane_epochs == [0, 2, 4]
    assert result.projection.off_plane[[0, 2, 4]].max() < 1e-12 * result.projection.distance.max()


def test_bad_grid_and_plane_name_their_fields(trained):
    model = loss_model(trained.config, trained.data)
    epochs, path = trained.weight_path.points()
    for kwargs, field in (
        ({"grid": 2}, "landscape_grid"),
        ({"grid": 7, "span": -1.0}, "landscape_span"),
        ({"plane": "diagonal"}, "landscape_plane"),
    ):
        with pytest.raises(UserError) as err:
            run_job(landscape_job(model, epochs, path, **kwargs))
        assert err.value.field == field


def test_sample_rows_caps_at_2048():
    assert sample_rows(100).tolist() == list(range(100))
    rows = sample_rows(5000)
    assert len(rows) == 2048 and len(set(rows.tolist())) == 2048 and rows.max() < 5000
    assert np.array_equal(rows, sample_rows(5000))


def test_stacked_losses_shape():
    from engine.training.landscape_eval import LossModel

    m = LossModel((2, 3), "relu", "none", "cross-entropy", 3, torch.zeros(4, 2, dtype=torch.float64),
                  torch.tensor([0, 1, 2, 0]), np.arange(4), torch.float64)  # fmt: skip
    out = stacked_losses(m, torch.zeros(6, 9, dtype=torch.float64))
    assert out.shape == (6,) and torch.allclose(out, torch.full((6,), float(np.log(3)), dtype=torch.float64))


def test_weight_path_thins_to_its_bound_and_keeps_start_and_newest():
    from engine.training.landscape_eval import WeightPath

    path = WeightPath(None, None, n=4)
    path.max_points = 8
    for epoch in range(0, 21):
        path.record(epoch, np.full(4, float(epoch)))
    epochs, points = path.points()
    assert epochs[0] == 0 and epochs[-1] == 20 and len(epochs) <= 9
    assert epochs == sorted(epochs) and np.array_equal(points[:, 0], epochs)
    path.record(3, np.zeros(4))  # a replay from an earlier epoch (a new run) drops what came after it
    assert path.points()[0][-1] == 3 and path.newest() == 3


def test_a_diverged_path_is_drawn_up_to_its_last_finite_weights(trained):
    model = loss_model(trained.config, trained.data)
    epochs, path = trained.weight_path.points()
    broken = path.copy()
    broken[-2:] = np.nan  # the last two epochs diverged
    result = run_job(landscape_job(model, epochs, broken, "pca", grid=5))
    assert result.epochs == epochs[:-2] and result.center_epoch == epochs[-3]
    assert np.isfinite(result.loss).all()


@pytest.mark.parametrize("layers", [(20, 6, 3), (20, 3)])
def test_plane_job_with_a_shared_first_layer_equals_direct_evaluation(layers):
    """Wide inputs: the first layer is combined from three products (linear in α, β); the losses are the same."""
    from engine.data.datasets import Dataset
    from engine.training.landscape_eval import plane_job, points_job

    rng = np.random.default_rng(8)
    x = torch.from_numpy(rng.standard_normal((40, 20)))
    y = torch.from_numpy(rng.integers(0, 3, 40))
    data = Dataset("wide", x, y, x[:0], y[:0], 3)
    model = loss_model(TrainConfig(dataset="csv", layers=layers, activation="tanh"), data, dtype=torch.float64)
    p = n_params(layers)
    center, d0, d1 = rng.standard_normal((3, p)) * 0.3
    a, b = rng.uniform(-1, 1, 17), rng.uniform(-1, 1, 17)
    fast = run_job(plane_job(model, center, d0, d1, a, b, chunk=4))
    direct = run_job(points_job(model, lambda s, e: center + a[s:e, None] * d0 + b[s:e, None] * d1, 17, chunk=4))
    assert np.allclose(fast, direct, rtol=1e-12, atol=1e-12)
