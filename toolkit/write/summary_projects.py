"""The sheet 项目汇总 of 汇总表.xlsx: one row per 项目支出绩效自评表 of the run (spec 06, Outputs).

Rows are ordered by 实施单位, then 得分 descending (projects without a score last, then by file);
the last line sums the budget and the spending of the valid projects, their 执行率 (Σ执行数 / Σ预算数)
and mean score. The project workbooks never enter the department ranking or its statistics; this
sheet exists only when the run has project workbooks. Written top to bottom (constant_memory), one
unit fetched at a time, with the cell helpers and print setup of the other sheets.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from toolkit.results import UnitResult
from toolkit.text.numbers import round2, to_decimal
from toolkit.write.summary_data import ProjectRecord, Tally, status_label
from toolkit.write.summary_sheets import (
    REPORT_LINK_TEXT,
    RETURNED_LINK_TEXT,
    Formats,
    _fit,
    _fit_height,
    _header_row,
    _link,
    _number,
    _print_setup,
    _set_widths,
    _text,
    _title,
    put_str,
)

SHEET_PROJECTS = "项目汇总"
HEADERS = ("序号", "主管部门", "实施单位", "项目名称", "项目编码", "全年预算数（万元）", "全年执行数（万元）",
           "执行率", "得分", "等级", "状态", "报告")
TOTAL_LABEL = "合计 / 平均（合格项目）"


def project_order(records: Sequence[ProjectRecord]) -> list[ProjectRecord]:
    """By 实施单位 (units without a name last), then 得分 descending (no score last), then file."""
    def key(r: ProjectRecord) -> tuple[Any, ...]:
        name = r.unit_name
        return (name is None or name == "", str(name or ""), r.total is None, -(r.total or Decimal(0)),
                str(r.file or ""))
    return sorted(records, key=key)


def _amount(v: Any) -> Decimal | None:
    d = to_decimal(v)
    return d if d is not None and d.is_finite() else None


def projects_sheet(wb: xlsxwriter.Workbook, ws: Worksheet, fmt: Formats, units: Sequence[UnitResult],
                   tally: Tally) -> None:
    """Write 项目汇总 (call only when ``tally.projects.records`` is not empty)."""
    rows = project_order(tally.projects.records)
    money = wb.add_format({"border": 1, "valign": "vcenter", "num_format": "#,##0.00"})
    pct = wb.add_format({"border": 1, "valign": "vcenter", "align": "center", "num_format": "0.00%"})
    last = len(HEADERS) - 1
    widths: list[float] = [5, 18, _fit((r.unit_name for r in rows), "实施单位", 16, 30), 30, 16, 12, 12,
                           9, 8, 6, 9, 11]
    _set_widths(ws, widths)
    years = {int(y) for y in tally.years}
    _title(ws, 0, last, (f"{next(iter(years))}年度" if len(years) == 1 else "") + "项目支出绩效自评汇总表",
           fmt.title)
    hr = 1
    _fit_height(ws, hr, zip(HEADERS, widths, strict=True), min_lines=2)
    _header_row(ws, hr, HEADERS, fmt.header)

    full_sum = spent_sum = Decimal(0)
    rate_full = rate_spent = Decimal(0)  # over the valid projects with both amounts
    scores: list[Decimal] = []
    r = hr
    for i, rec in enumerate(rows, start=1):
        r = hr + i
        u = units[rec.index]
        x = u.extra
        full, spent = _amount(x.get("fund_full")), _amount(x.get("fund_spent"))
        rate = x.get("execution_rate")
        ws.write_number(r, 0, i, fmt.int)
        _text(ws, r, 1, x.get("dept_name"), fmt.text)
        _text(ws, r, 2, u.unit_name, fmt.text)
        _text(ws, r, 3, x.get("project_name") or u.file, fmt.text)
        _text(ws, r, 4, x.get("project_code"), fmt.center)
        _number(ws, r, 5, full, money, fmt.center)
        _number(ws, r, 6, spent, money, fmt.center)
        _number(ws, r, 7, rate, pct, fmt.center)
        _number(ws, r, 8, u.total, fmt.score, fmt.center)
        _text(ws, r, 9, u.grade, fmt.center)
        _text(ws, r, 10, status_label(u.status), fmt.center if u.status == "ok" else fmt.bad)
        if u.status == "ok" and u.report:
            _link(ws, r, 11, str(u.report), REPORT_LINK_TEXT, fmt)
        elif u.returned:
            _link(ws, r, 11, str(u.returned), RETURNED_LINK_TEXT, fmt)
        else:
            ws.write_blank(r, 11, None, fmt.text)
        _fit_height(ws, r, ((x.get("dept_name"), widths[1]), (u.unit_name, widths[2]),
                            (x.get("project_name") or u.file, widths[3]), (x.get("project_code"), widths[4])))
        if u.status == "ok":
            full_sum += full or 0
            spent_sum += spent or 0
            if full is not None and spent is not None:
                rate_full, rate_spent = rate_full + full, rate_spent + spent
            if rec.total is not None:
                scores.append(rec.total)
        del u, x
    table_end = r
    r += 1
    ws.merge_range(r, 0, r, 4, "", fmt.header)
    put_str(ws, r, 0, TOTAL_LABEL, fmt.header)
    ws.write_number(r, 5, float(round2(full_sum)), money)
    ws.write_number(r, 6, float(round2(spent_sum)), money)
    if rate_full > 0:
        ws.write_number(r, 7, float(round2(rate_spent / rate_full * 100) / 100), pct)
    else:
        ws.write_blank(r, 7, None, pct)
    if scores:
        ws.write_number(r, 8, float(round2(sum(scores, Decimal(0)) / len(scores))), fmt.score)
    else:
        ws.write_blank(r, 8, None, fmt.score)
    for c in range(9, last + 1):
        ws.write_blank(r, c, None, fmt.text)
    ws.freeze_panes(hr + 1, 0)
    ws.autofilter(hr, 0, table_end, last)
    _print_setup(ws, hr, hr)
