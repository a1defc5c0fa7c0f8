"""``metrics.csv``: one row per logged step (``step, phase, lr, loss, <terms>..., elapsed_s, cpu_s``: wall and
process CPU seconds spent in training steps).

Read tolerantly where a crash can leave a mark (a blank line, a last row cut mid-line: missing
cells read as NaN) and strictly elsewhere: a cell that is not a number is one error naming the
file and line.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from sciflow.errors import SciflowError


def read_metrics(path: str | Path) -> tuple[list[str], list[dict[str, float]]]:
    """(header, rows) with float cells (NaN where empty); blank lines skipped."""
    header, rows, _ = read_metrics_lines(path)
    return header, rows


def read_metrics_lines(path: str | Path) -> tuple[list[str], list[dict[str, float]], list[list[str]]]:
    """(header, rows as floats, the same rows as the raw cells written)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise SciflowError(f"{path}: cannot read: {exc}") from None
    lines = [(i + 1, r) for i, r in enumerate(lines) if r and any(c.strip() for c in r)]
    if not lines:
        return [], [], []
    (_, header), body = lines[0], lines[1:]
    if "step" not in header:
        raise SciflowError(f"{path}: line 1 is not a metrics header (no 'step' column)")
    rows = []
    for lineno, r in body:
        row = {}
        for k, cell in zip(header, r + [""] * (len(header) - len(r))):
            try:
                row[k] = float(cell) if cell.strip() else math.nan
            except ValueError:
                raise SciflowError(f"{path}: line {lineno}: {k} = {cell!r} is not a number; "
                                   "fix or delete that line") from None
        if math.isnan(row["step"]):
            raise SciflowError(f"{path}: line {lineno}: no step number; fix or delete that line")
        rows.append(row)
    return header, rows, [r for _, r in body]

