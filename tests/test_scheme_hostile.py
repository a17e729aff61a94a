"""Hostile and malformed scheme files (issue 11 items 7, 8): a clear Chinese answer naming the file,
the line and the fix, within a time and memory guard; never a Python exception name."""

from __future__ import annotations

import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import scheme_text, seed_submission

from toolkit.cli import main
from toolkit.rules import scoring
from toolkit.rules.expr import Expr, FormulaUndefined
from toolkit.rules.loader import SchemeError, load_scheme, parse_scheme
from toolkit.rules.yaml_safe import MAX_SCHEME_BYTES

BUILTIN = scheme_text()
STAFF_RULE = "rule: {type: ratio_cap, numerator: staff_actual, denominator: staff_quota, cap: 100, deduct: 0.5}"
NO_CLASS_NAMES = ("Error", "Exception", "Traceback")


def _edit(old: str, new: str) -> str:
    assert old in BUILTIN, old
    return BUILTIN.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def _refused(text: str, source: str = "my.yaml", budget_s: float = 2.0, budget_mb: float = 60) -> str:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(SchemeError) as ei:
            parse_scheme(text, source)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - t0 < budget_s
    assert peak < budget_mb * 2**20
    msg = str(ei.value)
    assert source in msg
    for word in NO_CLASS_NAMES:
        assert word not in msg, msg
    return msg


DEEP_BLOCK = "id: x\ntitle: y\nindicators:\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(1, 120)) + "  " * 120 + "v: 1\n"

# (case, scheme text, text on the line the message must name)
MALFORMED = [
    ("tab_in_indentation", _edit("    name: 投入\n", "\tname: 投入\n"), "\tname: 投入"),
    ("duplicate_key", _edit("    name: 投入\n", "    name: 投入\n    name: 投入甲\n"), "name: 投入甲"),
    ("nan_points", _edit("points: 5\n            " + STAFF_RULE, "points: .nan\n            " + STAFF_RULE), ".nan"),
    ("inf_parameter", _edit("cap: 100, deduct: 0.5}", "cap: .inf, deduct: 0.5}"), ".inf"),
    ("nan_as_text", _edit("cap: 100, deduct: 0.5}", "cap: 100, deduct: nan}"), "id: staff_control"),
    ("absurd_points", _edit("points: 5\n            " + STAFF_RULE, "points: 1e30\n            " + STAFF_RULE),
     "id: staff_control"),
    ("digits_without_end", _edit("total: 100", "total: 1" + "0" * 5000), "total: 1000"),
    ("list_at_top", "- id: x\n- title: y\n", "- id: x"),
    ("text_at_top", "只是一段文字\n", "只是一段文字"),
    ("deep_flow_nesting", "id: x\nv: " + "[" * 300 + "]" * 300 + "\n", "v: [[["),
    ("deep_block_nesting", DEEP_BLOCK, "k63:"),
    ("unclosed_brace", _edit(STAFF_RULE, STAFF_RULE[:-1]), STAFF_RULE[:-1]),
    ("colon_in_value", _edit("title: 江华", "title: 评价: 江华"), "title: 评价: 江华"),
    ("undefined_alias", _edit("cap: 100, deduct: 0.5}", "cap: *nope, deduct: 0.5}"), "*nope"),
    ("python_tag", _edit("cap: 100, deduct: 0.5}", "cap: !!python/object/apply:os.system [ls], deduct: 0.5}"),
     "!!python"),
    ("control_character", _edit("title: 江华", "title: 江\x00华"), "江\x00华"),
    ("grades_not_a_list", _edit("grades:\n  - {name: 优, min: 90}", "grades: 优\nold_grades:\n  - {name: 优, min: 90}"),
     "grades: 优"),
    ("checklist_points_text", _edit("制度, points: 3}", "制度, points: 三分}"), "已制定预算资金管理"),
    ("literal_division_by_zero", _edit("denominator: staff_quota,", "denominator: staff_quota / 0,"),
     "id: staff_control"),
    ("constant_expression_zero", _edit("denominator: staff_quota,", "denominator: staff_quota / (2 - 2 * 1),"),
     "id: staff_control"),
    ("field_division_inside", _edit("numerator: sangong_budget - sangong_budget_prev",
                                    "numerator: sangong_budget / sangong_budget_prev - 1"), "id: sangong_change"),
    ("formula_nested_too_deep", _edit("numerator: staff_actual,", f"numerator: {'abs(' * 60}staff_actual{')' * 60},"),
     "id: staff_control"),
]


@pytest.mark.parametrize(("case", "text", "needle"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_scheme_names_line_and_fix_in_chinese(case: str, text: str, needle: str):
    msg = _refused(text)
    assert f"第{_line_of(text, needle)}行" in msg, msg
    assert "请" in msg  # every message says what to do


def test_checklist_points_text_names_the_item():
    msg = _refused(_edit("制度, points: 3}", "制度, points: 三分}"))
    assert "checklist 第1项" in msg and "三分" in msg


def test_division_messages_say_how_to_rewrite():
    msg = _refused(_edit("numerator: sangong_budget - sangong_budget_prev",
                         "numerator: sangong_budget / sangong_budget_prev - 1"))
    assert "numerator" in msg and "denominator" in msg and "zero_denominator" in msg
    msg = _refused(_edit("denominator: staff_quota,", "denominator: staff_quota / 0,"))
    assert "除以 0" in msg


BOMB = "id: x\ntitle: y\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
) + "indicators: [*i]\ngrades: [*i]\n"


def test_billion_laughs_is_refused_fast_and_small():
    assert len(BOMB.encode()) < 800
    msg = _refused(BOMB, budget_s=1.0, budget_mb=20)
    assert "别名" in msg and f"第{_line_of(BOMB, 'f: &f')}行" in msg  # where the expansion passes the limit


def test_alias_chain_deeper_than_the_limit_is_refused():
    text = "id: x\na0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 200))
    msg = _refused(text)
    assert "嵌套" in msg


def test_alias_to_itself_is_refused():
    msg = _refused("id: x\na: &a [1, *a]\n")
    assert "自身" in msg and "第2行" in msg


def test_small_aliases_still_work():
    """Anchors and aliases are legal YAML; only their blow-up is refused."""
    text = _edit("cap: 100, deduct: 0.5}", "cap: &cap 100, deduct: 0.5}").replace(
        "rule: {type: ratio_cap, numerator: building_area_actual", "rule: {type: ratio_cap, numerator: building_area_actual", 1)
    assert parse_scheme(text, "ok.yaml").node("staff_control").rule is not None


def test_bomb_through_the_cli_exits_2_with_the_line(tmp_path: Path):
    p = tmp_path / "bomb.yaml"
    p.write_text(BOMB, encoding="utf-8")
    (tmp_path / "in").mkdir()
    t0 = time.perf_counter()
    r = CliRunner().invoke(main, ["check", str(tmp_path / "in"), "--scheme", str(p)])
    assert time.perf_counter() - t0 < 2
    assert r.exit_code == 2, r.output
    assert "bomb.yaml" in r.output and "第8行" in r.output
    assert "Traceback" not in r.output and "Error:" not in r.output.replace("Error: ", "", 1)


def test_oversized_file_is_refused_before_reading(tmp_path: Path):
    p = tmp_path / "big.yaml"
    p.write_text(BOMB + "#" * MAX_SCHEME_BYTES, encoding="utf-8")
    with pytest.raises(SchemeError) as ei:
        load_scheme(str(p))
    assert "big.yaml" in str(ei.value) and "MB" in str(ei.value)


def test_gbk_file_is_accepted(tmp_path: Path):
    text = scheme_text(new_id="gbk-county")
    p = tmp_path / "方案.yaml"
    p.write_bytes(text.encode("gb18030"))
    assert text.encode("gb18030") != text.encode("utf-8")
    assert load_scheme(str(p)).id == "gbk-county"
    p2 = tmp_path / "bom.yaml"
    p2.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_scheme(str(p2)).id == "gbk-county"


def test_undecodable_file_says_save_as_utf8(tmp_path: Path):
    p = tmp_path / "junk.yaml"
    p.write_bytes(b"id: x\ntitle: \xff\xfe\xff\n")
    with pytest.raises(SchemeError) as ei:
        load_scheme(str(p))
    assert "UTF-8" in str(ei.value) and "junk.yaml" in str(ei.value)


# --------------------------------------------------------------------------- division by zero at run time
def _scheme_with(rule: str):
    return parse_scheme(_edit(STAFF_RULE, rule), "zero.yaml")


@pytest.mark.parametrize("rule", [
    "rule: {type: ratio_cap, value: staff_actual / (staff_quota - staff_quota), cap: 100, deduct: 0.5}",
    "rule: {type: ratio_cap, numerator: staff_actual, denominator: staff_quota - staff_quota, cap: 100, deduct: 0.5}",
])
def test_zero_denominator_at_run_time_is_a_cell_message(rule: str):
    sub = seed_submission()
    card = scoring.score(_scheme_with(rule), sub)
    zero = [p for p in card.problems if p.code == "zero_denominator"]
    assert len(zero) == 1 and "分母为 0" in zero[0].message
    assert zero[0].cells == (sub.cells["staff_quota"],)
    assert next(leaf for leaf in card.leaves() if leaf.id == "staff_control").score == 0


def test_top_level_value_division_keeps_its_meaning():
    s = _scheme_with("rule: {type: ratio_cap, value: staff_actual / staff_quota, cap: 100, deduct: 0.5,"
                     " zero_denominator: full}")
    p = s.node("staff_control").rule.params  # type: ignore[union-attr]
    assert p["numerator"].source == "staff_actual" and p["denominator"].source == "staff_quota"
    assert p["zero_denominator"]["otherwise"]["kind"] == "full"
    card = scoring.score(s, seed_submission())
    base = scoring.score(load_scheme("jianghua-2023"), seed_submission())
    assert card.total == base.total


def test_expr_eval_never_leaks_a_raw_arithmetic_exception():
    e = Expr.parse("a * b")
    huge = Decimal("9E+999990")
    with pytest.raises(FormulaUndefined) as ei:
        e.eval({"a": huge, "b": huge})
    assert ei.value.names == ("a", "b")
    assert Expr.parse("a / 4").eval({"a": Decimal(2)}) == Decimal("0.5")
