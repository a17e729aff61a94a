"""Scheme rule checks: validate each leaf's rule mapping into a normalised Rule through its registered
type, and derive the 评分表 input fields the rules need."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from toolkit.fields import SHEET_SCORING, Field
from toolkit.rules.model import Node, Rule
from toolkit.rules.types.judgement import CHECK_CHOICES
from toolkit.rules.types.params import ParamReader, param_num, param_pct
from toolkit.rules.types.registry import RULE_TYPES, rule_type

__all__ = ["CHECK_CHOICES", "RuleChecker", "derived_fields", "is_judgement", "param_num", "param_pct"]


class RuleChecker(ParamReader):
    """Validates one rule mapping, collecting problems; returns a normalised Rule."""

    def check(self, raw: Any, node_id: str, points: Decimal) -> Rule | None:
        if not isinstance(raw, Mapping) or "type" not in raw:
            self.err("rule 必须是含 type 的映射")
            return None
        t = raw["type"]
        if t not in RULE_TYPES:
            self.err(f"未知的规则类型“{t}”，可用：{'、'.join(sorted(RULE_TYPES))}")
            return None
        rt = rule_type(t)
        self.known_keys(raw, rt.keys, f"规则 {t} ", also=frozenset({"type"}))
        inputs: list[str] = []
        p = rt.parse(self, raw, node_id, points, inputs)
        return Rule(type=t, params=p, inputs=tuple(dict.fromkeys(inputs)))


def is_judgement(rule: Rule) -> bool:
    return rule_type(rule.type).is_judgement(rule)


def derived_fields(nodes: list[Node], named: list[Field]) -> list[Field]:
    """The 评分表 fields in indicator order: each judgement block, then its note."""
    out: list[Field] = []
    used: set[str] = set()
    for n in nodes:
        if not n.rule or not n.judgement:
            continue
        r = n.rule
        out.extend(rule_type(r.type).fields(r, n))
        for k in r.inputs:
            for f in named:
                if f.key == k and k not in used:
                    out.append(Field(**{**f.__dict__, "indicator": n.id}))
                    used.add(k)
        out.append(Field(f"note_{n.id}", "情况说明（扣分时必填）", SHEET_SCORING, kind="longtext",
                         indicator=n.id))
    for f in named:  # named inputs no rule uses still appear
        if f.key not in used:
            out.append(f)
    return out
