"""The appendix 部门整体支出绩效自评表 as table models (cells with spans and vertical merges).

Two tables share the 156 mm text width: the unit's overview (unit, year, money, 年度总体目标) and
the indicators (every scheme leaf and every perf_indicators row, with a 总分 row) whose column
header row repeats on each page. ``writer.py`` turns them into WordprocessingML.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def _widths(mm: tuple[float, ...]) -> tuple[int, ...]:
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


def _overview(scheme: Scheme, sub: Submission, card: Scorecard, tbl: Mapping[str, Any]) -> Table:
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
    return Table(_widths(OVERVIEW_MM), tuple(rows))


def _indicators(scheme: Scheme, card: Scorecard, tbl: Mapping[str, Any]) -> Table:
    report = scheme.report
    labels: Mapping[str, str] = tbl.get("labels") or {}
    head = ("level1", "level2", "level3", "target", "actual", "points", "score", "deviation")
    lines: list[tuple[str, str, str, str, str, str, str, str]] = []
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
                lines.append((r1, r2, clean_text(v.get("name")), indicator_target(rs, report, leaf.facts),
                              indicator_actual(rs), points(rs.points), points(rs.score),
                              "；".join(x for x in (basis, note) if x)))
            continue
        target = str(node.wording.get("target") or rule_target(node.rule, leaf.facts.get("by")))
        note = clean_text(leaf.facts.get("note")) if leaf.score < leaf.points else ""
        lines.append((l1, l2, leaf.name, target, leaf_actual(node, leaf, tbl), points(leaf.points),
                      points(leaf.score), note))

    if isinstance(card, AdjustedScorecard):
        lines += adjustment_lines(scheme, card)
    rows = [Row(tuple(Cell(str(labels.get(h, h)), head=True) for h in head), header=True)]
    for i, line in enumerate(lines):
        cells = []
        for col in (0, 1):  # merge equal 一级 (and, within them, 二级) names down the column
            same = i > 0 and all(lines[i - 1][c] == line[c] for c in range(col + 1)) and line[col] != ""
            nxt = i + 1 < len(lines) and all(lines[i + 1][c] == line[c] for c in range(col + 1)) and line[col] != ""
            merge = "continue" if same else ("restart" if nxt else None)
            cells.append(Cell("" if same else line[col], merge=merge))
        cells.append(Cell(line[2], align="left"))
        cells += [Cell(line[3]), Cell(line[4]), Cell(line[5]), Cell(line[6]), Cell(line[7], align="left")]
        rows.append(Row(tuple(cells)))
    rows.append(Row((Cell(str(labels.get("total", "总分")), span=5, head=True), Cell(points(scheme.total)),
                     Cell(points(card.total)),
                     Cell(fill(tbl.get("grade", "{grade}"), {"grade": card.grade}), align="left"))))
    return Table(_widths(INDICATORS_MM), tuple(rows))


def appendix(scheme: Scheme, sub: Submission, card: Scorecard, ctx: Mapping[str, str]) -> Appendix:
    r = scheme.report
    tbl: Mapping[str, Any] = r.get("table") or {}
    return Appendix(
        attachment=fill(r.get("attachment_title"), ctx),
        tables=(_overview(scheme, sub, card, tbl), _indicators(scheme, card, tbl)),
    )
