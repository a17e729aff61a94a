"""The rule-type registry: every type complete by construction, strict parameters, the new types
per_item and deductions at their boundaries, and adjustments (bonus / penalty, total_cap)."""

from __future__ import annotations

import dataclasses
import textwrap
from decimal import Decimal as D
from typing import Any

import pytest
import yaml
from helpers import seed_submission

from toolkit.forms.describe import describe_rule
from toolkit.model import Submission
from toolkit.rules import inputs
from toolkit.rules.loader import SchemeError, load_scheme, parse_scheme
from toolkit.rules.scoring import score
from toolkit.rules.types.adjust import AdjustedScorecard, parse_adjustments, parse_total_cap
from toolkit.rules.types.base import RuleType
from toolkit.rules.types.registry import RULE_TYPES, TYPES
from toolkit.rules.yaml_safe import read_yaml
from toolkit.write.report.narrative import adjustments_paragraph, leaf_sentence
from toolkit.write.report.table import appendix, leaf_actual, rule_target

TEN = {"ratio_cap", "ratio_floor", "bands", "proportional", "not_applicable_full", "checklist",
       "tiers", "lookup", "first_given", "indicator_table"}


def one_leaf(rule_yaml: str, points: float = 5, top: str = "") -> Any:
    """A scheme with one scored leaf ``leaf`` and a filler leaf that always scores 0."""
    return parse_scheme(text_of(rule_yaml, points, top), source="test.yaml")


def text_of(rule_yaml: str, points: float = 5, top: str = "") -> str:
    rest = 100 - points
    return textwrap.dedent(f"""\
        id: t
        title: test
        grades: [{{name: 优, min: 90}}, {{name: 差, min: 0}}]
        indicators:
          - {{id: a, name: A, points: {points}, children: [{{id: a2, name: A2, points: {points}, children: [
              {{id: leaf, name: 指标, points: {points}, rule: {rule_yaml}}}]}}]}}
          - {{id: b, name: B, points: {rest}, children: [{{id: b2, name: B2, points: {rest}, children: [
              {{id: filler, name: 填充, points: {rest}, rule: {{type: lookup, input: new_building, table: {{有: 0, 无: 0}}}}}}]}}]}}
        """) + textwrap.dedent(top)


def sub_of(**values: Any) -> Submission:
    vals = {k: (D(str(v)) if isinstance(v, (int, float)) else v) for k, v in values.items()}
    return Submission(file="x.xlsx", values=vals, cells={k: f"评分表!B{i + 2}" for i, k in enumerate(vals)},
                      tables={}, meta={})


def flow(node_yaml: str) -> str:
    return yaml.safe_dump(node_yaml, allow_unicode=True, default_flow_style=True, width=10_000).strip()


# --------------------------------------------------------------------------- the registry
def test_the_ten_types_and_the_new_ones_are_registered():
    assert TEN | {"per_item", "deductions"} == set(RULE_TYPES) == set(TYPES)
    assert all(isinstance(t, RuleType) and t.name == name for name, t in TYPES.items())


@pytest.mark.parametrize("name", sorted(TYPES))
def test_every_type_is_complete_on_a_real_instance(name):
    """Parameter spec, inputs, scoring, description, appendix target / actual and report sentence."""
    rt = TYPES[name]
    assert rt.keys and set(rt.example) - {"type"} <= rt.keys
    scheme = one_leaf(flow(dict(rt.example)))
    node = scheme.node("leaf")
    assert node.rule is not None and node.rule.type == name
    words = describe_rule(scheme, node)
    assert words and words != name
    assert isinstance(rule_target(node.rule), str) and rule_target(node.rule)
    values = {k: "是" for k in node.rule.inputs} | {"staff_actual": 9, "staff_quota": 10}
    card = score(scheme, sub_of(**values))
    ns = card.node("leaf")
    assert ns is not None and D(0) <= ns.score <= node.points
    assert isinstance(leaf_actual(node, ns, {}), str)
    report = load_scheme("jianghua-2023").report
    assert isinstance(leaf_sentence(node, ns, report, {}), str)
    assert inputs.rule_inputs(scheme)  # its reads are answered by the type


@pytest.mark.parametrize("rule, said", [
    ("{type: ratio_cap, value: staff_actual / staff_quota, cap: 100, deduct: 1, stpe: 5}", "是否应为 step"),
    ("{type: per_item, count: staff_actual, dedcut: 0.5}", "是否应为 deduct"),
    ("{type: checklist, items: [{text: 甲, points: 5, pionts: 1}]}", "是否应为 points"),
    ("{type: deductions, items: [{key: d1, text: 甲, deduct: 1, wehn: 是}]}", "是否应为 when"),
    ("{type: lookup, input: new_building, table: {有: 0}, zzz: 1}", "可用"),
])
def test_unknown_parameter_keys_are_refused_with_a_did_you_mean(rule, said):
    with pytest.raises(SchemeError) as e:
        one_leaf(rule)
    msg = "\n".join(e.value.problems)
    assert said in msg and "无法识别" in msg and "第" in msg and "指标 leaf" in msg


# --------------------------------------------------------------------------- per_item
PER_ITEM = "{type: per_item, count: staff_actual, deduct: 0.5}"


@pytest.mark.parametrize("count, expected", [(0, 5), (1, "4.5"), (3, "3.5"), (9, "0.5"), (10, 0), (11, 0),
                                             (1000, 0)])
def test_per_item_deducts_per_item_floor_zero(count, expected):
    card = score(one_leaf(PER_ITEM), sub_of(staff_actual=count, staff_quota=1))
    assert card.node("leaf").score == D(str(expected))
    assert card.node("leaf").value == count


def test_per_item_counts_a_formula_and_is_described_per_item_never_as_a_percentage():
    scheme = one_leaf("{type: per_item, count: staff_actual - staff_quota, deduct: 0.5}")
    assert score(scheme, sub_of(staff_actual=12, staff_quota=10)).node("leaf").score == 4
    assert score(scheme, sub_of(staff_actual=8, staff_quota=10)).node("leaf").score == 5  # negative count: 0
    words = describe_rule(scheme, scheme.node("leaf"))
    assert "每出现1项扣0.5分" in words and "%" not in words and "百分点" not in words


@pytest.mark.parametrize("rule, said", [
    ("{type: per_item, deduct: 0.5}", "缺少参数 count"),
    ("{type: per_item, count: staff_actual}", "缺少参数 deduct"),
    ("{type: per_item, count: staff_actual, deduct: 0}", "deduct 必须大于 0"),
    ("{type: per_item, count: no_such_field, deduct: 1}", "no_such_field"),
])
def test_per_item_parameter_errors(rule, said):
    with pytest.raises(SchemeError) as e:
        one_leaf(rule)
    assert said in "\n".join(e.value.problems)


# --------------------------------------------------------------------------- deductions
DEDUCTIONS = ("{type: deductions, items: [{key: d_sys, text: 制度健全, deduct: 2}, "
              "{key: d_rep, text: 按时报送, deduct: 2}, {key: d_bad, text: 发生违规, deduct: 4, when: 是}]}")


@pytest.mark.parametrize("sys, rep, bad, expected", [
    ("是", "是", "否", 5),  # nothing deducted
    ("否", "是", "否", 3),  # an ordinary item answered 否
    ("否", "否", "否", 1),
    ("是", "是", "是", 1),  # a penalty item answered 是
    ("否", "是", "是", 0),  # 2 + 4 > 5: floor 0
    ("否", "否", "是", 0),  # items add up to 8 > w
])
def test_deductions_ordinary_and_penalty_items_floor_zero(sys, rep, bad, expected):
    card = score(one_leaf(DEDUCTIONS), sub_of(d_sys=sys, d_rep=rep, d_bad=bad, note_leaf="说明"))
    ns = card.node("leaf")
    assert ns.score == expected
    assert len(ns.facts["hits"]) == [sys, rep].count("否") + (bad == "是")


def test_deductions_items_become_yes_no_fields_and_may_exceed_the_weight():
    scheme = one_leaf(DEDUCTIONS)  # 2 + 2 + 4 = 8 > 5 is allowed, unlike checklist
    fields = {f.key: f for f in scheme.input_fields}
    assert [k for k in fields if k.startswith("d_")] == ["d_sys", "d_rep", "d_bad"]
    assert fields["d_bad"].choices == ("是", "否") and fields["d_bad"].required and fields["d_bad"].indicator == "leaf"
    assert "note_leaf" in fields
    words = describe_rule(scheme, scheme.node("leaf"))
    assert "①制度健全（选“否”扣2分）" in words and "③发生违规（选“是”扣4分）" in words
    with pytest.raises(SchemeError, match="不等于指标分值"):
        one_leaf("{type: checklist, items: [{text: 甲, points: 4}, {text: 乙, points: 4}]}")


def test_deductions_report_names_the_items_deducted_and_requires_a_note():
    scheme = one_leaf(DEDUCTIONS)
    card = score(scheme, sub_of(d_sys="否", d_rep="是", d_bad="否"))
    assert any(p.code == "note_required" and p.field == "note_leaf" for p in card.problems)
    ns = card.node("leaf")
    report = load_scheme("jianghua-2023").report
    assert "（制度健全，扣2分）" in leaf_sentence(scheme.node("leaf"), ns, report, {})
    assert leaf_actual(scheme.node("leaf"), ns, {}) == "扣分1项"


@pytest.mark.parametrize("items, said", [
    ("[{key: d1, text: 甲}]", "需要 key、text 和 deduct"),
    ("[{key: d1, text: 甲, deduct: -1}]", "扣分必须大于 0"),
    ("[{key: d1, text: 甲, deduct: 1, when: 有}]", "when 只能是 是 或 否"),
    ("[{key: d1, text: 甲, deduct: 1}, {key: d1, text: 乙, deduct: 1}]", "不与其他字段重名"),
    ("[{key: staff_actual, text: 甲, deduct: 1}]", "不与其他字段重名"),
    ("[]", "至少需要一项"),
])
def test_deductions_parameter_errors(items, said):
    with pytest.raises(SchemeError) as e:
        one_leaf(f"{{type: deductions, items: {items}}}")
    assert said in "\n".join(e.value.problems)


# --------------------------------------------------------------------------- adjustments
def with_adjustments(scheme: Any, top: str) -> Any:
    raw = read_yaml(textwrap.dedent(top))
    problems: list[str] = []
    known = {f.key for f in inputs.all_fields(scheme)}
    adj = parse_adjustments(raw, problems, known, {n.id for n in scheme.nodes()})
    cap = parse_total_cap(raw, problems)
    assert not problems, problems
    return dataclasses.replace(scheme, adjustments=adj, total_cap=cap)


BONUS = """\
    adjustments:
      - {id: award, name: 获得表彰, kind: bonus, max: 2, rule: {type: lookup, input: new_building, table: {无: 2, 有: 0}}}
    """
PENALTY = """\
    adjustments:
      - {id: audit, name: 审计发现问题, kind: penalty, max: 5, rule: {type: per_item, count: staff_actual, deduct: 1}}
    """


def test_a_bonus_is_capped_at_total_cap_100():
    scheme = with_adjustments(load_scheme("jianghua-2023"), BONUS)
    card = score(scheme, seed_submission())
    assert isinstance(card, AdjustedScorecard)
    assert (card.base, card.adjustments[0].score, card.total) == (99, 2, 100)  # 99 + 2 → 100


def test_total_cap_moves_the_ceiling():
    scheme = with_adjustments(load_scheme("jianghua-2023"), BONUS + "total_cap: 105\n")
    assert score(scheme, seed_submission()).total == 101


@pytest.mark.parametrize("count, base, total", [(0, 5, 5), (1, 5, 4), (3, 5, 2), (5, 5, 0), (9, 5, 0),
                                               (7, 0, 0)])
def test_a_penalty_takes_the_points_its_rule_loses_floored_at_0(count, base, total):
    # the leaf scores ``base`` (lookup on new_building); the penalty counts staff_actual, at most 5
    scheme = with_adjustments(one_leaf("{type: lookup, input: new_building, table: {无: 5, 有: 0}}"), PENALTY)
    card = score(scheme, sub_of(new_building="无" if base else "有", staff_actual=count))
    assert card.base == base and card.total == total
    assert card.adjustments[0].score == min(count, 5)


def test_schemes_without_adjustments_keep_the_plain_scorecard():
    card = score(load_scheme("jianghua-2023"), seed_submission())
    assert not isinstance(card, AdjustedScorecard) and card.total == 99


def test_adjustments_in_the_report_paragraph_and_appendix_rows():
    scheme = with_adjustments(load_scheme("jianghua-2023"), BONUS.rstrip(" ") + PENALTY.split("\n", 1)[1])
    card = score(scheme, seed_submission())
    text = adjustments_paragraph(card, scheme.report)
    assert text.startswith("加减分项：获得表彰加2分；审计发现问题扣") and "加减分前得分99分" in text
    sub = seed_submission()
    rows = appendix(scheme, sub, card, {}).tables[1].rows
    names = [r.cells[2].text for r in rows if len(r.cells) > 2]
    assert "获得表彰" in names and "审计发现问题" in names
    award = next(r for r in rows if len(r.cells) > 2 and r.cells[2].text == "获得表彰")
    assert award.cells[6].text == "+2" and award.cells[5].text == "最多加2"


@pytest.mark.parametrize("top, said", [
    ("adjustments: [{id: x, name: 甲, kind: extra, max: 2, rule: {type: lookup, input: new_building, table: {有: 1}}}]",
     "kind“extra”无效"),
    ("adjustments: [{id: x, name: 甲, kind: bonus, rule: {type: lookup, input: new_building, table: {有: 1}}}]",
     "缺少 max"),
    ("adjustments: [{id: x, name: 甲, kind: bonus, max: 2, maxx: 3, rule: {type: lookup, input: new_building, "
     "table: {有: 1}}}]", "是否应为 max"),
    ("adjustments: [{id: leaf, name: 甲, kind: bonus, max: 2, rule: {type: lookup, input: new_building, "
     "table: {有: 1}}}]", "不与其他指标或加减分项重复"),
    ("adjustments: {id: x}", "必须是以“- ”开头的列表"),
    ("total_cap: 0", "total_cap"),
])
def test_adjustment_errors_name_the_item_and_line(top, said):
    raw = read_yaml(top)
    problems: list[str] = []
    parse_adjustments(raw, problems, {"new_building"}, {"leaf"})
    parse_total_cap(raw, problems)
    assert any(said in p for p in problems), problems


def test_adjustments_end_to_end_from_a_scheme_file():
    scheme = one_leaf("{type: lookup, input: new_building, table: {无: 5, 有: 0}}", top=PENALTY)
    assert scheme.adjustments and scheme.adjustments[0].node.id == "audit"
    assert score(scheme, sub_of(new_building="无", staff_actual=2)).total == 3
