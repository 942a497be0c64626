"""Stretches of an epoch trained in one call, for backends that can (the numba kernel: backends/numba_mlp.py).

Between two batches the trainer's Python (slicing, the stop check, the yield) held the GIL for a few
microseconds, a fifth of a spiral batch on the numba kernel and, in the window, a wait for the GUI thread
at every batch. Where no learning-rate driver steps per batch and the epoch's rows are at hand in order,
the backend trains as many batches as it judges short enough to stop between (``train_span``), and the
trainer checks its token and yields once per stretch instead.
"""

from __future__ import annotations

from collections.abc import Generator


def can_span(backend, per_batch_drivers: bool, in_order: bool) -> bool:
    """Return whether the epoch can be trained in stretches: a backend with ``train_span``, no per-batch driver
    (rates fixed within the epoch) and the epoch's rows in training order (gathered, or not shuffled)."""
    return hasattr(backend, "train_span") and not per_batch_drivers and in_order


def span_batches(group, xs, ys, lrs, clock) -> Generator[int, None, bool]:
    """Train ``group``'s epoch from its current batch in stretches, yielding the batches done after each; return
    True when the epoch's batches are done, False when ``clock`` stopped it between two stretches."""
    b = group._batch
    while b < group.batches_per_epoch:
        if clock is not None and clock.checkpoint():
            return False
        end = group.backend.train_span(xs, ys, group.batch_size, b, lrs)
        group.lr_trace.extend([lrs] * (end - b))
        group._batch = b = end
        yield b
    return True
