"""Smoothing of training curves for display: a trailing moving average that keeps the curve's length."""

from __future__ import annotations

import numpy as np


def moving_average(values, window: int) -> np.ndarray:
    """Return ``values`` smoothed by a trailing mean over ``window`` epochs (the first window-1 stay raw).

    NaN (a diverged run) propagates into every window that contains it, so a divergence is not smoothed away.
    """
    ys = np.asarray(values, dtype=float)
    k = int(window)
    if k <= 1 or len(ys) < k:
        return ys
    smooth = np.convolve(ys, np.ones(k) / k, mode="valid")
    return np.concatenate([ys[: k - 1], smooth])
