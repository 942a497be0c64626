"""The learning-rate sweep chart (as fastai's lr_find): the criterion against the rate, one line per optimizer.

The rate axis is logarithmic. Each optimizer is drawn in its own colour, its chosen rate as a star, and
the rates that diverged as crosses along the top edge (they have no loss to plot). The legend sits below
the plot and notes a rate chosen at an end of the grid, or among tied rates (engine.tuning.rate_notes).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg

from engine.optimizers import OPTIMIZERS, optimizer_colour
from engine.tuning import rate_notes

DIVERGED_COLOUR = "#d62728"


class TuningChart:
    """A sweep drawn on one PlotItem: lines of (lr, criterion), stars at the chosen rates, crosses for divergence."""

    def __init__(self, plot: pg.PlotItem, title: str = "learning-rate sweep") -> None:
        self.plot = plot
        plot.setTitle(title)
        plot.setLabel("bottom", "learning rate (log)")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLogMode(x=True, y=False)
        # below the plot, not over it: the diverged crosses run along the top edge and the curves fill the rest
        self.legend = pg.LegendItem(colCount=1, labelTextColor="#222222")  # one column: notes can be long
        plot.layout.addItem(self.legend, 4, 1)
        self.notes: dict[str, str] = {}
        self.items: list = []

    def set_trials(self, trials, best: dict, criterion: str) -> None:
        """Draw ``trials`` (TrialScore list) and ``best`` (optimizer -> rate or None); returns nothing."""
        for item in self.items:
            self.plot.removeItem(item)
        self.items = []
        self.legend.clear()
        self.plot.setLabel("left", criterion.replace("_", " "))
        finite = [t.value for t in trials if math.isfinite(t.value)]
        log_y = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 100
        self.plot.setLogMode(x=True, y=log_y)
        top = max(finite) if finite else 1.0
        self.notes = rate_notes(list(trials), best)
        crosses_x = []
        for oid in dict.fromkeys(t.optimizer for t in trials):
            own = sorted((t for t in trials if t.optimizer == oid), key=lambda t: t.lr)
            colour = optimizer_colour(oid)
            xs = np.array([t.lr for t in own if math.isfinite(t.value)])
            ys = np.array([t.value for t in own if math.isfinite(t.value)])
            name = OPTIMIZERS.get(oid).name
            chosen = best.get(oid)
            label = f"{name}: lr {chosen:.3g}" if chosen is not None else name
            if self.notes.get(oid):
                label += f" ({self.notes[oid]})"
            line = self.plot.plot(xs, ys, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6, symbolBrush=colour)
            self.legend.addItem(line, label)
            self.items.append(line)
            crosses_x += [t.lr for t in own if not math.isfinite(t.value)]
            if chosen is not None:
                value = next(t.value for t in own if t.lr == chosen)
                star = self.plot.plot([chosen], [value], pen=None, symbol="star", symbolSize=18, symbolBrush=colour)
                self.items.append(star)
        rates = [t.lr for t in trials if t.lr > 0]
        if rates:  # decades only: pyqtgraph's log axis would label every minor tick, unreadably close
            lo, hi = math.floor(math.log10(min(rates)) + 1e-9), math.ceil(math.log10(max(rates)) - 1e-9)
            self.plot.getAxis("bottom").setTicks([[(k, f"{10.0**k:g}") for k in range(lo, hi + 1)], []])
        if crosses_x:
            ys = np.full(len(crosses_x), top)
            cross = self.plot.plot(crosses_x, ys, pen=None, symbol="x", symbolSize=12, symbolBrush=DIVERGED_COLOUR)
            self.legend.addItem(cross, "diverged")
            self.items.append(cross)


def render_tuning(trials, best: dict, criterion: str, path: str | Path, title: str = "learning-rate sweep") -> Path:
    """Write the sweep chart to a PNG (or an SVG when ``path`` ends in .svg); return its path."""
    from gui.charts.export import export_png, export_svg
    from gui.charts.render import ensure_app

    ensure_app()
    widget = pg.GraphicsLayoutWidget()
    widget.resize(900, 600)
    chart = TuningChart(widget.addPlot(), title)
    chart.set_trials(trials, best, criterion)
    chart.plot.layout.activate()  # never shown: lay the title and axis labels out now
    widget.ci.layout.activate()
    path = Path(path)
    if path.suffix.lower() == ".svg":
        return export_svg(widget.ci, path, title)
    return export_png(widget.ci, path, width=widget.width())
