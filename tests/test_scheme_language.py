"""The scheme language of issue 13: expressions, strict keys, extends, checks as data, qualitative words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from toolkit.rules.expr import Expr, FormulaUndefined

D = Decimal
ENV = {"a": D(3), "b": D(0), "c": D("2.5"), "balance": D(10), "carryover_prev": D(12)}


@pytest.mark.parametrize(("src", "want"), [
    ("if(balance <= carryover_prev, 100, 0)", "100"),
    ("if(balance > carryover_prev, 100, 0)", "0"),
    ("if (a == 3, 1, 2)", "1"),
    ("if(b, 1, 2)", "2"),                        # 0 is false
    ("if(a, 1, 2)", "1"),                        # non-zero is true
    ("if(b != 0, a / b, 0)", "0"),               # only the branch taken is evaluated
    ("a < c", "0"), ("a <= 3", "1"), ("a > c", "1"), ("a >= 3.0", "1"), ("a == 3", "1"), ("a != 3", "0"),
    ("b < a < 4", "1"), ("b < a < 3", "0"),      # chained comparison
    ("a > 1 and c > 2", "1"), ("a > 1 and c > 3", "0"), ("b > 1 or c > 2", "1"), ("b > 1 or c > 3", "0"),
    ("b == 0 or a / b > 1", "1"),                # or stops at the first true
    ("not b", "1"), ("not a", "0"), ("not (a > 1)", "0"),
    ("min(a, c)", "2.5"), ("max(a, c, 4)", "4"), ("abs(b - a)", "3"),
    ("round(c)", "3"), ("round(2.45, 1)", "2.5"), ("round(-2.5)", "-3"), ("round(2.449, 2)", "2.45"),
    ("round(0.125, 2)", "0.13"), ("round(1.005, 2)", "1.01"),  # half-up in Decimal, not binary floats
    ("a * if(c > 2, 2, 1) + 1", "7"),
])
def test_expression_values(src: str, want: str) -> None:
    assert Expr.parse(src).eval(ENV) == D(want)


@pytest.mark.parametrize(("src", "names"), [
    ("if(balance <= carryover_prev, 100, 0)", ("balance", "carryover_prev")),
    ("round(a, 2) + min(b, c)", ("a", "b", "c")),
    ("gift(1)", None),  # not a function: refused below
])
def test_expression_names(src: str, names: tuple[str, ...] | None) -> None:
    if names is None:
        with pytest.raises(ValueError, match="if/max/min/abs/round"):
            Expr.parse(src)
    else:
        assert Expr.parse(src).names == names


@pytest.mark.parametrize(("src", "msg"), [
    ("if(a, 1)", "if 需要三个参数"),
    ("if(a, 1, 2, 3)", "if 需要三个参数"),
    ("round(a, b)", "round 写作"),
    ("round(a, 1.5)", "round 写作"),
    ("round(a, 11)", "round 写作"),
    ("round(a, 1, 2)", "round 写作"),
    ("abs(a, b)", "abs 只能有一个参数"),
    ("a if b else c", "不支持的运算"),
    ("a is b", "不支持的运算"),
    ("a in b", "不支持的运算"),
    ("a ** 2", "不支持的运算"),
    ("if + 1", "无法解析"),
    ("a / (1 - 1)", "除以 0"),
    ("a / if(1 > 2, 1, 0)", "除以 0"),
    ("x.y", "不支持的运算"),
    ("'text' == a", "只能包含数字和字段名"),
    ("True and a", "只能包含数字和字段名"),
])
def test_expression_refused(src: str, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        Expr.parse(src)


def test_field_division_inside_if_still_reported() -> None:
    e = Expr.parse("if(b != 0, a / b, 0)")
    assert len(e.field_divisions()) == 1
    with pytest.raises(FormulaUndefined):
        Expr.parse("if(a > 0, a / b, 0)").eval(ENV)


def test_source_round_trips_if() -> None:
    e = Expr.parse("if(a > 1, a, b)")
    assert Expr.of(e.tree).source == "if(a > 1, a, b)"
    assert Expr.parse("gif_x + 1").names == ("gif_x",)


# ---------------------------------------------------------------- strict keys and placeholders
from pathlib import Path  # noqa: E402

from toolkit.rules.loader import SchemeError, builtin_dir, load_scheme, parse_scheme  # noqa: E402

BUILTIN = (builtin_dir() / "jianghua-2023.yaml").read_text(encoding="utf-8")


def _refused(text: str) -> str:
    with pytest.raises(SchemeError) as ei:
        parse_scheme(text, "my.yaml")
    return str(ei.value)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(("old", "new", "needle", "want"), [
    # top level
    ("total: 100", "total: 100\ntitel: x", "titel: x", ["顶层", "“titel”", "是否应为 `title`"]),
    # an indicator's own keys (the indicator id is named)
    ("            points: 5\n            rule: {type: ratio_cap, numerator: staff_actual",
     "            points: 5\n            pionts: 5\n            rule: {type: ratio_cap, numerator: staff_actual",
     "pionts: 5", ["指标 staff_control", "“pionts”", "是否应为 `points`"]),
    # grades and inputs
    ("{name: 良, min: 80}", "{name: 良, mni: 80, min: 80}", "name: 良", ["grades", "“mni”", "是否应为 `min`"]),
    ("    note: 满意度调查结果", "    ntoe: x\n    note: 满意度调查结果", "ntoe: x", ["inputs 第2项", "“ntoe”", "`note`"]),
    # wording keys and placeholders
    ("              sentence: 在职人员控制率", "              sentense: 在职人员控制率", "sentense:",
     ["指标 staff_control", "“sentense”", "是否应为 `sentence`"]),
    ("在职{staff_actual}人", "在职{stafff_actual}人", None, ["指标 staff_control wording.sentence", "{stafff_actual}",
                                                         "是否应为 `staff_actual`"]),
    # report keys, nested keys and placeholders by the sentence's context
    ("  basis: 《", "  bassis: x\n  basis: 《", "bassis: x", ["report.bassis", "是否应为 `basis`"]),
    ("    heading1: 黑体", "    heading1: 黑体", None, []),  # free keys under fonts
    ("      unit: 单位名称", "      anything: 任意\n      unit: 单位名称", None, []),  # free table labels
    ("    checklist_all: 全部达到", "    checklist_al: 全部达到", "checklist_al", ["report.table.checklist_al",
                                                                         "是否应为 `checklist_all`"]),
    ("  list_item: \"{n}. {text}\"", "  list_item: \"{n}. {score}\"", "list_item", ["report.list_item", "{score}"]),
    ("  staff: 核定人员编制{staff_quota}人", "  staff: 核定人员编制{staff_qouta}人", "staff: 核定",
     ["report.staff", "{staff_qouta}", "是否应为 `staff_quota`"]),
    ("    grade: 评价等级：{grade}", "    grade: 评价等级：{grade:>3}", None, []),  # a format spec is fine
    ("  none: 无。", "  none: 无{。", None, []),  # plain text is never filled
])
def test_unknown_keys_and_placeholders(old: str, new: str, needle: str | None, want: list[str]) -> None:
    assert old in BUILTIN
    text = BUILTIN.replace(old, new, 1)
    if not want:
        parse_scheme(text, "my.yaml")
        return
    msg = _refused(text)
    for w in want:
        assert w in msg, msg
    if needle:
        assert f"第{_line(text, needle)}行" in msg, msg


def test_own_case_names_are_wording_keys() -> None:
    # sangong_change's zero_denominator gives case: no_previous, and its wording has no_previous
    s = load_scheme("jianghua-2023")
    assert "no_previous" in s.node("sangong_change").wording


# ---------------------------------------------------------------- extends
def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def test_extends_overrides_only_given_keys(tmp_path: Path) -> None:
    p = _write(tmp_path, "county.yaml", """\
extends: jianghua-2023
id: county-2024
title: 某县指标体系
indicators:
  - id: staff_control
    points: 4
  - id: sangong_change
    points: 6
    wording: {no_previous: "上年为0，得{score}分"}
report:
  headings: {problems: 五、问题}
""")
    s, base = load_scheme(str(p)), load_scheme("jianghua-2023")
    assert (s.id, s.title) == ("county-2024", "某县指标体系")
    assert s.node("staff_control").points == 4 and s.node("sangong_change").points == 6
    assert s.node("staff_control").rule == base.node("staff_control").rule
    assert s.node("sangong_change").wording["sentence"] == base.node("sangong_change").wording["sentence"]
    assert s.node("sangong_change").wording["no_previous"] == "上年为0，得{score}分"
    assert s.report["headings"]["problems"] == "五、问题"
    assert s.report["headings"]["plans"] == base.report["headings"]["plans"]
    assert [n.id for n in s.nodes()] == [n.id for n in base.nodes()]


def test_extends_file_path_relative_and_remove(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    _write(tmp_path, "parent.yaml", "extends: jianghua-2023\nid: parent\n")
    p = _write(tmp_path / "sub", "child.yaml", """\
extends: ../parent.yaml
id: child
indicators_remove: [staff_control]
indicators:
  - id: sangong_change
    points: 10
""")
    s = load_scheme(str(p))
    assert "staff_control" not in {n.id for n in s.nodes()}
    assert s.node("sangong_change").points == 10 and s.total == 100


@pytest.mark.parametrize(("files", "want"), [
    ({"a.yaml": "extends: b.yaml\n", "b.yaml": "extends: a.yaml\n"}, "循环"),
    ({"a.yaml": "extends: a.yaml\n"}, "循环"),
    ({"a.yaml": "extends: nowhere-2020\n"}, "找不到要继承的方案“nowhere-2020”"),
    ({"a.yaml": "extends: [x]\n"}, "应写内置方案的名称"),
    ({"a.yaml": "extends: jianghua-2023\nindicators_remove: [no_such]\n"}, "没有 id 为“no_such”的指标"),
    ({"a.yaml": "extends: jianghua-2023\nindicators_remove: staff_control\n"}, "指标 id 列表"),
    # removing one indicator leaves the points short: the merged scheme is re-checked
    ({"a.yaml": "extends: jianghua-2023\nindicators_remove: [staff_control]\n"}, "下级指标分值之和 5"),
    ({"a.yaml": "extends: jianghua-2023\nindicators: [{id: staff_control, points: 6}]\n"}, "不等于本级分值 10"),
    ({"a.yaml": "extends: b.yaml\n", "b.yaml": "id: [\n"}, "被继承的方案 b.yaml"),
    ({"a.yaml": "extends: b.yaml\n", "b.yaml": "#" * 1_000_001}, "超过 1 MB"),
    ({"a.yaml": "extends: b.yaml\n", "b.yaml": "- 1\n"}, "不是方案文件"),
])
def test_extends_errors(tmp_path: Path, files: dict[str, str], want: str) -> None:
    for name, text in files.items():
        _write(tmp_path, name, text)
    with pytest.raises(SchemeError) as ei:
        load_scheme(str(tmp_path / "a.yaml"))
    assert want in str(ei.value), str(ei.value)


# ---------------------------------------------------------------- checks as data
from tests import builders as B  # noqa: E402
from toolkit import fields as F  # noqa: E402
from toolkit.check import validate  # noqa: E402
from toolkit.forms.computed import COMPUTED  # noqa: E402
from toolkit.rules.checks import (  # noqa: E402
    DEFAULT_CHECKS,
    Check,
    parse_checks,
    parse_qualitative,
)
from toolkit.rules.inputs import unread_conditional  # noqa: E402
from toolkit.rules.yaml_safe import read_yaml  # noqa: E402

KNOWN = ("a", "b", "c")


@pytest.mark.parametrize(("src", "tol", "env", "holds"), [
    ("a == b", "0.005", (1, "1.005"), True), ("a == b", "0.005", (1, "1.0051"), False),
    ("a == b", "0.005", ("1.005", 1), True), ("a == b", "0", (1, "1.001"), False),
    ("a != b", "0.005", (1, "1.005"), False), ("a != b", "0.005", (1, "1.006"), True),
    ("a <= b", "0.005", ("1.005", 1), True), ("a <= b", "0.005", ("1.006", 1), False),
    ("a < b", "0", (1, 1), False), ("a < b", "0.005", (1, 1), True),
    ("a >= b", "0.005", (1, "1.005"), True), ("a >= b", "0.005", (1, "1.006"), False),
    ("a > b", "0", (2, 1), True), ("a > b", "0", (1, 1), False),
    ("a > 0 and b > 0", "0", (1, 0), False), ("if(a > 0, b > 0, 1)", "0", (0, 0), True),
])
def test_check_holds_within_tolerance(src: str, tol: str, env: tuple, holds: bool) -> None:
    c = Check("x", Expr.parse(src), D(tol))
    assert c.evaluate({"a": D(str(env[0])), "b": D(str(env[1]))})[0] is holds


@pytest.mark.parametrize(("yaml", "want"), [
    ("checks: x", "应为以“- ”开头的列表"),
    ("checks: [{id: x}]", "每项需要 id 和 assert"),
    ("checks: [{assert: a == b}]", "每项需要 id 和 assert"),
    ("checks: [{id: x, assert: a == zz}]", "字段 zz 在填报表中不存在"),
    ("checks: [{id: x, assert: a ==}]", "无法解析"),
    ("checks: [{id: x, assert: a == b, tolerance: -1}]", "tolerance（允许误差）应为不小于 0 的数"),
    ("checks: [{id: x, assert: a == b, tolerance: abc}]", "tolerance（允许误差）应为不小于 0 的数"),
    ("checks: [{id: x, assert: a == b, tolerence: 1}]", "是否应为 `tolerance`"),
    ("checks: [{id: x, assert: a == b}, {id: x, assert: a == c}]", "id“x”重复"),
])
def test_check_definitions_refused(yaml: str, want: str) -> None:
    problems: list[str] = []
    parse_checks(read_yaml(yaml), KNOWN, problems)
    assert any(want in p for p in problems), problems


def test_checks_default_absent_empty_and_given() -> None:
    assert parse_checks(read_yaml("id: x"), KNOWN, []) == DEFAULT_CHECKS
    assert parse_checks(read_yaml("checks: []"), KNOWN, []) == ()
    (c,) = parse_checks(read_yaml("checks: [{id: y, assert: c + a <= b, tolerance: 0.1, message: m}]"), KNOWN, [])
    assert (c.id, c.names, c.tolerance, c.message) == ("y", ("c", "a", "b"), D("0.1"), "m")
    for sid in ("jianghua-2023", "mof-2020"):  # the built-ins state the identity the default holds
        assert [(k.id, k.expr.source, k.tolerance) for k in load_scheme(sid).checks] == \
            [(k.id, k.expr.source, k.tolerance) for k in DEFAULT_CHECKS]


def test_live_identity_cell_is_generated_from_the_check() -> None:
    c = COMPUTED["identity_check"]
    assert c.formula == (
        "=IF(COUNT(carryover_start,income_fiscal,income_other,spend_basic,spend_project,balance_basic,"
        "balance_project)=0,\"\",IF(ABS(N(carryover_start)+N(income_fiscal)+N(income_other)-N(spend_basic)"
        "-N(spend_project)-N(balance_basic)-N(balance_project))<=0.005,\"平衡\",\"不平衡：相差\"&TEXT("
        "N(carryover_start)+N(income_fiscal)+N(income_other)-N(spend_basic)-N(spend_project)"
        "-N(balance_basic)-N(balance_project),\"0.00\")&\"万元\"))")
    from toolkit.forms.computed import cached_value
    vals = dict(carryover_start=0, income_fiscal=160, income_other=9.92, spend_basic=160, spend_project=9.92,
                balance_basic=0, balance_project=0)
    assert cached_value(c, vals) == "平衡"
    assert cached_value(c, {**vals, "spend_basic": 150.004}) == "不平衡：相差10.00万元"
    assert cached_value(c, {**vals, "spend_basic": 160.005}) == "平衡"
    assert cached_value(c, {}) == ""


def _scheme(tmp_path: Path, body: str) -> Any:
    p = _write(tmp_path, "s.yaml", "extends: jianghua-2023\nid: jianghua-2023\n" + body)
    return load_scheme(str(p))


def test_scheme_check_failing_names_every_cell(tmp_path: Path) -> None:
    s = _scheme(tmp_path, "checks:\n  - id: basic_within_fiscal\n    assert: spend_basic <= income_fiscal\n"
                          "    message: 基本支出 {left}万元 超过财政拨款 {right}万元\n")
    c = validate.check_file(B.build(tmp_path / "u.xlsx", {"spend_basic": 170, "carryover_start": 0.08}, scheme=s),
                            "u.xlsx", s)
    p = B.only(c, "check_failed")
    cells = B.sub(c).cells
    assert p.severity == "error" and set(p.cells) == {cells["spend_basic"], cells["income_fiscal"]}
    assert "基本支出 170.00万元 超过财政拨款 169.92万元" in p.message and "本年基本支出" in p.message
    assert "budget_identity" not in B.codes(c)  # this scheme's checks replace the default


def test_scheme_without_checks_keeps_the_identity_and_empty_list_drops_it(tmp_path: Path) -> None:
    plain = parse_scheme("\n".join(x for x in BUILTIN.split("\nchecks:\n")[0].splitlines()) + "\n"
                         + "\n".join(BUILTIN.split("\nchecks:\n")[1].splitlines()[4:]), "old.yaml")
    assert plain.checks == DEFAULT_CHECKS
    off = _scheme(tmp_path, "checks: []\n")
    for s, want in ((plain, True), (off, False)):
        c = validate.check_file(B.build(tmp_path / "u.xlsx", {"spend_basic": 160}, scheme=s), "u.xlsx", s)
        assert ("budget_identity" in B.codes(c)) is want


# ---------------------------------------------------------------- qualitative words
QUAL = "qualitative:\n  达成: [达到, 完成, 好]\n  部分达成: [基本达成, 较好]\n  未达成: [未完成, 差]\n"


@pytest.mark.parametrize(("actual", "tier"), [
    ("达成", "达成"), ("完成", "达成"), ("好", "达成"), ("基本达成", "部分达成"), ("较好", "部分达成"),
    ("部分达成", "部分达成"), ("差", "未达成"), ("未完成", "未达成"), ("未达成", "未达成"), ("完 成", "达成"),
    ("优", None),
])
def test_qualitative_words_normalised_to_tier(tmp_path: Path, actual: str, tier: str | None) -> None:
    s = _scheme(tmp_path, QUAL)
    rows = B.perf_rows(r1={"direction": "定性", "target": "服务质量明显提升", "unit": None, "actual": actual})
    c = validate.check_file(B.build(tmp_path / "u.xlsx", tables={"perf_indicators": rows}, scheme=s), "u.xlsx", s)
    if tier is None:
        p = B.only(c, "bad_qualitative_word")
        assert "“优”" in p.message and "达成：达成、达到、完成、好" in p.message
    else:
        assert B.sub(c).tables["perf_indicators"][0].values["actual"] == tier


@pytest.mark.parametrize(("yaml", "want"), [
    ("qualitative: 达成", "三档各自可填写的词"),
    ("qualitative: {达成: [好], 未达成: [好]}", "“好”同时出现在“达成”和“未达成”中"),
    ("qualitative: {已达成: [好]}", "是否应为 `达成`"),
])
def test_qualitative_definitions_refused(yaml: str, want: str) -> None:
    problems: list[str] = []
    parse_qualitative(read_yaml(yaml), problems)
    assert any(want in p for p in problems), problems


def test_qualitative_default_is_the_three_tiers() -> None:
    assert load_scheme("jianghua-2023").qualitative == {t: (t,) for t in F.QUAL_TIERS}


# ---------------------------------------------------------------- fields no indicator reads
def test_conditional_group_no_indicator_reads_is_not_required() -> None:
    fields = list(F.STATIC_FIELDS)
    group = {"new_building", "building_area_approved", "building_area_actual", "building_invest_approved",
             "building_invest_actual"}
    assert unread_conditional(fields, frozenset()) == group
    assert unread_conditional(fields, frozenset({"building_area_actual"})) == frozenset()
    assert unread_conditional(fields, frozenset({"new_building"})) == frozenset()
    assert unread_conditional(fields, load_scheme("mof-2020").inputs) == group
    assert unread_conditional(fields, load_scheme("jianghua-2023").inputs) == frozenset()


def test_mof_unit_without_building_answers_is_not_asked_for_them(tmp_path: Path) -> None:
    for scheme, asked in (("mof-2020", False), ("jianghua-2023", True)):
        c = validate.check_file(B.build(tmp_path / f"{scheme}.xlsx", {"new_building": None}, scheme=scheme),
                                f"{scheme}.xlsx")
        req = [p for p in c.problems if p.code == "required" and p.field == "new_building"]
        assert bool(req) is asked, [p.message for p in c.problems]


@pytest.mark.parametrize(("added", "want"), [(0, "5"), (-5, "5"), (8, "4"), (16, "3")])
def test_expression_in_a_rule_scores_end_to_end(tmp_path: Path, added: float, want: str) -> None:
    from toolkit.rules.scoring import score

    s = _scheme(tmp_path, "indicators:\n  - id: budget_control\n    rule:\n      type: bands\n"
                          "      numerator: if(budget_added > 0, budget_added, 0)\n"
                          "      denominator: budget_initial\n"
                          "      bands: [{eq: 0, points: 5}, {gt: 0, le: 10, points: 4}, {gt: 10, points: 3}]\n")
    assert s.node("budget_control").rule.params["numerator"].source == "if(budget_added > 0, budget_added, 0)"
    c = validate.check_file(B.build(tmp_path / "u.xlsx", {"budget_initial": 100, "budget_added": added,
                                                          "income_fiscal": 100 + added}, scheme=s), "u.xlsx", s)
    card = score(s, B.sub(c))
    ns = card.node("budget_control")
    assert ns is not None and ns.score == D(want)
