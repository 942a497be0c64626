"""`main.py train ... --landscape`: the trained network's loss landscape as landscape.json, .csv and the chart.

The flags are checked before training (``error: --landscape-grid: …``, exit 2). After training, the job
(engine.training.landscape_job) runs with a progress bar on the weights recorded after every epoch. The chart
is written in every ``--format`` (landscape.png, landscape.svg).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from engine.errors import UserError
from engine.io import Staged, write_csv, write_json
from engine.jobs import Token
from engine.training.landscape import check_grid
from engine.training.landscape_eval import loss_model
from engine.training.landscape_job import landscape_job
from gui.cli.driver import drive, progress
from gui.cli.formats import chart_files, chart_path, parse_formats

CLI_PLANES = ("random", "pca")
DEFAULT_GRID = 31


@dataclass(frozen=True)
class LandscapeRequest:
    """What --landscape asked for, checked."""

    grid: int
    span: float | None
    plane: str
    formats: tuple[str, ...] = ("png",)  # the command's --format: the chart's files


def add_landscape_options(p, comparison: bool = False) -> None:
    """Register --landscape, --landscape-grid, --landscape-span and --landscape-plane (``comparison``: the
    wording of `compare`, whose plane is fixed); returns nothing."""
    g = p.add_argument_group("loss landscape")
    where = (
        "the plane through the shared start and the ends of the first two runs (of the first seed; put the two "
        "you want first in --vary), with both runs' paths on it"
        if comparison
        else "a plane around the final weights, with the path of every epoch projected onto it"
    )
    g.add_argument(
        "--landscape",
        action="store_true",
        help=f"also write landscape.json/.csv and landscape.png (each --format): the training loss on {where}",
    )
    g.add_argument(
        "--landscape-grid",
        default=None,
        metavar="N",
        help=f"points per side of the landscape grid, 3–401 (default {DEFAULT_GRID})",
    )
    g.add_argument(
        "--landscape-span",
        default=None,
        metavar="S",
        help="the grid reaches from −S to S along both directions (default: 1 for the random plane, 1.25 × the "
        "farthest path point for pca)",
    )
    g.add_argument(
        "--landscape-plane",
        default=None,
        metavar="PLANE",
        help="random (two filter-normalised random directions, the default) or pca (the plane of the path)",
    )


def landscape_request(args) -> LandscapeRequest | None:
    """Return the checked request, or None without --landscape; raise UserError naming the flag at fault."""
    given = {
        "landscape_grid": args.landscape_grid,
        "landscape_span": args.landscape_span,
        "landscape_plane": args.landscape_plane,
    }
    if not args.landscape:
        for field, value in given.items():
            if value is not None:
                raise UserError("only applies with --landscape", field)
        return None
    grid = DEFAULT_GRID
    if args.landscape_grid is not None:
        try:
            grid = int(str(args.landscape_grid).strip())
        except ValueError:
            raise UserError(f"must be a whole number 3–401, not {args.landscape_grid!r}", "landscape_grid") from None
    span = None
    if args.landscape_span is not None:
        try:
            span = float(str(args.landscape_span).strip())
        except ValueError:
            raise UserError(f"must be a number > 0, not {args.landscape_span!r}", "landscape_span") from None
    grid, span = check_grid(grid, span)
    plane = (args.landscape_plane or "random").strip()
    if plane not in CLI_PLANES:
        raise UserError(f"must be random or pca, not {args.landscape_plane!r}", "landscape_plane")
    return LandscapeRequest(grid, span, plane, parse_formats(getattr(args, "format", None)))


def check_landscape_config(request: LandscapeRequest | None, cfg) -> None:
    """Raise UserError before training when the run's set-up has no landscape (batch norm); returns nothing."""
    if request is not None and cfg.batchnorm:
        raise UserError("the loss landscape covers networks without batch norm", "landscape")


def _render(draw: Callable, size: tuple[int, int], out: Staged, formats: tuple[str, ...]) -> Path:
    """Draw a figure (``draw(layout)`` fills a pg.GraphicsLayout) at ``size`` and write it as landscape.<fmt> in
    each of ``formats``, all at the same size; return the first file."""
    import pyqtgraph as pg
    from PySide6 import QtCore

    from gui.charts.export import export_png, export_svg
    from gui.charts.render import ensure_app

    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(*size)
    draw(widget.ci)
    widget.ci.setGeometry(QtCore.QRectF(0, 0, *size))  # never shown: lay it out at the figure's size now
    widget.ci.layout.activate()
    path = chart_path(out, "landscape", formats)
    try:
        written = [
            export_svg(widget.ci, path.with_suffix(".svg"), "loss landscape", width=size[0])
            if fmt == "svg"
            else export_png(widget.ci, path.with_suffix(".png"), width=size[0])
            for fmt in formats
        ]
    finally:
        widget.close()
        widget.deleteLater()
    return written[0]


def write_landscape(trainer, request: LandscapeRequest, out: Staged) -> tuple[str, object | None]:
    """Compute the landscape of the trained run and write landscape.json, landscape.csv and the chart in each
    of the request's formats; return (the one-line summary printed after training, the engine Landscape or None
    when the run has none, for the animation's middle panel). Raises KeyboardInterrupt when stopped."""
    from gui.charts.landscape import LandscapeCharts

    path = getattr(trainer, "weight_path", None)
    if not path:
        raise UserError("this run recorded no weights to draw a landscape from", "landscape")
    epochs, points = path.points()
    if not np.isfinite(points).all(axis=1).any():  # diverged before any epoch: a result, so the rest is written
        note = "no landscape: the run's weights were never finite (it diverged at epoch 0)"
        print(f"landscape: {note}", file=sys.stderr)
        return note, None
    model = loss_model(trainer.config, trainer.data, device=trainer.device)  # the run's device (a GPU if it had one)
    token = Token()
    with progress(request.grid * request.grid, "landscape", "net") as bar:

        def advance(p) -> None:
            """Move the bar to the networks evaluated so far; returns nothing."""
            bar.total = p.total
            bar.update(p.done - bar.n)

        job = landscape_job(
            model, epochs, points, request.plane, request.grid, request.span, token, n_train=len(trainer.data.x_train)
        )
        ls = drive(job, token, advance)
    write_json(ls.to_json(), out.path("landscape.json"))
    write_csv(
        ["alpha", "beta", "loss"],
        [[float(a), float(b), float(ls.loss[i, j])] for i, b in enumerate(ls.betas) for j, a in enumerate(ls.alphas)],
        out.path("landscape.csv"),
    )
    _render(lambda layout: LandscapeCharts(layout).set_landscape(ls), (1000, 1150), out, request.formats)
    print(f"landscape ({ls.loss.size} networks in {ls.seconds:.2f} s): {ls.summary()}", file=sys.stderr)
    print(f"wrote landscape.json, landscape.csv, {chart_files(['landscape'], request.formats)}", file=sys.stderr)
    return ls.summary(), ls


def write_two_run_landscape(comparison, request: LandscapeRequest, out: Staged, data=None) -> str:
    """For `compare ... --landscape`: the plane through the shared start and the ends of the first two runs (of
    the first seed), both paths on it; writes landscape.json, landscape.csv and the chart (each of the
    request's formats) and returns a one-line summary.

    The two runs are trained again with their weights recorded (training is deterministic: they are the
    comparison's own runs). Raises UserError (field ``landscape``) with fewer than two runs.
    """
    from engine.training.landscape import layout
    from engine.training.landscape_compare import two_runs_job
    from gui.charts.landscape import TwoRunCharts

    planned = comparison.runs()
    if len(planned) < 2:
        raise UserError("the comparison plane needs at least two runs", "landscape")
    same_start = [run for run in planned if run[2].seed == planned[0][2].seed]  # identical initial weights
    if len(same_start) < 2:
        raise UserError("the comparison plane needs two runs with the same seed", "landscape")
    (label_a, _, cfg_a), (label_b, _, cfg_b) = same_start[:2]  # the contract: the first two runs
    names = [
        ", ".join(f"{k} {v}" for k, v in label.items()) or f"run {i + 1}" for i, label in enumerate((label_a, label_b))
    ]
    data = cfg_a.load_data() if data is None else data
    token = Token()
    with progress(2 * cfg_a.epochs + request.grid * request.grid, "landscape", "step") as bar:

        def advance(p) -> None:
            """Move the bar; returns nothing."""
            bar.total = p.total
            bar.update(max(0, p.done - bar.n))

        tl = drive(two_runs_job([cfg_a, cfg_b], names, data, token, request.grid, request.span), token, advance)
    write_json(tl.to_json(layout(cfg_a.layers)), out.path("landscape.json"))
    write_csv(
        ["alpha", "beta", "loss"],
        [[float(a), float(b), float(tl.loss[i, j])] for i, b in enumerate(tl.betas) for j, a in enumerate(tl.alphas)],
        out.path("landscape.csv"),
    )
    _render(lambda layout: TwoRunCharts(layout).set_two_runs(tl, names), (1000, 1050), out, request.formats)
    ends = "; ".join(
        f"{r.name}: {r.epochs[-1]} epochs, loss {r.path_loss[-1]:.4g}, median off-plane ratio "
        f"{float(np.nanmedian(r.projection.ratio[1:-1])) if len(r.epochs) > 2 else 0.0:.2f}"
        for r in tl.runs
    )
    return f"plane through the shared start and both ends ({ends})"
