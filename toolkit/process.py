"""One workbook in a worker process: read, validate, score, stage its document; never raises.

``process_file`` is what the batch's worker processes run for each workbook; it is the only place
a workbook is read during a run (phase 2, the duplicate rule, works on the results alone).
Documents are staged under ``OUT/.staging/`` and moved to their final names by the batch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from toolkit.fields import problem_sort_key
from toolkit.model import ProjectScore, Submission
from toolkit.problems import Problem, problem
from toolkit.results import IndicatorResult, Status, UnitResult
from toolkit.rules.excel import LIVE_TOTAL
from toolkit.rules.loader import load_scheme
from toolkit.rules.model import Scheme
from toolkit.rules.types.adjust import AdjustedScorecard
from toolkit.text.address import split_location
from toolkit.text.numbers import exact, json_number, round2
from toolkit.write import atomic

STAGING_DIR = ".staging"
PROJECT_KEYS = ("project_name", "project_code", "dept_name")  # a project unit's identity in results.json


@dataclass(frozen=True)
class RunRecord:
    """What the batch keeps of a unit beyond its results.json entry (never written out)."""

    key: tuple[Any, ...] | None = None  # the validate.UnitKey fields, for the duplicate rule
    scheme: str | None = None  # id of the scheme that scored the unit
    staging: str | None = None  # staged document (relative to OUT) waiting for its final name
    report_name: str | None = None  # the report's final file name
    report_date: str | None = None  # ISO 报告日期, for --prefer newest
    problem_texts: tuple[str, ...] = ()  # the clerk's 存在的问题 rows, for the 汇总分析报告's themes


@dataclass(frozen=True)
class UnitOutcome:
    """One workbook's result: its typed results.json entry plus what phase 2 needs."""

    unit: UnitResult
    record: RunRecord = RunRecord()
    disk_full: bool = False  # writing its documents found the disk full: the run stops


def _text(values: Mapping[str, Any] | None, k: str) -> str | None:
    """A read value as trimmed text; None when blank (or nothing was read)."""
    v = values.get(k) if values is not None else None
    return None if v is None or str(v).strip() == "" else str(v).strip()


def new_unit(rel: str, status: Status, values: Mapping[str, Any] | None,
             problems: Iterable[Problem] = (), scheme: str | None = None, form: str | None = None) -> UnitResult:
    """A unit with the identity fields read from the workbook (scores and outputs empty); ``form``
    (dept / project) when the workbook could be read, with a project's own identity fields."""
    year = values.get("fiscal_year") if values else None
    return UnitResult(file=rel, status=status, unit_name=_text(values, "unit_name"),
                      unit_code=_text(values, "unit_code"), fiscal_year=year if isinstance(year, int) else None,
                      contact_name=_text(values, "contact_name"), contact_email=_text(values, "contact_email"),
                      problems=tuple(problems),
                      extra={"scheme": scheme, **({"form": form} if form else {}),
                             **(_project_identity(values) if form == "project" and values is not None else {})})


def _project_identity(values: Mapping[str, Any]) -> dict[str, Any]:
    """A project unit's own keys (all present, null when unknown: the schema requires them)."""
    def money(k: str) -> float | None:
        v = values.get(k)
        return float(v) if isinstance(v, Decimal) else None

    return {**{k: _text(values, k) for k in PROJECT_KEYS}, "execution_rate": None,
            "fund_full": money("fund_total_full"), "fund_spent": money("fund_total_spent")}


def sorted_problems(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """In workbook order (sheet, row, column); params are kept so the text can be re-rendered after
    the returned workbook moves the cells (results.json drops them)."""
    return tuple(sorted(problems, key=problem_sort_key))


def crashed_unit(rel: str, detail: str) -> UnitResult:
    return new_unit(rel, "unreadable", None, [problem("worker_crash", detail=detail)])


# --------------------------------------------------------------------------- fault injection (tests)
def fault(rel: str) -> str | None:
    """Tests only: ``JIXIAO_FAULT_INJECT="a.xlsx,b.xlsx=slow"`` → what to do for ``rel``
    (exit: the worker dies; abort: SIGABRT like a reader abort; sleepN: sleep N s (default 60)
    first; enospc: writing its documents fails with a full disk)."""
    spec = os.environ.get("JIXIAO_FAULT_INJECT")
    if not spec:
        return None
    for item in spec.split(","):
        name, _, mode = item.partition("=")
        if name == rel:
            return mode or "exit"
    return None


# --------------------------------------------------------------------------- phase 1
def process_file(path: str, rel: str, scheme_ref: str | None, out_dir: str | None, index: int,
                 projects: tuple[ProjectScore, ...] = ()) -> UnitOutcome:
    """Read, validate, score one workbook and write its documents. Never raises. ``projects``: the
    unit's project forms, for a department report whose outline lists them (a second pass)."""
    mode = fault(rel)
    if mode == "exit":
        os._exit(70)
    elif mode == "abort":
        os.abort()
    elif mode is not None and mode.startswith("sleep"):
        time.sleep(float(mode[5:] or 60))
    try:
        if mode == "enospc":
            raise OSError(28, "No space left on device", out_dir)
        return _process_file(Path(path), rel, scheme_ref, Path(out_dir) if out_dir else None, index, projects)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a bug or a hostile file we did not foresee: this file only
        # (BaseException: a panic inside python-calamine's Rust code arrives as pyo3's
        # PanicException, which is not an Exception)
        if atomic.is_disk_full(e):  # not this file's fault: the run stops (phase 2 raises DiskFull)
            return UnitOutcome(new_unit(rel, "unreadable", None), disk_full=True)
        if os.environ.get("JIXIAO_DEBUG"):
            traceback.print_exc()
        return UnitOutcome(crashed_unit(rel, f"{type(e).__name__}: {e}"[:300]))


def process_file_packed(path: str, rel: str, scheme_ref: str | None, out_dir: str | None,
                        index: int, projects: tuple[ProjectScore, ...] = ()) -> tuple[bytes, RunRecord, bool]:
    """``process_file`` as the batch's workers run it: the unit is pickled once, here, into the bytes
    the main process keeps (store.decode reads them), so it crosses the pipe as one bytes object and
    the main process never decodes or re-encodes it in phase 1. Never raises."""
    o = process_file(path, rel, scheme_ref, out_dir, index, projects)
    return pickle.dumps(o.unit, pickle.HIGHEST_PROTOCOL), o.record, o.disk_full


def _live_total_mismatch(values: Mapping[str, Any], addresses: Mapping[str, str], total: Decimal) -> list[Problem]:
    """The workbook's cached live 总分 (自评得分) when it is a number more than 0.005 off the scored total:
    a warning naming both (a formula changed, or a stale cache); never trusted, never an error."""
    cached = values.get(LIVE_TOTAL)
    if not isinstance(cached, (int, float)) or isinstance(cached, bool) or not math.isfinite(cached):
        return []
    if abs(Decimal(repr(cached)) - total) <= Decimal("0.005"):
        return []
    sheet, cell = split_location(addresses.get(LIVE_TOTAL))
    return [problem("live_total_mismatch", sheet=sheet, cell=cell, where=f"{sheet}!{cell}", live=exact(round2(Decimal(repr(cached)))),
                    total=exact(total))]


def _process_file(path: Path, rel: str, scheme_ref: str | None, out: Path | None, index: int,
                  projects: tuple[ProjectScore, ...] = ()) -> UnitOutcome:
    from toolkit.check import validate  # lazy (toolkit/__init__.py)
    from toolkit.rules import scoring  # lazy (toolkit/__init__.py)

    scheme = load_scheme(scheme_ref) if scheme_ref else None
    check = validate.check_file(path, rel, scheme)
    sub = check.submission
    problems = list(check.problems)
    card = None
    if sub is not None and check.status != "unreadable":
        card = scoring.score(check.scheme, sub)
        problems.extend(card.problems)
        problems.extend(_live_total_mismatch(check.raw.values if check.raw else {},
                                             check.raw.addresses if check.raw else {}, card.total))
    status: Status = check.status
    if status != "unreadable":
        status = "invalid" if any(p.severity == "error" for p in problems) else "ok"
    scheme_id = check.scheme.id if check.scheme else None
    form = check.scheme.form if status != "unreadable" else None
    unit = new_unit(rel, status, sub.values if sub is not None else None, sorted_problems(problems),
                    scheme_id if status != "unreadable" else None, form)  # an unreadable unit was not scored
    key = validate.unit_key(check)
    rd = sub.values.get("report_date") if sub is not None else None
    record = RunRecord(key=dataclasses.astuple(key) if key else None, scheme=scheme_id,
                       report_date=rd.isoformat() if isinstance(rd, date) else None,
                       problem_texts=_problem_texts(sub))
    scored = status == "ok" and card is not None and sub is not None
    if scored and card is not None:
        unit = dataclasses.replace(
            unit, total=json_number(card.total), grade=card.grade,
            levels={lv.name: float(lv.score) for lv in card.levels},  # Decimal → JSON number, as json_number
            indicators=tuple(IndicatorResult(leaf.id, tuple(leaf.path), float(leaf.points),
                                             json_number(leaf.value), float(leaf.score))
                             for leaf in card.leaves()))
        if form == "project" and sub is not None:
            unit = _project_result(unit, sub, card)
        if isinstance(card, AdjustedScorecard):  # bonus/penalty items: the total before them, each item
            unit = dataclasses.replace(unit, extra={**unit.extra, "base_total": json_number(card.base),
                                                    "adjustments": [
                {"id": a.id, "name": a.name, "kind": a.facts.get("kind"), "points": float(a.points),
                 "score": float(a.score)} for a in card.adjustments]})
    if out is None:
        return UnitOutcome(unit, record)
    if scored and card is not None and sub is not None:
        if form == "project":
            from toolkit.write import project_report  # lazy (toolkit/__init__.py)

            data = project_report.build_project_report(check.scheme, sub, card)
            name = project_report.project_report_file_name(sub)
        else:
            from toolkit.write import report  # lazy (toolkit/__init__.py)

            data = report.build_report(check.scheme, sub, card, projects)
            name = report.report_file_name(sub)
        staging = f"{STAGING_DIR}/{index:06d}.docx"
        atomic.write_bytes(atomic.inside(out, staging), data)
        return UnitOutcome(unit, dataclasses.replace(record, staging=staging, report_name=name))
    if status == "invalid" and check.raw is not None:
        staging = f"{STAGING_DIR}/{index:06d}.xlsx"
        write_returned(check.scheme, check.raw, list(unit.problems), atomic.inside(out, staging))
        return UnitOutcome(unit, dataclasses.replace(record, staging=staging))
    return UnitOutcome(unit, record)


def _project_result(unit: UnitResult, sub: Submission, card: Any) -> UnitResult:
    """A scored project workbook's results.json entry (spec 06): the money and 执行率, and one indicator
    per line of the form: the 预算执行率 line, then every indicator row with its computed score."""
    execution = card.node("execution")
    rate = execution.value if execution is not None else None
    rows: list[IndicatorResult] = []
    if execution is not None:
        rows.append(IndicatorResult(execution.id, (execution.name,), float(execution.points),
                                    json_number(rate), float(execution.score)))
    scored = sorted((rs for leaf in card.leaves() for rs in leaf.rows), key=lambda rs: rs.row.index)
    for rs in scored:
        v = rs.row.values
        path = tuple(str(v.get(k) or "") for k in ("level1", "level2", "name"))
        rows.append(IndicatorResult(f"row{rs.row.index}", path, float(rs.points), json_number(rs.value),
                                    float(rs.score)))
    extra = {**unit.extra, "execution_rate": None if rate is None else round(float(rate), 4),
             "fund_full": float(sub.money("fund_total_full")),
             "fund_spent": float(sub.money("fund_total_spent"))}
    return dataclasses.replace(unit, indicators=tuple(rows), extra=extra)


# --------------------------------------------------------------------------- phase 2
def write_returned(scheme: Scheme, raw: Any, problems: list[Problem], path: Path) -> None:
    from toolkit.forms import returned  # lazy (toolkit/__init__.py)

    returned.write_returned(scheme, raw, problems, path)


def _problem_texts(sub: Submission | None) -> tuple[str, ...]:
    rows = sub.tables.get("problems", ()) if sub is not None else ()
    return tuple(str(r.values.get("problems")) for r in rows if r.values.get("problems"))
