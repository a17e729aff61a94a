"""The workbook from the scheme (spec 08.4): added fields, field_overrides, added tables read by formulas."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from toolkit.check.validate import check_file
from toolkit.cli import main
from toolkit.forms.template import build_workbook_bytes
from toolkit.rules import inputs
from toolkit.rules.expr import Expr
from toolkit.rules.loader import SchemeError, load_scheme, parse_scheme

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "samples" / "江华瑶族自治县政务服务中心.xlsx"

SCHEME = """\
extends: jianghua-2023
id: county-demo
title: 示例县部门整体支出绩效评价方案
fields:
  - {key: perf_goal, label: 部门整体绩效目标, sheet: 绩效分析, kind: longtext, required: true, note: 可分段填写}
  - {key: eval_org, label: 评价机构, sheet: 基本信息}
  - {key: vehicles, label: 公务用车保有量, sheet: 收支情况, kind: int, unit: 辆}
field_overrides:
  budget_added: {label: 本年调整预算数}
  region: {required: false}
tables:
  - name: sangong_items
    sheet: 收支情况
    title: 三公经费明细
    columns:
      - {key: item, label: 项目, kind: choice, choices: [因公出国（境）, 公务用车, 公务接待], required: true}
      - {key: amount, label: 本年支出金额, kind: money, required: true}
checks:
  - id: sangong_detail
    assert: sum(sangong_items.amount) == sangong_actual
    message: 三公经费明细合计 {left} 万元与三公经费实际支出数 {right} 万元不一致
  - id: sangong_rows
    assert: count(sangong_items) >= 1
    message: 三公经费明细至少填写一行
"""


@pytest.fixture(scope="module")
def scheme_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("scheme") / "county.yaml"
    p.write_text(SCHEME, encoding="utf-8")
    return p


def _reference_values() -> tuple[dict, dict]:
    ref = check_file(REFERENCE, REFERENCE.name)
    assert ref.submission is not None
    tables = {k: [r.values for r in rows] for k, rows in ref.submission.tables.items()}
    return dict(ref.submission.values), tables


def _fill(scheme_path: Path, out: Path, amounts: list[float | str], actual: float | None = None) -> Path:
    """Template of the scheme with the reference unit's values, then filled with openpyxl through defined
    names (perf_goal, sangong_actual) and the table name (sangong_items)."""
    scheme = load_scheme(str(scheme_path))
    values, tables = _reference_values()
    out.write_bytes(build_workbook_bytes(scheme, values=values, tables=tables))
    wb = openpyxl.load_workbook(out)
    def put(name: str, v: object) -> None:
        sheet, ref = next(iter(wb.defined_names[name].destinations))
        wb[sheet][ref.replace("$", "")] = v
    put("perf_goal", "全面完成年度政务服务目标。")
    if actual is not None:
        put("sangong_actual", actual)
    ws = next(w for w in wb.worksheets if "sangong_items" in w.tables)
    first = ws.tables["sangong_items"].ref.split(":")[0]
    col, row = openpyxl.utils.cell.coordinate_from_string(first)
    c = openpyxl.utils.column_index_from_string(col)
    for i, amount in enumerate(amounts, start=1):
        ws.cell(row + i, c, "公务用车" if i % 2 else "公务接待")
        ws.cell(row + i, c + 1, amount)
    wb.save(out)
    return out


def test_the_template_has_the_names_the_table_the_labels_and_the_stars(scheme_path: Path, tmp_path: Path) -> None:
    scheme = load_scheme(str(scheme_path))
    p = tmp_path / "t.xlsx"
    p.write_bytes(build_workbook_bytes(scheme))
    wb = openpyxl.load_workbook(p)
    for name in ("perf_goal", "eval_org", "vehicles", "budget_added"):
        assert name in wb.defined_names
    labels = {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value}
    texts = " ".join(labels)
    assert "本年调整预算数（万元）" in texts and "本年追加（调减）预算数" not in texts
    sheet, ref = next(iter(wb.defined_names["perf_goal"].destinations))
    ws = wb[sheet]
    r = int("".join(ch for ch in ref if ch.isdigit()))
    assert str(ws.cell(r, 2).value).startswith("* 部门整体绩效目标")  # required → *
    sheet, ref = next(iter(wb.defined_names["region"].destinations))
    r = int("".join(ch for ch in ref if ch.isdigit()))
    assert wb[sheet].cell(r, 2).value == "所属地区"  # made optional: no *
    ws = wb["收支情况"]
    assert "sangong_items" in ws.tables
    head = ws[ws.tables["sangong_items"].ref.split(":")[0]]
    assert [head.value, head.offset(0, 1).value] == ["项目", "本年支出金额"]


def test_one_source_for_required(scheme_path: Path) -> None:
    fm = inputs.field_map(load_scheme(str(scheme_path)))
    assert fm["perf_goal"].required and not fm["region"].required and not fm["eval_org"].required
    assert inputs.field_map(load_scheme("jianghua-2023"))["region"].required
    assert fm["budget_added"].label == "本年调整预算数"


@pytest.mark.parametrize(("amounts", "actual", "fires"), [
    ([1.5, 2.25], 3.75, False),        # equal
    ([1.5, 2.25], 3.754, False),       # within the 0.005 tolerance
    ([1.5, 2.25], 3.76, True),         # off by 0.01
    ([], 0, True),                     # count(sangong_items) >= 1 fails
])
def test_a_check_over_a_table_total(scheme_path: Path, tmp_path: Path, amounts: list[float], actual: float,
                                    fires: bool) -> None:
    p = _fill(scheme_path, tmp_path / "u.xlsx", amounts, actual)
    fc = check_file(p, p.name, load_scheme(str(scheme_path)))
    assert fc.submission is not None
    failed = [x for x in fc.problems if x.code == "check_failed"]
    assert bool(failed) == fires, [x.message for x in fc.problems]
    assert fc.submission.values["sum(sangong_items.amount)"] == Decimal(str(sum(amounts)))
    assert len(fc.submission.tables["sangong_items"]) == len(amounts)


def test_table_cells_are_validated_by_kind(scheme_path: Path, tmp_path: Path) -> None:
    p = _fill(scheme_path, tmp_path / "u.xlsx", ["两万", 1], 3)
    fc = check_file(p, p.name, load_scheme(str(scheme_path)))
    bad = [x for x in fc.problems if x.field == "sangong_items"]
    assert bad and "三公经费明细第1行“本年支出金额”" in bad[0].message
    assert not [x for x in fc.problems if x.code == "check_failed" and "三公经费明细合计" in x.message]


def test_relabelled_label_appears_in_messages(scheme_path: Path, tmp_path: Path) -> None:
    p = _fill(scheme_path, tmp_path / "u.xlsx", [3.75], 3.75)
    wb = openpyxl.load_workbook(p)
    sheet, ref = next(iter(wb.defined_names["budget_added"].destinations))
    wb[sheet][ref.replace("$", "")] = "很多"
    wb.save(p)
    fc = check_file(p, p.name, load_scheme(str(scheme_path)))
    assert any("本年调整预算数" in x.message for x in fc.problems if x.field == "budget_added")


def test_jixiao_run_end_to_end(scheme_path: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    _fill(scheme_path, inbox / "好.xlsx", [1.5, 2.25], 3.75)
    _fill(scheme_path, inbox / "不平.xlsx", [1.5, 2.25], 5)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out), "--scheme", str(scheme_path), "-j", "1"])
    assert r.exit_code in (0, 1), r.output
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    text = json.dumps(results, ensure_ascii=False)
    assert "三公经费明细合计 3.75 万元与三公经费实际支出数 5.00 万元不一致" in text
    assert text.count("三公经费明细合计") == 1


@pytest.mark.parametrize(("yaml", "says"), [
    ("field_overrides: {budget_initial: {required: false}}", "不能设为非必填"),
    ("field_overrides: {no_such: {label: x}}", "没有字段“no_such”"),
    ("field_overrides: {budget_added: {lable: x}}", "是否应为 `label`"),
    ("fields: [{key: unit_name, label: x, sheet: 基本信息}]", "已被填报表或本方案的其他项使用"),
    ("fields: [{key: a1, label: x, sheet: 基本信息}]", "像单元格地址"),
    ("fields: [{key: goal, label: x, sheet: 绩效指标}]", "sheet“绩效指标”应为"),
    ("fields: [{key: goal, label: x, sheet: 基本信息, kind: mony}]", "是否应为 `money`"),
    ("fields: [{key: goal, label: x, sheet: 基本信息, requird: true}]", "是否应为 `required`"),
    ("tables: [{name: perf_indicators, sheet: 收支情况, title: x, columns: [{key: a, label: A}]}]", "已被使用"),
    ("tables: [{name: t, sheet: 评分表, title: x, columns: [{key: a, label: A}]}]", "不能放列表"),
    ("tables: [{name: t, sheet: 明细, title: x, columns: []}]", "columns 应有"),
    ("tables: [{name: t, sheet: 明细, title: x, columns: [{key: a, label: A}]}]\n"
     "checks: [{id: c, assert: sum(t.a) > 0}]", "sum(t.a) 在填报表中不存在"),
    ("tables: [{name: t, sheet: 明细, title: x, columns: [{key: a, label: A, kind: money}]}]\n"
     "checks: [{id: c, assert: sum(t) > 0}]", "sum 写作 sum(表名.列名)"),
])
def test_refusals(yaml: str, says: str) -> None:
    with pytest.raises(SchemeError) as e:
        parse_scheme(f"extends: jianghua-2023\nid: x\ntitle: x\n{yaml}\n", base=ROOT)
    assert says in str(e.value)


def test_a_table_on_its_own_sheet(tmp_path: Path) -> None:
    s = parse_scheme("extends: jianghua-2023\nid: x\ntitle: x\ntables:\n  - name: projects\n    sheet: 项目清单\n"
                     "    title: 项目支出清单\n    columns: [{key: name, label: 项目名称}, {key: money, label: 金额, kind: money}]\n"
                     "checks: [{id: c, assert: count(projects) <= 50}]\n", base=ROOT)
    p = tmp_path / "t.xlsx"
    p.write_bytes(build_workbook_bytes(s))
    wb = openpyxl.load_workbook(p)
    assert "projects" in wb["项目清单"].tables
    assert wb.sheetnames.index("项目清单") == wb.sheetnames.index("绩效分析") + 1


@pytest.mark.parametrize(("src", "names"), [
    ("sum(t.a) + count(t)", ("sum(t.a)", "count(t)")),
    ("max(sum(t.a), x) / count(t)", ("sum(t.a)", "x", "count(t)")),
])
def test_expr_reads_table_totals(src: str, names: tuple[str, ...]) -> None:
    e = Expr.parse(src)
    assert set(e.names) == set(names)
    assert e.source == src


@pytest.mark.parametrize(("key", "scheme_says_required"), [("region", False), ("perf_goal", True), ("eval_org", False)])
def test_blank_fields_follow_the_same_flag(scheme_path: Path, tmp_path: Path, key: str,
                                           scheme_says_required: bool) -> None:
    p = _fill(scheme_path, tmp_path / "u.xlsx", [3.75], 3.75)
    wb = openpyxl.load_workbook(p)
    sheet, ref = next(iter(wb.defined_names[key].destinations))
    wb[sheet][ref.replace("$", "")] = None
    wb.save(p)
    fc = check_file(p, p.name, load_scheme(str(scheme_path)))
    assert any(x.code == "required" and x.field == key for x in fc.problems) == scheme_says_required


def test_extends_merges_fields_tables_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(SCHEME, encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nid: child\ntitle: 子方案\n"
                     "fields: [{key: eval_org, label: 第三方评价机构, sheet: 基本信息, required: true}]\n"
                     "field_overrides: {notice: {label: 自评通知}}\n"
                     "tables: [{name: projects, sheet: 项目清单, title: 项目, columns: [{key: n, label: 名称}]}]\n",
                     encoding="utf-8")
    s = load_scheme(str(child))
    assert [f.key for f in s.fields] == ["perf_goal", "eval_org", "vehicles"]
    assert s.fields[1].label == "第三方评价机构" and s.fields[1].required
    assert set(s.field_overrides) == {"budget_added", "region", "notice"}
    assert [t.name for t in s.tables] == ["sangong_items", "projects"]


def test_a_field_on_the_scoring_sheet(tmp_path: Path) -> None:
    s = parse_scheme("extends: jianghua-2023\nid: x\ntitle: x\n"
                     "fields: [{key: self_eval_team, label: 自评工作组成员, sheet: 评分表, required: true}]\n", base=ROOT)
    p = tmp_path / "t.xlsx"
    p.write_bytes(build_workbook_bytes(s))
    wb = openpyxl.load_workbook(p)
    sheet, _ = next(iter(wb.defined_names["self_eval_team"].destinations))
    assert sheet == "评分表"


@pytest.mark.parametrize(("amounts", "same_as_budget"), [([1.5, 2.25], True), ([1.5, 9], False)])
def test_a_rule_reads_a_table_total(scheme_path: Path, tmp_path: Path, amounts: list[float],
                                    same_as_budget: bool) -> None:
    """sangong_change over sum(sangong_items.amount) scores as over the field when the total is the field."""
    from toolkit.rules.scoring import score
    rule = ("indicators:\n  - id: sangong_change\n    rule:\n      type: ratio_cap\n"
            "      numerator: {num}\n      denominator: sangong_budget_prev\n      cap: 0\n      deduct: 0.5\n"
            "      zero_denominator: {{numerator_zero: {{value: 0}}, otherwise: {{outcome: zero, case: no_previous}}}}\n")
    by_table = tmp_path / "table.yaml"
    by_table.write_text(SCHEME + rule.format(num="sum(sangong_items.amount) - sangong_budget_prev"), encoding="utf-8")
    by_field = tmp_path / "field.yaml"
    by_field.write_text(SCHEME + rule.format(num="sangong_budget - sangong_budget_prev"), encoding="utf-8")
    values, _ = _reference_values()
    budget = float(values["sangong_budget"])  # type: ignore[arg-type]
    p = _fill(scheme_path, tmp_path / "u.xlsx", [a * budget / 3.75 for a in amounts], None)
    t, f = load_scheme(str(by_table)), load_scheme(str(by_field))
    sub_t, sub_f = check_file(p, p.name, t).submission, check_file(p, p.name, f).submission
    assert sub_t is not None and sub_f is not None
    a = score(t, sub_t).node("sangong_change").score
    b = score(f, sub_f).node("sangong_change").score
    assert (a == b) == same_as_budget


def test_the_returned_workbook_marks_a_table_cell(scheme_path: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    _fill(scheme_path, inbox / "错.xlsx", ["两万", 3.75], 3.75)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out), "--scheme", str(scheme_path), "-j", "1"])
    assert r.exit_code in (0, 1), r.output
    returned = next((out / "returned").glob("*.xlsx"))
    wb = openpyxl.load_workbook(returned)
    ws = wb["收支情况"]
    first = ws.tables["sangong_items"].ref.split(":")[0]
    col, row = openpyxl.utils.cell.coordinate_from_string(first)
    cell = ws.cell(row + 1, openpyxl.utils.column_index_from_string(col) + 1)
    assert cell.value == "两万" and cell.comment is not None and "本年支出金额" in cell.comment.text


@pytest.mark.parametrize(("checks", "expect"), [
    # a county whose balance leaves out 其他收入: the 收支情况 live cell shows that formula, not the default
    ("checks:\n  - id: budget_identity\n    assert: carryover_start + income_fiscal - spend_basic - spend_project"
     " == balance_basic + balance_project\n", "N(carryover_start)+N(income_fiscal)-N(spend_basic)"),
    ("checks: []\n", "本评分方案不校验收支平衡"),
])
def test_the_live_balance_cell_is_the_schemes_own_identity(tmp_path: Path, checks: str, expect: str) -> None:
    """Spec 08.3: the template's live 校验 cell is generated from the scheme's check formula."""
    p = tmp_path / "county.yaml"
    p.write_text(f"extends: jianghua-2023\nid: county-balance\ntitle: 某县\n{checks}", encoding="utf-8")
    scheme = load_scheme(str(p))
    (tmp_path / "t.xlsx").write_bytes(build_workbook_bytes(scheme))
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    ws = wb["收支情况"]
    row = next(r for r in ws.iter_rows() if r[1].value == "收支平衡校验（自动计算）")
    cell = str(row[2].value)
    assert expect in cell
    assert "income_other" not in cell
