"""The four sheets of 汇总表.xlsx, written cell by cell, strictly top to bottom (constant_memory).

- 汇总     one row per workbook, ranked; links to each report / returned workbook by relative path
- 得分明细  valid units × every leaf indicator of the scheme
- 问题清单  every problem of every unit, errors first
- 统计     counts per status, grade and score band, total statistics, a column chart

Every string goes through ``put_str`` (no formula, URL or number guessing; ``<r>…</r>`` goes in
as a rich string). Each sheet fetches ``units[i]`` for the row it writes and drops it.
"""

from __future__ import annotations

import statistics
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from toolkit.results import UnitResult
from toolkit.rules.model import Node, Scheme
from toolkit.text.numbers import exact, round2
from toolkit.write.summary_data import (
    STATUS_LABELS,
    ProjectRecord,
    RankedUnit,
    Tally,
    band_labels,
    count_note,
    in_band,
    is_number,
    project_note,
    severity_label,
    status_label,
    title_text,
)

SHEET_SUMMARY = "汇总"
SHEET_DETAIL = "得分明细"
SHEET_PROBLEMS = "问题清单"
SHEET_STATS = "统计"
SHEETS = (SHEET_SUMMARY, SHEET_DETAIL, SHEET_PROBLEMS, SHEET_STATS)

REPORT_LINK_TEXT = "打开报告"
RETURNED_LINK_TEXT = "打开退回表"
FONT = "宋体"
_TITLE_FONT = "黑体"
_MAX_URL = 255  # Excel's limit for a hyperlink target


def _width(s: str) -> int:
    """Display width in Excel column units (CJK characters count double)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _escape_link(path: str) -> str:
    """Percent-escape a relative path the way Excel does, and ``#`` so it is not an anchor."""
    for a, b in (("%", "%25"), ("#", "%23"), ('"', "%22"), (" ", "%20"), ("<", "%3c"), (">", "%3e"),
                 ("[", "%5b"), ("]", "%5d"), ("^", "%5e"), ("`", "%60"), ("{", "%7b"), ("}", "%7d")):
        path = path.replace(a, b)
    return path


# --------------------------------------------------------------------------- formats
class Formats:
    """Every cell format of the workbook, created once."""

    def __init__(self, wb: xlsxwriter.Workbook):
        cell = {"border": 1, "valign": "vcenter"}
        self.title = wb.add_format({"font_name": _TITLE_FONT, "font_size": 16, "align": "center",
                                    "valign": "vcenter"})
        self.note = wb.add_format({"valign": "vcenter"})
        self.section = wb.add_format({"bold": True, "valign": "vcenter"})
        self.header = wb.add_format({**cell, "bold": True, "align": "center", "text_wrap": True,
                                     "bg_color": "#D9D9D9"})
        self.text = wb.add_format({**cell, "text_wrap": True})
        self.center = wb.add_format({**cell, "align": "center", "text_wrap": True})
        self.bad = wb.add_format({**cell, "align": "center", "font_color": "#C00000"})
        self.int = wb.add_format({**cell, "align": "center", "num_format": "0"})
        self.score = wb.add_format({**cell, "num_format": "0.00"})
        self.pct = wb.add_format({**cell, "num_format": "0.0%"})
        self.link = wb.add_format({**cell, "align": "center", "font_color": "#0563C1", "underline": 1})


# --------------------------------------------------------------------------- cell helpers
def put_str(ws: Worksheet, r: int, c: int, s: str, f: Format) -> None:
    """Write a string as text, whatever it looks like.

    XlsxWriter copies a string that starts with ``<r>`` and ends with ``</r>`` into the XML
    unescaped, taking it for a prepared rich string: a unit name like that would corrupt the file
    or inject cells. Such a string is written as a real rich string of three runs in the cell's
    font, which reads back as the same text.
    """
    if len(s) > 6 and s.startswith("<r>") and s.endswith("</r>"):
        ws.write_rich_string(r, c, f, s[:1], f, s[1:-1], f, s[-1:], f)
    else:
        ws.write_string(r, c, s, f)


def _text(ws: Worksheet, r: int, c: int, v: Any, f: Format) -> None:
    if v is None or v == "":
        ws.write_blank(r, c, None, f)
    else:
        put_str(ws, r, c, str(v), f)


def _number(ws: Worksheet, r: int, c: int, v: Any, f: Format, text_f: Format) -> None:
    if is_number(v):
        ws.write_number(r, c, float(v), f)
    else:
        _text(ws, r, c, v, text_f)


def _link(ws: Worksheet, r: int, c: int, target: str, label: str, fmt: Formats) -> None:
    """A hyperlink to a file relative to the workbook; plain text when Excel cannot hold it."""
    url = "external:" + _escape_link(target)
    if _utf16_len(url) > _MAX_URL or ws.write_url(r, c, url, fmt.link, label) != 0:
        put_str(ws, r, c, target, fmt.text)


def _header_row(ws: Worksheet, r: int, headers: Sequence[str], f: Format, c0: int = 0) -> None:
    for c, h in enumerate(headers, start=c0):
        put_str(ws, r, c, h, f)


def _merge(ws: Worksheet, r: int, c1: int, c2: int, text: str, f: Format) -> None:
    """Merge columns ``c1``..``c2`` of row ``r`` around ``text``."""
    ws.merge_range(r, c1, r, c2, "", f)
    put_str(ws, r, c1, text, f)


def _merge_down(ws: Worksheet, r1: int, r2: int, c: int) -> None:
    """Record the merge of rows ``r1``..``r2`` of column ``c``; the caller writes the cells.

    In constant_memory mode ``merge_range`` over several rows would write the lower row's blank
    cell and so close the upper row before the rest of it is written; the caller writes the text
    with the upper row and the blank with the lower one instead, as merge_range would have.
    """
    ws.merge.append([r1, c, r2, c])


def _title(ws: Worksheet, r: int, last_col: int, text: str, f: Format, height: float = 30) -> None:
    ws.set_row(r, height)
    if last_col > 0:
        _merge(ws, r, 0, last_col, text, f)
    else:
        put_str(ws, r, 0, text, f)


def _print_setup(ws: Worksheet, repeat_first: int, repeat_last: int, landscape: bool = True) -> None:
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(repeat_first, repeat_last)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")


def _set_widths(ws: Worksheet, widths: Sequence[float]) -> None:
    for c, w in enumerate(widths):
        ws.set_column(c, c, w)


def _fit(values: Iterable[Any], header: str, low: int, high: int) -> int:
    w = max((_width(str(v)) for v in values if v), default=0)
    return max(low, min(high, max(w, _width(header)) + 2))


_LINE_HEIGHT = 15  # points per line of 11-point text


def _lines(text: Any, width: float) -> int:
    """How many lines ``text`` wraps to in a column ``width`` wide (an estimate, erring high)."""
    if not text:
        return 1
    per_line = max(1.0, width - 1.5)
    return sum(max(1, -int(-_width(part) // per_line)) for part in str(text).split("\n"))


def _fit_height(ws: Worksheet, r: int, cells: Iterable[tuple[Any, float]], min_lines: int = 1,
                max_lines: int = 8) -> None:
    """Set the height of row ``r`` when a wrapped cell needs more than one line.

    Excel grows such rows by itself, but LibreOffice and printing from WPS do not always.
    """
    n = max([min_lines, *(_lines(t, w) for t, w in cells)])
    if n > 1:
        ws.set_row(r, _LINE_HEIGHT * min(n, max_lines))


# --------------------------------------------------------------------------- 汇总
def summary_sheet(ws: Worksheet, fmt: Formats, units: Sequence[UnitResult],
                   rows: Sequence[RankedUnit], scheme: Scheme, tally: Tally) -> None:
    levels, projects = scheme.levels, tally.projects
    extra = ["项目数", "项目平均分"] if projects.records else []  # only when the run has project workbooks
    headers = (["序号", "单位", "编码", "年度", "状态", "总分", "等级", "排名"]
               + [f"{lv.name}（{exact(lv.points)}分）" for lv in levels] + extra
               + ["错误数", "提示数", "报告", "文件"])
    last = len(headers) - 1
    c_lv = 8
    c_pj = c_lv + len(levels)
    c_err = c_pj + len(extra)
    c_link, c_file = c_err + 2, c_err + 3

    widths: list[float] = [5, _fit((ru.unit_name for ru in rows), "单位", 16, 36), 9, 7, 9, 8, 6, 6]
    widths += [max(9, min(18, _width(h) + 1)) for h in headers[c_lv:c_pj]] + [7, 8][:len(extra)]
    widths += [7, 7, 11, _fit((ru.file for ru in rows), "文件", 16, 40)]
    _set_widths(ws, widths)

    _title(ws, 0, last, title_text(tally.years), fmt.title)
    ws.set_row(1, 20)
    _merge(ws, 1, 0, last, f"{count_note(tally.counts)}{project_note(tally)}。评分方案：{scheme.title}", fmt.note)
    hr = 2
    _fit_height(ws, hr, zip(headers, widths, strict=True), min_lines=2)
    _header_row(ws, hr, headers, fmt.header)

    r = hr
    for i, ru in enumerate(rows, start=1):
        r = hr + i
        u = units[ru.index]
        status = u.status
        ws.write_number(r, 0, i, fmt.int)
        _text(ws, r, 1, u.unit_name, fmt.text)
        _text(ws, r, 2, u.unit_code, fmt.center)
        _number(ws, r, 3, u.fiscal_year, fmt.int, fmt.center)
        _text(ws, r, 4, status_label(status), fmt.center if status == "ok" else fmt.bad)
        _number(ws, r, 5, u.total, fmt.score, fmt.center)
        _text(ws, r, 6, u.grade, fmt.center)
        _number(ws, r, 7, ru.rank, fmt.int, fmt.center)
        lv_scores = u.levels or {}
        for j, lv in enumerate(levels):
            _number(ws, r, c_lv + j, lv_scores.get(lv.name), fmt.score, fmt.center)
        if extra:
            n_pj, mean = projects.count_and_mean(projects.of_unit(u.fiscal_year, u.unit_code, u.unit_name))
            ws.write_number(r, c_pj, n_pj, fmt.int)
            _number(ws, r, c_pj + 1, mean, fmt.score, fmt.center)
        ws.write_number(r, c_err, len(u.errors), fmt.int)
        ws.write_number(r, c_err + 1, len(u.warnings), fmt.int)
        if status == "ok" and u.report:
            _link(ws, r, c_link, str(u.report), REPORT_LINK_TEXT, fmt)
        elif u.returned:
            _link(ws, r, c_link, str(u.returned), RETURNED_LINK_TEXT, fmt)
        else:
            ws.write_blank(r, c_link, None, fmt.text)
        _text(ws, r, c_file, u.file, fmt.text)
        _fit_height(ws, r, ((u.unit_name, widths[1]), (u.file, widths[c_file])))
        del u, lv_scores
    ws.freeze_panes(hr + 1, 2)
    ws.autofilter(hr, 0, max(r, hr), last)
    _print_setup(ws, hr, hr)


# --------------------------------------------------------------------------- 得分明细
def _leaf_group(leaf: Node) -> str:
    parts = list(dict.fromkeys(leaf.path[:-1])) or [leaf.name]
    return " / ".join(parts)


def detail_sheet(ws: Worksheet, fmt: Formats, units: Sequence[UnitResult],
                  rows: Sequence[RankedUnit], scheme: Scheme) -> None:
    leaves = scheme.leaves()
    fixed = ["序号", "单位", "编码", "总分", "等级"]
    c0 = len(fixed)
    last = c0 + len(leaves) - 1 if leaves else c0 - 1
    _title(ws, 0, last, "各单位三级指标得分明细（合格单位）", fmt.title)
    h1, h2 = 1, 2
    labels = [f"{leaf.name}（{exact(leaf.points)}分）" for leaf in leaves]
    names = [ru.unit_name for ru in rows if ru.status == "ok"]
    widths: list[float] = [5, _fit(names, "单位", 16, 36), 9, 8, 6]
    widths += [max(11, min(18, _width(t) / 2.5 + 2)) for t in labels]  # the label in about 3 lines
    _set_widths(ws, widths)
    groups: list[tuple[int, int, str]] = []  # first col, last col, label
    for j, leaf in enumerate(leaves):
        g = _leaf_group(leaf)
        if groups and groups[-1][2] == g:
            groups[-1] = (groups[-1][0], c0 + j, g)
        else:
            groups.append((c0 + j, c0 + j, g))
    _fit_height(ws, h1, ((g, sum(widths[a:b + 1])) for a, b, g in groups))
    _fit_height(ws, h2, zip(labels, widths[c0:], strict=True), min_lines=2)
    # the fixed headers span both header rows
    for c in range(c0):
        _merge_down(ws, h1, h2, c)
    _header_row(ws, h1, fixed, fmt.header)
    # group row: consecutive leaves under the same 一级/二级 share one merged cell
    for a, b, g in groups:
        if b > a:
            _merge(ws, h1, a, b, g, fmt.header)
        else:
            put_str(ws, h1, a, g, fmt.header)
    for c in range(c0):
        ws.write_blank(h2, c, None, fmt.header)
    _header_row(ws, h2, labels, fmt.header, c0)

    r = h2
    n = 0
    for ru in rows:
        if ru.status != "ok":
            continue
        u = units[ru.index]
        n += 1
        r = h2 + n
        ws.write_number(r, 0, n, fmt.int)
        _text(ws, r, 1, u.unit_name, fmt.text)
        _text(ws, r, 2, u.unit_code, fmt.center)
        _number(ws, r, 3, u.total, fmt.score, fmt.center)
        _text(ws, r, 4, u.grade, fmt.center)
        scores = {ind.id: ind.score for ind in (u.indicators or ())}
        for j, leaf in enumerate(leaves):
            _number(ws, r, c0 + j, scores.get(leaf.id), fmt.score, fmt.center)
        _fit_height(ws, r, ((u.unit_name, widths[1]),))
        del u, scores
    ws.freeze_panes(h2 + 1, 2)
    ws.autofilter(h2, 0, r, max(last, c0 - 1))
    _print_setup(ws, h1, h2)


# --------------------------------------------------------------------------- 问题清单
def problems_sheet(ws: Worksheet, fmt: Formats, units: Sequence[UnitResult],
                    rows: Sequence[RankedUnit | ProjectRecord]) -> None:
    headers = ["序号", "单位", "文件", "严重程度", "工作表", "单元格", "涉及单元格", "问题代码", "说明"]
    last = len(headers) - 1
    _title(ws, 0, last, "问题清单", fmt.title)
    hr = 1
    ws.set_row(hr, 24)
    _header_row(ws, hr, headers, fmt.header)
    with_problems = [ru for ru in rows if ru.has_problems]
    widths = [6, _fit((ru.unit_name for ru in with_problems), "单位", 14, 30),
              _fit((ru.file for ru in with_problems), "文件", 14, 30), 9, 12, 8, 24, 20, 60]
    _set_widths(ws, widths)
    r = hr
    n = 0
    for ru in with_problems:
        u = units[ru.index]
        probs = list(u.problems)
        # errors first; stable otherwise
        probs.sort(key=lambda p: 0 if p.severity == "error" else 1)
        for p in probs:
            n += 1
            r = hr + n
            sev = p.severity
            cells = [str(c) for c in p.cells]
            ws.write_number(r, 0, n, fmt.int)
            _text(ws, r, 1, u.unit_name, fmt.text)
            _text(ws, r, 2, u.file, fmt.text)
            _text(ws, r, 3, severity_label(sev), fmt.bad if sev == "error" else fmt.center)
            _text(ws, r, 4, p.sheet, fmt.center)
            _text(ws, r, 5, p.cell, fmt.center)
            involved = "、".join(cells) if len(cells) > 1 else ""
            _text(ws, r, 6, involved, fmt.text)
            _text(ws, r, 7, p.code, fmt.text)
            _text(ws, r, 8, p.message, fmt.text)
            _fit_height(ws, r, ((u.unit_name, widths[1]), (u.file, widths[2]),
                                (p.sheet, widths[4]), (involved, widths[6]), (p.code, widths[7]),
                                (p.message, widths[8])))
        del u, probs
    ws.freeze_panes(hr + 1, 0)
    ws.autofilter(hr, 0, r, last)
    _print_setup(ws, hr, hr)


# --------------------------------------------------------------------------- 统计
def stats_sheet(wb: xlsxwriter.Workbook, ws: Worksheet, fmt: Formats, scheme: Scheme, tally: Tally) -> None:
    counts = tally.counts
    totals = tally.totals
    n_ok = len(totals)
    _title(ws, 0, 4, "统计", fmt.title)
    r = 2

    def share(n: int, of: int, row: int, col: int) -> None:
        if of:
            ws.write_number(row, col, n / of, fmt.pct)
        else:
            ws.write_blank(row, col, None, fmt.pct)

    # 一、审核结果
    put_str(ws, r, 0, "一、审核结果", fmt.section)
    r += 1
    _header_row(ws, r, ["状态", "份数", "占比"], fmt.header)
    status_rows = [(label, counts.by_status.get(s, 0)) for s, label in STATUS_LABELS.items()]
    status_rows += [(s, c) for s, c in counts.by_status.items() if s not in STATUS_LABELS]
    for label, c in [*status_rows, ("合计", counts.total)]:
        r += 1
        put_str(ws, r, 0, label, fmt.center)
        ws.write_number(r, 1, c, fmt.int)
        share(c, counts.total, r, 2)
    r += 2

    # 二、等级分布
    put_str(ws, r, 0, "二、等级分布（合格单位）", fmt.section)
    r += 1
    _header_row(ws, r, ["等级", "分数区间", "单位数", "占比"], fmt.header)
    grade_counts = tally.grades
    upper: Decimal | None = None
    for g in scheme.grades:
        r += 1
        if upper is None:
            rng = f"≥{exact(g.min)}"
        elif g.min <= 0:
            rng = f"<{exact(upper)}"
        else:
            rng = f"{exact(g.min)}≤总分<{exact(upper)}"
        upper = g.min
        put_str(ws, r, 0, g.name, fmt.center)
        put_str(ws, r, 1, rng, fmt.center)
        ws.write_number(r, 2, grade_counts[g.name], fmt.int)
        share(grade_counts[g.name], tally.n_ok, r, 3)
    r += 2

    # 三、总分统计
    put_str(ws, r, 0, "三、总分统计（合格单位）", fmt.section)
    r += 1
    _header_row(ws, r, ["项目", "数值"], fmt.header)
    stats: list[tuple[str, float | None]] = [("单位数", None)]
    if totals:
        stats += [("平均分", float(round2(sum(totals, Decimal(0)) / n_ok))),
                  ("中位数", float(round2(statistics.median(totals)))),
                  ("最高分", float(round2(max(totals)))), ("最低分", float(round2(min(totals))))]
    else:
        stats += [("平均分", None), ("中位数", None), ("最高分", None), ("最低分", None)]
    for i, (label, v) in enumerate(stats):
        r += 1
        put_str(ws, r, 0, label, fmt.center)
        if i == 0:
            ws.write_number(r, 1, n_ok, fmt.int)
        elif v is None:
            ws.write_blank(r, 1, None, fmt.score)
        else:
            ws.write_number(r, 1, v, fmt.score)
    r += 2

    # 四、一级指标得分
    put_str(ws, r, 0, "四、一级指标平均得分（合格单位）", fmt.section)
    r += 1
    _header_row(ws, r, ["一级指标", "满分", "平均分", "得分率"], fmt.header)
    for lv in scheme.levels:
        r += 1
        got = tally.level_ns.get(lv.name, 0)
        put_str(ws, r, 0, lv.name, fmt.center)
        ws.write_number(r, 1, float(lv.points), fmt.score)
        if got:
            mean = tally.level_sums[lv.name] / got
            ws.write_number(r, 2, float(round2(mean)), fmt.score)
            ws.write_number(r, 3, float(mean / lv.points), fmt.pct)
        else:
            ws.write_blank(r, 2, None, fmt.score)
            ws.write_blank(r, 3, None, fmt.pct)
    r += 2

    # 五、分数段分布 + chart
    put_str(ws, r, 0, "五、总分分数段分布（合格单位）", fmt.section)
    r += 1
    _header_row(ws, r, ["分数段", "单位数", "占比"], fmt.header)
    first = r + 1
    bands = [(label, sum(1 for t in totals if in_band(t, lo, hi))) for lo, hi, label in band_labels(scheme.total)]
    for label, c in bands:
        r += 1
        put_str(ws, r, 0, label, fmt.center)
        ws.write_number(r, 1, c, fmt.int)
        share(c, n_ok, r, 2)
    last = r

    font = {"name": FONT}
    chart = wb.add_chart({"type": "column"})
    chart.add_series({
        "name": "单位数",
        "categories": [SHEET_STATS, first, 0, last, 0],
        "values": [SHEET_STATS, first, 1, last, 1],
        # the cached values: constant_memory mode cannot read them back from the sheet
        "categories_data": [label for label, _ in bands],
        "values_data": [c for _, c in bands],
        "data_labels": {"value": True, "font": font},
        "fill": {"color": "#4472C4"},
        "gap": 80,
    })
    chart.set_title({"name": "合格单位总分分布", "name_font": {**font, "size": 14, "bold": True}})
    chart.set_x_axis({"name": "分数段", "name_font": font, "num_font": font})
    top = max((c for _, c in bands), default=0)
    chart.set_y_axis({"name": "单位数", "name_font": font, "num_font": font, "min": 0,
                      "major_unit": max(1, -(-top // 8)), "num_format": "0",
                      "major_gridlines": {"visible": True}})
    chart.set_legend({"none": True})
    chart.set_size({"width": 560, "height": 320})
    ws.insert_chart(2, 5, chart, {"x_offset": 10, "y_offset": 0})

    _set_widths(ws, [18, 16, 10, 10, 4])
    _print_setup(ws, 0, 0)

