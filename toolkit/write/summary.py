"""results.json → 汇总表.xlsx: status, scores, ranking, problems and statistics of every unit.

``build_summary_bytes(results, scheme)`` takes exactly the results.json structure (spec 01) and
returns the workbook; ``write_summary`` writes it atomically. Sheets:

- 汇总     one row per workbook, ranked; links to each report / returned workbook by relative path
- 得分明细  valid units × every leaf indicator of the scheme
- 问题清单  every problem of every unit, errors first
- 统计     counts per status, grade and score band, total statistics, a column chart

Every string goes through ``write_string`` (no formula, URL or number guessing), so a unit name
like ``=HYPERLINK(…)`` stays text (and ``<r>…</r>``, which XlsxWriter would copy into the XML raw,
goes in as a rich string). The output is deterministic: fixed document dates, fixed zip
timestamps, no paths beyond the relative links from results.json.

Memory stays flat in the number of units: ``results["units"]`` may be any random-access sequence
whose items are decoded on access (the batch keeps them as compact JSON). One pass reads each unit
once into a light ``RankedUnit`` record and the statistics; each sheet then fetches ``units[i]``
for the row it writes and drops it. XlsxWriter runs in ``constant_memory`` mode (each row goes to
a temporary file as soon as the next row starts), so every sheet is written strictly top to bottom.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, TypeGuard

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from toolkit.rules.model import Node, Scheme
from toolkit.write.atomic import atomic_path

SHEET_SUMMARY = "汇总"
SHEET_DETAIL = "得分明细"
SHEET_PROBLEMS = "问题清单"
SHEET_STATS = "统计"
SHEETS = (SHEET_SUMMARY, SHEET_DETAIL, SHEET_PROBLEMS, SHEET_STATS)

STATUS_LABELS = {"ok": "合格", "invalid": "退回修改", "unreadable": "无法读取"}
SEVERITY_LABELS = {"error": "错误", "warning": "提示"}
_STATUS_ORDER = {"ok": 0, "invalid": 1, "unreadable": 2}

REPORT_LINK_TEXT = "打开报告"
RETURNED_LINK_TEXT = "打开退回表"
TITLE = "部门整体支出绩效自评汇总表"

# Score bands of the 统计 sheet, as percentages of the scheme's total points.
BAND_CUTS = (60, 70, 80, 90)

_CREATED = datetime(2000, 1, 1, tzinfo=timezone.utc)  # fixed: identical bytes on every run
_FONT = "宋体"
_TITLE_FONT = "黑体"
_MAX_URL = 255  # Excel's limit for a hyperlink target
_WORKBOOK_OPTIONS: dict[str, Any] = {
    # One row in memory at a time (rows go to a temporary file); excludes in_memory.
    "constant_memory": True,
    "in_memory": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "default_format_properties": {"font_name": _FONT, "font_size": 11, "font_charset": 134,
                                  "font_scheme": "none"},
}


def status_label(status: str | None) -> str:
    """``ok`` → 合格, ``invalid`` → 退回修改, ``unreadable`` → 无法读取 (anything else as is)."""
    return STATUS_LABELS.get(status or "", status or "")


def severity_label(severity: str | None) -> str:
    return SEVERITY_LABELS.get(severity or "", severity or "")


# --------------------------------------------------------------------------- ordering and numbers
@dataclass(frozen=True, slots=True)
class RankedUnit:
    """A light record of one unit, enough to order the sheets and size their columns.

    The unit itself stays in ``results["units"]``; the sheets fetch ``units[index]`` again for the
    row they write.
    """

    index: int  # position in results["units"]
    status: Any
    total: Decimal | None  # the total as a 2-decimal Decimal; None when missing or not a number
    unit_code: Any
    unit_name: Any
    file: Any
    has_problems: bool = False
    rank: int | None = None  # competition rank among valid units (1, 2, 2, 4); None when not ranked


def _score_key(total: Any) -> Decimal | None:
    """A total as a 2-decimal Decimal (so 89.99999999 and 90.0 from floats compare as scored)."""
    if total is None or isinstance(total, bool):
        return None
    try:
        return Decimal(str(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None


def _record(index: int, u: Mapping[str, Any]) -> RankedUnit:
    return RankedUnit(index, u.get("status"), _score_key(u.get("total")), u.get("unit_code"),
                      u.get("unit_name"), u.get("file"), bool(u.get("problems")))


def rank_units(units: Iterable[Mapping[str, Any]]) -> list[RankedUnit]:
    """Units in display order with their rank, as light records (``index`` is the position in ``units``).

    Valid units with a total come first, by total descending (ties share a rank, competition
    style; equal totals are listed by unit code, then name, then file); then the remaining valid
    units, then invalid, then unreadable, then anything else, each by file.
    """
    return _rank([_record(i, u) for i, u in enumerate(units)])


def _rank(records: Iterable[RankedUnit]) -> list[RankedUnit]:
    """``rank_units`` on records already taken (in input order, which breaks remaining ties)."""
    ranked: list[RankedUnit] = []
    rest: list[RankedUnit] = []
    for rec in records:
        (ranked if rec.status == "ok" and rec.total is not None else rest).append(rec)

    def tie(r: RankedUnit) -> tuple[Any, ...]:
        code, name = r.unit_code, r.unit_name
        return (code is None, str(code or ""), name is None, str(name or ""), str(r.file or ""))

    ranked.sort(key=lambda r: (-r.total if r.total is not None else Decimal(0), tie(r)))
    out: list[RankedUnit] = []
    prev: Decimal | None = None
    rank = 0
    for i, r in enumerate(ranked, start=1):
        if r.total != prev:
            rank, prev = i, r.total
        out.append(replace(r, rank=rank))
    rest.sort(key=lambda r: (_STATUS_ORDER.get(r.status or "", 3), str(r.file or "")))
    out.extend(rest)
    return out


def _is_number(v: Any) -> TypeGuard[int | float | Decimal]:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _round2(v: Decimal) -> float:
    return float(v.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _pts(p: Decimal | float | int) -> str:
    """Points for a label: 10 → "10", 7.50 → "7.5"."""
    d = Decimal(str(p)).normalize()
    return format(d, "f")


def _band_labels(total: Decimal) -> list[tuple[Decimal | None, Decimal | None, str]]:
    """[(low inclusive, high exclusive, label)] for the score distribution."""
    cuts = [total * c / 100 for c in BAND_CUTS]
    out: list[tuple[Decimal | None, Decimal | None, str]] = [(None, cuts[0], f"{_pts(cuts[0])}分以下")]
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        out.append((lo, hi, f"{_pts(lo)}～{_pts(hi)}分"))
    out.append((cuts[-1], None, f"{_pts(cuts[-1])}分及以上"))
    return out


def _in_band(v: Decimal, lo: Decimal | None, hi: Decimal | None) -> bool:
    return (lo is None or v >= lo) and (hi is None or v < hi)


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
class _Formats:
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
def _str(ws: Worksheet, r: int, c: int, s: str, f: Format) -> None:
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
        _str(ws, r, c, str(v), f)


def _number(ws: Worksheet, r: int, c: int, v: Any, f: Format, text_f: Format) -> None:
    if _is_number(v):
        ws.write_number(r, c, float(v), f)
    else:
        _text(ws, r, c, v, text_f)


def _link(ws: Worksheet, r: int, c: int, target: str, label: str, fmt: _Formats) -> None:
    """A hyperlink to a file relative to the workbook; plain text when Excel cannot hold it."""
    url = "external:" + _escape_link(target)
    if _utf16_len(url) > _MAX_URL or ws.write_url(r, c, url, fmt.link, label) != 0:
        _str(ws, r, c, target, fmt.text)


def _header_row(ws: Worksheet, r: int, headers: Sequence[str], f: Format, c0: int = 0) -> None:
    for c, h in enumerate(headers, start=c0):
        _str(ws, r, c, h, f)


def _merge(ws: Worksheet, r: int, c1: int, c2: int, text: str, f: Format) -> None:
    """Merge columns ``c1``..``c2`` of row ``r`` around ``text``."""
    ws.merge_range(r, c1, r, c2, "", f)
    _str(ws, r, c1, text, f)


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
        _str(ws, r, 0, text, f)


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


# --------------------------------------------------------------------------- the workbook
@dataclass(frozen=True)
class _Counts:
    total: int
    by_status: dict[str, int]


@dataclass
class _Tally:
    """Everything the sheets need beyond the records, taken in the same single pass over the units."""

    counts: _Counts
    years: set[int] = field(default_factory=set)  # at most two: only "exactly one year" matters
    n_ok: int = 0  # valid units (with or without a total)
    totals: list[Decimal] = field(default_factory=list)  # totals of valid units, in input order
    grades: dict[str, int] = field(default_factory=dict)  # valid units per grade of the scheme
    level_sums: dict[str, Decimal] = field(default_factory=dict)  # level name → sum over valid units
    level_ns: dict[str, int] = field(default_factory=dict)  # level name → valid units with a score


def _scan(units: Sequence[Mapping[str, Any]], scheme: Scheme) -> tuple[list[RankedUnit], _Tally]:
    """One pass over ``units``, each fetched once and dropped: a light record per unit, the tally."""
    records: list[RankedUnit] = []
    by_status = {s: 0 for s in STATUS_LABELS}
    tally = _Tally(_Counts(len(units), by_status), grades={g.name: 0 for g in scheme.grades})
    for i in range(len(units)):
        u = units[i]
        rec = _record(i, u)
        records.append(rec)
        s = rec.status or ""
        by_status[s] = by_status.get(s, 0) + 1
        if len(tally.years) < 2 and _is_number(y := u.get("fiscal_year")):
            tally.years.add(int(y))
        if rec.status != "ok":
            continue
        tally.n_ok += 1
        if rec.total is not None:
            tally.totals.append(rec.total)
        g = u.get("grade")
        if isinstance(g, str) and g in tally.grades:
            tally.grades[g] += 1
        levels = u.get("levels") or {}
        for lv in scheme.levels:
            v = _score_key(levels.get(lv.name))
            if v is not None:
                tally.level_sums[lv.name] = tally.level_sums.get(lv.name, Decimal(0)) + v
                tally.level_ns[lv.name] = tally.level_ns.get(lv.name, 0) + 1
    return records, tally


def build_summary_bytes(results: Mapping[str, Any], scheme: Scheme) -> bytes:
    """The 汇总表 for a results.json structure, as .xlsx bytes (identical for identical input).

    ``results["units"]`` may be any random-access sequence of unit mappings; each unit is fetched
    by index a few times and never more than one at a time is kept.
    """
    buf = io.BytesIO()
    _build(results, scheme, buf)
    return buf.getvalue()


def write_summary(results: Mapping[str, Any], scheme: Scheme, path: Path) -> None:
    """Write the 汇总表 to ``path`` atomically (``.<name>.part`` then rename), streaming to disk."""
    with atomic_path(Path(path)) as part:
        _build(results, scheme, str(part))


def _build(results: Mapping[str, Any], scheme: Scheme, target: str | IO[bytes]) -> None:
    units: Any = results.get("units") or []
    if not (hasattr(units, "__len__") and hasattr(units, "__getitem__")):
        units = list(units)  # a plain iterable: no random access, so hold it
    records, tally = _scan(units, scheme)
    rows = _rank(records)
    del records
    # XlsxWriter's temporary files (rows of each sheet, then the package parts) live here.
    with tempfile.TemporaryDirectory(prefix="jixiao-summary-", ignore_cleanup_errors=True) as tmp:
        wb = xlsxwriter.Workbook(target, {**_WORKBOOK_OPTIONS, "tmpdir": tmp})
        try:
            wb.set_properties({
                "title": _title_text(tally.years),
                "subject": scheme.title,
                "author": "jixiao",
                "comments": f"评分方案 {scheme.id}",
                "created": _CREATED,
            })
            fmt = _Formats(wb)
            _summary_sheet(wb.add_worksheet(SHEET_SUMMARY), fmt, units, rows, scheme, tally)
            _detail_sheet(wb.add_worksheet(SHEET_DETAIL), fmt, units, rows, scheme)
            _problems_sheet(wb.add_worksheet(SHEET_PROBLEMS), fmt, units, rows)
            _stats_sheet(wb, wb.add_worksheet(SHEET_STATS), fmt, scheme, tally)
            wb.close()
        finally:
            if not wb.fileclosed:  # failed half-way: release the row files so the folder can go
                for ws in wb.worksheets():
                    ws._opt_close()


def _severity_count(unit: Mapping[str, Any], severity: str) -> int:
    return sum(1 for p in unit.get("problems") or [] if p.get("severity") == severity)


def _title_text(years: set[int]) -> str:
    if len(years) == 1:
        return f"{next(iter(years))}年度{TITLE}"
    return TITLE


def _count_note(counts: _Counts) -> str:
    s = counts.by_status
    text = (f"共 {counts.total} 份：合格 {s.get('ok', 0)} 份，退回修改 {s.get('invalid', 0)} 份，"
            f"无法读取 {s.get('unreadable', 0)} 份")
    other = counts.total - sum(s.get(k, 0) for k in STATUS_LABELS)
    return text + (f"，其他 {other} 份" if other else "")


# --------------------------------------------------------------------------- 汇总
def _summary_sheet(ws: Worksheet, fmt: _Formats, units: Sequence[Mapping[str, Any]],
                   rows: Sequence[RankedUnit], scheme: Scheme, tally: _Tally) -> None:
    levels = scheme.levels
    headers = (["序号", "单位", "编码", "年度", "状态", "总分", "等级", "排名"]
               + [f"{lv.name}（{_pts(lv.points)}分）" for lv in levels]
               + ["错误数", "提示数", "报告", "文件"])
    last = len(headers) - 1
    c_lv = 8
    c_err = c_lv + len(levels)
    c_link, c_file = c_err + 2, c_err + 3

    widths: list[float] = [5, _fit((ru.unit_name for ru in rows), "单位", 16, 36), 9, 7, 9, 8, 6, 6]
    widths += [max(9, min(18, _width(h) + 1)) for h in headers[c_lv:c_err]]
    widths += [7, 7, 11, _fit((ru.file for ru in rows), "文件", 16, 40)]
    _set_widths(ws, widths)

    _title(ws, 0, last, _title_text(tally.years), fmt.title)
    ws.set_row(1, 20)
    _merge(ws, 1, 0, last, f"{_count_note(tally.counts)}。评分方案：{scheme.title}", fmt.note)
    hr = 2
    _fit_height(ws, hr, zip(headers, widths, strict=True), min_lines=2)
    _header_row(ws, hr, headers, fmt.header)

    r = hr
    for i, ru in enumerate(rows, start=1):
        r = hr + i
        u = units[ru.index]
        status = u.get("status")
        ws.write_number(r, 0, i, fmt.int)
        _text(ws, r, 1, u.get("unit_name"), fmt.text)
        _text(ws, r, 2, u.get("unit_code"), fmt.center)
        _number(ws, r, 3, u.get("fiscal_year"), fmt.int, fmt.center)
        _text(ws, r, 4, status_label(status), fmt.center if status == "ok" else fmt.bad)
        _number(ws, r, 5, u.get("total"), fmt.score, fmt.center)
        _text(ws, r, 6, u.get("grade"), fmt.center)
        _number(ws, r, 7, ru.rank, fmt.int, fmt.center)
        lv_scores = u.get("levels") or {}
        for j, lv in enumerate(levels):
            _number(ws, r, c_lv + j, lv_scores.get(lv.name), fmt.score, fmt.center)
        ws.write_number(r, c_err, _severity_count(u, "error"), fmt.int)
        ws.write_number(r, c_err + 1, _severity_count(u, "warning"), fmt.int)
        if status == "ok" and u.get("report"):
            _link(ws, r, c_link, str(u["report"]), REPORT_LINK_TEXT, fmt)
        elif u.get("returned"):
            _link(ws, r, c_link, str(u["returned"]), RETURNED_LINK_TEXT, fmt)
        else:
            ws.write_blank(r, c_link, None, fmt.text)
        _text(ws, r, c_file, u.get("file"), fmt.text)
        _fit_height(ws, r, ((u.get("unit_name"), widths[1]), (u.get("file"), widths[c_file])))
        del u, lv_scores
    ws.freeze_panes(hr + 1, 2)
    ws.autofilter(hr, 0, max(r, hr), last)
    _print_setup(ws, hr, hr)


# --------------------------------------------------------------------------- 得分明细
def _leaf_group(leaf: Node) -> str:
    parts = list(dict.fromkeys(leaf.path[:-1])) or [leaf.name]
    return " / ".join(parts)


def _detail_sheet(ws: Worksheet, fmt: _Formats, units: Sequence[Mapping[str, Any]],
                  rows: Sequence[RankedUnit], scheme: Scheme) -> None:
    leaves = scheme.leaves()
    fixed = ["序号", "单位", "编码", "总分", "等级"]
    c0 = len(fixed)
    last = c0 + len(leaves) - 1 if leaves else c0 - 1
    _title(ws, 0, last, "各单位三级指标得分明细（合格单位）", fmt.title)
    h1, h2 = 1, 2
    labels = [f"{leaf.name}（{_pts(leaf.points)}分）" for leaf in leaves]
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
            _str(ws, h1, a, g, fmt.header)
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
        _text(ws, r, 1, u.get("unit_name"), fmt.text)
        _text(ws, r, 2, u.get("unit_code"), fmt.center)
        _number(ws, r, 3, u.get("total"), fmt.score, fmt.center)
        _text(ws, r, 4, u.get("grade"), fmt.center)
        scores = {ind.get("id"): ind.get("score") for ind in (u.get("indicators") or [])}
        for j, leaf in enumerate(leaves):
            _number(ws, r, c0 + j, scores.get(leaf.id), fmt.score, fmt.center)
        _fit_height(ws, r, ((u.get("unit_name"), widths[1]),))
        del u, scores
    ws.freeze_panes(h2 + 1, 2)
    ws.autofilter(h2, 0, r, max(last, c0 - 1))
    _print_setup(ws, h1, h2)


# --------------------------------------------------------------------------- 问题清单
def _problems_sheet(ws: Worksheet, fmt: _Formats, units: Sequence[Mapping[str, Any]],
                    rows: Sequence[RankedUnit]) -> None:
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
        probs = list(u.get("problems") or [])
        # errors first; stable otherwise
        probs.sort(key=lambda p: 0 if p.get("severity") == "error" else 1)
        for p in probs:
            n += 1
            r = hr + n
            sev = p.get("severity")
            cells = [str(c) for c in (p.get("cells") or [])]
            ws.write_number(r, 0, n, fmt.int)
            _text(ws, r, 1, u.get("unit_name"), fmt.text)
            _text(ws, r, 2, u.get("file"), fmt.text)
            _text(ws, r, 3, severity_label(sev), fmt.bad if sev == "error" else fmt.center)
            _text(ws, r, 4, p.get("sheet"), fmt.center)
            _text(ws, r, 5, p.get("cell"), fmt.center)
            involved = "、".join(cells) if len(cells) > 1 else ""
            _text(ws, r, 6, involved, fmt.text)
            _text(ws, r, 7, p.get("code"), fmt.text)
            _text(ws, r, 8, p.get("message"), fmt.text)
            _fit_height(ws, r, ((u.get("unit_name"), widths[1]), (u.get("file"), widths[2]),
                                (p.get("sheet"), widths[4]), (involved, widths[6]), (p.get("code"), widths[7]),
                                (p.get("message"), widths[8])))
        del u, probs
    ws.freeze_panes(hr + 1, 0)
    ws.autofilter(hr, 0, r, last)
    _print_setup(ws, hr, hr)


# --------------------------------------------------------------------------- 统计
def _stats_sheet(wb: xlsxwriter.Workbook, ws: Worksheet, fmt: _Formats, scheme: Scheme, tally: _Tally) -> None:
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
    _str(ws, r, 0, "一、审核结果", fmt.section)
    r += 1
    _header_row(ws, r, ["状态", "份数", "占比"], fmt.header)
    status_rows = [(label, counts.by_status.get(s, 0)) for s, label in STATUS_LABELS.items()]
    status_rows += [(s, c) for s, c in counts.by_status.items() if s not in STATUS_LABELS]
    for label, c in [*status_rows, ("合计", counts.total)]:
        r += 1
        _str(ws, r, 0, label, fmt.center)
        ws.write_number(r, 1, c, fmt.int)
        share(c, counts.total, r, 2)
    r += 2

    # 二、等级分布
    _str(ws, r, 0, "二、等级分布（合格单位）", fmt.section)
    r += 1
    _header_row(ws, r, ["等级", "分数区间", "单位数", "占比"], fmt.header)
    grade_counts = tally.grades
    upper: Decimal | None = None
    for g in scheme.grades:
        r += 1
        if upper is None:
            rng = f"≥{_pts(g.min)}"
        elif g.min <= 0:
            rng = f"<{_pts(upper)}"
        else:
            rng = f"{_pts(g.min)}≤总分<{_pts(upper)}"
        upper = g.min
        _str(ws, r, 0, g.name, fmt.center)
        _str(ws, r, 1, rng, fmt.center)
        ws.write_number(r, 2, grade_counts[g.name], fmt.int)
        share(grade_counts[g.name], tally.n_ok, r, 3)
    r += 2

    # 三、总分统计
    _str(ws, r, 0, "三、总分统计（合格单位）", fmt.section)
    r += 1
    _header_row(ws, r, ["项目", "数值"], fmt.header)
    stats: list[tuple[str, float | None]] = [("单位数", None)]
    if totals:
        stats += [("平均分", _round2(sum(totals, Decimal(0)) / n_ok)), ("中位数", _round2(statistics.median(totals))),
                  ("最高分", _round2(max(totals))), ("最低分", _round2(min(totals)))]
    else:
        stats += [("平均分", None), ("中位数", None), ("最高分", None), ("最低分", None)]
    for i, (label, v) in enumerate(stats):
        r += 1
        _str(ws, r, 0, label, fmt.center)
        if i == 0:
            ws.write_number(r, 1, n_ok, fmt.int)
        elif v is None:
            ws.write_blank(r, 1, None, fmt.score)
        else:
            ws.write_number(r, 1, v, fmt.score)
    r += 2

    # 四、一级指标得分
    _str(ws, r, 0, "四、一级指标平均得分（合格单位）", fmt.section)
    r += 1
    _header_row(ws, r, ["一级指标", "满分", "平均分", "得分率"], fmt.header)
    for lv in scheme.levels:
        r += 1
        got = tally.level_ns.get(lv.name, 0)
        _str(ws, r, 0, lv.name, fmt.center)
        ws.write_number(r, 1, float(lv.points), fmt.score)
        if got:
            mean = tally.level_sums[lv.name] / got
            ws.write_number(r, 2, _round2(mean), fmt.score)
            ws.write_number(r, 3, float(mean / lv.points), fmt.pct)
        else:
            ws.write_blank(r, 2, None, fmt.score)
            ws.write_blank(r, 3, None, fmt.pct)
    r += 2

    # 五、分数段分布 + chart
    _str(ws, r, 0, "五、总分分数段分布（合格单位）", fmt.section)
    r += 1
    _header_row(ws, r, ["分数段", "单位数", "占比"], fmt.header)
    first = r + 1
    bands = [(label, sum(1 for t in totals if _in_band(t, lo, hi))) for lo, hi, label in _band_labels(scheme.total)]
    for label, c in bands:
        r += 1
        _str(ws, r, 0, label, fmt.center)
        ws.write_number(r, 1, c, fmt.int)
        share(c, n_ok, r, 2)
    last = r

    font = {"name": _FONT}
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
