"""The workbook as one scheme sees it: the form's fields (relabelled or made optional by the scheme's
``field_overrides``), the scheme's added ``fields`` and its own inputs, and which of them the scheme's
rules read (so an input a rule always reads is required, one source for the template's *, the hints
and the validator)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from toolkit.fields import Field, form
from toolkit.rules.forms import apply_overrides
from toolkit.rules.model import Scheme
from toolkit.rules.types.registry import rule_type


def scheme_fields(scheme: Scheme) -> tuple[Field, ...]:
    """The 评分表 inputs a scheme declares (checklist items, tiers, scores, notes, named inputs)."""
    return scheme.input_fields


# Schemes are frozen and loaded once per process: what is derived from one is kept by the scheme's
# identity (the scheme itself is held, so an id is never reused while its entry lives).
_DERIVED: dict[tuple[int, str], tuple[Scheme, Any]] = {}


def _derived(scheme: Scheme, what: str, make: Callable[[Scheme], Any]) -> Any:
    hit = _DERIVED.get((id(scheme), what))
    if hit is not None and hit[0] is scheme:
        return hit[1]
    value = make(scheme)
    if len(_DERIVED) > 256:
        _DERIVED.clear()
    _DERIVED[(id(scheme), what)] = (scheme, value)
    return value


def all_fields(scheme: Scheme) -> tuple[Field, ...]:
    """Every field of the workbook for ``scheme``: an input the scheme's rules always read is
    required; a conditional group no rule reads (new_building and building_*) is not (spec 08.1)."""
    fields: tuple[Field, ...] = _derived(scheme, "all_fields", _all_fields)
    return fields


def _all_fields(scheme: Scheme) -> tuple[Field, ...]:
    always = rule_inputs(scheme)[0]
    static = form(scheme.form).fields
    unread = unread_conditional(static, scheme.inputs)
    return tuple(
        apply_overrides(
            replace(f, required=False, required_when=None) if f.key in unread
            else replace(f, required=True)
            if f.key in always and not (f.required or f.blank_is_zero or f.required_when) else f,
            scheme.field_overrides)
        for f in static + scheme.fields + scheme_fields(scheme))


def unread_conditional(fields: Iterable[Field], used: frozenset[str]) -> frozenset[str]:
    """Keys of conditional groups no indicator reads (spec 08.1): a flag (new_building) and the fields it
    makes required (building_*) are not required when the scheme reads none of them."""
    groups: dict[str, set[str]] = {}
    for f in fields:
        if f.required_when:
            groups.setdefault(f.required_when[0], {f.required_when[0]}).add(f.key)
    return frozenset(k for keys in groups.values() if not keys & used for k in keys)



RuleInputs = tuple[frozenset[str], tuple[tuple[str, str, frozenset[str]], ...],
                   tuple[tuple[Any, tuple[tuple[str, frozenset[str]], ...]], ...]]


def rule_inputs(scheme: Scheme) -> RuleInputs:
    """What a scheme's rules read (cached per scheme; see ``_rule_inputs``)."""
    found: RuleInputs = _derived(scheme, "rule_inputs", _rule_inputs)
    return found


def _rule_inputs(scheme: Scheme) -> RuleInputs:
    """What a scheme's rules read: (always, unless, first_given).

    ``always``: read whatever the other values are. ``unless``: (flag, value, keys), read unless
    flag == value (not_applicable_full). ``first_given``: (node, ((input, its rule's other keys), …)),
    one of the inputs must be given.
    """
    always: set[str] = set()
    unless: list[tuple[str, str, frozenset[str]]] = []
    first: list[tuple[Any, tuple[tuple[str, frozenset[str]], ...]]] = []
    for node in scheme.leaves():
        r = node.rule
        if r is None:
            continue
        reads = rule_type(r.type).reads(r, node)
        always.update(reads.always)
        unless.extend(reads.unless)
        if reads.first:
            first.append((node, reads.first))
    return frozenset(always), tuple(unless), tuple(first)


def field_map(scheme: Scheme) -> dict[str, Field]:
    return {f.key: f for f in all_fields(scheme)}
