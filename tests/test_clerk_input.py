"""What clerks type → what `check --json` says, through the real template (issue 10 items 6–11,
issue 11 items 2, 6 and 14).

Workbooks are built by the template writer (tests/builders.py), read by the real reader, and
checked by `jixiao check --json`; tables of cases that only vary one value re-validate the read
workbook with that value replaced (same code path after the reader, much faster).
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from tests import builders as B
from toolkit import fields as F
from toolkit.check import validate
from toolkit.cli import main
from toolkit.deliver import mail
from toolkit.fields import problem_sort_key
from toolkit.forms import returned
from toolkit.forms.layout import cell_address
from toolkit.forms.template import build_workbook_bytes
from toolkit.problems import CATALOGUE, Problem, problem
from toolkit.read import workbook
from toolkit.rules import inputs, scoring
from toolkit.rules.loader import builtin_ids, load_scheme
from toolkit.text import emails

SCHEMES = sorted(builtin_ids("dept"))
CONSISTENCY = {"budget_identity", "budget_income_mismatch"}  # depend on the numbers, not on a blank


# --------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def seed_raw(tmp_path_factory) -> dict[str, workbook.RawWorkbook]:
    """The reference unit, built and read once per scheme."""
    d = tmp_path_factory.mktemp("seed")
    out = {}
    for sid in SCHEMES:
        p = B.build(d / f"{sid}.xlsx", scheme=sid)
        out[sid] = workbook.read_workbook(p, p.name)
    return out


def revalidate(raw: workbook.RawWorkbook, sid: str = "jianghua-2023", **values: Any) -> tuple[Problem, ...]:
    """Problems (validation + scoring) of the read workbook with some raw values replaced."""
    r = dataclasses.replace(raw, values={**raw.values, **values})
    scheme = load_scheme(sid)
    sub = validate.validate(r, scheme, "x.xlsx")
    return sub.problems + scoring.score(scheme, sub).problems


def check_json(tmp_path: Path, cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Build one workbook per case, run `jixiao check --json` over all of them: file stem → unit."""
    paths = [str(B.build(tmp_path / f"{name}.xlsx", {"unit_name": f"测试单位{i}", "unit_code": f"9{i:05d}", **values}))
             for i, (name, values) in enumerate(cases.items())]  # distinct units: no duplicate_unit
    res = CliRunner().invoke(main, ["check", "--json", *paths])
    assert res.exit_code in (0, 1), res.output
    return {Path(u["file"]).stem: u for u in json.loads(res.output)["units"]}


def errors(unit: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(p["code"], p["field"]) for p in unit["problems"] if p["severity"] == "error"]


def label_texts(sid: str) -> dict[str, str]:
    """Field key → the text of its label cell in the real generated template (column B of its row)."""
    wb = openpyxl.load_workbook(io.BytesIO(build_workbook_bytes(load_scheme(sid))))
    out = {}
    for name, dn in wb.defined_names.items():
        for sheet, ref in dn.destinations:
            row = openpyxl.utils.cell.coordinate_from_string(ref.replace("$", ""))[1]
            out[name] = str(wb[sheet].cell(row, 2).value or "")
    return out


# --------------------------------------------------------------------------- 10.6: * = required
@pytest.mark.parametrize("sid", SCHEMES)
def test_blank_is_an_error_iff_the_template_shows_a_star(sid, seed_raw):
    scheme = load_scheme(sid)
    labels = label_texts(sid)
    _, _, first_given = inputs.rule_inputs(scheme)
    either_or = {inp for _, opts in first_given for inp, _ in opts}
    base = {(p.code, p.field) for p in revalidate(seed_raw[sid], sid) if p.severity == "error"}
    checked = 0
    for f in inputs.all_fields(scheme):
        if f.required_when or f.key in either_or or f.key not in seed_raw[sid].addresses:
            continue
        if any(field == f.key for _, field in base):  # blank in the seed (an input the Jianghua seed lacks)
            assert labels[f.key].startswith("*") and f.required, f.key
            continue
        probs = revalidate(seed_raw[sid], sid, **{f.key: None})
        errs = [p for p in probs if p.severity == "error" and p.code not in CONSISTENCY
                and (p.code, p.field) not in base]
        starred = labels[f.key].startswith("*")
        assert starred == bool(errs), (f.key, labels[f.key], [p.message for p in errs])
        assert starred == f.required
        if errs:
            assert [p.code for p in errs] in (["required"], ["tier_missing"]) and errs[0].field == f.key, f.key
        checked += 1
    assert checked > 30


@pytest.mark.parametrize("sid", SCHEMES)
def test_every_money_cell_is_starred_or_says_blank_is_zero(sid):
    wb = openpyxl.load_workbook(io.BytesIO(build_workbook_bytes(load_scheme(sid))))
    ws = wb[F.SHEET_MONEY]
    fmap = inputs.field_map(load_scheme(sid))
    for f in F.MONEY_FIELDS:
        if f.kind not in ("money", "money_signed") or f.required_when:
            continue
        eff = fmap[f.key]
        assert eff.required != eff.blank_is_zero, f.key
        row = next(r for r in range(1, ws.max_row + 1) if str(ws.cell(r, 2).value or "").endswith(
            f"{f.label}（万元）"))
        hint = str(ws.cell(row, 4).value or "")
        assert ("没有的填 0 或留空" in hint) == eff.blank_is_zero, (f.key, hint)


@pytest.mark.parametrize("flag, blank_errors", [("有", True), ("无", False)])
def test_building_cells_required_only_when_building(flag, blank_errors, seed_raw):
    keys = [f.key for f in F.MONEY_FIELDS if f.required_when]
    probs = revalidate(seed_raw["jianghua-2023"], new_building=flag, **dict.fromkeys(keys))
    req = sorted(str(p.field) for p in probs if p.code == "required")
    assert req == (sorted(keys) if blank_errors else [])


@pytest.mark.parametrize("satisfaction, grade, error", [
    (None, "优秀", False), ("95%", None, False), (None, None, True)])
def test_either_or_inputs(satisfaction, grade, error, seed_raw):
    probs = revalidate(seed_raw["jianghua-2023"], satisfaction_rate=satisfaction, assessment_grade=grade)
    assert [p.code for p in probs if p.severity == "error"] == (["first_given_blank"] if error else [])


# --------------------------------------------------------------------------- 10.7: e-mail
@pytest.mark.parametrize("typed, good, bad", [
    ("a@example.com", ["a@example.com"], []),
    ("a@example.com; b@example.com", ["a@example.com", "b@example.com"], []),
    ("a@example.com；b@example.com，c@x.cn、d@x.cn", ["a@example.com", "b@example.com", "c@x.cn", "d@x.cn"], []),
    ("a@example.com\nb@example.com", ["a@example.com", "b@example.com"], []),
    ("a@example.com b@example.com", ["a@example.com", "b@example.com"], []),
    ("zwfwzx＠example．com", ["zwfwzx@example.com"], []),
    ("mailto:a@example.com", ["a@example.com"], []),
    ("a..b@x.cn", [], ["a..b@x.cn"]),
    (".a@x.cn", [], [".a@x.cn"]),
    ("a.@x.cn", [], ["a.@x.cn"]),
    ("a@x..cn", [], ["a@x..cn"]),
    ("a@-x.cn", [], ["a@-x.cn"]),
    ("a@x", [], ["a@x"]),
    ("张三@x.cn", [], ["张三@x.cn"]),
    ("a@example.com; 无", ["a@example.com"], ["无"]),
    ("", [], []),
])
def test_email_rule(typed, good, bad):
    parsed = emails.parse(typed)
    assert list(parsed.good) == good and list(parsed.bad) == bad
    assert emails.addresses(typed) == good
    # mail's single-address check is the same rule
    for a in good:
        assert mail.valid_address(a) == a
    for b in bad:
        assert mail.valid_address(b) is None


def test_email_problems_are_warnings_in_check_json(tmp_path):
    units = check_json(tmp_path, {
        "two": {"contact_email": "a@example.com; b@example.com"},
        "dots": {"contact_email": "a..b@x.cn"},
        "blank": {"contact_email": B.DROP},
    })
    mine = {n: [p for p in u["problems"] if p["field"] == "contact_email"] for n, u in units.items()}
    assert units["two"]["status"] == "ok" and mine["two"] == []
    assert units["two"]["contact_email"] == "a@example.com; b@example.com"
    for name, code in (("dots", "bad_email"), ("blank", "email_missing")):
        assert units[name]["status"] == "ok"
        [p] = mine[name]
        assert (p["code"], p["severity"], p["field"]) == (code, "warning", "contact_email")
        assert p["sheet"] == F.SHEET_BASIC and p["cell"]
    assert "a..b@x.cn" in mine["dots"][0]["message"]


# --------------------------------------------------------------------------- 10.8: clerk input
SEED = B.seed_inputs()[0]
CLERK_CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, str]]]] = [
    # name, typed, read back (values in results), errors (code, field)
    ("wan", {"income_fiscal": f"{SEED['income_fiscal']}万", "spend_basic": f"{SEED['spend_basic']} 万元"}, {}, []),
    ("year", {"fiscal_year": "2023年"}, {"fiscal_year": 2023}, []),
    ("year_du", {"fiscal_year": "２０２３年度"}, {"fiscal_year": 2023}, []),
    ("acct_neg", {"budget_added": "(10.00)"}, {}, []),
    ("acct_neg_fw", {"budget_added": "（10.00）"}, {}, []),
    ("acct_unsigned", {"public_actual": "(10.00)"}, {}, [("negative", "public_actual")]),
    ("yuan", {"public_actual": "30,000元"}, {}, [("money_in_yuan", "public_actual")]),
    ("yuan2", {"public_budget": "3万元"}, {}, []),
    ("people", {"staff_actual": "12人"}, {}, []),
]


def test_clerk_input_in_check_json(tmp_path):
    units = check_json(tmp_path, {name: typed for name, typed, _, _ in CLERK_CASES})
    for name, _, read, errs in CLERK_CASES:
        u = units[name]
        assert errors(u) == errs, (name, u["problems"])
        for k, v in read.items():
            assert u[k] == v, name


def test_clerk_values_read(seed_raw):
    raw = seed_raw["jianghua-2023"]
    scheme = load_scheme("jianghua-2023")
    for typed, key, expected in [("3万", "public_budget", D("3.00")), ("(10.00)", "budget_added", D("-10.00")),
                                 ("（10.00）", "budget_added", D("-10.00")), ("2023年", "fiscal_year", 2023)]:
        sub = validate.validate(dataclasses.replace(raw, values={**raw.values, key: typed}), scheme, "x")
        assert sub.values[key] == expected, typed


def test_yuan_message_gives_the_wan_value(seed_raw):
    [p] = [p for p in revalidate(seed_raw["jianghua-2023"], public_actual="30,000元") if p.severity == "error"]
    assert "万元" in p.message and "即 3" in p.message and p.cell


# --------------------------------------------------------------------------- 10.9: warnings
@pytest.mark.parametrize("values, meta_year, code", [
    ({"fiscal_year": 2022}, 2023, "year_mismatch"),
    ({"fiscal_year": 2023}, 2023, None),
    ({"fiscal_year": 2022}, None, None),
    ({"internal_unit_count": 2, "internal_units": "办公室、财务股、业务股、法规股和综合股"}, None, "unit_count_mismatch"),
    ({"internal_unit_count": 5, "internal_units": "办公室、财务股、业务股、法规股和综合股"}, None, None),
    ({"internal_unit_count": 2, "internal_units": "办公室和业务指导股"}, None, None),
    ({"functions": "履行职能。" * 1800}, None, "text_too_long"),
    ({"functions": "履行职能。" * 200}, None, None),
    # pasted from a PDF: hard breaks mid-sentence are joined in the report, and the clerk is told
    ({"functions": "负责全县政务服务的统筹协调和\n监督管理工作，推进审批制度\n改革。"}, None, "line_break_mid_sentence"),
    ({"functions": "一、负责统筹协调。\n二、负责监督管理：\n1.审批改革；\n2.信息公开。"}, None, None),
])
def test_suspicious_values_are_warnings(tmp_path, values, meta_year, code):
    p = B.build(tmp_path / "w.xlsx", values, meta={"fiscal_year": meta_year} if meta_year else None)
    c = validate.check_file(p, "w.xlsx")
    warn = [x for x in c.problems if x.severity == "warning"]
    assert c.status == "ok", [x.message for x in c.problems]
    assert [x.code for x in warn] == ([code] if code else [])
    if code:
        assert warn[0].cell and warn[0].sheet == F.SHEET_BASIC and "（请" in warn[0].message


def test_template_year_goes_to_meta(tmp_path):
    wb = openpyxl.load_workbook(io.BytesIO(build_workbook_bytes(load_scheme("jianghua-2023"), year=2023)))
    meta = {r[0].value: r[1].value for r in wb[F.SHEET_META].iter_rows()}
    assert meta["fiscal_year"] == 2023


# --------------------------------------------------------------------------- 10.10: cascades, order
def test_no_zero_denominator_from_blank_inputs(tmp_path):
    p = B.delete_sheet(B.build(tmp_path / "x.xlsx"), F.SHEET_MONEY)
    c = validate.check_file(p, "x.xlsx")
    assert c.submission is not None
    probs = scoring.score(c.scheme, c.submission).problems
    assert "zero_denominator" not in [x.code for x in probs]
    units = check_json(tmp_path, {"quota": {"staff_quota": B.DROP, "staff_actual": B.DROP}})
    assert errors(units["quota"]) == [("required", "staff_quota"), ("required", "staff_actual")]
    assert "zero_denominator" not in [x["code"] for x in units["quota"]["problems"]]


def test_problems_in_sheet_row_column_order(tmp_path):
    rows = [dict(r) for r in B.seed_inputs()[1]["perf_indicators"]]
    rows[2]["points"] = "x"
    p = B.build(tmp_path / "many.xlsx", {
        "duty_analysis": B.DROP, "income_fiscal": "x", "unit_name": B.DROP, "chk_mgmt_system_1": "maybe",
        "report_date": "soon", "spend_basic": "y", "contact_email": "a..b@x.cn"}, {"perf_indicators": rows})
    probs = list(validate.check_file(p, "many.xlsx").problems)
    assert [x.sheet for x in probs] == sorted((x.sheet for x in probs), key=lambda s: F.SHEETS.index(str(s)))
    assert probs == sorted(probs, key=problem_sort_key)
    assert len({x.sheet for x in probs}) >= 4


@pytest.mark.parametrize("cells, expected", [
    (("评分表!D5",), (1, 4, 5, 4)), (("基本信息!C12",), (1, 2, 12, 3)), (("基本信息!AA2",), (1, 2, 2, 27)),
    ((), (0, 0, 0, 0))])
def test_problem_sort_key(cells, expected):
    sheet, cell = cells[0].split("!") if cells else (None, None)
    assert problem_sort_key(problem("required", sheet=sheet, cell=cell, cells=cells, label="x", hint="")) == expected


# --------------------------------------------------------------------------- 10.11: re-rendered text
def test_relocated_problem_renders_its_new_cells(tmp_path):
    """A clerk inserted rows: the returned workbook names the regenerated cells in the words too."""
    scheme = load_scheme("jianghua-2023")
    p = B.build(tmp_path / "x.xlsx", {"functions": "第一段。", "duty_analysis": "写了。"})
    raw = workbook.read_workbook(p, "x.xlsx")
    where = cell_address(scheme, "duty_analysis")
    assert where is not None
    sheet, cell = where
    col, row = cell.rstrip("0123456789"), int(cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    old = [f"{sheet}!{col}{row + 10}", f"{sheet}!{col}{row + 11}", f"{sheet}!{col}{row + 12}"]
    spill = problem("text_spill", sheet=sheet, cell=f"{col}{row + 10}", cells=old, label="部门职责履行情况分析")
    assert f"{col}{row + 11}、{col}{row + 12}" in spill.message

    class Moved:  # the clerk's cells → logical locations (as intake maps them)
        def logical_location(self, addr: str) -> str | None:
            return {old[0]: "duty_analysis"}.get(addr)

    moved = returned.relocated(scheme, Moved(), spill)
    assert moved.cell == cell and f"双击 {cell} " in moved.message and f"{col}{row + 10}" not in moved.message
    del raw


def test_problem_round_trips_with_params():
    p = problem("negative", sheet="收支情况", cell="C5", field="public_actual", label="公用经费", value="-3")
    d = p.as_dict(with_params=True)
    assert set(p.as_dict()) == {"severity", "code", "sheet", "cell", "cells", "field", "message"}
    assert Problem.from_dict(d) == p and Problem.from_dict(d).message == p.message
    old = Problem.from_dict(p.as_dict())  # text only: kept as it was
    assert old.message == p.message and old.params is None


# --------------------------------------------------------------------------- 11.2, 11.6: magnitudes
NUMERIC_FIELDS = ["fiscal_year", "internal_unit_count", "staff_quota", "staff_actual", "income_fiscal",
                  "budget_added", "building_area_approved", "satisfaction_rate", "report_date", "score_duty"]
HUGE = ["1E+999999", "1E+9999999", "-1E+99999999", "1E+26", "-1E+300", 1e30, -1e300, "NaN", "inf", "1" * 5000]


@pytest.mark.parametrize("value", HUGE, ids=lambda v: str(v)[:12])
@pytest.mark.parametrize("key", NUMERIC_FIELDS)
def test_absurd_numbers_are_cell_messages(key, value, seed_raw):
    t = time.perf_counter()
    probs = revalidate(seed_raw["jianghua-2023"], new_building="有", **{key: value})
    assert time.perf_counter() - t < 1
    errs = [p for p in probs if p.field == key and p.severity == "error"]
    assert len(errs) == 1, [p.message for p in probs]
    p = errs[0]
    assert p.cell and p.code in ("absurd_number", "out_of_range", "not_number", "bad_date", "negative")
    assert "E+" not in p.message or "E+" in str(value).upper() or "e+" in str(value)
    assert len(p.message) < 200


@pytest.mark.parametrize("column", ["points", "self_score", "target", "actual", "target_max"])
@pytest.mark.parametrize("value", ["1E+999999", "1E+9999999", "1E+26", 1e30], ids=str)
def test_absurd_numbers_in_the_indicator_table(tmp_path, column, value):
    rows = B.seed_inputs()[1]["perf_indicators"]
    rows = [dict(r) for r in rows]
    rows[0] = {**rows[0], column: value}
    t = time.perf_counter()
    p = B.build(tmp_path / "t.xlsx", tables={"perf_indicators": rows})
    c = validate.check_file(p, "t.xlsx")
    assert c.submission is not None
    probs = c.problems + scoring.score(c.scheme, c.submission).problems
    assert time.perf_counter() - t < 2
    assert c.status == "invalid" and any(x.code == "absurd_number" for x in probs), [x.message for x in probs]


# --------------------------------------------------------------------------- 11.14: message text
ODD = {"value": "第一行\n第二行\r\n第三行", "detail": None, "found": D("1E+999999"),
       "low": D("0"), "high": 1.5, "score": D("2.50")}


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_message_is_one_clean_chinese_line(code):
    import datetime as dt

    params: dict[str, Any] = {k: ODD.get(k, dt.datetime(2024, 4, 30)) for k in
                              ("label", "value", "detail", "found", "expected", "used", "key", "ref",
                               "table", "title", "header", "keys", "scheme", "fmt", "hint", "example", "low",
                               "high", "rounded", "read", "choices", "below", "left", "right", "diff", "budget",
                               "income", "score", "tier", "group", "total", "points", "groups", "level1",
                               "accepted", "direction", "labels", "actual", "target", "other", "unit", "year",
                               "far", "limit", "wan", "count", "names", "length", "pages")}
    params["value"] = ODD["value"]
    params["detail"] = None
    p = problem(code, sheet="基本信息", cell="C5", cells=["基本信息!C5", "基本信息!C6"], **params)
    text = p.message
    assert "\n" not in text and "\r" not in text
    assert "None" not in text and "00:00:00" not in text and "{" not in text
    assert not [w for w in ("Error", "Exception", "Traceback", "nan", "inf") if w in text]


def test_rows_past_the_table_limit_are_an_error_naming_the_first_unread_row(tmp_path):
    rows = [{"problems": f"问题{i}"} for i in range(F.MAX_TABLE_ROWS + 3)]
    p = B.build(tmp_path / "long.xlsx", tables={"problems": rows})
    c = validate.check_file(p, "long.xlsx")
    [t] = [x for x in c.problems if x.code == "table_truncated"]
    assert t.severity == "error" and t.sheet == F.PROBLEMS.sheet
    rt = c.raw.tables[F.PROBLEMS.name]
    assert t.cell and int(t.cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) == rt.rows[-1][0] + 1
    assert str(F.MAX_TABLE_ROWS) in t.message
