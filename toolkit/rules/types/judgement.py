"""Judgement rule types: checklist, tiers, lookup, and the delegating not_applicable_full and first_given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from toolkit.fields import SHEET_SCORING, Field
from toolkit.model import NodeScore
from toolkit.rules.excel import Excel, dec, quote
from toolkit.rules.model import Node, Rule
from toolkit.rules.types.base import (
    DASH,
    TYPES,
    ZERO,
    Ctx,
    Describe,
    Fill,
    Outcome,
    Reads,
    RuleType,
    register,
)
from toolkit.rules.types.params import ParamReader, param_num, param_pct
from toolkit.rules.yaml_safe import line_of
from toolkit.text.numbers import exact
from toolkit.text.numbers import points as fmt_points

CHECK_CHOICES = ("是", "否")
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def circled(i: int) -> str:
    return CIRCLED[i] if i < len(CIRCLED) else str(i + 1)



def yes_no_fields(rule: Rule, node: Node, unit: Callable[[Mapping[str, Any]], str]) -> list[Field]:
    """One required 是/否 cell on 评分表 per item of a checklist-like rule (checklist, deductions)."""
    return [Field(it["key"], it["text"], SHEET_SCORING, kind="choice", required=True,
                  choices=CHECK_CHOICES, unit=unit(it), indicator=node.id)
            for it in rule.params["items"]]

@register
class NotApplicableFull(RuleType):
    name = "not_applicable_full"
    keys = frozenset({"flag", "when", "rule"})
    example = {"type": "not_applicable_full", "flag": "staff_quota", "when": "无",
               "rule": {"type": "ratio_cap", "value": "staff_actual / staff_quota", "cap": 100, "deduct": 1}}

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        flag = chk.input_key(raw, "flag", inputs)
        inner = chk.check(raw.get("rule"), node_id, points)
        if inner:
            inputs.extend(inner.inputs)
        return {"flag": flag, "when": str(raw.get("when", "无")), "rule": inner}

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        flag = ctx.sub.values.get(rule.params["flag"])
        if flag is not None and str(flag).strip() == rule.params["when"]:
            return Outcome(w, None, {"case": "not_applicable", "flag_value": str(flag)})
        return ctx.score_rule(node, rule.params["rule"], w)

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        p = rule.params
        rest = inner(p["rule"]) if p.get("rule") else ""
        return f"“{labels.get(p['flag'], p['flag'])}”为“{p['when']}”的得满分；否则：{rest}"

    def target(self, rule: Rule, by: str | None) -> str:
        from_inner: Rule | None = rule.params.get("rule")
        return _target(from_inner, None)

    def reads(self, rule: Rule, node: Node) -> Reads:
        inner: Rule | None = rule.params.get("rule")
        flag = rule.params["flag"]
        unless = ((flag, rule.params["when"], frozenset(inner.inputs)),) if inner is not None else ()
        return Reads(always=frozenset({flag}), unless=unless)

    def inner(self, rule: Rule, ns: NodeScore) -> Rule | None:
        return rule.params.get("rule") if ns.facts.get("case") != "not_applicable" else None

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        p = rule.params
        inner: Rule = p["rule"]
        return f"IF({x.text(p['flag'])}={quote(p['when'])},{dec(w)},{TYPES[inner.type].excel(inner, node, w, x)})"

    def is_judgement(self, rule: Rule) -> bool:
        inner: Rule | None = rule.params.get("rule")
        return bool(inner and _judgement(inner))


@register
class FirstGiven(RuleType):
    name = "first_given"
    keys = frozenset({"options"})
    judgement = True
    example = {"type": "first_given", "options": [
        {"input": "staff_actual", "rule": {"type": "ratio_cap", "value": "staff_actual / staff_quota",
                                           "cap": 100, "deduct": 1}}]}

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        opts = []
        for o in chk.items(raw, "options"):
            if not isinstance(o, Mapping) or "input" not in o or "rule" not in o:
                chk.err("first_given 的每一项需要 input 和 rule")
                continue
            chk.known_keys(o, {"input", "rule"}, "first_given 的一项")
            key = chk.input_key(o, "input", inputs)
            inner = chk.check(o["rule"], node_id, points)
            if inner:
                inputs.extend(inner.inputs)
            opts.append({"input": key, "rule": inner})
        if not opts:
            chk.err("first_given 至少需要一项")
        return {"options": tuple(opts)}

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        for opt in rule.params["options"]:
            v = ctx.sub.values.get(opt["input"])
            if v is not None and str(v).strip() != "":
                out = ctx.score_rule(node, opt["rule"], w)
                out.facts = {**out.facts, "by": opt["input"]}
                return out
        return Outcome(ZERO, None, {"case": "normal", "by": None})  # all blank: reported by validation

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        parts = []
        for i, o in enumerate(rule.params["options"]):
            label = labels.get(o["input"], o["input"])
            text = inner(o["rule"]) if o.get("rule") else ""
            for dup in (f"按“{label}”计分：", f"{label}。"):  # the option's own rule often restates it
                text = text.removeprefix(dup)
            parts.append(("优先" if i == 0 else "未填写以上各项的，") + f"按“{label}”计分：{text}")
        return "".join(parts)

    def target(self, rule: Rule, by: str | None) -> str:
        opts = rule.params.get("options") or ()
        used = [o for o in opts if o.get("input") == by] or list(opts[:1])
        return _target(used[0].get("rule"), None) if used else DASH

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        out = "0"
        for opt in reversed(rule.params["options"]):
            inner: Rule = opt["rule"]
            out = f"IF({x.given(opt['input'])},{TYPES[inner.type].excel(inner, node, w, x)},{out})"
        return out

    def reads(self, rule: Rule, node: Node) -> Reads:
        opts = []
        for o in rule.params["options"]:
            inner = o.get("rule")
            opts.append((o["input"], frozenset(inner.inputs if inner else ()) - {o["input"]}))
        return Reads(first=tuple(opts))

    def inner(self, rule: Rule, ns: NodeScore) -> Rule | None:
        for opt in rule.params.get("options", ()):
            if opt.get("input") == ns.facts.get("by") and opt.get("rule") is not None:
                return opt["rule"]  # type: ignore[no-any-return]
        return None


@register
class Checklist(RuleType):
    name = "checklist"
    keys = frozenset({"items"})
    judgement = True
    example = {"type": "checklist", "items": [{"text": "制度健全", "points": 5}]}  # w = 5 in the tests

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        items = []
        total = Decimal(0)
        for i, it in enumerate(chk.items(raw, "items"), start=1):
            if not isinstance(it, Mapping) or "text" not in it or "points" not in it:
                chk.err(f"checklist 第{i}项需要 text 和 points")
                continue
            chk.known_keys(it, {"text", "points", "unmet"}, f"checklist 第{i}项")
            try:
                pts = param_num(it["points"])
            except ValueError as e:
                chk.err(f"checklist 第{i}项（{line_of(it)}）的 points：{e}")
                continue
            total += pts
            items.append({"key": f"chk_{node_id}_{i}", "text": str(it["text"]), "points": pts,
                          "unmet": str(it.get("unmet", ""))})
            inputs.append(f"chk_{node_id}_{i}")
        if not items:
            chk.err("checklist 至少需要一项")
        elif total != points:
            chk.err(f"checklist 各项分值之和 {total} 不等于指标分值 {points}")
        return {"items": tuple(items)}

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        items = [{**it, "met": ctx.text(it["key"]) == "是"} for it in rule.params["items"]]
        score = sum((it["points"] for it in items if it["met"]), ZERO)
        return Outcome(score, None, {"case": "normal", "items": items, "unmet": [it for it in items if not it["met"]]})

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        items = "；".join(f"{circled(i)}{it['text']}（{exact(it['points'])}分）"
                         for i, it in enumerate(rule.params["items"]))
        return f"逐项判断，符合的（选“是”）得该项分值：{items}。"

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        return "(" + "+".join(f'IF({x.text(it["key"], CHECK_CHOICES)}="是",{dec(it["points"])},0)'
                              for it in rule.params["items"]) + ")"

    def fields(self, rule: Rule, node: Node) -> list[Field]:
        return yes_no_fields(rule, node, lambda it: f"{it['points']}分")

    def actual(self, ns: NodeScore, tbl: Mapping[str, Any], fill: Fill) -> str | None:
        items = ns.facts.get("items") or []
        unmet = [it for it in items if not it.get("met")]
        if not unmet:
            return str(tbl.get("checklist_all", DASH))
        return fill(tbl.get("checklist_some"), {"met": str(len(items) - len(unmet)), "unmet": str(len(unmet))})

    def sentence(self, node: Node, ns: NodeScore, report: Mapping[str, Any], vals: dict[str, str],
                 fill: Fill) -> str | None:
        w = node.wording
        items = ns.facts.get("items") or []
        unmet = [it for it in items if not it.get("met")]
        if not unmet:
            return fill(w.get("full") or (report.get("defaults") or {}).get("checklist_full"), vals)
        parts = []
        met = [str(it["text"]) for it in items if it.get("met")]
        if met:
            parts.append(fill(report.get("met_items"), {**vals, "items": "，".join(met)}))
        for it in unmet:
            tpl = report.get("unmet_item_text") if it.get("unmet") else report.get("unmet_item")
            parts.append(fill(tpl, {**vals, "text": it["text"], "unmet": it.get("unmet", ""),
                                    "points": fmt_points(it["points"])}))
        if vals.get("note_clean"):
            parts.append(vals["note_clean"])
        tpl = w.get("partial") or (report.get("defaults") or {}).get("checklist_partial")
        return fill(tpl, {**vals, "details": "；".join(parts)})


@register
class Tiers(RuleType):
    name = "tiers"
    keys = frozenset({"tiers"})
    judgement = True
    example = {"type": "tiers", "tiers": [{"name": "好", "low": 80, "high": 100},
                                          {"name": "差", "low": 0, "high": 80, "high_open": True}]}

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        tiers = []
        for tr in chk.items(raw, "tiers"):
            if not isinstance(tr, Mapping) or not {"name", "low", "high"} <= set(tr):
                chk.err("tiers 的每一档需要 name、low、high")
                continue
            chk.known_keys(tr, {"name", "low", "high", "high_open"}, f"tiers 档次“{tr['name']}”")
            try:
                lo, hi = param_pct(tr["low"]), param_pct(tr["high"])
            except ValueError as e:
                chk.err(f"tiers 档次“{tr['name']}”（{line_of(tr)}）：{e}")
                continue
            tiers.append({"name": str(tr["name"]), "low": lo, "high": hi,
                          "high_open": bool(tr.get("high_open", False))})
        if not tiers:
            chk.err("tiers 至少需要一档")
        inputs.extend([f"tier_{node_id}", f"score_{node_id}"])
        return {"tiers": tuple(tiers)}

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        name = ctx.text(f"tier_{node.id}")
        s = ctx.num(f"score_{node.id}")
        facts: dict[str, Any] = {"case": "normal", "tier": name, "self_score": s}
        tier = next((t for t in rule.params["tiers"] if t["name"] == name), None)
        if tier is None or s is None:
            return Outcome(ZERO, s, facts)  # blank or unknown tier: reported by validation
        lo, hi = tier["low"] * w, tier["high"] * w
        inside = lo <= s < hi if tier["high_open"] else lo <= s <= hi
        return Outcome(s if inside else ZERO, s, facts)

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        tiers = rule.params["tiers"]
        name = x.text(f"tier_{node.id}", tuple(t["name"] for t in tiers))
        s = x.num(f"score_{node.id}")
        out = "0"
        for t in reversed(tiers):
            lo, hi = dec(t["low"] * w), dec(t["high"] * w)
            inside = f"AND({s}>={lo},{s}{'<' if t['high_open'] else '<='}{hi})"
            out = f"IF({name}={quote(t['name'])},IF({inside},{s},0),{out})"
        return out

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        parts = []
        for tr in rule.params["tiers"]:
            lo, hi = tr["low"] * node.points, tr["high"] * node.points
            parts.append(f"{tr['name']} {exact(lo)}～{exact(hi)}分" + ("（不含上限）" if tr.get("high_open") else ""))
        return f"选择完成档次，并在该档次的分数范围内自评得分：{'；'.join(parts)}。扣分的须写明情况说明。"

    def target(self, rule: Rule, by: str | None) -> str:
        tiers = rule.params.get("tiers") or ()
        return str(tiers[0]["name"]) if tiers else DASH

    def fields(self, rule: Rule, node: Node) -> list[Field]:
        names = tuple(t["name"] for t in rule.params["tiers"])
        return [Field(f"tier_{node.id}", "完成档次", SHEET_SCORING, kind="choice", required=True,
                      choices=names, indicator=node.id),
                Field(f"score_{node.id}", "自评得分", SHEET_SCORING, kind="score", required=True,
                      min=0, max=float(node.points), unit="分", indicator=node.id)]


@register
class Lookup(RuleType):
    name = "lookup"
    keys = frozenset({"input", "table"})
    judgement = True
    example = {"type": "lookup", "input": "staff_quota", "table": {"有": 1, "无": 0}}

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        key = chk.input_key(raw, "input", inputs)
        table = raw.get("table")
        if not isinstance(table, Mapping) or not table:
            chk.err("lookup 需要 table（取值 → 分值）")
            table = {}
        out: dict[str, Decimal] = {}
        for k, v in table.items():
            try:
                out[str(k)] = v = param_num(v)
            except ValueError as e:
                chk.err(f"lookup 中“{k}”的分值：{e}")
                continue
            if not (0 <= v <= points):
                chk.err(f"lookup 中“{k}”的分值 {v} 超出 0～{points}")
        return {"input": key, "table": out}

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        choice = ctx.text(rule.params["input"])
        pts = rule.params["table"].get(choice)
        return Outcome(pts if pts is not None else ZERO, None,
                       {"case": "normal", "input": rule.params["input"], "choice": choice})

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        p = rule.params
        f = x.fields.get(p["input"])
        choice = x.text(p["input"], None if f is not None and f.choices else tuple(p["table"]))
        out = "0"
        for k, v in reversed(list(p["table"].items())):
            out = f"IF({choice}={quote(k)},{dec(v)},{out})"
        return out

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        p = rule.params
        table = "，".join(f"{k}{exact(v)}分" for k, v in p["table"].items())
        return f"按“{labels.get(p['input'], p['input'])}”计分：{table}。"

    def target(self, rule: Rule, by: str | None) -> str:
        table = rule.params.get("table") or {}
        return str(max(table, key=lambda k: table[k])) if table else DASH


def _target(rule: Rule | None, by: str | None) -> str:
    return TYPES[rule.type].target(rule, by) if rule is not None else DASH


def _judgement(rule: Rule) -> bool:
    return TYPES[rule.type].is_judgement(rule)
