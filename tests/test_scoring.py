"""Scoring engine: the reference unit, every rule type at its boundaries, and properties."""

from __future__ import annotations

import textwrap
from decimal import Decimal as D
from typing import Any

import pytest
from helpers import load_seed, seed_submission, submission_from_data
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.model import Submission, TableRow
from toolkit.rules.loader import load_scheme, parse_scheme
from toolkit.rules.scoring import RULES, score, score_row
from toolkit.rules.types.registry import RULE_TYPES


def test_every_rule_type_has_a_scoring_function():
    assert set(RULES) == set(RULE_TYPES)


def test_reference_unit_scores_99():
    card = score(load_scheme("jianghua-2023"), seed_submission())
    assert card.total == 99
    assert card.grade == "优"
    assert {lv.name: lv.score for lv in card.levels} == {"投入": 10, "过程": 49, "产出及效率": 40}
    assert card.node("budget_execution").score == 19
    assert card.node("budget_management").score == 30
    assert card.node("budget_control").score == 4
    assert card.node("budget_control").value == D("0.062")
    assert card.node("staff_control").value == 1
    # parts always add up to their parent
    for lv in card.levels:
        for node in lv.walk():
            if node.children:
                assert node.score == sum(c.score for c in node.children)
    assert not [p for p in card.problems if p.severity == "error"]


# --------------------------------------------------------------------------- one-leaf schemes
def one_leaf(rule_yaml: str, points: float = 5, inputs: str = "") -> Any:
    """A scheme with a single scored leaf (plus a filler leaf so the total is 100)."""
    rest = 100 - points
    text = textwrap.dedent(f"""\
        id: t
        title: test
        grades: [{{name: 优, min: 90}}, {{name: 差, min: 0}}]
        {inputs}
        indicators:
          - id: a
            name: A
            points: {points}
            children:
              - id: a2
                name: A2
                points: {points}
                children:
                  - id: leaf
                    name: 指标
                    points: {points}
                    rule: {rule_yaml}
          - id: b
            name: B
            points: {rest}
            children:
              - id: b2
                name: B2
                points: {rest}
                children:
                  - id: filler
                    name: 填充
                    points: {rest}
                    rule: {{type: lookup, input: new_building, table: {{有: 0, 无: 0}}}}
        """)
    return parse_scheme(text, source="test.yaml")


def leaf_score(scheme: Any, **values: Any) -> tuple[D, Any]:
    vals = {k: (D(str(v)) if isinstance(v, (int, float)) else v) for k, v in values.items()}
    sub = Submission(file="x.xlsx", values=vals, cells={k: f"S!{k}" for k in vals}, tables={}, meta={})
    card = score(scheme, sub)
    node = card.node("leaf")
    return node.score, node


CAP_STEP = "{type: ratio_cap, numerator: staff_actual, denominator: staff_quota, cap: 100, deduct: 2, step: 5}"


@pytest.mark.parametrize("actual, expected", [
    (100, 5), (104.99, 5), (105, 3), (109.99, 3), (110, 1), (115, 0), (200, 0), (50, 5),
])
def test_ratio_cap_with_step(actual, expected):
    s, _ = leaf_score(one_leaf(CAP_STEP), staff_actual=actual, staff_quota=100)
    assert s == expected


@pytest.mark.parametrize("actual, expected", [(10, 5), (11, "0"), (10.2, 4), (10.1, 4.5), (10.01, 4.95)])
def test_ratio_cap_linear_half_point_per_point(actual, expected):
    rule = "{type: ratio_cap, numerator: staff_actual, denominator: staff_quota, cap: 100, deduct: 0.5}"
    s, _ = leaf_score(one_leaf(rule), staff_actual=actual, staff_quota=10)
    assert s == D(str(expected))


FLOOR = "{type: ratio_floor, numerator: staff_actual, denominator: staff_quota, floor: 100, deduct: 2, step: 5}"


@pytest.mark.parametrize("actual, expected", [
    (100, 5), (99.27, 5), (95.01, 5), (95, 3), (90.01, 3), (90, 1), (85, 0), (0, 0), (120, 5),
])
def test_ratio_floor_per_5_percent(actual, expected):
    s, _ = leaf_score(one_leaf(FLOOR), staff_actual=actual, staff_quota=100)
    assert s == expected


BANDS = """{type: bands, numerator: "max(budget_added, 0)", denominator: budget_initial, bands: [
  {eq: 0, points: 5}, {gt: 0, le: 10, points: 4}, {gt: 10, le: 20, points: 3},
  {gt: 20, le: 30, points: 2}, {gt: 30, points: 0}]}"""


@pytest.mark.parametrize("added, expected", [
    (0, 5), (-20, 5), (0.01, 4), (10, 4), (10.01, 3), (20, 3), (20.01, 2), (30, 2), (30.01, 0), (500, 0),
])
def test_bands_edges_exactly_10_percent(added, expected):
    s, _ = leaf_score(one_leaf(BANDS), budget_added=added, budget_initial=100)
    assert s == expected


def test_bands_zero_denominator_is_an_error_naming_the_cells():
    scheme = one_leaf(BANDS)
    sub = Submission(file="x.xlsx", values={"budget_added": D(0), "budget_initial": D(0)},
                     cells={"budget_added": "收支情况!C7", "budget_initial": "收支情况!C6"}, tables={}, meta={})
    card = score(scheme, sub)
    errs = [p for p in card.problems if p.code == "zero_denominator"]
    assert errs and errs[0].cells == ("收支情况!C6",) and errs[0].severity == "error"
    assert card.node("leaf").score == 0


@pytest.mark.parametrize("actual, budget, expected", [(8.6, 8.6, 6), (4.3, 8.6, 3), (9, 8.6, 6), (0, 8.6, 0), (0, 0, 6)])
def test_proportional_and_zero_budget_full(actual, budget, expected):
    rule = ("{type: proportional, numerator: procurement_actual, denominator: procurement_budget, "
            "target: 100, zero_denominator: full}")
    s, node = leaf_score(one_leaf(rule, points=6), procurement_actual=actual, procurement_budget=budget)
    assert s == expected
    if budget == 0:
        assert node.facts["case"] == "not_applicable"


def test_sangong_zero_previous_year():
    scheme = load_scheme("jianghua-2023")
    data = load_seed()
    for prev, cur, expected, case in [(0, 0, 5, "normal"), (0, 1, 0, "no_previous"), (3, 3.15, D("2.5"), "normal"),
                                      (3, 2, 5, "normal")]:
        data.update(sangong_budget_prev=prev, sangong_budget=cur)
        node = score(scheme, submission_from_data(data)).node("sangong_change")
        assert node.score == expected, (prev, cur)
        assert node.facts["case"] == case


def test_not_applicable_full_and_building_with_overrun():
    scheme = load_scheme("jianghua-2023")
    data = load_seed()
    data.update(new_building="有", building_area_approved=1000, building_area_actual=1060,
                building_invest_approved=500, building_invest_actual=500)
    card = score(scheme, submission_from_data(data))
    assert card.node("building_area").score == 3  # 106%: one full 5% step over → −2
    assert card.node("building_area").value == D("1.06")
    assert card.node("building_invest").score == 5


def test_checklist_unmet_items_and_note_required():
    scheme = load_scheme("jianghua-2023")
    data = load_seed()
    data["chk_mgmt_system"] = ["是", "是", "否"]
    card = score(scheme, submission_from_data(data))
    node = card.node("mgmt_system")
    assert node.score == 6
    assert [it["text"] for it in node.facts["unmet"]] == ["制度得到有效执行"]
    assert any(p.code == "note_required" and p.field == "note_mgmt_system" for p in card.problems)
    data["note_mgmt_system"] = "部分制度执行不到位，已整改。"
    card = score(scheme, submission_from_data(data))
    assert not any(p.code == "note_required" for p in card.problems)


@pytest.mark.parametrize("tier, s, expected", [
    ("达成年度目标", 8, 8), ("达成年度目标", 10, 10), ("达成年度目标", 7.99, 0),
    ("部分达成", 6, 6), ("部分达成", 7.99, D("7.99")), ("部分达成", 8, 0), ("未达成", 5.99, D("5.99")),
])
def test_tiers_range(tier, s, expected):
    scheme = load_scheme("jianghua-2023")
    data = load_seed()
    data.update(tier_duty=tier, score_duty=s)
    assert score(scheme, submission_from_data(data)).node("duty").score == expected


def test_first_given_prefers_rate_then_grade():
    scheme = load_scheme("jianghua-2023")
    data = load_seed()
    data["satisfaction_rate"] = 0.81
    node = score(scheme, submission_from_data(data)).node("satisfaction")
    assert node.facts["by"] == "satisfaction_rate" and node.score == 9  # 81/90 × 10
    data["satisfaction_rate"] = None
    for grade, pts in [("优秀", 10), ("良好", 8), ("合格", 6), ("不合格", 0)]:
        data["assessment_grade"] = grade
        node = score(scheme, submission_from_data(data)).node("satisfaction")
        assert node.score == pts and node.facts["by"] == "assessment_grade"


# --------------------------------------------------------------------------- MOF rows
def row(direction: str, target: Any, actual: Any, points: float = 10, **kw: Any) -> TableRow:
    vals: dict[str, Any] = {"level1": "产出指标", "name": "指标", "direction": direction,
                            "target": D(str(target)) if isinstance(target, (int, float)) else target,
                            "actual": D(str(actual)) if isinstance(actual, (int, float)) else actual,
                            "points": D(str(points)), "target_max": None, "self_score": None}
    vals.update({k: (D(str(v)) if isinstance(v, (int, float)) else v) for k, v in kw.items()})
    return TableRow(index=1, values=vals, cells={})


@pytest.mark.parametrize("r, expected", [
    (row("≥", 100, 100), 10), (row("≥", 100, 99), D("9.9")), (row("≥", 100, 400), 10),
    (row("≤", 7, 7), 10), (row("≤", 7, 14), 5), (row("≤", 7, 1), 10),
    (row("=", 100, 100), 10), (row("=", 100, 90), 9), (row("=", 100, 250), 0),
    (row("区间", 1, 5, target_max=7), 10), (row("区间", 1, 14, target_max=7), 5), (row("区间", 2, 1, target_max=7), 5),
    (row("定性", "达成", "达成"), 10), (row("定性", "x", "部分达成"), 7), (row("定性", "x", "未达成"), 3),
    (row("定性", "x", "部分达成", self_score=6.5), D("6.5")), (row("定性", "x", "达成", self_score=7), 0),
])
def test_mof_row_rules(r, expected):
    raw, _, _ = score_row(r)
    assert min(max(raw, D(0)), r.values["points"]).quantize(D("0.01")) == D(str(expected))


def test_overachievement_warning_only():
    _, _, notes = score_row(row("≥", 100, 151))
    assert notes == ["overachieved"]
    _, _, notes = score_row(row("≥", 100, 150))
    assert notes == []


def test_row_rounding_half_up_once_and_sum_of_rounded():
    # 1/3 of 2.5 points = 0.8333… → 0.83 per row; the leaf is the sum of rounded rows
    data = load_seed()
    rows = data["perf_indicators"]
    rows[0] = ["产出指标", "数量指标", "受理办理业务", "≥", 3, None, "人次", 1, 2.5]
    rows[0].append(None)
    rows[0].append("业务量下降")
    card = score(load_scheme("jianghua-2023"), submission_from_data(data))
    node = card.node("outputs")
    assert node.rows[0].score == D("0.83")
    assert node.score == D("0.83") + 3 * D("2.5")


# --------------------------------------------------------------------------- properties
@settings(max_examples=200, deadline=None)
@given(actual=st.decimals(min_value=0, max_value=1000, places=2),
       target=st.decimals(min_value=D("0.01"), max_value=1000, places=2),
       points=st.decimals(min_value=D("0.5"), max_value=20, places=1),
       direction=st.sampled_from(["≥", "≤", "=", "区间"]))
def test_row_score_within_bounds_and_full_exactly_when_met(actual, target, points, direction):
    # The MOF row rules themselves stay in [0, w] (no clamp here), and give full points exactly
    # when the actual meets the target: ≥ at or above, ≤ at or below, = equal, 区间 inside.
    r = row(direction, target, actual, points=float(points), target_max=target * 2)
    raw, _, _ = score_row(r)
    w = D(str(float(points)))
    assert 0 <= raw <= w
    met = {"≥": actual >= target, "≤": actual <= target, "=": actual == target,
           "区间": target <= actual <= target * 2}[direction]
    assert (raw == w) == met, (direction, actual, target, raw)


@settings(max_examples=150, deadline=None)
@given(a=st.decimals(min_value=0, max_value=300, places=2), b=st.decimals(min_value=0, max_value=300, places=2))
def test_more_is_never_worse_for_floor_and_proportional(a, b):
    lo, hi = min(a, b), max(a, b)
    for rule in (FLOOR, "{type: proportional, numerator: staff_actual, denominator: staff_quota, target: 100}"):
        scheme = one_leaf(rule)
        s_lo, _ = leaf_score(scheme, staff_actual=lo, staff_quota=100)
        s_hi, _ = leaf_score(scheme, staff_actual=hi, staff_quota=100)
        assert 0 <= s_lo <= s_hi <= 5


@settings(max_examples=150, deadline=None)
@given(a=st.decimals(min_value=0, max_value=300, places=2), b=st.decimals(min_value=0, max_value=300, places=2))
def test_less_is_never_worse_for_caps(a, b):
    lo, hi = min(a, b), max(a, b)
    scheme = one_leaf(CAP_STEP)
    s_lo, _ = leaf_score(scheme, staff_actual=lo, staff_quota=100)
    s_hi, _ = leaf_score(scheme, staff_actual=hi, staff_quota=100)
    assert 0 <= s_hi <= s_lo <= 5


@settings(max_examples=60, deadline=None)
@given(staff=st.integers(0, 30), added=st.decimals(min_value=-50, max_value=100, places=2),
       proc=st.decimals(min_value=0, max_value=20, places=2),
       chk=st.lists(st.sampled_from(["是", "否"]), min_size=3, max_size=3),
       grade=st.sampled_from(["优秀", "良好", "合格", "不合格"]))
def test_total_is_sum_of_parts(staff, added, proc, chk, grade):
    data = load_seed()
    data.update(staff_actual=staff, budget_added=added, procurement_actual=proc, chk_mgmt_system=chk,
                assessment_grade=grade)
    for name in ("jianghua-2023", "mof-2020"):
        card = score(load_scheme(name), submission_from_data(data))
        assert card.total == sum(lv.score for lv in card.levels)
        for lv in card.levels:
            for node in lv.walk():
                assert 0 <= node.score <= node.points
                if node.children:
                    assert node.score == sum(c.score for c in node.children)
                assert node.score == node.score.quantize(D("0.01"))


def test_no_echo_of_input_errors_in_scoring_problems():
    from toolkit.problems import Problem

    data = load_seed()
    data.update(staff_quota=None, chk_mgmt_system=["是", "是", None])
    sub = submission_from_data(data)
    # what validation reports for these inputs
    bad = (Problem("required", "error", "x", "基本信息", "C11", ("基本信息!C11",), "staff_quota"),
           Problem("required", "error", "x", "评分表", "D8", ("评分表!D8",), "chk_mgmt_system_3"))
    sub = Submission(file=sub.file, values=sub.values, cells=sub.cells, tables=sub.tables, meta=sub.meta,
                     problems=bad)
    card = score(load_scheme("jianghua-2023"), sub)
    codes = {(p.code, p.field) for p in card.problems}
    assert ("zero_denominator", "staff_quota") not in codes
    assert ("note_required", "note_mgmt_system") not in codes
    # a blank is never the cause of "分母为 0" (validation named it); typed values that give the
    # same arithmetic do raise them
    card = score(load_scheme("jianghua-2023"), submission_from_data(data))
    assert not card.problems or all(p.code == "overachieved" for p in card.problems)
    data.update(staff_quota=0, chk_mgmt_system=["是", "是", "否"])
    card = score(load_scheme("jianghua-2023"), submission_from_data(data))
    codes = {(p.code, p.field) for p in card.problems}
    assert ("zero_denominator", "staff_quota") in codes and ("note_required", "note_mgmt_system") in codes
