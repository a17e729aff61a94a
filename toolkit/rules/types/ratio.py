"""Ratio rule types: ratio_cap, ratio_floor, bands, proportional (a value or numerator ÷ denominator)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any, ClassVar

from toolkit.rules.excel import Excel, dec
from toolkit.rules.expr import Expr, FormulaUndefined
from toolkit.rules.model import Node, Rule
from toolkit.rules.types.base import DASH, HUNDRED, ZERO, Ctx, Describe, Outcome, RuleType, register
from toolkit.rules.types.params import ParamReader
from toolkit.rules.types.words import value_text, zero_text
from toolkit.text.numbers import exact, pct

VALUE_KEYS = frozenset({"value", "numerator", "denominator", "zero_denominator"})
_BAND_OPS = ("eq", "gt", "ge", "lt", "le")
_BAND_WORDS = {"eq": "等于", "gt": "大于", "ge": "不低于", "lt": "小于", "le": "不超过"}


def measure(ctx: Ctx, node: Node, r: Rule, w: Decimal) -> tuple[Decimal | None, dict[str, Any], Outcome | None]:
    """The measured value of a ratio rule, or a finished Outcome when the denominator is zero."""
    p = r.params
    try:
        if p.get("value") is not None:
            e: Expr = p["value"]
            return e.eval(ctx.env(e)), {"numerator": None, "denominator": None, "case": "normal"}, None
        num_e: Expr = p["numerator"]
        den_e: Expr = p["denominator"]
        num = num_e.eval(ctx.env(num_e))
        den = den_e.eval(ctx.env(den_e))
    except FormulaUndefined as ex:  # absurd magnitudes only: a cell message, never a crashed unit
        undefined: dict[str, Any] = {"numerator": None, "denominator": None, "case": "undefined"}
        if not ctx.follows_from_bad_input(ex.names):
            ctx.add("formula_undefined", cells=ctx.cells_of(ex.names), field_key=node.id, label=node.name)
        return None, undefined, Outcome(ZERO, None, undefined)
    facts: dict[str, Any] = {"numerator": num, "denominator": den, "case": "normal"}
    if den != 0:
        return num / den, facts, None
    zd = p.get("zero_denominator") or {"numerator_zero": {"kind": "error", "case": "zero_denominator"},
                                       "otherwise": {"kind": "error", "case": "zero_denominator"}}
    o = zd["numerator_zero"] if num == 0 else zd["otherwise"]
    facts["case"] = o["case"]
    if o["kind"] == "value":
        return o["value"], facts, None
    if o["kind"] == "full":
        return None, facts, Outcome(w, None, facts)
    if o["kind"] == "error" and not ctx.follows_from_bad_input(list(num_e.names) + list(den_e.names)):
        keys = list(den_e.names)
        ctx.add("zero_denominator", key=keys[0] if keys else None, cells=ctx.cells_of(keys) or None,
                label=node.name)
    return None, facts, Outcome(ZERO, None, facts)


class RatioType(RuleType):
    """A rule scored from one measured value; subclasses score the value."""

    ratio = True

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        p = chk.value(raw, inputs)
        p.update(self.parse_own(chk, raw, points))
        return p

    def parse_own(self, chk: ParamReader, raw: Mapping[str, Any], points: Decimal) -> dict[str, Any]:
        raise NotImplementedError

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        value, facts, done = measure(ctx, node, rule, w)
        if done or value is None:
            return done or Outcome(ZERO, None, facts)
        return self.score_value(value, facts, rule, w)

    def score_value(self, value: Decimal, facts: dict[str, Any], rule: Rule, w: Decimal) -> Outcome:
        raise NotImplementedError

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        # The measured value is rounded to 10 decimals so that binary floating point lands on the
        # band edges Decimal lands on; an undefined formula scores 0, as measure() does.
        p = rule.params
        if p.get("value") is not None:
            v = f"ROUND({x.expr(p['value'])},10)"
            return f"IFERROR({self.excel_value(v, rule, w)},0)"
        num, den = x.expr(p["numerator"]), x.expr(p["denominator"])
        zd = p.get("zero_denominator") or {}

        def zero(o: Mapping[str, Any] | None) -> str:
            kind = (o or {}).get("kind")
            if kind == "value":
                return self.excel_value(dec(o["value"]), rule, w) if o else "0"
            return dec(w) if kind == "full" else "0"

        ratio = f"ROUND({num}/{den},10)"
        return (f"IFERROR(IF(ROUND({den},10)=0,IF(ROUND({num},10)=0,{zero(zd.get('numerator_zero'))},"
                f"{zero(zd.get('otherwise'))}),{self.excel_value(ratio, rule, w)}),0)")

    def excel_value(self, v: str, rule: Rule, w: Decimal) -> str:
        """score_value in Excel over the value expression ``v``."""
        raise NotImplementedError


def _deduction(gap: Decimal, r: Rule) -> Decimal:
    """Points lost for a gap past the cap/floor: D per percentage point, or D per full step S."""
    d: Decimal = r.params["deduct"]
    step: Decimal | None = r.params.get("step")
    return d * (gap / step).to_integral_value(ROUND_FLOOR) if step else d * gap * HUNDRED


class _Limit(RatioType):
    """ratio_cap / ratio_floor: full points on the right side of the limit, D per point past it."""

    limit: ClassVar[str] = ""
    past: ClassVar[str] = ""  # 超过 / 低于
    keep: ClassVar[str] = ""  # 不超过…的 / 达到…的
    sign: ClassVar[str] = ""

    def parse_own(self, chk: ParamReader, raw: Mapping[str, Any], points: Decimal) -> dict[str, Any]:
        return {self.limit: chk.pct(raw, self.limit), "deduct": chk.num(raw, "deduct"),
                "step": chk.pct(raw, "step", required=False)}

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        p = rule.params
        step = p.get("step")
        per = f"每{self.past}{exact(step * 100)}个百分点扣{exact(p['deduct'])}分（不足{exact(step * 100)}个百分点的不扣分）" \
            if step else f"每{self.past}1个百分点扣{exact(p['deduct'])}分"
        return (f"{value_text(node.name, p, labels)}。{self.keep.format(pct(p[self.limit], places=None, none=''))}"
                f"的得满分；{per}，扣完为止。" + zero_text(p, labels))

    def target(self, rule: Rule, by: str | None) -> str:
        return f"{self.sign}{pct(rule.params.get(self.limit))}"

    def excel_value(self, v: str, rule: Rule, w: Decimal) -> str:
        p = rule.params
        limit, d, step = dec(p[self.limit]), dec(p["deduct"]), p.get("step")
        gap = f"({v}-{limit})" if self.limit == "cap" else f"({limit}-{v})"
        ok = f"{v}<={limit}" if self.limit == "cap" else f"{v}>={limit}"
        lost = f"{d}*INT(ROUND({gap}/{dec(step)},9))" if step else f"{d}*{gap}*100"
        return f"IF({ok},{dec(w)},{dec(w)}-{lost})"


@register
class RatioCap(_Limit):
    name = "ratio_cap"
    keys = VALUE_KEYS | {"cap", "deduct", "step"}
    limit, past, keep, sign = "cap", "超过", "不超过{}", "≤"
    example = {"type": "ratio_cap", "value": "staff_actual / staff_quota", "cap": 100, "deduct": 1}

    def score_value(self, value: Decimal, facts: dict[str, Any], rule: Rule, w: Decimal) -> Outcome:
        cap = rule.params["cap"]
        return Outcome(w if value <= cap else w - _deduction(value - cap, rule), value, facts)


@register
class RatioFloor(_Limit):
    name = "ratio_floor"
    keys = VALUE_KEYS | {"floor", "deduct", "step"}
    limit, past, keep, sign = "floor", "低于", "达到{}", "≥"
    example = {"type": "ratio_floor", "value": "staff_actual / staff_quota", "floor": 90, "deduct": 1}

    def score_value(self, value: Decimal, facts: dict[str, Any], rule: Rule, w: Decimal) -> Outcome:
        floor = rule.params["floor"]
        return Outcome(w if value >= floor else w - _deduction(floor - value, rule), value, facts)


def _in_band(v: Decimal, band: Mapping[str, Any]) -> bool:
    checks = {"eq": v.__eq__, "gt": v.__gt__, "ge": v.__ge__, "lt": v.__lt__, "le": v.__le__}
    return all(checks[op](band[op]) for op in checks if band.get(op) is not None)


@register
class Bands(RatioType):
    name = "bands"
    keys = VALUE_KEYS | {"bands"}
    example = {"type": "bands", "value": "staff_actual / staff_quota",
               "bands": [{"le": 100, "points": 1}, {"gt": 100, "points": 0}]}

    def parse_own(self, chk: ParamReader, raw: Mapping[str, Any], points: Decimal) -> dict[str, Any]:
        bands = []
        for b in chk.items(raw, "bands"):
            if not isinstance(b, Mapping) or "points" not in b:
                chk.err("bands 的每一档需要 points")
                continue
            chk.known_keys(b, {"points", *_BAND_OPS}, "bands 的一档")
            band: dict[str, Any] = {"points": chk.num(b, "points")}
            for op in _BAND_OPS:
                if op in b:
                    band[op] = chk.pct(b, op)
            bp = band["points"]
            if bp is not None and not (0 <= bp <= points):
                chk.err(f"bands 中的分值 {bp} 超出 0～{points}")
            bands.append(band)
        if not bands:
            chk.err("bands 至少需要一档")
        return {"bands": tuple(bands)}

    def score_value(self, value: Decimal, facts: dict[str, Any], rule: Rule, w: Decimal) -> Outcome:
        for i, band in enumerate(rule.params["bands"]):
            if _in_band(value, band):
                facts["band"] = i
                return Outcome(band["points"], value, facts)
        facts["band"] = None
        return Outcome(ZERO, value, facts)

    def excel_value(self, v: str, rule: Rule, w: Decimal) -> str:
        out = "0"
        for band in reversed(rule.params["bands"]):
            ops = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
            conds = [f"{v}{ops[op]}{dec(band[op])}" for op in _BAND_OPS if band.get(op) is not None]
            out = f"IF(AND({','.join(conds)}),{dec(band['points'])},{out})" if conds else dec(band["points"])
        return out

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        p = rule.params
        parts = []
        for b in p["bands"]:
            cond = "且".join(f"{_BAND_WORDS[op]}{pct(b[op], places=None, none='')}" for op in _BAND_OPS if op in b)
            parts.append(f"{cond}的得{exact(b['points'])}分")
        return f"{value_text(node.name, p, labels)}。" + "；".join(parts) + "。" + zero_text(p, labels)

    def target(self, rule: Rule, by: str | None) -> str:
        bands = list(rule.params.get("bands") or ())
        if bands:
            best = max(bands, key=lambda b: b.get("points") or 0)
            for op, sign in (("eq", ""), ("le", "≤"), ("lt", "<"), ("ge", "≥"), ("gt", ">")):
                if best.get(op) is not None:
                    return f"{sign}{pct(best[op])}"
        return DASH


@register
class Proportional(RatioType):
    name = "proportional"
    keys = VALUE_KEYS | {"target"}
    example = {"type": "proportional", "value": "staff_actual / staff_quota", "target": 95}

    def parse_own(self, chk: ParamReader, raw: Mapping[str, Any], points: Decimal) -> dict[str, Any]:
        target = chk.pct(raw, "target")
        if target is not None and target <= 0:
            chk.err("参数 target 必须大于 0")
        return {"target": target}

    def score_value(self, value: Decimal, facts: dict[str, Any], rule: Rule, w: Decimal) -> Outcome:
        target = rule.params["target"]
        return Outcome(w if value >= target else w * value / target, value, facts)

    def excel_value(self, v: str, rule: Rule, w: Decimal) -> str:
        t = dec(rule.params["target"])
        return f"IF({v}>={t},{dec(w)},{dec(w)}*{v}/{t})"

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        p = rule.params
        target = pct(p["target"], places=None, none='')
        return (f"{value_text(node.name, p, labels)}。达到{target}的得满分；未达到的按 实际值 ÷ {target} × "
                f"{exact(node.points)}分 计分。" + zero_text(p, labels))

    def target(self, rule: Rule, by: str | None) -> str:
        return f"≥{pct(rule.params.get('target'))}"
