"""Scoring rules in words: the readable Chinese description of each leaf's rule (填表说明, 评分表),
as its registered rule type words it."""

from __future__ import annotations

from collections.abc import Mapping

from toolkit.rules import inputs
from toolkit.rules.model import Node, Rule, Scheme
from toolkit.rules.types.judgement import CIRCLED
from toolkit.rules.types.registry import rule_type

__all__ = ["CIRCLED", "describe_rule"]

def _labels(scheme: Scheme) -> dict[str, str]:
    return {f.key: f.label for f in inputs.all_fields(scheme)}


def describe_rule(scheme: Scheme, node: Node) -> str:
    """A readable Chinese description of a leaf's scoring rule (填表说明, 评分表)."""
    if not node.rule:
        return ""
    return _describe(node.rule, node, _labels(scheme))


def _describe(rule: Rule, node: Node, labels: Mapping[str, str]) -> str:
    return rule_type(rule.type).describe(rule, node, labels, lambda inner: _describe(inner, node, labels))
