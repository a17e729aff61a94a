"""Units matched to the officer's own lists (spec 07): the roster, ``--prefer newest`` and last year's
results. Pure functions over results; the batch puts the changed units back into its store.

- ``apply_roster``: every unit is matched to a roster row (unit_code, else unit_name, else the file
  name for a workbook that could not be read); a unit not in the roster gets a ``not_in_roster``
  warning; the roster's 联系邮箱 fills a unit's empty contact_email; roster rows without a workbook
  are returned as the 未报送 list (results.json ``missing``).
- ``newest_of``: of two workbooks of one unit and year, the newer (report_date, then file time).
- ``apply_previous``: each unit's ``previous_total`` from last year's results, matched by
  unit_code, else unit_name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.problems import problem
from toolkit.results import Results, UnitResult
from toolkit.text.names import safe_file_stem

MISSING_KEYS = ("unit_name", "unit_code", "contact_name", "contact_email")


def _roster_index(roster: Sequence[Mapping[str, str]]) -> tuple[dict[str, int], dict[str, int]]:
    by_code = {r["unit_code"].strip(): i for i, r in enumerate(roster) if r.get("unit_code", "").strip()}
    by_name = {r["unit_name"].strip(): i for i, r in enumerate(roster)}
    return by_code, by_name


def _match(u: UnitResult, roster: Sequence[Mapping[str, str]], by_code: dict[str, int],
           by_name: dict[str, int]) -> int | None:
    if u.unit_code and u.unit_code.strip() in by_code:
        return by_code[u.unit_code.strip()]
    if u.unit_name and u.unit_name.strip() in by_name:
        return by_name[u.unit_name.strip()]
    if u.unit_name is None and u.unit_code is None:  # unreadable: the file is named after the unit
        stem = Path(u.file).stem
        for i, r in enumerate(roster):
            if stem.startswith(safe_file_stem(r["unit_name"], 80)):
                return i
    return None


def apply_roster(units: Sequence[UnitResult], roster: Sequence[Mapping[str, str]]
                 ) -> tuple[dict[int, UnitResult], list[dict[str, Any]]]:
    """Units matched to the roster: the changed ones by index (not_in_roster warning, e-mail
    fallback) and the 未报送 rows."""
    by_code, by_name = _roster_index(roster)
    seen: set[int] = set()
    changed: dict[int, UnitResult] = {}
    for i in range(len(units)):
        u = units[i]
        row = _match(u, roster, by_code, by_name)
        if row is None:
            if u.status == "unreadable":
                continue  # nothing to name it by; it is listed as unreadable anyway
            added = problem("not_in_roster", unit=u.unit_name or u.unit_code or u.file)
            changed[i] = dataclasses.replace(u, problems=(*u.problems, added))
            continue
        if not u.is_project:  # 未报送 is about the department workbook (spec 07)
            seen.add(row)
        email = roster[row].get("contact_email", "").strip()
        if email and not u.contact_email:
            changed[i] = dataclasses.replace(u, contact_email=email)
    missing = [{k: (roster[i].get(k) or None) for k in MISSING_KEYS} for i in range(len(roster)) if i not in seen]
    return changed, missing


def newest_of(files: Sequence[str], report_dates: Mapping[str, str], mtimes: Mapping[str, float]) -> str:
    """The newer of duplicate workbooks: by report_date (ISO text), then file time, then name."""
    return max(files, key=lambda f: (report_dates.get(f) or "", mtimes.get(f, 0.0), f))


def previous_totals(previous: Results) -> tuple[dict[str, float], dict[str, float]]:
    by_code: dict[str, float] = {}
    by_name: dict[str, float] = {}
    for u in previous.units:
        if not u.ok or u.total is None or u.is_project:
            continue  # 比上年 compares department totals
        if u.unit_code:
            by_code[u.unit_code.strip()] = u.total
        if u.unit_name:
            by_name[u.unit_name.strip()] = u.total
    return by_code, by_name


def apply_previous(units: Sequence[UnitResult], previous: Results) -> dict[int, UnitResult]:
    """Every unit with ``previous_total`` (last year's total, or null when it had none), by index."""
    by_code, by_name = previous_totals(previous)
    changed: dict[int, UnitResult] = {}
    for i in range(len(units)):
        u = units[i]
        if u.is_project:
            continue  # a project's total is not its unit's
        total = None
        if u.unit_code and u.unit_code.strip() in by_code:
            total = by_code[u.unit_code.strip()]
        elif u.unit_name and u.unit_name.strip() in by_name:
            total = by_name[u.unit_name.strip()]
        changed[i] = dataclasses.replace(u, extra={**u.extra, "previous_total": total})
    return changed
