"""The decision regions the training tab shows: each grid point's class and its softmax confidence."""

import numpy as np
import torch


def test_decision_regions_give_the_softmax_confidence_and_class_of_every_grid_point():
    from engine.training.metrics import decision_grid

    g = torch.Generator().manual_seed(1)
    weight = torch.randn(4, 2, generator=g)
    logits = lambda x: x @ weight.T  # noqa: E731 — four classes, linear regions
    x = torch.randn(50, 2, generator=g)
    xs, ys, classes, conf = decision_grid(logits, x, n=30)
    grid = torch.tensor([[a, b] for b in ys for a in xs], dtype=torch.float32)
    probs = torch.softmax(logits(grid), dim=1)
    want_conf, want_class = probs.max(dim=1)
    np.testing.assert_array_equal(classes.ravel(), want_class.numpy())
    np.testing.assert_allclose(conf.ravel(), want_conf.numpy(), rtol=1e-6)
    assert len(set(classes.ravel().tolist())) > 1  # the grid crosses region borders
