"""Small multiples: one titled LineChart per (row, column) cell on one shared y range (window and command line).

``cells`` maps (row, column) — the two strings "field=value" — to a list of series dicts
{name, x, y, colour, dashed?, band?}, the same shape render_lines takes.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from gui.charts.curves import LineChart

PANEL_W, PANEL_H = 300, 220  # one cell of a grid PNG: big enough to read its curve, axes and title
MIN_PANEL_H = 170  # one cell in the window: the grid scrolls rather than squeezing panels below this
DIVERGED = "#b00000"


def cell_key(label: dict, fields: list[str]) -> tuple[str, str]:
    """Return the (row, column) key of a run's label: ``field=value`` for the two fields, formatted once here."""
    return tuple(f"{f}={label[f]}" for f in fields)


def y_range(cells: dict) -> tuple[float, float]:
    """Return one (low, high) y range covering every finite value and band of every cell, padded by 5 %."""
    arrays = [np.asarray(s["y"], dtype=float) for cell in cells.values() for s in cell]
    arrays += [np.asarray(b, dtype=float) for cell in cells.values() for s in cell if s.get("band") for b in s["band"]]
    values = np.concatenate([a.ravel() for a in arrays] or [np.zeros(0)])
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo or abs(hi) or 1.0)
    return lo - pad, hi + pad


def diverged(cell: list[dict]) -> bool:
    """True when a cell's curve ends in NaN or infinity (the run diverged)."""
    return bool(cell) and not np.isfinite(np.asarray(cell[0]["y"], dtype=float)[-1:]).all()


def draw_cell(
    plot: pg.PlotItem, row: str, col: str, cell: list[dict], ylabel: str, xlabel: str = "epoch", **kw
) -> LineChart:
    """Draw one cell's series (mean and seed band) on ``plot``, titled with its two values; return its chart."""
    chart = LineChart(plot, f"{row} · {col}", xlabel, ylabel, legend=kw.get("legend", False), grid=kw.get("grid", True))
    update_cell(chart, row, col, cell, width=kw.get("width", 1.5))
    return chart


def keep_series(chart: LineChart, names: set[str]) -> None:
    """Remove from ``chart`` every series (curve, band, legend entry) not named in ``names``; returns nothing."""
    for name in [n for n in chart.curves if n not in names]:
        curve = chart.curves.pop(name)
        chart.plot.removeItem(curve)
        legend = chart.legend
        if legend is not None:
            if name in getattr(legend, "hidden", ()):  # counted in the legend's "… and N more" line
                legend.hidden.remove(name)
            else:
                legend.removeItem(curve)
            if hasattr(legend, "arrange"):
                legend.arrange()
        chart.data.pop(name, None)
        if name in chart.bands:
            chart.plot.removeItem(chart.bands.pop(name))
            chart.band_data.pop(name, None)


def update_cell(chart: LineChart, row: str, col: str, cell: list[dict], width: float = 1.5) -> None:
    """Show ``cell`` on an existing chart: its curve items take the new data (setData), series gone are removed,
    new ones added, and the title says whether the run diverged. Nothing else of the plot is rebuilt."""
    keep_series(chart, {s["name"] for s in cell})
    for s in cell:
        chart.set_series(
            s["name"], s["x"], s["y"], s["colour"], s.get("dashed", False), width=width, band=s.get("band")
        )
    title, colour = f"{row} · {col}", None
    if diverged(cell):
        title, colour = f"{row} · {col} — diverged", DIVERGED
    elif not cell:
        title, colour = f"{row} · {col} — no run", "#888888"
    if chart.plot.titleLabel.text != title:  # a new title text re-lays the plot out: only when it changes
        chart.plot.setTitle(title, **({"color": colour} if colour else {}))


def fill_grid(
    layout: pg.GraphicsLayout, cells: dict, rows: list[str], cols: list[str], ylabel: str, first_row: int = 0, **kw
) -> dict[tuple[str, str], LineChart]:
    """Add one plot per cell to ``layout`` from ``first_row`` on; return {(row, col): LineChart}.

    Every cell shares one y range, so they compare; the y label sits on the first column and the x label
    on the last row only.
    """
    charts = {}
    for i in range(len(rows)):
        charts.update(fill_row(layout, cells, rows, cols, i, ylabel, first_row, **kw))
    return charts


def fill_row(
    layout: pg.GraphicsLayout, cells: dict, rows: list[str], cols: list[str], i: int, ylabel: str, first_row=0, **kw
) -> dict[tuple[str, str], LineChart]:
    """Add the plots of row ``i`` of the grid (see fill_grid) to ``layout``; return {(row, col): LineChart}."""
    return dict(fill_cell(layout, cells, rows, cols, i, j, ylabel, first_row, **kw) for j in range(len(cols)))


def fill_cell(
    layout: pg.GraphicsLayout,
    cells: dict,
    rows: list[str],
    cols: list[str],
    i: int,
    j: int,
    ylabel: str,
    first_row=0,
    **kw,
) -> tuple[tuple[str, str], LineChart]:
    """Add the plot of cell (row i, column j) of the grid (see fill_grid) to ``layout``; return ((row, col),
    its LineChart). A window builds a big grid one panel per event-loop turn, so that it keeps answering."""
    lo, hi = y_range(cells)
    r, c = rows[i], cols[j]
    plot = layout.addPlot(row=first_row + i, col=j)
    chart = draw_cell(plot, r, c, cells.get((r, c), []), ylabel, **kw)
    plot.getAxis("left").showLabel(j == 0)
    plot.getAxis("bottom").showLabel(i == len(rows) - 1)
    plot.setYRange(lo, hi, padding=0)
    return (r, c), chart


def grid_widget(cells: dict, rows: list[str], cols: list[str], title: str, ylabel: str) -> pg.GraphicsLayoutWidget:
    """Return an off-screen widget holding the whole grid at PANEL_W × PANEL_H per cell, laid out for export.

    The size is set on the layout itself: a widget never shown gets no resize event, and its layout would
    otherwise stay at 640 × 480 whatever the grid, squeezing every plot to nothing.
    """
    key = series_key(cells)
    width, height = PANEL_W * max(1, len(cols)) + 60, PANEL_H * max(1, len(rows)) + 50 + (24 if key else 0)
    widget = pg.GraphicsLayoutWidget()
    widget.resize(width, height)
    widget.addLabel(title + key, row=0, col=0, colspan=max(1, len(cols)), size="12pt")
    fill_grid(widget.ci, cells, rows, cols, ylabel, first_row=1)
    rect = QtCore.QRectF(0, 0, width, height)
    widget.setSceneRect(rect)
    widget.ci.setGeometry(rect)
    widget.ci.layout.activate()
    return widget


def series_key(cells: dict) -> str:
    """Return the colour key of the curves inside the cells (HTML for the title: a coloured ● and the name of
    each series), or "" when every cell holds one series and the panel titles say it all."""
    if max((len(cell) for cell in cells.values()), default=0) < 2:
        return ""
    seen: dict[str, object] = {}
    for cell in cells.values():
        for s in cell:
            seen.setdefault(s["name"], s["colour"])
    if len(seen) < 2:
        return ""
    shown = list(seen.items())[:8]  # a longer key would widen the title past the grid
    keys = "&nbsp;&nbsp; ".join(
        f'<span style="color: {pg.mkColor(colour).name()}">●</span> {html.escape(str(name))}' for name, colour in shown
    )
    more = f"&nbsp;&nbsp; … and {len(seen) - len(shown)} more" if len(seen) > len(shown) else ""
    return f"<br>{keys}{more}"


def update_grid(charts: dict[tuple[str, str], LineChart], cells: dict) -> None:
    """Update the panels of ``fill_grid`` in place for new ``cells`` over the same rows and columns: each curve
    item gets its new data, and every panel the new shared y range."""
    lo, hi = y_range(cells)
    for (r, c), chart in charts.items():
        update_cell(chart, r, c, cells.get((r, c), []))
        chart.plot.setYRange(lo, hi, padding=0)


def grid_table(cells: dict) -> tuple[list[str], list[list]]:
    """Return (header, rows) of every cell's curves for CSV export: row, column, series, x, y, low, high."""
    out = []
    for (r, c), cell in cells.items():
        for s in cell:
            band = s.get("band")
            lo, hi = band if band else (None, None)
            for k, (x, y) in enumerate(zip(s["x"], s["y"])):
                out.append([r, c, s["name"], float(x), float(y)] + ([float(lo[k]), float(hi[k])] if band else ["", ""]))
    return ["row", "column", "series", "x", "y", "low", "high"], out
