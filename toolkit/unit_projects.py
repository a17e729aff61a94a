"""The department report's ``projects`` block (spec 06, 08.5): a second pass after phase 1.

A department report is written in phase 1 by a worker that sees one workbook; the unit's project forms
are known only when every workbook has been read. When a department scheme's outline lists the
``projects`` block, the reports of the units that have project forms in this run are written again, in
the workers, with those projects (same staging name: ``_place`` moves the new one). Units are matched as
the 汇总表 matches them (``summary_data.ProjectIndex``: same year, same unit_code when both have one, else
the same unit_name). Schemes without the block cost nothing.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from toolkit.model import ProjectScore
from toolkit.process import process_file_packed
from toolkit.results import UnitResult
from toolkit.rules.loader import SchemeError, load_scheme
from toolkit.rules.model import Scheme
from toolkit.store import UnitStore
from toolkit.workers import Crashed, Pool
from toolkit.write.report.outline import wants_projects
from toolkit.write.summary_data import ProjectIndex, ProjectRecord


def _dec(v: Any) -> Decimal | None:
    return Decimal(str(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def project_score(u: UnitResult) -> ProjectScore:
    return ProjectScore(str(u.extra.get("project_name") or u.file), _dec(u.extra.get("fund_full")),
                        _dec(u.extra.get("fund_spent")), _dec(u.extra.get("execution_rate")),
                        _dec(u.total) if u.ok else None, u.grade if u.ok else None)


def _scheme(sid: str | None, given: Scheme | None, cache: dict[str, Scheme | None]) -> Scheme | None:
    if sid is None:
        return None
    if given is not None and given.id == sid:
        return given
    if sid not in cache:
        try:
            cache[sid] = load_scheme(sid)
        except SchemeError:
            cache[sid] = None
    return cache[sid]


def add_project_sections(store: UnitStore, files: list[tuple[Path, str]], out: Path, scheme: Scheme | None,
                         scheme_ref: str | None, pool: Pool) -> int:
    """Rewrite the staged reports that list the unit's projects; returns how many were rewritten."""
    index = ProjectIndex()
    for i in range(len(store)):
        u = store[i]
        if u.is_project:
            index.add(ProjectRecord(i, u.status, _dec(u.total), u.unit_code, u.unit_name, u.fiscal_year, u.file))
    if not index.records:
        return 0
    cache: dict[str, Scheme | None] = {}
    tasks = []
    for i in range(len(store)):
        u, rec = store.get(i)
        if u.is_project or not u.ok or rec.staging is None:
            continue
        sc = _scheme(rec.scheme, scheme, cache)
        if sc is None or not wants_projects(sc):
            continue
        mine = index.of_unit(u.fiscal_year, u.unit_code, u.unit_name)
        if mine:
            projects = tuple(project_score(store[r.index]) for r in mine)
            path, rel = files[i]
            tasks.append((i, process_file_packed, (str(path), rel, scheme_ref, str(out), i, projects)))
    done = 0
    for _, result in pool.map(tasks):
        if not isinstance(result, (Crashed, BaseException)):  # else the phase-1 report stays
            done += 1
    return done
