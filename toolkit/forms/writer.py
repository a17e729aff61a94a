"""The XlsxWriter workbook writer: one standard workbook (blank, prefilled or returned) from a layout.

Sheets in order: 问题清单 (only with problems) and 填表说明 (``toolkit.forms.help_sheets``), then
基本信息, 收支情况, 评分表, 绩效指标, 绩效分析 and the very hidden ``_meta``, written here.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from toolkit import fields as F
from toolkit.fields import Field, Table
from toolkit.forms import help_sheets, live_sheet
from toolkit.forms.computed import COMPUTED, cached_value, excel_n, identity_cell, is_number
from toolkit.forms.layout import FIRST_ROW, LOC_RE, TALL_FIELDS, WIDTHS, layout_of, resolve
from toolkit.forms.prompts import (
    column_validation,
    field_hint,
    field_label,
    scheme_column_validation,
    table_option_hint,
    validation,
)
from toolkit.forms.styles import FONT, KIND_STYLE, MARKED, STYLES, FormSheet, column_style, height, lines
from toolkit.problems import Problem
from toolkit.rules.excel import TableCells
from toolkit.rules.model import Scheme
from toolkit.text.numbers import exact

CREATED = datetime(2024, 1, 1, tzinfo=timezone.utc)  # fixed: output must not depend on the clock


class Writer:
    """Writes one workbook; ``build()`` returns its bytes."""

    template_id = F.TEMPLATE_ID  # what _meta says (toolkit.forms.project_writer writes the other form)

    def __init__(self, scheme: Scheme, *, year: int | None, values: Mapping[str, Any],
                 tables: Mapping[str, Sequence[Mapping[str, Any]]], meta: Mapping[str, Any],
                 marks: Mapping[str, Sequence[str]], problems: Sequence[Problem]):
        self.scheme = scheme
        self.lay = layout_of(scheme)
        self.year = year
        self.values = dict(values)
        if year is not None and self.values.get("fiscal_year") in (None, ""):
            self.values["fiscal_year"] = year
        self.tables = tables
        self.meta = meta
        self.problems = problems
        self.live_cells: TableCells | None = None  # 绩效指标's rows, for the live 自评得分 sheet
        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, {
            "in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "remove_timezone": True,
            "default_format_properties": {"font_name": FONT, "font_size": 11},
        })
        self._formats: dict[tuple[str, bool], Format] = {}
        self.resolve_marks(marks)

    def resolve_marks(self, marks: Mapping[str, Sequence[str]]) -> None:
        """Logical locations → the cells of ``self.lay`` to mark (and the table rows they need)."""
        self.marks: dict[tuple[str, int, int], list[str]] = {}
        self.mark_rows: dict[str, int] = {}  # table name → highest marked row index
        for loc, msgs in (marks or {}).items():
            m = LOC_RE.match(loc)
            if m and m.group(1) in self.lay.tables:  # a marked row beyond the data still gets a row
                row = min(int(m.group(2)), F.MAX_TABLE_ROWS)
                self.mark_rows[m.group(1)] = max(self.mark_rows.get(m.group(1), 0), row)
            for i, cell in enumerate(resolve(self.lay, loc)):
                # a whole-row mark fills every cell; the comment goes on the first one
                self.marks.setdefault(cell, []).extend(list(msgs) if i == 0 else [])

    def fmt(self, style: str, marked: bool = False) -> Format:
        key = (style, marked)
        f = self._formats.get(key)
        if f is None:
            props = dict(STYLES[style])
            if marked:
                props.update(MARKED)
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
        elif is_number(value) and math.isfinite(float(value)):
            ws.write_number(row, col, float(value), self.fmt(style, marked))
        else:
            ws.write_string(row, col, str(value), self.fmt(style, marked))
        if msgs:
            self.comment(ws, row, col, msgs)

    def comment(self, ws: Worksheet, row: int, col: int, msgs: Sequence[str]) -> None:
        msgs = list(dict.fromkeys(msgs))
        text = "\n".join(f"{i}. {m}" if len(msgs) > 1 else m for i, m in enumerate(msgs, start=1))
        n_lines = lines(text, 40)
        ws.write_comment(row, col, text, {"author": "财政局审核", "x_scale": 2.6,
                                          "y_scale": max(1.0, min(8.0, n_lines * 0.33 + 0.4))})

    def sheet(self, name: str, widths: Sequence[float] = ()) -> Worksheet:
        ws = self.wb.add_worksheet(name, worksheet_class=FormSheet)
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
        ws.set_row(1, height(hint, sum(WIDTHS.get(ws.name, (20,) * ncols)[:ncols])))
        ws.repeat_rows(0, 2)

    def title_prefix(self) -> str:
        y = excel_n(self.values.get("fiscal_year"))
        return f"{int(y)}年度" if y.is_integer() and 2000 <= y <= 2100 else ""

    # -- build
    def build(self) -> bytes:
        self.wb.set_properties({
            "title": "部门整体支出绩效自评填报表", "subject": self.scheme.title, "author": "",
            "company": "", "comments": f"{F.TEMPLATE_ID} 版本 {F.TEMPLATE_VERSION}；评分方案 {self.scheme.id}",
            "created": CREATED,
        })
        if self.problems:
            help_sheets.problems_sheet(self)
        help_sheets.help_sheet(self)
        self.form_sheet(F.SHEET_BASIC, "基本信息", "黄色单元格为填写项，标 * 的为必填项；鼠标点击单元格可看到填写提示。")
        self.form_sheet(F.SHEET_MONEY, "收支情况",
                        "金额单位：万元（保留两位小数）；黄色单元格为填写项，标 * 的为必填项；绿色单元格自动计算，仅供核对。")
        self.scoring_sheet()
        self.indicators_sheet()
        self.analysis_sheet()
        self.table_sheets()
        self.live_score_sheet()
        self.meta_sheet()
        self.wb.close()
        return self.buf.getvalue()


    # -- 基本信息, 收支情况 (label | input | note)
    def form_sheet(self, sheet: str, title: str, hint: str) -> None:
        ws = self.sheet(sheet, WIDTHS[sheet])
        widths = WIDTHS[sheet]
        self.heading(ws, 4, title, hint)
        for c, h in enumerate(("序号", "项目", "填写内容", "填写说明")):
            ws.write_string(2, c, h, self.fmt("head"))
        for i, it in enumerate(self.lay.rows[sheet]):
            r = FIRST_ROW + i
            if it.kind == "section":
                ws.merge_range(r, 0, r, 3, it.text, self.fmt("block"))
                ws.set_row(r, 20)
            elif it.kind == "computed":
                self.computed_row(ws, r, it.computed)
            elif it.field:
                f = it.field
                ws.write_string(r, 0, it.number, self.fmt("label_c"))
                self.label(ws, r, 1, f)
                hint = field_hint(f)
                ws.write_string(r, 3, hint, self.fmt("note"))
                self.input(ws, sheet, r, 2, f)
                min_lines = TALL_FIELDS.get(f.key, 3 if f.kind == "longtext" else 1)
                ws.set_row(r, max(height(self.values.get(f.key), widths[2], min_lines),
                                  height(hint, widths[3] * 1.1), height(field_label(f), widths[1]), 20))
        self.scheme_tables(ws, sheet)

    # -- a scheme's own list tables (spec 08.4): below a form sheet's rows, or on sheets of their own
    def scheme_tables(self, ws: Worksheet, sheet: str) -> None:
        for t in self.scheme.tables:
            if t.sheet != sheet:
                continue
            _, hr, c0 = self.lay.tables[t.name]
            title = t.title + (f"（至少填写 {t.min_rows} 行）" if t.min_rows else "")
            if c0 > 0 or hr > 2:
                ws.merge_range(hr - 1, c0, hr - 1, c0 + len(t.columns) - 1, title, self.fmt("section"))
                ws.set_row(hr - 1, 24)
            for r, h in self.table(ws, t, hr, c0).items():
                ws.set_row(r, h)

    def table_sheets(self) -> None:
        own = [t.sheet for t in self.scheme.tables if t.sheet not in self.lay.rows]
        for sheet in dict.fromkeys(own):
            tables = [t for t in self.scheme.tables if t.sheet == sheet]
            widths = [max(c.width for t in tables if j < len(t.columns) for c in (t.columns[j],))
                      for j in range(max(len(t.columns) for t in tables))]
            ws = self.sheet(sheet, widths)
            self.heading(ws, len(widths), sheet, "每行填写一项，黄色单元格为填写项，点击单元格可看到填写提示（含是否必填）；"
                                                 "行不够时在表格下方紧接着填写。")
            self.scheme_tables(ws, sheet)

    def computed_row(self, ws: Worksheet, r: int, cid: str) -> None:
        c = COMPUTED[cid]
        ws.write_blank(r, 0, None, self.fmt("label_c"))
        ws.write_string(r, 1, c.label, self.fmt("label"))
        if cid == "identity_check":  # the scheme's own budget identity (spec 08.3: one formula)
            check = next((k for k in self.scheme.checks if k.id == "budget_identity" and k.sides is not None
                          and k.sides[1] == "=="), None)
            if check is None:
                ws.write_string(r, 2, "本评分方案不校验收支平衡", self.fmt("note"))
                ws.write_string(r, 3, "", self.fmt("note"))
                ws.set_row(r, 20)
                return
            c = identity_cell(check, c.label)
        ws.write_formula(r, 2, c.formula, self.fmt(c.style), cached_value(c, self.values))
        ws.write_string(r, 3, "根据上面填写的数据自动计算，仅供核对", self.fmt("note"))
        ws.set_row(r, 20)

    def label(self, ws: Worksheet, r: int, c: int, f: Field, note: str = "") -> None:
        text = field_label(f)
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
        style = KIND_STYLE.get(f.kind, "in_text")
        value = self.values.get(f.key)
        if last_col is not None and last_col > c:
            msgs = self.marks.get((sheet, r, c))
            ws.merge_range(r, c, r, last_col, "", self.fmt(style, msgs is not None))
        self.put(ws, sheet, r, c, value, style)
        dv = validation(f.kind, f.label, field_hint(f), choices=f.choices, low=f.min, high=f.max)
        if dv:
            ws.data_validation(r, c, r, c, dv)
        cell = xl_rowcol_to_cell(r, c, row_abs=True, col_abs=True)
        if self.wb.define_name(f.key, f"='{sheet}'!{cell}") != 0:
            raise ValueError(f"字段名 {f.key} 不能用作 Excel 名称")

    # -- 评分表
    def scoring_sheet(self) -> None:
        sheet = F.SHEET_SCORING
        ws = self.sheet(sheet, WIDTHS[sheet])
        widths = WIDTHS[sheet]
        hint = (f"评分方案：{self.scheme.title}。以下指标需由本单位根据实际情况自评；其他指标由系统根据"
                "《收支情况》《绩效指标》等数据自动计分（评分标准见《填表说明》）。")
        self.heading(ws, 4, "评分表（自评项目）", hint)
        for c, h in enumerate(("序号", "评价内容", "分值", "自评填写")):
            ws.write_string(2, c, h, self.fmt("head"))
        if not self.lay.rows[sheet]:
            ws.merge_range(FIRST_ROW, 0, FIRST_ROW, 3, "本评分方案没有需要自评判断的指标，本表无需填写。", self.fmt("cell_c"))
            ws.set_row(FIRST_ROW, 24)
        for i, it in enumerate(self.lay.rows[sheet]):
            r = FIRST_ROW + i
            if it.kind == "block":
                ws.write_string(r, 0, it.number, self.fmt("block_c"))
                ws.write_string(r, 1, it.text, self.fmt("block"))
                ws.write_string(r, 2, it.points, self.fmt("block_c"))
                ws.write_blank(r, 3, None, self.fmt("block"))
                ws.set_row(r, height(it.text, widths[1], 1) + 2)
            elif it.kind == "rule":
                ws.write_blank(r, 0, None, self.fmt("note"))
                ws.merge_range(r, 1, r, 3, it.text, self.fmt("note"))
                ws.set_row(r, height(it.text, (widths[1] + widths[2] + widths[3]) * 1.1))
            elif it.field:
                f = it.field
                ws.write_string(r, 0, it.number, self.fmt("label_c"))
                note = f.note if not f.key.startswith(("chk_", "note_")) else ""
                self.label(ws, r, 1, f, note)
                ws.write_string(r, 2, it.points, self.fmt("label_c"))
                self.input(ws, sheet, r, 3, f)
                min_lines = 4 if f.kind == "longtext" else 1
                label_h = height(field_label(f), widths[1]) + (height(note, widths[1] * 1.2) if note else 0)
                ws.set_row(r, max(height(self.values.get(f.key), widths[3], min_lines), label_h, 20))

    # -- 绩效指标
    def indicators_sheet(self) -> None:
        t = self.lay.defs[F.PERF_INDICATORS.name]
        sheet, hr, c0 = self.lay.tables[t.name]
        ws = self.sheet(sheet, [c.width for c in t.columns])
        ws.set_landscape()
        groups = "，".join(f"{g} {exact(p)}分" for g, p in self.scheme.indicator_groups.items())
        hint = (f"请逐行填写本单位年度绩效目标中的指标，每行一个。各一级指标的分值合计须为：{groups}。"
                "指标性质：≥（不低于）、≤（不高于）、=、区间（年度指标值填下限，指标值上限填上限）、定性"
                "（年度指标值填简短描述，实际完成值填 达成 / 部分达成 / 未达成）。"
                "计分方法：≥ 类完成值达到指标值得满分，未达到按 完成值÷指标值 计分；≤ 类不超过指标值得满分，超过按 "
                "指标值÷完成值 计分；= 类按偏离程度计分；区间类在区间内得满分；定性类按档次自评（达成 80%～100%、"
                "部分达成 60%～80%、未达成 0～60%，不填自评得分的分别按 100%、70%、30% 计）。"
                "得分低于分值的须填写偏差原因分析及改进措施。") + table_option_hint(self.scheme)
        self.heading(ws, len(t.columns), f"{self.title_prefix()}绩效指标", hint)
        ws.set_row(1, height(hint, sum(c.width for c in t.columns)))
        ws.freeze_panes(hr + 1, 0)
        ws.repeat_rows(hr, hr)
        for r, h in self.table(ws, t, hr, c0).items():
            ws.set_row(r, h)
        n = max(t.rows, len(self.tables.get(t.name) or ()), self.mark_rows.get(t.name, 0))
        self.live_cells = live_sheet.indicator_cells(self.scheme, self.lay, n)
        live_sheet.write_row_scores(ws, self.fmt, self.scheme, self.live_cells, hr)

    # -- 自评得分 (live score, toolkit.forms.live_sheet)
    def live_score_sheet(self) -> None:
        ws = self.sheet(live_sheet.SHEET, live_sheet.WIDTHS)
        assert self.live_cells is not None
        live_sheet.write_sheet(ws, self.fmt, self.scheme, self.live_cells,
                               lambda name, ref: self.wb.define_name(name, ref) and None,
                               self.wb.add_format)

    def table(self, ws: Worksheet, t: Table, hr: int, c0: int) -> dict[int, float]:
        """Write table ``t`` with its header at (hr, c0); returns the data rows' wanted heights."""
        rows = list(self.tables.get(t.name) or ())
        n = max(t.rows, len(rows), self.mark_rows.get(t.name, 0))
        own = t in self.scheme.tables
        styles = [KIND_STYLE.get(col.kind, "in_text") if own and col.kind not in ("text", "longtext", "choice")
                  else column_style(col) for col in t.columns]
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
            dv = scheme_column_validation(col) if own else column_validation(self.scheme, col)
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
                        h = max(h, height(v, col.width))
            heights[hr + 1 + i] = h
        return heights

    # -- 绩效分析
    def analysis_sheet(self) -> None:
        sheet = F.SHEET_ANALYSIS
        ws = self.sheet(sheet, WIDTHS[sheet])
        widths = WIDTHS[sheet]
        self.heading(ws, 4, "绩效分析",
                     "可分段填写，段与段之间在单元格内按 Alt+Enter 换行；粘贴大段文字时请先双击单元格，"
                     "不要把文字粘贴到下方单元格。")
        ws.write_string(2, 0, "序号", self.fmt("head"))
        ws.write_string(2, 1, "项目", self.fmt("head"))
        ws.merge_range(2, 2, 2, 3, "填写内容", self.fmt("head"))
        input_w = widths[2] + widths[3]
        for i, it in enumerate(self.lay.rows[sheet]):
            r = FIRST_ROW + i
            f = it.field
            assert f is not None
            ws.write_string(r, 0, it.number, self.fmt("label_c"))
            label_note = f.note if f.key not in ("duty_analysis",) else ""
            self.label(ws, r, 1, f, label_note)
            self.input(ws, sheet, r, 2, f, last_col=3)
            ws.set_row(r, max(height(self.values.get(f.key), input_w, TALL_FIELDS.get(f.key, 4)),
                              height(field_label(f) + "\n" + label_note, widths[1])))
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
        ws = self.wb.add_worksheet(F.SHEET_META, worksheet_class=FormSheet)
        entries: dict[str, Any] = {"template_id": self.template_id, "template_version": F.TEMPLATE_VERSION,
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
            if is_number(v) and k != "unit_code":
                ws.write_number(r, 1, float(v))
            else:
                ws.write_string(r, 1, str(v))
        ws.protect("")
        ws.very_hidden()
