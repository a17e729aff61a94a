"""The scheme language of issue 13: expressions, strict keys, extends, checks as data, qualitative words."""

from __future__ import annotations

from decimal import Decimal

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
])
def test_extends_errors(tmp_path: Path, files: dict[str, str], want: str) -> None:
    for name, text in files.items():
        _write(tmp_path, name, text)
    with pytest.raises(SchemeError) as ei:
        load_scheme(str(tmp_path / "a.yaml"))
    assert want in str(ei.value), str(ei.value)
