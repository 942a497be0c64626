"""EpochRecord: what one epoch of one run produced, and the history's column order."""

from __future__ import annotations

from dataclasses import asdict, dataclass

HISTORY_COLUMNS = ["epoch", "train_loss", "test_loss", "train_acc", "test_acc", "lr", "grad_norm", "seconds"]


@dataclass
class EpochRecord:
    """What one epoch produced (epoch 0 = before any training); None where it does not apply."""

    epoch: int
    train_loss: float
    test_loss: float | None
    train_acc: float | None
    test_acc: float | None
    lr: float
    grad_norm: float | None
    seconds: float

    # grad_norm: the norm of the full-training-set gradient of the data loss at the end of the epoch

    def row(self) -> list:
        """Return the values in HISTORY_COLUMNS order."""
        return [getattr(self, c) for c in HISTORY_COLUMNS]

    def to_dict(self) -> dict:
        """Return the record as a dict."""
        return asdict(self)


def nan_record(epoch: int, lr: float, seconds: float, has_test: bool, classes: bool) -> EpochRecord:
    """Return the record of a diverged run: NaN wherever a measurement would stand."""
    nan = float("nan")
    return EpochRecord(
        epoch,
        nan,
        nan if has_test else None,
        nan if classes else None,
        nan if has_test and classes else None,
        lr,
        None,
        seconds,
    )


def divergence_text(diverged_at: int | None) -> str | None:
    """Return how a run's end reads when it diverged ("diverged at epoch k"), or None when it did not.

    Epoch 0 is a divergence too: the loss was not finite before any step, so the data or the weights are at fault.
    """
    if diverged_at is None:
        return None
    if diverged_at == 0:
        return "diverged at epoch 0 (the loss was not finite before training: check the data or the weights)"
    return f"diverged at epoch {diverged_at}"
