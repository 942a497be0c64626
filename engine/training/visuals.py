"""What the training tab's side panel draws, computed in the job's thread: decision regions for 2-D class
data, a confusion matrix for other class data, and test images for image data (``Visuals``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.training.data_shape import data_shape
from engine.training.metrics import confusion_matrix, decision_grid, per_class_accuracy, predictions

GRID_SAMPLES = 36  # test images in the samples panel
DECISION_GRID = 150  # points per side of the decision-region grid
IMAGE_SETS = ("mnist", "fashion-mnist", "digits")  # the registry's data sets of images (Dataset.image_shape)


@dataclass(frozen=True)
class Visuals:
    """What the side panels draw, computed in the job's thread."""

    epoch: int
    points: tuple | None  # (x_train ndarray, y_train ndarray, n_classes) for 2-D class data
    decision: tuple | None  # (xs, ys, classes, confidence) from metrics.decision_grid, n=150
    confusion: tuple | None  # (matrix, class_names, per_class) on test (or train if no test), non-2-D class data
    samples: tuple | None  # (images, true, predicted, image_shape, class_names), 36 fixed test images


def training_visuals(trainer) -> Visuals:
    """Return the side panels' pictures for the trainer's current weights.

    Decision regions and the scatter for 2-D class data; a confusion matrix for every other class data set
    (iris, tables, images), plus 36 fixed sample predictions for image data (on the test split, or the
    training split when there is none).
    """
    data = trainer.data
    points = decision = confusion = samples = None
    if data.n_features == 2 and data.n_classes:
        points = _points(trainer)
        decision = decision_grid(trainer.logits, data.x_train, n=DECISION_GRID)
    elif data.n_classes:
        x, y = (data.x_test, data.y_test) if data.has_test else (data.x_train, data.y_train)
        pred = predictions(trainer.logits, x)
        matrix = confusion_matrix(y.numpy(), pred, data.n_classes)
        confusion = (matrix, data.class_names, per_class_accuracy(matrix))
        if data.image_shape:
            idx = np.random.RandomState(0).choice(len(x), size=min(GRID_SAMPLES, len(x)), replace=False)
            samples = (x[idx].numpy(), y[idx].numpy(), pred[idx], data.image_shape, data.class_names)
    return Visuals(trainer.epoch, points, decision, confusion, samples)


def refresh_visuals(trainer) -> None:
    """Recompute ``trainer.visuals`` and note the optimizer steps they show; returns nothing."""
    trainer.visuals = training_visuals(trainer)
    trainer.visuals_steps = len(trainer.group.lr_trace)  # optimizer steps the visuals have seen


def _points(trainer) -> tuple:
    """Return the scatter's (x, y, n_classes), the same tuple every time (views compare it by identity)."""
    cached = getattr(trainer, "_points", None)
    if cached is None:
        data = trainer.data
        cached = trainer._points = (data.x_train.numpy(), data.y_train.numpy(), data.n_classes)
    return cached


def visuals_kind(config) -> str | None:
    """Return which side panel a run of ``config`` draws, known before its data are loaded: "decision" (2-D
    class data), "images" (a confusion matrix and test images), "confusion" (other class data), or None
    (regression, or a data set whose shape is only known once loaded: CSV files)."""
    shape = data_shape(config)
    if shape is None or not shape.n_classes:
        return None
    if shape.n_features == 2:
        return "decision"
    return "images" if config.dataset in IMAGE_SETS else "confusion"
