"""The indicator_table rule type: the perf_indicators rows of one 一级指标 group, scored by the MOF rules."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from toolkit.forms.fields import QUAL_TIERS
from toolkit.model import RowScore, TableRow
from toolkit.rules.model import Node, Rule
from toolkit.rules.types.base import ONE, ZERO, Ctx, Describe, Outcome, RuleType, clamp, register
from toolkit.rules.types.params import ParamReader
from toolkit.text.numbers import exact, round2, to_decimal

# 定性 rows (MOF practice): tier → [low, high) share of w and the default share when no self score.
QUAL_RANGES: dict[str, tuple[Decimal, Decimal, bool, Decimal]] = {
    "达成": (Decimal("0.8"), ONE, False, ONE),
    "部分达成": (Decimal("0.6"), Decimal("0.8"), True, Decimal("0.7")),
    "未达成": (ZERO, Decimal("0.6"), True, Decimal("0.3")),
}
assert tuple(QUAL_RANGES) == QUAL_TIERS
OVERACHIEVED = Decimal("1.5")


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


@register
class IndicatorTable(RuleType):
    name = "indicator_table"
    keys = frozenset({"group"})
    block = True
    example = {"type": "indicator_table", "group": "产出指标"}

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        g = raw.get("group")
        if not g:
            chk.err("indicator_table 需要 group（一级指标名称，如 产出指标）")
        return {"group": str(g)}

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        group = rule.params["group"]
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

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        return (f"按《绩效指标》表中一级指标为“{rule.params['group']}”的各行计分（计分方法见该表说明），"
                f"各行分值合计应为{exact(node.points)}分。")
