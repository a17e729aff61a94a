"""The 项目支出绩效自评表 as one table: blocks of cells placed on millimetre edges → a table grid.

The form's blocks have different columns (项目资金 has 7, 绩效指标 9); each cell is a ``Box`` from
its left edge to its right edge in mm, and ``table`` makes the grid from the union of all edges, so
every cell spans the grid columns between its edges and vertical merges line up. ``fit`` keeps
short Chinese labels from leaving one character alone on the last line of a narrow cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from toolkit.write.report import layout
from toolkit.write.report.table import Cell, Row, Table

TABLE_MM = 156  # the text width
CHAR_MM = 10.5 * 25.4 / 72  # a Chinese character at 五号
CELL_MARGINS_MM = 2.05  # left + right cell margins (57 twips each)
SPLIT_CHARS = 30  # a row holding a longer text may break across pages (no half-empty page before it)
_NO_LINE_START = "）》」』”’：；，。、！？%"


@dataclass(frozen=True)
class Box:
    text: str
    left: float  # mm from the table's left edge
    right: float
    merge: str | None = None  # "restart" | "continue": merged with the cell below / above
    align: str = "center"
    head: bool = False


def chars_per_line(width_mm: float) -> int:
    return max(1, int((width_mm - CELL_MARGINS_MM) / CHAR_MM))


def _wide(text: str) -> bool:
    return all(ord(c) >= 0x2E80 for c in text)


def fit(text: str, width_mm: float) -> str:
    """Break a short all-Chinese line (at most three lines in the cell) evenly when wrapping would
    leave one character alone on its last line: 服务对象满意度 in 3 a line → 服务对/象满/意度, never 服务对/象满意/度."""
    cpl = chars_per_line(width_mm)
    out = []
    for line in text.split("\n"):
        n = math.ceil(len(line) / cpl)
        if 1 < n <= 3 and len(line) - (n - 1) * cpl == 1 and _wide(line):
            base, extra = divmod(len(line), n)  # the first ``extra`` lines take one more
            parts, i = [], 0
            for k in range(n):
                j = min(i + base + (k < extra), len(line))
                while j < len(line) and line[j] in _NO_LINE_START and j - i < cpl:
                    j += 1
                parts.append(line[i:j])
                i = j
            line = "\n".join(p for p in parts if p)
        out.append(line)
    return "\n".join(out)


def table(rows: Sequence[Sequence[Box]], fitter: Callable[[str, float], str] = fit) -> Table:
    """Rows of boxes → a Table whose grid holds every box edge (widths in twips, summing to 156 mm)."""
    edges = sorted({e for r in rows for b in r for e in (b.left, b.right)} | {0, TABLE_MM})
    twips = [layout.mm(e) for e in edges]
    widths = tuple(b - a for a, b in zip(twips, twips[1:], strict=False))
    index = {e: i for i, e in enumerate(edges)}
    out = []
    for r in rows:
        cells = tuple(Cell(fitter(b.text, b.right - b.left), span=index[b.right] - index[b.left], merge=b.merge,
                           align=b.align, head=b.head) for b in r)
        out.append(Row(cells, cant_split=all(len(b.text) <= SPLIT_CHARS for b in r)))
    return Table(widths, tuple(out))
