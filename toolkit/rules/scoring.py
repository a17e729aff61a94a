"""Scoring: Scheme + Submission → Scorecard; each leaf is scored by its registered rule type.

The engine walks the scheme tree and asks each leaf's type (toolkit.rules.types) for its raw
score; every score is exact Decimal arithmetic, clamped to [0, w] and rounded half-up to 2
decimals once per leaf (and once per perf_indicators row); sub-totals and the total are sums of
rounded leaves. Adjustments (bonus / penalty) follow the 100 points, then the total is clamped
to [0, total_cap].
"""

from __future__ import annotations

from toolkit.model import NodeScore, Scorecard, Submission
from toolkit.rules.model import Node, Scheme
from toolkit.rules.types.adjust import AdjustedScorecard, adjusted_total, score_adjustments
from toolkit.rules.types.base import ZERO, Ctx, Outcome, clamp
from toolkit.rules.types.registry import TYPES
from toolkit.rules.types.table import QUAL_RANGES, score_row
from toolkit.text.numbers import exact, round2

__all__ = ["QUAL_RANGES", "RULES", "Outcome", "clamp", "score", "score_row"]

RULES = TYPES  # rule type name → RuleType

_Ctx = Ctx


# --------------------------------------------------------------------------- the engine
def _score_leaf(ctx: _Ctx, node: Node) -> NodeScore:
    assert node.rule is not None
    w = node.points
    out = TYPES[node.rule.type].score(ctx, node, node.rule, w)
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
    if scheme.adjustments:
        adjustments = score_adjustments(ctx)
        final = adjusted_total(total, adjustments, scheme.total_cap)
        return AdjustedScorecard(scheme_id=scheme.id, total=final, grade=scheme.grade_for(final), levels=levels,
                                 problems=tuple(ctx.problems), base=total, adjustments=adjustments)
    return Scorecard(scheme_id=scheme.id, total=total, grade=scheme.grade_for(total), levels=levels,
                     problems=tuple(ctx.problems))
