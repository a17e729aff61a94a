"""Submissions that clash across a batch: the same unit and year twice, a year unlike the batch's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit import fields as F
from toolkit.problems import Problem, problem
from toolkit.text import address as A1


@dataclass(frozen=True)
class UnitKey:
    """What identifies a unit's submission for the duplicate rule (small: crosses processes)."""

    file: str
    year: int
    code: str  # unit_code from the cell, else from _meta; "" when none
    name: str  # trimmed unit_name
    address: str | None  # the unit_name cell, for the problem
    year_address: str | None = None  # the fiscal_year cell (year_outliers)
    # The project form: which project ("c:<项目编码>", else "n:<项目名称>"); "" for the department form,
    # so a unit's department workbook and its project workbooks never clash.
    project: str = ""
    project_name: str = ""


def duplicates(keys: list[UnitKey]) -> dict[str, list[Problem]]:
    """Two workbooks of the same unit and year → a duplicate_unit error on each, naming the other.

    Same unit: same unit_code when both have one, else the same unit_name after trimming; for project
    forms also the same project (项目编码, else 项目名称). Grouped by (year, project, code) and (year,
    project, name), so a province-sized folder stays linear.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, k in enumerate(keys):
        if k.code:
            groups.setdefault(("code", k.year, k.project, k.code), []).append(i)
        if k.name:
            groups.setdefault(("name", k.year, k.project, k.name), []).append(i)
    pairs = sorted({(i, j) for m in groups.values() for x, i in enumerate(m) for j in m[x + 1:]})
    out: dict[str, list[Problem]] = {}
    for i, j in pairs:
        a, b = keys[i], keys[j]
        if not (a.code == b.code if a.code and b.code else bool(a.name) and a.name == b.name):
            continue
        for me, other in ((a, b), (b, a)):
            sheet, cell = A1.split_location(me.address)
            out.setdefault(me.file, []).append(problem(
                "duplicate_unit", sheet=sheet or (F.SHEET_PROJECT if me.project else F.SHEET_BASIC), cell=cell,
                cells=(me.address,) if me.address else (), field="unit_name",
                other=other.file, year=me.year,
                unit=(me.name or me.code) + (f"，项目“{me.project_name}”" if me.project_name else "")))
    return out


_YEAR_LABEL = next(f.label for f in F.BASIC_FIELDS if f.key == "fiscal_year")


def year_outliers(keys: list[UnitKey]) -> dict[str, list[Problem]]:
    """A 评价年度 other than the year most of the batch has (a 2022 among 2023s): a year_mismatch
    warning on that file. Needs at least three units and a year held by more than half of them."""
    years = [k.year for k in keys]
    if len(years) < 3:
        return {}
    common = max(sorted(set(years)), key=years.count)
    if years.count(common) * 2 <= len(years):
        return {}
    out: dict[str, list[Problem]] = {}
    for k in keys:
        if k.year != common:
            sheet, cell = A1.split_location(k.year_address)
            out.setdefault(k.file, []).append(problem(
                "year_mismatch", sheet=sheet or F.SHEET_BASIC, cell=cell, field="fiscal_year",
                label=_YEAR_LABEL, value=k.year, expected=common))
    return out

