"""Result objects that flow one way: file → RawWorkbook → Submission → Scorecard → documents.

Every stage returns frozen dataclasses; nothing downstream reaches back upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from toolkit.problems import Problem, Severity  # noqa: F401  (Severity: re-exported for results)

# A normalised input value: money / ratios / percentages are Decimal, counts int,
# dates datetime.date, everything else str. ``None`` means blank.
Value = Decimal | int | str | date | None


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
class ProjectScore:
    """One of the unit's 项目支出绩效自评表 as the department report's ``projects`` block lists it (spec 06)."""

    name: str
    fund_full: Decimal | None  # 全年预算数（万元）
    fund_spent: Decimal | None  # 全年执行数（万元）
    execution_rate: Decimal | None  # fraction
    total: Decimal | None  # None: returned to the clerk (not scored)
    grade: str | None


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

    def walk(self) -> Iterator[NodeScore]:
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
