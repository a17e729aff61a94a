"""indicator_table options (spec 08.2): 得分系数 (coefficient), 调整后指标值 (adjusted_target) and
over-achievement deductions; each off by default, each changing only the schemes that turn it on."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from tests import readback
from tests.builders import build, check, codes, only, perf_rows, seed_inputs, sub
from tests.helpers import scheme_text
from toolkit import fields as F
from toolkit.check import validate
from toolkit.cli import main
from toolkit.forms.layout import cell_address
from toolkit.forms.template import write_workbook
from toolkit.model import TableRow
from toolkit.rules.loader import load_scheme, parse_scheme
from toolkit.rules.model import Scheme
from toolkit.rules.types.base import clamp
from toolkit.rules.types.table import RowOptions, perf_table, score_row, table_options

BASE_HEADERS = [c.header for c in F.PERF_INDICATORS.columns]
OUTPUT_RULE = "rule: {type: indicator_table, group: 产出指标}"
EFFECT_RULE = "rule: {type: indicator_table, group: 效益指标}"
ALL_OPTIONS = ("rule: {type: indicator_table, group: 产出指标, coefficient: true, adjusted_target: true, "
               "overachievement: {above: 150, deduct_share: 10}}")


def options_text(rule: str = ALL_OPTIONS, new_id: str = "opts-county") -> str:
    text = scheme_text(new_id=new_id)
    assert OUTPUT_RULE in text
    return text.replace(OUTPUT_RULE, rule, 1)


def options_scheme(rule: str = ALL_OPTIONS) -> Scheme:
    return parse_scheme(options_text(rule), "opts.yaml")


def row(**values: Any) -> TableRow:
    base: dict[str, Any] = {"direction": "≥", "points": D("10"), "target": D("100"), "actual": D("100")}
    base.update(values)
    return TableRow(index=1, values=base, cells={})


def scored(r: TableRow, opts: RowOptions) -> D:
    raw, _, _ = score_row(r, opts)
    return clamp(raw, D("10"))


COEF = RowOptions(coefficient=True)
ADJ = RowOptions(adjusted_target=True)
OVER = RowOptions(over_above=D("1.5"), over_share=D("0.1"))


# ---------------------------------------------------------------- scoring, literal boundary cases
@pytest.mark.parametrize(("coefficient", "actual", "expected"), [
    (D("0"), D("100"), D("0")),  # 0 → nothing, whatever the completion
    (D("0.85"), D("100"), D("8.5")),
    (D("1"), D("50"), D("10")),  # the coefficient replaces the MOF rule (50% would give 5)
    (None, D("50"), D("5")),  # blank → the MOF rule
])
def test_coefficient_scores_w_times_coefficient(coefficient, actual, expected):
    assert scored(row(coefficient=coefficient, actual=actual), COEF) == expected


def test_coefficient_ignored_without_the_option():
    assert scored(row(coefficient=D("0.5")), RowOptions()) == D("10")


@pytest.mark.parametrize(("adjusted", "expected"), [
    (D("80"), D("10")),  # adjusted below the actual 90: full points
    (D("120"), D("7.5")),  # adjusted above: 90 / 120 × 10
    (D("90"), D("10")),  # exactly reached
    (None, D("9")),  # blank: against 年度指标值 100
])
def test_adjusted_target_replaces_the_target(adjusted, expected):
    assert scored(row(actual=D("90"), target_adjusted=adjusted), ADJ) == expected


def test_adjusted_target_ignored_without_the_option():
    assert scored(row(actual=D("90"), target_adjusted=D("80")), RowOptions()) == D("9")


@pytest.mark.parametrize(("actual", "expected"), [
    (D("150"), D("10")),  # exactly 150%: no deduction
    (D("175"), D("9.5")),  # 25 points beyond: half a step, 5% of w
    (D("200"), D("9")),  # one full step: 10% of w
    (D("1000"), D("0")),  # 17 steps → 170% of w, floor 0
])
def test_overachievement_deduction(actual, expected):
    assert scored(row(actual=actual), OVER) == expected


@pytest.mark.parametrize("actual", [D("150"), D("175"), D("200"), D("1000")])
def test_overachievement_without_the_option_only_warns(actual):
    raw, _, notes = score_row(row(actual=actual), RowOptions())
    assert raw == D("10")
    assert ("overachieved" in notes) == (actual > D("150"))


def test_overachievement_only_for_at_least_rows():
    assert scored(row(direction="=", actual=D("100")), OVER) == D("10")
    assert scored(row(direction="≤", target=D("100"), actual=D("10")), OVER) == D("10")


def test_overachievement_against_the_adjusted_target():
    opts = RowOptions(adjusted_target=True, over_above=D("1.5"), over_share=D("0.1"))
    assert scored(row(actual=D("200"), target_adjusted=D("200")), opts) == D("10")
    assert scored(row(actual=D("200"), target_adjusted=D("100"), target=D("50")), opts) == D("9")


# ---------------------------------------------------------------- the scheme language
def test_options_parse():
    s = options_scheme()
    node = next(n for n in s.nodes() if n.rule and n.rule.params.get("group") == "产出指标")
    p = node.rule.params
    assert (p["coefficient"], p["adjusted_target"], p["over_above"], p["over_share"]) == (
        True, True, D("1.5"), D("0.1"))
    assert table_options(s) == {"coefficient", "adjusted_target"}
    assert table_options(load_scheme("jianghua-2023")) == frozenset()
    assert perf_table(load_scheme("jianghua-2023")) is F.PERF_INDICATORS


@pytest.mark.parametrize(("rule", "words"), [
    ("rule: {type: indicator_table, group: 产出指标, coefficient: 是}", "true 或 false"),
    ("rule: {type: indicator_table, group: 产出指标, overachievement: 150}", "above: 150"),
    ("rule: {type: indicator_table, group: 产出指标, overachievement: {above: 90, deduct_share: 10}}", "不低于 100"),
    ("rule: {type: indicator_table, group: 产出指标, overachievement: {above: 150, deduct_share: 0}}", "0～100"),
    ("rule: {type: indicator_table, group: 产出指标, overachievement: {above: 150}}", "deduct_share"),
    ("rule: {type: indicator_table, group: 产出指标, overachievement: {above: 150, deduct: 10}}", "deduct_share"),
    ("rule: {type: indicator_table, group: 产出指标, coeficient: true}", "coefficient"),
])
def test_bad_options_are_refused(rule, words):
    with pytest.raises(Exception) as e:  # noqa: PT011 - the loader's own error type
        options_scheme(rule)
    assert words in str(e.value)


# ---------------------------------------------------------------- the template
def headers(path: Path) -> list[str]:
    wb = load_workbook(path)
    ws = wb[F.SHEET_INDICATORS]
    t = ws.tables["perf_indicators"]
    return [c.name for c in t.tableColumns]


def test_template_gains_columns_only_with_the_options(tmp_path):
    write_workbook(options_scheme(), tmp_path / "opts.xlsx")
    write_workbook(load_scheme("jianghua-2023"), tmp_path / "plain.xlsx")
    assert headers(tmp_path / "plain.xlsx") == BASE_HEADERS
    h = headers(tmp_path / "opts.xlsx")
    assert h.index("调整后指标值") == h.index("指标值上限") + 1
    assert h.index("得分系数") == h.index("自评得分") + 1
    assert [x for x in h if x not in ("调整后指标值", "得分系数")] == BASE_HEADERS
    only_coef = options_scheme("rule: {type: indicator_table, group: 产出指标, coefficient: true}")
    write_workbook(only_coef, tmp_path / "coef.xlsx")
    assert "得分系数" in headers(tmp_path / "coef.xlsx") and "调整后指标值" not in headers(tmp_path / "coef.xlsx")
    hint = load_workbook(tmp_path / "opts.xlsx")[F.SHEET_INDICATORS]["A2"].value
    assert "得分系数" in hint and "调整后指标值" in hint and "150%" in hint and "10%" in hint


def test_rule_description_names_the_options():
    from toolkit.forms.describe import describe_rule

    s = options_scheme()
    text = describe_rule(s, s.node("outputs"))
    assert "调整后指标值" in text and "分值×得分系数" in text and "超过指标值150%" in text and "扣该行分值的10%" in text
    plain = load_scheme("jianghua-2023")
    assert "得分系数" not in describe_rule(plain, plain.node("outputs"))


def test_cell_address_of_option_columns():
    s = options_scheme()
    assert cell_address(s, "perf_indicators:1:target_adjusted") == (F.SHEET_INDICATORS, "G4")
    assert cell_address(s, "perf_indicators:1:coefficient") == (F.SHEET_INDICATORS, "L4")
    assert cell_address(s, "perf_indicators:1:deviation_note") == (F.SHEET_INDICATORS, "M4")
    assert cell_address(load_scheme("jianghua-2023"), "perf_indicators:1:coefficient") is None


# ---------------------------------------------------------------- reading and validating
def opt_check(tmp_path: Path, **changes: dict[str, Any]) -> validate.FileCheck:
    scheme = options_scheme()
    p = build(tmp_path / "unit.xlsx", tables={"perf_indicators": perf_rows(**changes)}, scheme=scheme)
    return validate.check_file(p, "unit.xlsx", scheme)


@pytest.mark.parametrize(("typed", "expected"), [
    (0, D("0")), (0.85, D("0.85")), (85, D("0.85")), ("85%", D("0.85")), (1, D("1")), ("100%", D("1")),
])
def test_coefficient_cells(tmp_path, typed, expected):
    c = opt_check(tmp_path, r2={"coefficient": typed, "deviation_note": "年中任务调整"})
    assert "coefficient_range" not in codes(c) and "coefficient_note" not in codes(c)
    r = sub(c).tables["perf_indicators"][1]
    assert r.values["coefficient"] == expected
    assert r.cells["coefficient"] == f"{F.SHEET_INDICATORS}!L5"


def test_coefficient_out_of_range(tmp_path):
    c = opt_check(tmp_path, r2={"coefficient": "120%", "deviation_note": "x"})
    p = only(c, "coefficient_range")
    assert p.cell == "L5" and "120" in p.message


def test_coefficient_needs_a_reason(tmp_path):
    c = opt_check(tmp_path, r2={"coefficient": 1})
    p = only(c, "coefficient_note")
    assert p.cell == "M5" and "偏差原因" in p.message and "100%" in p.message


def test_adjusted_target_read(tmp_path):
    c = opt_check(tmp_path, r2={"target_adjusted": "250条"}, r5={"target_adjusted": 0.98})
    assert c.status == "ok", [p.message for p in c.problems]
    rows = sub(c).tables["perf_indicators"]
    assert rows[1].values["target_adjusted"] == D("250") and rows[1].values["target"] == D("200")
    assert rows[4].values["target_adjusted"] == D("98")  # a % row: 0.98 is 98%
    assert "target_adjusted" not in rows[0].values


def test_option_column_on_a_group_without_the_option(tmp_path):
    """效益指标's indicator_table has no options: a 得分系数 there is said (warning), not scored."""
    c = opt_check(tmp_path, r5={"coefficient": "50%", "deviation_note": "x"}, r6={"target_adjusted": 100})
    assert c.status == "ok"
    ps = [p for p in c.problems if p.code == "option_unused"]
    assert [p.cell for p in ps] == ["L8", "G9"] and all(p.severity == "warning" for p in ps)
    assert "效益指标" in ps[0].message


def test_workbook_without_the_option_columns_still_reads(tmp_path):
    """An options scheme's workbook filled on the plain template: no column problem, MOF scoring."""
    c = check(tmp_path, scheme="jianghua-2023")
    assert c.raw is not None
    s = validate.validate(c.raw, options_scheme(), "unit.xlsx")
    assert not [p for p in s.problems if p.code in ("missing_column", "missing_table")]
    assert all("coefficient" not in r.values for r in s.tables["perf_indicators"])


def test_plain_scheme_rows_unchanged(tmp_path):
    c = check(tmp_path)
    assert c.status == "ok"
    assert set(sub(c).tables["perf_indicators"][0].values) == {c.key for c in F.PERF_INDICATORS.columns}


# ---------------------------------------------------------------- end to end
def fill_by_names(template: Path, out: Path, values: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Fill through the defined names and the table name, finding columns by header."""
    wb = load_workbook(template)
    for key, v in values.items():
        for sheet, ref in wb.defined_names[key].destinations:
            wb[sheet][ref.replace("$", "").split(":")[0]] = v
    ws = next(w for w in wb.worksheets if "perf_indicators" in w.tables)
    t = ws.tables["perf_indicators"]
    first = ws[t.ref.split(":")[0]]
    col_of = {c.name: first.column + j for j, c in enumerate(t.tableColumns)}
    header = {c.key: c.header for c in F.PERF_COLUMNS}
    for i, r in enumerate(rows, start=1):
        for k, v in r.items():
            ws.cell(first.row + i, col_of[header[k]]).value = v
    for name in ("problems", "plans"):
        tw = next(w for w in wb.worksheets if name in w.tables)
        tt = tw.tables[name]
        cell = tw[tt.ref.split(":")[0]]
        _, seed_tables = seed_inputs()
        for i, r in enumerate(seed_tables[name], start=1):
            tw.cell(cell.row + i, cell.column).value = r[name]
    wb.save(out)


def test_end_to_end_all_three_options(tmp_path):
    scheme_file = tmp_path / "opts.yaml"
    scheme_file.write_text(options_text(), encoding="utf-8")
    tpl = tmp_path / "blank.xlsx"
    write_workbook(load_scheme(str(scheme_file)), tpl)
    assert {"得分系数", "调整后指标值"} <= set(headers(tpl))
    values, tables = seed_inputs()
    rows = [dict(r) for r in tables["perf_indicators"]]
    rows[0].update(actual="6000", deviation_note="指标值设定偏低")  # 200% of 3000 → 2.5 − 0.25
    rows[1].update(coefficient="85%", deviation_note="部分信息延期发布")  # 2.5 × 85%
    rows[3].update(target_adjusted="50", deviation_note="进驻单位调整")  # 47 / 50 × 2.5 = 2.35
    inbox = tmp_path / "in"
    inbox.mkdir()
    fill_by_names(tpl, inbox / "u.xlsx", values, rows)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out), "--scheme", str(scheme_file)])
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    u = res["units"][0]
    assert u["status"] == "ok", (r.output, u["problems"])
    outputs = next(i for i in u["indicators"] if i["id"] == "outputs")
    assert outputs["score"] == 9.23  # 2.25 + 2.13 (2.125 per row, rounded) + 2.5 + 2.35
    docs = [readback.text(p.read_bytes()) for p in out.rglob("*.docx")]
    text = "\n".join(docs)
    assert "按得分系数85%计分" in text
    assert "年度指标值≥26个，调整后≥50个" in text
    assert "完成值超过指标值的150%，因指标值设定偏低扣0.25分" in text
    assert text.count("按得分系数85%计分") >= 2  # the report's line and the appendix row
