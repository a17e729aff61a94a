"""The clerk's live score: the protected sheet 自评得分 and the live row scores beside 绩效指标.

Every leaf's cell is the formula its rule type writes (``RuleType.excel`` through
``toolkit.rules.excel.Excel``), clamped to [0, 分值] and rounded half-up to 2 decimals like the
scorer; subtotals are sums; the adjustments, 总分 (defined name ``live_total``) and 等级
(``live_grade``) follow. A rule without a faithful formula, or a cell holding what only the Python
reader reads, shows NA_TEXT (提交后由财政局计算) instead of a number. The tool never trusts these
cells: it scores in Python and warns when a workbook's cached 总分 differs (live_total_mismatch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from toolkit import fields as F
from toolkit.forms.computed import identity_cell
from toolkit.forms.layout import Layout
from toolkit.forms.styles import height
from toolkit.rules import inputs
from toolkit.rules.excel import LIVE_GRADE, LIVE_TOTAL, NA_TEXT, Excel, NotExpressible, TableCells, dec, quote
from toolkit.rules.model import Node, Scheme
from toolkit.rules.types.implied import IMPLIED_HELPERS, helper_formulas
from toolkit.rules.types.registry import TYPES
from toolkit.rules.types.table import excel_row, group_options
from toolkit.text.numbers import exact

SHEET = F.SHEET_LIVE
WIDTHS = (14, 16, 40, 8, 12, 36)
LIVE_HEADER = "得分（自动计算）"
TOTAL_NAME = LIVE_TOTAL
GRADE_NAME = LIVE_GRADE
FIRST = 3  # first content row (0-based): title, hint, headings above
GREEN = {"bg_color": "#C6EFCE", "font_color": "#006100"}
RED = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}

Fmt = Callable[[str], Format]


@dataclass(frozen=True)
class LiveLeaf:
    """A leaf's (or adjustment's) live formula; ``reason`` (Chinese) when it shows NA_TEXT always."""

    formula: str
    reason: str = ""


def indicator_cells(scheme: Scheme, lay: Layout, n_rows: int, below: int | None = None) -> TableCells:
    """Where the form's indicator table's data rows are, and the live column right of it; a table
    without 指标性质 (the project form) also gets its hidden helper columns right of that.
    ``below``: the rows under the table a clerk may type into (None: as many as a table may have)."""
    table = F.form(scheme.form).indicator_table
    t = lay.defs.get(table.name, table)
    sheet, hr, c0 = lay.tables[t.name]
    cols = {c.key: c0 + j for j, c in enumerate(t.columns)}
    live = c0 + len(t.columns)
    helpers = {} if "direction" in cols else {k: live + 1 + j for j, k in enumerate(IMPLIED_HELPERS)}
    return TableCells(sheet, hr + 1, n_rows, cols, live, helpers, below)


def node_cell(scheme: Scheme, node_id: str) -> str:
    """The absolute reference of a node's 得分 cell on the 自评得分 sheet (rows in ``write_sheet``'s order)."""
    order = [n.id for lv in scheme.levels for n in lv.walk()]
    return f"'{SHEET}'!{xl_rowcol_to_cell(FIRST + order.index(node_id), 4, row_abs=True, col_abs=True)}"


def translator(scheme: Scheme, cells: TableCells | None) -> Excel:
    return Excel(inputs.field_map(scheme), table=cells, qualitative=scheme.qualitative or {})


def leaf_formula(node: Node, x: Excel) -> LiveLeaf:
    """The leaf's live cell: its rule's raw score clamped and rounded, guarded; NA_TEXT with a reason."""
    assert node.rule is not None
    x = x.fork()
    try:
        raw = TYPES[node.rule.type].excel(node.rule, node, node.points, x)
    except NotExpressible as e:
        return LiveLeaf(f"={quote(NA_TEXT)}", e.reason)
    return LiveLeaf(x.finish(x.round2(raw, node.points)))


def not_expressible(scheme: Scheme) -> list[tuple[str, str]]:
    """(node path, reason) of every leaf and adjustment of ``scheme`` without a live formula."""
    x = translator(scheme, TableCells(F.SHEET_INDICATORS, 3, 1, {"level1": 0}, 1))
    nodes = [*scheme.leaves(), *(a.node for a in scheme.adjustments)]
    out = []
    for n in nodes:
        leaf = leaf_formula(n, x)
        if leaf.reason:
            out.append((" › ".join(n.path), leaf.reason))
    return out


# ---------------------------------------------------------------- 绩效指标: one live score per row
def write_row_scores(ws: Worksheet, fmt: Fmt, scheme: Scheme, cells: TableCells, header_row: int) -> None:
    opts = group_options(scheme)
    if not opts:
        return
    ws.set_column(cells.live_col, cells.live_col, 12)
    ws.write_string(header_row, cells.live_col, LIVE_HEADER, fmt("head"))
    for i in range(cells.n_rows):
        ws.write_formula(cells.first_row + i, cells.live_col,
                         excel_row(cells, i, opts, scheme.qualitative or {}), fmt("calc_money"), "")
    if not cells.helpers:
        return
    first, last = min(cells.helpers.values()), max(cells.helpers.values())
    ws.set_column(first, last, 10, None, {"hidden": True})
    for key, col in cells.helpers.items():
        ws.write_string(header_row, col, IMPLIED_HELPERS[key], fmt("head"))
    for i in range(cells.n_rows):
        for key, formula in helper_formulas(cells, i).items():
            ws.write_formula(cells.first_row + i, cells.helpers[key], formula, fmt("calc_text"), "")


# ---------------------------------------------------------------- the 自评得分 sheet
def write_sheet(ws: Worksheet, fmt: Fmt, scheme: Scheme, cells: TableCells, define: Callable[[str, str], None],
                add_format: Callable[[dict[str, str]], Format]) -> None:
    """Fill the (already created, protected) 自评得分 sheet; ``define(name, ref)`` adds a defined name,
    ``add_format`` makes the red/green formats of the checks."""
    x = translator(scheme, cells)
    ws.merge_range(0, 0, 0, 5, "自评得分（自动计算）", fmt("title"))
    ws.set_row(0, 30)
    hint = ("本表随填写自动计算，仅供核对；正式得分以财政局计算为准。显示“提交后由财政局计算”的，是公式无法可靠"
            "读取的填写内容（如数字写成了文字）或规则，提交后由财政局按评分方案计算。")
    ws.merge_range(1, 0, 1, 5, hint, fmt("hint"))
    ws.set_row(1, 42)
    ws.repeat_rows(0, 2)
    for c, h in enumerate(("一级指标", "二级指标", "三级指标", "分值", "得分", "说明")):
        ws.write_string(2, c, h, fmt("head"))
    r = FIRST
    level_cells: list[str] = []
    for lv in scheme.levels:
        cell, r = _node(ws, fmt, x, lv, r)
        level_cells.append(cell)
    base = _sum_cell(level_cells)
    ws.merge_range(r, 0, r, 2, "指标得分合计", fmt("block"))
    ws.write_number(r, 3, float(scheme.total), fmt("block_c"))
    ws.write_formula(r, 4, base, fmt("calc_money"), "")
    ws.write_blank(r, 5, None, fmt("note"))
    base_cell = xl_rowcol_to_cell(r, 4)
    r += 1
    total = f"={base_cell}"
    if scheme.adjustments:
        terms = []
        for adj in scheme.adjustments:
            kind = "加分" if adj.kind == "bonus" else "扣分"
            leaf = leaf_formula(adj.node, x)
            got = leaf.formula[1:]
            amount = got if adj.kind == "bonus" else f"IF(ISNUMBER({got}),{dec(adj.node.points)}-{got},{got})"
            ws.merge_range(r, 0, r, 2, f"{kind}：{adj.node.name}", fmt("label"))
            ws.write_number(r, 3, float(adj.node.points), fmt("label_c"))
            ws.write_formula(r, 4, "=" + amount, fmt("calc_money"), "")
            ws.write_string(r, 5, leaf.reason, fmt("note"))
            terms.append(("+" if adj.kind == "bonus" else "-") + xl_rowcol_to_cell(r, 4))
            r += 1
        cells_ = [base_cell] + [t[1:] for t in terms]
        checks = ",".join(f"NOT(ISNUMBER({c}))" for c in cells_)
        total = (f"=IF(OR({checks}),{quote(NA_TEXT)},MAX(0,MIN({dec(scheme.total_cap)},"
                 f"{base_cell}{''.join(terms)})))")
    ws.merge_range(r, 0, r, 2, "总分", fmt("block"))
    ws.write_number(r, 3, float(scheme.total_cap if scheme.adjustments else scheme.total), fmt("block_c"))
    ws.write_formula(r, 4, total, fmt("calc_money"), "")
    ws.write_blank(r, 5, None, fmt("note"))
    total_cell = xl_rowcol_to_cell(r, 4, row_abs=True, col_abs=True)
    define(TOTAL_NAME, f"='{SHEET}'!{total_cell}")
    r += 1
    grade = f"{quote(scheme.grades[-1].name)}"
    for g in reversed(scheme.grades[:-1]):
        grade = f"IF({total_cell}>={dec(g.min)},{quote(g.name)},{grade})"
    ws.merge_range(r, 0, r, 2, "等级", fmt("block"))
    ws.write_blank(r, 3, None, fmt("block_c"))
    ws.write_formula(r, 4, f"=IF(ISNUMBER({total_cell}),{grade},{quote(NA_TEXT)})", fmt("calc_text"), "")
    ws.write_string(r, 5, "、".join(f"{g.name} ≥{exact(g.min)}" for g in scheme.grades[:-1])
                    + f"、{scheme.grades[-1].name} 其余", fmt("note"))
    define(GRADE_NAME, f"='{SHEET}'!{xl_rowcol_to_cell(r, 4, row_abs=True, col_abs=True)}")
    r += 2
    _checks(ws, fmt, scheme, cells, r, add_format)


def _node(ws: Worksheet, fmt: Fmt, x: Excel, node: Node, r: int) -> tuple[str, int]:
    """Write ``node`` (and its subtree) from row r → (its score cell, the next free row)."""
    col = min(max(node.level - 1, 0), 2)
    row = r
    style = "block" if not node.is_leaf else "label"
    for c in range(3):
        if c == col:
            ws.write_string(row, c, node.name, fmt(style))
        else:
            ws.write_blank(row, c, None, fmt(style))
    ws.write_number(row, 3, float(node.points), fmt("block_c" if not node.is_leaf else "label_c"))
    ws.set_row(row, max(height(node.name, WIDTHS[col]), 18))
    cell = xl_rowcol_to_cell(row, 4)
    r += 1
    if node.is_leaf:
        leaf = leaf_formula(node, x)
        ws.write_formula(row, 4, leaf.formula, fmt("calc_money"), "")
        ws.write_string(row, 5, leaf.reason, fmt("note"))
        return cell, r
    kids = []
    for k in node.children:
        kc, r = _node(ws, fmt, x, k, r)
        kids.append(kc)
    ws.write_formula(row, 4, _sum_cell(kids), fmt("calc_money"), "")
    ws.write_blank(row, 5, None, fmt("note"))
    return cell, r


def _sum_cell(cells: list[str]) -> str:
    checks = ",".join(f"NOT(ISNUMBER({c}))" for c in cells)
    return f"=IF(OR({checks}),{quote(NA_TEXT)},{'+'.join(cells)})"


def _checks(ws: Worksheet, fmt: Fmt, scheme: Scheme, cells: TableCells, r: int,
            add_format: Callable[[dict[str, str]], Format]) -> None:
    ws.merge_range(r, 0, r, 5, "自动校验（绿色为通过，红色须核对）", fmt("section"))
    r += 1
    first = r
    for label, formula in _check_formulas(scheme, cells):
        ws.merge_range(r, 0, r, 2, label, fmt("label"))
        ws.merge_range(r, 3, r, 5, "", fmt("calc_text"))
        ws.write_formula(r, 3, formula, fmt("calc_text"), "")
        r += 1
    if r > first:
        rng = f"D{first + 1}:D{r}"
        for good in ("平衡", "相符"):
            ws.conditional_format(rng, {"type": "text", "criteria": "begins with", "value": good,
                                        "format": add_format(GREEN)})
        ws.conditional_format(rng, {"type": "text", "criteria": "begins with", "value": "不",
                                    "format": add_format(RED)})


def _check_formulas(scheme: Scheme, cells: TableCells) -> Iterator[tuple[str, str]]:
    for check in scheme.checks:
        if check.sides is None or check.sides[1] != "==":
            continue
        try:
            c = identity_cell(check)
        except (ValueError, KeyError):
            continue
        name = "收支平衡" if check.id == "budget_identity" else (check.message.split("，")[0][:20] or check.id)
        if scheme.form == F.PROJECT.name and "{" in check.message:  # “年初预算数”列：年度资金总额 {left}万元，…
            name = check.message.split("{")[0].strip() + " = 各来源之和"
        yield name, c.formula
    if "level1" in cells.cols and "points" in cells.cols:
        for group, pts in scheme.indicator_groups.items():
            got = (f"SUMIF({cells.column('level1')},{quote(group)},{cells.column('points')})" if group
                   else f"SUM({cells.column('points')})")  # one table without groups (四川: 绩效指标 90)
            yield (f"绩效指标“{group}”分值合计" if group else "绩效指标分值合计",
                   f'=IF(ABS({got}-{dec(pts)})<=0.005,"相符：{exact(pts)}分","不符：合计"&{got}&"分，应为{exact(pts)}分")')


__all__ = ["GRADE_NAME", "SHEET", "TOTAL_NAME", "LiveLeaf", "indicator_cells", "leaf_formula", "node_cell",
           "not_expressible", "translator", "write_row_scores", "write_sheet"]
