"""The report's sentences: which scheme wording applies, filled with the unit's values (spec 04).

Every sentence comes from the scheme (``scheme.report`` and each indicator's ``wording``); this
module only chooses which sentence applies and fills in the values. ``compose`` returns the body
as a list of ``Para`` blocks (the appendix table is built by ``table.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from toolkit.fields import STATIC_FIELDS
from toolkit.model import NodeScore, ProjectScore, RowScore, Scorecard, Submission
from toolkit.rules.model import Node, Rule, Scheme
from toolkit.rules.types.adjust import AdjustedScorecard
from toolkit.rules.types.registry import rule_type
from toolkit.text.numbers import money, num, pct, points
from toolkit.write.report import layout
from toolkit.write.report.prose import clean_paragraphs, clean_text, terminate


@dataclass(frozen=True)
class Para:
    """One paragraph: a block kind of ``layout.STYLE_IDS`` and its text (``\\n`` = line break)."""

    kind: str
    text: str
    page_break_before: bool = False
    align: str | None = None  # "center": centred without the first-line indent (the cover page)


# --------------------------------------------------------------------------- dates
def cn_date(d: Any) -> str:
    """2024年4月30日 (no leading zeros)."""
    if isinstance(d, date):
        return f"{d.year}年{d.month}月{d.day}日"
    return "" if d is None else str(d)


def _unterminate(s: str) -> str:
    return s.rstrip("。；;，, ")


# --------------------------------------------------------------------------- templates
class _Values(dict):  # type: ignore[type-arg]
    """format_map values; a placeholder the context lacks stays visible as {name}."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: Any, values: Mapping[str, Any]) -> str:
    if template is None:
        return ""
    try:
        return str(template).format_map(_Values(values))
    except (ValueError, IndexError, AttributeError):  # a stray brace in a user's wording
        return str(template)


_FIELD_KIND = {f.key: f.kind for f in STATIC_FIELDS}


def unit_context(scheme: Scheme, sub: Submission) -> dict[str, str]:
    """Every Submission value formatted for prose, plus the derived names and totals."""
    kinds = dict(_FIELD_KIND)
    kinds.update({f.key: f.kind for f in scheme.input_fields})
    ctx: dict[str, str] = {}
    for key, v in sub.values.items():
        kind = kinds.get(key, "text")
        if kind in ("money", "money_signed"):
            ctx[key] = money(v)
        elif kind == "percent":
            ctx[key] = pct(v) if v is not None else ""
        elif kind == "date":
            ctx[key] = cn_date(v)
        elif v is None:
            ctx[key] = ""
        elif isinstance(v, Decimal):
            ctx[key] = num(v)
        elif kind in ("text", "longtext", "choice"):
            ctx[key] = clean_text(v)
        else:
            ctx[key] = str(v)
    for key, kind in kinds.items():  # blank fields: money reads 0元, the rest empty
        if key not in ctx:
            ctx[key] = money(0) if kind in ("money", "money_signed") else ""
    unit = sub.unit_name
    region = sub.text("region").strip()
    short = unit[len(region):] if region and unit.startswith(region) and len(unit) > len(region) else unit
    m = sub.money
    ctx.update(
        unit_name=unit,
        region=region,
        short_name=short,
        area_prefix=region[-1:] if region else "",
        fiscal_year=str(sub.fiscal_year or ""),
        # sums of exactly the parts the money paragraph names (income_other only when non-zero)
        income_total=money(m("income_fiscal") + m("income_other") + m("carryover_start")),
        spend_total=money(m("spend_basic") + m("spend_project")),
        balance_total=money(m("balance_basic") + m("balance_project")),
        execution_rate=pct(execution_rate(sub)),
    )
    return ctx


def budget_full(sub: Submission) -> Decimal:
    """全年预算数 = 年初结转结余 + 年初预算数 + 本年追加预算数."""
    m = sub.money
    return m("carryover_start") + m("budget_initial") + m("budget_added")


def execution_rate(sub: Submission) -> Decimal | None:
    """执行率 of the appendix: 全年执行数 (基本 + 项目支出) ÷ 全年预算数; None when there is no budget."""
    full = budget_full(sub)
    return (sub.money("spend_basic") + sub.money("spend_project")) / full if full else None


# --------------------------------------------------------------------------- indicator sentences
def _inner_rule(node: Node, ns: NodeScore) -> Rule | None:
    """The rule that produced the score (first_given / not_applicable_full delegate)."""
    rule = node.rule
    if rule is None:
        return None
    return rule_type(rule.type).inner(rule, ns) or rule


def leaf_values(node: Node, ns: NodeScore, report: Mapping[str, Any], base: Mapping[str, str]) -> dict[str, str]:
    f = ns.facts
    w = node.wording
    vals = dict(base)
    vals.update(name=node.name, points=points(ns.points), score=points(ns.score),
                note=_unterminate(clean_text(f.get("note"))))
    inner = _inner_rule(node, ns)
    ratio = inner is not None and rule_type(inner.type).ratio
    if ratio or ns.value is not None:
        vals["value"] = pct(ns.value) if ratio else num(ns.value)
    for k in ("numerator", "denominator"):
        v = f.get(k)
        if isinstance(v, Decimal):
            vals[k] = num(v)
            vals[f"{k}_money"] = money(v)
    change = f.get("numerator")
    if isinstance(change, Decimal):
        words = {**(report.get("change_words") or {}), **(w.get("change_words") or {})}
        vals["change"] = money(abs(change))
        vals["change_word"] = str(words.get("increase" if change > 0 else "decrease", ""))
    vals["tier"] = str(f.get("tier") or "")
    choice = str(f.get("choice") or "")
    vals["choice"] = choice
    vals["choice_word"] = str((w.get("choice_words") or {}).get(choice, choice))
    return vals


_DEDUCTION = re.compile(r"[，,；;、]?\s*(?:共|合计|故|因此)?扣(?:除|减)?\s*\d+(?:\.\d+)?\s*分")


def _drop_deductions(note: str) -> str:
    """A clerk's note without its own “扣2分”: the sentence already states each item's deduction."""
    s = _DEDUCTION.sub("", note)
    s = re.sub(r"^[，。；、\s]+", "", s)
    return _unterminate(re.sub(r"([，；、])(?=[。；，])", "", s))


def leaf_sentence(node: Node, ns: NodeScore, report: Mapping[str, Any], base: Mapping[str, str]) -> str:
    """The sentence for one leaf, chosen by its case and rule (without the final 。)."""
    w = node.wording
    defaults = report.get("defaults") or {}
    vals = leaf_values(node, ns, report, base)
    case = str(ns.facts.get("case") or "normal")
    if case != "normal":
        # the indicator's own sentence for the case; else its usual sentence when there is a value
        tpl = w.get(case) or (w.get("sentence") if ns.value is not None else None) or defaults.get(case)
        return _unterminate(fill(tpl or defaults.get("sentence"), vals))
    own = (rule_type(node.rule.type).sentence(node, ns, report, {**vals, "note_clean": _drop_deductions(vals["note"])},
                                              fill) if node.rule is not None else None)
    if own is not None:
        return _unterminate(own)
    by = ns.facts.get("by")
    if by and isinstance(w.get("by"), Mapping) and by in w["by"]:
        return _unterminate(fill(w["by"][by], vals))
    if "note" in ns.facts and not vals["note"] and w.get("no_note"):
        return _unterminate(fill(w["no_note"], vals))
    if w.get("apart_from_execution") and ns.value is not None and vals.get("value") != base.get("execution_rate"):
        # a rate the reader could take for the appendix's 执行率 but computed otherwise: say how
        return _unterminate(fill(w["apart_from_execution"], vals))
    return _unterminate(fill(w.get("sentence") or defaults.get("sentence"), vals))


def adjustment_text(ns: NodeScore) -> str:
    """“获得表彰加2分” / “审计发现问题扣1.50分” / “审计发现问题不扣分”."""
    word = "加" if ns.facts.get("kind") == "bonus" else "扣"
    return f"{ns.name}{word}{points(ns.score)}分" if ns.score else f"{ns.name}不{word}分"


def adjustments_paragraph(card: AdjustedScorecard, report: Mapping[str, Any]) -> str:
    """The report's paragraph on the adjustments after the indicators (report key ``adjustments``
    overrides the wording: {items} {base} {total})."""
    tpl = report.get("adjustments") or "加减分项：{items}。加减分前得分{base}分，加减分后总分{total}分。"
    return terminate(fill(tpl, {"items": "；".join(adjustment_text(a) for a in card.adjustments),
                                "base": points(card.base), "total": points(card.total)}))


def indicator_target(row: RowScore, report: Mapping[str, Any], facts: Mapping[str, Any] | None = None) -> str:
    """年度指标值 of a perf_indicators row as written in the report and the table: ≥3000人次, 1-7天.

    With the adjusted_target option and a 调整后指标值: both (report key ``indicator_adjusted``)."""
    v = row.row.values
    d = str(v.get("direction") or "")
    tpl = (report.get("indicator_target") or {}).get(d, "{target}{unit}")
    target = v.get("target")
    vals = {"target": num(target) if isinstance(target, Decimal) else clean_text(target),
            "target_max": num(v.get("target_max")), "unit": clean_text(v.get("unit")),
            "name": clean_text(v.get("name"))}
    text = fill(tpl, vals)
    adjusted = v.get("target_adjusted")
    if facts and facts.get("adjusted_target") and isinstance(adjusted, Decimal):
        after = fill(tpl, {**vals, "target": num(adjusted)})
        text = fill(report.get("indicator_adjusted") or "年度指标值{target_text}，调整后{adjusted_text}",
                    {"target_text": text, "adjusted_text": after})
    return text


def indicator_basis(row: RowScore, report: Mapping[str, Any], facts: Mapping[str, Any] | None) -> str:
    """How the options scored the row: "按得分系数85%计分" / "完成值超过指标值的150%…扣0.50分"; "" else."""
    if not facts:
        return ""
    v = row.row.values
    parts: list[str] = []
    c = v.get("coefficient")
    if facts.get("coefficient") and isinstance(c, Decimal):
        parts.append(fill(report.get("indicator_coefficient") or "按得分系数{coefficient}计分",
                          {"coefficient": pct(c, None)}))
    cut = (facts.get("over_deducted") or {}).get(row.row.index)
    if cut:
        parts.append(fill(report.get("indicator_overachieved")
                          or "完成值超过指标值的{above}，因指标值设定偏低扣{deduct}分",
                          {"above": pct(facts.get("over_above"), None), "deduct": points(cut)}))
    return "，".join(parts)


def indicator_actual(row: RowScore) -> str:
    v = row.row.values
    a = v.get("actual")
    if a is None or a == "":
        return "—"
    if isinstance(a, Decimal):
        return f"{num(a)}{clean_text(v.get('unit'))}"
    return clean_text(a)


def indicator_line(n: int, row: RowScore, report: Mapping[str, Any], facts: Mapping[str, Any] | None = None) -> str:
    v = row.row.values
    key = "indicator_line_qualitative" if v.get("direction") == "定性" else "indicator_line"
    vals = {"n": str(n), "name": clean_text(v.get("name")), "target_text": indicator_target(row, report, facts),
            "target": clean_text(v.get("target")) if not isinstance(v.get("target"), Decimal) else num(v["target"]),
            "actual": indicator_actual(row), "score": points(row.score), "points": points(row.points)}
    line = fill(report.get(key) or report.get("indicator_line"), vals)
    basis = indicator_basis(row, report, facts)
    if basis:
        line += f"（{basis}）"
    note = clean_text(v.get("deviation_note"))
    if row.score < row.points and note:
        line += fill(report.get("indicator_deviation"), {"note": _unterminate(note)})
    return line


# --------------------------------------------------------------------------- the outline
class Composer:
    def __init__(self, scheme: Scheme, sub: Submission, card: Scorecard, ctx: Mapping[str, str] | None):
        self.scheme = scheme
        self.sub = sub
        self.card = card
        self.r: Mapping[str, Any] = scheme.report
        self.h: Mapping[str, str] = self.r.get("headings") or {}
        self.ctx = dict(ctx) if ctx is not None else unit_context(scheme, sub)
        self.ctx["total"] = points(card.total)
        self.ctx["grade"] = card.grade
        self.scores = {n.id: n for lv in card.levels for n in lv.walk()}
        self.out: list[Para] = []
        self.break_next = False  # the next paragraph starts a new page (after the cover)
        self.projects: tuple[ProjectScore, ...] = ()  # the unit's project forms (outline block projects)

    def add(self, kind: str, text: str, **kw: Any) -> None:
        if self.break_next:
            kw["page_break_before"] = True
            self.break_next = False
        self.out.append(Para(kind, text, **kw))

    def head(self, kind: str, default_key: str, heading: str | None) -> None:
        """A section heading: the outline's own, else the scheme's; an empty one is left out."""
        text = self.h.get(default_key, "") if heading is None else heading
        if text:
            self.add(kind, fill(text, self.ctx))

    def body(self, template: Any, **extra: str) -> None:
        self.add("body", fill(template, {**self.ctx, **extra}))

    def numbered(self, items: Iterable[str]) -> None:
        tpl = self.r.get("list_item", "{n}. {text}")
        for n, item in enumerate(items, start=1):
            self.add("body", fill(tpl, {"n": str(n), "text": terminate(item)}))

    # ---- sections (the default outline; outline.py runs them in a scheme's own order)
    def compose(self) -> list[Para]:
        self.title()
        self.opening()
        self.overview()
        self.money()
        self.execution()
        self.performance()
        self.lists()
        self.signature()
        return self.out

    def title(self, heading: str | None = None) -> None:
        t = self.r.get("title") or ""
        segments = [fill(s, self.ctx) for s in (t if isinstance(t, list) else [t])]
        self.add("title", "\n".join(layout.title_lines(segments)))

    def opening(self, heading: str | None = None) -> None:
        self.head("h1", "opening", heading)
        notice = clean_text(self.sub.get("notice"))
        key = "opening" if notice else "opening_no_notice"
        self.body(self.r.get(key), basis=fill(self.r.get("basis"), self.ctx), notice=notice)

    def overview(self, heading: str | None = None) -> None:
        self.head("h1", "overview", heading)
        self.basic()
        self.staff()

    def basic(self, heading: str | None = None) -> None:
        self.head("h2", "basic", heading)
        functions = clean_paragraphs(self.sub.get("functions"))
        has_count = self.sub.get("internal_unit_count") not in (None, "")
        has_units = bool(self.ctx.get("internal_units"))
        variant = {(True, True): "basic_info", (False, False): "basic_info_no_units",
                   (True, False): "basic_info_count_only", (False, True): "basic_info_units_only"}
        tpl = self.r.get(variant[(has_count, has_units)]) or self.r.get("basic_info_no_units")
        first = functions[0] if functions else ""
        self.add("body", terminate(fill(tpl, {**self.ctx, "functions": first})))
        for line in functions[1:]:
            self.add("body", terminate(line))

    def staff(self, heading: str | None = None) -> None:
        self.head("h2", "staff", heading)
        self.body(self.r.get("staff"))

    def money(self, heading: str | None = None) -> None:
        self.head("h1", "money", heading)
        other = self.sub.money("income_other") != 0
        self.body(self.r.get("money_other_income") if other and self.r.get("money_other_income")
                  else self.r.get("money"))

    def score_first(self, heading: str | None = None) -> None:
        """The 自评得分 paragraph (by grade) on its own: 南县 put it before everything else."""
        self.head("h1", "score_first", heading)
        intro = self.r.get("score_first") or self.r.get("score_intro")
        if isinstance(intro, Mapping):
            intro = intro.get(self.card.grade) or next(iter(intro.values()), "")
        self.body(intro)

    def execution(self, heading: str | None = None) -> None:
        self.head("h1", "execution", heading)
        intro = self.r.get("score_intro")
        if isinstance(intro, Mapping):
            intro = intro.get(self.card.grade) or next(iter(intro.values()), "")
        self.body(intro)
        self._levels()

    def levels(self, heading: str | None = None) -> None:
        """The indicators' paragraphs without the score sentence (after ``score_first``)."""
        self.head("h1", "levels", heading)
        self._levels()

    def _levels(self) -> None:
        for n, node in enumerate(self.scheme.levels, start=1):
            ns = self.scores[node.id]
            self.add("h3", fill(self.r.get("level_heading"),
                                {"n": str(n), "name": node.name, "points": points(node.points),
                                 "score": points(ns.score)}))
            for child in node.children:
                self.level2(child, self.scores[child.id])
        if isinstance(self.card, AdjustedScorecard) and self.card.adjustments:
            self.add("body", adjustments_paragraph(self.card, self.r))

    def level2(self, node: Node, ns: NodeScore) -> None:
        pairs = [(leaf, self.scores[leaf.id]) for leaf in node.walk() if leaf.is_leaf]
        head = {"name": node.name, "score": points(ns.score), "points": points(ns.points)}
        if any(leaf.wording.get("heading") or (leaf.rule and rule_type(leaf.rule.type).block)
               for leaf, _ in pairs):
            self.add("body", fill(self.r.get("level2_blocks"), head))
            for leaf, ls in pairs:
                self.block(leaf, ls)
            return
        items = self._merged_sentences(pairs)
        key = "level2" if len(items) > 1 else "level2_single"
        self.add("body", terminate(fill(self.r.get(key), {**head, "items": "；".join(items)})))

    def _merged_sentences(self, pairs: list[tuple[Node, NodeScore]]) -> list[str]:
        """One sentence per leaf; neighbouring leaves with the same special-case sentence (两项“无新建
        楼堂馆所”) are reported once with their scores added, so the parts still add up."""
        out: list[str] = []
        prev: tuple[str, Any] | None = None
        acc = Decimal(0)
        for leaf, ls in pairs:
            case = str(ls.facts.get("case") or "normal")
            tpl = leaf.wording.get(case) if case != "normal" else None
            if tpl is not None and prev == (case, tpl):
                acc += ls.score
                merged = replace(ls, score=acc)
                out[-1] = leaf_sentence(leaf, merged, self.r, self.ctx)
                continue
            prev = (case, tpl) if tpl is not None else None
            acc = ls.score
            out.append(leaf_sentence(leaf, ls, self.r, self.ctx))
        return out

    def block(self, leaf: Node, ls: NodeScore) -> None:
        vals = leaf_values(leaf, ls, self.r, self.ctx)
        heading = fill(leaf.wording.get("heading"), vals)
        if leaf.rule is not None and rule_type(leaf.rule.type).block:
            self.add("body", heading or fill(self.r.get("indicator_heading"), vals))
            if not ls.rows:
                self.add("body", fill(self.r.get("no_indicators"), vals))
            for n, row in enumerate(ls.rows, start=1):
                self.add("body", indicator_line(n, row, self.r, ls.facts))
            return
        self.add("body", terminate(heading + leaf_sentence(leaf, ls, self.r, self.ctx)))

    def performance(self, heading: str | None = None) -> None:
        self.head("h1", "performance", heading)
        self.head("h2", "duty_analysis", None)
        for line in clean_paragraphs(self.sub.get("duty_analysis")) or [self.r.get("none", "无。")]:
            self.add("body", terminate(line))
        self.head("h2", "benefits", None)
        n = 0
        for b in self.r.get("benefits") or []:
            lines = clean_paragraphs(self.sub.get(b["key"]), numbered=True)
            label = str(b.get("label", ""))
            if lines and label and lines[0].startswith(label):  # the clerk repeated the label
                lines[0] = lines[0][len(label):].lstrip("：:，, ")
                lines = [x for x in lines if x]
            if not lines:
                continue
            n += 1
            self.add("body", fill(self.r.get("benefit_item"),
                                  {"n": str(n), "label": label, "text": terminate(lines[0])}))
            for line in lines[1:]:
                self.add("body", terminate(line))
        if n == 0:
            self.add("body", self.r.get("none", "无。"))
        self.head("h2", "admin_efficiency", None)
        self.numbered(clean_paragraphs(self.sub.get("admin_efficiency"), numbered=True) or [self.r.get("none", "无。")])

    def lists(self) -> None:
        self.problems()
        self.plans()

    def problems(self, heading: str | None = None) -> None:
        self.clerk_list("problems", heading)

    def plans(self, heading: str | None = None) -> None:
        self.clerk_list("plans", heading)

    def clerk_list(self, key: str, heading: str | None) -> None:
        self.head("h1", key, heading)
        items: list[str] = []
        for row in self.sub.tables.get(key, ()):
            lines = clean_paragraphs(row.values.get(key), numbered=True)
            if lines:
                items.append("".join(terminate(x) for x in lines))
        if items:
            self.numbered(items)
        else:
            self.add("body", self.r.get("none", "无。"))

    def signature(self, heading: str | None = None) -> None:
        self.add("body", "")
        self.add("signature", self.ctx["unit_name"])
        self.add("signature", cn_date(self.sub.get("report_date")))


def compose(scheme: Scheme, sub: Submission, card: Scorecard,
            ctx: Mapping[str, str] | None = None) -> list[Para]:
    """The report body from the title to the date, as paragraphs (``ctx``: ``unit_context``)."""
    return Composer(scheme, sub, card, ctx).compose()
