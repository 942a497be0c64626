"""`main.py compare`: a fair comparison of runs that differ in one or two fields, driven by comparison_job."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from engine.errors import UserError
from engine.experiment import ComparisonResult, ComparisonSpec, ExperimentError, TrainingSettings, load_section
from engine.io import Staged, write_csv, write_json
from engine.jobs import Token
from engine.training.checks import check_shapes
from engine.training.compare import (
    Comparison,
    curve_colour,
    parse_seeds,
    parse_vary,
    seed_curves,
    summary_table,
    tidy_table,
)
from engine.training.estimate import DataShape, check_batches, data_shape, estimate_comparison
from engine.training.jobs import comparison_job
from gui.charts import style
from gui.cli.driver import check_estimate, check_outputs, drive, load_file, memory_guard, progress, write_experiment
from gui.cli.flags import Source
from gui.cli.options import add_training_options, number, training_config, training_source

COMPARISON_TAB = 2
OUTER = ("vary", "seeds", "target_acc")  # the comparison's own fields, beside its base


def add_parser(sub) -> None:
    """Register the `compare` sub-command; returns nothing."""
    p = sub.add_parser(
        "compare",
        help="compare runs that differ in one or two fields",
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
        planned = comparison.runs()
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
    loaded = load_file(args)
    spec = loaded.comparison if loaded else None
    source = training_source(args, "comparison.base", outer=OUTER)
    try:
        base, data, base_settings = training_config(args, spec.base if spec else None, source)
        vary, seeds, target = comparison_fields(args, spec, source)
        comparison = Comparison(base, vary, seeds)
        planned = plan(comparison)  # validates every combination before any training
        used = load_section(
            ComparisonSpec,
            {
                "base": base_settings,
                "vary": [{"field": n, "values": v} for n, v in vary],
                "seeds": seeds,
                "target_acc": target,
            },
        )
        data = data if data is not None else base.load_data()
        cache = {base.dataset_key(): data}
        estimate = comparison_estimate(planned, cache, vary)
        check_estimate(estimate)
        print(f"{data.summary()}; {len(planned)} runs", file=sys.stderr)
        token = Token()
        with progress(sum(cfg.epochs for _, _, cfg in planned), "compare", "epoch") as bar:

            def advance(snapshot) -> None:
                """Move the bar to the epochs done, with the runs finished; returns nothing."""
                bar.set_postfix_str(f"runs {snapshot.finished}/{len(planned)}", refresh=False)
                bar.update(snapshot.done - bar.n)

            with memory_guard(estimate):
                results = drive(comparison_job(comparison, token, cache), token, advance)
    except UserError as err:
        raise source.name(err) from None
    names = [n for n, _ in vary]
    header, rows = summary_table(results, names, target)
    try:
        with memory_guard(estimate), Staged(args.out) as out:
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
            write_experiment(out, loaded, COMPARISON_TAB, "comparison", used, ComparisonResult.from_results(results))
            compare_charts(results, names, out)
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


def compare_charts(results, names, out: Staged) -> None:
    """Draw compare_loss.png, compare_accuracy.png, compare_lr.png and, for two fields, grid.png; returns nothing."""
    from gui.charts.render import render_grid, render_lines

    use_test = results[0].history[0].test_loss is not None
    lkey, akey = ("test_loss", "test_acc") if use_test else ("train_loss", "train_acc")
    which = "test" if use_test else "train"

    def series(key):
        """Return the chart series of one metric: mean per configuration with its band across seeds."""
        items = []
        for k, c in enumerate(seed_curves(results, key)):
            first = 1 if key == "lr" else 0  # epoch 0 has had no step, so no rate
            band = (c.low[first:], c.high[first:]) if c.low is not None else None
            colour = curve_colour(c.runs[0].label, names) or style.colour(k)  # the optimizer's own, in a race
            items.append({"name": c.name, "x": c.epochs[first:], "y": c.mean[first:], "colour": colour, "band": band})
        return items

    render_lines(series(lkey), out.path("compare_loss.png"), f"{which} loss", "loss")
    if results[0].history[0].train_acc is not None:
        render_lines(series(akey), out.path("compare_accuracy.png"), f"{which} accuracy", "accuracy")
    render_lines(series("lr"), out.path("compare_lr.png"), "learning rate", "learning rate")
    if len(names) == 2:
        from gui.charts.grid import cell_key

        keys = [cell_key(r.label, names) for r in results]  # one formatting for the cells and the row/column titles
        cells = {}
        for c in seed_curves(results, lkey):
            band = (c.low, c.high) if c.low is not None else None
            series = {"name": c.name, "x": c.epochs, "y": c.mean, "colour": style.colour(0), "band": band}
            cells[cell_key(c.runs[0].label, names)] = [series]
        render_grid(
            cells,
            list(dict.fromkeys(k[0] for k in keys)),
            list(dict.fromkeys(k[1] for k in keys)),
            out.path("grid.png"),
            f"{which} loss: {names[0]} (rows) × {names[1]} (columns)",
            "loss",
        )
