"""Result objects that flow one way: file → RawWorkbook → Submission → Scorecard → documents.

Every stage returns frozen dataclasses; nothing downstream reaches back upstream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from dataclasses import field as dc_field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

Severity = Literal["error", "warning"]

# A normalised input value: money / ratios / percentages are Decimal, counts int,
# dates datetime.date, everything else str. ``None`` means blank.
Value = Decimal | int | str | date | None


@dataclass(frozen=True, init=False)
class Problem:
    """One thing wrong with a workbook, named by sheet and cell, with the fix (Chinese).

    A problem is data until shown: the catalogue code, its ``params`` and its cells. ``message`` is
    rendered from them each time (messages.render), so moving the cells (a returned workbook)
    re-words the text. A Problem rebuilt from text only (``params`` None) keeps that text.
    """

    code: str
    severity: Severity
    sheet: str | None
    cell: str | None  # first cell involved, e.g. "C7"
    cells: tuple[str, ...]  # every cell involved, as "收支情况!C7"
    field: str | None  # field key or table name
    params: dict[str, Any] | None = dc_field(hash=False)
    text: str = dc_field(compare=False)  # the message as given when params is None

    def __init__(self, code: str, severity: Severity, message: str = "", sheet: str | None = None,
                 cell: str | None = None, cells: tuple[str, ...] = (), field: str | None = None,
                 params: dict[str, Any] | None = None, text: str = ""):
        for k, v in (("code", code), ("severity", severity), ("sheet", sheet), ("cell", cell),
                     ("cells", tuple(cells)), ("field", field), ("params", params), ("text", text or message)):
            object.__setattr__(self, k, v)

    @property
    def message(self) -> str:
        if self.params is None:
            return self.text
        from toolkit.messages import render

        return render(self)

    @property
    def location(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or ""

    def as_dict(self, *, with_params: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "sheet": self.sheet,
            "cell": self.cell,
            "cells": list(self.cells),
            "field": self.field,
            "message": self.message,
        }
        if with_params:  # for crossing a process boundary; results.json keeps the keys above
            d["params"] = self.params
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        """The inverse of ``as_dict`` (params kept when present, so the text can still be re-rendered)."""
        return cls(code=d["code"], severity=d["severity"], message=d.get("message") or "", sheet=d.get("sheet"),
                   cell=d.get("cell"), cells=tuple(d.get("cells") or ()), field=d.get("field"),
                   params=d.get("params"))


def problem_sort_key(p: Problem) -> tuple[int, int, int, int]:
    """Workbook order: problems without a sheet first, then sheet order (fields.SHEETS), row, column.

    Use with a stable sort: problems on the same cell keep the order they were found in."""
    from toolkit.forms.fields import SHEETS

    if not p.sheet:
        return (0, 0, 0, 0)
    sheet = SHEETS.index(p.sheet) + 1 if p.sheet in SHEETS else len(SHEETS) + 1
    row = col = 0
    if p.cell:
        m = _CELL_RE.match(p.cell.replace("$", ""))
        if m:
            col = 0
            for ch in m.group(1).upper():
                col = col * 26 + ord(ch) - 64
            row = int(m.group(2))
    return (1, sheet, row, col)


_CELL_RE = re.compile(r"^([A-Za-z]{1,3})(\d{1,7})$")


@dataclass(frozen=True)
class TableRow:
    """One non-blank row of a list table (perf_indicators, problems, plans)."""

    index: int  # 1-based position among the table's data rows
    values: dict[str, Value]  # column key → normalised value
    cells: dict[str, str]  # column key → "sheet!C12"
    raw: dict[str, Any] = field(default_factory=dict)  # column key → value as read


@dataclass(frozen=True)
class Submission:
    """A workbook read and normalised; what scoring and the report consume.

    ``values`` holds every single-value field by key (blank = None); ``cells`` maps each key to the
    address it was read from ("收支情况!C5"), so later stages can name cells in problems.
    ``tables`` holds the non-blank rows of each list table by table name.
    """

    file: str  # path relative to the inbox, with / separators
    values: dict[str, Value]
    cells: dict[str, str]
    tables: dict[str, tuple[TableRow, ...]]
    meta: dict[str, Any]  # template_id, template_version, scheme_id, unit_code (from _meta)
    problems: tuple[Problem, ...] = ()

    def get(self, key: str) -> Value:
        return self.values.get(key)

    def text(self, key: str) -> str:
        v = self.values.get(key)
        return "" if v is None else str(v)

    def money(self, key: str) -> Decimal:
        """A money value, blank = 0 (required blanks are validation errors before this is used)."""
        v = self.values.get(key)
        if v is None or v == "":
            return Decimal(0)
        return v if isinstance(v, Decimal) else Decimal(str(v))

    @property
    def unit_name(self) -> str:
        return self.text("unit_name").strip()

    @property
    def fiscal_year(self) -> int | None:
        v = self.values.get("fiscal_year")
        return v if isinstance(v, int) else None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


@dataclass(frozen=True)
class RowScore:
    """Score of one perf_indicators row under the MOF rules."""

    row: TableRow
    points: Decimal
    score: Decimal
    value: Decimal | None  # actual/target ratio where defined


@dataclass(frozen=True)
class NodeScore:
    """Score of one node of the scheme tree (一级/二级/三级)."""

    id: str
    name: str
    points: Decimal
    score: Decimal
    level: int  # 1, 2, 3
    path: tuple[str, ...]  # names from the root, e.g. ("投入", "预算配置", "在职人员控制率")
    rule: str | None = None  # rule type for leaves
    value: Decimal | None = None  # measured ratio (fraction) or quantity; None for checklists
    facts: dict[str, Any] = field(default_factory=dict)  # what a report sentence needs
    children: tuple[NodeScore, ...] = ()
    rows: tuple[RowScore, ...] = ()  # indicator_table leaves

    def walk(self):  # type: ignore[no-untyped-def]
        yield self
        for c in self.children:
            yield from c.walk()

    @property
    def leaves(self) -> list[NodeScore]:
        return [n for n in self.walk() if not n.children]


@dataclass(frozen=True)
class Scorecard:
    scheme_id: str
    total: Decimal
    grade: str
    levels: tuple[NodeScore, ...]  # the 一级 nodes, each with its subtree
    problems: tuple[Problem, ...] = ()  # found while scoring (note_required, tier range …)

    def leaves(self) -> list[NodeScore]:
        return [leaf for lv in self.levels for leaf in lv.leaves]

    def node(self, node_id: str) -> NodeScore | None:
        for lv in self.levels:
            for n in lv.walk():
                if n.id == node_id:
                    return n
        return None
