"""The project form's workbook (项目支出绩效自评表, spec 06), written with XlsxWriter.

Sheets: 问题清单 (returned workbooks only) and 填表说明 (``toolkit.forms.help_sheets`` blocks), then
项目自评表, one printable A4 portrait page in the layout of the MOF 项目支出绩效自评表
(``toolkit.forms.project_layout``), and the very hidden ``_meta`` (template id
``jixiao-project-selfeval``). The contracts are the department workbook's (spec 02): every input a
yellow unlocked cell with a workbook-scoped defined name equal to its key, the indicator rows the
Excel table ``project_indicators``, labels and live cells locked, same input → same bytes.

``ProjectWriter`` is the department ``Writer`` with the project sheets: it shares its cell writing,
marks and comments, input validation, table writing and ``_meta``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from toolkit import fields as F
from toolkit.forms import help_sheets, live_sheet
from toolkit.forms import project_layout as P
from toolkit.forms.computed import excel_n, is_number
from toolkit.forms.layout import WIDTHS, project_form_layout
from toolkit.forms.styles import MARKED, STYLES, height
from toolkit.forms.writer import CREATED, Writer
from toolkit.problems import Problem
from toolkit.rules import inputs
from toolkit.rules.model import Node, Scheme
from toolkit.text.numbers import exact

# Styles of this sheet only (the rest are toolkit.forms.styles.STYLES).
PROJECT_STYLES: dict[str, dict[str, Any]] = {
    "star_c": {"font_color": "#C00000", "bold": True, "align": "center", "valign": "vcenter"},
    "hint_r": {"font_size": 9, "font_color": "#595959", "align": "right", "valign": "vcenter"},
    "calc_num": {**STYLES["calc_money"], "num_format": "0.00", "align": "center"},
}
SPENT, FULL = F.fund_key("total", "spent"), F.fund_key("total", "full")
OK_FORMAT = {"font_color": "#006100", "bg_color": "#C6EFCE"}
BAD_FORMAT = {"font_color": "#9C0006", "bg_color": "#FFC7CE", "bold": True}


def execution_node(scheme: Scheme) -> Node | None:
    """The scheme's 预算执行率 leaf: its proportional rule over the fund grid's 全年执行数 / 全年预算数."""
    for n in scheme.leaves():
        if n.rule is not None and n.rule.type == "proportional" and set(n.rule.inputs) == {SPENT, FULL}:
            return n
    return None


def execution_points(scheme: Scheme) -> Decimal:
    """The points of the scheme's 预算执行率, else 10."""
    n = execution_node(scheme)
    return n.points if n is not None else Decimal(10)


def execution_score_formula(scheme: Scheme) -> str:
    """The fund block's 得分 cell: the 自评得分 sheet's 预算执行率 leaf (one formula source), blank
    while both 全年预算数（A） and 全年执行数（B） are blank; ``execution_formulas`` without such a leaf."""
    n = execution_node(scheme)
    if n is None:
        return execution_formulas(execution_points(scheme))[1]
    return f'=IF(AND(ISBLANK({FULL}),ISBLANK({SPENT})),"",{live_sheet.node_cell(scheme, n.id)})'


def execution_formulas(points: Decimal, spent: str = SPENT, full: str = FULL) -> tuple[str, str]:
    """The live 执行率（B/A） and 得分 cells: blank until A (> 0) and B are numbers;
    执行率 = B/A, 得分 = ROUND(points × MIN(执行率, 1), 2) (100% 封顶)."""
    ready = f"AND(ISNUMBER({full}),ISNUMBER({spent}),N({full})>0)"
    rate = f'=IF({ready},{spent}/{full},"")'
    score = f'=IF({ready},ROUND({exact(points)}*MIN({spent}/{full},1),2),"")'
    return rate, score


def execution_values(points: Decimal, values: Mapping[str, Any]) -> tuple[Any, Any]:
    """What ``execution_formulas`` give for ``values`` (the cached results other readers see)."""
    spent, full = values.get(SPENT), values.get(FULL)
    if not (is_number(spent) and is_number(full) and excel_n(full) > 0):
        return "", ""
    rate = excel_n(spent) / excel_n(full)
    score = (points * Decimal(repr(min(rate, 1.0)))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return rate, float(score)


class ProjectWriter(Writer):
    """Writes one project workbook; ``build()`` returns its bytes."""

    template_id = F.PROJECT_TEMPLATE_ID

    def __init__(self, scheme: Scheme, *, year: int | None, values: Mapping[str, Any],
                 tables: Mapping[str, Sequence[Mapping[str, Any]]], meta: Mapping[str, Any],
                 marks: Mapping[str, Sequence[str]], problems: Sequence[Problem]):
        super().__init__(scheme, year=year, values=values, tables=tables, meta=meta, marks=marks,
                         problems=problems)
        t = P.TABLE
        need = max(len(tables.get(t.name) or ()), self.mark_rows.get(t.name, 0))
        self.extra = max(0, min(need, F.MAX_TABLE_ROWS) - t.rows)
        if self.extra:  # a returned workbook with more rows: everything below the table moves down
            self.lay = project_form_layout(self.extra)
            self.resolve_marks(marks)
        self.eff = inputs.field_map(scheme)  # required flags as the validator sees them
        self.points = execution_points(scheme)

    def build(self) -> bytes:
        self.wb.set_properties({
            "title": "项目支出绩效自评表", "subject": self.scheme.title, "author": "", "company": "",
            "comments": f"{F.PROJECT_TEMPLATE_ID} 版本 {F.TEMPLATE_VERSION}；评分方案 {self.scheme.id}",
            "created": CREATED,
        })
        if self.problems:
            help_sheets.problems_sheet(self)
        self.help_sheet()
        self.form_page()
        self.live_score_sheet()
        self.meta_sheet()
        self.wb.close()
        return self.buf.getvalue()

    # -- 填表说明
    def help_lines(self) -> list[str]:
        pts = exact(self.points)
        groups = self.scheme.indicator_groups
        if F.ALL_GROUPS in groups:
            split = f"产出、效益、满意度指标的分值由本单位按行分配，合计须为 {exact(sum(groups.values()))} 分"
        else:
            split = "各一级指标的分值合计须为：" + "，".join(f"{g} {exact(p)} 分" for g, p in groups.items())
        level2 = "；".join(f"{g}：{'、'.join(names)}" for g, names in F.LEVEL2_BY_LEVEL1.items())
        required = "、".join(dict.fromkeys(s.label for k, s in P.slots().items() if self.eff[k].required))
        return [
            "本表共有《填表说明》《项目自评表》《自评得分》三张工作表；每个项目填写一份，文件名建议为“单位名称_项目名称.xlsx”。"
            "《自评得分》和项目自评表右侧的“得分（自动计算）”列随填写自动计算，仅供核对，正式得分以财政局计算为准。",
            "淡黄色单元格为填写项，其他单元格已锁定；请勿删除、插入或重命名工作表，勿修改项目名称和表头。"
            "点击单元格可看到填写提示，带下拉箭头的单元格请从下拉列表中选择。",
            f"标 * 的为必填项（本方案：{required}）。“年度资金总额”一行标 * 表示其全年预算数（A）和全年执行数（B）必填。",
            "项目资金单位为万元，保留两位小数；没有的填 0 或留空。每一列都须满足：年度资金总额 = 本年财政拨款 + "
            "上年结转资金 + 其他资金。",
            f"执行率（B/A）和得分自动计算：预算执行率 {pts} 分，得分 = 执行率 × {pts} 分，执行率超过 100% 的按 100% "
            "计（封顶），四舍五入保留两位小数。",
            f"绩效指标每行填写一个三级指标，{split}；表下方的“分值合计核对”会显示合计是否正确。二级指标（{level2}）"
            "从下拉列表选择。",
            "年度指标值的写法：≥95%、≤5天、1～7天、=100；只写数字的按 ≥ 计分；定性指标填简短的文字描述，实际完成值填 "
            "达成 / 部分达成 / 未达成。",
            "计分方法：≥ 类完成值达到指标值得满分，未达到按 完成值÷指标值 计分；≤ 类不超过指标值得满分，超过按 "
            "指标值÷完成值 计分；= 类按偏离程度计分；区间类在区间内得满分；定性类按档次自评（达成 80%～100%、"
            "部分达成 60%～80%、未达成 0～60%，不填自评得分的分别按 100%、70%、30% 计）。"
            "得分低于分值的须填写偏差原因分析及改进措施；执行率低于 90% 的请说明原因。",
            "多段文字请在单元格内按 Alt+Enter 换行（WPS 相同），或双击单元格后再粘贴，不要把文字粘贴到下方单元格。",
            "填写完成后请保存为 .xlsx 格式（不要另存为 .xls、.et 或 PDF），按通知要求报送。",
        ]

    def help_sheet(self) -> None:
        ws, r = help_sheets.help_head(self, "项目支出绩效自评表")
        total_w = sum(WIDTHS[F.SHEET_HELP])
        for i, line in enumerate(self.help_lines(), start=1):
            text = f"{i}. {line}"
            ws.merge_range(r, 0, r, 4, text, self.fmt("para"))
            ws.set_row(r, height(text, total_w))
            r += 1
        r = help_sheets.notice_block(self, ws, r + 1) + 1
        ws.write_string(r, 0, "二、颜色说明", self.fmt("section"))
        r = help_sheets.legend_block(self, ws, r + 1, "自动计算（执行率、得分、分值合计核对）：已锁定，仅供核对")
        ws.write_string(r, 0, "*", self.fmt("star_c"))
        ws.merge_range(r, 1, r, 4, "必填项：标签前标 * 的项目必须填写", self.fmt("para"))
        r += 2
        ws.merge_range(r, 0, r, 4, f"三、评分标准（满分{exact(self.scheme.total)}分）", self.fmt("section"))
        r += 1
        for c, h in enumerate(("一级指标", "二级指标", "三级指标", "分值", "评分规则")):
            ws.write_string(r, c, h, self.fmt("head"))
        r = help_sheets.scoring_table(self, ws, r + 1)
        grades = "、".join(help_sheets.grade_words(self))
        ws.merge_range(r, 0, r, 4, f"评价等级：{grades}。", self.fmt("para"))
        ws.set_row(r, height(grades, total_w))
        r += 2
        ws.merge_range(r, 0, r, 4, f"模板标识：{F.PROJECT_TEMPLATE_ID}　模板版本：{F.TEMPLATE_VERSION}　"
                                   f"评分方案：{self.scheme.id}", self.fmt("grey"))

    def fmt(self, style: str, marked: bool = False) -> Format:
        if style in PROJECT_STYLES and (style, marked) not in self._formats:
            props = dict(PROJECT_STYLES[style])
            if marked:
                props.update(MARKED)
            self._formats[(style, marked)] = self.wb.add_format(props)
        return super().fmt(style, marked)

    # -- 项目自评表

    def form_page(self) -> None:
        ws = self.sheet(P.SHEET, P.WIDTHS)
        ws.fit_to_pages(1, 1)
        ws.set_footer("")
        ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
        last = P.NCOLS - 1
        ws.merge_range(P.ROW_TITLE, 0, P.ROW_TITLE, last, "项目支出绩效自评表", self.fmt("title"))
        ws.set_row(P.ROW_TITLE, 36)
        y = excel_n(self.values.get("fiscal_year"))
        cached = f"（{int(y)}年度）" if y.is_integer() and 2000 <= y <= 2100 else "（　　　　年度）"
        ws.merge_range(P.ROW_YEAR, 0, P.ROW_YEAR, last, "", self.fmt("subtitle"))
        ws.write_formula(P.ROW_YEAR, 0, '=IF(AND(ISNUMBER(fiscal_year),fiscal_year>=2000),"（"&fiscal_year&"年度）",'
                                        '"（　　　　年度）")', self.fmt("subtitle"), cached)
        ws.set_row(P.ROW_YEAR, 20)
        hint = "金额单位：万元。黄色单元格为填写项，标 * 的为必填项；绿色单元格自动计算。"
        ws.merge_range(P.ROW_HINT, 0, P.ROW_HINT, last, hint, self.fmt("hint_r"))
        ws.set_row(P.ROW_HINT, 16)
        slots = P.slots(self.extra)
        for key, s in slots.items():
            if not key.startswith("fund_"):
                self.slot(ws, key, s)
        self.fund_grid(ws)
        self.goals(ws)
        self.indicators(ws)
        self.footer(ws)
        ws.print_area(0, 0, P.last_row(self.extra), last)

    def slot(self, ws: Worksheet, key: str, s: P.Slot) -> None:
        f = self.eff[key]
        self.slot_label(ws, s.label_row, s.label_col, s.label_last, s.label, f.required)
        self.input(ws, P.SHEET, s.row, s.col, f, last_col=s.last)
        width = sum(P.WIDTHS[s.col:s.last + 1])
        min_lines = 4 if f.kind == "longtext" else 1
        ws.set_row(s.row, max(height(self.values.get(f.key), width, min_lines), 24.0))

    def slot_label(self, ws: Worksheet, r: int, c: int, last: int, text: str, required: bool) -> None:
        style = self.fmt("label_c")
        if last > c:
            ws.merge_range(r, c, r, last, "", style)
        if required:
            ws.write_rich_string(r, c, self.fmt("star"), "* ", text, style)
        else:
            ws.write_string(r, c, text, style)

    def fund_grid(self, ws: Worksheet) -> None:
        r0 = P.ROW_FUND
        head = self.fmt("label_c")
        ws.merge_range(r0, 0, r0 + len(F.FUND_ROWS), 0, "项目资金\n（万元）", head)
        ws.merge_range(r0, 1, r0, 2, "", head)
        for j, (_, label) in enumerate(F.FUND_COLS):
            ws.write_string(r0, P.FUND_COL0 + j, label, head)
        ws.write_string(r0, P.COL_POINTS, "分值", head)
        ws.merge_range(r0, P.COL_RATE, r0, P.COL_RATE_LAST, "执行率（B/A）", head)
        ws.write_string(r0, P.COL_SCORE, "得分", head)
        ws.set_row(r0, 30)
        rate_f, score_f = execution_formulas(self.points)[0], execution_score_formula(self.scheme)
        rate_v, score_v = execution_values(self.points, self.values)
        for i, (row, label) in enumerate(F.FUND_ROWS):
            r = r0 + 1 + i
            keys = [F.fund_key(row, col) for col, _ in F.FUND_COLS]
            self.slot_label(ws, r, 1, 2, label, any(self.eff[k].required for k in keys))
            for j, k in enumerate(keys):
                self.input(ws, P.SHEET, r, P.FUND_COL0 + j, self.eff[k])
            if i == 0:
                ws.write_number(r, P.COL_POINTS, float(self.points), self.fmt("label_c"))
                ws.merge_range(r, P.COL_RATE, r, P.COL_RATE_LAST, "", self.fmt("calc_pct"))
                ws.write_formula(r, P.COL_RATE, rate_f, self.fmt("calc_pct"), rate_v)
                ws.write_formula(r, P.COL_SCORE, score_f, self.fmt("calc_num"), score_v)
            else:
                ws.write_string(r, P.COL_POINTS, "—", self.fmt("label_c"))
                ws.merge_range(r, P.COL_RATE, r, P.COL_RATE_LAST, "—", self.fmt("label_c"))
                ws.write_string(r, P.COL_SCORE, "—", self.fmt("label_c"))
            ws.set_row(r, 24)

    def goals(self, ws: Worksheet) -> None:
        r = P.ROW_GOAL
        ws.merge_range(r, 0, r + 1, 0, "年度\n总体\n目标", self.fmt("label_c"))
        ws.set_row(r, 20)
        tall = max(height(self.values.get(k), sum(P.WIDTHS[s.col:s.last + 1]), 8)
                   for k, s in P.slots(self.extra).items() if k.startswith("goal_"))
        ws.set_row(r + 1, tall)

    def indicators(self, ws: Worksheet) -> None:
        t, hr = P.TABLE, P.ROW_TABLE
        self.table(ws, t, hr, P.TABLE_COL0)
        # the live 得分（自动计算） column right of the table (outside the print area); only the thin
        # spacer row under the table can take rows the reader would read
        self.live_cells = live_sheet.indicator_cells(self.scheme, self.lay, P.table_rows(self.extra), below=1)
        live_sheet.write_row_scores(ws, self.fmt, self.scheme, self.live_cells, hr)
        ws.merge_range(hr, 0, hr + P.table_rows(self.extra), 0, "绩效\n指标", self.fmt("label_c"))
        ws.set_row(hr, 46)
        rows = list(self.tables.get(t.name) or ())
        widths = P.WIDTHS[P.TABLE_COL0:]
        for i in range(P.table_rows(self.extra)):  # heights by the columns as wide as this sheet has them
            row = rows[i] if i < len(rows) else {}
            typed = [height(row.get(c.key), w) for c, w in zip(t.columns, widths, strict=True)
                     if row.get(c.key) not in (None, "")]
            ws.set_row(hr + 1 + i, max([24.0, *typed]))

    def points_range(self) -> str:
        col = P.TABLE_COL0 + [c.key for c in P.TABLE.columns].index("points")
        first, last = P.ROW_TABLE + 1, P.ROW_TABLE + P.table_rows(self.extra)
        return (f"{xl_rowcol_to_cell(first, col, row_abs=True, col_abs=True)}:"
                f"{xl_rowcol_to_cell(last, col, row_abs=True, col_abs=True)}")

    def footer(self, ws: Worksheet) -> None:
        ws.set_row(P.spacer_row(self.extra), 5)
        r = P.footer_row(self.extra)
        label = self.fmt("label_c")
        ws.merge_range(r, 0, r, 1, "总分", label)
        ws.write_string(r, 2, exact(self.scheme.total), label)
        ws.write_string(r, 3, "自评得分", label)
        ws.merge_range(r, 4, r, 5, "", self.fmt("calc_num"))
        ws.write_formula(r, 4, f"={live_sheet.TOTAL_NAME}", self.fmt("calc_num"), "")
        ws.merge_range(r, 6, r, 7, "自评等级", label)
        ws.merge_range(r, 8, r, 9, "", self.fmt("calc_text"))
        ws.write_formula(r, 8, f"={live_sheet.GRADE_NAME}", self.fmt("calc_text"), "")
        ws.set_row(r, 22)
        # the live 分值合计 check: red when the rows' points do not add up to the scheme's 90
        rng, want = self.points_range(), exact(sum(self.scheme.indicator_groups.values()))
        r += 1
        ws.merge_range(r, 0, r, 1, "分值合计核对", label)
        ws.merge_range(r, 2, r, 9, "", self.fmt("calc_text"))
        formula = f'=IF(COUNT({rng})=0,"","绩效指标分值合计 = "&SUM({rng})&"（应为 {want}）")'
        ws.write_formula(r, 2, formula, self.fmt("calc_text"), self.points_check_value(want))
        cell = xl_rowcol_to_cell(r, 2)
        for crit, props in ((f"AND(COUNT({rng})>0,ABS(SUM({rng})-{want})>0.005)", BAD_FORMAT),
                            (f"AND(COUNT({rng})>0,ABS(SUM({rng})-{want})<=0.005)", OK_FORMAT)):
            ws.conditional_format(f"{cell}:{xl_rowcol_to_cell(r, 9)}", {
                "type": "formula", "criteria": "=" + crit, "format": self.wb.add_format(props)})
        ws.set_row(r, 22)

    def points_check_value(self, want: str) -> str:
        rows = self.tables.get(P.TABLE.name) or ()
        pts = [excel_n(row.get("points")) for row in rows if is_number(row.get("points"))]
        if not pts:
            return ""
        total = sum(pts)
        return f"绩效指标分值合计 = {exact(Decimal(repr(round(total, 10))))}（应为 {want}）"

