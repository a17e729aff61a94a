"""The standard workbook (填报表): ``toolkit.forms.fields`` + a scheme → .xlsx, written with XlsxWriter.

One writer serves the blank template, the prefilled roster copies, the samples and the returned
workbooks (the unit's own values, problem cells marked pink with a comment, and a first sheet
问题清单). The reader never relies on positions, only on what this module guarantees:

- every single-value input is a yellow, unlocked cell with a workbook-scoped defined name equal to
  its key (no other defined names except Excel's own ``_xlnm.*`` print titles);
- the list inputs are Excel tables named ``perf_indicators`` (绩效指标, header row 3 at A3, data
  rows from row 4), ``problems`` (绩效分析, column C) and ``plans`` (绩效分析, column D, beside
  ``problems``), with the headers of ``toolkit.forms.fields`` and nothing below them;
- the very hidden sheet ``_meta`` holds keys in column A and values in column B from row 1
  (template_id, template_version, scheme_id, and unit_code for prefilled copies).

``cell_address(scheme, location)`` tells where a logical location lands in a workbook written here.

Same input → byte-identical file (fixed document dates; XlsxWriter gives zip entries a fixed
timestamp when writing in memory). The committed files in ``workbook_templates/`` and
``samples/*.xlsx`` are regenerated with ``python scripts/make_samples.py``; tests fail when they are
stale.
"""

from __future__ import annotations

import functools
import io
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from toolkit.forms import fields as F
from toolkit.forms.fields import Column, Field, Table
from toolkit.problems import Problem
from toolkit.rules import inputs
from toolkit.rules.expr import Expr
from toolkit.rules.loader import DEFAULT_SCHEME
from toolkit.rules.model import Node, Rule, Scheme
from toolkit.text import address as A1
from toolkit.write import atomic
from toolkit.write.names import safe_file_stem

__all__ = [
    "RosterError", "build_workbook_bytes", "cell_address", "describe_rule", "read_roster",
    "safe_file_name", "template_file_name", "write_templates", "write_workbook",
]

PROBLEMS_SHEET = "问题清单"
CREATED = datetime(2024, 1, 1, tzinfo=timezone.utc)  # fixed: output must not depend on the clock
FONT = "宋体"
TITLE_FONT = "黑体"
INPUT_FILL = "#FFF2CC"
LABEL_FILL = "#F2F2F2"
HEAD_FILL = "#DDEBF7"
CALC_FILL = "#E2EFDA"
MARK_FILL = "#FFC7CE"
MARK_BORDER = "#C00000"
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
LINE_PT = 15.0  # height of one line of 宋体 11, in points

# --------------------------------------------------------------------------- formats
_BORDER = {"border": 1, "border_color": "#808080", "valign": "vcenter"}
_STYLES: dict[str, dict[str, Any]] = {
    # inputs (unlocked)
    "in_text": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "text_wrap": True},
    "in_wrap": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "text_wrap": True, "valign": "top"},
    "in_center": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "align": "center"},
    "in_int": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": "0", "align": "center"},
    "in_num": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "align": "center"},
    "in_money": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": "#,##0.00"},
    "in_date": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": 'yyyy"年"m"月"d"日"',
                "align": "left"},
    "in_pct": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": "0.00%", "align": "center"},
    "in_tabletext": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": "@", "align": "center"},
    # locked text
    "title": {"font_name": TITLE_FONT, "font_size": 16, "align": "center", "valign": "vcenter"},
    "subtitle": {"align": "center", "valign": "vcenter", "font_color": "#404040"},
    "hint": {"font_size": 10, "font_color": "#404040", "text_wrap": True, "valign": "top"},
    "section": {"font_name": TITLE_FONT, "font_size": 12, "valign": "vcenter"},
    "para": {"text_wrap": True, "valign": "top"},
    "head": {**_BORDER, "bold": True, "bg_color": HEAD_FILL, "align": "center", "text_wrap": True},
    "block": {**_BORDER, "bold": True, "bg_color": HEAD_FILL, "text_wrap": True},
    "block_c": {**_BORDER, "bold": True, "bg_color": HEAD_FILL, "align": "center"},
    "label": {**_BORDER, "bg_color": LABEL_FILL, "text_wrap": True},
    "label_c": {**_BORDER, "bg_color": LABEL_FILL, "align": "center", "text_wrap": True},
    "note": {**_BORDER, "font_size": 10, "font_color": "#404040", "text_wrap": True},
    "cell": {**_BORDER, "text_wrap": True},
    "cell_c": {**_BORDER, "align": "center", "text_wrap": True},
    "cell_err": {**_BORDER, "align": "center", "font_color": "#C00000", "bold": True},
    "link": {**_BORDER, "align": "center", "font_color": "#0563C1", "underline": 1},
    "calc_money": {**_BORDER, "bg_color": CALC_FILL, "num_format": "#,##0.00"},
    "calc_pct": {**_BORDER, "bg_color": CALC_FILL, "num_format": "0.00%", "align": "center"},
    "calc_text": {**_BORDER, "bg_color": CALC_FILL},
    "officer": {"locked": False, "bottom": 1, "valign": "vcenter"},
    "legend_in": {**_BORDER, "bg_color": INPUT_FILL},
    "legend_label": {**_BORDER, "bg_color": LABEL_FILL},
    "legend_calc": {**_BORDER, "bg_color": CALC_FILL},
    "legend_mark": {**_BORDER, "bg_color": MARK_FILL, "border_color": MARK_BORDER},
    "star": {"font_color": "#C00000", "bold": True},
    "grey": {"font_size": 9, "font_color": "#7F7F7F"},
}
_MARKED = {"bg_color": MARK_FILL, "border_color": MARK_BORDER, "font_color": "#9C0006"}

# Input style and default hint of each field kind.
_KIND_STYLE = {
    "text": "in_text", "longtext": "in_wrap", "int": "in_int", "year": "in_int", "money": "in_money",
    "money_signed": "in_money", "area": "in_money", "date": "in_date", "email": "in_text",
    "choice": "in_center", "percent": "in_pct", "score": "in_num",
}
_KIND_HINT = {
    "int": "填写整数", "year": "四位年份，如 2023", "money": "单位：万元，保留两位小数",
    "money_signed": "单位：万元，保留两位小数", "area": "单位：平方米", "date": "如 2024-04-30",
    "email": "如 name@example.com", "percent": "如 95%", "score": "填写分数",
}

# --------------------------------------------------------------------------- layout
_WIDTHS = {
    F.SHEET_HELP: (11, 13, 28, 7, 58),
    F.SHEET_BASIC: (6, 30, 56, 34),
    F.SHEET_MONEY: (6, 30, 22, 40),
    F.SHEET_SCORING: (6, 50, 10, 36),
    F.SHEET_ANALYSIS: (6, 18, 48, 48),
    PROBLEMS_SHEET: (6, 10, 12, 10, 70),
}
_FIRST_ROW = 3  # rows 1–2: title and hint; row 3: column headings; content from row 4
# Form sheets: A 序号, B label, then the input column(s) (0-based first, last; merged when they differ).
# 基本信息 / 收支情况: C input, D hint; 评分表: C points, D input; 绩效分析: C:D input.
_INPUT_COLS = {F.SHEET_BASIC: (2, 2), F.SHEET_MONEY: (2, 2), F.SHEET_SCORING: (3, 3), F.SHEET_ANALYSIS: (2, 3)}
_TALL_FIELDS = {"functions": 8, "duty_analysis": 10}  # blank template: lines of room


@dataclass(frozen=True)
class _Computed:
    """A locked convenience cell with a formula over defined names (never read back)."""

    label: str
    formula: str
    style: str
    names: tuple[str, ...]
    kind: str  # how to compute the cached value: sum, diff_check, ratio, change, budget_check


_COMPUTED: dict[str, _Computed] = {
    "staff_rate": _Computed(
        "在职人员控制率（自动计算）", "=IF(N(staff_quota)>0,N(staff_actual)/N(staff_quota),\"\")",
        "calc_pct", ("staff_actual", "staff_quota"), "ratio"),
    "income_total": _Computed(
        "收入合计（自动计算）", "=IF(COUNT(carryover_start,income_fiscal,income_other)=0,\"\",N(carryover_start)+N(income_fiscal)"
        "+N(income_other))", "calc_money",
        ("carryover_start", "income_fiscal", "income_other"), "sum"),
    "budget_check": _Computed(
        "预算数与收到财政资金核对（自动计算）",
        "=IF(COUNT(budget_initial,budget_added,income_fiscal)=0,\"\",IF(ABS(N(budget_initial)+N(budget_added)"
        "-N(income_fiscal))<=0.005,\"一致\",\"不一致：相差\"&TEXT(N(budget_initial)+N(budget_added)"
        "-N(income_fiscal),\"0.00\")&\"万元\"))",
        "calc_text", ("budget_initial", "budget_added", "income_fiscal"), "budget_check"),
    "spend_total": _Computed(
        "支出合计（自动计算）", "=IF(COUNT(spend_basic,spend_project)=0,\"\",N(spend_basic)+N(spend_project))", "calc_money",
        ("spend_basic", "spend_project"), "sum"),
    "balance_total": _Computed(
        "年末结余合计（自动计算）", "=IF(COUNT(balance_basic,balance_project)=0,\"\",N(balance_basic)+N(balance_project))", "calc_money",
        ("balance_basic", "balance_project"), "sum"),
    "identity_check": _Computed(
        "收支平衡校验（自动计算）",
        "=IF(COUNT(carryover_start,income_fiscal,income_other,spend_basic,spend_project,balance_basic,"
        "balance_project)=0,\"\",IF(ABS(N(carryover_start)+N(income_fiscal)+N(income_other)-N(spend_basic)"
        "-N(spend_project)-N(balance_basic)-N(balance_project))<=0.005,\"平衡\",\"不平衡：相差\"&TEXT("
        "N(carryover_start)+N(income_fiscal)+N(income_other)-N(spend_basic)-N(spend_project)"
        "-N(balance_basic)-N(balance_project),\"0.00\")&\"万元\"))",
        "calc_text", ("carryover_start", "income_fiscal", "income_other", "spend_basic", "spend_project",
                      "balance_basic", "balance_project"), "identity_check"),
    "sangong_rate": _Computed(
        "“三公”经费变动率（自动计算）",
        "=IF(N(sangong_budget_prev)>0,(N(sangong_budget)-N(sangong_budget_prev))/N(sangong_budget_prev),\"\")",
        "calc_pct", ("sangong_budget", "sangong_budget_prev"), "change"),
}

# Where computed rows go: after the field with this key.
_COMPUTED_AFTER = {"staff_actual": ("staff_rate",)}
_MONEY_SECTIONS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
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
class _Item:
    """One row of a form sheet."""

    kind: str  # field | computed | section | block | rule
    field: Field | None = None
    text: str = ""
    number: str = ""
    points: str = ""
    computed: str = ""


@dataclass(frozen=True)
class _Layout:
    rows: Mapping[str, tuple[_Item, ...]]  # sheet → items, item i on row _FIRST_ROW + i (0-based)
    slots: Mapping[str, tuple[str, int, int, int]]  # key → (sheet, row, col, last col)
    tables: Mapping[str, tuple[str, int, int]]  # table name → (sheet, header row, first col)


def _layout_of(scheme: Scheme) -> _Layout:
    cached = _LAYOUTS.get(id(scheme))
    if cached and cached[0] is scheme:
        return cached[1]
    lay = _make_layout(scheme)
    if len(_LAYOUTS) > 32:
        _LAYOUTS.clear()
    _LAYOUTS[id(scheme)] = (scheme, lay)
    return lay


_LAYOUTS: dict[int, tuple[Scheme, _Layout]] = {}


def _make_layout(scheme: Scheme) -> _Layout:
    rows: dict[str, list[_Item]] = {}
    eff = inputs.field_map(scheme)  # the scheme's view of each field (required flags)
    # 基本信息
    items: list[_Item] = []
    for n, f in enumerate(F.BASIC_FIELDS, start=1):
        items.append(_Item("field", eff[f.key], number=str(n)))
        items.extend(_Item("computed", computed=c) for c in _COMPUTED_AFTER.get(f.key, ()))
    rows[F.SHEET_BASIC] = items
    # 收支情况
    money = {f.key: eff[f.key] for f in F.MONEY_FIELDS}
    items = []
    n = 0
    placed: set[str] = set()
    sections = list(_MONEY_SECTIONS)
    leftover = tuple(k for k in money if not any(k in s[1] for s in sections))
    if leftover:
        sections.append(("七、其他", leftover, ()))
    for title, keys, comps in sections:
        items.append(_Item("section", text=title))
        for k in keys:
            if k in money and k not in placed:
                n += 1
                items.append(_Item("field", money[k], number=str(n)))
                placed.add(k)
        items.extend(_Item("computed", computed=c) for c in comps)
    rows[F.SHEET_MONEY] = items
    # 评分表
    rows[F.SHEET_SCORING] = _scoring_items(scheme, eff)
    # 绩效分析
    rows[F.SHEET_ANALYSIS] = [_Item("field", eff[f.key], number=str(i)) for i, f in enumerate(F.ANALYSIS_FIELDS, 1)]

    slots: dict[str, tuple[str, int, int, int]] = {}
    for sheet, its in rows.items():
        first, last = _INPUT_COLS[sheet]
        for i, it in enumerate(its):
            if it.kind == "field" and it.field:
                slots[it.field.key] = (sheet, _FIRST_ROW + i, first, last)
    # problems and plans side by side under the 绩效分析 fields (one blank row and a heading between)
    analysis_end = _FIRST_ROW + len(rows[F.SHEET_ANALYSIS])
    first, last = _INPUT_COLS[F.SHEET_ANALYSIS]
    tables = {
        F.PERF_INDICATORS.name: (F.SHEET_INDICATORS, 2, 0),
        F.PROBLEMS.name: (F.SHEET_ANALYSIS, analysis_end + 2, first),
        F.PLANS.name: (F.SHEET_ANALYSIS, analysis_end + 2, last),
    }
    return _Layout({k: tuple(v) for k, v in rows.items()}, slots, tables)


def _scoring_items(scheme: Scheme, eff: dict[str, Field]) -> list[_Item]:
    groups: dict[str | None, list[Field]] = {}
    for f in scheme.input_fields:
        groups.setdefault(f.indicator, []).append(eff[f.key])
    items: list[_Item] = []
    for bn, (ind, fs) in enumerate(groups.items(), start=1):
        node = _node_or_none(scheme, ind)
        if node:
            path = " › ".join(node.path[:-1])
            items.append(_Item("block", text=f"{node.name}" + (f"（{path}）" if path else ""), number=str(bn),
                               points=f"{_num(node.points)}分"))
            items.append(_Item("rule", text="评分规则：" + describe_rule(scheme, node)))
        else:
            items.append(_Item("block", text="其他填报项", number=str(bn)))
        chk = 0
        for f in fs:
            number, points = "", ""
            if f.key.startswith("chk_"):
                number = CIRCLED[chk] if chk < len(CIRCLED) else str(chk + 1)
                chk += 1
                points = f.unit
            elif f.kind == "score" and f.max is not None:
                points = f"0～{_num(f.max)}分"
            items.append(_Item("field", f, number=number, points=points))
    return items


def _node_or_none(scheme: Scheme, node_id: str | None) -> Node | None:
    if not node_id:
        return None
    try:
        return scheme.node(node_id)
    except KeyError:
        return None


def cell_address(scheme: Scheme, location: str) -> tuple[str, str] | None:
    """Where a logical location lands in a workbook written here: ``(sheet, "C5")`` or None.

    A location is a field key (``spend_basic``) or ``"<table>:<row>:<column key>"`` (row 1-based);
    ``"<table>:<row>"`` gives the row's first cell.
    """
    cells = _resolve(_layout_of(scheme), location)
    if not cells:
        return None
    sheet, r, c = cells[0]
    return sheet, xl_rowcol_to_cell(r, c)


_LOC_RE = re.compile(r"^([A-Za-z_]\w*):(\d+)(?::([A-Za-z_]\w*))?$")


def _resolve(lay: _Layout, loc: str) -> list[tuple[str, int, int]]:
    """Logical location → the cells it covers (sheet, row, col); [] when unknown."""
    if loc in lay.slots:
        sheet, r, c, last = lay.slots[loc]
        return [(sheet, r, c)]
    m = _LOC_RE.match(loc)
    if m and m.group(1) in lay.tables:
        table = F.table_by_name(m.group(1))
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


# --------------------------------------------------------------------------- rule descriptions
def _num(d: Decimal | float | int) -> str:
    d = Decimal(str(d)).normalize()
    s = f"{d:f}"
    return s


def _pct(d: Decimal | None) -> str:
    return "" if d is None else _num(Decimal(d) * 100) + "%"


_PREC = {"Add": 1, "Sub": 1, "Mult": 2, "Div": 2}
_OPS = {"Add": " + ", "Sub": " − ", "Mult": " × ", "Div": " ÷ "}


def _expr_text(expr: Expr, labels: Mapping[str, str]) -> str:
    import ast

    def go(n: ast.expr) -> tuple[str, int]:
        if isinstance(n, ast.Name):
            return labels.get(n.id, n.id), 3
        if isinstance(n, ast.Constant):
            return (_num(n.value) if isinstance(n.value, (int, float)) else str(n.value)), 3
        if isinstance(n, ast.UnaryOp):
            s, p = go(n.operand)
            return ("−" if isinstance(n.op, ast.USub) else "") + (s if p >= 2 else f"（{s}）"), 2
        if isinstance(n, ast.BinOp):
            op = type(n.op).__name__
            prec = _PREC[op]
            ls, lp = go(n.left)
            rs, rp = go(n.right)
            if lp < prec:
                ls = f"（{ls}）"
            if rp < prec or (rp == prec and op in ("Sub", "Div")):
                rs = f"（{rs}）"
            return ls + _OPS[op] + rs, prec
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            return n.func.id.upper() + "（" + "，".join(go(a)[0] for a in n.args) + "）", 3
        return ast.unparse(n), 3

    return go(expr.tree)[0]


def _labels(scheme: Scheme) -> dict[str, str]:
    return {f.key: f.label for f in inputs.all_fields(scheme)}


def _value_text(name: str, p: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """“在职人员控制率 = 实有在职在编人数 ÷ 核定人员编制数 × 100%”."""
    if p.get("value") is not None:
        expr = p["value"]
        text = _expr_text(expr, labels)
        return text if len(expr.names) == 1 and text == labels.get(expr.names[0]) else f"{name} = {text}"
    num, den = p.get("numerator"), p.get("denominator")
    if num is None or den is None:
        return name
    nt, dt = _expr_text(num, labels), _expr_text(den, labels)
    if not _simple(num):
        nt = f"（{nt}）"
    if not _simple(den):
        dt = f"（{dt}）"
    return f"{name} = {nt} ÷ {dt} × 100%"


def _simple(e: Expr) -> bool:
    import ast

    return isinstance(e.tree, (ast.Name, ast.Constant, ast.Call))


def _outcome(o: Any) -> str:
    """A zero-denominator outcome: "full", "zero", "error", {"value": v} or {"kind": …, "value": …}."""
    kind = o.get("kind", "value" if "value" in o else "error") if isinstance(o, Mapping) else str(o)
    if kind == "value":
        return f"按{_pct(o.get('value'))}计算"
    return {"full": "得满分", "zero": "得0分"}.get(kind, "视为填报错误")


def _zero_text(p: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    z = p.get("zero_denominator")
    den, num = p.get("denominator"), p.get("numerator")
    if not z or den is None or num is None:
        return ""
    dt = _expr_text(den, labels)
    a, b = z["numerator_zero"], z["otherwise"]
    if a == b:
        return f"{dt}为0的，{_outcome(a)}。"
    nt = _expr_text(num, labels)
    return f"{dt}为0时：若{nt if _simple(num) else f'（{nt}）'}也为0，{_outcome(a)}；否则{_outcome(b)}。"


def describe_rule(scheme: Scheme, node: Node) -> str:
    """A readable Chinese description of a leaf's scoring rule (填表说明, 评分表)."""
    if not node.rule:
        return ""
    return _describe(node.rule, node, _labels(scheme))


def _describe(rule: Rule, node: Node, labels: Mapping[str, str]) -> str:
    p, t, w = rule.params, rule.type, node.points
    if t == "ratio_cap":
        step = p.get("step")
        per = f"每超过{_num(step * 100)}个百分点扣{_num(p['deduct'])}分（不足{_num(step * 100)}个百分点的不扣分）" \
            if step else f"每超过1个百分点扣{_num(p['deduct'])}分"
        return (f"{_value_text(node.name, p, labels)}。不超过{_pct(p['cap'])}的得满分；{per}，扣完为止。"
                + _zero_text(p, labels))
    if t == "ratio_floor":
        step = p.get("step")
        per = f"每低于{_num(step * 100)}个百分点扣{_num(p['deduct'])}分（不足{_num(step * 100)}个百分点的不扣分）" \
            if step else f"每低于1个百分点扣{_num(p['deduct'])}分"
        return (f"{_value_text(node.name, p, labels)}。达到{_pct(p['floor'])}的得满分；{per}，扣完为止。"
                + _zero_text(p, labels))
    if t == "bands":
        words = {"eq": "等于", "gt": "大于", "ge": "不低于", "lt": "小于", "le": "不超过"}
        parts = []
        for b in p["bands"]:
            cond = "且".join(f"{words[op]}{_pct(b[op])}" for op in ("eq", "gt", "ge", "lt", "le") if op in b)
            parts.append(f"{cond}的得{_num(b['points'])}分")
        return f"{_value_text(node.name, p, labels)}。" + "；".join(parts) + "。" + _zero_text(p, labels)
    if t == "proportional":
        target = _pct(p["target"])
        return (f"{_value_text(node.name, p, labels)}。达到{target}的得满分；未达到的按 实际值 ÷ {target} × {_num(w)}分 "
                f"计分。" + _zero_text(p, labels))
    if t == "not_applicable_full":
        inner = p.get("rule")
        flag = labels.get(p["flag"], p["flag"])
        rest = _describe(inner, node, labels) if inner else ""
        return f"“{flag}”为“{p['when']}”的得满分；否则：{rest}"
    if t == "checklist":
        items = "；".join(f"{CIRCLED[i] if i < len(CIRCLED) else i + 1}{it['text']}（{_num(it['points'])}分）"
                         for i, it in enumerate(p["items"]))
        return f"逐项判断，符合的（选“是”）得该项分值：{items}。"
    if t == "tiers":
        parts = []
        for tr in p["tiers"]:
            lo, hi = tr["low"] * w, tr["high"] * w
            parts.append(f"{tr['name']} {_num(lo)}～{_num(hi)}分" + ("（不含上限）" if tr.get("high_open") else ""))
        return f"选择完成档次，并在该档次的分数范围内自评得分：{'；'.join(parts)}。扣分的须写明情况说明。"
    if t == "lookup":
        table = "，".join(f"{k}{_num(v)}分" for k, v in p["table"].items())
        return f"按“{labels.get(p['input'], p['input'])}”计分：{table}。"
    if t == "first_given":
        parts = []
        for i, o in enumerate(p["options"]):
            label = labels.get(o["input"], o["input"])
            inner = _describe(o["rule"], node, labels) if o.get("rule") else ""
            for dup in (f"按“{label}”计分：", f"{label}。"):  # the option's own rule often restates it
                inner = inner.removeprefix(dup)
            parts.append(("优先" if i == 0 else "未填写以上各项的，") + f"按“{label}”计分：{inner}")
        return "".join(parts)
    if t == "indicator_table":
        return (f"按《绩效指标》表中一级指标为“{p['group']}”的各行计分（计分方法见该表说明），"
                f"各行分值合计应为{_num(w)}分。")
    return t


# --------------------------------------------------------------------------- helpers
@functools.lru_cache(maxsize=1024)  # labels, hints and instructions repeat in every workbook
def _display_width(s: str) -> int:
    if s.isascii():
        return len(s)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _lines(text: str, width: float) -> int:
    usable = max(width - 1, 4)
    return sum(max(1, math.ceil(_display_width(p) / usable)) for p in str(text).split("\n"))


def _height(text: Any, width: float, min_lines: int = 1) -> float:
    n = max(min_lines, _lines(str(text), width) if text not in (None, "") else 1)
    return min(409.0, n * LINE_PT + 6)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _float(v: Any) -> float:
    """Excel's N(): a number or 0."""
    if _is_number(v):
        f = float(v)
        return f if math.isfinite(f) else 0.0
    return 0.0


def _field_label(f: Field) -> str:
    if f.sheet != F.SHEET_SCORING and f.unit:
        return f"{f.label}（{f.unit}）"
    return f.label


BLANK_IS_ZERO_HINT = "没有的填 0 或留空"


def _hint(f: Field) -> str:
    hint = f.note or _KIND_HINT.get(f.kind, "")
    if f.blank_is_zero:
        hint = (hint + "；" if hint else "") + BLANK_IS_ZERO_HINT
    if f.kind == "choice" and f.choices:
        hint = (hint + "；" if hint else "") + "从下拉列表选择：" + " / ".join(f.choices)
    if f.required_when:
        key, value = f.required_when
        hint = (hint + "；" if hint else "") + f"“{_label_of(key)}”为“{value}”时必填"
    return hint


def _label_of(key: str) -> str:
    for f in F.STATIC_FIELDS:
        if f.key == key:
            return f.label
    return key


def _clip(s: str, n: int) -> str:
    if len(s) * 2 <= n:  # cannot exceed n UTF-16 units
        return s
    out, size = "", 0
    for ch in s:
        size += 2 if ord(ch) > 0xFFFF else 1
        if size > n:
            return out[:-1] + "…"
        out += ch
    return out


def _plain(x: Any) -> int | float:
    """A number as Excel should show it in a rule: 10, not 10.0."""
    f = float(x)
    return int(f) if f.is_integer() else f


def _validation(kind: str, label: str, hint: str, *, choices: Sequence[str] = (), low: Any = None,
                high: Any = None) -> dict[str, Any] | None:
    """Data validation options (Chinese prompt and error alert) for an input of ``kind``."""
    v: dict[str, Any]
    if kind == "choice" and choices:
        source = list(choices)
        if any("," in c for c in source) or len(",".join(source)) > 250:
            v = {"validate": "any"}
        else:
            v = {"validate": "list", "source": source,
                 "error_message": f"请从下拉列表中选择：{' / '.join(source)}"}
    elif kind == "int":
        v = {"validate": "integer", "criteria": ">=", "value": int(low or 0),
             "error_message": f"“{label}”应为大于或等于 {int(low or 0)} 的整数"}
    elif kind == "year":
        v = {"validate": "integer", "criteria": "between", "minimum": 2000, "maximum": 2100,
             "error_message": "评价年度应为 2000～2100 之间的四位年份"}
    elif kind in ("money", "area"):
        unit = "万元" if kind == "money" else "平方米"
        v = {"validate": "decimal", "criteria": ">=", "value": 0,
             "error_message": f"“{label}”应为大于或等于 0 的数字（单位：{unit}），不要填写文字或单位"}
    elif kind == "money_signed":
        v = {"validate": "decimal", "criteria": "between", "minimum": -99999999, "maximum": 99999999,
             "error_message": f"“{label}”应为数字（单位：万元），调减填负数"}
    elif kind == "date":
        v = {"validate": "date", "criteria": "between", "minimum": date(2000, 1, 1), "maximum": date(2100, 12, 31),
             "error_type": "warning", "error_message": "请填写日期，如 2024-04-30"}
    elif kind == "percent":
        v = {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1, "error_type": "warning",
             "error_message": f"“{label}”应为 0%～100% 之间的百分比，如 95%"}
    elif kind == "score":
        lo = _plain(low if low is not None else 0)
        if high is not None:
            v = {"validate": "decimal", "criteria": "between", "minimum": lo, "maximum": _plain(high),
                 "error_message": f"“{label}”应为 {_num(lo)}～{_num(high)} 之间的分数"}
        else:
            v = {"validate": "decimal", "criteria": ">" if low is None else ">=", "value": lo,
                 "error_message": f"“{label}”应为{'大于' if low is None else '大于或等于'} {_num(lo)} 的分数"}
    else:
        if not hint:
            return None
        v = {"validate": "any"}
    if hint:
        v["input_title"] = _clip(label, 32)
        v["input_message"] = _clip(hint, 250)
    if v["validate"] != "any":
        v["error_title"] = "输入有误"
        v["error_message"] = _clip(v["error_message"], 250)
    elif "input_message" not in v:
        return None
    else:
        v.pop("error_message", None)
    return v


# --------------------------------------------------------------------------- the writer
class _Writer:
    def __init__(self, scheme: Scheme, *, year: int | None, values: Mapping[str, Any],
                 tables: Mapping[str, Sequence[Mapping[str, Any]]], meta: Mapping[str, Any],
                 marks: Mapping[str, Sequence[str]], problems: Sequence[Problem]):
        self.scheme = scheme
        self.lay = _layout_of(scheme)
        self.year = year
        self.values = dict(values)
        if year is not None and self.values.get("fiscal_year") in (None, ""):
            self.values["fiscal_year"] = year
        self.tables = tables
        self.meta = meta
        self.problems = problems
        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, {
            "in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "remove_timezone": True,
            "default_format_properties": {"font_name": FONT, "font_size": 11},
        })
        self._formats: dict[tuple[str, bool], Format] = {}
        self.marks: dict[tuple[str, int, int], list[str]] = {}
        self.mark_rows: dict[str, int] = {}  # table name → highest marked row index
        for loc, msgs in (marks or {}).items():
            m = _LOC_RE.match(loc)
            if m and m.group(1) in self.lay.tables:  # a marked row beyond the data still gets a row
                row = min(int(m.group(2)), F.MAX_TABLE_ROWS)
                self.mark_rows[m.group(1)] = max(self.mark_rows.get(m.group(1), 0), row)
            for i, cell in enumerate(_resolve(self.lay, loc)):
                # a whole-row mark fills every cell; the comment goes on the first one
                self.marks.setdefault(cell, []).extend(list(msgs) if i == 0 else [])

    def fmt(self, style: str, marked: bool = False) -> Format:
        key = (style, marked)
        f = self._formats.get(key)
        if f is None:
            props = dict(_STYLES[style])
            if marked:
                props.update(_MARKED)
            f = self._formats[key] = self.wb.add_format(props)
        return f

    # -- cells
    def put(self, ws: Worksheet, sheet: str, row: int, col: int, value: Any, style: str) -> None:
        """Write an input value (typed as given) with its style, marked if a problem points here."""
        msgs = self.marks.get((sheet, row, col))
        marked = msgs is not None
        if isinstance(value, (date, datetime)):
            ws.write_datetime(row, col, value, self.fmt("in_date", marked))
        elif value is None or value == "":
            ws.write_blank(row, col, None, self.fmt(style, marked))
        elif isinstance(value, bool):
            ws.write_boolean(row, col, value, self.fmt(style, marked))
        elif _is_number(value) and math.isfinite(float(value)):
            ws.write_number(row, col, float(value), self.fmt(style, marked))
        else:
            ws.write_string(row, col, str(value), self.fmt(style, marked))
        if msgs:
            self.comment(ws, row, col, msgs)

    def comment(self, ws: Worksheet, row: int, col: int, msgs: Sequence[str]) -> None:
        msgs = list(dict.fromkeys(msgs))
        text = "\n".join(f"{i}. {m}" if len(msgs) > 1 else m for i, m in enumerate(msgs, start=1))
        lines = _lines(text, 40)
        ws.write_comment(row, col, text, {"author": "财政局审核", "x_scale": 2.6,
                                          "y_scale": max(1.0, min(8.0, lines * 0.33 + 0.4))})

    def sheet(self, name: str, widths: Sequence[float] = ()) -> Worksheet:
        ws = self.wb.add_worksheet(name)
        for i, w in enumerate(widths):
            ws.set_column(i, i, w)
        ws.hide_gridlines(2)
        ws.set_paper(9)
        ws.set_portrait()
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.6, right=0.6, top=0.75, bottom=0.75)
        ws.center_horizontally()
        ws.set_footer("&C第 &P 页，共 &N 页")
        ws.protect("", {"format_columns": True, "format_rows": True, "select_locked_cells": True,
                        "select_unlocked_cells": True})
        return ws

    def heading(self, ws: Worksheet, ncols: int, title: str, hint: str) -> None:
        ws.merge_range(0, 0, 0, ncols - 1, title, self.fmt("title"))
        ws.set_row(0, 30)
        ws.merge_range(1, 0, 1, ncols - 1, hint, self.fmt("hint"))
        ws.set_row(1, _height(hint, sum(_WIDTHS.get(ws.name, (20,) * ncols)[:ncols])))
        ws.repeat_rows(0, 2)

    def title_prefix(self) -> str:
        y = _float(self.values.get("fiscal_year"))
        return f"{int(y)}年度" if y.is_integer() and 2000 <= y <= 2100 else ""

    # -- build
    def build(self) -> bytes:
        self.wb.set_properties({
            "title": "部门整体支出绩效自评填报表", "subject": self.scheme.title, "author": "",
            "company": "", "comments": f"{F.TEMPLATE_ID} 版本 {F.TEMPLATE_VERSION}；评分方案 {self.scheme.id}",
            "created": CREATED,
        })
        if self.problems:
            self.problems_sheet()
        self.help_sheet()
        self.form_sheet(F.SHEET_BASIC, "基本信息", "黄色单元格为填写项，标 * 的为必填项；鼠标点击单元格可看到填写提示。")
        self.form_sheet(F.SHEET_MONEY, "收支情况",
                        "金额单位：万元（保留两位小数）；黄色单元格为填写项，标 * 的为必填项；绿色单元格自动计算，仅供核对。")
        self.scoring_sheet()
        self.indicators_sheet()
        self.analysis_sheet()
        self.meta_sheet()
        self.wb.close()
        return self.buf.getvalue()

    # -- 问题清单
    def problems_sheet(self) -> None:
        ws = self.sheet(PROBLEMS_SHEET, _WIDTHS[PROBLEMS_SHEET])
        ws.set_tab_color("#C00000")
        ws.activate()
        errors = sum(1 for p in self.problems if p.severity == "error")
        hint = (f"共 {len(self.problems)} 个问题：错误 {errors} 个（必须修改），提示 {len(self.problems) - errors} 个"
                "（请核实）。有问题的单元格已用粉红色标出，鼠标移到单元格上可查看说明；点击“单元格”列可跳转。"
                "请逐项修改后重新报送。")
        self.heading(ws, 5, "退回修改问题清单", hint)
        for c, h in enumerate(("序号", "严重程度", "工作表", "单元格", "说明")):
            ws.write_string(2, c, h, self.fmt("head"))
        sheets = set(F.SHEETS)
        for i, p in enumerate(self.problems, start=1):
            r = 2 + i
            ws.write_number(r, 0, i, self.fmt("cell_c"))
            if p.severity == "error":
                ws.write_string(r, 1, "错误", self.fmt("cell_err"))
            else:
                ws.write_string(r, 1, "提示", self.fmt("cell_c"))
            ws.write_string(r, 2, p.sheet or "", self.fmt("cell_c"))
            cell = p.cell or ""
            if p.sheet in sheets and p.sheet != F.SHEET_META and re.fullmatch(r"[A-Z]{1,3}[0-9]{1,7}", cell):
                ws.write_url(r, 3, f"internal:'{p.sheet}'!{cell}", self.fmt("link"), string=cell)
            else:
                ws.write_string(r, 3, cell, self.fmt("cell_c"))
            ws.write_string(r, 4, p.message, self.fmt("cell"))
            ws.set_row(r, _height(p.message, _WIDTHS[PROBLEMS_SHEET][4]))

    # -- 填表说明
    def help_sheet(self) -> None:
        ws = self.sheet(F.SHEET_HELP, _WIDTHS[F.SHEET_HELP])
        widths = _WIDTHS[F.SHEET_HELP]
        total_w = sum(widths)
        ws.merge_range(0, 0, 0, 4, f"{self.title_prefix()}部门整体支出绩效自评填报表", self.fmt("title"))
        ws.set_row(0, 34)
        ws.merge_range(1, 0, 1, 4, f"评分方案：{self.scheme.title}", self.fmt("subtitle"))
        ws.repeat_rows(0, 1)
        r = 3
        ws.write_string(r, 0, "一、填报说明", self.fmt("section"))
        r += 1
        groups = "、".join(self.scheme.indicator_groups) or "产出指标、效益指标"
        lines = [
            "本表共有《基本信息》《收支情况》《评分表》《绩效指标》《绩效分析》五张工作表，请逐表填写。",
            "淡黄色单元格为填写项；其他单元格已锁定。请勿删除、插入或重命名工作表，勿修改项目名称和表头。",
            "金额单位为万元，保留两位小数；人数单位为人；面积单位为平方米；百分比直接填写，如 95%。",
            "带下拉箭头的单元格请从下拉列表中选择；标 * 的项目为必填项；点击单元格可看到填写提示。",
            "多段文字请在单元格内按 Alt+Enter 换行（WPS 相同），或双击单元格后再粘贴，不要把文字粘贴到下方单元格。",
            f"《绩效指标》填写本单位年度绩效目标中的{groups}，各一级指标的分值合计须与评分标准一致。",
            "《评分表》中得分低于满分的指标、《绩效指标》中得分低于分值的指标行，须填写扣分（偏差）原因及改进措施。",
            "填写完成后请保存为 .xlsx 格式（不要另存为 .xls、.et 或 PDF），按通知要求报送。",
        ]
        for i, line in enumerate(lines, start=1):
            text = f"{i}. {line}"
            ws.merge_range(r, 0, r, 4, text, self.fmt("para"))
            ws.set_row(r, _height(text, total_w))
            r += 1
        r += 1
        for label in ("报送截止时间：", "报送方式：", "联系人及电话："):
            ws.merge_range(r, 0, r, 1, label, self.fmt("para"))
            ws.merge_range(r, 2, r, 4, "", self.fmt("officer"))
            ws.set_row(r, 22)
            r += 1
        r += 1
        ws.write_string(r, 0, "二、颜色说明", self.fmt("section"))
        r += 1
        for style, text in (("legend_in", "填写项：请在此类单元格中填写"),
                            ("legend_label", "项目名称、说明：已锁定，不需填写"),
                            ("legend_calc", "自动计算：仅供核对，不作为评分依据"),
                            ("legend_mark", "退回修改时标出的有问题的单元格：鼠标移到单元格上可查看说明")):
            ws.write_blank(r, 0, None, self.fmt(style))
            ws.merge_range(r, 1, r, 4, text, self.fmt("para"))
            r += 1
        r += 1
        ws.merge_range(r, 0, r, 4, f"三、评分标准（满分{_num(self.scheme.total)}分）", self.fmt("section"))
        r += 1
        for c, h in enumerate(("一级指标", "二级指标", "三级指标", "分值", "评分规则")):
            ws.write_string(r, c, h, self.fmt("head"))
        r += 1
        r = self.scoring_table(ws, r)
        grades = "、".join(self._grade_words())
        ws.merge_range(r, 0, r, 4, f"评价等级：{grades}。", self.fmt("para"))
        ws.set_row(r, _height(grades, total_w))
        r += 2
        ws.merge_range(r, 0, r, 4, f"模板标识：{F.TEMPLATE_ID}　模板版本：{F.TEMPLATE_VERSION}　"
                                   f"评分方案：{self.scheme.id}", self.fmt("grey"))

    def _grade_words(self) -> list[str]:
        gs = list(self.scheme.grades)
        out = []
        for i, g in enumerate(gs):
            if i == 0:
                out.append(f"{g.name}（{_num(g.min)}分及以上）")
            elif g.min == 0:
                out.append(f"{g.name}（{_num(gs[i - 1].min)}分以下）")
            else:
                out.append(f"{g.name}（{_num(g.min)}～{_num(gs[i - 1].min)}分，不含{_num(gs[i - 1].min)}分）")
        return out

    def scoring_table(self, ws: Worksheet, r: int) -> int:
        widths = _WIDTHS[F.SHEET_HELP]
        for lv in self.scheme.levels:
            leaves = [n for n in lv.walk() if n.is_leaf]
            start = r
            for leaf in leaves:
                path = leaf.path
                lv2 = path[1] if len(path) > 2 else (path[1] if len(path) == 2 else "")
                lv3 = "／".join(path[2:]) if len(path) > 2 else ""
                rule = describe_rule(self.scheme, leaf)
                ws.write_string(r, 2, lv3, self.fmt("cell"))
                ws.write_string(r, 3, _num(leaf.points), self.fmt("cell_c"))
                ws.write_string(r, 4, rule, self.fmt("cell"))
                ws.set_row(r, max(_height(rule, widths[4]), _height(lv3, widths[2])))
                ws.write_string(r, 1, lv2, self.fmt("label_c"))
                r += 1
            # merge the 二级 cells of consecutive leaves under the same 二级 node
            self._merge_runs(ws, start, [n.path[1] if len(n.path) > 1 else "" for n in leaves], 1,
                             {c.name: c.points for c in lv.children})
            text = f"{lv.name}\n（{_num(lv.points)}分）"
            if r - start > 1:
                ws.merge_range(start, 0, r - 1, 0, text, self.fmt("label_c"))
            else:
                ws.write_string(start, 0, text, self.fmt("label_c"))
        ws.merge_range(r, 0, r, 2, "合计", self.fmt("block_c"))
        ws.write_string(r, 3, _num(self.scheme.total), self.fmt("block_c"))
        ws.write_blank(r, 4, None, self.fmt("block_c"))
        return r + 1

    def _merge_runs(self, ws: Worksheet, start: int, names: list[str], col: int,
                    points: Mapping[str, Decimal]) -> None:
        i = 0
        while i < len(names):
            j = i
            while j + 1 < len(names) and names[j + 1] == names[i]:
                j += 1
            name = names[i]
            text = f"{name}\n（{_num(points[name])}分）" if name in points else name
            if j > i:
                ws.merge_range(start + i, col, start + j, col, text, self.fmt("label_c"))
            else:
                ws.write_string(start + i, col, text, self.fmt("label_c"))
            i = j + 1

    # -- 基本信息, 收支情况 (label | input | note)
    def form_sheet(self, sheet: str, title: str, hint: str) -> None:
        ws = self.sheet(sheet, _WIDTHS[sheet])
        widths = _WIDTHS[sheet]
        self.heading(ws, 4, title, hint)
        for c, h in enumerate(("序号", "项目", "填写内容", "填写说明")):
            ws.write_string(2, c, h, self.fmt("head"))
        for i, it in enumerate(self.lay.rows[sheet]):
            r = _FIRST_ROW + i
            if it.kind == "section":
                ws.merge_range(r, 0, r, 3, it.text, self.fmt("block"))
                ws.set_row(r, 20)
            elif it.kind == "computed":
                self.computed_row(ws, r, it.computed)
            elif it.field:
                f = it.field
                ws.write_string(r, 0, it.number, self.fmt("label_c"))
                self.label(ws, r, 1, f)
                hint = _hint(f)
                ws.write_string(r, 3, hint, self.fmt("note"))
                self.input(ws, sheet, r, 2, f)
                lines = _TALL_FIELDS.get(f.key, 3 if f.kind == "longtext" else 1)
                ws.set_row(r, max(_height(self.values.get(f.key), widths[2], lines),
                                  _height(hint, widths[3] * 1.1), _height(_field_label(f), widths[1]), 20))

    def computed_row(self, ws: Worksheet, r: int, cid: str) -> None:
        c = _COMPUTED[cid]
        ws.write_blank(r, 0, None, self.fmt("label_c"))
        ws.write_string(r, 1, c.label, self.fmt("label"))
        ws.write_formula(r, 2, c.formula, self.fmt(c.style), self.cached(c))
        ws.write_string(r, 3, "根据上面填写的数据自动计算，仅供核对", self.fmt("note"))
        ws.set_row(r, 20)

    def cached(self, c: _Computed) -> Any:
        """The formula's result for the values written (Excel recalculates; other readers see this)."""
        v = {k: _float(self.values.get(k)) for k in c.names}
        given = any(_is_number(self.values.get(k)) for k in c.names)
        if c.kind == "sum":
            return round(sum(v.values()), 2) if given else ""
        if c.kind == "ratio":
            return v["staff_actual"] / v["staff_quota"] if v["staff_quota"] > 0 else ""
        if c.kind == "change":
            prev = v["sangong_budget_prev"]
            return (v["sangong_budget"] - prev) / prev if prev > 0 else ""
        if not given:
            return ""
        if c.kind == "budget_check":
            d = v["budget_initial"] + v["budget_added"] - v["income_fiscal"]
            return "一致" if abs(d) <= 0.005 else f"不一致：相差{d:.2f}万元"
        d = (v["carryover_start"] + v["income_fiscal"] + v["income_other"] - v["spend_basic"]
             - v["spend_project"] - v["balance_basic"] - v["balance_project"])
        return "平衡" if abs(d) <= 0.005 else f"不平衡：相差{d:.2f}万元"

    def label(self, ws: Worksheet, r: int, c: int, f: Field, note: str = "") -> None:
        text = _field_label(f)
        parts: list[Any] = []
        if f.required:
            parts += [self.fmt("star"), "* "]
        parts.append(text)
        if note:
            parts += [self.fmt("grey"), "\n" + note]
        if len(parts) > 1:
            ws.write_rich_string(r, c, *parts, self.fmt("label"))
        else:
            ws.write_string(r, c, text, self.fmt("label"))

    def input(self, ws: Worksheet, sheet: str, r: int, c: int, f: Field, last_col: int | None = None) -> None:
        style = _KIND_STYLE.get(f.kind, "in_text")
        value = self.values.get(f.key)
        if last_col is not None and last_col > c:
            msgs = self.marks.get((sheet, r, c))
            ws.merge_range(r, c, r, last_col, "", self.fmt(style, msgs is not None))
        self.put(ws, sheet, r, c, value, style)
        dv = _validation(f.kind, f.label, _hint(f), choices=f.choices, low=f.min, high=f.max)
        if dv:
            ws.data_validation(r, c, r, c, dv)
        cell = xl_rowcol_to_cell(r, c, row_abs=True, col_abs=True)
        if self.wb.define_name(f.key, f"='{sheet}'!{cell}") != 0:
            raise ValueError(f"字段名 {f.key} 不能用作 Excel 名称")

    # -- 评分表
    def scoring_sheet(self) -> None:
        sheet = F.SHEET_SCORING
        ws = self.sheet(sheet, _WIDTHS[sheet])
        widths = _WIDTHS[sheet]
        hint = (f"评分方案：{self.scheme.title}。以下指标需由本单位根据实际情况自评；其他指标由系统根据"
                "《收支情况》《绩效指标》等数据自动计分（评分标准见《填表说明》）。")
        self.heading(ws, 4, "评分表（自评项目）", hint)
        for c, h in enumerate(("序号", "评价内容", "分值", "自评填写")):
            ws.write_string(2, c, h, self.fmt("head"))
        if not self.lay.rows[sheet]:
            ws.merge_range(_FIRST_ROW, 0, _FIRST_ROW, 3, "本评分方案没有需要自评判断的指标，本表无需填写。", self.fmt("cell_c"))
            ws.set_row(_FIRST_ROW, 24)
        for i, it in enumerate(self.lay.rows[sheet]):
            r = _FIRST_ROW + i
            if it.kind == "block":
                ws.write_string(r, 0, it.number, self.fmt("block_c"))
                ws.write_string(r, 1, it.text, self.fmt("block"))
                ws.write_string(r, 2, it.points, self.fmt("block_c"))
                ws.write_blank(r, 3, None, self.fmt("block"))
                ws.set_row(r, _height(it.text, widths[1], 1) + 2)
            elif it.kind == "rule":
                ws.write_blank(r, 0, None, self.fmt("note"))
                ws.merge_range(r, 1, r, 3, it.text, self.fmt("note"))
                ws.set_row(r, _height(it.text, (widths[1] + widths[2] + widths[3]) * 1.1))
            elif it.field:
                f = it.field
                ws.write_string(r, 0, it.number, self.fmt("label_c"))
                note = f.note if not f.key.startswith(("chk_", "note_")) else ""
                self.label(ws, r, 1, f, note)
                ws.write_string(r, 2, it.points, self.fmt("label_c"))
                self.input(ws, sheet, r, 3, f)
                lines = 4 if f.kind == "longtext" else 1
                label_h = _height(_field_label(f), widths[1]) + (_height(note, widths[1] * 1.2) if note else 0)
                ws.set_row(r, max(_height(self.values.get(f.key), widths[3], lines), label_h, 20))

    # -- 绩效指标
    def indicators_sheet(self) -> None:
        t = F.PERF_INDICATORS
        sheet, hr, c0 = self.lay.tables[t.name]
        ws = self.sheet(sheet, [c.width for c in t.columns])
        ws.set_landscape()
        groups = "，".join(f"{g} {_num(p)}分" for g, p in self.scheme.indicator_groups.items())
        hint = (f"请逐行填写本单位年度绩效目标中的指标，每行一个。各一级指标的分值合计须为：{groups}。"
                "指标性质：≥（不低于）、≤（不高于）、=、区间（年度指标值填下限，指标值上限填上限）、定性"
                "（年度指标值填简短描述，实际完成值填 达成 / 部分达成 / 未达成）。"
                "计分方法：≥ 类完成值达到指标值得满分，未达到按 完成值÷指标值 计分；≤ 类不超过指标值得满分，超过按 "
                "指标值÷完成值 计分；= 类按偏离程度计分；区间类在区间内得满分；定性类按档次自评（达成 80%～100%、"
                "部分达成 60%～80%、未达成 0～60%，不填自评得分的分别按 100%、70%、30% 计）。"
                "得分低于分值的须填写偏差原因分析及改进措施。")
        self.heading(ws, len(t.columns), f"{self.title_prefix()}绩效指标", hint)
        ws.set_row(1, _height(hint, sum(c.width for c in t.columns)))
        ws.freeze_panes(hr + 1, 0)
        ws.repeat_rows(hr, hr)
        for r, h in self.table(ws, t, hr, c0).items():
            ws.set_row(r, h)

    def table(self, ws: Worksheet, t: Table, hr: int, c0: int) -> dict[int, float]:
        """Write table ``t`` with its header at (hr, c0); returns the data rows' wanted heights."""
        rows = list(self.tables.get(t.name) or ())
        n = max(t.rows, len(rows), self.mark_rows.get(t.name, 0))
        styles = [self.column_style(col) for col in t.columns]
        columns = [{"header": col.header, "header_format": self.fmt("head"), "format": self.fmt(s)}
                   for col, s in zip(t.columns, styles, strict=True)]
        ws.add_table(hr, c0, hr + n, c0 + len(t.columns) - 1, {
            "name": t.name, "columns": columns, "autofilter": False, "banded_rows": False,
            "style": "Table Style Light 1",
        })
        ws.set_row(hr, 30)
        for j, (col, style) in enumerate(zip(t.columns, styles, strict=True)):
            c = c0 + j
            for i in range(n):
                v = rows[i].get(col.key) if i < len(rows) else None
                self.put(ws, ws.name, hr + 1 + i, c, v, style)
            dv = self.column_validation(col)
            if dv:
                ws.data_validation(hr + 1, c, hr + n, c, dv)
        heights = {}
        blank_h = 32.0 if len(t.columns) == 1 else 20.0
        for i in range(n):
            h = blank_h
            if i < len(rows):
                for col in t.columns:
                    v = rows[i].get(col.key)
                    if v not in (None, ""):
                        h = max(h, _height(v, col.width))
            heights[hr + 1 + i] = h
        return heights

    def column_style(self, col: Column) -> str:
        if col.key in ("target", "target_max", "actual"):
            return "in_tabletext"
        if col.kind == "longtext" or col.key == "name":
            return "in_wrap"
        if col.kind == "choice" or col.key == "unit":
            return "in_center"
        if col.kind == "score":
            return "in_num"
        return "in_text"

    def column_validation(self, col: Column) -> dict[str, Any] | None:
        if col.key == "level1":
            return _validation("choice", col.header, "本方案的一级指标：" + "、".join(self.scheme.indicator_groups),
                               choices=tuple(self.scheme.indicator_groups))
        if col.key == "level2":
            names = [n for g in self.scheme.indicator_groups for n in F.LEVEL2_BY_LEVEL1.get(g, ())]
            return _validation("choice", col.header, "从下拉列表选择", choices=names) if names else None
        if col.key == "points":
            return _validation("score", col.header, "本行指标的分值", low=None)
        if col.key == "self_score":
            return _validation("score", col.header, col.note, low=0)
        return _validation(col.kind if col.choices else "text", col.header, col.note, choices=col.choices)

    # -- 绩效分析
    def analysis_sheet(self) -> None:
        sheet = F.SHEET_ANALYSIS
        ws = self.sheet(sheet, _WIDTHS[sheet])
        widths = _WIDTHS[sheet]
        self.heading(ws, 4, "绩效分析",
                     "可分段填写，段与段之间在单元格内按 Alt+Enter 换行；粘贴大段文字时请先双击单元格，"
                     "不要把文字粘贴到下方单元格。")
        ws.write_string(2, 0, "序号", self.fmt("head"))
        ws.write_string(2, 1, "项目", self.fmt("head"))
        ws.merge_range(2, 2, 2, 3, "填写内容", self.fmt("head"))
        input_w = widths[2] + widths[3]
        for i, it in enumerate(self.lay.rows[sheet]):
            r = _FIRST_ROW + i
            f = it.field
            assert f is not None
            ws.write_string(r, 0, it.number, self.fmt("label_c"))
            label_note = f.note if f.key not in ("duty_analysis",) else ""
            self.label(ws, r, 1, f, label_note)
            self.input(ws, sheet, r, 2, f, last_col=3)
            ws.set_row(r, max(_height(self.values.get(f.key), input_w, _TALL_FIELDS.get(f.key, 4)),
                              _height(_field_label(f) + "\n" + label_note, widths[1])))
        _, hr, c0 = self.lay.tables[F.PROBLEMS.name]
        ws.merge_range(hr - 1, 0, hr - 1, 3,
                       "存在的问题及后续工作计划（各至少填写一条，每行一条）", self.fmt("section"))
        ws.set_row(hr - 1, 24)
        heights = self.table(ws, F.PROBLEMS, hr, c0)
        _, hr2, c2 = self.lay.tables[F.PLANS.name]
        for r, h in self.table(ws, F.PLANS, hr2, c2).items():  # side by side: the taller row wins
            heights[r] = max(h, heights.get(r, 0.0))
        for r, h in heights.items():
            ws.set_row(r, h)

    # -- _meta
    def meta_sheet(self) -> None:
        ws = self.wb.add_worksheet(F.SHEET_META)
        entries: dict[str, Any] = {"template_id": F.TEMPLATE_ID, "template_version": F.TEMPLATE_VERSION,
                                   "scheme_id": self.scheme.id}
        if self.year is not None:  # the year the templates were handed out for (year_mismatch)
            entries["fiscal_year"] = self.year
        for k, v in self.meta.items():
            if v not in (None, "") and k not in entries:  # the template's own entries always win
                entries[k] = v
        ws.set_column(0, 0, 20)
        ws.set_column(1, 1, 30)
        for r, (k, v) in enumerate(entries.items()):
            ws.write_string(r, 0, k)
            if _is_number(v) and k != "unit_code":
                ws.write_number(r, 1, float(v))
            else:
                ws.write_string(r, 1, str(v))
        ws.protect("")
        ws.very_hidden()


# --------------------------------------------------------------------------- public API
def build_workbook_bytes(scheme: Scheme, *, year: int | None = None, values: Mapping[str, Any] | None = None,
                         tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                         meta: Mapping[str, Any] | None = None, marks: Mapping[str, Sequence[str]] | None = None,
                         problems: Sequence[Problem] = ()) -> bytes:
    """The standard workbook as .xlsx bytes (deterministic: same input → same bytes).

    ``values``: field key → value to prefill (str, number, date, bool or None), written as typed;
    keys the layout does not know are ignored. ``tables``: table name → rows (column key → value).
    ``meta``: extra ``_meta`` entries (e.g. unit_code). ``marks``: logical location → messages
    (``"spend_basic"``, ``"perf_indicators:3:actual"``, ``"perf_indicators:3"`` or ``"收支情况!C7"``);
    each marked cell is filled pink and gets a comment. ``problems``: listed on a first sheet 问题清单.
    """
    return _Writer(scheme, year=year, values=values or {}, tables=tables or {}, meta=meta or {},
                   marks=marks or {}, problems=tuple(problems)).build()


def write_workbook(scheme: Scheme, path: Path | str, *, year: int | None = None,
                   values: Mapping[str, Any] | None = None,
                   tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                   meta: Mapping[str, Any] | None = None, marks: Mapping[str, Sequence[str]] | None = None,
                   problems: Sequence[Problem] = ()) -> None:
    """Write ``build_workbook_bytes(...)`` to ``path`` atomically."""
    data = build_workbook_bytes(scheme, year=year, values=values, tables=tables, meta=meta, marks=marks,
                                problems=problems)
    atomic.write_bytes(Path(path), data)


def template_file_name(scheme: Scheme) -> str:
    """部门整体支出绩效自评填报表.xlsx, with the scheme id appended for other schemes."""
    if scheme.id == DEFAULT_SCHEME:
        return F.TEMPLATE_FILE_NAME
    stem = Path(F.TEMPLATE_FILE_NAME).stem
    return safe_file_name(f"{stem}_{scheme.id}") + ".xlsx"


def safe_file_name(name: str, max_len: int = 80) -> str:
    """A file name stem that is safe on Windows and cannot leave its folder (no extension added)."""
    return safe_file_stem(name, max_len)


# --------------------------------------------------------------------------- roster
class RosterError(ValueError):
    """A 单位名册 that cannot be used; the message (Chinese) names the file, row or column."""


_ROSTER_COLUMNS = {  # roster header (and accepted variants) → field key
    "unit_name": ("单位名称",),
    "unit_code": ("单位编码", "单位编码（预算编码）", "预算编码"),
    "region": ("所属地区", "地区"),
    "contact_name": ("联系人",),
    "contact_email": ("联系邮箱", "电子邮箱", "邮箱"),
}


def _cell_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime):
        return v.date().isoformat()
    return str(v).strip()


def read_roster(path: Path) -> list[dict[str, str]]:
    """Rows of a 单位名册 .xlsx as field key → text; RosterError when unusable."""
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_excel(path, engine="calamine", dtype=object, header=0)
    except Exception as e:  # noqa: BLE001 - any reading failure is the roster's problem
        raise RosterError(f"无法读取单位名册 {path.name}：{e}（请提供 .xlsx 格式的名册）") from None
    headers = {str(c).strip(): c for c in df.columns}
    col_of: dict[str, Any] = {}
    for key, names in _ROSTER_COLUMNS.items():
        for n in names:
            if n in headers:
                col_of[key] = headers[n]
                break
    if "unit_name" not in col_of:
        raise RosterError(f"单位名册 {path.name} 缺少“单位名称”列（第1行应为表头：单位名称、单位编码、所属地区、联系人、联系邮箱）")
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(df.itertuples(index=False), start=2):
        row = {key: _cell_text(rec[list(df.columns).index(col)]) for key, col in col_of.items()}
        if not any(row.values()):
            continue
        name = row["unit_name"]
        if not name:
            raise RosterError(f"单位名册 {path.name} 第{i}行的“单位名称”为空")
        file_key = safe_file_name(name).lower()
        if file_key in seen:
            raise RosterError(f"单位名册 {path.name} 第{i}行的单位“{name}”与第{seen[file_key]}行重复")
        seen[file_key] = i
        out.append(row)
    if not out:
        raise RosterError(f"单位名册 {path.name} 中没有任何单位")
    return out


def write_templates(scheme: Scheme, out_dir: Path, year: int | None = None,
                    roster: Path | None = None) -> list[Path]:
    """Write the blank template, or one prefilled copy per roster unit; returns the paths written."""
    out_dir = Path(out_dir)
    base = template_file_name(scheme)
    if roster is None:
        path = out_dir / base
        atomic.write_bytes(path, build_workbook_bytes(scheme, year=year))
        return [path]
    units = read_roster(roster)
    paths = []
    for u in units:
        values: dict[str, Any] = {k: v for k, v in u.items() if v}
        if year is not None:
            values["fiscal_year"] = year
        meta = {"unit_code": u["unit_code"]} if u.get("unit_code") else {}
        path = out_dir / f"{safe_file_name(u['unit_name'])}_{base}"
        atomic.write_bytes(path, build_workbook_bytes(scheme, year=year, values=values, meta=meta))
        paths.append(path)
    return paths
