"""The layout contract: which sheet, row and column each field, computed row and list table lands on.

``cell_address(scheme, location)`` tells where a logical location (a field key, or
``"<table>:<row>[:<column key>]"``) lands in a workbook written by ``toolkit.forms.template``;
``resolve`` gives every cell a location covers (for marking problems).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from xlsxwriter.utility import xl_rowcol_to_cell

from toolkit import fields as F
from toolkit.fields import Field
from toolkit.forms import project_layout
from toolkit.forms.describe import CIRCLED, describe_rule
from toolkit.rules import inputs
from toolkit.rules.model import Node, Scheme
from toolkit.rules.types.table import perf_table
from toolkit.text import address as A1
from toolkit.text.numbers import exact

PROBLEMS_SHEET = "问题清单"

WIDTHS = {
    F.SHEET_HELP: (11, 13, 28, 7, 58),
    F.SHEET_BASIC: (6, 30, 56, 34),
    F.SHEET_MONEY: (6, 30, 22, 40),
    F.SHEET_SCORING: (6, 50, 10, 36),
    F.SHEET_ANALYSIS: (6, 18, 48, 48),
    PROBLEMS_SHEET: (6, 10, 12, 10, 70),
}
FIRST_ROW = 3  # rows 1–2: title and hint; row 3: column headings; content from row 4
# Form sheets: A 序号, B label, then the input column(s) (0-based first, last; merged when they differ).
# 基本信息 / 收支情况: C input, D hint; 评分表: C points, D input; 绩效分析: C:D input.
INPUT_COLS = {F.SHEET_BASIC: (2, 2), F.SHEET_MONEY: (2, 2), F.SHEET_SCORING: (3, 3), F.SHEET_ANALYSIS: (2, 3)}
TALL_FIELDS = {"functions": 8, "duty_analysis": 10}  # blank template: lines of room

# Where computed rows go: after the field with this key.
COMPUTED_AFTER = {"staff_actual": ("staff_rate",)}
MONEY_SECTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("一、收入", ("carryover_start", "budget_initial", "budget_added", "income_fiscal", "income_other"),
     ("income_total", "budget_check")),
    ("二、支出与结余", ("spend_basic", "spend_project", "balance_basic", "balance_project"),
     ("spend_total", "balance_total", "identity_check")),
    ("三、“三公”经费", ("sangong_budget_prev", "sangong_budget", "sangong_actual"), ("sangong_rate",)),
    ("四、公用经费", ("public_budget", "public_actual"), ()),
    ("五、政府采购", ("procurement_budget", "procurement_actual"), ()),
    ("六、新建楼堂馆所", ("new_building", "building_area_approved", "building_area_actual",
                      "building_invest_approved", "building_invest_actual"), ()),
)


@dataclass(frozen=True)
class Item:
    """One row of a form sheet."""

    kind: str  # field | computed | section | block | rule
    field: Field | None = None
    text: str = ""
    number: str = ""
    points: str = ""
    computed: str = ""


@dataclass(frozen=True)
class Layout:
    rows: Mapping[str, tuple[Item, ...]]  # sheet → items, item i on row FIRST_ROW + i (0-based)
    slots: Mapping[str, tuple[str, int, int, int]]  # key → (sheet, row, col, last col)
    tables: Mapping[str, tuple[str, int, int]]  # table name → (sheet, header row, first col)
    # table name → the table as this scheme's template has it (perf_indicators gains option columns)
    defs: Mapping[str, F.Table] = field(default_factory=dict)


def layout_of(scheme: Scheme) -> Layout:
    cached = _LAYOUTS.get(id(scheme))
    if cached and cached[0] is scheme:
        return cached[1]
    lay = make_layout(scheme)
    if len(_LAYOUTS) > 32:
        _LAYOUTS.clear()
    _LAYOUTS[id(scheme)] = (scheme, lay)
    return lay


_LAYOUTS: dict[int, tuple[Scheme, Layout]] = {}


def project_form_layout(extra: int = 0) -> Layout:
    """The project form's layout (``toolkit.forms.project_layout``); ``extra`` table rows beyond its 12."""
    slots, tables = project_layout.places(extra)
    return Layout({F.SHEET_PROJECT: ()}, slots, tables, {F.PROJECT_INDICATORS.name: F.PROJECT_INDICATORS})


def make_layout(scheme: Scheme) -> Layout:
    if scheme.form == F.PROJECT.name:
        return project_form_layout()
    rows: dict[str, list[Item]] = {}
    eff = inputs.field_map(scheme)  # the scheme's view of each field (required flags)
    # 基本信息
    items: list[Item] = []
    added = {sheet: [eff[f.key] for f in scheme.fields if f.sheet == sheet] for sheet in INPUT_COLS}
    for n, f in enumerate((*F.BASIC_FIELDS, *added[F.SHEET_BASIC]), start=1):
        items.append(Item("field", eff[f.key], number=str(n)))
        items.extend(Item("computed", computed=c) for c in COMPUTED_AFTER.get(f.key, ()))
    rows[F.SHEET_BASIC] = items
    # 收支情况
    money = {f.key: eff[f.key] for f in (*F.MONEY_FIELDS, *added[F.SHEET_MONEY])}
    items = []
    n = 0
    placed: set[str] = set()
    sections = list(MONEY_SECTIONS)
    leftover = tuple(k for k in money if not any(k in s[1] for s in sections))
    if leftover:
        sections.append(("七、其他", leftover, ()))
    for title, keys, comps in sections:
        items.append(Item("section", text=title))
        for k in keys:
            if k in money and k not in placed:
                n += 1
                items.append(Item("field", money[k], number=str(n)))
                placed.add(k)
        items.extend(Item("computed", computed=c) for c in comps)
    rows[F.SHEET_MONEY] = items
    # 评分表
    rows[F.SHEET_SCORING] = scoring_items(scheme, eff)
    # 绩效分析
    rows[F.SHEET_ANALYSIS] = [Item("field", eff[f.key], number=str(i))
                              for i, f in enumerate((*F.ANALYSIS_FIELDS, *added[F.SHEET_ANALYSIS]), 1)]

    slots: dict[str, tuple[str, int, int, int]] = {}
    for sheet, its in rows.items():
        first, last = INPUT_COLS[sheet]
        for i, it in enumerate(its):
            if it.kind == "field" and it.field:
                slots[it.field.key] = (sheet, FIRST_ROW + i, first, last)
    # problems and plans side by side under the 绩效分析 fields (one blank row and a heading between)
    analysis_end = FIRST_ROW + len(rows[F.SHEET_ANALYSIS])
    first, last = INPUT_COLS[F.SHEET_ANALYSIS]
    tables = {
        F.PERF_INDICATORS.name: (F.SHEET_INDICATORS, 2, 0),
        F.PROBLEMS.name: (F.SHEET_ANALYSIS, analysis_end + 2, first),
        F.PLANS.name: (F.SHEET_ANALYSIS, analysis_end + 2, last),
    }
    tables.update(scheme_table_places(scheme, rows))
    defs = {t.name: t for t in (*F.TABLES, *scheme.tables)} | {F.PERF_INDICATORS.name: perf_table(scheme)}
    return Layout({k: tuple(v) for k, v in rows.items()}, slots, tables, defs)


def scheme_table_places(scheme: Scheme, rows: Mapping[str, list[Item]]) -> dict[str, tuple[str, int, int]]:
    """Where a scheme's own tables go: below a form sheet's rows (a blank row and a title row between,
    from column B), or on a sheet of their own (header on row 3 at A3); several on one sheet stack."""
    out: dict[str, tuple[str, int, int]] = {}
    below: dict[str, int] = {}  # sheet → the next free row
    for t in scheme.tables:
        on_form = t.sheet in rows
        start = below.get(t.sheet, FIRST_ROW + len(rows[t.sheet]) + 2 if on_form else 2)
        out[t.name] = (t.sheet, start, 1 if on_form else 0)
        below[t.sheet] = start + t.rows + 3
    return out


def scoring_items(scheme: Scheme, eff: dict[str, Field]) -> list[Item]:
    groups: dict[str | None, list[Field]] = {}
    for f in scheme.input_fields:
        groups.setdefault(f.indicator, []).append(eff[f.key])
    if any(f.sheet == F.SHEET_SCORING for f in scheme.fields):
        groups.setdefault(None, [])
    items: list[Item] = []
    for bn, (ind, fs) in enumerate(groups.items(), start=1):
        node = node_or_none(scheme, ind)
        if node:
            path = " › ".join(node.path[:-1])
            items.append(Item("block", text=f"{node.name}" + (f"（{path}）" if path else ""), number=str(bn),
                               points=f"{exact(node.points)}分"))
            items.append(Item("rule", text="评分规则：" + describe_rule(scheme, node)))
        else:
            items.append(Item("block", text="其他填报项", number=str(bn)))
            fs = fs + [eff[f.key] for f in scheme.fields if f.sheet == F.SHEET_SCORING]
        chk = 0
        for f in fs:
            number, points = "", ""
            if f.key.startswith("chk_"):
                number = CIRCLED[chk] if chk < len(CIRCLED) else str(chk + 1)
                chk += 1
                points = f.unit
            elif f.kind == "score" and f.max is not None:
                points = f"0～{exact(f.max)}分"
            items.append(Item("field", f, number=number, points=points))
    return items


def node_or_none(scheme: Scheme, node_id: str | None) -> Node | None:
    if not node_id:
        return None
    try:
        return scheme.node(node_id)
    except KeyError:
        return None


def cell_address(scheme: Scheme, location: str,
                 table_rows: Mapping[str, int] | None = None) -> tuple[str, str] | None:
    """Where a logical location lands in a workbook written here: ``(sheet, "C5")`` or None.

    A location is a field key (``spend_basic``) or ``"<table>:<row>:<column key>"`` (row 1-based);
    ``"<table>:<row>"`` gives the row's first cell. ``table_rows``: the rows each table will hold (a
    returned project form with more indicator rows than the template's moves everything below them).
    """
    lay = layout_of(scheme)
    if scheme.form == F.PROJECT.name and table_rows:
        t = F.PROJECT_INDICATORS
        extra = max(0, min(table_rows.get(t.name, 0), F.MAX_TABLE_ROWS) - t.rows)
        lay = project_form_layout(extra) if extra else lay
    cells = resolve(lay, location)
    if not cells:
        return None
    sheet, r, c = cells[0]
    return sheet, xl_rowcol_to_cell(r, c)


LOC_RE = re.compile(r"^([A-Za-z_]\w*):(\d+)(?::([A-Za-z_]\w*))?$")


def resolve(lay: Layout, loc: str) -> list[tuple[str, int, int]]:
    """Logical location → the cells it covers (sheet, row, col); [] when unknown."""
    if loc in lay.slots:
        sheet, r, c, last = lay.slots[loc]
        return [(sheet, r, c)]
    m = LOC_RE.match(loc)
    if m and m.group(1) in lay.tables:
        table = lay.defs.get(m.group(1)) or F.table_by_name(m.group(1))
        sheet, hr, c0 = lay.tables[table.name]
        idx = int(m.group(2))
        if idx < 1:
            return []
        r = hr + idx
        if m.group(3):
            keys = [c.key for c in table.columns]
            if m.group(3) not in keys:
                return []
            return [(sheet, r, c0 + keys.index(m.group(3)))]
        return [(sheet, r, c0 + j) for j in range(len(table.columns))]
    parsed = A1.split_address(loc)
    if parsed and parsed[0] in (*lay.rows, F.SHEET_INDICATORS):
        r1, c1 = A1.split_cell(parsed[1]) or (1, 1)
        return [(parsed[0], r1 - 1, c1 - 1)]
    return []
