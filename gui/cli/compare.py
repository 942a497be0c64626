"""`main.py compare`: a fair comparison (a sweep) of runs that differ in any number of fields, trained on a
backend and kept in the run store (gui.cli.sweep_run)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from engine.errors import UserError
from engine.experiment import ComparisonResult, ComparisonSpec, ExperimentError, TrainingSettings, load_section
from engine.io import Staged, write_csv, write_json
from engine.sweep.grid import SweepGrid
from engine.training.checks import check_shapes
from engine.training.compare import (
    Comparison,
    curve_colour,
    own_settings,
    parse_seeds,
    parse_vary,
    seed_curves,
    summary_table,
    tidy_table,
)
from engine.training.estimate import DataShape, check_batches, data_shape, estimate_comparison
from engine.training.tuning import tuned_fields
from gui.cli.animate import add_animation_options, animation_options
from gui.cli.chart_process import draw
from gui.cli.driver import check_estimate, check_outputs, load_file, memory_guard, write_experiment
from gui.cli.flags import Source
from gui.cli.formats import add_format_option, chart_path, parse_formats
from gui.cli.landscape_out import add_landscape_options, landscape_request, write_two_run_landscape
from gui.cli.options import add_training_options, number, training_config, training_source
from gui.cli.race_rates import file_tuned_rates, rates_typed
from gui.cli.sweep_run import add_sweep_options, check_sweep_options, grid_cells, run_sweep, sample_count
from gui.cli.tuning_out import (
    add_tune_options,
    check_tune_vary,
    per_optimizer_options,
    tune_comparison,
    tuning_settings,
    write_tuning,
)

COMPARISON_TAB = 2
OUTER = ("vary", "seeds", "target_acc", "per_optimizer", "tuning", "sample")  # the comparison's own, beside its base


def add_parser(sub) -> None:
    """Register the `compare` sub-command; returns nothing."""
    p = sub.add_parser(
        "compare",
        help="compare runs that differ in any number of fields (a sweep, locally or on Ray)",
        description="Train a base configuration with fields varied (identical initial weights and "
        "batch order per seed); write runs.csv, summary.csv, experiment.json and side-by-side charts. "
        "With --experiment FILE, run the file's comparison (its own base, vary, seeds and target); "
        "options given override them (--vary and --seeds replace the file's lists).",
    )
    add_training_options(p)
    p.add_argument(
        "--vary",
        action="append",
        default=None,
        metavar="FIELD=V1,V2",
        help="a field and its values: momentum, lr, optimizer, scheduler, batch_size, activation, …",
    )
    p.add_argument("--seeds", default=None, help="several seeds, e.g. 1,2,3 (mean and spread in the summary)")
    p.add_argument("--target-acc", default=None, help="accuracy whose first epoch the summary reports (default 0.9)")
    p.add_argument(
        "--curves",
        choices=("test", "train", "both"),
        default="test",
        help="compare_loss.png / compare_accuracy.png show the test curves (the training curves when nothing is "
        "held out), the training curves, or both: training solid, test dashed, in each run's colour (default test)",
    )
    p.add_argument(
        "--lr-for-all",
        action="store_true",
        help="race every optimizer at --lr (by default --lr sets only the base optimizer's rate, --optimizer, and "
        "every other optimizer keeps its own default; --set OPT.lr still sets one)",
    )
    add_sweep_options(p)
    add_tune_options(p, "--tune-lr")
    add_animation_options(p, "epoch", "1200x560")
    add_format_option(p)
    add_landscape_options(p, comparison=True)
    p.set_defaults(handler=run_compare)


def comparison_fields(args, spec: ComparisonSpec | None, source: Source) -> tuple[list, list[int], float]:
    """Return (vary, seeds, target accuracy): the options typed, else the file's, else the defaults."""
    if args.vary is not None:
        vary = [parse_vary(v) for v in args.vary]
        source.type("vary")
        for i, (name, _) in enumerate(vary):
            source.type(f"vary.{i}", f"--vary {name}")
    else:
        vary = [(v.field, list(v.values)) for v in spec.vary] if spec is not None else []
    if not vary:
        raise UserError("compare needs at least one --vary FIELD=V1,V2")
    names = [n for n, _ in vary]
    if len(set(names)) != len(names):
        raise UserError("each field can be varied once")
    if args.seeds is not None:
        seeds = parse_seeds(args.seeds)
        source.type("seeds")
    else:
        seeds = list(spec.seeds) if spec is not None else []
    if args.target_acc is not None:
        target = number(args.target_acc, "target-acc")
        source.type("target_acc")
    else:
        target = spec.target_acc if spec is not None else 0.9
    return vary, seeds, target


def plan(comparison: Comparison) -> list:
    """Return the comparison's planned (label, seed, config) runs; an error names the varied field at fault.

    Every run's configuration must also fit the experiment model, so that experiment.json can hold it.
    """
    try:
        planned = own_settings(comparison, comparison.runs())  # each optimizer with its own settings
    except UserError:
        for i, (name, values) in enumerate(comparison.vary):
            for value in values:
                try:
                    comparison.base.with_field(name, value).validated()
                except UserError as bad:
                    raise UserError(bad.message, f"vary.{i}.values") from None
        raise
    for label, _, cfg in planned:
        try:
            TrainingSettings.from_config(cfg)
        except ExperimentError as err:
            if err.field == "seed":
                raise UserError(err.message, "seeds") from None
            culprit = next((i for i, (name, _) in enumerate(comparison.vary) if name in label), 0)
            raise UserError(f"{err.field}: {err.message}", f"vary.{culprit}.values") from None
    return planned


def comparison_estimate(planned: list, cache: dict, vary: list):
    """Return the comparison's Estimate, after checking every run against its data (layer sizes, batch norm's
    batches): errors come before any training. Data sets that cannot be sized unloaded (CSV files) are loaded
    into ``cache`` (the job then uses them). An error over a varied field names --vary."""

    def shape(cfg):
        """Return the data shape of one run's configuration."""
        key = cfg.dataset_key()
        if key in cache:
            return DataShape.of(cache[key])
        known = data_shape(cfg)
        if known is None:
            cache[key] = cfg.load_data()
            return DataShape.of(cache[key])
        return known

    def varied(err: UserError, fields: tuple[str, ...]) -> UserError:
        """Return ``err`` naming --vary when one of ``fields`` is varied, else unchanged."""
        index = next((i for i, (name, _) in enumerate(vary) if name in fields), None)
        return err if index is None else UserError(err.message, f"vary.{index}.values")

    for _, _, cfg in planned:  # what the data rules out, before the first run starts
        try:
            sized = shape(cfg)
            check_batches(cfg, sized)
            loaded = cache.get(cfg.dataset_key())
            name = loaded.name if loaded is not None else cfg.dataset
            check_shapes(cfg, SimpleNamespace(name=name, n_features=sized.n_features, n_classes=sized.n_classes))
        except UserError as err:
            raise varied(err, (err.field, "batchnorm") if err.field == "batch_size" else (err.field,)) from None
    estimate = estimate_comparison(planned, shape)
    if estimate.refused and estimate.field == "layers":
        raise varied(estimate.error(), ("layers",))
    return estimate


def run_compare(args) -> int:
    """Run a comparison; write runs.csv, summary.csv, comparison.json, experiment.json and charts; return 0.

    The output folder is checked, and every run planned and estimated (memory, time), before any training:
    a comparison that would not fit is refused (exit 2), a slow one warned about.
    """
    check_outputs(args)
    formats = parse_formats(args.format)
    animation = animation_options(args, "1200x560")
    landscape = landscape_request(args)
    if landscape is not None and args.landscape_plane is not None:
        raise UserError(
            "compare draws the plane through the shared start and the ends of its first two runs", "landscape_plane"
        )
    loaded = load_file(args)
    spec = loaded.comparison if loaded else None
    source = training_source(args, "comparison.base", outer=OUTER)
    try:
        per_optimizer = per_optimizer_options(args, spec.per_optimizer if spec else None, source)
        tuning = tuning_settings(args, spec.tuning if spec else None, source)
        base, data, base_settings = training_config(args, spec.base if spec else None, source)
        vary, seeds, target = comparison_fields(args, spec, source)
        per_optimizer = rates_typed(args, base, vary, per_optimizer, source)
        if args.tune:
            check_tune_vary(vary)
        grid_pair = check_sweep_options(args, [n for n, _ in vary])
        sample = sample_count(args, spec, source)
        tuned_lr = file_tuned_rates(spec, base, source)
        comparison = SweepGrid(base, vary, seeds, per_optimizer, tuned_lr, sample=sample)
        planned = plan(comparison)  # validates every combination before any training
        used = load_section(
            ComparisonSpec,
            {
                "base": base_settings,
                "vary": [{"field": n, "values": v} for n, v in vary],
                "seeds": seeds,
                "target_acc": target,
                "sample": sample,
                "per_optimizer": per_optimizer,
                "tuned_lr": [{"when": when, "lr": lr} for when, lr in tuned_lr],
                "tuning": tuning.model_dump(),
            },
        )
        data = data if data is not None else base.load_data()
        cache = {base.dataset_key(): data}
        estimate = comparison_estimate(planned, cache, vary)
        check_estimate(estimate)
        print(f"{data.summary()}; {len(planned)} runs", file=sys.stderr)
        tuned = None
        with memory_guard(estimate):
            if args.tune:  # sweep each optimizer's rate, then race at the tuned rates (recorded in experiment.json)
                comparison, tuned = tune_comparison(comparison, tuning, cache)
                planned = plan(comparison)
                used.per_optimizer = comparison.per_optimizer
                used.tuned_lr = [{"when": when, "lr": lr} for when, lr in comparison.tuned_lr]
            results = run_sweep(args, comparison, planned, used.model_dump(mode="json"), cache)
    except UserError as err:
        raise source.name(err) from None
    names = [n for n, _ in vary]
    header, rows = summary_table(results, names, target)
    try:
        with memory_guard(estimate), Staged(args.out) as out:
            calls = chart_calls(results, names, out, grid_pair, curves=args.curves, formats=formats)
            with draw(calls) as charts:  # in the chart process, if one was started, while the files below are written
                write_csv(*tidy_table(results, names), out.path("runs.csv"))
                write_csv(header, rows, out.path("summary.csv"))
                write_json(
                    {
                        "base": base.to_dict(),
                        "vary": [{"field": n, "values": v} for n, v in vary],
                        "seeds": seeds or [base.seed],
                        "runs": [
                            {
                                "label": r.label,
                                "seed": r.seed,
                                "path": r.path,
                                "diverged_at": r.diverged_at,
                                "history": [h.to_dict() for h in r.history],
                            }
                            for r in results
                        ],
                    },
                    out.path("comparison.json"),
                )
                result = ComparisonResult.from_results(results)
                write_experiment(out, loaded, COMPARISON_TAB, "comparison", used, result)
                charts.wait()
            if animation is not None:
                from gui.cli.animate import animate_comparison

                animate_comparison(results, names, animation)
            if tuned is not None:
                write_tuning(out, tuned.trials, tuned.best, tuned.criterion, formats, tuned_fields(comparison))
            if landscape is not None:
                print(
                    write_two_run_landscape(comparison, landscape, out, cache.get(base.dataset_key())), file=sys.stderr
                )
    except UserError as err:
        raise source.name(err) from None
    for row in rows:
        print("  " + ", ".join(f"{h}={_fmt(v)}" for h, v in zip(header, row) if h.endswith("_mean") or h in names))
    print(
        f"{len(results)} runs ({results[0].path}); wrote runs.csv, summary.csv, experiment.json, charts "
        f"to {Path(args.out)}"
    )
    return 0


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def chart_calls(
    results, names, out: Staged, grid_pair: tuple[str, str] | None = None, curves: str = "test", formats=("png",)
) -> list:
    """Return the gui.charts.render calls, as (function name, args, kwargs), that draw compare_loss,
    compare_accuracy, compare_lr and, for two fields, grid, each in every one of ``formats`` (png, svg).

    ``curves`` ("test", "train", "both") picks the loss and accuracy curves, as the window's "curves" choice:
    "both" draws each run's training curve solid and its test curve dashed, named "… · train" / "… · test".
    The calls hold only numbers, words and the staged paths, so gui.cli.chart_process can draw them elsewhere.
    """
    from gui.charts import style  # the palette only: no Qt or pyqtgraph here

    use_test = results[0].history[0].test_loss is not None
    which = "test" if use_test and curves != "train" else "train"
    lkey = f"{which}_loss"  # the grid's curves: test for "both"
    parts = ("train", "test") if use_test and curves == "both" else (which,)
    words = "train and test" if len(parts) == 2 else which

    def series(key, part=None):
        """Return the chart series of one metric: mean per configuration with its band across seeds."""
        items = []
        for k, c in enumerate(seed_curves(results, key)):
            first = 1 if key == "lr" else 0  # epoch 0 has had no step, so no rate
            band = (c.low[first:], c.high[first:]) if c.low is not None else None
            colour = curve_colour(c.runs[0].label, names) or style.colour(k)  # the optimizer's own, in a race
            name = f"{c.name} · {part}" if part else c.name
            items.append(
                {"name": name, "x": c.epochs[first:], "y": c.mean[first:], "colour": colour, "band": band}
                | ({"dashed": part == "test"} if part else {})
            )
        return items

    def metric_series(metric_name):
        """Return the series of ``loss`` or ``acc`` for the chosen curves (train and test: both, styled)."""
        if len(parts) == 1:
            return series(f"{which}_{metric_name}")
        return [s for part in parts for s in series(f"{part}_{metric_name}", part)]

    def path(name):
        return chart_path(out, name, formats)

    def lines(items, name, title, ylabel):
        return ("render_lines", (items, path(name), title, ylabel), {"formats": formats})

    calls = [lines(metric_series("loss"), "compare_loss", f"{words} loss", "loss")]
    if results[0].history[0].train_acc is not None:
        calls.append(lines(metric_series("acc"), "compare_accuracy", f"{words} accuracy", "accuracy"))
    calls.append(lines(series("lr"), "compare_lr", "learning rate", "learning rate"))
    if grid_pair is not None:  # small multiples over two chosen fields; the others are curves within a cell
        cells, rows, cols = grid_cells(results, names, grid_pair, lkey, style.colour)
        others = ", ".join(n for n in names if n not in grid_pair)
        title = f"{which} loss: {grid_pair[0]} (rows) × {grid_pair[1]} (columns)"
        title += f"; a curve per {others}" if others else ""
        calls.append(("render_grid", (cells, rows, cols, path("grid"), title, "loss", formats), {}))
    return calls
