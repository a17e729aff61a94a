"""UnitResults → 汇总表.xlsx: status, scores, ranking, problems and statistics of every unit.

``build_summary_bytes(units, scheme)`` takes the units of a run (``toolkit.results.UnitResult``)
and returns the workbook; ``write_summary`` writes it atomically. The sheets are described in
summary_sheets.py (项目汇总, only when the run has project workbooks, in summary_projects.py); the ordering and statistics in summary_data.py. The output is deterministic:
fixed document dates, fixed zip timestamps, no paths beyond the relative links of the units.

Memory stays flat in the number of units: ``units`` may be any random-access sequence whose
items are decoded on access (the batch's UnitStore keeps them as compact JSON). One pass reads
each unit once into a light ``RankedUnit`` record and the statistics; each sheet then fetches
``units[i]`` for the row it writes and drops it. XlsxWriter runs in ``constant_memory`` mode
(each row goes to a temporary file as soon as the next row starts).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import xlsxwriter

from toolkit.results import UnitResult
from toolkit.rules.model import Scheme
from toolkit.write import summary_officer as officer
from toolkit.write import summary_projects as projects
from toolkit.write import summary_sheets as sheets
from toolkit.write.atomic import atomic_path
from toolkit.write.summary_data import ProjectRecord, RankedUnit, rank, scan, title_text

_CREATED = datetime(2000, 1, 1, tzinfo=timezone.utc)  # fixed: identical bytes on every run
_WORKBOOK_OPTIONS: dict[str, Any] = {
    # One row in memory at a time (rows go to a temporary file); excludes in_memory.
    "constant_memory": True,
    "in_memory": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "default_format_properties": {"font_name": sheets.FONT, "font_size": 11, "font_charset": 134,
                                  "font_scheme": "none"},
}


def build_summary_bytes(units: Iterable[UnitResult], scheme: Scheme, *,
                        missing: Sequence[Mapping[str, Any]] | None = None, previous: bool = False) -> bytes:
    """The 汇总表 of ``units`` as .xlsx bytes (identical for identical input).

    ``units`` may be any random-access sequence of units decoded on access; each unit is fetched
    by index a few times and never more than one at a time is kept.
    """
    buf = io.BytesIO()
    _build(units, scheme, buf, missing, previous)
    return buf.getvalue()


def write_summary(units: Iterable[UnitResult], scheme: Scheme, path: Path, *,
                  missing: Sequence[Mapping[str, Any]] | None = None, previous: bool = False) -> None:
    """Write the 汇总表 to ``path`` atomically (``.<name>.part`` then rename), streaming to disk.
    ``missing`` (run --roster) adds the sheet 未报送; ``previous`` (run --previous) the sheet 比上年."""
    with atomic_path(Path(path)) as part:
        _build(units, scheme, str(part), missing, previous)


def _build(units: Iterable[UnitResult], scheme: Scheme, target: str | IO[bytes],
           missing: Sequence[Mapping[str, Any]] | None = None, previous: bool = False) -> None:
    if not isinstance(units, Sequence):
        units = list(units)  # a plain iterable: no random access, so hold it
    records, tally = scan(units, scheme)
    rows = rank(records)
    del records
    # XlsxWriter's temporary files (rows of each sheet, then the package parts) live here.
    with tempfile.TemporaryDirectory(prefix="jixiao-summary-", ignore_cleanup_errors=True) as tmp:
        wb = xlsxwriter.Workbook(target, {**_WORKBOOK_OPTIONS, "tmpdir": tmp})
        try:
            wb.set_properties({
                "title": title_text(tally.years),
                "subject": scheme.title,
                "author": "jixiao",
                "comments": f"评分方案 {scheme.id}",
                "created": _CREATED,
            })
            fmt = sheets.Formats(wb)
            sheets.summary_sheet(wb.add_worksheet(sheets.SHEET_SUMMARY), fmt, units, rows, scheme, tally)
            if tally.projects.records:
                projects.projects_sheet(wb, wb.add_worksheet(projects.SHEET_PROJECTS), fmt, units, tally)
            sheets.detail_sheet(wb.add_worksheet(sheets.SHEET_DETAIL), fmt, units, rows, scheme)
            with_projects: list[RankedUnit | ProjectRecord] = [*rows, *projects.project_order(tally.projects.records)]
            sheets.problems_sheet(wb.add_worksheet(sheets.SHEET_PROBLEMS), fmt, units, with_projects)
            sheets.stats_sheet(wb, wb.add_worksheet(sheets.SHEET_STATS), fmt, scheme, tally)
            if missing is not None:
                officer.missing_sheet(wb.add_worksheet(officer.SHEET_MISSING), fmt, missing)
            if previous:
                officer.previous_sheet(wb.add_worksheet(officer.SHEET_PREVIOUS), fmt, units, rows)
            wb.close()
        finally:
            if not wb.fileclosed:  # failed half-way: release the row files so the folder can go
                for ws in wb.worksheets():
                    ws._opt_close()

