"""A folder of workbooks → reports, returned workbooks, 汇总表.xlsx and results.json.

Phase 1 (worker processes, see workers.py and process.py; every read happens there, even with one
job, so a reader abort costs one file): every workbook is read, validated and scored; its report or
returned workbook is written to ``OUT/.staging/``. Phase 2 (main process): duplicates of the same
unit and year are found across the folder (their returned workbooks are made by the workers);
staged documents are moved to their final names, never over a file the tool did not write
(outputs.py); optional steps (PDF) run guarded; the summary workbook and results.json (with every
output's sha256) are written last. One run at a time holds ``OUT/.jixiao.lock``. Every output is
written atomically, and a rerun after a crash (or kill -9) simply redoes the work.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import textwrap
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from toolkit.errors import JixiaoError
from toolkit.problems import OFFICER_ONLY, problem
from toolkit.process import (
    STAGING_DIR,
    RunRecord,
    UnitOutcome,
    crashed_unit,
    process_file_packed,
    sorted_problems,
)
from toolkit.results import Results, UnitResult
from toolkit.rules.loader import DEFAULT_SCHEME, builtin_ids, load_scheme
from toolkit.rules.model import Scheme
from toolkit.store import UnitStore, encode
from toolkit.text.names import safe_file_stem
from toolkit.text.numbers import fixed
from toolkit.unit_projects import add_project_sections
from toolkit.workers import Crashed, Pool
from toolkit.write import atomic
from toolkit.write.atomic import DiskFull, OutLocked, OutputError, OutsideOut
from toolkit.write.outputs import Outputs, previous_outputs
from toolkit.write.pdf import SOFFICE_HINT, make_pdfs, normalize_pdf, soffice_path

RESULTS_FILE = "results.json"
SUMMARY_FILE = "汇总表.xlsx"
REPORTS_DIR = "reports"
RETURNED_DIR = "returned"

__all__ = ["DiskFull", "NoWorkbooks", "OutLocked", "OutputError", "OutsideOut", "RunResult", "SOFFICE_HINT",
           "check_paths", "normalize_pdf", "run", "soffice_path"]
ANALYSIS_FILE = "汇总分析报告.docx"


class NoWorkbooks(JixiaoError):
    """The inbox holds no workbook (``run`` exits 2); ``skipped`` names the archives found instead."""

    def __init__(self, skipped: Sequence[str] = ()) -> None:
        super().__init__("没有找到填报表（.xlsx）")
        self.skipped = list(skipped)


def skipped_lines(archives: Sequence[str]) -> list[str]:
    return [f"跳过 {a}：压缩包，请先解压" for a in archives]


def returned_rel(rel: str) -> str:
    """``returned/<input path relative to INBOX, extension replaced by .xlsx>``."""
    p = Path(rel)
    return f"{RETURNED_DIR}/{p.with_suffix('.xlsx').as_posix()}"


@dataclass
class RunResult:
    units: Sequence[UnitResult]
    scheme_id: str
    notices: list[str] = field(default_factory=list)
    outputs: list[dict[str, Any]] | None = None  # run only: every file written, with its sha256
    missing: list[dict[str, Any]] | None = None  # run --roster only: roster units without a workbook
    skipped: list[str] = field(default_factory=list)  # archives in the inbox (not opened)
    analysis: str | None = None  # the 汇总分析报告 written by this run (relative to OUT)

    @property
    def counts(self) -> dict[str, int]:
        c = {"ok": 0, "invalid": 0, "unreadable": 0}
        for u in self.units:
            c[u.status] += 1
        return c

    @property
    def all_valid(self) -> bool:
        return all(u.ok for u in self.units)

    def tally(self) -> str:
        """One line: counts and the mean score; with project workbooks, both forms' counts and means."""
        c = self.counts
        totals: dict[bool, list[Decimal]] = {False: [], True: []}
        projects = 0
        for u in self.units:
            is_project = u.is_project
            projects += is_project
            if u.ok and u.total is not None:
                totals[is_project].append(Decimal(str(u.total)))

        def mean(xs: list[Decimal]) -> str:
            return fixed(sum(xs, Decimal(0)) / len(xs)) if xs else "—"

        counts = f"合格 {c['ok']} 份，退回 {c['invalid']} 份，无法读取 {c['unreadable']} 份"
        if not projects:
            return f"处理 {len(self.units)} 份：{counts}；平均分 {mean(totals[False])}"
        return (f"处理 {len(self.units)} 份（项目支出绩效自评表 {projects} 份）：{counts}；"
                f"部门整体平均分 {mean(totals[False])}，项目平均分 {mean(totals[True])}")

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"scheme": self.scheme_id, "units": [u.to_json() for u in self.units]}
        if self.outputs is not None:
            d["outputs"] = self.outputs
        if self.missing is not None:
            d["missing"] = self.missing
        return d

    def write_json(self, path: Path) -> None:
        """results.json, streamed one unit at a time; the same bytes as ``json.dump(indent=2)``."""
        with atomic.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write('{\n  "scheme": ' + json.dumps(self.scheme_id, ensure_ascii=False) + ',\n  "units": ')
            if not len(self.units):
                fh.write("[]")
            else:
                fh.write("[\n")
                for i, u in enumerate(self.units):
                    if i:
                        fh.write(",\n")
                    fh.write(textwrap.indent(json.dumps(u.to_json(), ensure_ascii=False, indent=2), "    "))
                fh.write("\n  ]")
            if self.outputs is not None:
                fh.write(',\n  "outputs": ' + textwrap.indent(
                    json.dumps(self.outputs, ensure_ascii=False, indent=2), "  ")[2:])
            if self.missing is not None:
                fh.write(',\n  "missing": ' + textwrap.indent(
                    json.dumps(self.missing, ensure_ascii=False, indent=2), "  ")[2:])
            fh.write("\n}\n")

    # `jixiao run` rendering: what the officer does next
    def run_lines(self, out_label: str) -> list[str]:
        """The tally, then every workbook the officer must look at, the 未报送 units and where the output is."""
        from toolkit.write.console import run_lines  # lazy (toolkit/__init__.py)

        return run_lines(self.tally(), self.units, self.missing, self.analysis, out_label)

    # `jixiao check` rendering
    def lines(self) -> Iterator[str]:
        for u in self.units:
            for p in u.problems:
                loc = f"{p.sheet}!{p.cell}" if p.sheet and p.cell else (p.sheet or "（文件）")
                tag = "" if p.severity == "error" else "［提示］"
                yield f"{u.file}: {loc}: {tag}{p.message}"

    def check_tally(self) -> str:
        c = self.counts
        errors = sum(len(u.errors) for u in self.units)
        warnings = sum(len(u.warnings) for u in self.units)
        return (f"检查 {len(self.units)} 份：合格 {c['ok']} 份，需修改 {c['invalid']} 份，无法读取 {c['unreadable']} 份；"
                f"错误 {errors} 个，提示 {warnings} 个")


def discover(paths: list[Path]) -> list[tuple[Path, str]]:
    from toolkit.read import discover as inbox  # lazy (toolkit/__init__.py)

    return inbox.discover(paths)


def _scheme_ref(scheme: Scheme | None) -> str | None:
    """What a worker process passes to load_scheme (schemes are loaded once per process)."""
    return None if scheme is None else (scheme.ref or scheme.id)


def _crashed(rel: str, c: Crashed, detail: str | None = None) -> UnitOutcome:
    code = c.exitcode
    why = detail or ("进程消失" if code is None else (f"被系统信号 {-code} 终止" if code < 0 else f"退出码 {code}"))
    return UnitOutcome(crashed_unit(rel, f"处理进程异常退出（{why}）"))


Packed = tuple[bytes, RunRecord, bool]  # process_file_packed's result: unit bytes, record, disk full


def _pack(o: UnitOutcome) -> Packed:
    return encode(o.unit), o.record, o.disk_full


def _iter_outcomes(files: list[tuple[Path, str]], scheme_ref: str | None, out: Path | None, pool: Pool,
                   progress: bool) -> Iterator[tuple[int, Packed]]:
    """(file index, packed outcome) in completion order; every read happens in a worker process."""
    bar = None
    if progress:
        from tqdm import tqdm  # lazy (toolkit/__init__.py)

        bar = tqdm(total=len(files), unit="份", desc="处理", leave=False, dynamic_ncols=True)
    try:
        tasks = ((i, process_file_packed, (str(p), rel, scheme_ref, str(out) if out else None, i))
                 for i, (p, rel) in enumerate(files))
        for i, result in pool.map(tasks):
            if isinstance(result, Crashed):
                result = _pack(_crashed(files[i][1], result))
            elif isinstance(result, BaseException):  # process_file never raises; be safe anyway
                result = _pack(_crashed(files[i][1], Crashed(None), f"{type(result).__name__}: {result}"))
            yield i, result
            if bar:
                bar.update()
    finally:
        if bar:
            bar.close()


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _collect(files: list[tuple[Path, str]], scheme_ref: str | None, out: Path | None, pool: Pool,
             progress: bool, prefer: str | None = None) -> UnitStore:
    """Phase 1 into a UnitStore in file order, then the duplicate rule across all of them."""
    encoded: list[tuple[bytes, RunRecord] | None] = [None] * len(files)
    for i, (item, record, disk_full) in _iter_outcomes(files, scheme_ref, out, pool, progress):
        if disk_full and out is not None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out))  # run() → DiskFull
        encoded[i] = (item, record)
    store = UnitStore.from_encoded(e for e in encoded if e is not None)
    mtimes: dict[str, float] = {}
    if prefer == "newest":
        for p, rel in files:
            try:
                mtimes[rel] = p.stat().st_mtime
            except OSError:
                mtimes[rel] = 0.0
    apply_duplicates(store, mtimes if prefer == "newest" else None)
    return store


def _prefer_newest(store: UnitStore, dups: dict[str, list[Any]], mtimes: dict[str, float]) -> dict[str, list[Any]]:
    """``--prefer newest``: the newest of each duplicate group gets a duplicate_newer warning naming
    the others; the others a duplicate_older error naming the newest (officer-only)."""
    from toolkit.check.officer import newest_of  # lazy (toolkit/__init__.py)

    dates: dict[str, str] = {}
    for i in range(len(store)):
        u, rec = store.get(i)
        if u.file in dups and rec.report_date:
            dates[u.file] = rec.report_date
    out: dict[str, list[Any]] = {}
    for f, probs in dups.items():
        group = sorted({f, *(str((p.params or {}).get("other")) for p in probs)})
        newest = newest_of(group, dates, mtimes)
        p0 = probs[0]
        where = {"sheet": p0.sheet, "cell": p0.cell, "cells": p0.cells, "field": p0.field}
        params = p0.params or {}
        if f == newest:
            out[f] = [problem("duplicate_newer", **where, other=g) for g in group if g != f]
        else:
            out[f] = [problem("duplicate_older", **where, other=newest, unit=params.get("unit"),
                              year=params.get("year"))]
    return out


def apply_duplicates(store: UnitStore, newest_by_mtime: dict[str, float] | None = None) -> None:
    """Phase 2: two workbooks of the same unit and year are both invalid (spec 01); with
    ``--prefer newest`` (file times given) only the older ones are (spec 07)."""
    from toolkit.check.duplicates import UnitKey, duplicates, year_outliers  # lazy (toolkit/__init__.py)

    keys = [UnitKey(*rec.key) for rec in map(store.record, range(len(store))) if rec.key]
    dups = duplicates(keys)
    odd_years = year_outliers(keys)
    if not dups and not odd_years:  # the usual case: no unit needs decoding
        return
    if newest_by_mtime is not None and dups:
        dups = _prefer_newest(store, dups, newest_by_mtime)
    for i in range(len(store)):
        u, rec = store.get(i)
        added = dups.get(u.file, []) + odd_years.get(u.file, [])
        if not added:
            continue
        u = dataclasses.replace(u, problems=sorted_problems([*u.problems, *added]))
        if u.file in dups and any(p.code in OFFICER_ONLY for p in dups[u.file]):
            u = dataclasses.replace(u, status="invalid", total=None, grade=None, levels=None, indicators=None)
        store.set(i, u, rec)


def check_paths(paths: list[Path], scheme: Scheme | None, jobs: int | None = None) -> RunResult:
    """Validate (and score, for note checks) without writing anything."""
    files = discover(paths)
    with Pool(min(jobs or 1, max(1, len(files)))) as pool:
        units = _collect(files, _scheme_ref(scheme), None, pool, progress=False)
    return RunResult(units=units, scheme_id=scheme.id if scheme else _main_scheme(units))


def _main_scheme(units: UnitStore) -> str:
    """The scheme most department workbooks were scored with (results.json ``scheme``, the 汇总表's
    columns); in a run of project workbooks only, the one most of them were scored with."""
    ids: list[str] = [str(rec.scheme) for rec in map(units.record, range(len(units))) if rec.scheme]
    dept = [i for i in ids if i not in builtin_ids("project")] if ids else []
    ids = dept or ids
    return max(sorted(set(ids)), key=ids.count) if ids else DEFAULT_SCHEME


@dataclass(frozen=True)
class Officer:
    """What the officer adds to a run (spec 07): the roster, ``--prefer newest``, last year's results."""

    roster: Sequence[dict[str, str]] | None = None
    prefer: str | None = None  # "newest" or None (duplicates are both returned)
    previous: Results | None = None


def run(inbox: Path | Sequence[Path], out: Path, *, scheme: Scheme | None = None, jobs: int | None = None,
        pdf: bool = False, progress: bool = False, overwrite: bool = False,
        officer: Officer = Officer()) -> RunResult:
    """The main job (``jixiao run``): INBOX may be a folder, a file or several.
    Raises NoWorkbooks (nothing to process) and OutputError (OutLocked, DiskFull, OutsideOut)."""
    from toolkit.read.discover import archives  # lazy (toolkit/__init__.py)

    paths = [Path(inbox)] if isinstance(inbox, (str, Path)) else [Path(p) for p in inbox]
    files = _inputs(paths, out)
    skipped = archives(paths)
    if not files:
        raise NoWorkbooks(skipped)
    needed = space_needed(files)
    atomic.ensure_space(out, needed)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with atomic.OutLock(out, "run"):
            try:
                result = _run(files, out, scheme, jobs, pdf, progress, overwrite, officer)
                result.skipped = skipped
                return result
            finally:
                shutil.rmtree(out / STAGING_DIR, ignore_errors=True)
    except OSError as e:
        if atomic.is_disk_full(e):
            raise DiskFull(out, needed) from None
        raise


def _remove_leftover_parts(out: Path) -> None:
    """``.<name>.part`` files a killed run left, only where a run writes (OUT may be INBOX too)."""
    for p in out.glob(f".*{atomic.PART_SUFFIX}"):
        if p.is_file():
            p.unlink()
    for d in (REPORTS_DIR, RETURNED_DIR, STAGING_DIR):
        atomic.remove_leftover_parts(out / d)


def _inputs(inbox: Sequence[Path], out: Path) -> list[tuple[Path, str]]:
    """The workbooks of INBOX, never our own outputs when OUT lies inside INBOX (or is INBOX)."""
    own = [(out / d).resolve() for d in (REPORTS_DIR, RETURNED_DIR, "mail", STAGING_DIR)]
    ours = {(out / SUMMARY_FILE).resolve(), *((out / rel).resolve() for rel in previous_outputs(out / RESULTS_FILE))}
    from toolkit.read.discover import ARCHIVE_SUFFIXES  # lazy (toolkit/__init__.py)

    return [(p, rel) for p, rel in discover(list(inbox))
            if p.suffix.lower() not in ARCHIVE_SUFFIXES and p.resolve() not in ours and not any(d in p.resolve().parents for d in own)]


REPORT_BYTES = 64 * 1024  # a report is ~30 KB; a returned workbook about its input's size


def space_needed(files: Sequence[tuple[Path, str]]) -> int:
    """A generous estimate of what a run writes: documents, 汇总表 and results.json."""
    total = 1024 * 1024
    for p, _ in files:
        try:
            total += min(p.stat().st_size, 10 * 1024 * 1024) + REPORT_BYTES
        except OSError:
            total += REPORT_BYTES
    return total


def _run(files: list[tuple[Path, str]], out: Path, scheme: Scheme | None, jobs: int | None, pdf: bool,
         progress: bool, overwrite: bool, officer: Officer) -> RunResult:
    _remove_leftover_parts(out)
    shutil.rmtree(out / STAGING_DIR, ignore_errors=True)
    outputs = Outputs(out, previous_outputs(out / RESULTS_FILE), overwrite=overwrite)
    ref = _scheme_ref(scheme)
    # the main process only waits during phase 1: meanwhile it imports what phase 2 uses
    warm = threading.Thread(target=_prepare_phase2, args=(scheme,), daemon=True)
    warm.start()
    with Pool(min(jobs or default_jobs(), max(1, len(files)))) as pool:
        units = _collect(files, ref, out, pool, progress, officer.prefer)
        _drop_duplicate_reports(units, out)
        add_project_sections(units, files, out, scheme, ref, pool)
    warm.join()
    from toolkit.check import officer as lists  # lazy (toolkit/__init__.py)

    missing = None
    if officer.roster is not None:
        changed, missing = lists.apply_roster(units, officer.roster)
        _put(units, changed)
    if officer.previous is not None:
        _put(units, lists.apply_previous(units, officer.previous))

    _place(units, out, outputs)
    notices: list[str] = []
    if pdf:
        notices.extend(make_pdfs(out, [u.report for u in units if u.report], outputs))
    shutil.rmtree(out / STAGING_DIR, ignore_errors=True)

    scheme_id = scheme.id if scheme else _main_scheme(units)
    from toolkit.write import summary  # lazy (toolkit/__init__.py)

    the_scheme = scheme or load_scheme(scheme_id)
    if the_scheme.form != "dept":  # the 汇总表's department columns come from a department scheme
        the_scheme = load_scheme(DEFAULT_SCHEME)
    summary_rel = outputs.claim(SUMMARY_FILE)  # an officer's own 汇总表 is never overwritten
    summary.write_summary(units, the_scheme, atomic.inside(out, summary_rel), missing=missing,
                          previous=officer.previous is not None)
    outputs.record(summary_rel)
    result = RunResult(units=units, scheme_id=scheme_id, notices=notices, missing=missing)
    result.analysis = write_analysis(result, the_scheme, outputs, officer.previous)
    outputs.remove_stale()
    result.notices = [*result.notices, *outputs.notices]
    result.outputs = outputs.as_list()  # every file above, the analysis report included
    result.write_json(out / RESULTS_FILE)
    return result


def write_analysis(result: RunResult, scheme: Scheme, outputs: Outputs, previous: Results | None) -> str | None:
    """The county's 汇总分析报告 (spec 07), written like every output (never over a file that is not
    ours); its path relative to OUT. Optional: a failure is a notice, the main outputs stand."""
    from toolkit.write import analysis_report  # lazy (toolkit/__init__.py)

    try:
        units = result.units
        texts = {u.unit_name: list(rec.problem_texts) for u, rec in map(units.get, range(len(units)))
                 if u.ok and u.unit_name and rec.problem_texts} if isinstance(units, UnitStore) else None
        # the units straight from the compact store, decoded one at a time (memory flat in N)
        view = Results(result.scheme_id, units, {"missing": result.missing} if result.missing is not None else {})
        data = analysis_report.build_analysis(view, scheme, previous, texts)
        return outputs.write(analysis_report.ANALYSIS_FILE, data)
    except Exception as e:  # noqa: BLE001  an optional document must not cost results.json
        if atomic.is_disk_full(e):
            raise
        result.notices.append(f"未生成汇总分析报告（{type(e).__name__}: {e}），其余结果不受影响")
        return None


def _put(units: UnitStore, changed: dict[int, UnitResult]) -> None:
    for i, u in changed.items():
        units.set(i, dataclasses.replace(u, problems=sorted_problems(u.problems)), units.record(i))


def _prepare_phase2(scheme: Scheme | None) -> None:
    """Phase 2's imports and (usually) its scheme, loaded while the workers run phase 1. Best effort:
    phase 2 does the same again (cached) and reports any error itself."""
    try:
        from toolkit.write import summary  # noqa: F401  lazy (toolkit/__init__.py)

        if scheme is None:
            load_scheme(DEFAULT_SCHEME)
    except Exception:  # noqa: S110  phase 2 meets the same error and reports it
        pass


def _drop_duplicate_reports(units: UnitStore, out: Path) -> None:
    """Units that became invalid in phase 2 (duplicates): their staged reports are dropped. They get
    no returned workbook: a duplicate is the officer's to resolve (spec 07), and any error a clerk
    must fix was already returned in phase 1. So phase 2 never reads a workbook again."""
    for i in range(len(units)):
        rec = units.record(i)
        if not (rec.staging and rec.staging.endswith(".docx")) or units[i].ok:  # decoded only if staged
            continue
        atomic.inside(out, rec.staging).unlink(missing_ok=True)
        units.set_record(i, dataclasses.replace(rec, staging=None, report_name=None))


def _place(units: UnitStore, out: Path, outputs: Outputs) -> None:
    """Staged documents → their final names (never over a file that is not ours, see outputs.py)."""
    used: set[str] = set()
    for i in range(len(units)):
        u, rec = units.get(i)
        staging = rec.staging
        if staging is None:
            continue
        src = atomic.inside(out, staging)
        if staging.endswith(".docx"):
            name = rec.report_name or safe_file_stem(Path(u.file).stem, suffix=".docx")
            tag = safe_file_stem(u.unit_code or Path(u.file).stem, 40)
            base, n = name[: -len(".docx")], 1
            while name in used:  # two different units with the same name and year: keep both
                name = safe_file_stem(f"{base}（{tag}{'' if n == 1 else n}）", 200, suffix=".docx")
                n += 1
            used.add(name)
            u = dataclasses.replace(u, report=outputs.place(src, f"{REPORTS_DIR}/{name}"))
        else:
            u = dataclasses.replace(u, returned=outputs.place(src, returned_rel(u.file)))
        units.set(i, u, dataclasses.replace(rec, staging=None, report_name=None))
