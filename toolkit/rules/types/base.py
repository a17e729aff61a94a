"""The RuleType contract and the scoring context every rule type scores with.

A rule type owns, in one place: its parameter spec (``keys``; ``parse`` checks and normalises
them), the inputs it reads (``reads``) and the 评分表 fields it adds (``fields``), its scoring
(``score``), its clerk-facing description (``describe``), its appendix 年度指标值 / 实际完成值
(``target`` / ``actual``) and its report sentence (``sentence``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from toolkit.fields import Field
from toolkit.model import NodeScore, Submission
from toolkit.problems import Problem, problem
from toolkit.rules.excel import Excel, NotExpressible
from toolkit.rules.expr import Expr
from toolkit.rules.model import Node, Rule, Scheme
from toolkit.rules.types.params import ParamReader
from toolkit.text import address as A1

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
DASH = "—"
# Problems about how several values fit together, not about one value being unusable.
_AGGREGATE_CODES = frozenset({"budget_identity", "budget_income_mismatch", "indicator_points",
                              "indicator_group_missing", "duplicate_unit", "scheme_mismatch"})

Fill = Callable[[Any, Mapping[str, Any]], str]
Describe = Callable[[Rule], str]  # describes an inner rule of the same node


def clamp(x: Decimal, w: Decimal) -> Decimal:
    return max(ZERO, min(w, x))


@dataclass
class Outcome:
    """What a rule's score returns: the raw score (before clamp/round), the value and the facts."""

    score: Decimal
    value: Decimal | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reads:
    """What a rule reads: ``always``; ``unless`` (flag, value, keys) read unless flag == value;
    ``first`` ((input, its rule's other keys), …): one of the inputs must be given."""

    always: frozenset[str] = frozenset()
    unless: tuple[tuple[str, str, frozenset[str]], ...] = ()
    first: tuple[tuple[str, frozenset[str]], ...] = ()


class Ctx:
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
        try:
            return Decimal(str(v))
        except ArithmeticError:
            return None

    def text(self, key: str) -> str:
        return str(self.sub.values.get(key) or "").strip()

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

    def score_rule(self, node: Node, rule: Rule, w: Decimal) -> Outcome:
        """Score an inner rule (not_applicable_full, first_given) through its own type."""
        return TYPES[rule.type].score(self, node, rule, w)


class RuleType:
    """One rule type. Subclasses set ``name`` and ``keys`` and override what differs."""

    name: ClassVar[str] = ""
    keys: ClassVar[frozenset[str]] = frozenset()  # parameter keys besides ``type``
    judgement: ClassVar[bool] = False  # a 评分表 block with a 情况说明 note
    ratio: ClassVar[bool] = False  # its value is a ratio (reported as a percentage)
    block: ClassVar[bool] = False  # reported as a block of lines (indicator_table)
    example: ClassVar[Mapping[str, Any]] = {}  # a valid rule mapping (tests: completeness)

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        """Check ``raw`` (its keys are already known to be ``keys``) → normalised params."""
        raise NotImplementedError

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        raise NotImplementedError

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        """The rule in words for the clerk (填表说明, 评分表)."""
        raise NotImplementedError

    def target(self, rule: Rule, by: str | None) -> str:
        """年度指标值 in the appendix when the wording gives none."""
        return DASH

    def actual(self, ns: NodeScore, tbl: Mapping[str, Any], fill: Fill) -> str | None:
        """实际完成值 in the appendix; None: the generic one (tier, choice, value)."""
        return None

    def sentence(self, node: Node, ns: NodeScore, report: Mapping[str, Any], vals: dict[str, str],
                 fill: Fill) -> str | None:
        """The report sentence for a normal case; None: the generic wording sentence."""
        return None

    def reads(self, rule: Rule, node: Node) -> Reads:
        return Reads(always=frozenset(rule.inputs))

    def fields(self, rule: Rule, node: Node) -> list[Field]:
        """The 评分表 fields the rule itself adds (checklist items, tiers)."""
        return []

    def inner(self, rule: Rule, ns: NodeScore) -> Rule | None:
        """The rule that produced ``ns`` when this type delegates (first_given, not_applicable_full)."""
        return None

    def is_judgement(self, rule: Rule) -> bool:
        return self.judgement

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        """The raw score as an Excel expression (before the engine's clamp and rounding), written with
        ``x`` (toolkit.rules.excel); NotExpressible with a Chinese reason when no formula is faithful."""
        raise NotExpressible(f"规则类型 {self.name} 没有 Excel 公式")


# Every rule type by name; filled by @register as the family modules load (registry.py imports them all).
TYPES: dict[str, RuleType] = {}
T = TypeVar("T", bound=type[RuleType])


def register(cls: T) -> T:
    assert cls.name and cls.name not in TYPES, cls
    TYPES[cls.name] = cls()
    return cls
