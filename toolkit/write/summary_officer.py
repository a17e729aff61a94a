"""The 汇总表 sheets that come from the officer's own data (spec 07): 未报送 (``run --roster``) and
比上年 (``run --previous``: 上年得分 / 变化 / 排名变化 of every ranked unit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from xlsxwriter.worksheet import Worksheet

from toolkit.results import UnitResult
from toolkit.write import summary_sheets as sheets
from toolkit.write.summary_data import RankedUnit, score_key

SHEET_MISSING = "未报送"
SHEET_PREVIOUS = "比上年"


def missing_sheet(ws: Worksheet, fmt: sheets.Formats, missing: Sequence[Mapping[str, Any]]) -> None:
    headers = ["序号", "单位", "编码", "联系人", "联系邮箱"]
    widths = [5, 30, 10, 10, 28]
    sheets._set_widths(ws, widths)
    sheets._title(ws, 0, len(headers) - 1, f"未报送单位（{len(missing)} 个）", fmt.title)
    sheets._header_row(ws, 1, headers, fmt.header)
    for i, m in enumerate(missing, start=1):
        ws.write_number(1 + i, 0, i, fmt.int)
        for c, key in enumerate(("unit_name", "unit_code", "contact_name", "contact_email"), start=1):
            sheets._text(ws, 1 + i, c, m.get(key), fmt.text if c in (1, 4) else fmt.center)
    sheets._print_setup(ws, 1, 1, landscape=False)


def competition_ranks(values: Mapping[int, Decimal]) -> dict[int, int]:
    """key → rank (1, 2, 2, 4) by value descending."""
    ordered = sorted(values.values(), reverse=True)
    return {k: ordered.index(v) + 1 for k, v in values.items()}


def previous_sheet(ws: Worksheet, fmt: sheets.Formats, units: Sequence[UnitResult],
                   rows: Sequence[RankedUnit]) -> None:
    """One row per ranked unit: 得分, 上年得分, 变化, 排名, 上年排名, 排名变化 (up is positive)."""
    headers = ["排名", "单位", "编码", "得分", "上年得分", "变化", "上年排名", "排名变化"]
    sheets._set_widths(ws, [6, 30, 10, 9, 9, 9, 9, 9])
    sheets._title(ws, 0, len(headers) - 1, "与上年比较", fmt.title)
    sheets._header_row(ws, 1, headers, fmt.header)
    ranked = [ru for ru in rows if ru.rank is not None]
    before: dict[int, Decimal] = {}
    for ru in ranked:
        prev = score_key(units[ru.index].extra.get("previous_total"))
        if prev is not None:
            before[ru.index] = prev
    prev_rank = competition_ranks(before)
    for i, ru in enumerate(ranked, start=1):
        u = units[ru.index]
        r = 1 + i
        ws.write_number(r, 0, ru.rank or 0, fmt.int)
        sheets._text(ws, r, 1, u.unit_name, fmt.text)
        sheets._text(ws, r, 2, u.unit_code, fmt.center)
        sheets._number(ws, r, 3, u.total, fmt.score, fmt.center)
        prev = before.get(ru.index)
        if prev is None or ru.total is None:
            for c in range(4, 8):
                ws.write_blank(r, c, None, fmt.center)
            continue
        ws.write_number(r, 4, float(prev), fmt.score)
        ws.write_number(r, 5, float(ru.total - prev), fmt.score)
        ws.write_number(r, 6, prev_rank[ru.index], fmt.int)
        ws.write_number(r, 7, prev_rank[ru.index] - (ru.rank or 0), fmt.int)
    sheets._print_setup(ws, 1, 1, landscape=False)
