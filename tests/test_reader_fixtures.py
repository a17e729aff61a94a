"""The reader against real workbooks saved by WPS, Excel (Windows, Mac, Online) and LibreOffice.

The files live in ../shared/wps-fixtures (see its MANIFEST.md); they are never copied into the
project. For each: no crash and no hang; sheet states, defined names, tables (ref, headers) and
values as openpyxl (another reader) sees them; formula errors in tables read as errors.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest

from toolkit.read import cells as RC
from toolkit.read import ooxml
from toolkit.read.clean import FormulaError

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "wps-fixtures"
FILES = sorted(FIXTURES.glob("*.xlsx")) if FIXTURES.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason=f"{FIXTURES} is absent (real workbooks for reader tests)")
MAX_ROW, MAX_COL = 300, 40


def _openpyxl(path: Path, data_only: bool = True) -> Any:
    from openpyxl import load_workbook

    return load_workbook(path, data_only=data_only, rich_text=False)


def _as_datetime(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    if isinstance(v, dtime):
        return datetime(1899, 12, 30, v.hour, v.minute, v.second, v.microsecond)
    return None


def same_value(ours: Any, theirs: Any, number_format: str) -> bool:
    if isinstance(theirs, str) and theirs == "":
        theirs = None
    if theirs is None or ours is None:
        return ours is None and theirs is None
    if isinstance(theirs, bool) or isinstance(ours, bool):
        return ours is theirs
    if isinstance(theirs, (int, float)):
        if RC.format_kind(number_format) == "percent" and isinstance(ours, str):
            return ours == RC.percent_text(float(theirs))
        return isinstance(ours, float) and ours == float(theirs)
    if isinstance(theirs, timedelta):
        return isinstance(ours, float) and abs(ours - theirs.total_seconds() / 86400) < 1e-6
    if isinstance(theirs, (date, dtime)):
        a, b = _as_datetime(ours), _as_datetime(theirs)
        if a is None or b is None:
            return False
        if isinstance(theirs, dtime) and not isinstance(ours, dtime):  # openpyxl reads 1904 times too
            a = a.replace(year=1899, month=12, day=30)
        return abs((a - b).total_seconds()) < 0.002
    return str(ours) == str(theirs)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_structure_matches_openpyxl(path):
    t = time.perf_counter()
    st = ooxml.read_structure(path)
    wb = _openpyxl(path, data_only=False)
    assert [(s.name, s.state) for s in st.sheets] == [(ws.title, ws.sheet_state) for ws in wb.worksheets] + [
        (s.name, s.state) for s in st.sheets[len(wb.worksheets):]]  # chartsheets are not worksheets
    ours_names = {(n, scope): ref for n, scope, ref in st.names}
    theirs: dict[tuple[str, str | None], str] = {(n, None): d.attr_text for n, d in wb.defined_names.items()}
    for i, ws in enumerate(wb.worksheets):
        theirs.update({(n, str(i)): d.attr_text for n, d in ws.defined_names.items()})
    assert {k: v for k, v in ours_names.items() if not k[0].startswith("_xlnm")} == \
        {k: v for k, v in theirs.items() if not k[0].startswith("_xlnm")}
    ours_tables = {(sheet, p.name): (p.ref, list(p.columns)) for sheet, ps in st.tables.items() for p in ps}
    their_tables = {(ws.title, tb.displayName): (tb.ref, [c.name for c in tb.tableColumns])
                    for ws in wb.worksheets for tb in ws.tables.values()}
    assert ours_tables == their_tables
    assert time.perf_counter() - t < 5


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_values_match_openpyxl(path):
    t = time.perf_counter()
    ours = ooxml.read_sheets(path, MAX_ROW, MAX_COL)
    assert time.perf_counter() - t < 5
    wb = _openpyxl(path)
    bad = []
    for ws in wb.worksheets:
        cells = ours[ws.title]
        seen = set()
        for row in ws.iter_rows(min_row=1, max_row=min(ws.max_row, MAX_ROW), max_col=min(ws.max_column, MAX_COL)):
            for c in row:
                seen.add((c.row, c.column))
                v = cells.get(c.row, c.column)
                if not same_value(v, c.value, c.number_format):
                    bad.append((ws.title, c.coordinate, v, c.value, c.number_format))
        bad += [(ws.title, rc, v, None, "") for rc, v in cells.cells.items() if rc not in seen]
    assert not bad, bad[:10]


@pytest.mark.parametrize("path", [p for p in FILES if b"xl/tables/" in p.read_bytes()] or FILES[:1],
                         ids=lambda p: p.stem)
def test_formula_errors_in_tables_are_errors(path):
    wb = _openpyxl(path)
    ours = ooxml.read_sheets(path, 2000, 64)
    for ws in wb.worksheets:
        for tb in ws.tables.values():
            for row in ws[tb.ref]:
                for c in row:
                    if c.data_type == "e":
                        assert ours[ws.title].get(c.row, c.column) == FormulaError(str(c.value)), c.coordinate
