"""Deduction rule types: per_item (D points per counted item) and deductions (是/否 items, each with its own deduction)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from toolkit.fields import Field
from toolkit.model import NodeScore
from toolkit.rules.excel import Excel, dec
from toolkit.rules.expr import Expr, FormulaUndefined
from toolkit.rules.model import Node, Rule
from toolkit.rules.types.base import DASH, ZERO, Ctx, Describe, Fill, Outcome, RuleType, register
from toolkit.rules.types.judgement import CHECK_CHOICES, circled, yes_no_fields
from toolkit.rules.types.params import ParamReader, param_num
from toolkit.rules.types.words import expr_text
from toolkit.rules.yaml_safe import line_of
from toolkit.text.numbers import exact, num
from toolkit.text.numbers import points as fmt_points


@register
class PerItem(RuleType):
    """``{type: per_item, count: <formula or input>, deduct: 0.5}`` → max(0, w − deduct × count)."""

    name = "per_item"
    keys = frozenset({"count", "deduct"})
    example = {"type": "per_item", "count": "staff_actual", "deduct": "0.5"}

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        count = chk.expr(raw, "count", inputs)
        deduct = chk.num(raw, "deduct")
        if deduct is not None and deduct <= 0:
            chk.err("参数 deduct 必须大于 0（每项扣几分）")
        return {"count": count, "deduct": deduct}

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        e: Expr = rule.params["count"]
        try:
            n = e.eval(ctx.env(e))
        except FormulaUndefined as ex:
            if not ctx.follows_from_bad_input(ex.names):
                ctx.add("formula_undefined", cells=ctx.cells_of(ex.names), field_key=node.id, label=node.name)
            return Outcome(ZERO, None, {"case": "undefined"})
        n = max(ZERO, n)
        return Outcome(w - rule.params["deduct"] * n, n, {"case": "normal", "count": n})

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        p = rule.params
        return f"按“{expr_text(p['count'], labels)}”计分：每出现1项扣{exact(p['deduct'])}分，扣完为止。"

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        p = rule.params
        return f"IFERROR({dec(w)}-{dec(p['deduct'])}*MAX(0,{x.expr(p['count'])}),0)"

    def target(self, rule: Rule, by: str | None) -> str:
        return "0项"

    def actual(self, ns: NodeScore, tbl: Mapping[str, Any], fill: Fill) -> str | None:
        n = ns.facts.get("count")
        return f"{num(n)}项" if isinstance(n, Decimal) else DASH


@register
class Deductions(RuleType):
    """``{type: deductions, items: [{key, text, deduct, when?: 是}]}``: w minus the deduction of
    every item answered 否 (of every penalty item, ``when: 是``, answered 是); floor 0. The items
    may add up to more than w. A blank answer deducts like 否 for an ordinary item and nothing for
    a penalty item (validation reports the blank either way)."""

    name = "deductions"
    keys = frozenset({"items"})
    judgement = True
    example = {"type": "deductions", "items": [{"key": "ded_a", "text": "制度健全", "deduct": 1},
                                               {"key": "ded_b", "text": "发生违规", "deduct": 2, "when": "是"}]}

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        items = []
        seen: set[str] = set()
        for i, it in enumerate(chk.items(raw, "items"), start=1):
            if not isinstance(it, Mapping) or not {"key", "text", "deduct"} <= set(it):
                chk.err(f"deductions 第{i}项需要 key、text 和 deduct")
                continue
            chk.known_keys(it, {"key", "text", "deduct", "when"}, f"deductions 第{i}项")
            key = str(it["key"])
            if not key.isidentifier() or not key.isascii() or key in chk.known or key in seen:
                chk.err(f"deductions 第{i}项（{line_of(it)}）的 key“{key}”须为英文字母、数字和下划线，"
                        "且不与其他字段重名")
                continue
            seen.add(key)
            try:
                d = param_num(it["deduct"])
                if d <= 0:
                    raise ValueError("扣分必须大于 0")
            except ValueError as e:
                chk.err(f"deductions 第{i}项（{line_of(it)}）的 deduct：{e}")
                continue
            when = str(it.get("when", "否"))
            if when not in CHECK_CHOICES:
                chk.err(f"deductions 第{i}项（{line_of(it)}）的 when 只能是 是 或 否")
                continue
            items.append({"key": key, "text": str(it["text"]), "deduct": d, "when": when})
            inputs.append(key)
        if not items:
            chk.err("deductions 至少需要一项")
        return {"items": tuple(items)}

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        items = []
        for it in rule.params["items"]:
            answer = ctx.text(it["key"])
            hit = answer == "是" if it["when"] == "是" else answer != "是"
            items.append({**it, "hit": hit})
        lost = sum((it["deduct"] for it in items if it["hit"]), ZERO)
        return Outcome(w - lost, None, {"case": "normal", "items": items, "hits": [it for it in items if it["hit"]]})

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        items = "；".join(f"{circled(i)}{it['text']}（选“{it['when']}”扣{exact(it['deduct'])}分）"
                         for i, it in enumerate(rule.params["items"]))
        return f"逐项判断，按所选扣分：{items}。扣完为止。"

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        lost = []
        for it in rule.params["items"]:
            t = x.text(it["key"], CHECK_CHOICES)
            hit = f'{t}="是"' if it["when"] == "是" else f'{t}<>"是"'
            lost.append(f"IF({hit},{dec(it['deduct'])},0)")
        return f"{dec(w)}-(" + "+".join(lost) + ")"

    def fields(self, rule: Rule, node: Node) -> list[Field]:
        return yes_no_fields(rule, node, lambda it: f"扣{it['deduct']}分")

    def actual(self, ns: NodeScore, tbl: Mapping[str, Any], fill: Fill) -> str | None:
        hits = ns.facts.get("hits") or []
        return f"扣分{len(hits)}项" if hits else "无扣分项"

    def sentence(self, node: Node, ns: NodeScore, report: Mapping[str, Any], vals: dict[str, str],
                 fill: Fill) -> str | None:
        base = fill(node.wording.get("sentence") or (report.get("defaults") or {}).get("sentence"), vals)
        hits = ns.facts.get("hits") or []
        if not hits:
            return base
        details = "；".join(f"{it['text']}，扣{fmt_points(it['deduct'])}分" for it in hits)
        return f"{base.rstrip('。')}（{details}）"
