"""The learning-rate sweep chart (as fastai's lr_find): the criterion against the rate, one line per optimizer.

The rate axis is logarithmic. Each optimizer is drawn in its own colour and its chosen rate as a star. A rate
that diverged has no score to plot: it is marked × in the optimizer's colour in that optimizer's own row above
the curves (first optimizer lowest), so two optimizers diverging at one rate show two marks. The legend sits
below the plot and notes a rate chosen at an end of the grid, or among tied rates (engine.tuning.rate_notes).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from engine.optimizers import optimizer_colour
from engine.tuning import key_name, rate_notes, trial_key

DIVERGED_COLOUR = "#d62728"  # kept for callers; the marks themselves take each optimizer's colour
LEGEND_MARK = "#444444"  # the legend's "× diverged" sample: the shape, not one optimizer's colour
ROW_STEP = 0.07  # each diverged row sits this share of the curves' span above the one below it
SIZE = (820, 615)  # the PNG's and the SVG's size in pixels


LINE_STYLES = [QtCore.Qt.PenStyle.SolidLine, QtCore.Qt.PenStyle.DashLine, QtCore.Qt.PenStyle.DotLine]
LINE_STYLES += [QtCore.Qt.PenStyle.DashDotLine, QtCore.Qt.PenStyle.DashDotDotLine]


def _next(seen: dict, optimizer: str) -> int:
    """Return the index of ``optimizer``'s next line style (its configurations in turn, repeating)."""
    seen[optimizer] = seen.get(optimizer, -1) + 1
    return seen[optimizer] % len(LINE_STYLES)


def criterion_label(criterion: str, starts: int = 1) -> str:
    """Return the y axis title: the criterion in words, 'mean over N starts' when scores average several starts."""
    words = criterion.replace("_", " ")
    return f"{words} (mean over {starts} starts)" if starts > 1 else words


class TuningChart:
    """A sweep drawn on one PlotItem: lines of (lr, criterion), stars at the chosen rates, × rows for divergence.

    ``notes_in_legend`` puts each optimizer's note (edge of the grid, ties) in its legend entry; a narrow panel
    passes False and shows ``notes`` itself.
    """

    def __init__(self, plot: pg.PlotItem, title: str = "learning-rate sweep", notes_in_legend: bool = True) -> None:
        self.plot = plot
        self.notes_in_legend = notes_in_legend
        plot.setTitle(title)
        plot.setLabel("bottom", "learning rate (log)")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLogMode(x=True, y=False)
        # below the plot, not over it: the diverged rows run along the top and the curves fill the rest
        self.legend = pg.LegendItem(colCount=1, labelTextColor="#222222")  # one column: notes can be long
        plot.layout.addItem(self.legend, 4, 1)
        self.notes: dict[str, str] = {}
        self.items: list = []
        self.crosses: dict[str, pg.PlotDataItem] = {}  # optimizer id -> its row of × marks
        self.stars: dict[str, pg.PlotDataItem] = {}  # optimizer id -> its chosen rate's star

    def set_trials(self, trials, best: dict, criterion: str, starts: int = 1) -> None:
        """Draw ``trials`` (TrialScore list) and ``best`` (optimizer -> rate or None); returns nothing.

        ``starts`` > 1 says on the y axis that each score is the mean over that many starts.
        """
        for item in self.items:
            self.plot.removeItem(item)
        self.items, self.crosses, self.stars = [], {}, {}
        self.legend.clear()
        self.plot.setLabel("left", criterion_label(criterion, starts))
        finite = [t.value for t in trials if math.isfinite(t.value)]
        log_y = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 100
        self.plot.setLogMode(x=True, y=log_y)
        self.notes = rate_notes(list(trials), best)
        keys = list(dict.fromkeys(trial_key(t) for t in trials))  # an optimizer, or (optimizer, other values)
        row_of = _row_heights(finite, log_y, len(keys))
        rows, seen = 0, {}
        for oid in keys:
            own = sorted((t for t in trials if trial_key(t) == oid), key=lambda t: t.lr)
            optimizer = own[0].optimizer
            colour = optimizer_colour(optimizer)
            # an optimizer tuned at several values of another field: one line style per configuration
            style = LINE_STYLES[_next(seen, optimizer)]
            xs = np.array([t.lr for t in own if math.isfinite(t.value)])
            ys = np.array([t.value for t in own if math.isfinite(t.value)])
            name = key_name(oid)
            chosen = best.get(oid)
            label = f"{name} · lr {chosen:.3g}" if chosen is not None else f"{name} · every rate diverged"
            note = self.notes.get(oid, "")
            if self.notes_in_legend and note and chosen is not None:
                label += f" ({note})"
            pen = pg.mkPen(colour, width=2, style=style)
            line = self.plot.plot(xs, ys, pen=pen, symbol="o", symbolSize=6, symbolBrush=colour)
            self.legend.addItem(line, label)
            self.items.append(line)
            if chosen is not None:
                value = next(t.value for t in own if t.lr == chosen)
                star = self.plot.plot(
                    [chosen], [value], pen=None, symbol="star", symbolSize=18, symbolBrush=colour, symbolPen="#222222"
                )
                star.setZValue(5)
                self.items.append(star)
                self.stars[oid] = star
            bad = [t.lr for t in own if not math.isfinite(t.value)]
            if bad:
                y = row_of(rows)
                rows += 1
                cross = self.plot.plot(
                    bad,
                    np.full(len(bad), y),
                    pen=None,
                    symbol="x",
                    symbolSize=13,
                    symbolBrush=colour,
                    symbolPen=pg.mkPen(colour, width=1),
                )
                cross.setZValue(4)
                self.items.append(cross)
                self.crosses[oid] = cross
        if self.crosses:
            sample = pg.PlotDataItem([], [], pen=None, symbol="x", symbolSize=11, symbolBrush=LEGEND_MARK)
            words = "in the optimizer's colour, one row each" if self.notes_in_legend else "a row per optimizer"
            self.legend.addItem(sample, f"× diverged at that rate ({words})")
        self._frame([t.lr for t in trials if t.lr > 0], finite, log_y, row_of(rows - 1) if rows else None)

    def _frame(self, rates: list[float], finite: list[float], log_y: bool, top_row: float | None) -> None:
        """Set decade ticks and a view that shows every mark whole: stars at the grid's ends, the top × row."""
        if rates:  # decades only: pyqtgraph's log axis would label every minor tick, unreadably close
            a, b = math.log10(min(rates)), math.log10(max(rates))
            lo, hi = math.floor(a + 1e-9), math.ceil(b - 1e-9)
            self.plot.getAxis("bottom").setTicks([[(k, f"{10.0**k:g}") for k in range(lo, hi + 1)], []])
            # a star's half width, and room for the end decades' labels (pyqtgraph drops one reaching past the axis)
            pad = max(0.08 * (b - a), 0.3)
            self.plot.setXRange(a - pad, b + pad, padding=0)
        values = finite + ([top_row] if top_row is not None else [])
        if values:
            f = math.log10 if log_y else float
            low, high = f(min(values)), f(max(values))
            span = (high - low) or 1.0
            self.plot.setYRange(low - 0.06 * span, high + 0.06 * span, padding=0)


def _row_heights(finite: list[float], log_y: bool, n: int):
    """Return row -> the y (in data units) of the k-th optimizer's × row, above the highest finite score."""
    if not finite:
        return lambda k: float(k + 1)  # nothing finite: rows 1, 2, … (the axis then only orders them)
    low, high = min(finite), max(finite)
    if log_y:
        span = math.log10(high / low) or 1.0
        return lambda k: high * 10 ** (span * ROW_STEP * (k + 1))
    span = (high - low) or (abs(high) or 1.0)
    return lambda k: high + span * ROW_STEP * (k + 1)


def render_tuning(
    trials, best: dict, criterion: str, path: str | Path, title: str = "learning-rate sweep", starts: int = 1
) -> Path:
    """Write the sweep chart to a PNG (or an SVG when ``path`` ends in .svg), both SIZE; return its path."""
    from gui.charts.export import export_png, export_svg
    from gui.charts.render import ensure_app

    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(*SIZE)
    widget.ci.setGeometry(0, 0, *SIZE)  # never shown: the layout takes the size only when set itself
    chart = TuningChart(widget.addPlot(), title)
    chart.set_trials(trials, best, criterion, starts)
    chart.plot.layout.activate()  # never shown: lay the title and axis labels out now
    widget.ci.layout.activate()
    path = Path(path)
    if path.suffix.lower() == ".svg":
        return export_svg(widget.ci, path, title, width=SIZE[0])
    return export_png(widget.ci, path, width=SIZE[0])
