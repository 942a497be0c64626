"""User CSV files as data sets: read as a bounded stream, every value checked, named by file, line and column."""

from __future__ import annotations

import codecs
import csv
from array import array
from pathlib import Path

import numpy as np

from engine.data.datasets import Dataset, _make
from engine.errors import UserError

MAX_CSV_BYTES = 200 * 1024 * 1024  # a larger file is refused before it is read
MAX_CSV_CELLS = 10_000_000  # header and data cells; reading stops as soon as a file has more
MAX_CLASSES = 1000  # a whole-number target 0..MAX_CLASSES-1 with at most 50 distinct values is a class label
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _short(text: str, limit: int = 40) -> str:
    """Return repr(text), cut to about ``limit`` characters, for naming a cell or a column in one line."""
    r = repr(text)
    return r if len(r) <= limit else r[: limit - 4] + "...'"


def _columns(header: list[str], limit: int = 20) -> str:
    """Return the column names for an error message: at most ``limit`` of them, each cut short."""
    shown = ", ".join(_short(h, 30)[1:-1] for h in header[:limit])
    return shown + (f", … ({len(header)} in all)" if len(header) > limit else "")


def _read_csv(file: Path, target: str | None) -> tuple[list[str], int, np.ndarray]:
    """Return (header, target column, values [rows, columns] float64), all checked; errors name the file line.

    Reads row by row, stopping at the first bad row or once the file holds more than MAX_CSV_CELLS cells.
    """
    name = file.name
    try:
        size = file.stat().st_size
    except OSError as err:
        raise UserError(f"cannot read {name}: {err.strerror or err}", "dataset") from None
    if size > MAX_CSV_BYTES:
        raise UserError(
            f"{name} is {size / 2**20:.0f} MB; CSV files of at most {MAX_CSV_BYTES // 2**20} MB can be loaded",
            "dataset",
        )
    values, lines = array("d"), array("q")
    line = 0
    try:
        with open(file, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            row = next(reader, None)
            if row is None:
                raise UserError(f"{name} is empty: it needs a header row and at least two data rows", "dataset")
            if any("\x00" in cell for cell in row):
                raise UserError(f"{name} line 1 contains a NUL byte: is it a binary file?", "dataset")
            header = [h.strip() for h in row]
            if not target:
                raise UserError(f"a CSV data set needs a target column; columns: {_columns(header)}", "target")
            if target not in header:
                raise UserError(f"{_short(target)} is not a column of {name}; columns: {_columns(header)}", "target")
            if len(header) < 2:
                raise UserError(f"{name} needs at least one feature column besides the target", "dataset")
            width, cells = len(header), len(header)
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != width:
                    raise UserError(f"{name} line {line} has {len(row)} fields, the header has {width}", "dataset")
                cells += width
                if cells > MAX_CSV_CELLS:
                    raise UserError(f"{name} has more than {MAX_CSV_CELLS} cells; that is too many to load", "dataset")
                try:
                    values.extend([float(cell) for cell in row])
                except ValueError:
                    bad = next(c for c in row if not _is_number(c))
                    if "\x00" in bad:
                        raise UserError(
                            f"{name} line {line} contains a NUL byte: is it a binary file?", "dataset"
                        ) from None
                    raise UserError(
                        f"{name} line {line}: {_short(bad)} is not a number (features must be numeric)", "dataset"
                    ) from None
                lines.append(line)
    except UnicodeDecodeError:
        raise UserError(
            f"{name} line {_first_non_utf8_line(file)} is not UTF-8 text: save the file as a UTF-8 CSV", "dataset"
        ) from None
    except csv.Error as err:
        raise UserError(f"{name} line {line + 1} cannot be parsed: {err}", "dataset") from None
    except OSError as err:
        raise UserError(f"cannot read {name}: {err.strerror or err}", "dataset") from None
    if len(lines) < 2:
        raise UserError(f"{name} needs a header row and at least two data rows", "dataset")
    arr = np.frombuffer(values, dtype=np.float64).reshape(len(lines), width)
    bad = ~(np.abs(arr) <= FLOAT32_MAX)  # NaN, infinities and what float32 cannot hold
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise UserError(
            f"{name} line {lines[r]}, column {_short(header[c], 30)}: {arr[r, c]:g} is not a finite number "
            f"within the 32-bit float range (±3.4e38)",
            "dataset",
        )
    return header, header.index(target), arr


def _first_non_utf8_line(file: Path) -> int:
    """Return the number of the first line of ``file`` that is not UTF-8 (the last line if it ends cut short)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    number = 1
    with open(file, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number
    return number


def load_csv(path: str, target: str | None, frac: float, seed: int, standardize: bool) -> Dataset:
    """Return a data set from a CSV with a header; ``target`` names the label/target column.

    The file must be UTF-8 text of at most MAX_CSV_BYTES and MAX_CSV_CELLS cells, every data cell a number
    that float32 can hold. A target of whole numbers 0..MAX_CLASSES-1 with at most 50 distinct values is a
    class label; any other target is a regression target.
    """
    file = Path(path)
    if not file.is_file():
        raise UserError(f"CSV file {path} not found", "dataset")
    header, t, arr = _read_csv(file, target)
    y = arr[:, t]
    x = np.delete(arr, t, axis=1)
    integer = np.all(y == np.round(y)) and y.min() >= 0 and y.max() < MAX_CLASSES and len(np.unique(y)) <= 50
    if integer:
        n_classes = int(y.max()) + 1
        return _make(
            f"csv:{file.name}",
            x,
            y.astype(np.int64),
            n_classes,
            frac,
            seed,
            standardize,
            class_names=[str(k) for k in range(n_classes)],
        )
    return _make(f"csv:{file.name}", x, y.astype(np.float32), None, frac, seed, standardize)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
