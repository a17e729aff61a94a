"""The naive pipeline: the same job with the same libraries used in their default way.

- read: ``pandas.read_excel(path, sheet_name=None, header=None)`` with pandas' default engine for
  .xlsx (openpyxl), every sheet into a DataFrame;
- values: picked by fixed coordinates (taken once from the template's defined names and tables);
- validate: a short re-implementation (required blanks, numbers, budget identity, table points);
- score: ``toolkit.rules.scoring.score`` on a Submission built from those values (the same scoring);
- .docx: python-docx ``add_heading`` / ``add_paragraph`` for the text, and the appendix table
  (8 columns, one row per indicator, ~20–50 rows) filled cell by cell: ``row.cells[c].text = …``
  by default, or ``table.cell(r, c).text = …`` with ``--naive-table cell`` (quadratic in
  python-docx 1.2: about a second a report, so not the default);
- summary: openpyxl, cell by cell; results.json with ``json.dump``.

Single process. It writes no returned workbooks (the fast pipeline does, so the ratio favours
the naive side).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from toolkit.fields import PERF_INDICATORS, table_by_name
from toolkit.model import Submission, TableRow
from toolkit.rules.inputs import field_map
from toolkit.rules.model import Scheme

STAGES = ("read", "validate", "score", "docx", "summary")
_DIRECTIONS = {"≥": "≥", ">=": "≥", "≤": "≤", "<=": "≤", "=": "=", "区间": "区间", "定性": "定性"}
_DATE = re.compile(r"^(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})日?$")


@dataclass
class Layout:
    """Fixed coordinates (0-based row/column of the DataFrame ``header=None`` gives)."""

    cells: dict[str, tuple[str, int, int]]  # field key → (sheet, row, col)
    tables: dict[str, tuple[str, int, int, list[str], int]]  # name → (sheet, first data row, col0, keys, rows)


def layout_from(path: Path, scheme: Scheme) -> Layout:
    """Coordinates of every input of a workbook the template wrote (setup, not timed)."""
    import openpyxl
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, range_boundaries

    wb = openpyxl.load_workbook(path)
    known = field_map(scheme)
    cells: dict[str, tuple[str, int, int]] = {}
    for name, dn in wb.defined_names.items():
        if name not in known:
            continue
        for sheet, coord in dn.destinations:
            col, row = coordinate_from_string(coord.replace("$", ""))
            cells[name] = (sheet, row - 1, column_index_from_string(col) - 1)
    tables: dict[str, tuple[str, int, int, list[str], int]] = {}
    for ws in wb.worksheets:
        for name, ref in ws.tables.items():
            min_col, min_row, max_col, max_row = range_boundaries(ref)
            by_header = {c.header: c.key for c in table_by_name(name).columns}
            keys = [by_header.get(str(ws.cell(min_row, c).value), "") for c in range(min_col, max_col + 1)]
            tables[name] = (ws.title, min_row, min_col - 1, keys, max_row - min_row)
    return Layout(cells, tables)


@dataclass
class NaiveRun:
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    counts: dict[str, int] = field(default_factory=lambda: {"ok": 0, "invalid": 0, "docx": 0})
    wall: float = 0.0


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _cell(frames: dict[str, Any], sheet: str, r: int, c: int) -> Any:
    df = frames.get(sheet)
    if df is None or r >= df.shape[0] or c >= df.shape[1]:
        return None
    v = df.iat[r, c]
    return None if _blank(v) else v


def _dec(v: Any) -> Decimal:
    s = str(v).strip().replace(",", "")
    if s.endswith("%"):
        return Decimal(s[:-1]) / 100
    return Decimal(s)


def _value(kind: str, v: Any) -> Any:
    if v is None:
        return None
    if kind in ("int", "year"):
        return int(float(str(v).replace(",", "")))
    if kind in ("money", "money_signed", "area", "score", "percent"):
        d = _dec(v)
        return d / 100 if kind == "percent" and d > 1 else d
    if kind == "date":
        if isinstance(v, datetime):
            return v.date()
        m = _DATE.match(str(v).strip())
        if not m:
            raise ValueError(v)
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return str(v).strip()


def read_submission(path: Path, rel: str, scheme: Scheme, lay: Layout, run: NaiveRun) -> tuple[Submission, list[str]]:
    import pandas as pd

    t0 = time.perf_counter()
    frames = pd.read_excel(path, sheet_name=None, header=None, engine="openpyxl")
    t1 = time.perf_counter()
    errors: list[str] = []
    fmap = field_map(scheme)
    values: dict[str, Any] = {}
    cells: dict[str, str] = {}
    for key, (sheet, r, c) in lay.cells.items():
        f = fmap[key]
        raw = _cell(frames, sheet, r, c)
        try:
            values[key] = _value(f.kind, raw)
        except (ValueError, InvalidOperation):
            values[key] = None
            errors.append(f"{key}: not a {f.kind}: {raw}")
        cells[key] = f"{sheet}!{chr(65 + c)}{r + 1}"
        if f.required and values[key] is None:
            errors.append(f"{key}: required")
    tables: dict[str, tuple[TableRow, ...]] = {}
    kinds = {c.key: c.kind for c in PERF_INDICATORS.columns}
    for name, (sheet, r0, c0, keys, n) in lay.tables.items():
        rows = []
        for i in range(n):
            vals = {k: _cell(frames, sheet, r0 + i, c0 + j) for j, k in enumerate(keys)}
            if all(v is None for v in vals.values()):
                continue
            if name == "perf_indicators":
                d = _DIRECTIONS.get(str(vals["direction"]).strip())
                if d is None:
                    errors.append(f"row {i + 1}: direction {vals['direction']}")
                vals["direction"] = d
                for k in ("target", "target_max", "actual", "points", "self_score"):
                    if vals[k] is not None and not (d == "定性" and k in ("target", "actual")):
                        try:
                            vals[k] = _dec(vals[k]) if kinds[k] == "text" else Decimal(str(vals[k]))
                        except InvalidOperation:
                            errors.append(f"row {i + 1}: {k} {vals[k]}")
                            vals[k] = None
                    elif vals[k] is not None:
                        vals[k] = str(vals[k])
                if vals["unit"] == "%" and d not in ("定性", None):
                    for k in ("target", "actual"):
                        if vals[k] is not None and vals[k] <= 1:
                            vals[k] *= 100
            rows.append(TableRow(index=i + 1, values=vals,
                                 cells={k: f"{sheet}!{chr(65 + c0 + j)}{r0 + i + 1}" for j, k in enumerate(keys)}))
        tables[name] = tuple(rows)
    # the budget identity and the table points
    m = {k: values.get(k) or Decimal(0) for k in ("carryover_start", "income_fiscal", "income_other", "spend_basic",
                                                  "spend_project", "balance_basic", "balance_project")}
    if abs(m["carryover_start"] + m["income_fiscal"] + m["income_other"] - m["spend_basic"] - m["spend_project"]
           - m["balance_basic"] - m["balance_project"]) > Decimal("0.005"):
        errors.append("budget identity")
    for group, pts in scheme.indicator_groups.items():
        got = sum((r.values["points"] or Decimal(0) for r in tables.get("perf_indicators", ())
                   if r.values["level1"] == group), Decimal(0))
        if got != pts:
            errors.append(f"{group}: points {got} != {pts}")
    for name in ("problems", "plans"):
        if not tables.get(name):
            errors.append(f"{name}: empty")
    tiers = {t["name"] for n in scheme.leaves() if n.rule and n.rule.type == "tiers" for t in n.rule.params["tiers"]}
    for k, v in values.items():
        if k.startswith("tier_") and v is not None and v not in tiers:
            errors.append(f"{k}: {v}")
    sub = Submission(file=rel, values=values, cells=cells, tables=tables, meta={})
    run.seconds["read"] += t1 - t0
    run.seconds["validate"] += time.perf_counter() - t1
    return sub, errors


def _num(d: Any) -> str:
    if d is None:
        return ""
    if isinstance(d, Decimal):
        return f"{d.normalize():f}"
    return str(d)


def import_libraries() -> None:
    """Import pandas, openpyxl and python-docx before timing (imports are not what we measure)."""
    import docx  # noqa: F401
    import openpyxl  # noqa: F401
    import pandas  # noqa: F401


def write_docx(path: Path, scheme: Scheme, sub: Submission, card: Any, table: str = "rows") -> int:
    """The report with python-docx defaults: paragraphs, then the appendix table cell by cell.

    ``table="rows"`` fills ``table.rows[r].cells[c]``; ``"cell"`` calls ``table.cell(r, c)`` for every
    cell, which python-docx 1.2 answers by rebuilding the table's cell list (quadratic). Returns the
    number of table rows.
    """
    from docx import Document
    from docx.enum.text import WD_BREAK

    v = sub.values
    doc = Document()
    doc.add_heading(f"{v.get('region')}{v.get('fiscal_year')}年度{sub.unit_name}整体绩效评价报告", 0)
    doc.add_paragraph(f"根据有关文件精神，我单位对{v.get('fiscal_year')}年部门整体支出进行了绩效自评，现报告如下：")
    doc.add_heading("一、部门概况", 1)
    for para in str(v.get("functions") or "").split("\n"):
        doc.add_paragraph(para)
    doc.add_paragraph(f"核定人员编制{v.get('staff_quota')}人，实有在职在编人数{v.get('staff_actual')}人。")
    doc.add_heading("二、部门整体收支结余情况", 1)
    doc.add_paragraph(f"收到财政资金{_num(v.get('income_fiscal'))}万元，基本支出{_num(v.get('spend_basic'))}万元，"
                      f"项目支出{_num(v.get('spend_project'))}万元。")
    doc.add_heading("三、预算执行与管理情况", 1)
    doc.add_paragraph(f"我单位{v.get('fiscal_year')}年度评价得分为{_num(card.total)}分。")
    for lv in card.levels:
        doc.add_heading(f"{lv.name}{_num(lv.points)}分", 2)
        for node in lv.children:
            items = "；".join(f"{leaf.name}得{_num(leaf.score)}分" for leaf in node.leaves)
            doc.add_paragraph(f"{node.name}得{_num(node.score)}分。其中：{items}。")
            for leaf in node.leaves:
                for n, rs in enumerate(leaf.rows, start=1):
                    rv = rs.row.values
                    doc.add_paragraph(f"指标{n}：{rv.get('name')}{rv.get('direction')}{_num(rv.get('target'))}"
                                      f"{rv.get('unit') or ''}，实际完成{_num(rv.get('actual'))}，得{_num(rs.score)}分")
    doc.add_heading("四、绩效情况", 1)
    for key in ("duty_analysis", "benefit_economic", "benefit_social", "benefit_sustainable", "admin_efficiency"):
        for para in str(v.get(key) or "").split("\n"):
            if para:
                doc.add_paragraph(para)
    for title, name in (("五、存在的问题", "problems"), ("六、后续的工作计划", "plans")):
        doc.add_heading(title, 1)
        for n, item in enumerate(sub.tables.get(name, ()), start=1):
            doc.add_paragraph(f"{n}. {item.values.get(name)}")
    doc.add_paragraph(sub.unit_name)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_paragraph("附件：部门整体支出绩效自评表")
    rows: list[list[str]] = [["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"],
                             ["单位名称", sub.unit_name, "", "评价年度", str(v.get("fiscal_year")), "", "", ""],
                             ["年初预算数", _num(v.get("budget_initial")), "全年预算数", "", "全年执行数", "", "执行率", ""],
                             ["年度总体目标", "预期", str(v.get("goal_expected") or ""), "", "", "", "", ""],
                             ["", "实际", str(v.get("goal_actual") or ""), "", "", "", "", ""]]
    for leaf in card.leaves():
        if leaf.rows:
            for rs in leaf.rows:
                rv = rs.row.values
                rows.append([leaf.path[0], str(rv.get("level2") or ""), str(rv.get("name") or ""),
                             _num(rv.get("target")), _num(rv.get("actual")), _num(rs.points), _num(rs.score),
                             str(rv.get("deviation_note") or "")])
        else:
            rows.append([leaf.path[0], leaf.path[1], leaf.name, "", _num(leaf.value), _num(leaf.points),
                         _num(leaf.score), ""])
    rows.append(["总分", "", "", "", "", _num(sum((lv.points for lv in card.levels), Decimal(0))), _num(card.total), ""])
    tbl = doc.add_table(rows=len(rows), cols=8)
    tbl.style = "Table Grid"
    if table == "cell":
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                tbl.cell(r, c).text = text
    else:
        for row, tr in zip(rows, tbl.rows, strict=True):
            cells = tr.cells
            for c, text in enumerate(row):
                cells[c].text = text
    doc.save(str(path))
    return len(rows)


def write_summary(path: Path, units: list[dict[str, Any]], scheme: Scheme) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    leaves = scheme.leaves()
    headers = ["文件", "单位名称", "单位编码", "状态", "总分", "等级"] + [lv.name for lv in scheme.levels] + \
              [leaf.name for leaf in leaves]
    for c, h in enumerate(headers, start=1):
        ws.cell(row=1, column=c, value=h)
    for r, u in enumerate(units, start=2):
        row = [u["file"], u["unit_name"], u["unit_code"], u["status"], u["total"], u["grade"]]
        row += [(u["levels"] or {}).get(lv.name) for lv in scheme.levels]
        scores = {i["id"]: i["score"] for i in u["indicators"] or ()}
        row += [scores.get(leaf.id) for leaf in leaves]
        for c, val in enumerate(row, start=1):
            ws.cell(row=r, column=c, value=val)
    wp = wb.create_sheet("问题清单")
    r = 1
    for u in units:
        for p in u["problems"]:
            for c, val in enumerate((u["file"], u["unit_name"], p), start=1):
                wp.cell(row=r, column=c, value=val)
            r += 1
    wb.save(str(path))
    with open(path.with_name("results.json"), "w", encoding="utf-8") as fh:
        json.dump({"scheme": scheme.id, "units": units}, fh, ensure_ascii=False, indent=2)


def run(files: list[tuple[Path, str]], out: Path, scheme: Scheme, lay: Layout, table: str = "rows") -> NaiveRun:
    """The naive pipeline over ``files`` into ``out`` (one process)."""
    from toolkit.rules.scoring import score

    out.mkdir(parents=True, exist_ok=True)
    (out / "reports").mkdir(exist_ok=True)
    run = NaiveRun()
    units: list[dict[str, Any]] = []
    start = time.perf_counter()
    for i, (path, rel) in enumerate(files):
        sub, errors = read_submission(path, rel, scheme, lay, run)
        t0 = time.perf_counter()
        card = score(scheme, sub)
        run.seconds["score"] += time.perf_counter() - t0
        errors += [p.message for p in card.problems if p.severity == "error"]
        ok = not errors
        run.counts["ok" if ok else "invalid"] += 1
        u = {"file": rel, "status": "ok" if ok else "invalid", "unit_name": sub.unit_name,
             "unit_code": sub.values.get("unit_code"), "total": float(card.total) if ok else None,
             "grade": card.grade if ok else None,
             "levels": {lv.name: float(lv.score) for lv in card.levels} if ok else None,
             "indicators": [{"id": leaf.id, "score": float(leaf.score)} for leaf in card.leaves()] if ok else None,
             "problems": errors}
        if ok:
            t0 = time.perf_counter()
            write_docx(out / "reports" / f"{i:05d}.docx", scheme, sub, card, table=table)
            run.seconds["docx"] += time.perf_counter() - t0
            run.counts["docx"] += 1
        units.append(u)
    t0 = time.perf_counter()
    write_summary(out / "汇总表.xlsx", units, scheme)
    run.seconds["summary"] += time.perf_counter() - t0
    run.wall = time.perf_counter() - start
    return run
