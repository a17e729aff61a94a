"""The explanatory sheets: 问题清单 (first sheet of a returned workbook) and 填表说明 (instructions,
colour legend and the scheme's scoring standard)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from toolkit import fields as F
from toolkit.forms.describe import describe_rule
from toolkit.forms.layout import PROBLEMS_SHEET, WIDTHS
from toolkit.forms.styles import height
from toolkit.problems import Problem
from toolkit.rules.model import Scheme
from toolkit.text.numbers import exact


class Writer(Protocol):
    """What these sheets need of the workbook writer (toolkit.forms.writer.Writer), without
    importing it: the writer calls these functions, not the other way round."""

    scheme: Scheme
    problems: Sequence[Problem]

    @property
    def values(self) -> Mapping[str, Any]: ...  # notice_* keys fill the officer's lines

    def fmt(self, style: str, marked: bool = False) -> Format: ...
    def sheet(self, name: str, widths: Sequence[float] = ()) -> Worksheet: ...
    def heading(self, ws: Worksheet, ncols: int, title: str, hint: str) -> None: ...
    def title_prefix(self) -> str: ...


def problems_sheet(w: Writer) -> None:
    ws = w.sheet(PROBLEMS_SHEET, WIDTHS[PROBLEMS_SHEET])
    ws.set_tab_color("#C00000")
    ws.activate()
    errors = sum(1 for p in w.problems if p.severity == "error")
    hint = (f"共 {len(w.problems)} 个问题：错误 {errors} 个（必须修改），提示 {len(w.problems) - errors} 个"
            "（请核实）。有问题的单元格已用粉红色标出，鼠标移到单元格上可查看说明；点击“单元格”列可跳转。"
            "请逐项修改后重新报送。")
    w.heading(ws, 5, "退回修改问题清单", hint)
    for c, h in enumerate(("序号", "严重程度", "工作表", "单元格", "说明")):
        ws.write_string(2, c, h, w.fmt("head"))
    sheets = set(F.form(w.scheme.form).sheets) | {t.sheet for t in w.scheme.tables}
    for i, p in enumerate(w.problems, start=1):
        r = 2 + i
        ws.write_number(r, 0, i, w.fmt("cell_c"))
        if p.severity == "error":
            ws.write_string(r, 1, "错误", w.fmt("cell_err"))
        else:
            ws.write_string(r, 1, "提示", w.fmt("cell_c"))
        ws.write_string(r, 2, p.sheet or "", w.fmt("cell_c"))
        cell = p.cell or ""
        if p.sheet in sheets and p.sheet != F.SHEET_META and re.fullmatch(r"[A-Z]{1,3}[0-9]{1,7}", cell):
            ws.write_url(r, 3, f"internal:'{p.sheet}'!{cell}", w.fmt("link"), string=cell)
        else:
            ws.write_string(r, 3, cell, w.fmt("cell_c"))
        ws.write_string(r, 4, p.message, w.fmt("cell"))
        ws.set_row(r, height(p.message, WIDTHS[PROBLEMS_SHEET][4]))


# The officer's lines of 填表说明 (template --deadline / --method / --contact): key in the writer's
# values → label. Blank unless given, so the default template stays byte-identical.
NOTICE_LINES = (("notice_deadline", "报送截止时间："), ("notice_method", "报送方式："),
                ("notice_contact", "联系人及电话："))


_CN_COUNTS = "零一二三四五六七八九十"


def _sheets_line(scheme: Scheme) -> str:
    """填表说明's first line: the form sheets, and the sheets the scheme's own tables add."""
    names = [F.SHEET_BASIC, F.SHEET_MONEY, F.SHEET_SCORING, F.SHEET_INDICATORS, F.SHEET_ANALYSIS]
    names += [t.sheet for t in scheme.tables if t.sheet not in names]
    names = list(dict.fromkeys(names))
    n = _CN_COUNTS[len(names)] if len(names) < len(_CN_COUNTS) else str(len(names))
    return f"本表共有{''.join(f'《{x}》' for x in names)}{n}张工作表，请逐表填写。"


def _tables_lines(scheme: Scheme) -> list[str]:
    """One line per list table the scheme adds (spec 08.4): where it is and how to fill it."""
    return [f"《{t.sheet}》中的“{t.title}”表每行填写一项（列：{'、'.join(c.header for c in t.columns)}），"
            f"行不够时在表格下方紧接着填写" + (f"，至少填写 {t.min_rows} 行。" if t.min_rows else "。")
            for t in scheme.tables]


def help_head(w: Writer, title: str) -> tuple[Worksheet, int]:
    """填表说明's title, scheme line and “一、填报说明” heading (both forms) → (sheet, next row)."""
    ws = w.sheet(F.SHEET_HELP, WIDTHS[F.SHEET_HELP])
    ws.merge_range(0, 0, 0, 4, f"{w.title_prefix()}{title}", w.fmt("title"))
    ws.set_row(0, 34)
    ws.merge_range(1, 0, 1, 4, f"评分方案：{w.scheme.title}", w.fmt("subtitle"))
    ws.repeat_rows(0, 1)
    ws.write_string(3, 0, "一、填报说明", w.fmt("section"))
    return ws, 4


def help_sheet(w: Writer) -> None:
    ws, r = help_head(w, "部门整体支出绩效自评填报表")
    total_w = sum(WIDTHS[F.SHEET_HELP])
    groups = "、".join(w.scheme.indicator_groups) or "产出指标、效益指标"
    lines = [
        _sheets_line(w.scheme),
        "淡黄色单元格为填写项；其他单元格已锁定。请勿删除、插入或重命名工作表，勿修改项目名称和表头。",
        "金额单位为万元，保留两位小数；人数单位为人；面积单位为平方米；百分比直接填写，如 95%。",
        "带下拉箭头的单元格请从下拉列表中选择；标 * 的项目为必填项；点击单元格可看到填写提示。",
        "多段文字请在单元格内按 Alt+Enter 换行（WPS 相同），或双击单元格后再粘贴，不要把文字粘贴到下方单元格。",
        f"《绩效指标》填写本单位年度绩效目标中的{groups}，各一级指标的分值合计须与评分标准一致。",
        "《评分表》中得分低于满分的指标、《绩效指标》中得分低于分值的指标行，须填写扣分（偏差）原因及改进措施。",
        *_tables_lines(w.scheme),
        f"《{F.SHEET_LIVE}》随填写自动计算各指标得分、总分和等级，并用绿色/红色显示收支平衡和分值合计的校验结果，"
        "供填报时核对（无需填写）；显示“提交后由财政局计算”的，提交后由财政局按评分方案计算，正式得分以财政局计算为准。",
        "填写完成后请保存为 .xlsx 格式（不要另存为 .xls、.et 或 PDF），按通知要求报送。",
    ]
    for i, line in enumerate(lines, start=1):
        text = f"{i}. {line}"
        ws.merge_range(r, 0, r, 4, text, w.fmt("para"))
        ws.set_row(r, height(text, total_w))
        r += 1
    r = notice_block(w, ws, r + 1) + 1
    ws.write_string(r, 0, "二、颜色说明", w.fmt("section"))
    r = legend_block(w, ws, r + 1) + 1
    ws.merge_range(r, 0, r, 4, f"三、评分标准（满分{exact(w.scheme.total)}分）", w.fmt("section"))
    r += 1
    for c, h in enumerate(("一级指标", "二级指标", "三级指标", "分值", "评分规则")):
        ws.write_string(r, c, h, w.fmt("head"))
    r += 1
    r = scoring_table(w, ws, r)
    grades = "、".join(grade_words(w))
    ws.merge_range(r, 0, r, 4, f"评价等级：{grades}。", w.fmt("para"))
    ws.set_row(r, height(grades, total_w))
    r += 2
    ws.merge_range(r, 0, r, 4, f"模板标识：{F.TEMPLATE_ID}　模板版本：{F.TEMPLATE_VERSION}　"
                               f"评分方案：{w.scheme.id}", w.fmt("grey"))


def notice_block(w: Writer, ws: Worksheet, r: int) -> int:
    """The officer's lines (报送截止时间 …) from row ``r`` over columns A–E; returns the next row."""
    for key, label in NOTICE_LINES:
        ws.merge_range(r, 0, r, 1, label, w.fmt("para"))
        ws.merge_range(r, 2, r, 4, str(w.values.get(key) or ""), w.fmt("officer"))
        ws.set_row(r, 22)
        r += 1
    return r


def legend_block(w: Writer, ws: Worksheet, r: int, calc: str = "自动计算：仅供核对，不作为评分依据") -> int:
    """The colour legend from row ``r`` over columns A–E; returns the next row."""
    for style, text in (("legend_in", "填写项：请在此类单元格中填写"),
                        ("legend_label", "项目名称、说明：已锁定，不需填写"),
                        ("legend_calc", calc),
                        ("legend_mark", "退回修改时标出的有问题的单元格：鼠标移到单元格上可查看说明")):
        ws.write_blank(r, 0, None, w.fmt(style))
        ws.merge_range(r, 1, r, 4, text, w.fmt("para"))
        r += 1
    return r


def grade_words(w: Writer) -> list[str]:
    gs = list(w.scheme.grades)
    out = []
    for i, g in enumerate(gs):
        if i == 0:
            out.append(f"{g.name}（{exact(g.min)}分及以上）")
        elif g.min == 0:
            out.append(f"{g.name}（{exact(gs[i - 1].min)}分以下）")
        else:
            out.append(f"{g.name}（{exact(g.min)}～{exact(gs[i - 1].min)}分，不含{exact(gs[i - 1].min)}分）")
    return out


def scoring_table(w: Writer, ws: Worksheet, r: int) -> int:
    widths = WIDTHS[F.SHEET_HELP]
    for lv in w.scheme.levels:
        leaves = [n for n in lv.walk() if n.is_leaf]
        start = r
        for leaf in leaves:
            path = leaf.path
            lv2 = path[1] if len(path) > 2 else (path[1] if len(path) == 2 else "")
            lv3 = "／".join(path[2:]) if len(path) > 2 else ""
            rule = describe_rule(w.scheme, leaf)
            ws.write_string(r, 2, lv3, w.fmt("cell"))
            ws.write_string(r, 3, exact(leaf.points), w.fmt("cell_c"))
            ws.write_string(r, 4, rule, w.fmt("cell"))
            ws.set_row(r, max(height(rule, widths[4]), height(lv3, widths[2])))
            ws.write_string(r, 1, lv2, w.fmt("label_c"))
            r += 1
        # merge the 二级 cells of consecutive leaves under the same 二级 node
        _merge_runs(w, ws, start, [n.path[1] if len(n.path) > 1 else "" for n in leaves], 1,
                         {c.name: c.points for c in lv.children})
        text = f"{lv.name}\n（{exact(lv.points)}分）"
        if r - start > 1:
            ws.merge_range(start, 0, r - 1, 0, text, w.fmt("label_c"))
        else:
            ws.write_string(start, 0, text, w.fmt("label_c"))
    ws.merge_range(r, 0, r, 2, "合计", w.fmt("block_c"))
    ws.write_string(r, 3, exact(w.scheme.total), w.fmt("block_c"))
    ws.write_blank(r, 4, None, w.fmt("block_c"))
    return _adjustment_rows(w, ws, r + 1)


def _adjustment_rows(w: Writer, ws: Worksheet, r: int) -> int:
    """The scheme's bonus / penalty items after the 合计 row, and how the total is capped."""
    adjustments = w.scheme.adjustments
    if not adjustments:
        return r
    widths = WIDTHS[F.SHEET_HELP]
    start = r
    for a in adjustments:
        word = "加" if a.kind == "bonus" else "扣"
        rule = f"{word}分项，最多{word}{exact(a.node.points)}分：{describe_rule(w.scheme, a.node)}"
        ws.merge_range(r, 1, r, 2, a.node.name, w.fmt("cell"))
        ws.write_string(r, 3, exact(a.node.points), w.fmt("cell_c"))
        ws.write_string(r, 4, rule, w.fmt("cell"))
        ws.set_row(r, height(rule, widths[4]))
        r += 1
    text = "加减分项"
    if r - start > 1:
        ws.merge_range(start, 0, r - 1, 0, text, w.fmt("label_c"))
    else:
        ws.write_string(start, 0, text, w.fmt("label_c"))
    note = (f"总分 = 各项指标得分合计 + 加分 − 扣分，最低0分，最高{exact(w.scheme.total_cap)}分。")
    ws.merge_range(r, 0, r, 4, note, w.fmt("cell"))
    ws.set_row(r, height(note, sum(widths)))
    return r + 1


def _merge_runs(w: Writer, ws: Worksheet, start: int, names: list[str], col: int,
                points: Mapping[str, Decimal]) -> None:
    i = 0
    while i < len(names):
        j = i
        while j + 1 < len(names) and names[j + 1] == names[i]:
            j += 1
        name = names[i]
        text = f"{name}\n（{exact(points[name])}分）" if name in points else name
        if j > i:
            ws.merge_range(start + i, col, start + j, col, text, w.fmt("label_c"))
        else:
            ws.write_string(start + i, col, text, w.fmt("label_c"))
        i = j + 1
