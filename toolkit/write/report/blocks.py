"""The outline's blocks beyond the reference report's sections (spec 08.5): the cover page, a
key–value table of any fields, a text block over any field or scheme wording, and the unit's
项目支出绩效自评 scores (``projects``, spec 06).

Each block adds its paragraphs through the ``Composer`` and returns the tables it makes; the
outline (``outline.py``) places them and leaves out a block with nothing to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from toolkit.rules import inputs
from toolkit.rules.strict import placeholders
from toolkit.text.numbers import fixed, round2
from toolkit.write.report import layout
from toolkit.write.report.narrative import Composer, fill
from toolkit.write.report.table import Cell, Row, Table, fit_widths

KV_MM = (44.0, 112.0)  # 基本概况: label | value
PROJECTS_MM = (10.0, 50.0, 22.0, 22.0, 18.0, 18.0, 16.0)  # 序号 项目名称 预算 执行 执行率 得分 等级
PROJECTS_HEAD = ("序号", "项目名称", "全年预算数（万元）", "全年执行数（万元）", "执行率", "自评得分", "等级")
PROJECTS_INTRO = ("本单位{fiscal_year}年度共对{count}个项目开展了绩效自评，{scored}个项目自评表审核合格，"
                  "平均得分{average}分，各项目得分如下：")
PROJECTS_INTRO_UNSCORED = "本单位{fiscal_year}年度共对{count}个项目开展了绩效自评，项目自评表均已退回修改，尚无得分："
COVER_GAP = 3  # empty lines above the title and between the parts of the cover


def blank(template: Any, ctx: Mapping[str, str]) -> bool:
    """True when the wording names fields and every one of them is empty (or unknown)."""
    names = placeholders(template)
    return bool(names) and not any(str(ctx.get(n, "")).strip() for n in names)


def _fields_of(item: Mapping[str, Any]) -> list[Any]:
    f = item.get("fields") or []
    return list(f) if isinstance(f, list) else [f]


def cover(c: Composer, item: Mapping[str, Any]) -> list[Table]:
    """封面: the title, one “标签：值” line per filled value, the issuer; the body starts on a new page."""
    conf: Mapping[str, Any] = {**(c.r.get("cover") or {}), **{k: v for k, v in item.items() if k in ("lines", "issuer")}}
    t = conf.get("title") or c.r.get("title") or ""
    segments = [fill(s, c.ctx) for s in (t if isinstance(t, list) else [t])]
    for _ in range(COVER_GAP):
        c.add("body", "")
    c.add("title", "\n".join(layout.title_lines(segments)))
    for _ in range(COVER_GAP):
        c.add("body", "")
    for line in conf.get("lines") or []:
        label, value = (line.get("label"), line.get("value")) if isinstance(line, Mapping) else line
        text = fill(value, c.ctx).strip()
        if text and not blank(value, c.ctx):
            c.add("body", f"{fill(label, c.ctx)}：{text}")
    issuer = fill(conf.get("issuer"), c.ctx)
    if issuer:
        for _ in range(COVER_GAP):
            c.add("body", "")
        c.add("body", issuer, align="center")
    c.break_next = True
    return []


def field_labels(c: Composer) -> dict[str, str]:
    return {f.key: f.label for f in inputs.all_fields(c.scheme)} | {"unit_name": "单位名称", "fiscal_year": "年度"}


def kv_table(c: Composer, item: Mapping[str, Any]) -> list[Table]:
    """基本概况 as a two-column table: one row per field (label from the workbook, or the item's own);
    left out when every value is empty."""
    labels = field_labels(c)
    rows = []
    filled = False
    for f in _fields_of(item):
        if isinstance(f, Mapping):
            key = str(f.get("key") or "")
            label = str(f.get("label") or labels.get(key, key))
            value = fill(f["value"], c.ctx) if "value" in f else c.ctx.get(key, "")
        else:
            key, label, value = str(f), labels.get(str(f), str(f)), c.ctx.get(str(f), "")
        filled = filled or bool(value.strip())
        rows.append(Row((Cell(label, head=True), Cell(value.strip() or "—", align="left")), cant_split=False))
    return [Table(fit_widths(KV_MM), tuple(rows))] if filled else []


def text(c: Composer, item: Mapping[str, Any]) -> list[Table]:
    """Scheme wording over any field, one paragraph a line; nothing when every field it names is empty."""
    template = str(item.get("text") or "")
    if blank(template, c.ctx):
        return []
    for line in fill(template, c.ctx).split("\n"):
        if line.strip():
            c.add("body", line.strip())
    return []


def projects(c: Composer, item: Mapping[str, Any]) -> list[Table]:
    """项目支出绩效自评情况: a sentence (scheme wording ``projects_intro``) and one row per project form of
    the unit in this run; left out (with its heading) when the unit has none."""
    if not c.projects:
        return []
    scored = [p for p in c.projects if p.total is not None]
    average = fixed(round2(sum((p.total for p in scored if p.total is not None), Decimal(0)) / len(scored))) \
        if scored else "—"
    intro = (str(c.r.get("projects_intro") or PROJECTS_INTRO) if scored
             else str(c.r.get("projects_intro_unscored") or PROJECTS_INTRO_UNSCORED))
    c.add("body", fill(intro, {**c.ctx, "count": str(len(c.projects)), "scored": str(len(scored)),
                                "average": average}))
    rows = [Row(tuple(Cell(h, head=True) for h in PROJECTS_HEAD), header=True)]
    for i, p in enumerate(c.projects, start=1):
        values = (str(i), p.name, fixed(p.fund_full) if p.fund_full is not None else "—",
                  fixed(p.fund_spent) if p.fund_spent is not None else "—",
                  f"{fixed(p.execution_rate * 100)}%" if p.execution_rate is not None else "—",
                  fixed(p.total) if p.total is not None else "退回修改", p.grade or "—")
        rows.append(Row(tuple(Cell(v, align="left" if j == 1 else "center") for j, v in enumerate(values))))
    return [Table(fit_widths(PROJECTS_MM), tuple(rows))]
