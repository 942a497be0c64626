"""The options `train` and `compare` share, and the training configuration they describe.

Every option that sets an experiment field defaults to None ("not given"). The configuration starts from
the experiment file's section (``--experiment``) or from the model's defaults, and only the options the user
typed change it. Without a file the defaults are the command line's as they always were: ``--layers`` is
inputs,50,classes of the data set, and the learning rate is the optimizer's training default
(``engine.optimizers.training_lr``: 0.1 for the SGD family, else the registry's).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

from engine.data.datasets import DATASETS
from engine.errors import UserError
from engine.experiment import ExperimentError, TrainingSettings
from engine.experiment_settings import SEED_MAX
from engine.optimizers import OPTIMIZERS, training_lr
from engine.schedulers import SCHEDULERS
from engine.training.config import LOSSES, TrainConfig
from engine.training.estimate import DataShape, data_shape
from engine.training.model import ACTIVATIONS, INITS, OUTPUT_ACTIVATIONS, parse_layers
from gui.cli.driver import add_experiment_option
from gui.cli.flags import Source, named, not_raced, parse_assignments

TEXT_FIELDS = ("dataset", "data_dir", "target", "activation", "output_activation", "loss", "init", "device")
NUMBER_FIELDS = (("classes", int), ("points", int), ("noise", float), ("test_fraction", float))
MODEL_NUMBERS = (("dropout", float), ("l1", float), ("l2", float))
RUN_NUMBERS = (("epochs", int), ("seed", int))
SWITCHES = ("standardize", "batchnorm", "shuffle")
DATA_SHAPE_FIELDS = ("dataset", "data_dir", "classes", "target")  # what changes a data set's inputs or classes


def add_training_options(p) -> None:
    """Add the data, model and training options (all defaulting to "not given") and --experiment; returns nothing."""
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help=f"one of {', '.join(DATASETS)} (default spiral)")
    g.add_argument("--data-dir", help="folder with the IDX files (MNIST, Fashion-MNIST)")
    g.add_argument("--download", action="store_true", help="download MNIST/Fashion-MNIST into the cache if missing")
    g.add_argument("--classes", help="spiral: number of arms (default 3)")
    g.add_argument("--points", help="spiral: points per arm (default 500)")
    g.add_argument("--noise", help="spiral: angular noise (default 0.2)")
    g.add_argument("--target", help="CSV: the label or target column")
    g.add_argument(
        "--standardize", action=argparse.BooleanOptionalAction, help="scale features to mean 0, std 1 (or not)"
    )
    g.add_argument("--test-fraction", help="held-out share (spiral default 0: the seeds use all points)")
    g = p.add_argument_group("model")
    g.add_argument("--layers", help="sizes, e.g. 2,50,3 (default: inputs,50,classes)")
    g.add_argument("--activation", help=f"hidden activation: {', '.join(ACTIVATIONS)} (default relu)")
    g.add_argument("--output-activation", help=f"one of {', '.join(OUTPUT_ACTIVATIONS)} (default none)")
    g.add_argument("--loss", help=f"one of {', '.join(LOSSES)} (default cross-entropy)")
    g.add_argument("--init", help=f"one of {', '.join(INITS)} (default default)")
    g.add_argument("--dropout", help="dropout after hidden layers (0–0.99, default 0)")
    g.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, help="batch norm after hidden layers (or not)")
    g.add_argument("--l1", help="L1 penalty on weights (default 0)")
    g.add_argument("--l2", help="L2 penalty on weights (default 0)")
    g.add_argument("--init-weights", help="start from these weights (JSON)")
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", help=f"one of {', '.join(OPTIMIZERS.ids())} (default sgd)")
    g.add_argument(
        "--lr",
        help="learning rate (default: the optimizer's own, 0.1 for the SGD family; "
        "in a race, the base optimizer's: see --lr-for-all)",
    )
    g.add_argument("--set", action="append", metavar="NAME=VALUE", help="optimizer hyperparameter, e.g. momentum=0.5")
    g.add_argument("--scheduler", help=f"one of {', '.join(SCHEDULERS.ids())} (default none)")
    g.add_argument("--sched-set", action="append", metavar="NAME=VALUE", help="scheduler parameter")
    g.add_argument("--batch-size", help="samples per batch, or 'full' (default 20)")
    g.add_argument("--epochs", help="epochs (default 100)")
    g.add_argument("--seed", help="seed for data, weights and batch order (default 1)")
    g.add_argument(
        "--no-shuffle",
        dest="shuffle",
        action="store_const",
        const=False,
        help="keep the data order (the spiral is sorted by class!)",
    )
    g.add_argument("--shuffle", dest="shuffle", action="store_const", const=True, help="shuffle every epoch (default)")
    g.add_argument("--device", help="auto, cpu or cuda (default auto)")
    add_experiment_option(p)
    p.add_argument("--out", required=True, help="output folder")


def number(text, name: str, kind=float):
    """Return ``text`` as an int or a finite float, or raise UserError naming the option ``--name``."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise UserError(f"--{name} must be a {'whole ' if kind is int else ''}number, not {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise UserError(f"--{name} must be finite")
    return value


def training_source(args, section: str, outer=()) -> Source:
    """Return the Source for a training configuration held at ``section`` of the experiment file."""
    return Source(args.experiment, section, TrainingSettings.model_fields, outer=outer)


def _typed_values(args, source: Source) -> dict:
    """Return the TrainConfig fields the user typed (besides optimizer, scheduler and layers), converted."""
    values = {}
    for name in TEXT_FIELDS:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    for name, kind in (*NUMBER_FIELDS, *MODEL_NUMBERS, *RUN_NUMBERS):
        if getattr(args, name) is not None:
            values[name] = number(getattr(args, name), name.replace("_", "-"), kind)
    for name in SWITCHES:
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if "seed" in values and not 0 <= values["seed"] <= SEED_MAX:  # checked before the data set is drawn with it
        raise UserError(f"must be a whole number in 0..{SEED_MAX}, not {values['seed']}", "seed")
    if args.batch_size is not None:
        batch = str(args.batch_size).strip().lower()
        values["batch_size"] = 0 if batch == "full" else number(batch, "batch-size", int)
        if values["batch_size"] < 0 or (batch != "full" and values["batch_size"] == 0):
            raise UserError(f"--batch-size must be a positive whole number or 'full', not {args.batch_size!r}")
    for name in values:
        source.type(name)
    return values


def _optimizer(args, settings: TrainingSettings | None, base: TrainConfig, source: Source) -> tuple[str, dict]:
    """Return (optimizer id, its hyperparameters): the file's unless the optimizer changed, then --lr and --set."""
    opt = OPTIMIZERS.get(args.optimizer if args.optimizer is not None else base.optimizer)
    if args.optimizer is not None:
        source.type("optimizer")
    if settings is not None and opt.id == base.optimizer:
        params = dict(settings.optimizer_params)  # as the file has them: only the values set
    else:
        own = training_lr(opt.id)  # the training default (0.1 for the SGD family), recorded where not torch's
        params = {"lr": own} if own != opt.defaults()["lr"] else {}
        source.type("optimizer_params")
    if args.lr is not None:
        params["lr"] = args.lr
        source.type("optimizer_params.lr")
    for key, value in parse_assignments(args.set, "--set"):
        head, dot, name = key.partition(".")
        if dot:  # OPT.NAME sets one optimizer's own value in a race; here one optimizer runs
            words = f"one optimizer runs here ({opt.id}): set its value with --set {name}={value}"
            raise named(UserError(not_raced(head, "", ()) if head not in OPTIMIZERS else words), f"--set {key}")
        try:
            opt.param(key)
        except UserError as err:
            raise err.under("optimizer_params") from None
        params[key] = value
        source.type(f"optimizer_params.{key}")
    return opt.id, params


def _scheduler(args, settings: TrainingSettings | None, base: TrainConfig, source: Source) -> tuple[str, dict]:
    """Return (scheduler id, its parameters): the file's unless the scheduler changed, then --sched-set."""
    sched = args.scheduler if args.scheduler is not None else base.scheduler
    if args.scheduler is not None:
        source.type("scheduler")
    if settings is not None and sched == base.scheduler:
        params = dict(settings.scheduler_params)
    else:
        params = {}
        source.type("scheduler_params")
    for key, value in parse_assignments(args.sched_set, "--sched-set"):
        params[key] = value
        source.type(f"scheduler_params.{key}")
    return sched, params


def training_config(args, settings: TrainingSettings | None, source: Source):
    """Return (validated TrainConfig, loaded Dataset or None, TrainingSettings) for a file section and the options.

    ``settings`` is the experiment file's section (None: the model's defaults and the command line's own
    defaults for the layers and the rate). The data set is loaded here only when the layers are worked out
    from it or ``--download`` asks for it; otherwise the job loads it. Errors carry the experiment's field
    names; the caller's ``source`` words them. The returned settings are the configuration in the model's
    terms (what experiment.json records).
    """
    try:
        base = (settings if settings is not None else TrainingSettings()).to_config()
    except ExperimentError as err:  # a file's settings that pass the model but not the engine
        raise source.name(err) from None
    values = _typed_values(args, source)
    optimizer, optimizer_params = _optimizer(args, settings, base, source)
    scheduler, scheduler_params = _scheduler(args, settings, base, source)
    cfg = replace(
        base,
        **values,
        optimizer=optimizer,
        optimizer_params=optimizer_params,
        scheduler=scheduler,
        scheduler_params=scheduler_params,
    )
    infer = args.layers is None and (settings is None or any(source.is_typed(f) for f in DATA_SHAPE_FIELDS))
    if args.download:
        fetch_data(cfg)
    data = cfg.load_data(download=args.download) if infer or args.download else None
    if args.layers is not None:
        layers = parse_layers(args.layers)
        source.type("layers")
    elif infer:
        hidden = [50] if settings is None else list(base.layers[1:-1])
        layers = [data.n_features, *hidden, data.n_classes or 1]
        source.type("layers")  # worked out from the data the user chose: --layers is what would change it
    else:
        layers = list(base.layers)
    given = replace(cfg, layers=tuple(layers))
    cfg = given.validated()
    # the settings record the hyperparameters set (checked), not every default, as the window does
    recorded = replace(
        cfg,
        optimizer_params={k: cfg.optimizer_params[k] for k in given.optimizer_params},
        scheduler_params={k: cfg.scheduler_params[k] for k in given.scheduler_params},
    )
    try:
        used = TrainingSettings.from_config(recorded)
    except ExperimentError as err:
        raise source.name(err) from None
    return cfg, data, used


def fetch_data(cfg: TrainConfig) -> None:
    """``--download``: fetch MNIST/Fashion-MNIST when no folder searched has its files, with the window's download
    job (a progress bar on stderr; Ctrl+C stops it and keeps nothing partial); returns nothing."""
    from engine.data import idx
    from engine.data.download import download_job, is_downloadable
    from engine.jobs import Token
    from gui.cli.driver import drive, progress

    if not is_downloadable(cfg.dataset):
        return
    try:
        idx.locate(cfg.dataset, cfg.data_dir)
        return
    except idx.FilesNotFound:
        pass
    token = Token()
    with progress(0, f"download {cfg.dataset}", "B") as bar:
        bar.unit_scale = True

        shown = []

        def advance(s) -> None:
            """Show the file in progress and its bytes; returns nothing."""
            if shown != [s.file]:
                shown[:] = [s.file]
                bar.reset(total=s.total)
                bar.set_description_str(f"{s.file} ({s.index + 1}/{s.files})", refresh=False)
            bar.update(s.done - bar.n)

        drive(download_job(cfg.dataset, cfg.data_dir, token), token, advance)


def run_data_shape(cfg: TrainConfig, data, download: bool = False) -> DataShape:
    """Return the shape of ``cfg``'s data for the estimate: of ``data`` when loaded, else without loading it
    where that is possible (built-in sets, IDX headers), else by loading it (a CSV file)."""
    if data is not None:
        return DataShape.of(data)
    shape = data_shape(cfg)
    return shape if shape is not None else DataShape.of(cfg.load_data(download=download))
