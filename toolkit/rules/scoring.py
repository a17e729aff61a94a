"""Scoring: Scheme + Submission → Scorecard, one function per rule type.

One small function per rule type, registered by the type name the scheme file uses. The engine
walks the scheme tree; every score is exact Decimal arithmetic, clamped to [0, w] and rounded
half-up to 2 decimals once per leaf (and once per perf_indicators row); sub-totals and the total
are sums of rounded leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from toolkit.forms.fields import QUAL_TIERS
from toolkit.model import NodeScore, RowScore, Scorecard, Submission, TableRow
from toolkit.problems import Problem, problem
from toolkit.rules.expr import Expr, FormulaUndefined
from toolkit.rules.model import Node, Rule, Scheme
from toolkit.text import address as A1
from toolkit.text.numbers import exact, round2, to_decimal

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
# 定性 rows (MOF practice): tier → [low, high) share of w and the default share when no self score.
QUAL_RANGES: dict[str, tuple[Decimal, Decimal, bool, Decimal]] = {
    "达成": (Decimal("0.8"), ONE, False, ONE),
    "部分达成": (Decimal("0.6"), Decimal("0.8"), True, Decimal("0.7")),
    "未达成": (ZERO, Decimal("0.6"), True, Decimal("0.3")),
}
assert tuple(QUAL_RANGES) == QUAL_TIERS
OVERACHIEVED = Decimal("1.5")
# Problems about how several values fit together, not about one value being unusable.
_AGGREGATE_CODES = frozenset({"budget_identity", "budget_income_mismatch", "indicator_points",
                              "indicator_group_missing", "duplicate_unit", "scheme_mismatch"})


def clamp(x: Decimal, w: Decimal) -> Decimal:
    return max(ZERO, min(w, x))


@dataclass
class Outcome:
    """What a rule function returns: the raw score (before clamp/round), the value and the facts."""

    score: Decimal
    value: Decimal | None = None
    facts: dict[str, Any] = field(default_factory=dict)


class _Ctx:
    """Scoring context for one submission: values as Decimals, and the problems found."""

    def __init__(self, scheme: Scheme, sub: Submission):
        self.scheme = scheme
        self.sub = sub
        self.problems: list[Problem] = []
        # Inputs validation already found wrong: scoring problems that follow from them (a zero
        # denominator, a missing note for a score lost to a blank) would only repeat the cause.
        errors = [p for p in sub.problems if p.severity == "error" and p.code not in _AGGREGATE_CODES]
        self.bad_fields = {p.field for p in errors if p.field}
        self.bad_cells = {c for p in errors for c in p.cells}

    def follows_from_bad_input(self, keys: tuple[str, ...] | list[str]) -> bool:
        """An input validation refused, or left blank (a blank that scoring needs was reported by
        validation as required or missing; blank_is_zero money is 0, not blank)."""
        return any(k in self.bad_fields or self.sub.values.get(k) is None for k in keys)

    def num(self, key: str) -> Decimal | None:
        v = self.sub.values.get(key)
        if v is None or v == "":
            return None
        if isinstance(v, Decimal):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return Decimal(str(v))
        try:
            return Decimal(str(v))
        except ArithmeticError:
            return None

    def env(self, expr: Expr) -> dict[str, Decimal]:
        # Blank inputs were already reported by validation; score them as 0 rather than crash.
        return {k: (self.num(k) or ZERO) for k in expr.names}

    def cells_of(self, keys: list[str] | tuple[str, ...]) -> list[str]:
        return [self.sub.cells[k] for k in keys if k in self.sub.cells]

    def add(self, code: str, *, key: str | None = None, cells: list[str] | None = None,
            field_key: str | None = None, **params: Any) -> None:
        addr = self.sub.cells.get(key) if key else None
        if cells is None:
            cells = [addr] if addr else []
        sheet, cell = A1.split_location(cells[0]) if cells else (None, None)
        self.problems.append(problem(code, sheet=sheet, cell=cell, cells=cells, field=field_key or key, **params))


RuleFn = Callable[[_Ctx, Node, Rule, Decimal], Outcome]
RULES: dict[str, RuleFn] = {}


def rule(name: str) -> Callable[[RuleFn], RuleFn]:
    def deco(fn: RuleFn) -> RuleFn:
        RULES[name] = fn
        return fn

    return deco


# --------------------------------------------------------------------------- ratio rules
def _ratio(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> tuple[Decimal | None, dict[str, Any], Outcome | None]:
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


def _deduction(gap: Decimal, r: Rule) -> Decimal:
    """Points lost for a gap past the cap/floor: D per percentage point, or D per full step S."""
    d: Decimal = r.params["deduct"]
    step: Decimal | None = r.params.get("step")
    return d * (gap / step).to_integral_value(ROUND_FLOOR) if step else d * gap * HUNDRED


@rule("ratio_cap")
def ratio_cap(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    value, facts, done = _ratio(ctx, node, r, w)
    if done or value is None:
        return done or Outcome(ZERO, None, facts)
    cap = r.params["cap"]
    if value <= cap:
        return Outcome(w, value, facts)
    return Outcome(w - _deduction(value - cap, r), value, facts)


@rule("ratio_floor")
def ratio_floor(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    value, facts, done = _ratio(ctx, node, r, w)
    if done or value is None:
        return done or Outcome(ZERO, None, facts)
    floor = r.params["floor"]
    if value >= floor:
        return Outcome(w, value, facts)
    return Outcome(w - _deduction(floor - value, r), value, facts)


def _in_band(v: Decimal, band: Mapping[str, Any]) -> bool:
    checks = {"eq": v.__eq__, "gt": v.__gt__, "ge": v.__ge__, "lt": v.__lt__, "le": v.__le__}
    return all(checks[op](band[op]) for op in checks if band.get(op) is not None)


@rule("bands")
def bands(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    value, facts, done = _ratio(ctx, node, r, w)
    if done or value is None:
        return done or Outcome(ZERO, None, facts)
    for i, band in enumerate(r.params["bands"]):
        if _in_band(value, band):
            facts["band"] = i
            return Outcome(band["points"], value, facts)
    facts["band"] = None
    return Outcome(ZERO, value, facts)


@rule("proportional")
def proportional(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    value, facts, done = _ratio(ctx, node, r, w)
    if done or value is None:
        return done or Outcome(ZERO, None, facts)
    target = r.params["target"]
    return Outcome(w if value >= target else w * value / target, value, facts)


# --------------------------------------------------------------------------- judgement rules
@rule("not_applicable_full")
def not_applicable_full(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    flag = ctx.sub.values.get(r.params["flag"])
    if flag is not None and str(flag).strip() == r.params["when"]:
        return Outcome(w, None, {"case": "not_applicable", "flag_value": str(flag)})
    inner: Rule = r.params["rule"]
    return RULES[inner.type](ctx, node, inner, w)


@rule("checklist")
def checklist(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    items = []
    for it in r.params["items"]:
        met = str(ctx.sub.values.get(it["key"]) or "").strip() == "是"
        items.append({**it, "met": met})
    score = sum((it["points"] for it in items if it["met"]), ZERO)
    return Outcome(score, None, {"case": "normal", "items": items, "unmet": [it for it in items if not it["met"]]})


def _tier_range(tier: Mapping[str, Any], w: Decimal) -> tuple[Decimal, Decimal]:
    return tier["low"] * w, tier["high"] * w


@rule("tiers")
def tiers(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    name = str(ctx.sub.values.get(f"tier_{node.id}") or "").strip()
    s = ctx.num(f"score_{node.id}")
    facts: dict[str, Any] = {"case": "normal", "tier": name, "self_score": s}
    tier = next((t for t in r.params["tiers"] if t["name"] == name), None)
    if tier is None or s is None:
        return Outcome(ZERO, s, facts)  # blank or unknown tier: reported by validation
    lo, hi = _tier_range(tier, w)
    inside = lo <= s < hi if tier["high_open"] else lo <= s <= hi
    return Outcome(s if inside else ZERO, s, facts)


@rule("lookup")
def lookup(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    choice = str(ctx.sub.values.get(r.params["input"]) or "").strip()
    pts = r.params["table"].get(choice)
    return Outcome(pts if pts is not None else ZERO, None,
                   {"case": "normal", "input": r.params["input"], "choice": choice})


@rule("first_given")
def first_given(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    for opt in r.params["options"]:
        v = ctx.sub.values.get(opt["input"])
        if v is not None and str(v).strip() != "":
            inner: Rule = opt["rule"]
            out = RULES[inner.type](ctx, node, inner, w)
            out.facts = {**out.facts, "by": opt["input"]}
            return out
    return Outcome(ZERO, None, {"case": "normal", "by": None})  # all blank: reported by validation


# --------------------------------------------------------------------------- perf_indicators rows
def score_row(row: TableRow) -> tuple[Decimal, Decimal | None, list[str]]:
    """MOF rules for one perf_indicators row → (raw score before clamp, value, warnings codes)."""
    v = row.values
    w = to_decimal(v.get("points")) or ZERO
    direction = v.get("direction")
    notes: list[str] = []
    if direction == "定性":
        tier = str(v.get("actual") or "")
        rng = QUAL_RANGES.get(tier)
        if rng is None:
            return ZERO, None, notes
        s = to_decimal(v.get("self_score"))
        if s is None:
            return w * rng[3], None, notes
        lo, hi, open_hi, _ = rng
        inside = lo * w <= s < hi * w if open_hi else lo * w <= s <= hi * w
        if not inside:
            notes.append("self_score_range")
            return ZERO, None, notes
        return s, None, notes
    a, t = to_decimal(v.get("actual")), to_decimal(v.get("target"))
    if a is None or t is None:
        return ZERO, None, notes
    value = a / t if t != 0 else None
    if direction == "≥":
        if t != 0 and a > t * OVERACHIEVED:
            notes.append("overachieved")
        if a >= t:
            return w, value, notes
        return (w * a / t if t > 0 else ZERO), value, notes
    if direction == "≤":
        if a <= t:
            return w, value, notes
        return (w * t / a if a > 0 else ZERO), value, notes
    if direction == "=":
        if a == t:
            return w, value, notes
        if t == 0:
            return ZERO, value, notes
        return w * max(ZERO, ONE - abs(a - t) / abs(t)), value, notes
    if direction == "区间":
        top = to_decimal(v.get("target_max"))
        if top is None:
            return ZERO, None, notes
        hi = top
        if t <= a <= hi:
            return w, None, notes
        if a > hi:
            return (w * hi / a), None, notes
        return (w * a / t if t > 0 else ZERO), None, notes
    return ZERO, None, notes


@rule("indicator_table")
def indicator_table(ctx: _Ctx, node: Node, r: Rule, w: Decimal) -> Outcome:
    group = r.params["group"]
    rows: list[RowScore] = []
    for row in ctx.sub.tables.get("perf_indicators", ()):
        if row.values.get("level1") != group:
            continue
        raw, value, notes = score_row(row)
        pts = to_decimal(row.values.get("points")) or ZERO
        s = round2(clamp(raw, pts))
        rows.append(RowScore(row=row, points=pts, score=s, value=value))
        name = str(row.values.get("name") or "")
        if any(c in ctx.bad_cells for c in row.cells.values()):
            continue  # validation already reported this row; its score problems would only echo it
        if "overachieved" in notes:
            ctx.add("overachieved", cells=[row.cells["actual"]] if "actual" in row.cells else [],
                    field_key="perf_indicators", label=name, actual=exact(row.values.get("actual")),
                    target=exact(row.values.get("target")))
        if "self_score_range" in notes:
            tier = str(row.values.get("actual"))
            lo, hi, _, _ = QUAL_RANGES[tier]
            ctx.add("tier_range", cells=[row.cells["self_score"]] if "self_score" in row.cells else [],
                    field_key="perf_indicators",
                    score=exact(row.values.get("self_score")), tier=tier, low=exact(lo * pts), high=exact(hi * pts))
        if s < pts and not str(row.values.get("deviation_note") or "").strip():
            ctx.add("note_required", cells=[row.cells["deviation_note"]] if "deviation_note" in row.cells else [],
                    field_key="perf_indicators",
                    label=name, score=exact(s), points=exact(pts))
    total = sum((rs.score for rs in rows), ZERO)
    out = Outcome(total, None, {"case": "normal", "group": group})
    out.facts["rows"] = tuple(rows)
    return out


# --------------------------------------------------------------------------- the engine
def _score_leaf(ctx: _Ctx, node: Node) -> NodeScore:
    assert node.rule is not None
    w = node.points
    out = RULES[node.rule.type](ctx, node, node.rule, w)
    rows = out.facts.pop("rows", ())
    score = round2(clamp(out.score, w))
    facts = dict(out.facts)
    if node.judgement:
        note = str(ctx.sub.values.get(f"note_{node.id}") or "").strip()
        facts["note"] = note
        if score < w and not note and not ctx.follows_from_bad_input(node.rule.inputs):
            key = f"note_{node.id}"
            addr = ctx.sub.cells.get(key)
            ctx.add("note_required", key=key, cells=[addr] if addr else [],
                    label=node.name, score=exact(score), points=exact(w))
    return NodeScore(id=node.id, name=node.name, points=w, score=score, level=node.level, path=node.path,
                     rule=node.rule.type, value=out.value, facts=facts, rows=tuple(rows))


def _score_node(ctx: _Ctx, node: Node) -> NodeScore:
    if node.is_leaf:
        return _score_leaf(ctx, node)
    kids = tuple(_score_node(ctx, c) for c in node.children)
    return NodeScore(id=node.id, name=node.name, points=node.points, score=sum((k.score for k in kids), ZERO),
                     level=node.level, path=node.path, children=kids)


def score(scheme: Scheme, submission: Submission) -> Scorecard:
    """Score a submission under a scheme. Never raises for bad values: problems are collected."""
    ctx = _Ctx(scheme, submission)
    levels = tuple(_score_node(ctx, lv) for lv in scheme.levels)
    total = sum((lv.score for lv in levels), ZERO)
    return Scorecard(scheme_id=scheme.id, total=total, grade=scheme.grade_for(total), levels=levels,
                     problems=tuple(ctx.problems))
