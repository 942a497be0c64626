"""`main.py train` and `main.py compare`: headless training runs and fair comparisons."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from engine.data.datasets import DATASETS
from engine.errors import UserError
from engine.io import Staged, write_csv, write_json
from engine.optimizers import OPTIMIZERS
from engine.schedulers import SCHEDULERS
from engine.training.compare import (
    Comparison,
    metric,
    parse_seeds,
    parse_vary,
    run_comparison,
    seed_curves,
    summary_table,
    tidy_table,
)
from engine.training.config import LOSSES, TrainConfig
from engine.training.metrics import confusion_matrix, decision_grid, per_class_accuracy, predictions
from engine.training.model import ACTIVATIONS, INITS, OUTPUT_ACTIVATIONS, load_weights_file, parse_layers
from engine.training.trainer import HISTORY_COLUMNS, Trainer
from gui.charts import style


def _common(p) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", default="spiral", help=f"one of {', '.join(DATASETS)}")
    g.add_argument("--data-dir", default=None, help="folder with the IDX files (MNIST, Fashion-MNIST)")
    g.add_argument("--download", action="store_true", help="download MNIST/Fashion-MNIST into the cache if missing")
    g.add_argument("--classes", default="3", help="spiral: number of arms (default 3)")
    g.add_argument("--points", default="500", help="spiral: points per arm (default 500)")
    g.add_argument("--noise", default="0.2", help="spiral: angular noise (default 0.2)")
    g.add_argument("--target", default=None, help="CSV: the label or target column")
    g.add_argument("--standardize", action="store_true", default=None, help="scale features to mean 0, std 1")
    g.add_argument("--test-fraction", default=None, help="held-out share (spiral default 0: the seeds use all points)")
    g = p.add_argument_group("model")
    g.add_argument("--layers", default=None, help="sizes, e.g. 2,50,3 (default: inputs,50,classes)")
    g.add_argument("--activation", default="relu", help=f"hidden activation: {', '.join(ACTIVATIONS)}")
    g.add_argument("--output-activation", default="none", help=f"one of {', '.join(OUTPUT_ACTIVATIONS)}")
    g.add_argument("--loss", default="cross-entropy", help=f"one of {', '.join(LOSSES)}")
    g.add_argument("--init", default="default", help=f"one of {', '.join(INITS)}")
    g.add_argument("--dropout", default="0", help="dropout after hidden layers (0–0.99)")
    g.add_argument("--batchnorm", action="store_true", help="batch norm after hidden layers")
    g.add_argument("--l1", default="0", help="L1 penalty on weights")
    g.add_argument("--l2", default="0", help="L2 penalty on weights")
    g.add_argument("--init-weights", default=None, help="start from these weights (JSON)")
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", default="sgd", help=f"one of {', '.join(OPTIMIZERS.ids())}")
    g.add_argument("--lr", default=None, help="learning rate (default: the optimizer's, 0.1 for the SGD family)")
    g.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="optimizer hyperparameter, e.g. momentum=0.5"
    )
    g.add_argument("--scheduler", default="none", help=f"one of {', '.join(SCHEDULERS.ids())}")
    g.add_argument("--sched-set", action="append", default=[], metavar="NAME=VALUE", help="scheduler parameter")
    g.add_argument("--batch-size", default="20", help="samples per batch, or 'full' (default 20)")
    g.add_argument("--epochs", default="100", help="epochs (default 100)")
    g.add_argument("--seed", default="1", help="seed for data, weights and batch order (default 1)")
    g.add_argument("--no-shuffle", action="store_true", help="keep the data order (the spiral is sorted by class!)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", required=True, help="output folder")


def add_parsers(sub) -> None:
    """Register the `train` and `compare` sub-commands."""
    p = sub.add_parser(
        "train",
        help="train one network and chart its history",
        description="Train an MLP; write history.csv/json, weights.json and charts.",
    )
    _common(p)
    p.add_argument("--save-weights", default=None, help="where to write the final weights (default OUT/weights.json)")
    p.set_defaults(handler=run_train)
    p = sub.add_parser(
        "compare",
        help="compare runs that differ in one or two fields",
        description="Train a base configuration with fields varied (identical initial weights and "
        "batch order per seed); write runs.csv, summary.csv and side-by-side charts.",
    )
    _common(p)
    p.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="FIELD=V1,V2",
        help="a field and its values: momentum, lr, optimizer, scheduler, batch_size, activation, …",
    )
    p.add_argument("--seeds", default=None, help="several seeds, e.g. 1,2,3 (mean and spread in the summary)")
    p.add_argument("--target-acc", default="0.9", help="accuracy whose first epoch the summary reports")
    p.set_defaults(handler=run_compare)


def _num(text, name, kind=float):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise UserError(f"--{name} must be a {'whole ' if kind is int else ''}number, not {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise UserError(f"--{name} must be finite")
    return value


def config_from_args(args) -> TrainConfig:
    """Return (validated TrainConfig, loaded Dataset) for the command-line options."""
    from gui.cli import parse_assignments

    opt = OPTIMIZERS.get(args.optimizer)
    params = {}
    if args.lr is not None:
        params["lr"] = args.lr
    elif opt.id in ("sgd", "momentum", "nesterov"):
        params["lr"] = 0.1  # the seeds' rate; torch's 0.01 default crawls on these problems
    for key, value in parse_assignments(args.set, "--set"):
        opt.param(key)
        params[key] = value
    batch = str(args.batch_size).strip().lower()
    cfg = TrainConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        classes=_num(args.classes, "classes", int),
        points=_num(args.points, "points", int),
        noise=_num(args.noise, "noise"),
        target=args.target,
        standardize=args.standardize,
        test_fraction=None if args.test_fraction is None else _num(args.test_fraction, "test-fraction"),
        layers=(1, 1),
        activation=args.activation,
        output_activation=args.output_activation,
        loss=args.loss,
        init=args.init,
        dropout=_num(args.dropout, "dropout"),
        batchnorm=args.batchnorm,
        l1=_num(args.l1, "l1"),
        l2=_num(args.l2, "l2"),
        optimizer=opt.id,
        optimizer_params=params,
        scheduler=args.scheduler,
        scheduler_params=dict(parse_assignments(args.sched_set, "--sched-set")),
        batch_size=0 if batch == "full" else _num(batch, "batch-size", int),
        epochs=_num(args.epochs, "epochs", int),
        seed=_num(args.seed, "seed", int),
        shuffle=not args.no_shuffle,
        device=args.device,
    )
    if cfg.batch_size < 0 or (batch != "full" and cfg.batch_size == 0):
        raise UserError(f"--batch-size must be a positive whole number or 'full', not {args.batch_size!r}")
    data = cfg.load_data(download=args.download)
    if args.layers:
        layers = parse_layers(args.layers)
    else:
        layers = [data.n_features, 50, data.n_classes or 1]
    from dataclasses import replace

    return replace(cfg, layers=tuple(layers)).validated(), data


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, label: str):
        self.label = label
        self.on = sys.stderr.isatty()
        self.last = 0.0

    def update(self, done: int, total: int, extra: str = "") -> None:
        """Redraw the bar (at most 10 times a second)."""
        now = time.monotonic()
        if not self.on or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        width = 30
        filled = int(width * done / max(1, total))
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {extra}   ")
        sys.stderr.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.on:
            sys.stderr.write("\n")


def _history_charts(histories, names, out) -> None:
    from gui.charts.render import render_lines

    has_test = any(h[0].test_loss is not None for h in histories)
    loss_series, acc_series, lr_series = [], [], []
    for k, (h, name) in enumerate(zip(histories, names)):
        c = style.colour(k)
        epochs = [r.epoch for r in h]
        one = len(histories) == 1
        loss_series.append(
            {"name": f"{name + ' ' if not one else ''}train", "x": epochs, "y": metric(h, "train_loss"), "colour": c}
        )
        if has_test:
            loss_series.append(
                {
                    "name": f"{name + ' ' if not one else ''}test",
                    "x": epochs,
                    "y": metric(h, "test_loss"),
                    "colour": c if not one else style.colour(1),
                    "dashed": not one,
                }
            )
        if h[0].train_acc is not None:
            acc_series.append(
                {"name": f"{name + ' ' if not one else ''}train", "x": epochs, "y": metric(h, "train_acc"), "colour": c}
            )
            if has_test:
                acc_series.append(
                    {
                        "name": f"{name + ' ' if not one else ''}test",
                        "x": epochs,
                        "y": metric(h, "test_acc"),
                        "colour": c if not one else style.colour(1),
                        "dashed": not one,
                    }
                )
        lr_series.append({"name": name, "x": epochs[1:], "y": metric(h, "lr")[1:], "colour": c})
    render_lines(loss_series, out.path("loss.png"), "loss", "loss")
    if acc_series:
        render_lines(acc_series, out.path("accuracy.png"), "accuracy", "accuracy")
    render_lines(lr_series, out.path("lr.png"), "learning rate", "learning rate")


def run_train(args) -> int:
    """Train one run and write its history, weights and charts."""
    cfg, data = config_from_args(args)
    init = load_weights_file(args.init_weights) if args.init_weights else None
    trainer = Trainer(cfg, data, init)
    print(data.summary(), file=sys.stderr)
    bar = Progress("train")
    trainer.run(on_epoch=lambda rec: bar.update(rec.epoch, cfg.epochs, f"loss {rec.train_loss:.4g}"), on_batch=None)
    bar.close()
    h = trainer.history
    out_dir = args.out
    with Staged(out_dir) as out:
        write_csv(HISTORY_COLUMNS, [r.row() for r in h], out.path("history.csv"))
        write_json(
            {
                "config": cfg.to_dict(),
                "dataset": data.summary(),
                "path": trainer.path,
                "diverged_at": trainer.diverged_at,
                "history": [r.to_dict() for r in h],
            },
            out.path("history.json"),
        )
        if args.save_weights is None:
            write_json(trainer.weights(), out.path("weights.json"))
        _history_charts([h], ["run"], out)
        from gui.charts.render import render_confusion, render_decision

        if data.n_features == 2 and data.n_classes:
            xs, ys, classes, conf = decision_grid(trainer.logits, data.x_train)
            render_decision(
                xs,
                ys,
                classes,
                conf,
                data.x_train.numpy(),
                data.y_train.numpy(),
                data.n_classes,
                out.path("decision.png"),
                f"decision regions after {trainer.epoch} epochs",
            )
        if data.image_shape and data.n_classes:
            x, y = (data.x_test, data.y_test) if data.has_test else (data.x_train, data.y_train)
            matrix = confusion_matrix(y.numpy(), predictions(trainer.logits, x), data.n_classes)
            per = per_class_accuracy(matrix)
            render_confusion(
                matrix,
                data.class_names,
                out.path("confusion.png"),
                f"confusion matrix ({'test' if data.has_test else 'train'}), rows true / columns predicted",
            )
            write_csv(
                ["class", "accuracy"],
                [[n, float(a)] for n, a in zip(data.class_names, per)],
                out.path("per_class_accuracy.csv"),
            )
    if args.save_weights:
        Path(args.save_weights).parent.mkdir(parents=True, exist_ok=True)
        write_json(trainer.weights(), args.save_weights)
    last = h[-1]
    state = (
        f"diverged at epoch {trainer.diverged_at}"
        if trainer.diverged_at
        else f"train loss {last.train_loss:.4g}"
        + (f", train acc {last.train_acc:.3f}" if last.train_acc is not None else "")
        + (f", test acc {last.test_acc:.3f}" if last.test_acc is not None else "")
    )
    print(f"{trainer.epoch} epochs ({trainer.path}): {state}")
    print(f"wrote history.csv, history.json, charts to {Path(out_dir)}")
    return 0


def run_compare(args) -> int:
    """Run a comparison and write runs.csv, summary.csv and the side-by-side charts."""
    base, data = config_from_args(args)
    vary = [parse_vary(v) for v in args.vary]
    if not vary:
        raise UserError("compare needs at least one --vary FIELD=V1,V2")
    names = [n for n, _ in vary]
    if len(set(names)) != len(names):
        raise UserError("each field can be varied once")
    seeds = parse_seeds(args.seeds) if args.seeds else []
    target = _num(args.target_acc, "target-acc")
    comparison = Comparison(base, vary, seeds)
    planned = comparison.runs()  # validates every combination before any training
    print(f"{data.summary()}; {len(planned)} runs", file=sys.stderr)
    bar = Progress("compare")
    results = run_comparison(
        comparison,
        on_progress=lambda d, t: bar.update(d, t),
        data_cache={base.dataset_key(): data} if not seeds else None,
    )
    bar.close()
    with Staged(args.out) as out:
        write_csv(*tidy_table(results, names), out.path("runs.csv"))
        header, rows = summary_table(results, names, target)
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
        _compare_charts(results, names, out)
    for row in rows:
        print("  " + ", ".join(f"{h}={_fmt(v)}" for h, v in zip(header, row) if h.endswith("_mean") or h in names))
    print(f"{len(results)} runs ({results[0].path}); wrote runs.csv, summary.csv, charts to {Path(args.out)}")
    return 0


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _compare_charts(results, names, out) -> None:
    from gui.charts.render import render_grid, render_lines

    use_test = results[0].history[0].test_loss is not None
    lkey, akey = ("test_loss", "test_acc") if use_test else ("train_loss", "train_acc")
    which = "test" if use_test else "train"

    def series(key):
        items = []
        for k, c in enumerate(seed_curves(results, key)):
            first = 1 if key == "lr" else 0  # epoch 0 has had no step, so no rate
            band = (c.low[first:], c.high[first:]) if c.low is not None else None
            items.append(
                {"name": c.name, "x": c.epochs[first:], "y": c.mean[first:], "colour": style.colour(k), "band": band}
            )
        return items

    render_lines(series(lkey), out.path("compare_loss.png"), f"{which} loss", "loss")
    if results[0].history[0].train_acc is not None:
        render_lines(series(akey), out.path("compare_accuracy.png"), f"{which} accuracy", "accuracy")
    render_lines(series("lr"), out.path("compare_lr.png"), "learning rate", "learning rate")
    if len(names) == 2:
        rows_v = list(dict.fromkeys(str(r.label[names[0]]) for r in results))
        cols_v = list(dict.fromkeys(str(r.label[names[1]]) for r in results))
        cells = {}
        for c in seed_curves(results, lkey):
            label = c.runs[0].label
            key = (f"{names[0]}={label[names[0]]}", f"{names[1]}={label[names[1]]}")
            band = (c.low, c.high) if c.low is not None else None
            cells[key] = [{"name": c.name, "x": c.epochs, "y": c.mean, "colour": style.colour(0), "band": band}]
        render_grid(
            cells,
            [f"{names[0]}={v}" for v in rows_v],
            [f"{names[1]}={v}" for v in cols_v],
            out.path("grid.png"),
            f"{which} loss: {names[0]} (rows) × {names[1]} (columns)",
            "loss",
        )
