"""Every rule type by name: importing this module loads each family module, whose classes register themselves."""

from __future__ import annotations

from toolkit.rules.types import count, judgement, ratio, table
from toolkit.rules.types.base import TYPES, RuleType

FAMILIES = (ratio, judgement, table, count)
__all__ = ["FAMILIES", "RULE_TYPES", "TYPES", "RuleType", "rule_type"]

RULE_TYPES = frozenset(TYPES)


def rule_type(name: str) -> RuleType:
    """The RuleType registered as ``name`` (KeyError for an unknown name)."""
    return TYPES[name]
