"""Decision regions for 2-D data, confusion matrices and per-class accuracy for classifiers."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

Logits = Callable[[torch.Tensor], torch.Tensor]


def decision_grid(logits: Logits, x: torch.Tensor, n: int = 200, margin: float = 0.1):
    """Return (xs, ys, classes, confidence) over the data's bounding box plus ``margin``.

    classes[i, j] is the predicted class at (xs[j], ys[i]); confidence is its softmax probability
    (sigmoid for a single output).
    """
    lo = x.min(dim=0).values.cpu().numpy() - margin
    hi = x.max(dim=0).values.cpu().numpy() + margin
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys)
    grid = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)
    with torch.no_grad():
        z = logits(grid).float().cpu()
    if z.shape[1] == 1:
        p1 = torch.sigmoid(z[:, 0])
        classes = (p1 > 0.5).long()
        conf = torch.where(classes == 1, p1, 1 - p1)
    else:
        top, classes = z.max(dim=1)  # the top class's softmax probability is 1 / Σ exp(z - top): 4x faster than
        conf = 1.0 / torch.exp(z - top[:, None]).sum(dim=1)  # softmax over 3 columns (redrawn while training)
    return xs, ys, classes.numpy().reshape(n, n), conf.numpy().reshape(n, n)


def predictions(logits: Logits, x: torch.Tensor, chunk: int = 4096) -> np.ndarray:
    """Return predicted class indices for every row of x."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            z = logits(x[i : i + chunk]).float().cpu()
            out.append((z[:, 0] > 0).long() if z.shape[1] == 1 else z.argmax(dim=1))
    return torch.cat(out).numpy() if out else np.empty(0, dtype=np.int64)


def confusion_matrix(true: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Return counts[true, predicted] as an (n_classes, n_classes) integer array."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (np.asarray(true, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return m


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Return the share of each true class predicted correctly (NaN for an absent class)."""
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)
