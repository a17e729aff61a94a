"""The units of 汇总表 ordered, ranked and tallied: one pass over them, light records kept.

``rank_units`` orders units for display (competition ranks among valid units); ``scan`` reads each
unit once into a ``RankedUnit`` and the statistics of the 统计 sheet (``Tally``), so the sheets
can fetch ``units[i]`` again only for the row they write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from toolkit.results import UnitResult
from toolkit.rules.model import Scheme
from toolkit.text.numbers import exact, round2, to_decimal

STATUS_LABELS = {"ok": "合格", "invalid": "退回修改", "unreadable": "无法读取"}
SEVERITY_LABELS = {"error": "错误", "warning": "提示"}
_STATUS_ORDER = {"ok": 0, "invalid": 1, "unreadable": 2}
TITLE = "部门整体支出绩效自评汇总表"

# Score bands of the 统计 sheet, as percentages of the scheme's total points.
BAND_CUTS = (60, 70, 80, 90)


def status_label(status: str | None) -> str:
    """``ok`` → 合格, ``invalid`` → 退回修改, ``unreadable`` → 无法读取 (anything else as is)."""
    return STATUS_LABELS.get(status or "", status or "")


def severity_label(severity: str | None) -> str:
    return SEVERITY_LABELS.get(severity or "", severity or "")



# --------------------------------------------------------------------------- ordering and numbers
@dataclass(frozen=True, slots=True)
class RankedUnit:
    """A light record of one unit, enough to order the sheets and size their columns.

    The unit itself stays in ``results["units"]``; the sheets fetch ``units[index]`` again for the
    row they write.
    """

    index: int  # position in results["units"]
    status: Any
    total: Decimal | None  # the total as a 2-decimal Decimal; None when missing or not a number
    unit_code: Any
    unit_name: Any
    file: Any
    has_problems: bool = False
    rank: int | None = None  # competition rank among valid units (1, 2, 2, 4); None when not ranked


def score_key(total: Any) -> Decimal | None:
    """A total as a 2-decimal Decimal (so 89.99999999 and 90.0 from floats compare as scored)."""
    d = to_decimal(total)
    if d is None:
        return None
    try:
        return round2(d)
    except InvalidOperation:  # infinity
        return None


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A light record of one project workbook: enough to order 项目汇总 and to tally its unit's row."""

    index: int  # position in results["units"]
    status: Any
    total: Decimal | None
    unit_code: Any
    unit_name: Any
    fiscal_year: Any
    file: Any
    has_problems: bool = False


@dataclass
class ProjectIndex:
    """The project workbooks of a run, found again by their unit (``of_unit``)."""

    records: list[ProjectRecord] = field(default_factory=list)
    _by_code: dict[tuple[Any, str], list[ProjectRecord]] = field(default_factory=dict)
    _by_name: dict[tuple[Any, str], list[ProjectRecord]] = field(default_factory=dict)

    def add(self, rec: ProjectRecord) -> None:
        self.records.append(rec)
        if rec.unit_code:
            self._by_code.setdefault((rec.fiscal_year, str(rec.unit_code)), []).append(rec)
        if rec.unit_name:
            self._by_name.setdefault((rec.fiscal_year, str(rec.unit_name)), []).append(rec)

    def of_unit(self, fiscal_year: Any, unit_code: Any, unit_name: Any) -> list[ProjectRecord]:
        """The unit's project workbooks: same year, and the same unit_code when both have one, else
        the same unit_name."""
        out: list[ProjectRecord] = []
        if unit_code:
            out += self._by_code.get((fiscal_year, str(unit_code)), [])
        if unit_name:
            out += [r for r in self._by_name.get((fiscal_year, str(unit_name)), [])
                    if not (unit_code and r.unit_code)]
        return sorted(out, key=lambda r: r.index)

    @staticmethod
    def count_and_mean(records: Sequence[ProjectRecord]) -> tuple[int, Decimal | None]:
        """项目数 (all the unit's project workbooks) and 项目平均分 (mean of the ok ones' totals, 2 decimals)."""
        scores = [r.total for r in records if r.status == "ok" and r.total is not None]
        return len(records), (round2(sum(scores, Decimal(0)) / len(scores)) if scores else None)


def _record(index: int, u: UnitResult) -> RankedUnit:
    return RankedUnit(index, u.status, score_key(u.total), u.unit_code, u.unit_name, u.file, bool(u.problems))


def rank_units(units: Iterable[UnitResult]) -> list[RankedUnit]:
    """Units in display order with their rank, as light records (``index`` is the position in ``units``).

    Valid units with a total come first, by total descending (ties share a rank, competition
    style; equal totals are listed by unit code, then name, then file); then the remaining valid
    units, then invalid, then unreadable, then anything else, each by file.
    """
    return rank([_record(i, u) for i, u in enumerate(units)])


def rank(records: Iterable[RankedUnit]) -> list[RankedUnit]:
    """``rank_units`` on records already taken (in input order, which breaks remaining ties)."""
    ranked: list[RankedUnit] = []
    rest: list[RankedUnit] = []
    for rec in records:
        (ranked if rec.status == "ok" and rec.total is not None else rest).append(rec)

    def tie(r: RankedUnit) -> tuple[Any, ...]:
        code, name = r.unit_code, r.unit_name
        return (code is None, str(code or ""), name is None, str(name or ""), str(r.file or ""))

    ranked.sort(key=lambda r: (-r.total if r.total is not None else Decimal(0), tie(r)))
    out: list[RankedUnit] = []
    prev: Decimal | None = None
    rank = 0
    for i, r in enumerate(ranked, start=1):
        if r.total != prev:
            rank, prev = i, r.total
        out.append(replace(r, rank=rank))
    rest.sort(key=lambda r: (_STATUS_ORDER.get(r.status or "", 3), str(r.file or "")))
    out.extend(rest)
    return out



def is_number(v: Any) -> TypeGuard[int | float | Decimal]:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)



def band_labels(total: Decimal) -> list[tuple[Decimal | None, Decimal | None, str]]:
    """[(low inclusive, high exclusive, label)] for the score distribution."""
    cuts = [total * c / 100 for c in BAND_CUTS]
    out: list[tuple[Decimal | None, Decimal | None, str]] = [(None, cuts[0], f"{exact(cuts[0])}分以下")]
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        out.append((lo, hi, f"{exact(lo)}～{exact(hi)}分"))
    out.append((cuts[-1], None, f"{exact(cuts[-1])}分及以上"))
    return out


def in_band(v: Decimal, lo: Decimal | None, hi: Decimal | None) -> bool:
    return (lo is None or v >= lo) and (hi is None or v < hi)



# --------------------------------------------------------------------------- the workbook
@dataclass(frozen=True)
class Counts:
    total: int
    by_status: dict[str, int]


@dataclass
class Tally:
    """Everything the sheets need beyond the records, taken in the same single pass over the units."""

    counts: Counts  # department workbooks only
    years: set[int] = field(default_factory=set)  # at most two: only "exactly one year" matters
    n_ok: int = 0  # valid units (with or without a total)
    totals: list[Decimal] = field(default_factory=list)  # totals of valid units, in input order
    grades: dict[str, int] = field(default_factory=dict)  # valid units per grade of the scheme
    level_sums: dict[str, Decimal] = field(default_factory=dict)  # level name → sum over valid units
    level_ns: dict[str, int] = field(default_factory=dict)  # level name → valid units with a score
    projects: ProjectIndex = field(default_factory=ProjectIndex)  # project workbooks (never ranked)


def scan(units: Sequence[UnitResult], scheme: Scheme) -> tuple[list[RankedUnit], Tally]:
    """One pass over ``units``, each fetched once and dropped: a light record per department unit, the
    tally of the department units, and the project workbooks apart (``tally.projects``)."""
    records: list[RankedUnit] = []
    by_status = {s: 0 for s in STATUS_LABELS}
    projects = ProjectIndex()
    tally = Tally(Counts(0, by_status), grades={g.name: 0 for g in scheme.grades}, projects=projects)
    for i in range(len(units)):
        u = units[i]
        if u.is_project:
            projects.add(ProjectRecord(i, u.status, score_key(u.total), u.unit_code, u.unit_name, u.fiscal_year,
                                       u.file, bool(u.problems)))
            if len(tally.years) < 2 and is_number(y := u.fiscal_year):
                tally.years.add(int(y))
            continue
        rec = _record(i, u)
        records.append(rec)
        s = rec.status or ""
        by_status[s] = by_status.get(s, 0) + 1
        if len(tally.years) < 2 and is_number(y := u.fiscal_year):
            tally.years.add(int(y))
        if rec.status != "ok":
            continue
        tally.n_ok += 1
        if rec.total is not None:
            tally.totals.append(rec.total)
        g = u.grade
        if isinstance(g, str) and g in tally.grades:
            tally.grades[g] += 1
        if u.extra.get("scheme") not in (None, scheme.id):
            continue  # scored by another scheme (a mixed inbox): its 一级指标 differ, keep them out of the averages
        levels = u.levels or {}
        for lv in scheme.levels:
            v = score_key(levels.get(lv.name))
            if v is not None:
                tally.level_sums[lv.name] = tally.level_sums.get(lv.name, Decimal(0)) + v
                tally.level_ns[lv.name] = tally.level_ns.get(lv.name, 0) + 1
    tally.counts = Counts(len(units) - len(projects.records), by_status)
    return records, tally



def title_text(years: set[int]) -> str:
    if len(years) == 1:
        return f"{next(iter(years))}年度{TITLE}"
    return TITLE


def count_note(counts: Counts) -> str:
    s = counts.by_status
    text = (f"共 {counts.total} 份：合格 {s.get('ok', 0)} 份，退回修改 {s.get('invalid', 0)} 份，"
            f"无法读取 {s.get('unreadable', 0)} 份")
    other = counts.total - sum(s.get(k, 0) for k in STATUS_LABELS)
    return text + (f"，其他 {other} 份" if other else "")


def project_note(tally: Tally) -> str:
    """The 汇总 sheet's note on the project workbooks ("" when there are none)."""
    n = len(tally.projects.records)
    return f"；另有项目支出绩效自评表 {n} 份（见“项目汇总”）" if n else ""

