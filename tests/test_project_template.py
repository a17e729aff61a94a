"""The project form's workbook (项目支出绩效自评表, spec 06): the real template, written by
toolkit.forms.template, opened and filled through its defined names and table name."""

from __future__ import annotations

import io
import shutil
import warnings
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from click.testing import CliRunner

from tests.builders import libreoffice_convert
from tests.project_builders import ROWS, VALUES, build_project
from toolkit import fields as F
from toolkit.check.validate import check_file
from toolkit.cli import main
from toolkit.forms import layout as L
from toolkit.forms import project_layout as P
from toolkit.forms import template as T
from toolkit.forms.returned import write_returned
from toolkit.rules import inputs
from toolkit.rules.loader import load_scheme
from toolkit.rules.scoring import score

SCHEMES = ("mof-project-2020", "sichuan-project-2022")
SHEET = F.SHEET_PROJECT


def _open(data: bytes) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a file openpyxl complains about is a broken file
        return openpyxl.load_workbook(io.BytesIO(data))


def _blank(scheme: str = "mof-project-2020", **kw: object) -> openpyxl.Workbook:
    return _open(T.build_workbook_bytes(load_scheme(scheme), **kw))  # type: ignore[arg-type]


def _cell(wb: openpyxl.Workbook, key: str) -> openpyxl.cell.Cell:
    (sheet, ref), = wb.defined_names[key].destinations
    return wb[sheet][ref.replace("$", "")]


# --------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_field_key_is_a_defined_name_on_a_yellow_unlocked_cell(scheme):  # type: ignore[no-untyped-def]
    wb = _blank(scheme)
    assert wb.sheetnames == list(F.PROJECT_SHEETS)
    keys = [f.key for f in F.PROJECT_FIELDS]
    assert sorted(wb.defined_names) == sorted([*keys, "live_total", "live_grade"])  # + the live 自评得分 cells
    ws = wb[SHEET]
    assert ws.protection.sheet
    for key in keys:
        c = _cell(wb, key)
        assert c.parent.title == SHEET, key
        assert c.fill.fgColor.rgb == "FFFFF2CC", key
        assert c.protection.locked is False, key
        assert L.cell_address(load_scheme(scheme), key) == (SHEET, c.coordinate), key


def test_cell_address_knows_the_project_layout():  # type: ignore[no-untyped-def]
    s = load_scheme("mof-project-2020")
    assert L.cell_address(s, "project_name") == (SHEET, "C4")
    assert L.cell_address(s, "fund_total_full") == (SHEET, "E8")
    assert L.cell_address(s, "fund_other_spent") == (SHEET, "F11")
    assert L.cell_address(s, "goal_actual") == (SHEET, "G13")
    assert L.cell_address(s, "project_indicators:1:level1") == (SHEET, "B15")
    assert L.cell_address(s, "project_indicators:12:deviation_note") == (SHEET, "J26")
    assert L.cell_address(s, "conclusion") == (SHEET, "C30")
    assert L.cell_address(s, "report_date") == (SHEET, "I34")
    assert L.cell_address(s, "项目自评表!D9") == (SHEET, "D9")
    assert L.cell_address(s, "perf_indicators:1:level1") is None


def test_the_indicator_table_its_headers_rows_and_dropdowns():  # type: ignore[no-untyped-def]
    s = load_scheme("sichuan-project-2022")  # one table for every 一级: the dropdown offers all three
    wb = _blank("sichuan-project-2022")
    ws = wb[SHEET]
    t = ws.tables[F.PROJECT_INDICATORS.name]
    assert t.ref == "B14:J26"  # header + 12 empty rows
    assert [c.name for c in t.tableColumns] == [c.header for c in F.PROJECT_INDICATORS.columns]
    assert all(ws.cell(r, c).value is None for r in range(15, 27) for c in range(2, 11))
    assert all(ws.cell(r, c).protection.locked is False for r in range(15, 27) for c in range(2, 11))
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation if dv.type == "list"}
    assert lists["B15:B26"] == '"' + ",".join(F.level1_choices(s.indicator_groups)) + '"'
    assert lists["B15:B26"] == '"产出指标,效益指标,满意度指标"'
    assert lists["C15:C26"] == '"' + ",".join(n for v in F.LEVEL2_BY_LEVEL1.values() for n in v) + '"'
    prompts = {str(dv.sqref): dv.prompt for dv in ws.data_validations.dataValidation}
    for j, col in enumerate(F.PROJECT_INDICATORS.columns):
        if col.note:
            assert prompts[f"{'BCDEFGHIJ'[j]}15:{'BCDEFGHIJ'[j]}26"] == col.note, col.key


@pytest.mark.parametrize("scheme", SCHEMES)
def test_required_labels_carry_a_star_iff_the_validator_requires_them(scheme, tmp_path):  # type: ignore[no-untyped-def]
    s = load_scheme(scheme)
    eff = inputs.field_map(s)
    ws = _blank(scheme)[SHEET]
    required = {k for k in P.slots() if eff[k].required}
    for key, slot in P.slots().items():
        label = ws.cell(slot.label_row + 1, slot.label_col + 1).value
        row_keys = [k for k, o in P.slots().items() if (o.label_row, o.label_col) == (slot.label_row, slot.label_col)]
        assert label.startswith("* ") == any(k in required for k in row_keys), (key, label)
    # the validator: a workbook with every field blank misses exactly the required ones
    c = check_file(build_project(tmp_path / "blank.xlsx", scheme, values={}), "blank.xlsx")
    missing = {p.field for p in c.problems if p.code == "required" and p.sheet == SHEET and p.field in eff}
    assert missing == required
    if scheme == "sichuan-project-2022":
        assert {"conclusion", "problems_text", "measures"} <= required
    else:
        assert not {"conclusion", "problems_text", "measures"} & required
    assert {"project_name", "dept_name", "unit_name", "fiscal_year", "fund_total_full", "fund_total_spent",
            "goal_expected", "goal_actual", "report_date"} <= required


def test_live_execution_cells_are_locked_formulas_blank_until_filled():  # type: ignore[no-untyped-def]
    ws = _blank()[SHEET]
    rate, points, score_cell = ws["H8"], ws["G8"], ws["J8"]
    assert points.value == 10
    assert rate.value == '=IF(AND(ISNUMBER(fund_total_full),ISNUMBER(fund_total_spent),N(fund_total_full)>0),' \
                         'fund_total_spent/fund_total_full,"")'
    # 得分 is the 自评得分 sheet's 预算执行率 leaf (one formula source), blank while A and B are blank
    assert score_cell.value == '=IF(AND(ISBLANK(fund_total_full),ISBLANK(fund_total_spent)),"",\'自评得分\'!$E$4)'
    leaf = _blank()["自评得分"]["E4"].value
    assert "fund_total_spent" in leaf and "fund_total_full" in leaf and leaf.startswith("=IF(OR(")
    assert rate.protection.locked and score_cell.protection.locked
    # the footer's 自评得分 / 自评等级 are the live total and grade
    assert (ws["E28"].value, ws["I28"].value) == ("=live_total", "=live_grade")
    check = ws["C29"]
    assert check.value.startswith('=IF(COUNT($H$15:$H$26)=0,"","绩效指标分值合计 = "&SUM($H$15:$H$26)')
    assert "（应为 90）" in check.value
    assert ws["A28"].value == "总分" and ws["C28"].value == "100"


def test_one_portrait_a4_page_and_the_official_title():  # type: ignore[no-untyped-def]
    ws = _blank(year=2023)[SHEET]
    assert ws["A1"].value == "项目支出绩效自评表"
    assert ws["A2"].value.startswith("=IF(")  # （2023年度） from fiscal_year, live
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    assert ws.sheet_properties.pageSetUpPr.fitToPage  # fit to 1 × 1 pages (1 is the default: omitted)
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight in (None, 1)
    assert ws.print_area == "'项目自评表'!$A$1:$J$34"
    assert ws.print_title_rows is None


def test_meta_is_very_hidden_and_names_the_project_template():  # type: ignore[no-untyped-def]
    wb = _blank(year=2023, meta={"unit_code": "412001"})
    ws = wb["_meta"]
    assert ws.sheet_state == "veryHidden"
    meta = {r[0]: r[1] for r in ws.iter_rows(values_only=True)}
    assert meta == {"template_id": "jixiao-project-selfeval", "template_version": 1,
                    "scheme_id": "mof-project-2020", "fiscal_year": 2023, "unit_code": "412001"}


def test_same_input_same_bytes():  # type: ignore[no-untyped-def]
    s = load_scheme("mof-project-2020")
    assert T.build_workbook_bytes(s) == T.build_workbook_bytes(s)
    kw = {"year": 2023, "values": VALUES, "tables": {"project_indicators": ROWS}}
    assert T.build_workbook_bytes(s, **kw) == T.build_workbook_bytes(s, **kw)  # type: ignore[arg-type]


def test_file_names_by_form_and_scheme():  # type: ignore[no-untyped-def]
    assert T.template_file_name(load_scheme("mof-project-2020")) == "项目支出绩效自评表.xlsx"
    assert T.template_file_name(load_scheme("sichuan-project-2022")) == "项目支出绩效自评表_sichuan-project-2022.xlsx"
    assert T.template_file_name(load_scheme("jianghua-2023")) == F.TEMPLATE_FILE_NAME


# --------------------------------------------------------------------------- filled, checked, scored
@pytest.mark.parametrize("scheme", SCHEMES)
def test_filled_through_names_checks_clean_and_scores_the_execution_rate(scheme, tmp_path):  # type: ignore[no-untyped-def]
    p = build_project(tmp_path / "项目.xlsx", scheme)
    c = check_file(p, p.name)
    assert [(x.code, x.message) for x in c.problems] == []
    assert c.raw.meta["form"] == "project"
    assert c.submission is not None
    card = score(c.scheme, c.submission)
    ex = card.node("execution")
    assert round(float(ex.value), 4) == 0.9418  # 113.02 / 120
    assert ex.score == Decimal("9.42")


def test_returned_project_workbook_marks_the_four_cells_of_a_broken_fund_identity(tmp_path):  # type: ignore[no-untyped-def]
    p = build_project(tmp_path / "项目.xlsx", fund_fiscal_full=100.01)  # 120 ≠ 100.01 + 20 + 0
    c = check_file(p, p.name)
    assert [(x.code, x.severity, x.cells) for x in c.problems] == [
        ("check_failed", "error", ("项目自评表!E8", "项目自评表!E9", "项目自评表!E10", "项目自评表!E11"))]
    out = tmp_path / "退回.xlsx"
    write_returned(c.scheme, c.raw, c.problems, out)
    wb = _open(out.read_bytes())
    assert wb.sheetnames[0] == "问题清单"
    pink = {k for k in (f.key for f in F.PROJECT_FIELDS) if _cell(wb, k).fill.fgColor.rgb == "FFFFC7CE"}
    assert pink == {"fund_total_full", "fund_fiscal_full", "fund_carryover_full", "fund_other_full"}
    assert "全年预算数（A）" in _cell(wb, "fund_total_full").comment.text
    assert _cell(wb, "fund_fiscal_full").value == 100.01  # the clerk's own values come back
    assert wb[SHEET]["D15"].value == ROWS[0]["name"]


def test_cli_template_form_project_with_a_roster_writes_one_copy_per_unit(tmp_path):  # type: ignore[no-untyped-def]
    roster = tmp_path / "R.xlsx"
    wb = xlsxwriter.Workbook(str(roster))
    ws = wb.add_worksheet("名册")
    ws.write_row(0, 0, ["单位名称", "单位编码", "所属地区", "联系人", "联系邮箱"])
    ws.write_row(1, 0, ["县公路建设养护中心", "412001", "某县", "李四", "gl@example.com"])
    ws.write_row(2, 0, ["县农业农村局", "412002", "某县", "王五", ""])
    wb.close()
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["template", "--form", "project", "--roster", str(roster), "--year", "2023",
                                  "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(x.name for x in out.iterdir()) == ["县公路建设养护中心_项目支出绩效自评表.xlsx",
                                                     "县农业农村局_项目支出绩效自评表.xlsx"]
    copy = _open((out / "县公路建设养护中心_项目支出绩效自评表.xlsx").read_bytes())
    assert (_cell(copy, "unit_name").value, _cell(copy, "unit_code").value, _cell(copy, "fiscal_year").value,
            _cell(copy, "contact_name").value) == ("县公路建设养护中心", "412001", 2023, "李四")
    meta = {row[0]: row[1] for row in copy["_meta"].iter_rows(values_only=True)}
    assert (meta["template_id"], meta["unit_code"], meta["fiscal_year"]) == ("jixiao-project-selfeval", "412001", 2023)


@pytest.mark.parametrize("args, name", [
    (["--form", "project"], "项目支出绩效自评表.xlsx"),
    (["--scheme", "sichuan-project-2022"], "项目支出绩效自评表_sichuan-project-2022.xlsx"),
    ([], F.TEMPLATE_FILE_NAME),
])
def test_cli_template_picks_the_form(args, name, tmp_path):  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(main, ["template", *args, "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert [x.name for x in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("args", [["--form", "project", "--scheme", "jianghua-2023"],
                                  ["--form", "dept", "--scheme", "mof-project-2020"]])
def test_cli_template_refuses_a_scheme_of_the_other_form(args, tmp_path):  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(main, ["template", *args, "-o", str(tmp_path)])
    assert r.exit_code == 2
    assert "不能生成" in r.output and "--form" in r.output
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- LibreOffice recalculates
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) 未安装：跳过重算检查")
def test_libreoffice_recalculates_the_live_cells_to_the_python_values(tmp_path):  # type: ignore[no-untyped-def]
    p = build_project(tmp_path / "filled.xlsx")
    c = check_file(p, p.name)
    ex = score(c.scheme, c.submission).node("execution")  # type: ignore[arg-type]
    converted = libreoffice_convert(p, tmp_path / "lo")
    ws = openpyxl.load_workbook(converted, data_only=True)[SHEET]
    assert ws["H8"].value == pytest.approx(float(ex.value))
    assert ws["J8"].value == pytest.approx(float(ex.score))
    assert ws["A2"].value == "（2023年度）"
    assert ws["C29"].value == "绩效指标分值合计 = 90（应为 90）"


def test_blank_template_path_is_deterministic_on_disk(tmp_path):  # type: ignore[no-untyped-def]
    s = load_scheme("mof-project-2020")
    a, = T.write_templates(s, tmp_path / "a")
    b, = T.write_templates(s, tmp_path / "b")
    assert Path(a).read_bytes() == Path(b).read_bytes()


def test_a_returned_workbook_with_more_rows_moves_the_footer_down():  # type: ignore[no-untyped-def]
    rows = [{**ROWS[0], "name": f"指标{i}"} for i in range(1, 15)]  # 14 rows: two more than the template
    wb = _open(T.build_workbook_bytes(load_scheme("mof-project-2020"), values=VALUES,
                                      tables={"project_indicators": rows}, marks={"conclusion": ["请填写"]}))
    ws = wb[SHEET]
    assert ws.tables["project_indicators"].ref == "B14:J28"
    assert ws["D28"].value == "指标14" and ws["A30"].value == "总分"
    c = _cell(wb, "conclusion")
    assert c.coordinate == "C32" and c.fill.fgColor.rgb == "FFFFC7CE" and c.comment.text == "请填写"
    assert _cell(wb, "report_date").coordinate == "I36"


@pytest.mark.parametrize("scheme, split", [("mof-project-2020", "产出指标 50 分，效益指标 30 分，满意度指标 10 分"),
                                           ("sichuan-project-2022", "合计须为 90 分")])
def test_help_sheet_states_the_scoring_rules_and_the_star_legend(scheme, split):  # type: ignore[no-untyped-def]
    ws = _blank(scheme)[F.SHEET_HELP]
    text = "\n".join(str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None)
    for words in ("得分 = 执行率 × 10 分", "执行率超过 100% 的按 100% 计（封顶）", split,
                  "≥ 类完成值达到指标值得满分，未达到按 完成值÷指标值 计分", "优（90分及以上）",
                  "必填项：标签前标 * 的项目必须填写", "模板标识：jixiao-project-selfeval"):
        assert words in text, words


def test_problem_list_links_to_the_project_sheet(tmp_path):  # type: ignore[no-untyped-def]
    p = build_project(tmp_path / "项目.xlsx", fund_fiscal_full=100.01)
    c = check_file(p, p.name)
    out = tmp_path / "退回.xlsx"
    write_returned(c.scheme, c.raw, c.problems, out)
    ws = _open(out.read_bytes())["问题清单"]
    assert (ws["C4"].value, ws["D4"].value) == (SHEET, "E8")
    assert ws["D4"].hyperlink.location == "'项目自评表'!E8"


def test_a_grown_returned_workbook_names_the_cells_where_the_marks_are(tmp_path):  # type: ignore[no-untyped-def]
    """A clerk typed 14 rows (the table grew in their workbook): the returned workbook's messages name the
    cells where its marks are, below the table too (the footer moved down by two rows)."""
    rows = [{**ROWS[0], "name": f"指标{i}", "points": 50 / 14 if i > 1 else 50 - 13 * (50 / 14)}
            for i in range(1, 15)]
    p = tmp_path / "项目.xlsx"  # written as a grown workbook (what inserting rows in Excel gives)
    p.write_bytes(T.build_workbook_bytes(load_scheme("mof-project-2020"), values={**VALUES, "report_date": None},
                                         tables={"project_indicators": [*rows, *ROWS[2:]]}))
    c = check_file(p, p.name)
    required = [q for q in c.problems if q.code == "required" and q.field == "report_date"]
    assert required, [q.message for q in c.problems]
    out = tmp_path / "退回.xlsx"
    write_returned(c.scheme, c.raw, c.problems, out)
    wb = _open(out.read_bytes())
    listed = {(r[2], r[3]) for r in wb["问题清单"].iter_rows(min_row=4, values_only=True) if r[3]}
    for sheet, cell in listed:  # every cell the list names carries the comment (the mark) there
        assert wb[sheet][cell].comment is not None, (sheet, cell)
    date_cell = _cell(wb, "report_date").coordinate
    assert (SHEET, date_cell) in listed and date_cell != _cell(_blank("mof-project-2020"), "report_date").coordinate
