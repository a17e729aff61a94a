"""Adjustments: the scheme's ``adjustments:`` (bonus / penalty after the 100 points) and ``total_cap:``,
read from the scheme file and scored.

```yaml
total_cap: 100
adjustments:
  - {id: award, name: 获得表彰, kind: bonus, max: 2, rule: {type: lookup, input: award, table: {是: 2, 否: 0}}}
  - {id: audit, name: 审计发现问题, kind: penalty, max: 5, rule: {type: per_item, count: audit_issues, deduct: 1}}
```
A bonus adds the points its rule gives out of ``max``; a penalty takes the points its rule loses
out of ``max`` (per_item: deduct × count, at most max). The total is clamped to [0, total_cap].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from toolkit.model import NodeScore, Scorecard
from toolkit.rules.check import RuleChecker, is_judgement
from toolkit.rules.model import Adjustment, Node
from toolkit.rules.types.base import ZERO, Ctx, clamp
from toolkit.rules.types.params import param_num
from toolkit.rules.types.registry import TYPES
from toolkit.rules.yaml_safe import NotAList, as_list, line_of
from toolkit.text.numbers import round2

KINDS = {"bonus": "加分", "penalty": "扣分"}
ADJUSTMENT_KEYS = frozenset({"id", "name", "kind", "max", "rule"})
ADJUSTMENT_PATH = "加减分"


@dataclass(frozen=True)
class AdjustedScorecard(Scorecard):
    """A Scorecard of a scheme with adjustments: ``base`` is the sum of the indicators, ``total``
    the clamped total after ``adjustments`` (each NodeScore's score is the points added or taken,
    its facts["kind"] bonus or penalty)."""

    base: Decimal = ZERO
    adjustments: tuple[NodeScore, ...] = ()


def parse_total_cap(raw: Mapping[str, Any], problems: list[str]) -> Decimal:
    """The scheme's ``total_cap`` (default 100)."""
    if "total_cap" not in raw:
        return Decimal(100)
    try:
        cap = param_num(raw["total_cap"])
        if cap <= 0:
            raise ValueError("必须大于 0")
    except ValueError as e:
        problems.append(f"total_cap（{line_of(raw, 'total_cap')}）：{e}")
        return Decimal(100)
    return cap


def parse_adjustments(raw: Mapping[str, Any], problems: list[str], known: set[str],
                      taken: set[str] | frozenset[str] = frozenset()) -> tuple[Adjustment, ...]:
    """The scheme's ``adjustments:`` list, every problem appended to ``problems`` (Chinese, with
    the line); ``known``: the field keys a rule may read, ``taken``: the indicator ids in use."""
    try:
        items = as_list(raw.get("adjustments"))
    except NotAList:
        problems.append(f"adjustments（{line_of(raw, 'adjustments')}）必须是以“- ”开头的列表")
        return ()
    out: list[Adjustment] = []
    seen = set(taken)
    for i, it in enumerate(items, start=1):
        where = f"adjustments 第{i}项（{line_of(it)}）"
        if not isinstance(it, Mapping):
            problems.append(f"{where}：必须是含 id、name、kind、max、rule 的映射")
            continue
        chk = RuleChecker(where, problems, known)
        chk.known_keys(it, ADJUSTMENT_KEYS, "加减分项")
        missing = [k for k in ("id", "name", "kind", "max", "rule") if k not in it]
        if missing:
            chk.err(f"缺少 {'、'.join(missing)}")
            continue
        aid, name, kind = str(it["id"]), str(it["name"]), str(it["kind"])
        if not aid.isidentifier() or not aid.isascii() or aid in seen:
            chk.err(f"id“{aid}”须为英文字母、数字和下划线，且不与其他指标或加减分项重复")
        seen.add(aid)
        if kind not in KINDS:
            chk.err(f"kind“{kind}”无效，可用：bonus（加分）、penalty（扣分）")
        top = chk.num(it, "max")
        if top is not None and top <= 0:
            chk.err("max 必须大于 0")
            top = None
        rule = chk.check(it["rule"], aid, top or Decimal(1))
        if rule is None or top is None or kind not in KINDS:
            continue
        node = Node(id=aid, name=name, points=top, level=0, path=(ADJUSTMENT_PATH, name), rule=rule,
                    judgement=is_judgement(rule))
        out.append(Adjustment(kind=kind, node=node))
    return tuple(out)


def score_adjustments(ctx: Ctx) -> tuple[NodeScore, ...]:
    """Each adjustment's points added (bonus) or taken (penalty), rounded to 2 decimals."""
    out = []
    for adj in ctx.scheme.adjustments:
        node = adj.node
        assert node.rule is not None
        res = TYPES[node.rule.type].score(ctx, node, node.rule, node.points)
        got = round2(clamp(res.score, node.points))
        amount = got if adj.kind == "bonus" else node.points - got
        facts = {**res.facts, "kind": adj.kind, "rule_score": got}
        out.append(NodeScore(id=node.id, name=node.name, points=node.points, score=amount, level=0,
                             path=node.path, rule=node.rule.type, value=res.value, facts=facts))
    return tuple(out)


def adjusted_total(base: Decimal, adjustments: tuple[NodeScore, ...], cap: Decimal) -> Decimal:
    """clamp(base + bonuses − penalties, 0, cap)."""
    delta = sum((a.score if a.facts.get("kind") == "bonus" else -a.score for a in adjustments), ZERO)
    return clamp(base + delta, cap)
