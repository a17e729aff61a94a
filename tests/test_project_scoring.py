"""The project form (spec 06) scored as the MOF rules say, on literal cases.

Every workbook here is written by openpyxl in a layout of its own (not the template's): values reach
the tool only through the defined names (the field keys) and the table name ``project_indicators`` with
its headers, which is all the reader may rely on (spec 02).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.table import Table

from tests.project_builders import VALUES
from toolkit import fields as F
from toolkit.check import validate
from toolkit.rules import scoring

# the builders' project (113.02 / 120 = 94.18%), written here in a layout of its own
BASE: dict[str, Any] = dict(VALUES)
# [一级, 二级, 三级, 年度指标值, 实际完成值, 计量单位, 分值, 自评得分, 偏差原因]
ROWS: list[list[Any]] = [
    ["产出指标", "数量指标", "森林防火巡护", "≥1200", "1350", "人次", 50, None, None],
    ["效益指标", "社会效益", "防火意识", "明显提升", "达成", None, 30, None, None],
    ["满意度指标", "服务对象满意度", "群众满意度", "≥90%", "95%", None, 10, None, None],
]


def build(path: Path, values: dict[str, Any] | None = None, rows: list[list[Any]] | None = None,
          scheme: str = "mof-project-2020") -> Path:
    """A project workbook in a layout of its own: fields in column D from row 3, the table below them."""
    vals = {**BASE, **(values or {})}
    wb = Workbook()
    ws = wb.active
    ws.title = F.SHEET_PROJECT
    for r, f in enumerate(F.PROJECT_FIELDS, start=3):
        ws.cell(r, 3, f.label)
        ws.cell(r, 4, vals.get(f.key))
        wb.defined_names[f.key] = DefinedName(f.key, attr_text=f"'{F.SHEET_PROJECT}'!$D${r}")
    top = 3 + len(F.PROJECT_FIELDS) + 2
    headers = [c.header for c in F.PROJECT_INDICATORS.columns]
    for c, h in enumerate(headers, start=2):
        ws.cell(top, c, h)
    body = ROWS if rows is None else rows
    for i, row in enumerate(body, start=1):
        for c, v in enumerate(row, start=2):
            ws.cell(top + i, c, v)
    last = get_column_letter(1 + len(headers))
    ws.add_table(Table(displayName="project_indicators", ref=f"B{top}:{last}{top + max(1, len(body))}"))
    meta = wb.create_sheet("_meta")
    for k, v in (("template_id", F.PROJECT_TEMPLATE_ID), ("template_version", 1), ("scheme_id", scheme)):
        meta.append([k, v])
    meta.sheet_state = "veryHidden"
    wb.save(path)
    return path


def checked(tmp_path: Path, name: str = "p.xlsx", **kw: Any) -> validate.FileCheck:
    return validate.check_file(build(tmp_path / name, **kw), name)


def scored(tmp_path: Path, **kw: Any) -> tuple[validate.FileCheck, Any]:
    c = checked(tmp_path, **kw)
    assert c.submission is not None
    return c, scoring.score(c.scheme, c.submission)


def codes(c: validate.FileCheck) -> list[str]:
    return [p.code for p in c.problems]


def test_execution_rate_scores_ten_times_the_rate(tmp_path: Path) -> None:
    c, card = scored(tmp_path)
    assert c.status == "ok", [p.message for p in c.problems]
    assert c.scheme.id == "mof-project-2020"
    execution = card.node("execution")
    assert execution.value.quantize(Decimal("0.0001")) == Decimal("0.9418")
    assert execution.score == Decimal("9.42")
    assert card.total == Decimal("99.42") and card.grade == "优"


@pytest.mark.parametrize(("full", "spent", "score"), [
    (120, 113.02, "9.42"),   # 94.18%
    (100, 100, "10.00"),     # 100%
    (100, 100.5, "10.00"),   # above 100%: capped (and a warning)
    (200, 123.45, "6.17"),   # 61.725% → 6.1725 → half-up 6.17
    (80, 0, "0.00"),
])
def test_execution_rate_table(tmp_path: Path, full: float, spent: float, score: str) -> None:
    values = {"fund_total_full": full, "fund_fiscal_full": full, "fund_carryover_full": 0,
              "fund_total_spent": spent, "fund_fiscal_spent": spent, "fund_carryover_spent": 0}
    _, card = scored(tmp_path, values=values)
    assert card.node("execution").score == Decimal(score)


def test_zero_full_budget_is_an_error_naming_the_cell(tmp_path: Path) -> None:
    values = {"fund_total_full": 0, "fund_fiscal_full": 0, "fund_carryover_full": 0}
    c, card = scored(tmp_path, values=values)
    zero = [p for p in card.problems if p.code == "zero_denominator"]
    assert zero and zero[0].severity == "error"
    assert any(cell.endswith(c.submission.cells["fund_total_full"].split("!")[1]) for cell in zero[0].cells)


def _one_row(tmp_path: Path, row: list[Any]) -> Decimal:
    rows = [row, ["效益指标", "社会效益", "防火意识", "明显提升", "达成", None, 30, None, None],
            ["满意度指标", "服务对象满意度", "群众满意度", "≥90%", "95%", None, 10, None, None]]
    c, card = scored(tmp_path, rows=rows)
    leaf = card.node("output")
    assert leaf is not None and len(leaf.rows) == 1, [p.message for p in c.problems]
    return leaf.rows[0].score


@pytest.mark.parametrize(("target", "actual", "score"), [
    ("≥1200", "1000", "41.67"),    # ≥ below target: 50 × 1000/1200
    ("≥1200", "1350", "50.00"),    # ≥ reached
    ("1200", "600", "25.00"),      # a plain number is ≥
    ("≤24", "26", "46.15"),        # ≤ above target: 50 × 24/26
    ("≤24", "20", "50.00"),
    ("＝100%", "98%", "49.00"),    # = : 50 × (1 − 2%) (openpyxl writes "=…" as a formula; the
                                   # template's text format keeps a clerk's "=100%" as text)
    ("100%", "98%", "49.00"),      # a plain percent is ≥: 50 × 98/100
    ("1～7天", "9天", "38.89"),     # 区间 above: 50 × 7/9
    ("1～7天", "5天", "50.00"),
])
def test_numeric_rows_score_by_the_mof_rules(tmp_path: Path, target: str, actual: str, score: str) -> None:
    assert _one_row(tmp_path, ["产出指标", "数量指标", "巡护", target, actual, None, 50, None, "原因已说明"]) \
        == Decimal(score)


@pytest.mark.parametrize(("actual", "self_score", "score"), [
    ("达成", None, "50.00"),
    ("部分达成", None, "35.00"),   # MOF default share 70%
    ("部分达成", 32.5, "32.50"),   # a 自评得分 inside [60%, 80%) is kept
    ("未达成", None, "15.00"),
    ("未达成", 20, "20.00"),
])
def test_qualitative_rows_with_and_without_self_score(tmp_path: Path, actual: str, self_score: float | None,
                                                      score: str) -> None:
    row = ["产出指标", "质量指标", "工作质量", "明显提升", actual, None, 50, self_score, "原因已说明"]
    assert _one_row(tmp_path, row) == Decimal(score)


@pytest.mark.parametrize("col", ["initial", "full", "spent"])
def test_fund_identity_off_by_a_cent_names_four_cells(tmp_path: Path, col: str) -> None:
    total = F.fund_key("total", col)
    base = Decimal(str(BASE[total]))
    c = checked(tmp_path, values={total: float(base + Decimal("0.01"))})
    errors = [p for p in c.errors if p.code == "check_failed"]
    assert len(errors) == 1, [p.message for p in c.problems]
    keys = [total, *(F.fund_key(r, col) for r in F.FUND_PARTS)]
    assert c.submission is not None
    assert sorted(errors[0].cells) == sorted(c.submission.cells[k] for k in keys)
    assert "相差 0.01万元" in errors[0].message
    # within the tolerance it holds
    ok = checked(tmp_path, name="ok.xlsx", values={total: float(base + Decimal("0.004"))})
    assert "check_failed" not in codes(ok)


def test_spent_above_full_is_a_warning_only(tmp_path: Path) -> None:
    c = checked(tmp_path, values={"fund_total_spent": 121, "fund_fiscal_spent": 101, "fund_carryover_spent": 20})
    assert c.status == "ok"
    assert "check_warning" in codes(c)


@pytest.mark.parametrize(("note", "problems_text", "warned"), [
    (None, None, True), ("受雨季影响延期", None, False), (None, "资金拨付滞后", False)])
def test_low_execution_must_be_explained(tmp_path: Path, note: str | None, problems_text: str | None,
                                         warned: bool) -> None:
    rows = [["产出指标", "数量指标", "巡护", "≥1200", "1350", "人次", 50, None, note], *ROWS[1:]]
    values = {"fund_total_spent": 100, "fund_fiscal_spent": 90, "fund_carryover_spent": 10,
              "problems_text": problems_text}
    c = checked(tmp_path, values=values, rows=rows)
    assert ("low_execution_unexplained" in codes(c)) is warned
    assert c.status == "ok"


def test_points_must_add_up_and_level2_names_come_from_the_mof_lists(tmp_path: Path) -> None:
    rows = [["产出指标", "数量指标", "巡护", "≥1200", "1350", "人次", 45, None, None],
            ["效益指标", "服务效益", "防火意识", "明显提升", "达成", None, 30, None, None], ROWS[2]]
    c = checked(tmp_path, rows=rows)
    assert "indicator_points" in [p.code for p in c.errors]
    level2 = [p for p in c.problems if p.code == "level2_mismatch"]
    assert level2 and level2[0].severity == "warning" and "服务效益" in level2[0].message


def test_a_project_form_needs_at_least_one_indicator_row(tmp_path: Path) -> None:
    c = checked(tmp_path, rows=[])
    assert c.status == "invalid"
    assert any(p.code == "required" and p.field == "project_indicators" for p in c.errors)


def test_sichuan_scheme_takes_all_rows_for_ninety_points(tmp_path: Path) -> None:
    rows = [["产出指标", "数量指标", "巡护", "≥1200", "1350", "人次", 55, None, None],
            ["效益指标", "社会效益", "防火意识", "明显提升", "达成", None, 25, None, None], ROWS[2]]
    c, card = scored(tmp_path, rows=rows, scheme="sichuan-project-2022")
    assert c.scheme.id == "sichuan-project-2022" and c.status == "ok", [p.message for p in c.problems]
    assert [lv.name for lv in card.levels] == ["预算执行率", "绩效指标"]
    assert card.node("indicators").score == Decimal("90.00")
    # the same rows under the MOF scheme: 产出 55 ≠ 50, 效益 25 ≠ 30
    mof = checked(tmp_path, name="mof.xlsx", rows=rows)
    assert [p.code for p in mof.errors].count("indicator_points") == 2
    # 评价结论 / 存在的问题 / 改进措施 are required by the Sichuan scheme only
    blank = {"conclusion": None, "problems_text": None, "measures": None}
    sc = checked(tmp_path, name="sc.xlsx", rows=rows, values=blank, scheme="sichuan-project-2022")
    assert sorted(p.field for p in sc.errors if p.code == "required") == ["conclusion", "measures", "problems_text"]
    assert checked(tmp_path, name="mof2.xlsx", values=blank).status == "ok"


def test_dept_scheme_given_for_a_project_workbook_is_not_used(tmp_path: Path) -> None:
    """--scheme jianghua-2023 in a mixed inbox scores the department forms; a project workbook keeps its own."""
    from toolkit.rules.loader import load_scheme

    c = validate.check_file(build(tmp_path / "p.xlsx"), "p.xlsx", load_scheme("jianghua-2023"))
    assert c.scheme.id == "mof-project-2020" and c.status == "ok"
