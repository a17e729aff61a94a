"""The standard workbook: written with XlsxWriter, checked by opening the real files with openpyxl."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import warnings
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from toolkit import fields as F
from toolkit.forms import layout as L
from toolkit.forms import styles as S
from toolkit.forms import template as T
from toolkit.forms.describe import describe_rule
from toolkit.problems import problem
from toolkit.read.roster import RosterError, read_roster
from toolkit.rules import inputs
from toolkit.rules.excel import LIVE_GRADE, LIVE_TOTAL
from toolkit.rules.loader import builtin_ids, load_scheme
from toolkit.rules.types.table import perf_table

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "workbook_templates"
SCHEMES = builtin_ids("dept")

LIVE_NAMES = (LIVE_TOTAL, LIVE_GRADE)  # the live 自评得分 cells (not inputs)


def _open(data: bytes) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a file openpyxl complains about is a broken file
        return openpyxl.load_workbook(io.BytesIO(data))


@pytest.fixture(scope="module", params=SCHEMES)
def scheme(request):  # type: ignore[no-untyped-def]
    return load_scheme(request.param)


@pytest.fixture(scope="module")
def blank(scheme):  # type: ignore[no-untyped-def]
    return _open(T.build_workbook_bytes(scheme))


def _rgb(cell) -> str:  # type: ignore[no-untyped-def]
    return str(cell.fill.fgColor.rgb)[-6:].upper()


def test_sheets_in_spec_order_and_meta_very_hidden(blank, scheme):  # type: ignore[no-untyped-def]
    assert blank.sheetnames == list(F.SHEETS)
    meta = blank[F.SHEET_META]
    assert meta.sheet_state == "veryHidden"
    rows = {r[0]: r[1] for r in meta.iter_rows(values_only=True)}
    assert rows == {"template_id": F.TEMPLATE_ID, "template_version": F.TEMPLATE_VERSION, "scheme_id": scheme.id}
    assert all(blank[s].sheet_state == "visible" for s in F.SHEETS if s != F.SHEET_META)


def test_every_input_is_a_named_unlocked_yellow_cell_on_its_sheet(blank, scheme):  # type: ignore[no-untyped-def]
    fields = inputs.all_fields(scheme)
    names = {n: d for n, d in blank.defined_names.items() if not n.startswith("_xlnm") and n not in LIVE_NAMES}
    assert set(names) == {f.key for f in fields}
    assert not set(names) & {t.name for t in F.TABLES}, "a defined name repeats a table name"
    for f in fields:
        d = names[f.key]
        assert d.localSheetId is None, f"{f.key} is not workbook-scoped"
        (sheet, ref), = list(d.destinations)
        assert sheet == f.sheet, f.key
        cell = blank[sheet][ref.replace("$", "")]
        assert cell.protection.locked is False, f"{f.key} at {sheet}!{ref} is locked"
        assert _rgb(cell) == S.INPUT_FILL[1:], f.key
        assert L.cell_address(scheme, f.key) == (sheet, ref.replace("$", ""))


def test_labels_and_computed_cells_are_locked(blank):  # type: ignore[no-untyped-def]
    ws = blank[F.SHEET_MONEY]
    formulas = [c for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert len(formulas) >= 5
    assert all(c.protection.locked is not False for c in formulas)
    named = {ref.replace("$", "") for d in blank.defined_names.values() for s, ref in d.destinations if s == ws.title}
    assert not named & {c.coordinate for c in formulas}
    label = ws.cell(row=5, column=2)
    assert "（万元）" in str(label.value) and label.protection.locked is not False


@pytest.mark.parametrize("table", F.TABLES, ids=lambda t: t.name)
def test_tables_exist_with_spec_headers_rows_and_nothing_below(blank, scheme, table):  # type: ignore[no-untyped-def]
    if table.name == "perf_indicators":
        table = perf_table(scheme)  # with the columns the scheme's indicator_table options add
    ws = blank[table.sheet]
    t = ws.tables[table.name]
    assert [c.name for c in t.tableColumns] == [c.header for c in table.columns]
    assert not t.totalsRowCount and not t.totalsRowShown
    min_col, min_row, max_col, max_row = openpyxl.utils.cell.range_boundaries(t.ref)
    assert max_row - min_row == table.rows
    assert ws.max_row == max_row, "something stands below the table"
    for r in range(min_row + 1, max_row + 1):
        for c in range(min_col, max_col + 1):
            assert ws.cell(row=r, column=c).protection.locked is False
    if table.name == "perf_indicators":
        for key in ("target", "target_max", "actual"):
            col = min_col + [c.key for c in table.columns].index(key)
            assert ws.cell(row=min_row + 1, column=col).number_format == "@"


def test_problems_and_plans_side_by_side(blank):  # type: ignore[no-untyped-def]
    ws = blank[F.SHEET_ANALYSIS]
    a = openpyxl.utils.cell.range_boundaries(ws.tables["problems"].ref)
    b = openpyxl.utils.cell.range_boundaries(ws.tables["plans"].ref)
    assert a[1] == b[1] and a[3] == b[3] and a[2] < b[0]


def _validations(wb):  # type: ignore[no-untyped-def]
    out = []
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            out.append((ws.title, str(dv.sqref), dv))
    return out


def _dv_at(wb, sheet, ref):  # type: ignore[no-untyped-def]
    for s, sqref, dv in _validations(wb):
        if s == sheet and openpyxl.worksheet.cell_range.MultiCellRange(sqref).__contains__(ref):
            return dv
    return None


def test_dropdowns_and_number_rules(blank, scheme):  # type: ignore[no-untyped-def]
    def at(key):  # type: ignore[no-untyped-def]
        sheet, ref = L.cell_address(scheme, key)  # type: ignore[misc]
        return _dv_at(blank, sheet, ref)

    nb = at("new_building")
    assert nb.type == "list" and nb.formula1 == '"有,无"' and nb.promptTitle and nb.error
    assert at("spend_basic").type == "decimal" and at("spend_basic").operator == "greaterThanOrEqual"
    assert at("budget_added").operator in (None, "between") and float(at("budget_added").formula1) < 0
    assert at("staff_quota").type == "whole"
    fy = at("fiscal_year")
    assert (fy.formula1, fy.formula2) == ("2000", "2100")
    for f in scheme.input_fields:
        if f.key.startswith("chk_"):
            assert at(f.key).formula1 == '"是,否"'
        if f.key.startswith("tier_"):
            assert at(f.key).type == "list"
    level1 = _dv_at(blank, F.SHEET_INDICATORS, "A4")
    assert level1.formula1 == '"' + ",".join(scheme.indicator_groups) + '"'
    assert level1.sqref == openpyxl.worksheet.cell_range.MultiCellRange("A4:A33")
    direction = _dv_at(blank, F.SHEET_INDICATORS, "D10")
    assert direction.formula1 == '"' + ",".join(F.DIRECTIONS) + '"'
    level2 = _dv_at(blank, F.SHEET_INDICATORS, "B4").formula1.strip('"').split(",")
    assert "数量指标" in level2 and "社会效益" in level2


def test_jianghua_scoring_sheet_inputs():  # type: ignore[no-untyped-def]
    s = load_scheme("jianghua-2023")
    wb = _open(T.build_workbook_bytes(s))
    keys = set(wb.defined_names)
    expected = ({f"chk_mgmt_system_{i}" for i in (1, 2, 3)} | {f"chk_fund_compliance_{i}" for i in range(1, 6)}
                | {f"chk_disclosure_{i}" for i in (1, 2, 3)}
                | {"note_mgmt_system", "note_fund_compliance", "note_disclosure", "tier_duty", "score_duty",
                   "note_duty", "assessment_grade", "satisfaction_rate", "note_satisfaction"})
    assert expected <= keys
    sheet, ref = L.cell_address(s, "assessment_grade")  # type: ignore[misc]
    assert _dv_at(wb, sheet, ref).formula1 == '"优秀,良好,合格,不合格"'
    sheet, ref = L.cell_address(s, "satisfaction_rate")  # type: ignore[misc]
    assert wb[sheet][ref].number_format == "0.00%"
    sheet, ref = L.cell_address(s, "score_duty")  # type: ignore[misc]
    dv = _dv_at(wb, sheet, ref)
    assert (dv.type, dv.formula1, dv.formula2) == ("decimal", "0", "10")


def test_every_sheet_protected_without_password_and_set_up_for_a4(blank):  # type: ignore[no-untyped-def]
    for ws in blank.worksheets:
        assert ws.protection.sheet is True, ws.title
        assert not ws.protection.password, ws.title
        if ws.title != F.SHEET_META:
            assert ws.page_setup.paperSize == 9, ws.title
            assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0, ws.title
            assert ws.sheet_properties.pageSetUpPr.fitToPage
            assert ws.print_title_rows, ws.title


def test_help_sheet_lists_every_leaf_with_its_rule(blank, scheme):  # type: ignore[no-untyped-def]
    text = "\n".join(str(v) for row in blank[F.SHEET_HELP].iter_rows(values_only=True) for v in row if v)
    for leaf in scheme.leaves():
        assert leaf.name in text
        rule = describe_rule(scheme, leaf)
        assert rule and rule in text and "按计算" not in rule and "None" not in rule
    assert "报送截止时间" in text and f"模板版本：{F.TEMPLATE_VERSION}" in text


def test_rule_descriptions_read_well():  # type: ignore[no-untyped-def]
    s = load_scheme("jianghua-2023")
    d = {n.id: describe_rule(s, n) for n in s.leaves()}
    assert d["staff_control"].startswith("在职人员控制率 = 实有在职在编人数 ÷ 核定人员编制数 × 100%。不超过100%的得满分")
    assert "每低于5个百分点扣2分" in d["budget_completion"]
    assert "大于10%且不超过20%的得3分" in d["budget_control"]
    assert "政府采购预算数为0的，得满分" in d["procurement"]
    assert "①已制定预算资金管理、财务管理等制度（3分）" in d["mgmt_system"]
    assert "优秀10分，良好8分" in d["satisfaction"]


def test_values_are_written_as_typed_and_never_as_formulas():  # type: ignore[no-untyped-def]
    s = load_scheme("jianghua-2023")
    values = {"unit_name": '=HYPERLINK("http://x","点我")', "staff_quota": 10, "budget_initial": 160.5,
              "report_date": date(2024, 4, 30), "unit_code": "012001", "contact_phone": "+86 746", "new_building": "无",
              "functions": "第一段\n第二段\x0b含控制字符", "no_such_key": "ignored"}
    rows = [{"level1": "产出指标", "name": "@SUM(A1)", "target": "≥3000", "actual": "99%", "points": 2.5}]
    wb = _open(T.build_workbook_bytes(s, values=values, tables={"perf_indicators": rows}))

    def cell(key):  # type: ignore[no-untyped-def]
        sheet, ref = L.cell_address(s, key)  # type: ignore[misc]
        return wb[sheet][ref]

    assert cell("unit_name").data_type == "s" and cell("unit_name").value.startswith("=HYPERLINK")
    assert cell("staff_quota").value == 10
    assert cell("budget_initial").value == 160.5
    assert cell("report_date").value == datetime(2024, 4, 30) and cell("report_date").is_date
    assert cell("unit_code").value == "012001"
    assert cell("functions").value.startswith("第一段\n第二段")
    ws = wb[F.SHEET_INDICATORS]
    assert ws["C4"].value == "@SUM(A1)" and ws["C4"].data_type == "s"
    assert ws["E4"].value == "≥3000" and ws["H4"].value == "99%" and ws["I4"].value == 2.5


def test_year_prefills_fiscal_year():  # type: ignore[no-untyped-def]
    s = load_scheme("jianghua-2023")
    wb = _open(T.build_workbook_bytes(s, year=2023))
    sheet, ref = L.cell_address(s, "fiscal_year")  # type: ignore[misc]
    assert wb[sheet][ref].value == 2023
    assert "2023年度" in wb[F.SHEET_HELP]["A1"].value


def test_same_input_gives_the_same_bytes(tmp_path):  # type: ignore[no-untyped-def]
    s = load_scheme("jianghua-2023")
    kw = {"values": {"unit_name": "某单位", "report_date": date(2024, 4, 30)}, "meta": {"unit_code": "1"},
          "marks": {"unit_name": ["x"]}, "problems": [problem("required", sheet="基本信息", cell="C4",
                                                                   label="单位名称", hint="单位名称")]}
    a = T.build_workbook_bytes(s, **kw)  # type: ignore[arg-type]
    b = T.build_workbook_bytes(s, **kw)  # type: ignore[arg-type]
    assert a == b
    T.write_workbook(s, tmp_path / "x.xlsx", **kw)  # type: ignore[arg-type]
    assert (tmp_path / "x.xlsx").read_bytes() == a
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize("sid", SCHEMES)
def test_committed_templates_are_up_to_date(sid):  # type: ignore[no-untyped-def]
    s = load_scheme(sid)
    path = TEMPLATES / T.template_file_name(s)
    fresh = path.exists() and path.read_bytes() == T.build_workbook_bytes(s)
    assert fresh, f"{path.relative_to(ROOT)} 已过期：运行 python scripts/make_samples.py 重新生成"


def test_template_file_names():  # type: ignore[no-untyped-def]
    assert T.template_file_name(load_scheme("jianghua-2023")) == F.TEMPLATE_FILE_NAME
    assert T.template_file_name(load_scheme("mof-2020")) == "部门整体支出绩效自评填报表_mof-2020.xlsx"


# --------------------------------------------------------------------------- returned workbooks
def test_marks_fill_and_comment_cells_and_problems_sheet_goes_first():  # type: ignore[no-untyped-def]
    s = load_scheme("jianghua-2023")
    p1 = problem("budget_identity", sheet="收支情况", cell="C13", cells=["收支情况!C13"], field="spend_basic",
                 left="1.00", right="0.00", diff="1.00")
    p2 = problem("overachieved", sheet="绩效指标", cell="H5", label="x", actual="9", target="1")
    marks = {"spend_basic": ["收支不平衡", "第二条"], "perf_indicators:2:actual": ["完成值过高"],
             "problems:1": ["整行"], "perf_indicators:35:name": ["超出预设行"], "收支情况!C5": ["按地址"],
             "no_such_key": ["忽略"], "duty_analysis": ["合并单元格"]}
    wb = _open(T.build_workbook_bytes(s, values={"spend_basic": 5}, marks=marks, problems=[p1, p2]))
    assert wb.sheetnames[0] == L.PROBLEMS_SHEET and wb.sheetnames[1:] == list(F.SHEETS)
    assert wb.active.title == L.PROBLEMS_SHEET
    ps = wb[L.PROBLEMS_SHEET]
    assert [c.value for c in ps[3]] == ["序号", "严重程度", "工作表", "单元格", "说明"]
    assert [c.value for c in ps[4]][:4] == [1, "错误", "收支情况", "C13"] and ps["E4"].value == p1.message
    assert ps["B5"].value == "提示" and ps["D4"].hyperlink is not None

    def cell(loc):  # type: ignore[no-untyped-def]
        sheet, ref = L.cell_address(s, loc)  # type: ignore[misc]
        return wb[sheet][ref]

    c = cell("spend_basic")
    assert _rgb(c) == S.MARK_FILL[1:] and c.protection.locked is False and c.value == 5
    assert "收支不平衡" in c.comment.text and "第二条" in c.comment.text
    assert _rgb(cell("perf_indicators:2:actual")) == S.MARK_FILL[1:]
    assert "完成值过高" in cell("perf_indicators:2:actual").comment.text
    assert _rgb(cell("perf_indicators:1:actual")) == S.INPUT_FILL[1:]
    assert _rgb(cell("duty_analysis")) == S.MARK_FILL[1:]
    assert _rgb(wb[F.SHEET_MONEY]["C5"]) == S.MARK_FILL[1:]
    # a marked row beyond the preset rows extends the table
    t = wb[F.SHEET_INDICATORS].tables["perf_indicators"]
    assert t.ref == "A3:K38" and _rgb(wb[F.SHEET_INDICATORS]["C38"]) == S.MARK_FILL[1:]
    # a whole-row mark: only one column in problems
    assert "整行" in cell("problems:1").comment.text
    # the input sheets still read: names intact
    assert set(inputs.field_map(s)) <= set(wb.defined_names)


def test_cell_address_of_table_locations():  # type: ignore[no-untyped-def]
    s = load_scheme("jianghua-2023")
    assert L.cell_address(s, "perf_indicators:1:level1") == ("绩效指标", "A4")
    assert L.cell_address(s, "perf_indicators:3:actual") == ("绩效指标", "H6")
    assert L.cell_address(s, "perf_indicators:3") == ("绩效指标", "A6")
    assert L.cell_address(s, "problems:1")[0] == "绩效分析"  # type: ignore[index]
    assert L.cell_address(s, "perf_indicators:0:actual") is None
    assert L.cell_address(s, "perf_indicators:1:nope") is None
    assert L.cell_address(s, "nope") is None


# --------------------------------------------------------------------------- roster
def _roster(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("名册")
    ws.write_row(0, 0, header)
    for i, r in enumerate(rows, start=1):
        ws.write_row(i, 0, r)
    wb.close()
    return path


HEADER = ["单位名称", "单位编码", "所属地区", "联系人", "联系邮箱"]


def test_roster_writes_one_prefilled_workbook_per_unit(tmp_path):  # type: ignore[no-untyped-def]
    s = load_scheme("jianghua-2023")
    roster = _roster(tmp_path / "名册.xlsx", HEADER, [
        ["江华瑶族自治县政务服务中心", 412001, "江华瑶族自治县", "李华", "zwfwzx@example.com"],
        [None, None, None, None, None],
        ["江华瑶族自治县教育局/机关", "412005", "江华瑶族自治县", "赵敏", None],
    ])
    paths = T.write_templates(s, tmp_path / "out", year=2023, units=read_roster(roster))
    assert [p.name for p in paths] == ["江华瑶族自治县政务服务中心_部门整体支出绩效自评填报表.xlsx",
                                       "江华瑶族自治县教育局机关_部门整体支出绩效自评填报表.xlsx"]
    wb = _open(paths[0].read_bytes())

    def val(key):  # type: ignore[no-untyped-def]
        sheet, ref = L.cell_address(s, key)  # type: ignore[misc]
        return wb[sheet][ref].value

    assert (val("unit_name"), val("unit_code"), val("region"), val("contact_name"), val("contact_email"),
            val("fiscal_year")) == ("江华瑶族自治县政务服务中心", "412001", "江华瑶族自治县", "李华",
                                    "zwfwzx@example.com", 2023)
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["unit_code"] == "412001"
    assert val("contact_email") is not None and _open(paths[1].read_bytes())
    assert not list((tmp_path / "out").glob(".*"))


def test_blank_template_is_written_under_its_file_name(tmp_path):  # type: ignore[no-untyped-def]
    s = load_scheme("mof-2020")
    (p,) = T.write_templates(s, tmp_path)
    assert p == tmp_path / T.template_file_name(s)
    assert p.read_bytes() == T.build_workbook_bytes(s)


@pytest.mark.parametrize(("header", "rows", "words"), [
    (["名称", "单位编码"], [["a", "1"]], ["缺少", "单位名称"]),
    (HEADER, [["甲", "1", "", "", ""], ["", "2", "县", "", ""]], ["第3行", "单位名称"]),
    (HEADER, [["甲", "1"], ["甲", "2"]], ["第3行", "第2行", "重复"]),
    (HEADER, [], ["没有任何单位"]),
])
def test_bad_roster_raises_roster_error(tmp_path, header, rows, words):  # type: ignore[no-untyped-def]
    roster = _roster(tmp_path / "名册.xlsx", header, rows)
    with pytest.raises(RosterError) as e:
        read_roster(roster)
    for w in words:
        assert w in str(e.value)
    assert "名册.xlsx" in str(e.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_roster_that_is_not_xlsx(tmp_path):  # type: ignore[no-untyped-def]
    bad = tmp_path / "名册.xlsx"
    bad.write_text("单位名称\n甲\n", encoding="utf-8")
    with pytest.raises(RosterError, match="无法读取单位名册 名册.xlsx"):
        read_roster(bad)


@pytest.mark.parametrize(("name", "safe"), [
    ("江华瑶族自治县政务服务中心", "江华瑶族自治县政务服务中心"),
    ('a/b\\c:d*e?f"g<h>i|j', "abcdefghij"),
    ("..\\..\\etc", "etc"),
    ("  .隐藏  ", "隐藏"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("a\x00b\nc\u200bd", "abcd"),
    ("", "未命名单位"),
    ("???", "未命名单位"),
    ("名" * 200, "名" * 80),
])
def test_safe_file_name(name, safe):  # type: ignore[no-untyped-def]
    assert T.safe_file_name(name) == safe


# --------------------------------------------------------------------------- other readers
def test_calamine_reads_the_workbook():  # type: ignore[no-untyped-def]
    from python_calamine import CalamineWorkbook

    s = load_scheme("jianghua-2023")
    data = T.build_workbook_bytes(s, values={"unit_name": "某单位"}, problems=[
        problem("required", sheet="基本信息", cell="C4", label="单位名称", hint="单位名称")])
    wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert wb.sheet_names == [L.PROBLEMS_SHEET, *F.SHEETS]
    sheet, ref = L.cell_address(s, "unit_name")  # type: ignore[misc]
    r, c = openpyxl.utils.cell.coordinate_to_tuple(ref)
    assert wb.get_sheet_by_name(sheet).to_python()[r - 1][c - 1] == "某单位"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) 未安装：跳过 PDF 渲染检查")
def test_libreoffice_renders_the_template_to_pdf(tmp_path):  # type: ignore[no-untyped-def]
    src = TEMPLATES / F.TEMPLATE_FILE_NAME
    xlsx = tmp_path / "template.xlsx"
    shutil.copy(src, xlsx)
    profile = (tmp_path / "lo-profile").as_uri()
    proc = subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                           "--outdir", str(tmp_path), str(xlsx)], capture_output=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp_path)})
    pdf = tmp_path / "template.pdf"
    assert proc.returncode == 0 and pdf.exists(), proc.stderr.decode(errors="replace")
    head = pdf.read_bytes()
    assert head.startswith(b"%PDF") and head.count(b"/Type /Page") + head.count(b"/Type/Page") >= 6


def test_help_sheet_describes_adjustments_and_the_total_cap():  # type: ignore[no-untyped-def]
    import dataclasses

    from toolkit.rules.types.adjust import parse_adjustments, parse_total_cap
    from toolkit.rules.yaml_safe import read_yaml

    base = load_scheme("jianghua-2023")
    raw = read_yaml("total_cap: 102\nadjustments:\n"
                    "  - {id: audit, name: 审计发现问题, kind: penalty, max: 5, "
                    "rule: {type: per_item, count: staff_actual, deduct: 1}}\n")
    problems: list[str] = []
    adj = parse_adjustments(raw, problems, {f.key for f in inputs.all_fields(base)})
    s = dataclasses.replace(base, adjustments=adj, total_cap=parse_total_cap(raw, problems))
    assert not problems
    wb = _open(T.build_workbook_bytes(s, year=2025))
    text = "\n".join(str(v) for row in wb[F.SHEET_HELP].iter_rows(values_only=True) for v in row if v)
    assert "加减分项" in text and "审计发现问题" in text
    assert "扣分项，最多扣5分：按“实有在职在编人数”计分：每出现1项扣1分，扣完为止。" in text
    assert "最低0分，最高102分" in text
    plain = _open(T.build_workbook_bytes(base, year=2025))
    assert "加减分项" not in "\n".join(str(v) for row in plain[F.SHEET_HELP].iter_rows(values_only=True) for v in row if v)


# --------------------------------------------------------------------------- 填表说明: the officer's lines
def _notice_cells(path: Path) -> dict[str, str | None]:
    ws = openpyxl.load_workbook(path)["填表说明"]
    return {str(r[0].value): r[2].value for r in ws.iter_rows()
            if r[0].value in ("报送截止时间：", "报送方式：", "联系人及电话：")}


@pytest.mark.parametrize(("args", "expected"), [
    ([], {"报送截止时间：": None, "报送方式：": None, "联系人及电话：": None}),
    (["--deadline", "2024-04-30", "--contact", "绩效股 张三 0746-1234567"],
     {"报送截止时间：": "2024年4月30日", "报送方式：": None, "联系人及电话：": "绩效股 张三 0746-1234567"}),
    (["--method", "电子邮件发送至 jxg@example.com"],
     {"报送截止时间：": None, "报送方式：": "电子邮件发送至 jxg@example.com", "联系人及电话：": None}),
])
def test_template_notice_lines(args: list[str], expected: dict[str, str | None], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from toolkit.cli import main

    r = CliRunner().invoke(main, ["template", "-o", str(tmp_path), *args])
    assert r.exit_code == 0, r.output
    (path,) = tmp_path.glob("*.xlsx")
    assert _notice_cells(path) == expected
    if not args:  # the default template is byte-identical to the committed one
        assert path.read_bytes() == (Path(__file__).parents[1] / "workbook_templates" / path.name).read_bytes()


def test_template_bad_deadline_is_chinese(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from toolkit.cli import main

    r = CliRunner().invoke(main, ["template", "-o", str(tmp_path), "--deadline", "4月30日"], prog_name="jixiao")
    assert (r.exit_code, r.stderr.splitlines()[-1]) == (
        2, "错误：'--deadline' 的值无效：“4月30日”格式不对，应为 '%Y-%m-%d'。")
