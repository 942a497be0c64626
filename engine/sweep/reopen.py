"""Stored runs reopened as experiments: one run on the training tab, or a whole sweep on the comparison tab."""

from __future__ import annotations

from engine.errors import UserError
from engine.experiment import (
    ComparisonResult,
    ComparisonSpec,
    Experiment,
    ExperimentError,
    TrainingResult,
    TrainingSettings,
    load_section,
)
from engine.sweep.store import RunStore, StoredRun

TRAINING_TAB, COMPARISON_TAB = 1, 2


def run_experiment(run: StoredRun) -> Experiment:
    """Return an experiment on the training tab holding one stored run's settings and its result."""
    res = run.result
    exp = Experiment(training=TrainingSettings.from_config(res.config))
    exp.results.training = TrainingResult(
        config=res.config.to_dict(),
        history=[h.to_dict() for h in res.history],
        diverged_at=res.diverged_at,
        path=res.path,
    )
    exp.tab = TRAINING_TAB
    return exp


def sweep_experiment(store: RunStore, sweep_id: int) -> Experiment:
    """Return an experiment on the comparison tab: the sweep's specification and every stored run of it.

    Raises UserError naming ``sweep`` when the stored specification no longer fits the experiment model.
    """
    sweep = store.sweep(sweep_id)
    try:
        spec = load_section(ComparisonSpec, sweep.spec)
    except ExperimentError as err:
        raise UserError(f"sweep {sweep_id} cannot be reopened: {err.field}: {err.message}", "sweep") from None
    exp = Experiment(comparison=spec)
    runs = store.runs(sweep.id)
    if runs:
        exp.results.comparison = ComparisonResult.from_results([r.result for r in runs])
    exp.tab = COMPARISON_TAB
    return exp
