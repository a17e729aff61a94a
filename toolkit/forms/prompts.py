"""What a clerk is told about each input: its label, its hint, and Excel's prompt and error alert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from toolkit import fields as F
from toolkit.fields import Column, Field
from toolkit.rules.model import Scheme
from toolkit.rules.types.table import IndicatorTable, row_options
from toolkit.text.numbers import exact

# Default hint of each field kind.
KIND_HINT = {
    "int": "填写整数", "year": "四位年份，如 2023", "money": "单位：万元，保留两位小数",
    "money_signed": "单位：万元，保留两位小数", "area": "单位：平方米", "date": "如 2024-04-30",
    "email": "如 name@example.com", "percent": "如 95%", "score": "填写分数",
}


def field_label(f: Field) -> str:
    if f.sheet != F.SHEET_SCORING and f.unit:
        return f"{f.label}（{f.unit}）"
    return f.label


BLANK_IS_ZERO_HINT = "没有的填 0 或留空"


def field_hint(f: Field) -> str:
    """The hint beside (or in the prompt of) a field's input."""
    hint = f.note or KIND_HINT.get(f.kind, "")
    if f.blank_is_zero:
        hint = (hint + "；" if hint else "") + BLANK_IS_ZERO_HINT
    if f.kind == "choice" and f.choices:
        hint = (hint + "；" if hint else "") + "从下拉列表选择：" + " / ".join(f.choices)
    if f.required_when:
        key, value = f.required_when
        hint = (hint + "；" if hint else "") + f"“{label_of(key)}”为“{value}”时必填"
    return hint


def label_of(key: str) -> str:
    for f in F.STATIC_FIELDS:
        if f.key == key:
            return f.label
    return key


def clip(s: str, n: int) -> str:
    if len(s) * 2 <= n:  # cannot exceed n UTF-16 units
        return s
    out, size = "", 0
    for ch in s:
        size += 2 if ord(ch) > 0xFFFF else 1
        if size > n:
            return out[:-1] + "…"
        out += ch
    return out


def plain(x: Any) -> int | float:
    """A number as Excel should show it in a rule: 10, not 10.0."""
    f = float(x)
    return int(f) if f.is_integer() else f


def validation(kind: str, label: str, hint: str, *, choices: Sequence[str] = (), low: Any = None,
               high: Any = None) -> dict[str, Any] | None:
    """Data validation options (Chinese prompt and error alert) for an input of ``kind``."""
    v: dict[str, Any]
    if kind == "choice" and choices:
        source = list(choices)
        if any("," in c for c in source) or len(",".join(source)) > 250:
            v = {"validate": "any"}
        else:
            v = {"validate": "list", "source": source,
                 "error_message": f"请从下拉列表中选择：{' / '.join(source)}"}
    elif kind == "int":
        v = {"validate": "integer", "criteria": ">=", "value": int(low or 0),
             "error_message": f"“{label}”应为大于或等于 {int(low or 0)} 的整数"}
    elif kind == "year":
        v = {"validate": "integer", "criteria": "between", "minimum": 2000, "maximum": 2100,
             "error_message": "评价年度应为 2000～2100 之间的四位年份"}
    elif kind in ("money", "area"):
        unit = "万元" if kind == "money" else "平方米"
        v = {"validate": "decimal", "criteria": ">=", "value": 0,
             "error_message": f"“{label}”应为大于或等于 0 的数字（单位：{unit}），不要填写文字或单位"}
    elif kind == "money_signed":
        v = {"validate": "decimal", "criteria": "between", "minimum": -99999999, "maximum": 99999999,
             "error_message": f"“{label}”应为数字（单位：万元），调减填负数"}
    elif kind == "date":
        v = {"validate": "date", "criteria": "between", "minimum": date(2000, 1, 1), "maximum": date(2100, 12, 31),
             "error_type": "warning", "error_message": "请填写日期，如 2024-04-30"}
    elif kind == "percent":
        v = {"validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 1, "error_type": "warning",
             "error_message": f"“{label}”应为 0%～100% 之间的百分比，如 95%"}
    elif kind == "score":
        lo = plain(low if low is not None else 0)
        if high is not None:
            v = {"validate": "decimal", "criteria": "between", "minimum": lo, "maximum": plain(high),
                 "error_message": f"“{label}”应为 {exact(lo)}～{exact(high)} 之间的分数"}
        else:
            v = {"validate": "decimal", "criteria": ">" if low is None else ">=", "value": lo,
                 "error_message": f"“{label}”应为{'大于' if low is None else '大于或等于'} {exact(lo)} 的分数"}
    else:
        if not hint:
            return None
        v = {"validate": "any"}
    if hint:
        v["input_title"] = clip(label, 32)
        v["input_message"] = clip(hint, 250)
    if v["validate"] != "any":
        v["error_title"] = "输入有误"
        v["error_message"] = clip(v["error_message"], 250)
    elif "input_message" not in v:
        return None
    else:
        v.pop("error_message", None)
    return v


def column_validation(scheme: Scheme, col: Column) -> dict[str, Any] | None:
    """Data validation of a table column (the scheme gives the 一级指标 choices)."""
    groups = F.level1_choices(scheme.indicator_groups)  # every MOF 一级 when one table takes all rows
    if col.key == "level1":
        return validation("choice", col.header, "本方案的一级指标：" + "、".join(groups), choices=groups)
    if col.key == "level2":
        names = [n for g in groups for n in F.LEVEL2_BY_LEVEL1.get(g, ())]
        return validation("choice", col.header, "从下拉列表选择", choices=names) if names else None
    if col.key == "points":
        return validation("score", col.header, "本行指标的分值", low=None)
    if col.key == "self_score":
        return validation("score", col.header, col.note, low=0)
    return validation(col.kind if col.choices else "text", col.header, col.note, choices=col.choices)


def scheme_column_validation(col: Column) -> dict[str, Any] | None:
    """Data validation of a column of a scheme's own table: by its kind, like a single field's."""
    hint = col.note or KIND_HINT.get(col.kind, "")
    if col.kind == "choice" and col.choices:
        hint = (hint + "；" if hint else "") + "从下拉列表选择：" + " / ".join(col.choices)
    if col.required:
        hint = (hint + "；" if hint else "") + "本列必填"
    low = 0 if col.kind in ("int", "score") else None
    return validation(col.kind, col.header, hint, choices=col.choices, low=low)


def table_option_hint(scheme: Scheme) -> str:
    """What the 绩效指标 sheet's hint adds for the scheme's indicator_table options ("" when none is on)."""
    out: list[str] = []
    for n in scheme.nodes():
        if n.rule is None or n.rule.type != IndicatorTable.name:
            continue
        o = row_options(n.rule)
        where = f"“{n.rule.params['group']}”"
        if o.adjusted_target:
            out.append(f"{where}各行年中按程序调整了指标值的，在“调整后指标值”填写，按调整后的值计分。")
        if o.coefficient:
            out.append(f"{where}各行填写了“得分系数”（0～100%，如 0.9、90 或 90%）的，得分 = 分值 × 得分系数，"
                       "并须在偏差原因分析及改进措施中说明理由。")
        if o.over_above is not None:
            out.append(f"{where}中 ≥ 类指标完成值超过指标值的{exact(o.over_above * 100)}%的，视为指标值设定偏低，"
                       f"每再超过50个百分点扣该行分值的{exact(o.over_share * 100)}%（按比例计算，扣完为止）。")
    return "".join(out)
