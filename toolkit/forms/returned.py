"""Problems → the returned workbook: the standard template regenerated with the clerk's own values.

Regenerating (rather than editing the clerk's file with openpyxl) keeps the dropdowns, defined
names and protection intact. Every cell named by a problem is marked (fill + comment), and a
问题清单 sheet goes first. Cells are mapped through their logical location (field key or table
row/column), so a clerk's inserted rows do not shift the marks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.fields import problem_sort_key
from toolkit.forms.layout import cell_address
from toolkit.forms.template import write_workbook
from toolkit.problems import Problem
from toolkit.rules.model import Scheme


def marks_for(raw: Any, problems: Sequence[Problem], scheme: Scheme | None = None) -> dict[str, list[str]]:
    """Logical location → messages, for every cell of every problem (worded with the regenerated
    workbook's cells when ``scheme`` is given)."""
    marks: dict[str, list[str]] = {}
    for p in problems:
        shown = relocated(scheme, raw, p) if scheme is not None else p
        locs = []
        for addr in p.cells or ((f"{p.sheet}!{p.cell}",) if p.sheet and p.cell else ()):
            loc = raw.logical_location(addr)
            if loc:
                locs.append(loc)
        if not locs and p.field and p.field in raw.values:
            locs.append(p.field)
        tag = "错误" if p.severity == "error" else "提示"
        for loc in dict.fromkeys(locs):
            marks.setdefault(loc, []).append(f"【{tag}】{shown.message}")
    return marks


def table_rows(raw: Any) -> dict[str, list[dict[str, Any]]]:
    """The clerk's table rows as typed, keeping blank rows between filled ones (row indexes stay)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, t in raw.tables.items():
        rows = [vals for _, vals in t.rows]
        while rows and all(v is None or str(v).strip() == "" for v in rows[-1].values()):
            rows.pop()
        out[name] = rows
    return out


def relocated(scheme: Scheme, raw: Any, p: Problem) -> Problem:
    """The problem with its cells named where they are in the regenerated workbook (a clerk who
    inserted rows had them elsewhere; a project form with more rows than the template's has its
    footer lower); cells with no logical location keep their address."""
    moved: list[str] = []
    # the project form's footer sits below its table: where it lands depends on the rows written
    rows = {name: len(r) for name, r in table_rows(raw).items()} if scheme.form == "project" else None
    for addr in p.cells:
        loc = raw.logical_location(addr)
        where = cell_address(scheme, loc, rows) if loc else None
        moved.append(f"{where[0]}!{where[1]}" if where else addr)
    if not moved:
        return p
    sheet, cell = moved[0].rsplit("!", 1)
    return dataclasses.replace(p, sheet=sheet, cell=cell, cells=tuple(moved))


def write_returned(scheme: Scheme, raw: Any, problems: Sequence[Problem], path: Path) -> None:
    meta = {k: v for k, v in (raw.meta or {}).items() if k == "unit_code" and v}
    moved = sorted((relocated(scheme, raw, p) for p in problems), key=problem_sort_key)
    write_workbook(scheme, path, values=dict(raw.values), tables=table_rows(raw), meta=meta,
                   marks=marks_for(raw, problems, scheme), problems=moved)
