"""Project workbooks (项目支出绩效自评表, spec 06) for tests: the real template, filled with openpyxl
through its defined names and the table name ``project_indicators`` only (like a clerk's Excel would,
never by coordinates)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from toolkit import fields as F
from toolkit.forms.template import build_workbook_bytes
from toolkit.rules.loader import load_scheme
from toolkit.rules.model import Scheme

# A project whose 执行率 is 113.02 / 120 = 94.18% → 9.42 of 10 points.
VALUES: dict[str, Any] = {
    "project_name": "农村公路养护", "project_code": "43112902300001", "dept_name": "县交通运输局",
    "unit_name": "县公路建设养护中心", "unit_code": "412001", "fiscal_year": 2023,
    "fund_total_initial": 100, "fund_fiscal_initial": 100,
    "fund_total_full": 120, "fund_fiscal_full": 100, "fund_carryover_full": 20,
    "fund_total_spent": 113.02, "fund_fiscal_spent": 100, "fund_carryover_spent": 13.02,
    "goal_expected": "完成农村公路养护 100 公里，路况优良率不低于 90%。",
    "goal_actual": "完成养护 98 公里，路况优良率 92%。",
    "conclusion": "项目总体完成较好。", "problems_text": "雨季影响施工进度。", "measures": "合理安排工期。",
    "contact_name": "李四", "contact_phone": "0746-1234567", "contact_email": "gl@example.com",
    "project_leader": "王五", "finance_leader": "赵六", "report_date": "2024-04-30",
}

ROWS: list[dict[str, Any]] = [
    {"level1": "产出指标", "level2": "数量指标", "name": "养护里程", "target": "≥100", "actual": "98",
     "unit": "公里", "points": 30, "deviation_note": "雨季影响，两公里顺延至次年"},
    {"level1": "产出指标", "level2": "质量指标", "name": "路况优良率", "target": "≥90%", "actual": "92%",
     "unit": "%", "points": 20},
    {"level1": "效益指标", "level2": "社会效益", "name": "群众出行条件", "target": "有效改善", "actual": "达成",
     "points": 30},
    {"level1": "满意度指标", "level2": "服务对象满意度", "name": "沿线群众满意度", "target": "≥90%",
     "actual": "95%", "unit": "%", "points": 10},
]


def fill_project(template: Path, out: Path, values: Mapping[str, Any],
                 rows: Sequence[Mapping[str, Any]]) -> Path:
    """Fill a project template through defined names and the ``project_indicators`` table only."""
    wb = load_workbook(template)
    for key, v in values.items():
        for sheet, ref in wb.defined_names[key].destinations:
            wb[sheet][ref.replace("$", "").split(":")[0]] = v
    table_name = F.PROJECT_INDICATORS.name
    ws = next(ws for ws in wb.worksheets if table_name in ws.tables)
    t = ws.tables[table_name]
    first = ws[t.ref.split(":")[0]]
    headers = {ws.cell(first.row, first.column + j).value: first.column + j for j in range(len(t.tableColumns))}
    key_of = {c.header: c.key for c in F.PROJECT_INDICATORS.columns}
    for i, row in enumerate(rows, start=1):
        for header, col in headers.items():
            if key_of.get(header) in row:
                ws.cell(first.row + i, col).value = row[key_of[header]]
    wb.save(out)
    return out


def build_project(path: Path, scheme: str | Scheme = "mof-project-2020", values: Mapping[str, Any] | None = None,
                  rows: Sequence[Mapping[str, Any]] | None = None, **changes: Any) -> Path:
    """The real project template for ``scheme``, filled with ``values`` (default VALUES, updated by
    ``changes``; a None value leaves the cell blank) and ``rows`` (default ROWS)."""
    sch = load_scheme(scheme) if isinstance(scheme, str) else scheme
    path = Path(path)
    blank = path.with_name(path.stem + "_blank.xlsx")
    blank.write_bytes(build_workbook_bytes(sch))
    vals = {**(VALUES if values is None else values), **changes}
    return fill_project(blank, path, {k: v for k, v in vals.items() if v is not None},
                        ROWS if rows is None else rows)
