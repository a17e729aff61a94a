"""The workbook from the scheme (spec 08.4): a scheme's own ``fields:``, ``field_overrides:`` and ``tables:``.

```yaml
fields:                     # single fields on a form sheet: a defined name, * when required, a hint
  - {key: perf_goal, label: 部门整体绩效目标, sheet: 绩效分析, kind: longtext, required: true, note: 可分段}
field_overrides:            # a built-in field relabelled or made optional
  budget_added: {label: 本年调整预算数, required: false}
tables:                     # list tables (Excel tables named ``name``), read by formulas
  - name: sangong_items
    sheet: 收支情况          # 基本信息 / 收支情况 (below their fields) or a sheet of its own
    title: 三公经费明细
    columns:
      - {key: item, label: 项目, required: true}
      - {key: amount, label: 金额, kind: money, required: true}
```
A table's columns are read in formulas as ``sum(sangong_items.amount)`` and ``count(sangong_items)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, get_args

from toolkit import fields as F
from toolkit.fields import Column, Field, Kind, Table
from toolkit.rules import strict
from toolkit.rules.expr import count_name, sum_name
from toolkit.rules.yaml_safe import NotAList, as_list, line_of

KINDS: tuple[str, ...] = get_args(Kind)
FIELD_SHEETS = (F.SHEET_BASIC, F.SHEET_MONEY, F.SHEET_SCORING, F.SHEET_ANALYSIS)
TABLE_SHEETS = (F.SHEET_BASIC, F.SHEET_MONEY)  # or a new sheet of the table's own
RESERVED_SHEETS = frozenset({F.SHEET_HELP, F.SHEET_SCORING, F.SHEET_INDICATORS, F.SHEET_ANALYSIS, F.SHEET_META,
                             "问题清单"})
NUMBER_KINDS = frozenset({"int", "money", "money_signed", "area", "percent", "score"})
TABLE_ROWS = 10  # empty rows a scheme table gets in the template unless it says ``rows``
MAX_TABLE_COLUMNS = 30
# Names Excel reads as a cell (A1, XFD12, R1C1): refused as field keys and table names.
_CELL_LIKE = re.compile(r"^([a-z]{1,3}\d+|r\d*c?\d*|c\d*)$", re.IGNORECASE)


def _key_problem(key: str, what: str) -> str | None:
    if not key.isidentifier() or not key.isascii():
        return f"{what}“{key}”只能由英文字母、数字和下划线组成，且不以数字开头"
    if _CELL_LIKE.match(key):
        return f"{what}“{key}”像单元格地址（如 A1），Excel 不能用作名称，请换一个"
    return None


def _kind(raw: Mapping[str, Any], where: str, problems: list[str]) -> Kind:
    kind = str(raw.get("kind", "text"))
    if kind not in KINDS:
        problems.append(f"{where}：kind“{kind}”不是可用的类型，可用：{'、'.join(KINDS)}{strict.suggest(kind, KINDS)}")
        return "text"
    return kind  # type: ignore[return-value]


def _flag(raw: Mapping[str, Any], key: str, where: str, problems: list[str]) -> bool:
    v = raw.get(key, False)
    if not isinstance(v, bool):
        problems.append(f"{where}：{key} 应为 true 或 false，现为“{v}”")
        return False
    return v


def _choices(raw: Mapping[str, Any]) -> tuple[str, ...]:
    c = raw.get("choices")
    return tuple(str(x) for x in c if not isinstance(x, (list, Mapping))) if isinstance(c, list) else ()


def _items(raw: Mapping[str, Any], key: str, problems: list[str]) -> list[Any]:
    try:
        return as_list(raw.get(key))
    except NotAList:
        problems.append(f"{key}（{line_of(raw, key)}）：应为以“- ”开头的列表")
        return []


def parse_fields(raw: Mapping[str, Any], taken: Iterable[str], problems: list[str]) -> tuple[Field, ...]:
    """``fields:`` → Fields on the form sheets; ``taken``: keys already used (built-in and scheme inputs)."""
    seen = set(taken)
    out: list[Field] = []
    for i, item in enumerate(_items(raw, "fields", problems), start=1):
        where = f"fields 第{i}项（{line_of(item)}）"
        if not isinstance(item, Mapping) or not all(k in item for k in ("key", "label", "sheet")):
            problems.append(f"{where}：每项需要 key、label 和 sheet（如 key: perf_goal, label: 绩效目标, sheet: 绩效分析）")
            continue
        problems.extend(strict.unknown_keys(item, strict.FIELD_KEYS, f"fields 第{i}项", "字段"))
        key, sheet = str(item["key"]), str(item["sheet"])
        bad = _key_problem(key, "key")
        if bad:
            problems.append(f"{where}：{bad}")
        elif key in seen:
            problems.append(f"{where}：key“{key}”已被填报表或本方案的其他项使用，请换一个")
        seen.add(key)
        if sheet not in FIELD_SHEETS:
            problems.append(f"{where}：sheet“{sheet}”应为 {'、'.join(FIELD_SHEETS)} 之一")
        kind = _kind(item, where, problems)
        unit = str(item.get("unit") or ("万元" if kind in ("money", "money_signed") else ""))
        low = item.get("min", 0 if kind in ("money", "area", "int") else None)
        out.append(Field(key, str(item["label"]), sheet, kind=kind, required=_flag(item, "required", where, problems),
                         unit=unit, min=low, max=item.get("max"), choices=_choices(item),
                         note=str(item.get("note") or "")))
        if kind == "choice" and not out[-1].choices:
            problems.append(f"{where}：kind 为 choice 的字段需要 choices（可选的值列表）")
    return tuple(out)


def parse_overrides(raw: Mapping[str, Any], problems: list[str],
                    form: str = "dept") -> dict[str, dict[str, Any]]:
    """``field_overrides: {budget_added: {label: 本年调整预算数, required: false}}`` → key → changes."""
    o = raw.get("field_overrides")
    if o is None:
        return {}
    where = f"field_overrides（{line_of(raw, 'field_overrides')}）"
    if not isinstance(o, Mapping):
        problems.append(f"{where}：应写 字段名: {{label: 新名称, required: false}}")
        return {}
    builtin = {f.key: f for f in F.form(form).fields}
    out: dict[str, dict[str, Any]] = {}
    for key, change in o.items():
        w = f"field_overrides.{key}（{line_of(o, key)}）"
        if key not in builtin:
            problems.append(f"{w}：填报表中没有字段“{key}”{strict.suggest(str(key), builtin)}")
            continue
        if not isinstance(change, Mapping):
            problems.append(f"{w}：应写 {{label: 新名称}} 或 {{required: false}}")
            continue
        problems.extend(strict.unknown_keys(change, strict.OVERRIDE_KEYS, f"field_overrides.{key}", "字段设置"))
        c: dict[str, Any] = {}
        for k in ("label", "note"):
            if k in change:
                if not str(change[k] or "").strip():
                    problems.append(f"{w}：{k} 不能为空")
                c[k] = str(change[k] or "").strip()
        if "required" in change:
            c["required"] = _flag(change, "required", w, problems)
        out[str(key)] = c
    return out


def parse_tables(raw: Mapping[str, Any], problems: list[str]) -> tuple[Table, ...]:
    """``tables:`` → Tables (named Excel tables) the template adds and the reader reads."""
    taken = {t.name for f in F.FORMS.values() for t in f.tables}
    out: list[Table] = []
    for i, item in enumerate(_items(raw, "tables", problems), start=1):
        where = f"tables 第{i}项（{line_of(item)}）"
        if not isinstance(item, Mapping) or not all(k in item for k in ("name", "sheet", "title", "columns")):
            problems.append(f"{where}：每项需要 name、sheet、title 和 columns")
            continue
        problems.extend(strict.unknown_keys(item, strict.TABLE_KEYS, f"tables 第{i}项", "列表"))
        name, sheet = str(item["name"]), str(item["sheet"]).strip()
        bad = _key_problem(name, "name")
        if bad:
            problems.append(f"{where}：{bad}")
        elif name in taken:
            problems.append(f"{where}：列表名“{name}”已被使用，请换一个")
        taken.add(name)
        if sheet in RESERVED_SHEETS or not sheet or len(sheet) > 31 or any(ch in sheet for ch in "[]:*?/\\'"):
            problems.append(f"{where}：sheet“{sheet}”不能放列表：可写 {'、'.join(TABLE_SHEETS)}，"
                            "或一个新工作表的名称（不超过 31 个字，不含 [ ] : * ? / \\ '）")
        columns: list[Column] = []
        for j, c in enumerate(_items(item, "columns", problems), start=1):
            cw = f"tables 第{i}项 columns 第{j}项（{line_of(c)}）"
            if not isinstance(c, Mapping) or "key" not in c or "label" not in c:
                problems.append(f"{cw}：每列需要 key 和 label")
                continue
            problems.extend(strict.unknown_keys(c, strict.COLUMN_KEYS, f"tables 第{i}项 columns 第{j}项", "列"))
            ck = str(c["key"])
            if not ck.isidentifier() or not ck.isascii():
                problems.append(f"{cw}：key“{ck}”只能由英文字母、数字和下划线组成")
            elif ck in {x.key for x in columns}:
                problems.append(f"{cw}：key“{ck}”重复")
            kind = _kind(c, cw, problems)
            columns.append(Column(ck, str(c["label"]), kind=kind, required=_flag(c, "required", cw, problems),
                                  choices=_choices(c), width=float(c.get("width", 14)), note=str(c.get("note") or "")))
        if not columns or len(columns) > MAX_TABLE_COLUMNS:
            problems.append(f"{where}：columns 应有 1～{MAX_TABLE_COLUMNS} 列")
            continue
        if len({x.header for x in columns}) != len(columns):
            problems.append(f"{where}：各列的 label 不能相同（读取时按表头找列）")
        rows = item.get("rows", TABLE_ROWS)
        min_rows = item.get("min_rows", 0)
        if not (isinstance(rows, int) and 1 <= rows <= 200) or not (isinstance(min_rows, int) and 0 <= min_rows <= rows):
            problems.append(f"{where}：rows 应为 1～200 的整数，min_rows 为 0～rows 的整数")
            rows, min_rows = TABLE_ROWS, 0
        out.append(Table(name, sheet, str(item["title"]), tuple(columns), rows=rows, min_rows=min_rows))
    return tuple(out)


def aggregate_names(tables: Iterable[Table]) -> frozenset[str]:
    """The names formulas may read from these tables: count(t) and sum(t.c) of every number column."""
    return frozenset([count_name(t.name) for t in tables]
                     + [sum_name(t.name, c.key) for t in tables for c in t.columns if c.kind in NUMBER_KINDS])


def apply_overrides(f: Field, overrides: Mapping[str, Mapping[str, Any]]) -> Field:
    """``f`` as the scheme's field_overrides relabel it or make it optional."""
    c = overrides.get(f.key)
    if not c:
        return f
    f = replace(f, **{k: v for k, v in c.items() if k in ("label", "note", "required")})
    return replace(f, required_when=None) if c.get("required") is False else f


def aggregate_label(tables: Iterable[Table], name: str) -> str | None:
    """“三公经费明细“本年支出金额”合计” for sum(t.c), “三公经费明细行数” for count(t); None for other names."""
    for t in tables:
        if name == count_name(t.name):
            return f"{t.title}行数"
        for c in t.columns:
            if name == sum_name(t.name, c.key):
                return f"{t.title}“{c.header}”合计"
    return None
