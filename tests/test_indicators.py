"""The perf_indicators table (check/indicators.py): groups, directions, targets, units, points, rows."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.builders import check, codes, only, perf_rows, sub
from toolkit import fields as F
from toolkit.check import validate

PERF_KEYS = [c.key for c in F.PERF_INDICATORS.columns]




def test_indicator_group_not_in_scheme(tmp_path):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r1={"level1": "满意度指标"})})
    p = only(c, "indicator_group")
    assert str(p.cell).startswith("A") and "产出指标、效益指标" in p.message and "满意度指标" in p.message
    assert "indicator_points" in codes(c)  # 产出指标 now adds up to 7.5


def test_bad_direction(tmp_path):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r2={"direction": "W"})})
    p = only(c, "bad_direction")
    assert p.sheet == F.SHEET_INDICATORS and str(p.cell).startswith("D") and "“W”" in p.message
    assert ">=" in p.message and "不低于" in p.message and "以内" in p.message


@pytest.mark.parametrize("typed", ["≥", ">=", "＞＝", "不低于", "不少于", " ≥ "])
def test_direction_spellings(tmp_path, typed):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r1={"direction": typed})})
    assert c.status == "ok" and sub(c).tables["perf_indicators"][0].values["direction"] == "≥"


def test_target_carries_direction_and_unit(tmp_path):
    rows = perf_rows(r1={"direction": None, "target": "≥3,000人次", "unit": None},
                     r3={"direction": None, "target": "1～7天", "target_max": None, "unit": None},
                     r5={"direction": None, "target": "≥99%", "unit": None, "actual": "100%"})
    c = check(tmp_path, tables={"perf_indicators": rows})
    assert c.status == "ok", [p.message for p in c.problems]
    r = [x.values for x in sub(c).tables["perf_indicators"]]
    assert (r[0]["direction"], r[0]["target"], r[0]["unit"]) == ("≥", D("3000"), "人次")
    assert (r[2]["direction"], r[2]["target"], r[2]["target_max"], r[2]["unit"]) == ("区间", D("1"), D("7"), "天")
    assert (r[4]["direction"], r[4]["target"], r[4]["actual"], r[4]["unit"]) == ("≥", D("99"), D("100"), "%")


def test_direction_conflict(tmp_path):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r1={"direction": "≤", "target": "≥3000"})})
    assert str(only(c, "direction_conflict").cell).startswith("E")


def test_percent_row(tmp_path):
    rows = perf_rows(r5={"target": "99%", "actual": 100}, r6={"target": 99, "actual": 1},
                     r7={"target": 0.99, "actual": "100"})
    c = check(tmp_path, tables={"perf_indicators": rows})
    r = [x.values for x in sub(c).tables["perf_indicators"]]
    assert (r[4]["target"], r[4]["actual"]) == (D("99"), D("100"))
    assert (r[5]["target"], r[5]["actual"]) == (D("99"), D("100"))
    assert (r[6]["target"], r[6]["actual"]) == (D("99"), D("100"))
    warned = [p for p in c.problems if p.code == "percent_fraction"]
    assert len(warned) == 2 and all(p.severity == "warning" for p in warned) and c.status == "ok"
    assert str(warned[0].cell).startswith("H") and "已按 100% 读取" in warned[0].message


@pytest.mark.parametrize("col, typed, code", [
    ("target", "十个", "not_number"), ("actual", "约10", "not_number"), ("actual", "#DIV/0!", "formula_error"),
    ("points", "两分", "not_number"), ("points", 0, "not_positive"), ("target", -5, "negative"),
])
def test_indicator_numbers(tmp_path, col, typed, code):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r2={col: typed})})
    p = next(p for p in c.problems if p.code == code)
    col_letter = "ABCDEFGHIJK"[PERF_KEYS.index(col)]
    assert p.cell == f"{col_letter}5" and p.field == "perf_indicators" and p.severity == "error"
    assert "第2行" in p.message


def test_indicator_required_cells(tmp_path):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r2={"name": None, "actual": None},
                                                             r3={"target_max": None})})
    req = sorted(str(p.cell) for p in c.problems if p.code == "required")
    assert req == ["C5", "F6", "H5"]


def test_interval_bounds(tmp_path):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r3={"target": 9, "target_max": 7})})
    assert str(only(c, "bad_interval").cell).startswith("E")


def test_qualitative_rows(tmp_path):
    rows = perf_rows(r1={"direction": "定性", "target": "服务质量明显提升", "unit": None, "actual": "达成"},
                     r2={"direction": "定性", "target": "较好", "actual": "完成"})
    c = check(tmp_path, tables={"perf_indicators": rows})
    r0 = sub(c).tables["perf_indicators"][0].values
    assert (r0["direction"], r0["target"], r0["actual"]) == ("定性", "服务质量明显提升", "达成")
    p = only(c, "bad_qualitative")
    assert p.cell == "H5" and "“完成”" in p.message


def test_self_score_on_numeric_row_is_a_warning(tmp_path):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r1={"self_score": 2})})
    p = only(c, "self_score_not_qualitative")
    assert p.severity == "warning" and p.cell == "J4"


def test_indicator_points_must_add_up(tmp_path):
    c = check(tmp_path, tables={"perf_indicators": perf_rows(r1={"points": 3})})
    p = only(c, "indicator_points")
    assert p.cells == ("绩效指标!I4", "绩效指标!I5", "绩效指标!I6", "绩效指标!I7")
    assert "10.5" in p.message and "应为 10 分" in p.message


def test_indicator_group_missing(tmp_path):
    rows = [r for r in perf_rows() if r["level1"] == "产出指标"]
    c = check(tmp_path, tables={"perf_indicators": rows})
    p = only(c, "indicator_group_missing")
    assert "效益指标" in p.message and p.sheet == F.SHEET_INDICATORS


def test_blank_rows_between_are_ignored(tmp_path):
    rows = perf_rows()
    rows.insert(2, {})
    c = check(tmp_path, tables={"perf_indicators": rows})
    assert c.status == "ok"
    assert [r.index for r in sub(c).tables["perf_indicators"]] == [1, 2, 4, 5, 6, 7, 8, 9]


@pytest.mark.parametrize("table, title", [("problems", "存在的问题"), ("plans", "后续工作计划")])
def test_table_empty(tmp_path, table, title):
    c = check(tmp_path, tables={table: []})
    p = only(c, "table_empty")
    assert p.field == table and title in p.message and p.sheet == F.SHEET_ANALYSIS



def test_level2_must_belong_to_level1_warning(tmp_path):
    from helpers import load_seed, write_unit

    data = load_seed()
    data["perf_indicators"][0][1] = "社会效益"  # an 效益指标 level2 under 产出指标
    data["perf_indicators"][1][1] = "数量指标 "  # trailing space: just normalised
    check = validate.check_file(write_unit(tmp_path / "u.xlsx", data), "u.xlsx")
    warn = [p for p in check.problems if p.code == "level2_mismatch"]
    assert len(warn) == 1 and warn[0].severity == "warning" and warn[0].cell and "社会效益" in warn[0].message
    assert check.status == "ok"
    rows = check.submission.tables["perf_indicators"]
    assert rows[1].values["level2"] == "数量指标"
