"""`main.py train`: one headless training run, driven by the window's own jobs (prepare_job, train_job)."""

from __future__ import annotations

import sys
from pathlib import Path

from engine.errors import UserError
from engine.experiment import TrainingResult
from engine.io import Staged, write_csv, write_json
from engine.jobs import Token
from engine.training.compare import metric
from engine.training.estimate import check_batches, estimate_run
from engine.training.jobs import prepare_job, train_job
from engine.training.metrics import confusion_matrix, decision_grid, per_class_accuracy, predictions
from engine.training.model import load_weights_file
from engine.training.trainer import HISTORY_COLUMNS
from gui.cli.animate import add_animation_options, animation_options
from gui.cli.chart_process import draw
from gui.cli.driver import (
    check_estimate,
    check_outputs,
    drive,
    load_file,
    memory_guard,
    progress,
    write_experiment,
)
from gui.cli.formats import add_format_option, chart_path, parse_formats
from gui.cli.landscape_out import add_landscape_options, check_landscape_config, landscape_request, write_landscape
from gui.cli.options import add_training_options, run_data_shape, training_config, training_source

TRAINING_TAB = 1
ANIMATION_SIZE = "1200x640"


def add_parser(sub) -> None:
    """Register the `train` sub-command; returns nothing."""
    p = sub.add_parser(
        "train",
        help="train one network and chart its history",
        description="Train an MLP; write history.csv/json, weights.json, experiment.json and charts. "
        "With --experiment FILE, train the file's training settings; options given override them.",
    )
    add_training_options(p)
    p.add_argument(
        "--save-weights",
        default=None,
        metavar="FILE",
        help="where to write the final weights (default OUT/weights.json); checked before training starts",
    )
    add_animation_options(p, "epoch", ANIMATION_SIZE)
    add_format_option(p)
    add_landscape_options(p)
    p.set_defaults(handler=run_train)


def history_charts(histories, names, out: Staged, formats: tuple[str, ...] = ("png",)) -> list:
    """Return the gui.charts.render calls, as (function name, args, kwargs), that draw the loss, accuracy (when
    there are accuracies) and lr charts in each of ``formats`` (drawn by gui.cli.chart_process)."""
    from gui.charts import style  # the palette only: no Qt or pyqtgraph here

    has_test = any(h[0].test_loss is not None for h in histories)
    loss_series, acc_series, lr_series = [], [], []
    one = len(histories) == 1
    prefix = (lambda name: "") if one else (lambda name: name + " ")
    for k, (h, name) in enumerate(zip(histories, names)):
        c = style.colour(k)
        epochs = [r.epoch for r in h]
        test_colour = c if not one else style.colour(1)
        loss_series.append({"name": f"{prefix(name)}train", "x": epochs, "y": metric(h, "train_loss"), "colour": c})
        if has_test:
            loss_series.append(
                {
                    "name": f"{prefix(name)}test",
                    "x": epochs,
                    "y": metric(h, "test_loss"),
                    "colour": test_colour,
                    "dashed": not one,
                }
            )
        if h[0].train_acc is not None:
            acc_series.append({"name": f"{prefix(name)}train", "x": epochs, "y": metric(h, "train_acc"), "colour": c})
            if has_test:
                acc_series.append(
                    {
                        "name": f"{prefix(name)}test",
                        "x": epochs,
                        "y": metric(h, "test_acc"),
                        "colour": test_colour,
                        "dashed": not one,
                    }
                )
        lr_series.append({"name": name, "x": epochs[1:], "y": metric(h, "lr")[1:], "colour": c})

    def lines(items, name, title, ylabel):
        return ("render_lines", (items, chart_path(out, name, formats), title, ylabel), {"formats": formats})

    calls = [lines(loss_series, "loss", "loss", "loss")]
    if acc_series:
        calls.append(lines(acc_series, "accuracy", "accuracy", "accuracy"))
    calls.append(lines(lr_series, "lr", "learning rate", "learning rate"))
    return calls


def _train(cfg, init, token: Token, data=None):
    """Return the trained Trainer: prepare_job (on ``data`` when it is loaded already), then train_job with an
    epoch bar (KeyboardInterrupt if stopped)."""
    trainer = drive(prepare_job(cfg, token, init, data), token)
    print(trainer.data.summary(), file=sys.stderr)
    with progress(cfg.epochs, "train", "epoch") as bar:

        def advance(snapshot) -> None:
            """Move the bar to the snapshot's epoch, with the latest loss; returns nothing."""
            if snapshot.epoch > bar.n:
                bar.set_postfix_str(f"loss {snapshot.history[snapshot.records - 1].train_loss:.4g}", refresh=False)
                bar.update(snapshot.epoch - bar.n)

        drive(train_job(trainer, token), token, advance)
    return trainer


def run_train(args) -> int:
    """Train one run and write its history, weights, experiment.json and charts; return the exit code (0).

    Every output path is checked, and the run's memory and time estimated, before anything is loaded or
    trained: a run that would not fit is refused (exit 2), a slow one warned about. The outputs (the
    --out folder's files and --save-weights) are written all-or-nothing.
    """
    check_outputs(args, ("save_weights",))
    formats = parse_formats(args.format)
    animation = animation_options(args, ANIMATION_SIZE)
    landscape = landscape_request(args)
    loaded = load_file(args)
    source = training_source(args, "training")
    try:
        cfg, data, settings = training_config(args, loaded.training if loaded else None, source)
        check_landscape_config(landscape, cfg)
        if args.init_weights is not None and not args.init_weights.strip():
            raise UserError("the file name is empty", "init_weights")
        init = load_weights_file(args.init_weights) if args.init_weights else None
        shape = run_data_shape(cfg, data, args.download)
        check_batches(cfg, shape)
        estimate = estimate_run(cfg, shape, weights_json=True)
        check_estimate(estimate)
        with memory_guard(estimate):
            frames = None
            if animation is None:
                trainer = _train(cfg, init, Token(), data)
            elif landscape is not None:  # the frames wait for the landscape, known only after training
                from gui.cli.animate import record_training

                trainer, frames = record_training(cfg, init, data, animation.every)
            else:  # trained while the frames are drawn: each epoch's decision regions exist only then
                from gui.cli.animate import animate_training

                trainer = animate_training(cfg, init, data, animation)
    except UserError as err:
        raise source.name(err) from None
    h, data = trainer.history, trainer.data
    out_dir = args.out
    try:
        with memory_guard(estimate), Staged(out_dir) as out:
            calls = history_charts([h], ["run"], out, formats) + _data_charts(trainer, out, formats)
            with draw(calls) as charts:  # in the chart process, if one was started, while the files below are written
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
                else:
                    write_json(trainer.weights(), out.external(args.save_weights, "save_weights"))
                result = TrainingResult.from_trainer(trainer)
                write_experiment(out, loaded, TRAINING_TAB, "training", settings, result)
                charts.wait()
            if landscape is not None:
                _, ls = write_landscape(trainer, landscape, out)
                if frames is not None:
                    from gui.cli.animate import draw_training

                    draw_training(cfg, frames, animation, ls)
    except UserError as err:
        raise source.name(err) from None
    last = h[-1]
    state = (
        trainer.divergence  # "diverged at epoch 0 (…)" counts too: 0 is a real epoch
        if trainer.diverged_at is not None
        else f"train loss {last.train_loss:.4g}"
        + (f", train acc {last.train_acc:.3f}" if last.train_acc is not None else "")
        + (f", test acc {last.test_acc:.3f}" if last.test_acc is not None else "")
    )
    print(f"{trainer.epoch} epochs ({trainer.path}): {state}")
    print(f"wrote history.csv, history.json, experiment.json, charts to {Path(out_dir)}")
    return 0


def _in_chunks(logits, rows: int = 4096):
    """Return ``logits`` computed 4096 rows at a time: the 200×200 grid through a wide layer stays small."""
    import torch

    return lambda x: torch.cat([logits(x[i : i + rows]) for i in range(0, len(x), rows)])


def _data_charts(trainer, out: Staged, formats: tuple[str, ...] = ("png",)) -> list:
    """Return the gui.charts.render calls that draw the decision regions (2-D class data) or the confusion matrix
    (other class data) in every one of ``formats``, after writing per_class_accuracy.csv for the latter."""
    data = trainer.data
    if data.n_features == 2 and data.n_classes:
        xs, ys, classes, conf = decision_grid(_in_chunks(trainer.logits), data.x_train)
        args = (
            xs,
            ys,
            classes,
            conf,
            data.x_train.numpy(),
            data.y_train.numpy(),
            data.n_classes,
            chart_path(out, "decision", formats),
            f"decision regions after {trainer.epoch} epochs",
            formats,
        )
        return [("render_decision", args, {})]
    if data.n_classes:
        x, y = (data.x_test, data.y_test) if data.has_test else (data.x_train, data.y_train)
        matrix = confusion_matrix(y.numpy(), predictions(trainer.logits, x), data.n_classes)
        per = per_class_accuracy(matrix)
        write_csv(
            ["class", "accuracy"],
            [[n, float(a)] for n, a in zip(data.class_names, per)],
            out.path("per_class_accuracy.csv"),
        )
        title = f"confusion matrix ({'test' if data.has_test else 'train'}), rows true / columns predicted"
        return [
            (
                "render_confusion",
                (matrix, list(data.class_names), chart_path(out, "confusion", formats), title, formats),
                {},
            )
        ]
    return []
