"""What changed on the surface tab since a tuning sweep or a map was computed, in the user's words.

A tuned rate or a map cell is applied to the settings as they are *now* (the user's later edits are kept);
these words say when "now" is no longer what the rates or the map were computed on.
"""

from __future__ import annotations

from engine.errors import UserError
from engine.experiment import SurfaceSettings
from engine.experiment_settings import FORMULA
from engine.optimizers import OPTIMIZERS
from engine.schedulers import SCHEDULERS
from engine.surface.functions import BUILTINS


def surface_name(s: SurfaceSettings) -> str:
    """Return the surface's name as the tab shows it ("Peaks", or "the formula x**2 + y**2")."""
    return f"the formula {s.formula}" if s.function == FORMULA else BUILTINS[s.function].name


def optimizer_name(oid: str) -> str:
    """Return the optimizer's display name."""
    return OPTIMIZERS.get(oid).name


def _starts(s: SurfaceSettings) -> list[tuple[float, ...]]:
    try:
        return [tuple(p) for p in s.start_points(s.surface())]
    except UserError:
        return [tuple(p) for p in s.starts]


def _point(p) -> str:
    return "(" + ", ".join(f"{c:.3g}" for c in p) + ")"


def _schedule(s: SurfaceSettings) -> str:
    return SCHEDULERS.get(s.scheduler).name


def run_words(s: SurfaceSettings) -> str:
    """Return what a run was computed on: "Peaks, 50 steps" (with the start and schedule when not the defaults)."""
    words = [surface_name(s), f"{s.steps} steps"]
    if s.starts:
        words.append("from " + "; ".join(_point(p) for p in _starts(s)))
    if s.scheduler != "none":
        words.append(f"{_schedule(s)} schedule")
    return ", ".join(words)


def param_text(values: dict, names) -> str:
    """Return "lr 0.0193, momentum 0.814" for the ``names`` of ``values``."""
    return ", ".join(f"{n} {values[n]:.3g}" for n in names if n in values)


def changes(old: SurfaceSettings, new: SurfaceSettings, optimizers, skip=()) -> list[str]:
    """Return what differs from ``old`` in ``new`` that changes the paths of ``optimizers`` (their settings
    except the fields in ``skip``), e.g. ["the surface is now Rosenbrock", "the steps are now 200"]."""
    out = []
    if (old.function, old.formula, old.domain) != (new.function, new.formula, new.domain):
        out.append(f"the surface is now {surface_name(new)}")
    if old.steps != new.steps:
        out.append(f"the steps are now {new.steps}")
    if (old.starts or new.starts) and _starts(old) != _starts(new):  # not each surface's own default start
        out.append("the start is now " + "; ".join(_point(p) for p in _starts(new)))
    if (old.scheduler, old.scheduler_params) != (new.scheduler, new.scheduler_params):
        out.append(f"the schedule is now {_schedule(new)}")
    for oid in optimizers:
        was, now = old.hyperparameters.get(oid, {}), new.hyperparameters.get(oid, {})
        moved = [n for n in now if n not in skip and now.get(n) != was.get(n)]
        if moved:
            shown = ", ".join(
                f"{n} is now {now[n]:.3g}" if isinstance(now[n], float) else f"{n} is now {now[n]}" for n in moved
            )
            out.append(f"{optimizer_name(oid)}'s {shown}")
    return out


def and_list(items: list[str]) -> str:
    """Return "a", "a and b" or "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def cell_words(oid: str, values: dict, before: SurfaceSettings, computed_on: SurfaceSettings, undo: dict) -> str:
    """Return the status after a map cell set ``values`` on optimizer ``oid`` of the surface tab (``before``
    as it was), for a map computed on ``computed_on``; ``undo`` the values "Put back" restores."""
    name = optimizer_name(oid)
    was = before.hyperparameters[oid]
    words = [f"{name} set to {param_text(values, values)} from the map (was {param_text(was, values)})."]
    others = [optimizer_name(o) for o in before.optimizers if o != oid]
    if oid not in before.optimizers:
        words.append(f"{name} is ticked now.")
    if others:
        words.append(f"{and_list(others)} race on unchanged.")
    since = changes(computed_on, before, [oid], skip=set(values))
    if since:
        words.append(
            f"The map was computed on {run_words(computed_on)}; since then {and_list(since)}, "
            "so this path is not the cell's: compute the map again."
        )
    words.append(f"Put back restores {name}'s {param_text(undo, values)}.")
    return " ".join(words)
