"""The experiment's settings for the Training tab's loss-landscape panel, saved with the experiment.

``LandscapeSettings`` holds whether the panel is shown, the plane, how often the slice is recomputed (every N
epochs), the grid's points per side, and, for the plane through three points, the two chosen epochs (the
third point is always the newest weights). ``second_epoch`` -1 means "the middle epoch of the path so far".
Files written before these settings existed open with the defaults.
"""

from __future__ import annotations

from pydantic import model_validator

from engine.experiment_fields import Bool, Choice, EventedSettings, Int, Invalid, show
from engine.training.landscape import PLANES

MAX_EPOCH = 100_000  # as TrainingSettings.epochs
MIDDLE = -1  # second_epoch: the middle of the path so far


class LandscapeSettings(EventedSettings):
    """The landscape panel: shown, plane, every N epochs, grid size, and the three-point plane's two epochs."""

    shown: Bool = False
    plane: Choice(PLANES) = "random"
    every: Int(1, 10_000) = 10
    grid: Int(5, 101) = 31
    first_epoch: Int(0, MAX_EPOCH) = 0
    second_epoch: Int(MIDDLE, MAX_EPOCH) = MIDDLE

    @model_validator(mode="after")
    def _distinct(self) -> "LandscapeSettings":
        if self.second_epoch == self.first_epoch:
            raise Invalid(f"{show(self.second_epoch)} is the first epoch too: the plane needs two", "second_epoch")
        return self
