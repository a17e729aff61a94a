"""Reading workbooks by defined name and table name, whoever saved them."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests import builders as B
from toolkit import fields as F
from toolkit.check import validate
from toolkit.read import workbook
from toolkit.read.clean import FormulaError
from toolkit.read.package import IntakeError
from toolkit.read.workbook import read_workbook
from toolkit.rules import inputs
from toolkit.text.address import split_address


@pytest.fixture(scope="module")
def seed_book(tmp_path_factory) -> Path:
    return B.build(tmp_path_factory.mktemp("seed") / "seed.xlsx")


@pytest.fixture(scope="module")
def seed_check(seed_book):
    return validate.check_file(seed_book, "seed.xlsx")


def same_reading(a: validate.FileCheck, b: validate.FileCheck) -> None:
    """Two checks read identical values and table rows (addresses may differ)."""
    assert a.submission is not None and b.submission is not None
    assert b.submission.values == a.submission.values
    for name in a.submission.tables:
        assert [r.values for r in b.submission.tables[name]] == [r.values for r in a.submission.tables[name]], name
    assert [p.code for p in b.problems] == [p.code for p in a.problems]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- reading the template
def test_reads_values_by_defined_name(seed_book):
    raw = read_workbook(seed_book, "seed.xlsx")
    assert raw.meta == {"template_id": F.TEMPLATE_ID, "template_version": 1, "scheme_id": "jianghua-2023", "form": "dept"}
    assert raw.values["unit_name"] == "江华瑶族自治县政务服务中心"
    assert raw.values["spend_basic"] == pytest.approx(169.92)
    assert raw.values["chk_disclosure_3"] == "是"
    assert raw.values["satisfaction_rate"] is None  # blank cells read as None
    assert raw.addresses["unit_name"].startswith("基本信息!")
    assert not raw.problems and not raw.broken
    # every field of the scheme has a cell
    from toolkit.rules.loader import load_scheme
    assert {f.key for f in inputs.all_fields(load_scheme("jianghua-2023"))} <= set(raw.addresses)


def test_reads_tables_with_all_rows(seed_book):
    raw = read_workbook(seed_book, "seed.xlsx")
    t = raw.tables["perf_indicators"]
    assert t.sheet == F.SHEET_INDICATORS and t.located_by == "table"
    assert len(t.rows) == F.PERF_INDICATORS.rows  # blank rows kept
    assert list(t.columns) == [c.key for c in F.PERF_INDICATORS.columns]
    rows = t.nonblank_rows()
    assert len(rows) == 8
    index, excel_row, vals = rows[2]
    assert index == 3 and excel_row == t.header_row + 3
    assert vals["name"] == "审批时间" and vals["direction"] == "区间"
    assert t.address(excel_row, "actual") == f"{F.SHEET_INDICATORS}!{t.columns['actual']}{excel_row}"
    assert [v["problems"] for _, _, v in raw.tables["problems"].nonblank_rows()][1] == "人员严重缺编与工作任务繁重矛盾日益突出。"
    assert len(raw.tables["plans"].nonblank_rows()) == 2


def test_logical_location(seed_book):
    raw = read_workbook(seed_book, "seed.xlsx")
    assert raw.logical_location(raw.addresses["spend_basic"]) == "spend_basic"
    sheet, cell = raw.addresses["spend_basic"].split("!")
    assert raw.logical_location(f"'{sheet}'!${cell[0]}${cell[1:]}") == "spend_basic"
    t = raw.tables["perf_indicators"]
    assert raw.logical_location(t.address(t.header_row + 3, "actual")) == "perf_indicators:3:actual"
    assert raw.logical_location(t.address(t.header_row + 30, "points")) == "perf_indicators:30:points"
    p = raw.tables["plans"]
    assert raw.logical_location(p.address(p.header_row + 1, "plans")) == "plans:1:plans"
    assert raw.logical_location(f"{F.SHEET_HELP}!A1") is None
    assert raw.logical_location("not an address") is None


def test_formula_errors_are_read_as_errors(tmp_path):
    p = B.build(tmp_path / "err.xlsx", errors={"spend_project": "#DIV/0!", "staff_quota": "#REF!"})
    raw = read_workbook(p, "err.xlsx")
    assert raw.values["spend_project"] == FormulaError("#DIV/0!")
    assert isinstance(raw.values["staff_quota"], FormulaError)


@pytest.mark.parametrize("state", ["hidden", "visible"])
def test_meta_sheet_hidden_or_visible(tmp_path, seed_book, state):
    p = B.rewrite(seed_book, {"xl/workbook.xml": lambda b: b.replace(b'state="veryHidden"', f'state="{state}"'.encode())},
                  out=tmp_path / f"{state}.xlsx")
    assert read_workbook(p).meta["template_id"] == F.TEMPLATE_ID


def test_no_meta_is_not_our_template(tmp_path, seed_book):
    p = B.delete_sheet(shutil.copy(seed_book, tmp_path / "x.xlsx"), F.SHEET_META)
    with pytest.raises(IntakeError) as e:
        read_workbook(p)
    assert e.value.problem.code == "not_template" and "jixiao template" in e.value.problem.message


def test_other_workbook_is_not_our_template(tmp_path):
    import xlsxwriter

    p = tmp_path / "别的表.xlsx"
    wb = xlsxwriter.Workbook(str(p))
    wb.add_worksheet("Sheet1").write("A1", "单位名称")
    wb.close()
    check = validate.check_file(p, p.name)
    assert check.status == "unreadable" and check.problems[0].code == "not_template"
    assert "填报表" in check.problems[0].message


def test_wrong_template_id(tmp_path, seed_book):
    p = B.set_meta(shutil.copy(seed_book, tmp_path / "x.xlsx"), template_id="other-template")
    check = validate.check_file(p, "x.xlsx")
    assert check.status == "unreadable" and check.problems[0].code == "not_template"
    assert "other-template" in check.problems[0].message


@pytest.mark.parametrize("version", [2, 99, 0, "abc"])
def test_newer_or_unknown_version_rejected(tmp_path, seed_book, version):
    p = B.set_meta(shutil.copy(seed_book, tmp_path / "x.xlsx"), template_version=version)
    check = validate.check_file(p, "x.xlsx")
    assert check.status == "unreadable"
    assert check.problems[0].code == "template_version"
    assert str(version) in check.problems[0].message and "版本 1" in check.problems[0].message


def test_old_known_version_is_migrated(tmp_path, seed_book, monkeypatch):
    p = B.set_meta(shutil.copy(seed_book, tmp_path / "x.xlsx"), template_version=0)
    calls = []

    def migrate(raw):
        calls.append(raw.meta["template_version"])
        return raw

    monkeypatch.setattr(F, "KNOWN_OLD_VERSIONS", (0,))
    monkeypatch.setitem(workbook.MIGRATIONS, 0, migrate)
    raw = read_workbook(p)
    assert calls == [0] and raw.values["unit_name"] == "江华瑶族自治县政务服务中心"


# --------------------------------------------------------------------------- robustness to editing
def test_filled_purely_through_names_with_openpyxl(tmp_path, seed_check):
    """The contract: any tool that writes by defined name and table name is read correctly."""
    template = B.blank_template(tmp_path / "template.xlsx")
    values, tables = B.seed_inputs()
    out = B.fill_with_openpyxl(template, tmp_path / "filled.xlsx", values, tables)
    check = validate.check_file(out, "filled.xlsx")
    assert check.status == "ok", [p.message for p in check.problems]
    same_reading(seed_check, check)


def test_inputs_at_other_cells(tmp_path, seed_check):
    values, tables = B.seed_inputs()
    p = B.write_shifted(tmp_path / "shifted.xlsx", values, tables, rows=7, cols=3)
    check = validate.check_file(p, "shifted.xlsx")
    assert check.raw is not None
    assert check.raw.addresses["spend_basic"] != seed_check.raw.addresses["spend_basic"]
    assert check.status == "ok", [p.message for p in check.problems]
    same_reading(seed_check, check)


def test_table_parts_dropped_fall_back_to_header_row(tmp_path, seed_book, seed_check):
    p = B.drop_table_parts(shutil.copy(seed_book, tmp_path / "x.xlsx"))
    check = validate.check_file(p, "x.xlsx")
    assert check.raw is not None
    assert {t.located_by for t in check.raw.tables.values()} == {"header"}
    assert check.status == "ok", [p.message for p in check.problems]
    same_reading(seed_check, check)
    t = check.raw.tables["perf_indicators"]
    assert check.raw.logical_location(t.address(t.header_row + 2, "name")) == "perf_indicators:2:name"


def test_rows_typed_below_a_table_are_read(tmp_path, seed_book):
    from openpyxl import load_workbook

    raw0 = read_workbook(seed_book)
    t = raw0.tables["perf_indicators"]
    last = t.rows[-1][0]
    wb = load_workbook(seed_book)
    ws = wb[t.sheet]
    row = ["产出指标", "数量指标", "追加指标", "≥", "1", None, "个", "1", "0"]
    for key, v in zip([c.key for c in F.PERF_INDICATORS.columns], row, strict=False):
        ws[f"{t.columns[key]}{last + 1}"] = v
    out = tmp_path / "below.xlsx"
    wb.save(out)
    raw = read_workbook(out)
    rows = raw.tables["perf_indicators"].nonblank_rows()
    assert rows[-1][0] == len(t.rows) + 1 and rows[-1][2]["name"] == "追加指标"


def test_renamed_sheet_does_not_matter(tmp_path, seed_book, seed_check):
    p = B.rename_sheet(shutil.copy(seed_book, tmp_path / "x.xlsx"), F.SHEET_MONEY, "收支")
    check = validate.check_file(p, "x.xlsx")
    assert check.status == "ok", [p.message for p in check.problems]
    assert check.submission is not None and check.submission.cells["spend_basic"].startswith("收支!")
    same_reading(seed_check, check)


def test_reading_leaves_the_file_untouched(tmp_path, seed_book):
    p = shutil.copy(seed_book, tmp_path / "x.xlsx")
    before, mtime = sha(p), p.stat().st_mtime_ns
    validate.check_file(p, "x.xlsx")
    assert sha(p) == before and p.stat().st_mtime_ns == mtime
    assert sorted(x.name for x in tmp_path.iterdir()) == ["x.xlsx"]  # no lock or temp files
    # the file can be renamed right after (not locked)
    p.rename(tmp_path / "y.xlsx")


def test_read_speed(seed_book):
    """A template-sized workbook reads and validates in a few ms (the budget is 15 ms per workbook)."""
    from toolkit.rules.loader import load_scheme

    scheme = load_scheme("jianghua-2023")
    validate.check_file(seed_book, "x", scheme)
    n = 20
    t = time.perf_counter()
    for _ in range(n):
        validate.check_file(seed_book, "x", scheme)
    per = (time.perf_counter() - t) / n
    assert per < 0.05, f"{per * 1000:.1f} ms per workbook"


# --------------------------------------------------------------------------- LibreOffice
def _uno_or_skip() -> None:
    if not B.soffice():
        pytest.skip("LibreOffice (soffice) is not installed")
    if not B._uno_python():
        pytest.skip("LibreOffice's Python UNO bridge is not available")


@pytest.fixture(scope="module")
def libreoffice_books(tmp_path_factory, seed_book):
    """The seed workbook re-saved by LibreOffice, and edited with rows/columns inserted."""
    _uno_or_skip()
    d = tmp_path_factory.mktemp("lo")
    src = shutil.copy(seed_book, d / "src.xlsx")
    jobs = {
        "resaved": ("", 0, 0, 0, 0),
        "money_rows_cols": (F.SHEET_MONEY, 3, 2, 0, 1),  # 2 rows above the inputs, a column before
        "basic_rows": (F.SHEET_BASIC, 1, 3, 0, 0),
        "indicators_rows_cols": (F.SHEET_INDICATORS, 1, 2, 0, 1),  # above the table header
        "analysis_rows": (F.SHEET_ANALYSIS, 2, 1, 0, 1),
        "scoring_rows": (F.SHEET_SCORING, 5, 1, 0, 0),
    }
    B.libreoffice_edit([(src, d / f"{name}.xlsx", *job) for name, job in jobs.items()])
    return {name: d / f"{name}.xlsx" for name in jobs}, sha(src), src


@pytest.mark.parametrize("name", ["resaved", "money_rows_cols", "basic_rows", "indicators_rows_cols",
                                  "analysis_rows", "scoring_rows"])
def test_libreoffice_saved_workbooks_read_identically(libreoffice_books, seed_check, name):
    books, _, _ = libreoffice_books
    check = validate.check_file(books[name], f"{name}.xlsx")
    assert check.status == "ok", [p.message for p in check.problems]
    same_reading(seed_check, check)
    if name == "money_rows_cols":
        assert check.raw is not None and seed_check.raw is not None
        a, b = seed_check.raw.addresses["spend_basic"], check.raw.addresses["spend_basic"]
        assert a != b
        ra, rb = (int(re.sub(r"\D", "", x.split("!")[1])) for x in (a, b))
        assert rb == ra + 2 and b.split("!")[1][0] == "D"


def test_libreoffice_did_not_touch_the_source(libreoffice_books):
    _, digest, src = libreoffice_books
    assert sha(src) == digest


def test_libreoffice_convert_to_xlsx(tmp_path, seed_book, seed_check):
    if not B.soffice():
        pytest.skip("LibreOffice (soffice) is not installed")
    src = shutil.copy(seed_book, tmp_path / "src.xlsx")
    out = B.libreoffice_convert(src, tmp_path / "out")
    check = validate.check_file(out, "out.xlsx")
    assert check.status == "ok", [p.message for p in check.problems]
    same_reading(seed_check, check)
    assert check.raw is not None and check.raw.meta["template_version"] == 1
    # LibreOffice stores the very hidden _meta as hidden; the reader does not mind
    assert b'state="hidden"' in B.read_part(out, "xl/workbook.xml")


def test_values_read_are_exact(seed_check):
    sub = seed_check.submission
    assert sub.values["budget_added"] == D("9.92") and sub.values["income_fiscal"] == D("169.92")


# --------------------------------------------------------------------------- number formats, errors, 1904
from datetime import date  # noqa: E402

from toolkit.read import cells as RC  # noqa: E402


@pytest.mark.parametrize("code, kind", [
    ("0%", "percent"), ("0.00%", "percent"), ("#,##0.0%", "percent"), ("[Red]0.0%;[Blue]-0.0%", "percent"),
    ('0.0"%"', "number"),  # a quoted % is a literal sign: the number is shown as typed
    ("0.0\\%", "number"), ("General", "number"), ("0.00", "number"), ("#,##0.00_);(#,##0.00)", "number"),
    ("yyyy-mm-dd", "date"), ('yyyy"年"m"月"d"日"', "date"), ("[$-804]aaaa", "date"), ("h:mm", "date"),
    ("[h]:mm:ss", "duration"), ("@", "number"),
])
def test_format_kind(code, kind):
    assert RC.format_kind(code) == kind


@pytest.mark.parametrize("num_fmt_id, kind", [(9, "percent"), (10, "percent"), (14, "date"), (31, "date"),
                                              (57, "date"), (0, "number"), (2, "number"), (49, "number")])
def test_builtin_format_kind(num_fmt_id, kind):
    assert RC.builtin_kind(num_fmt_id) == kind


@pytest.mark.parametrize("value, text", [(0.98, "98%"), (0.0525, "5.25%"), (1.0, "100%"), (0.1 + 0.2, "30.000000000000004%"),
                                         (-0.5, "-50%"), (0.0, "0%"), (1e-7, "0.00001%"), (12.345, "1234.5%")])
def test_percent_text_is_exact(value, text):
    assert RC.percent_text(value) == text


@pytest.mark.parametrize("fmt, value, read", [
    ("0%", 0.98, "98%"), ("0.00%", 0.0525, "5.25%"), ("0.0%", 0.985, "98.5%"), ("[Red]0%", 0.5, "50%"),
    ('0.0"%"', 98.5, 98.5), ("General", 0.98, 0.98), ("0.00", 0.98, 0.98),
])
def test_percent_formatted_table_cells_read_as_shown(tmp_path, seed_book, fmt, value, read):
    """0.98 shown as 98% reaches normalize as "98%" (issue 10.5), via openpyxl's save of the template."""
    from openpyxl import load_workbook

    raw0 = read_workbook(seed_book)
    t0 = raw0.tables["perf_indicators"]
    r = t0.rows[0][0]
    wb = load_workbook(seed_book)
    ws = wb[t0.sheet]
    for key in ("target", "actual"):
        c = ws[f"{t0.columns[key]}{r}"]
        c.value, c.number_format = value, fmt
    out = tmp_path / "pct.xlsx"
    wb.save(out)
    t = read_workbook(out).tables["perf_indicators"]
    assert t.rows[0][1]["target"] == read and t.rows[0][1]["actual"] == read


def test_percent_formatted_named_cell_with_xlsxwriter_builtin_id(tmp_path, seed_book):
    """A cell styled with built-in numFmtId 10 (0.00%), as XlsxWriter writes it, through the real template."""
    raw0 = read_workbook(seed_book)
    sheet, cell = split_address(raw0.addresses["staff_actual"]) or ("", "")

    def styles(b: bytes) -> bytes:
        m = re.search(rb'<cellXfs count="(\d+)">', b)
        assert m
        n = int(m.group(1))
        b = b.replace(m.group(0), b'<cellXfs count="%d">' % (n + 1))
        return b.replace(b"</cellXfs>", b'<xf numFmtId="10" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/>'
                         b"</cellXfs>"), n

    new_styles, index = styles(B.read_part(seed_book, "xl/styles.xml"))

    def sheet_edit(b: bytes) -> bytes:
        new = f'<c r="{cell}" s="{index}"><v>0.0525</v></c>'.encode()
        return re.sub(rb'<c r="%s"(?: [^>]*)?(?:/>|>.*?</c>)' % cell.encode(), new, b, count=1, flags=re.S)
    p = B.rewrite(seed_book, {"xl/styles.xml": lambda b: new_styles, B.sheet_part(seed_book, sheet): sheet_edit},
                  out=tmp_path / "pct10.xlsx")
    assert read_workbook(p).values["staff_actual"] == "5.25%"


@pytest.mark.parametrize("err", ["#DIV/0!", "#REF!", "#N/A", "#VALUE!"])
def test_formula_errors_in_table_cells_after_empty_styled_cells(tmp_path, seed_book, err):
    """Issue 10.12a: an error preceded by empty styled cells (t="e") reaches the validator as an error."""
    raw0 = read_workbook(seed_book)
    t0 = raw0.tables["perf_indicators"]
    r = t0.rows[0][0]
    part = B.sheet_part(seed_book, t0.sheet)
    cols = [t0.columns[k] for k in ("target", "actual", "points")]

    def edit(b: bytes) -> bytes:
        for col in cols:
            new = f'<c r="{col}{r}" s="1"/><c r="{col}{r}" t="e" s="2"><f>1/0</f><v>{err}</v></c>'.encode()
            b, n = re.subn(rb'<c r="%s%d"(?: [^>]*)?(?:/>|>.*?</c>)' % (col.encode(), r), new, b, count=1, flags=re.S)
            assert n == 1
        return b
    p = B.rewrite(seed_book, {part: edit}, out=tmp_path / "err.xlsx")
    row = read_workbook(p).tables["perf_indicators"].rows[0][1]
    assert [row[k] for k in ("target", "actual", "points")] == [FormulaError(err)] * 3
    c = validate.check_file(p, "err.xlsx")
    assert sum(p.code == "formula_error" for p in c.problems) >= 1


@pytest.mark.parametrize("fmt, value", [("yyyy-mm-dd", date(2024, 4, 30)), ("General", 43950), ("0", 43950)])
def test_1904_date_system(tmp_path, seed_book, fmt, value):
    """Issue 10.12b: a 1904 workbook's dates, date-formatted or General (serial 43950 = 2024-04-30 in 1904)."""
    from openpyxl import load_workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    wb = load_workbook(seed_book)
    wb.epoch = CALENDAR_MAC_1904
    sheet, cell = split_address(read_workbook(seed_book).addresses["report_date"]) or ("", "")
    c = wb[sheet][cell]
    c.value, c.number_format = value, fmt
    out = tmp_path / "1904.xlsx"
    wb.save(out)
    assert b'date1904="1"' in B.read_part(out, "xl/workbook.xml")
    check = validate.check_file(out, "1904.xlsx")
    assert check.submission is not None and check.submission.values["report_date"] == date(2024, 4, 30)


@pytest.mark.parametrize("escaped, text", [("a_x000A_b", "a\nb"), ("_x005F_x000A_", "_x000A_"), ("x_x0009_", "x\t"),
                                           ("no escape", "no escape"), ("_x00e9_", "é"), ("_xZZZZ_", "_xZZZZ_")])
def test_xstring_escapes_are_decoded(escaped, text):
    assert RC.decode_xstring(escaped) == text


def test_table_header_with_escaped_line_break(tmp_path, seed_book):
    """Issue 10.12c: a header typed with Alt+Enter is saved as 三级_x000A_指标 in the table part."""
    edit = {"xl/tables/table1.xml": lambda b: b.replace("三级指标".encode(), "三级_x000A_指标".encode())}
    p = B.rewrite(seed_book, edit, out=tmp_path / "hdr.xlsx")
    t = read_workbook(p).tables["perf_indicators"]
    assert t.missing_columns == () and "name" in t.columns



# --------------------------------------------------------------------------- special files
posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero: POSIX only")


@posix_only
def test_reading_a_fifo_or_device_does_not_block(tmp_path):
    fifo = tmp_path / "管道.xlsx"
    os.mkfifo(fifo)
    for p in (fifo, Path("/dev/zero")):
        t = time.perf_counter()
        with pytest.raises(IntakeError) as e:
            read_workbook(p)
        assert time.perf_counter() - t < 2 and "不是普通文件" in e.value.problem.message
