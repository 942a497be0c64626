"""A growing list of EpochRecords as numpy columns, extended in O(new records) per redraw.

A training history only grows (engine/training/jobs.py shares the trainer's own list), so a chart that is
redrawn while a run trains converts only the records that arrived since its last draw. Rebuilding every
column from the whole list each frame costs O(epochs) in Python attribute reads: about 10 ms per frame at
20,000 epochs, held under the GIL that the training thread needs.
"""

from __future__ import annotations

import numpy as np

COLUMNS = ("epoch", "train_loss", "test_loss", "train_acc", "test_acc", "lr")


class HistoryColumns:
    """The columns of the records seen so far; ``update(history)`` appends what is new and returns the count."""

    def __init__(self, columns: tuple[str, ...] = COLUMNS):
        self.columns = columns
        self.count = 0
        self._last = None  # the last record converted: a history that still holds it at count-1 only grew
        self._data = np.empty((len(columns), 0), dtype=float)

    def update(self, history) -> int:
        """Take ``history`` (a list of records, epoch 0 first); return how many records the columns now hold.

        When ``history`` extends the records converted before (same record objects), only the new ones are
        converted; any other list (a new run, a restored one, an empty one) starts the columns afresh.
        """
        n = len(history)
        grown = 0 < self.count <= n and history[self.count - 1] is self._last
        start = self.count if grown else 0
        if not grown:
            self._data = np.empty((len(self.columns), max(16, n)), dtype=float)  # fresh: earlier views stay intact
        if n > self._data.shape[1]:
            wider = np.empty((len(self.columns), max(n, 2 * self._data.shape[1])), dtype=float)
            wider[:, :start] = self._data[:, :start]
            self._data = wider
        for k, record in enumerate(history[start:n], start):
            for c, name in enumerate(self.columns):
                value = getattr(record, name, None)  # None: a record without that field (drawn as a gap)
                self._data[c, k] = np.nan if value is None else value
        self.count = n
        self._last = history[n - 1] if n else None
        return n

    def column(self, name: str) -> np.ndarray:
        """Return the column ``name`` over the records held (a view: later updates never change its values)."""
        return self._data[self.columns.index(name), : self.count]
