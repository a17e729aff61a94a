"""The layout contract of the project form (项目支出绩效自评表, spec 06): where each field, label and
the ``project_indicators`` table land on the one printable sheet 项目自评表.

The sheet follows the MOF 项目支出绩效自评表 on ten columns A–J (0-based rows and columns here):

- rows 0–2: title, （{年度}年度）, a small hint; rows 3–5: the header block (two label/input pairs a row);
- rows 6–10: 项目资金（万元）: a heading row and the 4 × 3 grid (columns D–F), 分值 / 执行率 / 得分 in G–J;
- rows 11–12: 年度总体目标: 预期目标 (B:F) and 实际完成情况 (G:J), tall merged text cells;
- row 13: the ``project_indicators`` header (B–J), then its data rows (12, or more when a returned
  workbook carries more), a thin blank row (see ``spacer_row``); then 总分, the 分值合计 check, 评价结论 / 存在的问题 / 改进措施 and the
  contact and signature lines. ``extra`` rows beyond the 12 move everything below the table down.

``toolkit.forms.layout`` turns ``places(extra)`` into its ``Layout`` (so ``cell_address`` and the
marks of a returned workbook work as for the department form); ``toolkit.forms.project_writer``
writes the sheet from the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit import fields as F

SHEET = F.SHEET_PROJECT
TABLE = F.PROJECT_INDICATORS
NCOLS = 10  # A–J
WIDTHS = (7.0, 10.0, 13.0, 15.0, 11.0, 11.0, 7.0, 9.0, 11.0, 19.0)

ROW_TITLE, ROW_YEAR, ROW_HINT = 0, 1, 2
ROW_HEADER = 3  # header block: rows 3–5
ROW_FUND = 6  # the grid's heading row; FUND_ROWS on rows 7–10
FUND_COL0 = 3  # D: 年初预算数, E: 全年预算数（A）, F: 全年执行数（B）
COL_POINTS, COL_RATE, COL_RATE_LAST, COL_SCORE = 6, 7, 8, 9  # G 分值, H:I 执行率, J 得分
ROW_GOAL = 11  # labels; inputs on row 12
ROW_TABLE = 13  # header row of project_indicators (B13 in 1-based terms: B14)
TABLE_COL0 = 1


@dataclass(frozen=True)
class Slot:
    """One input: its cell (merged over col..last) and its label cell (merged over lcol..llast)."""

    row: int
    col: int
    last: int
    label_row: int
    label_col: int
    label_last: int
    label: str  # the label as the form shows it (may be shorter than the field's own label)


def table_rows(extra: int = 0) -> int:
    return TABLE.rows + extra


def spacer_row(extra: int = 0) -> int:
    """The thin blank locked row right below the table: the reader takes rows typed directly below a
    table as its own (LibreOffice does not grow tables), so the footer must not touch it."""
    return ROW_TABLE + 1 + table_rows(extra)


def footer_row(extra: int = 0) -> int:
    """The row of 总分 (below the spacer)."""
    return spacer_row(extra) + 1


def _pair(row: int, key: str, label: str, lcol: int, llast: int, col: int, last: int) -> tuple[str, Slot]:
    return key, Slot(row, col, last, row, lcol, llast, label)


def slots(extra: int = 0) -> dict[str, Slot]:
    """Field key → its slot on 项目自评表."""
    out: dict[str, Slot] = dict((
        _pair(ROW_HEADER, "project_name", "项目名称", 0, 1, 2, 5),
        _pair(ROW_HEADER, "project_code", "项目编码", 6, 7, 8, 9),
        _pair(ROW_HEADER + 1, "dept_name", "主管部门", 0, 1, 2, 5),
        _pair(ROW_HEADER + 1, "unit_name", "实施单位", 6, 7, 8, 9),
        _pair(ROW_HEADER + 2, "unit_code", "单位编码", 0, 1, 2, 5),
        _pair(ROW_HEADER + 2, "fiscal_year", "年度", 6, 7, 8, 9),
    ))
    for i, (row, row_label) in enumerate(F.FUND_ROWS):
        r = ROW_FUND + 1 + i
        for j, (col, _) in enumerate(F.FUND_COLS):
            out[F.fund_key(row, col)] = Slot(r, FUND_COL0 + j, FUND_COL0 + j, r, 1, 2, row_label)
    out["goal_expected"] = Slot(ROW_GOAL + 1, 1, 5, ROW_GOAL, 1, 5, "预期目标")
    out["goal_actual"] = Slot(ROW_GOAL + 1, 6, 9, ROW_GOAL, 6, 9, "实际完成情况")
    r = footer_row(extra) + 2  # after 总分 and the 分值合计 check
    for i, (key, label) in enumerate((("conclusion", "评价结论"), ("problems_text", "存在的问题"),
                                      ("measures", "改进措施"))):
        out[key] = Slot(r + i, 2, 9, r + i, 0, 1, label)
    r += 3
    out.update((
        _pair(r, "contact_name", "联系人", 0, 1, 2, 3),
        _pair(r, "contact_phone", "联系电话", 4, 4, 5, 6),
        _pair(r, "contact_email", "联系邮箱", 7, 7, 8, 9),
        _pair(r + 1, "project_leader", "项目负责人", 0, 1, 2, 3),
        _pair(r + 1, "finance_leader", "财务负责人", 4, 4, 5, 6),
        _pair(r + 1, "report_date", "填报日期", 7, 7, 8, 9),
    ))
    return out


def last_row(extra: int = 0) -> int:
    return max(s.row for s in slots(extra).values())


def places(extra: int = 0) -> tuple[dict[str, tuple[str, int, int, int]], dict[str, tuple[str, int, int]]]:
    """What ``toolkit.forms.layout.Layout`` needs: key → (sheet, row, col, last col), and
    table name → (sheet, header row, first col)."""
    return ({k: (SHEET, s.row, s.col, s.last) for k, s in slots(extra).items()},
            {TABLE.name: (SHEET, ROW_TABLE, TABLE_COL0)})
