"""Validation: every row of spec 05's bad-input table, and the consistency checks of spec 02.

Each test builds the reference unit's workbook with one change and looks at the problems:
code, severity, the cell, and the Chinese message.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests import builders as B
from tests.builders import check, codes, only, perf_rows, sub
from toolkit import fields as F
from toolkit.check import validate
from toolkit.rules import inputs
from toolkit.rules.loader import load_scheme

submission = sub


def addr(c: validate.FileCheck, key: str) -> tuple[str, str]:
    sheet, cell = sub(c).cells[key].split("!")
    return sheet, cell


@pytest.fixture(scope="module")
def seed(tmp_path_factory) -> validate.FileCheck:
    d = tmp_path_factory.mktemp("seed")
    return validate.check_file(B.build(d / "seed.xlsx"), "seed.xlsx")


# --------------------------------------------------------------------------- the reference unit
def test_reference_unit_is_valid(seed):
    assert seed.status == "ok" and seed.problems == ()
    sub = submission(seed)
    assert seed.scheme.id == "jianghua-2023"
    v = sub.values
    assert v["fiscal_year"] == 2023 and v["staff_quota"] == 10 and isinstance(v["staff_quota"], int)
    assert v["income_fiscal"] == D("169.92") and v["income_other"] == D("0")
    assert v["report_date"] == date(2024, 4, 30)
    assert v["new_building"] == "无" and v["building_area_approved"] is None
    assert v["score_duty"] == D("10") and v["satisfaction_rate"] is None and v["assessment_grade"] == "优秀"
    assert sub.meta["scheme_id"] == "jianghua-2023"
    rows = sub.tables["perf_indicators"]
    assert len(rows) == 8
    r3 = rows[2].values
    assert r3 == {"level1": "产出指标", "level2": "时效指标", "name": "审批时间", "direction": "区间",
                  "target": D("1"), "target_max": D("7"), "unit": "天", "actual": D("5"), "points": D("2.5"),
                  "self_score": None, "deviation_note": None}
    assert rows[2].cells["actual"].startswith("绩效指标!H")
    assert str(sub.tables["problems"][0].values["problems"]).startswith("资金使用效益")
    assert set(sub.cells) >= {f.key for f in inputs.all_fields(seed.scheme)}


def test_reference_unit_scores_99(seed):
    from toolkit.rules import scoring

    card = scoring.score(seed.scheme, sub(seed))
    assert card.total == D("99") and card.grade == "优"


# --------------------------------------------------------------------------- spec 05: values
def test_required_blank(tmp_path):
    c = check(tmp_path, {"unit_name": B.DROP, "report_date": B.DROP, "functions": "  \n "})
    assert c.status == "invalid"
    got = {p.field: p for p in c.problems if p.code == "required"}
    assert set(got) == {"unit_name", "report_date", "functions"}
    p = got["unit_name"]
    assert (p.sheet, p.cell) == addr(c, "unit_name") and p.severity == "error"
    assert p.message.startswith("“单位名称”未填写") and p.cells == (sub(c).cells["unit_name"],)


@pytest.mark.parametrize("typed", ["十个", "约10", "10左右"])
def test_text_in_number_cell(tmp_path, typed):
    c = check(tmp_path, {"staff_quota": typed})
    p = only(c, "not_number")
    assert (p.sheet, p.cell, p.field) == (*addr(c, "staff_quota"), "staff_quota")
    assert f"现为“{typed}”" in p.message and "核定人员编制数" in p.message
    assert sub(c).values["staff_quota"] is None


def test_negative_where_not_allowed(tmp_path):
    c = check(tmp_path, {"public_budget": -3})
    p = only(c, "negative")
    assert p.cell == addr(c, "public_budget")[1] and "-3" in p.message
    # 本年追加（调减）may be negative
    c2 = check(tmp_path, {"budget_added": -9.92, "income_fiscal": 150.08, "spend_basic": 150.08}, name="neg.xlsx")
    assert c2.status == "ok", [p.message for p in c2.problems]
    assert sub(c2).values["budget_added"] == D("-9.92")


@pytest.mark.parametrize("err", ["#DIV/0!", "#REF!", "#VALUE!", "#N/A"])
def test_formula_error_cells(tmp_path, err):
    c = check(tmp_path, errors={"public_actual": err, "region": err})
    found = {p.field: p for p in c.problems if p.code == "formula_error"}
    assert set(found) == {"public_actual", "region"}
    assert err in found["public_actual"].message and found["public_actual"].cell == addr(c, "public_actual")[1]


def test_formula_error_typed_as_text(tmp_path):
    c = check(tmp_path, {"staff_actual": "#DIV/0!"})
    assert only(c, "formula_error").field == "staff_actual"


def test_accepted_and_normalised(tmp_path):
    c = check(tmp_path, {
        "public_budget": "1,234.5", "public_actual": "１２３", "staff_quota": " 10 ", "staff_actual": "１０",
        "sangong_actual": "\u00a02.85\u3000", "satisfaction_rate": "99%", "report_date": "2024.4.30",
        "contact_email": "zwfwzx＠example.com", "chk_mgmt_system_1": " 是 ", "unit_code": 412001,
    })
    assert c.status == "ok", [p.message for p in c.problems]
    v = sub(c).values
    assert v["public_budget"] == D("1234.50") and v["public_actual"] == D("123.00")
    assert v["staff_quota"] == 10 and v["staff_actual"] == 10 and v["sangong_actual"] == D("2.85")
    assert v["satisfaction_rate"] == D("0.99") and v["report_date"] == date(2024, 4, 30)
    assert v["contact_email"] == "zwfwzx@example.com" and v["chk_mgmt_system_1"] == "是"
    assert v["unit_code"] == "412001"


@pytest.mark.parametrize("typed, expected", [("2024年4月30日", date(2024, 4, 30)), ("2024/5/6", date(2024, 5, 6)),
                                             ("20240430", date(2024, 4, 30))])
def test_dates_accepted(tmp_path, typed, expected):
    c = check(tmp_path, {"report_date": typed})
    assert c.status == "ok" and sub(c).values["report_date"] == expected


def test_bad_date_email_choice_year(tmp_path):
    c = check(tmp_path, {"report_date": "四月底", "contact_email": "zwfwzx", "new_building": "不知道",
                         "fiscal_year": 1999})
    assert {p.code: p.field for p in c.problems if p.severity == "error"} == {
        "bad_date": "report_date", "bad_choice": "new_building", "out_of_range": "fiscal_year"}
    assert only(c, "bad_email").severity == "warning"  # an address problem never withholds a report
    assert "有、无" in only(c, "bad_choice").message
    assert "2000～2100" in only(c, "out_of_range").message


def test_percent_out_of_range(tmp_path):
    c = check(tmp_path, {"satisfaction_rate": "120%"})
    p = only(c, "out_of_range")
    assert p.field == "satisfaction_rate" and "0%～100%" in p.message


def test_too_many_decimals_is_a_warning(tmp_path):
    c = check(tmp_path, {"sangong_actual": 2.855})
    p = only(c, "too_many_decimals")
    assert p.severity == "warning" and c.status == "ok"
    assert sub(c).values["sangong_actual"] == D("2.86") and "2.86" in p.message


def test_blank_money(tmp_path):
    c = check(tmp_path, {"income_other": B.DROP, "public_actual": B.DROP})
    assert c.status == "ok"
    assert sub(c).values["income_other"] == D(0)  # blank_is_zero
    assert sub(c).values["public_actual"] == D(0)


def test_money_used_by_rules_or_identity_blank_is_zero(tmp_path):
    c = check(tmp_path, {"carryover_start": B.DROP, "balance_project": B.DROP, "sangong_budget_prev": B.DROP,
                         "procurement_budget": B.DROP, "budget_initial": B.DROP})
    assert [str(p.field) for p in c.problems if p.code == "required"] == ["budget_initial"]
    assert "budget_identity" not in codes(c)  # not checked with a value missing


def test_control_characters_from_word_removed(tmp_path):
    c = check(tmp_path, {"duty_analysis": "一是优化\x0b二是加强\u00ad服务\x00。\r\n三是\u200b创新  ",
                         "unit_name": "江华瑶族自治县政务服务中心\x07"})
    v = sub(c).values
    assert v["duty_analysis"] == "一是优化\n二是加强服务。\n三是创新"
    assert v["unit_name"] == "江华瑶族自治县政务服务中心"
    assert c.status == "ok"


# --------------------------------------------------------------------------- consistency
def test_budget_identity(tmp_path):
    c = check(tmp_path, {"spend_basic": 160})
    p = only(c, "budget_identity")
    keys = ("carryover_start", "income_fiscal", "income_other", "spend_basic", "spend_project", "balance_basic",
            "balance_project")
    assert set(p.cells) == {sub(c).cells[k] for k in keys} and len(p.cells) == 7
    assert p.cell == p.cells[0].split("!")[1] and p.sheet == F.SHEET_MONEY
    assert "相差 9.92万元" in p.message and "收支情况!" in p.message
    assert p.field in keys


def test_budget_identity_tolerance(tmp_path):
    c = check(tmp_path, {"balance_basic": 0.004, "spend_basic": 169.92})
    assert "budget_identity" not in codes(c)


def test_budget_income_mismatch_is_a_warning(tmp_path):
    c = check(tmp_path, {"budget_initial": 150})
    p = only(c, "budget_income_mismatch")
    assert p.severity == "warning" and c.status == "ok" and len(p.cells) == 3 and "-10.00" in p.message


def test_checklist_missing_or_bad(tmp_path):
    c = check(tmp_path, {"chk_mgmt_system_2": B.DROP, "chk_disclosure_1": "可能"})
    assert only(c, "required").field == "chk_mgmt_system_2"
    p = only(c, "bad_choice")
    assert p.field == "chk_disclosure_1" and "是、否" in p.message and p.sheet == F.SHEET_SCORING


def test_tier_missing(tmp_path):
    c = check(tmp_path, {"tier_duty": B.DROP})
    p = only(c, "tier_missing")
    assert p.field == "tier_duty" and len(p.cells) == 2 and "required" not in codes(c)


def test_tier_and_score_both_blank(tmp_path):
    c = check(tmp_path, {"tier_duty": B.DROP, "score_duty": B.DROP})
    assert sorted(str(p.field) for p in c.problems if p.code == "required") == ["score_duty", "tier_duty"]


@pytest.mark.parametrize("tier, score, ok", [
    ("部分达成", 9, False), ("部分达成", 8, False), ("部分达成", 7.9, True), ("部分达成", 6, True),
    ("达成年度目标", 8, True), ("达成年度目标", 7.5, False), ("未达成", 6, False), ("未达成", 0, True)])
def test_tier_range(tmp_path, tier, score, ok):
    c = check(tmp_path, {"tier_duty": tier, "score_duty": score, "note_duty": "说明"})
    if ok:
        assert "tier_range" not in codes(c)
    else:
        p = only(c, "tier_range")
        assert p.field == "score_duty" and tier in p.message and len(p.cells) == 2


def test_score_above_points(tmp_path):
    c = check(tmp_path, {"score_duty": 12})
    assert only(c, "out_of_range").field == "score_duty"


def test_first_given_blank(tmp_path):
    c = check(tmp_path, {"assessment_grade": B.DROP, "satisfaction_rate": B.DROP})
    p = only(c, "first_given_blank")
    assert "社会公众或服务对象满意度" in p.message and "年度绩效考核等级" in p.message and len(p.cells) == 2
    c2 = check(tmp_path, {"assessment_grade": B.DROP, "satisfaction_rate": "95%"}, name="rate.xlsx")
    assert c2.status == "ok"


def test_new_building_fields_required_when_yes(tmp_path):
    c = check(tmp_path, {"new_building": "有"})
    assert sorted(str(p.field) for p in c.problems if p.code == "required") == sorted(
        ["building_area_approved", "building_area_actual", "building_invest_approved", "building_invest_actual"])
    c2 = check(tmp_path, {"new_building": "有", "building_area_approved": 100, "building_area_actual": 98,
                          "building_invest_approved": 50, "building_invest_actual": 49}, name="yes.xlsx")
    assert c2.status == "ok"


# --------------------------------------------------------------------------- pasted text spilling over
def test_text_spill_below_long_text(tmp_path):
    from openpyxl import load_workbook

    p = B.build(tmp_path / "spill.xlsx")
    raw = validate.check_file(p, "x").raw
    assert raw is not None
    sheet, cell = raw.addresses["admin_efficiency"].split("!")
    below = f"{cell[0]}{int(cell[1:]) + 1}"
    wb = load_workbook(p)
    wb[sheet][below] = "严格制度执行，特别是“三公”经费的预算控制。"
    wb.save(p)
    c = validate.check_file(p, "spill.xlsx")
    w = only(c, "text_spill")
    assert w.severity == "warning" and w.cell == cell and w.cells == (f"{sheet}!{cell}", f"{sheet}!{below}")
    assert below in w.message and c.status == "ok"


def test_text_spill_onto_a_number_cell(tmp_path):
    """Paragraphs pasted over 主要职能 land on 核定人员编制数 below: the error gets an explanation."""
    c = check(tmp_path, {"staff_quota": "负责制订全县政务公开、政务服务发展规划和年度计划。"})
    assert "not_number" in codes(c)
    w = only(c, "text_spill")
    assert w.field == "functions" and sub(c).cells["staff_quota"] in w.cells


# --------------------------------------------------------------------------- structure and templates
def test_missing_defined_name(tmp_path):
    p = B.drop_name(B.build(tmp_path / "x.xlsx"), "staff_actual")
    c = validate.check_file(p, "x.xlsx")
    m = only(c, "missing_name")
    assert m.field == "staff_actual" and "staff_actual" in m.message and "实有在职在编人数" in m.message
    assert "required" not in codes(c) and c.status == "invalid"


def test_broken_defined_name(tmp_path):
    p = B.break_name(B.build(tmp_path / "x.xlsx"), "region")
    c = validate.check_file(p, "x.xlsx")
    assert only(c, "bad_reference").field == "region"


def test_deleted_sheet(tmp_path):
    p = B.delete_sheet(B.build(tmp_path / "x.xlsx"), F.SHEET_MONEY)
    c = validate.check_file(p, "x.xlsx")
    m = only(c, "missing_sheet")
    assert m.sheet == F.SHEET_MONEY and "收支情况" in m.message
    assert "missing_name" not in codes(c) and "required" not in codes(c)


def test_deleted_table_sheet(tmp_path):
    p = B.delete_sheet(B.build(tmp_path / "x.xlsx"), F.SHEET_INDICATORS)
    c = validate.check_file(p, "x.xlsx")
    assert only(c, "missing_sheet").sheet == F.SHEET_INDICATORS


def test_renamed_table(tmp_path):
    p = B.rename_table(B.build(tmp_path / "x.xlsx"), "plans", "表3")
    c = validate.check_file(p, "x.xlsx")
    # the header row is still there, so the table is still found by its header
    assert c.status == "ok", [x.message for x in c.problems]


def test_table_header_changed(tmp_path):
    from openpyxl import load_workbook

    p = B.drop_table_parts(B.build(tmp_path / "x.xlsx"))
    wb = load_workbook(p)
    ws = wb[F.SHEET_ANALYSIS]
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == "后续工作计划":
                cell.value = "下一步打算"
    wb.save(p)
    c = validate.check_file(p, "x.xlsx")
    m = only(c, "missing_table")
    assert m.field == "plans" and "后续工作计划" in m.message


def test_missing_column(tmp_path):
    p = B.build(tmp_path / "x.xlsx")
    part = next(n for n in zipfile.ZipFile(p).namelist()
                if n.startswith("xl/tables/") and b'name="perf_indicators"' in B.read_part(p, n))
    p = B.rewrite(p, {part: lambda b: b.replace("计量单位".encode(), "单位".encode())})
    c = validate.check_file(p, "x.xlsx")
    m = only(c, "missing_column")
    assert "计量单位" in m.message and m.field == "perf_indicators"


def test_workbook_lacking_scheme_inputs(tmp_path):
    p = B.build(tmp_path / "mof.xlsx", scheme="mof-2020")
    c = validate.check_file(p, "mof.xlsx", load_scheme("jianghua-2023"))
    m = only(c, "missing_inputs")
    assert "chk_mgmt_system_1" in m.message and "tier_duty" in m.message and "note_duty" not in m.message
    assert "jixiao template --scheme jianghua-2023" in m.message
    mm = only(c, "scheme_mismatch")
    assert mm.severity == "warning" and "mof-2020" in mm.message


def test_scheme_choice(tmp_path):
    p = B.build(tmp_path / "mof.xlsx", scheme="mof-2020")
    assert validate.check_file(p, "mof.xlsx").scheme.id == "mof-2020"  # from _meta
    j = B.build(tmp_path / "j.xlsx")
    c = validate.check_file(j, "j.xlsx", load_scheme("mof-2020"))  # given: wins, with a warning
    assert c.scheme.id == "mof-2020" and "scheme_mismatch" in codes(c)
    assert "missing_inputs" not in codes(c)  # the jianghua workbook has what mof-2020 needs
    custom = B.set_meta(Path(shutil.copy(j, tmp_path / "custom.xlsx")), scheme_id="my-county-2024")
    c2 = validate.check_file(custom, "custom.xlsx")
    assert c2.scheme.id == "jianghua-2023"
    assert "my-county-2024" in only(c2, "scheme_mismatch").message


# --------------------------------------------------------------------------- every problem is complete
def test_every_problem_names_its_place(tmp_path):
    c = check(tmp_path, {"unit_name": B.DROP, "staff_quota": "十个", "spend_basic": 1, "tier_duty": "部分达成",
                         "chk_mgmt_system_1": "也许", "sangong_actual": 1.234},
              tables={"perf_indicators": perf_rows(r1={"direction": "W", "points": 4}), "plans": []})
    assert len(c.problems) >= 8
    for p in c.problems:
        assert p.code and p.severity in ("error", "warning") and p.message.endswith("）"), p
        assert p.sheet and p.cell and p.cells and p.field, p
        assert f"{p.sheet}!{p.cell}" in p.cells


def test_submission_problems_match_file_check(tmp_path):
    c = check(tmp_path, {"staff_quota": "十个"})
    assert sub(c).problems == c.problems
    assert sub(c).errors
