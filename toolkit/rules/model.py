"""The scheme as data: the immutable Scheme, its indicator tree (Node), leaf rules (Rule), adjustments and grades (Grade)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from toolkit.fields import Field, Table
from toolkit.rules.checks import DEFAULT_CHECKS, Check


@dataclass(frozen=True)
class Rule:
    type: str
    params: Mapping[str, Any]  # validated and normalised (percentages as fractions, Expr objects)
    inputs: tuple[str, ...]  # every field key the rule reads


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    points: Decimal
    level: int
    path: tuple[str, ...]
    children: tuple[Node, ...] = ()
    rule: Rule | None = None
    wording: Mapping[str, Any] = field(default_factory=dict)  # report sentences for this node
    judgement: bool = False  # has a 评分表 block (checklist, tiers, named inputs): gets note_<id>

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.walk()

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class Adjustment:
    """A bonus or penalty scored after the 100 points (scheme key ``adjustments``): ``node`` holds
    the id, the name, the rule and ``points`` = its max; a bonus adds the points its rule gives,
    a penalty takes the points its rule loses."""

    kind: str  # "bonus" | "penalty"
    node: Node


@dataclass(frozen=True)
class Grade:
    name: str
    min: Decimal  # inclusive lower bound


@dataclass(frozen=True)
class Scheme:
    id: str
    title: str
    total: Decimal
    grades: tuple[Grade, ...]  # highest first
    levels: tuple[Node, ...]  # 一级指标
    input_fields: tuple[Field, ...]  # the 评分表 inputs
    report: Mapping[str, Any]  # report wording and fonts (spec 04)
    source: str = ""
    ref: str = ""  # what load_scheme() takes to load it again: a built-in id or an absolute path
    indicator_groups: Mapping[str, Decimal] = field(default_factory=dict)  # level1 group → points
    adjustments: tuple[Adjustment, ...] = ()  # bonus / penalty after the 100 points
    total_cap: Decimal = Decimal(100)  # the total after adjustments is clamped to [0, total_cap]
    checks: tuple[Check, ...] = DEFAULT_CHECKS  # cross-field checks (spec 08.3); default: the budget identity
    qualitative: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # 定性 tier → accepted words
    fields: tuple[Field, ...] = ()  # single fields the scheme adds to the form sheets (spec 08.4)
    field_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # key → {label, required}
    tables: tuple[Table, ...] = ()  # list tables the scheme adds (spec 08.4)
    form: str = "dept"  # the workbook it scores: "dept" (部门整体) or "project" (项目支出, spec 06)

    def nodes(self) -> Iterator[Node]:
        for lv in self.levels:
            yield from lv.walk()

    def leaves(self) -> list[Node]:
        return [n for n in self.nodes() if n.is_leaf]

    def node(self, node_id: str) -> Node:
        for n in self.nodes():
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def grade_for(self, total: Decimal) -> str:
        for g in self.grades:
            if total >= g.min:
                return g.name
        return self.grades[-1].name

    @property
    def inputs(self) -> frozenset[str]:
        """Every single-value field key some rule of the scheme reads."""
        return frozenset(k for n in self.leaves() if n.rule for k in n.rule.inputs)
