"""The appendix 部门整体支出绩效自评表 as table models (cells with spans and vertical merges).

Two tables share the 156 mm text width: the unit's overview (unit, year, money, 年度总体目标) and
the indicators (every scheme leaf and every perf_indicators row, with a 总分 row) whose column
header row repeats on each page. ``writer.py`` turns them into WordprocessingML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from toolkit.model import NodeScore, Scorecard, Submission
from toolkit.rules.model import Node, Rule, Scheme
from toolkit.rules.types.adjust import ADJUSTMENT_PATH, AdjustedScorecard
from toolkit.rules.types.registry import rule_type
from toolkit.text.numbers import num, pct, points
from toolkit.write.report import layout
from toolkit.write.report.narrative import (
    budget_full,
    execution_rate,
    fill,
    indicator_actual,
    indicator_basis,
    indicator_target,
)
from toolkit.write.report.prose import clean_text


@dataclass(frozen=True)
class Cell:
    text: str
    span: int = 1  # grid columns covered
    merge: str | None = None  # "restart" | "continue": vertical merge with the cells below/above
    align: str = "center"  # "center" | "left"
    head: bool = False  # column header text (表格表头 style)


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    header: bool = False  # repeat at the top of each page
    cant_split: bool = True


@dataclass(frozen=True)
class Table:
    widths: tuple[int, ...]  # twips, summing to the text width
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Appendix:
    attachment: str  # 附件：部门整体支出绩效自评表
    tables: tuple[Table, ...]


def fit_widths(mm: tuple[float, ...]) -> tuple[int, ...]:
    """Millimetre widths → twips summing exactly to 156 mm (the last column takes the rounding)."""
    total = layout.mm(sum(mm))
    tw = [layout.mm(x) for x in mm[:-1]]
    return (*tw, total - sum(tw))


# Table text is 五号 (10.5 pt): a Chinese character is 3.7 mm, a digit up to 2.4 mm in the fallback
# fonts of machines without Times New Roman, and each cell loses 2 mm to its margins. Number
# columns hold “76.43” on one line, 年度指标值 / 实际完成值 “≥3000人次”; 一级 / 二级指标 hold
# four characters a line and 偏差原因分析及改进措施 seven.
OVERVIEW_MM = (26.0, 22.0, 22.0, 22.0, 20.0, 22.0, 22.0)
INDICATORS_MM = (17.0, 17.0, 21.0, 23.0, 23.0, 11.0, 14.0, 30.0)
DASH = "—"


def rule_target(rule: Rule | None, by: str | None = None) -> str:
    """年度指标值 of a scheme indicator, from its rule when the wording does not give one."""
    if rule is None:
        return DASH
    return rule_type(rule.type).target(rule, by)


def adjustment_lines(scheme: Scheme, card: AdjustedScorecard) -> list[tuple[str, str, str, str, str, str, str, str]]:
    """One appendix row per adjustment: 加减分 | 名称 | 年度指标值 | 实际完成值 | 最多加/扣 | ±得分."""
    nodes = {a.node.id: a.node for a in scheme.adjustments}
    out = []
    for a in card.adjustments:
        node = nodes[a.id]
        sign = "+" if a.facts.get("kind") == "bonus" else "−"
        word = "加" if a.facts.get("kind") == "bonus" else "扣"
        target = str(node.wording.get("target") or rule_target(node.rule, a.facts.get("by")))
        out.append((ADJUSTMENT_PATH, "", a.name, target, leaf_actual(node, a, {}),
                    f"最多{word}{points(a.points)}", f"{sign}{points(a.score)}" if a.score else points(a.score), ""))
    return out


def leaf_actual(node: Node, ns: NodeScore, tbl: Mapping[str, Any]) -> str:
    f = ns.facts
    case = f.get("case")
    if case == "not_applicable" or (case == "zero_denominator" and ns.value is None):
        return str(node.wording.get("table_not_applicable") or tbl.get("not_applicable", DASH))
    rule = node.rule
    own = rule_type(rule.type).actual(ns, tbl, fill) if rule is not None else None
    if own is not None:
        return own
    if f.get("tier"):
        return str(f["tier"])
    if f.get("choice"):
        return str(f["choice"])
    if ns.value is not None:
        return pct(ns.value)
    return DASH


def overview_table(scheme: Scheme, sub: Submission, card: Scorecard, tbl: Mapping[str, Any]) -> Table:
    m = sub.money
    start = m("carryover_start") + m("budget_initial")
    full = budget_full(sub)
    rate = execution_rate(sub)
    spent = m("spend_basic") + m("spend_project")
    exe_id = scheme.report.get("execution_indicator")
    exe = card.node(str(exe_id)) if exe_id else None
    labels: Mapping[str, str] = tbl.get("labels") or {}

    def lab(key: str) -> str:
        return str(labels.get(key, key))

    def plain_money(x: Decimal) -> str:  # the label says 万元
        return num(x)

    rows = [
        Row((Cell(lab("unit")), Cell(sub.unit_name, span=3), Cell(lab("year")),
             Cell(fill(tbl.get("year_value", "{fiscal_year}"), {"fiscal_year": str(sub.fiscal_year or "")}),
                  span=2))),
        Row((Cell(lab("money"), merge="restart"), Cell(lab("budget_start"), head=True),
             Cell(lab("budget_full"), head=True), Cell(lab("spent"), head=True), Cell(lab("points"), head=True),
             Cell(lab("rate"), head=True), Cell(lab("score"), head=True))),
        Row((Cell("", merge="continue"), Cell(plain_money(start)), Cell(plain_money(full)),
             Cell(plain_money(spent)), Cell(points(exe.points) if exe else DASH),
             Cell(pct(rate) if rate is not None else DASH), Cell(points(exe.score) if exe else DASH))),
        Row((Cell(lab("goal"), merge="restart"), Cell(lab("goal_expected"), span=3, head=True),
             Cell(lab("goal_actual"), span=3, head=True))),
        Row((Cell("", merge="continue"),
             Cell(clean_text(sub.get("goal_expected")) or DASH, span=3, align="left"),
             Cell(clean_text(sub.get("goal_actual")) or DASH, span=3, align="left")), cant_split=False),
    ]
    return Table(fit_widths(OVERVIEW_MM), tuple(rows))


# Columns of the indicator table: the key a scheme's outline may name (or its Chinese header), and
# its width in mm before the columns are scaled to the 156 mm text width.
COLUMNS = ("level1", "level2", "level3", "target", "actual", "points", "score", "deviation")
COLUMN_NAMES = {"一级指标": "level1", "二级指标": "level2", "三级指标": "level3", "年度指标值": "target",
                "实际完成值": "actual", "分值": "points", "得分": "score", "偏差原因分析及改进措施": "deviation",
                "评价标准": "criterion", "指标说明": "criterion", "扣分原因": "reason"}
COLUMN_MM = dict(zip(COLUMNS, INDICATORS_MM, strict=True)) | {"criterion": 52.0, "reason": 28.0}
HEADERS = {key: name for name, key in reversed(COLUMN_NAMES.items())}  # key → its first Chinese name
_LEFT = frozenset({"level3", "deviation", "criterion", "reason"})


def column_key(name: str) -> str | None:
    """``评价标准`` or ``criterion`` → ``criterion``; None for a column the table does not have."""
    key = COLUMN_NAMES.get(name, name)
    return key if key in COLUMN_MM else None


def _scaled(mm: tuple[float, ...]) -> tuple[int, ...]:
    total = sum(mm)
    if total == sum(INDICATORS_MM):
        return fit_widths(mm)
    return fit_widths(tuple(x * sum(INDICATORS_MM) / total for x in mm)) if total else ()


def _deducted(p: Decimal, s: Decimal, note: str) -> str:
    """扣分原因: the clerk's note, else the points lost."""
    return note if note or s >= p else f"扣{points(p - s)}分"


def _lines(scheme: Scheme, card: Scorecard, tbl: Mapping[str, Any],
           criterion: Callable[[Node], str] | None) -> list[dict[str, str]]:
    """One dict per table row (every leaf, every perf_indicators row, every adjustment)."""
    report = scheme.report
    lines: list[dict[str, str]] = []
    nodes = {n.id: n for n in scheme.nodes()}
    for leaf in card.leaves():
        node = nodes.get(leaf.id)
        if node is None:
            continue
        path = leaf.path
        l1 = path[0] if path else ""
        l2 = path[1] if len(path) > 2 else ""
        if node.rule is not None and rule_type(node.rule.type).block and leaf.rows:
            for rs in leaf.rows:
                v = rs.row.values
                # the group is itself a 一级指标 (mof-2020: 产出指标 → 数量指标 → row) or sits deeper
                # in the scheme (jianghua-2023: 产出及效率 → … → 产出指标 → row)
                r1, r2 = ((l1, clean_text(v.get("level2"))) if l1 == clean_text(v.get("level1"))
                          else (l1, leaf.name))
                note = clean_text(v.get("deviation_note")) if rs.score < rs.points else ""
                basis = indicator_basis(rs, report, leaf.facts)
                target = indicator_target(rs, report, leaf.facts)
                lines.append(dict(zip(COLUMNS, (r1, r2, clean_text(v.get("name")), target,
                                                indicator_actual(rs), points(rs.points), points(rs.score),
                                                "；".join(x for x in (basis, note) if x)), strict=True),
                                  criterion=target, reason=_deducted(rs.points, rs.score, note)))
            continue
        target = str(node.wording.get("target") or rule_target(node.rule, leaf.facts.get("by")))
        note = clean_text(leaf.facts.get("note")) if leaf.score < leaf.points else ""
        lines.append(dict(zip(COLUMNS, (l1, l2, leaf.name, target, leaf_actual(node, leaf, tbl),
                                        points(leaf.points), points(leaf.score), note), strict=True),
                          criterion=(criterion(node) if criterion else "") or target,
                          reason=_deducted(leaf.points, leaf.score, note)))
    if isinstance(card, AdjustedScorecard):
        for line in adjustment_lines(scheme, card):
            lines.append(dict(zip(COLUMNS, line, strict=True), criterion=line[3], reason=""))
    return lines


def indicator_table(scheme: Scheme, card: Scorecard, tbl: Mapping[str, Any],
                    columns: tuple[tuple[str, str], ...] | None = None,
                    criterion: Callable[[Node], str] | None = None) -> Table:
    """The indicator table; ``columns``: (key, header) pairs (default: the 8 of the 自评表),
    ``criterion``: 评价标准 of a scheme leaf (its rule in words)."""
    labels: Mapping[str, str] = tbl.get("labels") or {}
    cols = columns or tuple((h, str(labels.get(h, h))) for h in COLUMNS)
    keys = [k for k, _ in cols]
    lines = [tuple(line[k] for k in keys) for line in _lines(scheme, card, tbl, criterion)]
    merged = [i for i, k in enumerate(keys) if k in ("level1", "level2") and i == keys.index(k)][:2]
    merged = merged if merged == list(range(len(merged))) else []  # only leading 一级 / 二级 columns
    rows = [Row(tuple(Cell(h, head=True) for _, h in cols), header=True)]
    for i, line in enumerate(lines):
        cells = []
        for col, key in enumerate(keys):
            if col in merged:  # merge equal 一级 (and, within them, 二级) names down the column
                same = (i > 0 and all(lines[i - 1][c] == line[c] for c in range(col + 1)) and line[col] != "")
                nxt = (i + 1 < len(lines) and all(lines[i + 1][c] == line[c] for c in range(col + 1))
                       and line[col] != "")
                merge = "continue" if same else ("restart" if nxt else None)
                cells.append(Cell("" if same else line[col], merge=merge))
            else:
                cells.append(Cell(line[col], align="left" if key in _LEFT else "center"))
        rows.append(Row(tuple(cells)))
    rows.append(_total_row(scheme, card, tbl, keys))
    return Table(_scaled(tuple(COLUMN_MM[k] for k in keys)), tuple(rows))


def _total_row(scheme: Scheme, card: Scorecard, tbl: Mapping[str, Any], keys: list[str]) -> Row:
    """总分 across the columns before 分值 / 得分, the totals under them, the grade in the last column."""
    labels: Mapping[str, str] = tbl.get("labels") or {}
    first = next((i for i, k in enumerate(keys) if k in ("points", "score")), len(keys) - 1)
    cells = [Cell(str(labels.get("total", "总分")), span=max(first, 1), head=True)]
    for i in range(max(first, 1), len(keys)):
        k = keys[i]
        if k == "points":
            cells.append(Cell(points(scheme.total)))
        elif k == "score":
            cells.append(Cell(points(card.total)))
        elif i == len(keys) - 1:
            cells.append(Cell(fill(tbl.get("grade", "{grade}"), {"grade": card.grade}), align="left"))
        else:
            cells.append(Cell(""))
    return Row(tuple(cells))


def appendix(scheme: Scheme, sub: Submission, card: Scorecard, ctx: Mapping[str, str]) -> Appendix:
    r = scheme.report
    tbl: Mapping[str, Any] = r.get("table") or {}
    return Appendix(
        attachment=fill(r.get("attachment_title"), ctx),
        tables=(overview_table(scheme, sub, card, tbl), indicator_table(scheme, card, tbl)),
    )
