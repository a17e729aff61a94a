"""The one catalogue of problems: code → severity, what is wrong, and how to fix it (Chinese).

Every Problem the toolkit reports is made here with ``problem(code, …)``, so wording stays
consistent and a test can check that each code has a message and a fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal, NamedTuple

Severity = Literal["error", "warning"]


@dataclass(frozen=True, init=False)
class Problem:
    """One thing wrong with a workbook, named by sheet and cell, with the fix (Chinese).

    A problem is data until shown: the catalogue code, its ``params`` and its cells. ``message`` is
    rendered from them each time (``render``), so moving the cells (a returned workbook)
    re-words the text. A Problem rebuilt from text only (``params`` None) keeps that text.
    """

    code: str
    severity: Severity
    sheet: str | None
    cell: str | None  # first cell involved, e.g. "C7"
    cells: tuple[str, ...]  # every cell involved, as "收支情况!C7"
    field: str | None  # field key or table name
    params: dict[str, Any] | None = dc_field(hash=False)
    text: str = dc_field(compare=False)  # the message as given when params is None

    def __init__(self, code: str, severity: Severity, message: str = "", sheet: str | None = None,
                 cell: str | None = None, cells: tuple[str, ...] = (), field: str | None = None,
                 params: dict[str, Any] | None = None, text: str = ""):
        for k, v in (("code", code), ("severity", severity), ("sheet", sheet), ("cell", cell),
                     ("cells", tuple(cells)), ("field", field), ("params", params), ("text", text or message)):
            object.__setattr__(self, k, v)

    @property
    def message(self) -> str:
        if self.params is None:
            return self.text
        return render(self)

    @property
    def location(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or ""

    def as_dict(self, *, with_params: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "sheet": self.sheet,
            "cell": self.cell,
            "cells": list(self.cells),
            "field": self.field,
            "message": self.message,
        }
        if with_params:  # for crossing a process boundary; results.json keeps the keys above
            d["params"] = self.params
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        """The inverse of ``as_dict`` (params kept when present, so the text can still be re-rendered)."""
        return cls(code=d["code"], severity=d["severity"], message=d.get("message") or "", sheet=d.get("sheet"),
                   cell=d.get("cell"), cells=tuple(d.get("cells") or ()), field=d.get("field"),
                   params=d.get("params"))


class Entry(NamedTuple):
    severity: Severity
    message: str  # what is wrong; {placeholders}
    fix: str  # what to do; shown in full-width brackets after the message


TEMPLATE_HINT = "请使用财政局下发的《部门整体支出绩效自评填报表》（jixiao template 生成）填报"

CATALOGUE: dict[str, Entry] = {
    # --- intake: the file itself
    "not_xlsx": Entry("error", "无法读取：不是有效的 Excel 文件（{detail}）",
                      "请在 Excel/WPS 中打开确认文件完好，另存为 .xlsx 后重新报送"),
    "legacy_format": Entry("error", "无法读取：文件是 {fmt} 格式，不是 .xlsx",
                           "请在 Excel/WPS 中“另存为”.xlsx 后重新报送"),
    "encrypted": Entry("error", "无法读取：文件已加密", "文件已加密，请取消密码后重新报送"),
    "zip_bomb": Entry("error", "无法读取：文件解压后异常庞大或结构异常（{detail}），为安全起见已拒绝",
                      "请从原始模板重新填报后报送"),
    "xml_bomb": Entry("error", "无法读取：文件中含有不允许的 XML 定义（DTD/实体），为安全起见已拒绝",
                      "请在 Excel/WPS 中另存为 .xlsx 后重新报送"),
    "macro_workbook": Entry("warning", "文件是启用宏的工作簿（.xlsm），本工具只读取数据，未运行任何宏",
                            "建议另存为 .xlsx 后报送"),
    "not_template": Entry("error", "不是本工具的填报模板（{detail}）", TEMPLATE_HINT),
    "template_version": Entry("error", "填报表模板版本为 {found}，本工具只接受版本 {expected}",
                              "请使用财政局最新下发的填报表重新填报"),
    "scheme_mismatch": Entry("warning", "填报表按方案 {found} 制作，本次按方案 {used} 评分",
                             "如评分方案有误，请联系财政局确认"),
    "missing_sheet": Entry("error", "缺少工作表“{sheet}”", "请不要删除或重命名模板中的工作表；" + TEMPLATE_HINT),
    "missing_name": Entry("error", "缺少名称为 {key} 的单元格（{label}）",
                          "该单元格或其名称被删除，请从原始模板复制该部分，或重新填报"),
    "missing_table": Entry("error", "缺少表格“{table}”（{title}）",
                           "请不要删除表格或修改表头，可从原始模板复制该表格"),
    "missing_inputs": Entry("error", "评分方案 {scheme} 需要的输入项在填报表中不存在：{keys}",
                            "请使用该方案的填报模板（jixiao template --scheme {scheme}）重新填报"),
    "bad_reference": Entry("error", "名称 {key} 指向的位置“{ref}”无效", "请从原始模板恢复该单元格"),
    "unreadable": Entry("error", "无法读取：{detail}", "请在 Excel/WPS 中打开确认文件完好后重新报送"),
    "worker_crash": Entry("error", "处理该文件时出错（{detail}），已跳过该文件", "请把该文件发给技术支持人员检查"),
    # --- values
    "required": Entry("error", "“{label}”未填写", "请填写{hint}"),
    "not_number": Entry("error", "“{label}”应为数字，现为“{value}”", "请只填写阿拉伯数字，如 {example}"),
    "not_integer": Entry("error", "“{label}”应为整数，现为“{value}”", "请填写整数，如 {example}"),
    "negative": Entry("error", "“{label}”不能为负数，现为 {value}", "请填写大于或等于 0 的数"),
    "out_of_range": Entry("error", "“{label}”为 {value}，超出允许范围 {low}～{high}", "请核对后重新填写"),
    "formula_error": Entry("error", "“{label}”单元格显示公式错误 {value}", "请删除公式，直接填写数值"),
    "bad_choice": Entry("error", "“{label}”应为 {choices} 之一，现为“{value}”", "请从下拉列表中选择"),
    "bad_date": Entry("error", "“{label}”不是有效日期，现为“{value}”",
                      "请填写如 2024-04-30、2024.4.30 或 2024年4月30日"),
    "bad_email": Entry("warning", "“{label}”中的“{value}”不是有效的电子邮箱地址，评价结果无法发送到该地址",
                       "请填写如 name@example.com 的邮箱地址，多个地址用分号隔开"),
    "email_missing": Entry("warning", "“{label}”未填写，评价结果无法通过邮件发送给本单位", "请填写如 name@example.com 的邮箱地址"),
    "absurd_number": Entry("error", "“{label}”为 {value}，数值大得不合常理（应小于 {limit}）", "请核对数值和单位后重新填写"),
    "money_in_yuan": Entry("error", "“{label}”填写为“{value}”，单位是元，而本表金额单位为万元",
                           "请换算为万元后只填数字，即 {wan}"),
    "year_mismatch": Entry("warning", "“{label}”为 {value}，而本次评价的是 {expected} 年度",
                           "请核对评价年度，如为 {expected} 年度请改为 {expected}"),
    "unit_count_mismatch": Entry("warning", "“内设机构数”为 {count}，而“内设机构名称”中列出了 {names} 个",
                                 "请核对内设机构数与内设机构名称是否一致"),
    "line_break_mid_sentence": Entry("warning", "“{label}”有 {count} 处在句子中间换行（如“…{example}”之后），"
                                     "多为从 PDF 或 Word 粘贴所致，报告中已自动接续",
                                     "请检查报告中接续后的文字是否通顺；需要分段处请以句号结尾"),
    "text_too_long": Entry("warning", "“{label}”共 {length} 字，将在报告中占约 {pages} 页",
                           "请精简到 {limit} 字以内，只写主要内容"),
    "too_many_decimals": Entry("warning", "“{label}”为 {value}，金额最多保留两位小数，已按 {rounded} 读取",
                               "请确认金额单位为万元并保留两位小数"),
    "percent_fraction": Entry("warning", "“{label}”填写为 {value}，已按 {read} 读取",
                              "百分比请直接填写如 99 或 99%"),
    "text_spill": Entry("warning", "“{label}”下方的单元格 {below} 也有文字，可能是粘贴时文字溢出到了下面的单元格",
                        "请双击 {cell} 进入编辑状态后再粘贴，使全部文字位于同一单元格，并清空下方单元格"),
    # --- consistency
    "budget_identity": Entry("error",
                             "收支不平衡：年初结转结余 + 本年收到财政资金 + 本年其他收入 − 本年基本支出 − 本年项目支出 = "
                             "{left}万元，而年末基本支出结余 + 年末项目支出结余 = {right}万元，相差 {diff}万元",
                             "请核对 {cells} 的金额"),
    "check_failed": Entry("error", "校验不通过：{message}", "请核对 {labels}（{cells}）"),
    "check_warning": Entry("warning", "请注意：{message}", "请核对 {labels}（{cells}）"),
    "low_execution_unexplained": Entry("warning", "预算执行率为 {rate}，低于 90%，但未说明原因",
                                       "请在绩效指标的“偏差原因分析及改进措施”或“存在的问题”中说明执行率偏低的原因"),
    "budget_income_mismatch": Entry("warning",
                                    "年初预算数 + 本年追加（调减）预算数 = {budget}万元，与本年收到财政资金 {income}万元 相差 {diff}万元",
                                    "请核对预算数与收到的财政资金"),
    "tier_missing": Entry("error", "“{label}”已填写自评得分但未选择完成档次", "请从下拉列表选择完成档次"),
    "tier_range": Entry("error", "自评得分 {score} 分不在“{tier}”档次的得分范围 {low}～{high} 分内",
                        "请调整自评得分或完成档次"),
    "indicator_points": Entry("error", "“{group}”各行分值之和为 {total} 分，应为 {points} 分",
                              "请调整绩效指标表中“{group}”各行的分值"),
    "indicator_group": Entry("error", "一级指标“{value}”不属于本方案，可填：{groups}", "请从下拉列表中选择"),
    "indicator_group_missing": Entry("error", "绩效指标表中没有“{group}”的指标（本方案该项 {points} 分）",
                                     "请至少填写一行“{group}”指标"),
    "level2_mismatch": Entry("warning", "二级指标“{value}”不属于一级指标“{level1}”，通常为：{choices}",
                             "请从下拉列表中选择与一级指标对应的二级指标"),
    "bad_direction": Entry("error", "指标性质“{value}”无法识别",
                           "可填写：≥（>=、不低于、不少于）、≤（<=、不高于、不超过、以内）、=、区间、定性"),
    "bad_qualitative": Entry("error", "定性指标的实际完成值应为 达成、部分达成 或 未达成，现为“{value}”",
                             "请填写 达成、部分达成 或 未达成"),
    "bad_qualitative_word": Entry("error", "定性指标的实际完成值“{value}”不是本方案可用的词",
                                  "请填写以下词之一（{words}）"),
    "self_score_not_qualitative": Entry("warning", "自评得分只用于定性指标，本行已按计算结果评分", "可清空该单元格"),
    # --- added by intake/validate
    "missing_column": Entry("error", "表格“{title}”缺少列“{header}”",
                            "请不要删除表格的列或修改表头，可从原始模板复制该表格"),
    "not_positive": Entry("error", "“{label}”应大于 0，现为 {value}", "请填写大于 0 的分值"),
    "direction_conflict": Entry("error", "“{label}”填写为“{value}”，与指标性质“{direction}”不一致",
                                "请核对指标性质和年度指标值"),
    "bad_interval": Entry("error", "“{label}”的区间下限 {low} 大于上限 {high}", "请核对年度指标值和指标值上限"),
    "table_empty": Entry("error", "“{title}”至少需要填写一行", "请在表格中填写"),
    "formula_undefined": Entry("error", "“{label}”无法计算：相关数据超出可计算范围（{cells}）", "请核对相关数据"),
    "table_truncated": Entry("error", "表格“{title}”超过 {max} 行，第 {max} 行之后的内容未读取",
                             "请删除多余的行；确需更多行请联系财政局"),
    "zero_denominator": Entry("error", "“{label}”无法计算：分母为 0（{cells}）", "请核对相关数据"),
    "first_given_blank": Entry("error", "“{label}”的评分依据均未填写：{labels}", "请至少填写其中一项"),
    "note_required": Entry("error", "“{label}”得 {score} 分，低于分值 {points} 分，未填写原因说明",
                           "请在该单元格说明扣分原因及改进措施"),
    "live_total_mismatch": Entry("warning", "《自评得分》表中的总分 {live} 分（{where}）与按评分方案计算的总分 {total} 分不一致",
                                 "该表的公式可能被改动或未重新计算；以 {total} 分为准，如有疑问请改用财政局新下发的填报表"),
    "overachieved": Entry("warning", "“{label}”实际完成值 {actual} 超过年度指标值 {target} 的150%，指标值设定可能偏低",
                          "请核实完成值；如无误，下年度请合理提高指标值"),
    "coefficient_range": Entry("error", "“{label}”为 {value}%，得分系数应在 0～100% 之间",
                               "请填写 0～100% 的系数，如 0.9、90 或 90%"),
    "coefficient_note": Entry("error", "“{label}”未填写：本行填写了得分系数 {coefficient}，须说明理由",
                              "请在该单元格说明按得分系数计分的原因及改进措施"),
    "option_unused": Entry("warning", "“{label}”已填写，但本方案“{group}”各行不使用此列，本行仍按常规方法计分",
                           "请核对该行的一级指标；如无误，可清空该单元格"),
    "duplicate_unit": Entry("error", "与文件“{other}”是同一单位同一年度（{unit}，{year}年）的填报表，重复报送",
                            "请删除过期的一份后重新运行"),
    "not_in_roster": Entry("warning", "单位“{unit}”不在单位名册中", "请核对单位名称、单位编码，或把该单位补入名册"),
    "duplicate_newer": Entry("warning", "同一单位同一年度还有文件“{other}”（较早的一份），已按较新的本份处理",
                             "如应以另一份为准，请删除本份后重新运行"),
    "duplicate_older": Entry("error", "同一单位同一年度有较新的文件“{other}”，本份未处理（{unit}，{year}年）",
                             "如应以本份为准，请删除较新的一份后重新运行"),
}


# Problems only the finance officer can resolve (spec 07): listed for the officer everywhere, never
# mailed to a clerk (a unit with one of these is held back by `jixiao mail`).
OFFICER_ONLY: frozenset[str] = frozenset({"duplicate_unit", "duplicate_older"})


def problem(code: str, *, sheet: str | None = None, cell: str | None = None,
            cells: Iterable[str] = (), field: str | None = None, **params: Any) -> Problem:
    """Make the Problem for ``code``; its text is rendered from the catalogue when shown."""
    entry = CATALOGUE[code]
    cells_t = tuple(cells)
    if not cells_t and sheet and cell:
        cells_t = (f"{sheet}!{cell}",)
    return Problem(code=code, severity=entry.severity, sheet=sheet, cell=cell, cells=cells_t, field=field,
                   params=dict(params))


# A value shown in a message: one line, never "None", a date without "00:00:00", long text cut.
SHOW_MAX = 60
_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\u2028\u2029\x85]")


def show(v: Any, limit: int | None = None) -> str:
    """A parameter as it appears in a message (``limit``: cut longer text, for values as typed)."""
    if v is None:
        return "空白"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, datetime):
        v = v.date() if v.time() == time() else v.replace(microsecond=0).isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return compact_number(v)
    if isinstance(v, float):
        return compact_number(Decimal(repr(v))) if math.isfinite(v) else "非数字"
    s = _BREAKS.sub("⏎", str(v))
    if limit is not None and len(s) > limit:
        s = s[:limit - 1] + "…"
    return s


def compact_number(d: Decimal) -> str:
    """A Decimal as typed, but 1E+999999 rather than a million digits."""
    if not d.is_finite():
        return "非数字"
    if abs(d.adjusted()) >= 16:
        return format(d, ".6G")
    return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d:f}"


class _Params(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""


def render(p: Problem) -> str:
    """The problem's text from its code, params and current cells (what is wrong（how to fix）)."""
    entry = CATALOGUE.get(p.code)
    if entry is None:
        return p.text
    params = _Params({k: show(v, SHOW_MAX if k == "value" else None) for k, v in (p.params or {}).items()})
    params["sheet"] = p.sheet or ""
    params["cell"] = p.cell or ""
    params["cells"] = "、".join(p.cells)
    params["below"] = "、".join(c.rsplit("!", 1)[-1] for c in p.cells[1:])
    msg = entry.message.format_map(params)
    fix = entry.fix.format_map(params)
    return f"{msg}（{fix}）" if fix else msg
