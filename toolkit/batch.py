"""A folder of workbooks → reports, returned workbooks, 汇总表.xlsx and results.json.

Phase 1 (worker processes, spawn-safe): every workbook is read, validated and scored; a valid
unit's report is written to a ``.part`` staging file, an invalid unit's returned workbook is
written under its final name. Phase 2 (main process): duplicates of the same unit and year are
found across the folder; staging reports are renamed into place (or dropped for duplicates);
the summary workbook and results.json are written last. Every output is written atomically, and a
rerun after a crash (or kill -9) simply redoes the work.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, overload

from . import atomic
from .messages import problem
from .model import Problem
from .schemes import DEFAULT_SCHEME, Scheme, load_scheme

RESULTS_FILE = "results.json"
SUMMARY_FILE = "汇总表.xlsx"
REPORTS_DIR = "reports"
RETURNED_DIR = "returned"
STAGING_DIR = ".staging"


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class UnitOutcome:
    """One workbook's result: its results.json entry plus what phase 2 needs."""

    entry: dict[str, Any]
    staging: str | None = None  # staged report (relative to OUT) waiting for its final name
    report_name: str | None = None  # the report's final file name


def _fmt_num(d: Decimal | None) -> float | None:
    return None if d is None else float(d)


def _unit_entry(rel: str, status: str, values: Mapping[str, Any] | None) -> dict[str, Any]:
    def text(k: str) -> str | None:
        if values is None:
            return None
        v = values.get(k)
        return None if v is None or str(v).strip() == "" else str(v).strip()

    year = values.get("fiscal_year") if values else None
    return {
        "file": rel,
        "status": status,
        "unit_name": text("unit_name"),
        "unit_code": text("unit_code"),
        "fiscal_year": year if isinstance(year, int) else None,
        "contact_name": text("contact_name"),
        "contact_email": text("contact_email"),
        "total": None,
        "grade": None,
        "levels": None,
        "indicators": None,
        "problems": [],
        "report": None,
        "returned": None,
    }


def _sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    # errors first, then by sheet order of appearance is kept (stable)
    return sorted(problems, key=lambda p: 0 if p.severity == "error" else 1)


def returned_rel(rel: str) -> str:
    """``returned/<input path relative to INBOX, extension replaced by .xlsx>``."""
    p = Path(rel)
    return f"{RETURNED_DIR}/{p.with_suffix('.xlsx').as_posix()}"


# --------------------------------------------------------------------------- one workbook (worker)
def process_file(path: str, rel: str, scheme_ref: str | None, out_dir: str | None, index: int) -> UnitOutcome:
    """Read, validate, score one workbook and write its documents. Never raises."""
    if os.environ.get("JIXIAO_FAULT_INJECT") == rel:  # tests: kill this worker outright
        os._exit(70)
    try:
        return _process_file(Path(path), rel, scheme_ref, Path(out_dir) if out_dir else None, index)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a bug or a hostile file we did not foresee: this file only
        # (BaseException: a panic inside python-calamine's Rust code arrives as pyo3's
        # PanicException, which is not an Exception)
        entry = _unit_entry(rel, "unreadable", None)
        detail = f"{type(e).__name__}: {e}"[:300]
        entry["problems"] = [problem("worker_crash", detail=detail).as_dict()]
        if os.environ.get("JIXIAO_DEBUG"):
            traceback.print_exc()
        return UnitOutcome(entry)


def _process_file(path: Path, rel: str, scheme_ref: str | None, out: Path | None, index: int) -> UnitOutcome:
    from . import scoring, validate

    scheme = load_scheme(scheme_ref) if scheme_ref else None
    check = validate.check_file(path, rel, scheme)
    sub = check.submission
    problems = list(check.problems)
    card = None
    if sub is not None and check.status != "unreadable":
        card = scoring.score(check.scheme, sub)
        problems.extend(card.problems)
    status = check.status
    if status != "unreadable":
        status = "invalid" if any(p.severity == "error" for p in problems) else "ok"
    entry = _unit_entry(rel, status, sub.values if sub is not None else None)
    entry["problems"] = [p.as_dict() for p in _sort_problems(problems)]
    entry["_scheme"] = check.scheme.id if check.scheme else None
    key = validate.unit_key(check)
    entry["_key"] = dataclasses.astuple(key) if key else None
    if status == "ok" and card is not None and sub is not None:
        entry["total"] = _fmt_num(card.total)
        entry["grade"] = card.grade
        entry["levels"] = {lv.name: _fmt_num(lv.score) for lv in card.levels}
        entry["indicators"] = [
            {"id": leaf.id, "path": list(leaf.path), "points": _fmt_num(leaf.points),
             "value": _fmt_num(leaf.value), "score": _fmt_num(leaf.score)}
            for leaf in card.leaves()
        ]
    if out is None:
        return UnitOutcome(entry)
    if status == "ok" and card is not None and sub is not None:
        from . import report

        data = report.build_report(check.scheme, sub, card)
        staging = f"{STAGING_DIR}/{index:06d}.docx"
        atomic.write_bytes(out / staging, data)
        return UnitOutcome(entry, staging=staging, report_name=report.report_file_name(sub))
    if status == "invalid" and check.raw is not None:
        _write_returned(check.scheme, check.raw, [Problem(**_problem_kwargs(p)) for p in entry["problems"]],
                        out / returned_rel(rel))
        entry["returned"] = returned_rel(rel)
    return UnitOutcome(entry)


def _problem_kwargs(d: Mapping[str, Any]) -> dict[str, Any]:
    return {"code": d["code"], "severity": d["severity"], "message": d["message"], "sheet": d["sheet"],
            "cell": d["cell"], "cells": tuple(d["cells"]), "field": d["field"]}


def _write_returned(scheme: Scheme, raw: Any, problems: list[Problem], path: Path) -> None:
    from . import returned

    returned.write_returned(scheme, raw, problems, path)


# --------------------------------------------------------------------------- duplicates
# --------------------------------------------------------------------------- run
class UnitStore(Sequence[dict[str, Any]]):
    """The units of a run, each kept as compact JSON bytes and decoded on access.

    A province runs tens of thousands of workbooks: the main process keeps ~2 KB per unit
    instead of ~10 KB of Python objects, and every consumer (phase 2, the summary, results.json)
    decodes one unit at a time.
    """

    def __init__(self, entries: Iterable[dict[str, Any]] = (), public: bool = False) -> None:
        self._items: list[bytes] = [self._encode(e) for e in entries]
        self._public = public

    @staticmethod
    def _encode(entry: Mapping[str, Any]) -> bytes:
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def append(self, entry: Mapping[str, Any]) -> None:
        self._items.append(self._encode(entry))

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        u = json.loads(self._items[i])
        return _public(u) if self._public else u

    def __setitem__(self, i: int, entry: Mapping[str, Any]) -> None:
        self._items[i] = self._encode(entry)

    def public(self) -> UnitStore:
        """The same units without the private ``_…`` keys (what results.json holds)."""
        view = UnitStore(public=True)
        view._items = self._items
        return view


@dataclass
class RunResult:
    units: Sequence[dict[str, Any]]
    scheme_id: str
    notices: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        c = {"ok": 0, "invalid": 0, "unreadable": 0}
        for u in self.units:
            c[u["status"]] += 1
        return c

    @property
    def all_valid(self) -> bool:
        return all(u["status"] == "ok" for u in self.units)

    def tally(self) -> str:
        c = self.counts
        totals = [Decimal(str(u["total"])) for u in self.units if u["status"] == "ok" and u["total"] is not None]
        mean = f"{(sum(totals, Decimal(0)) / len(totals)).quantize(Decimal('0.01'), ROUND_HALF_UP)}" if totals else "—"
        return (f"处理 {len(self.units)} 份：合格 {c['ok']} 份，退回 {c['invalid']} 份，"
                f"无法读取 {c['unreadable']} 份；平均分 {mean}")

    def as_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme_id, "units": [_public(u) for u in self.units]}

    def write_json(self, path: Path) -> None:
        """results.json, streamed one unit at a time; the same bytes as ``json.dump(indent=2)``."""
        with atomic.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write('{\n  "scheme": ' + json.dumps(self.scheme_id, ensure_ascii=False) + ',\n  "units": ')
            if not len(self.units):
                fh.write("[]\n}\n")
                return
            fh.write("[\n")
            for i, u in enumerate(self.units):
                if i:
                    fh.write(",\n")
                fh.write(textwrap.indent(json.dumps(_public(u), ensure_ascii=False, indent=2), "    "))
            fh.write("\n  ]\n}\n")

    # `jixiao check` rendering
    def lines(self) -> Iterator[str]:
        for u in self.units:
            name = u["file"]
            for p in u["problems"]:
                loc = f"{p['sheet']}!{p['cell']}" if p.get("sheet") and p.get("cell") else (p.get("sheet") or "（文件）")
                tag = "" if p["severity"] == "error" else "［提示］"
                yield f"{name}: {loc}: {tag}{p['message']}"

    def check_tally(self) -> str:
        c = self.counts
        errors = sum(1 for u in self.units for p in u["problems"] if p["severity"] == "error")
        warnings = sum(1 for u in self.units for p in u["problems"] if p["severity"] == "warning")
        return (f"检查 {len(self.units)} 份：合格 {c['ok']} 份，需修改 {c['invalid']} 份，无法读取 {c['unreadable']} 份；"
                f"错误 {errors} 个，提示 {warnings} 个")


def _public(u: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in u.items() if not k.startswith("_")}


def discover(paths: list[Path]) -> list[tuple[Path, str]]:
    from . import intake

    return intake.discover(paths)


def _scheme_ref(scheme: Scheme | None) -> str | None:
    """What a worker process passes to load_scheme (schemes are loaded once per process)."""
    return None if scheme is None else (scheme.ref or scheme.id)


def _iter_outcomes(files: list[tuple[Path, str]], scheme_ref: str | None, out: Path | None, jobs: int,
                   progress: bool) -> Iterator[tuple[int, UnitOutcome]]:
    """(file index, outcome) in completion order."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="份", desc="处理", leave=False, dynamic_ncols=True)
    try:
        if jobs <= 1 or len(files) <= 1:
            for i, (p, rel) in enumerate(files):
                yield i, process_file(str(p), rel, scheme_ref, str(out) if out else None, i)
                if bar:
                    bar.update()
            return
        ctx = mp.get_context("spawn")
        retry: list[int] = []
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futs = {pool.submit(process_file, str(p), rel, scheme_ref, str(out) if out else None, i): i
                    for i, (p, rel) in enumerate(files)}
            for fut in cf.as_completed(futs):
                i = futs.pop(fut)
                try:
                    yield i, fut.result()
                except Exception:  # the worker process died (BrokenProcessPool): retry alone
                    retry.append(i)
                if bar:
                    bar.update()
        for i in sorted(retry):
            yield i, _isolated(files[i], scheme_ref, out, i, ctx)
    finally:
        if bar:
            bar.close()


def _isolated(item: tuple[Path, str], scheme_ref: str | None, out: Path | None, i: int,
              ctx: Any) -> UnitOutcome:
    """Run one workbook in a fresh process; if that process dies too, the file is unreadable."""
    p, rel = item
    try:
        with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(process_file, str(p), rel, scheme_ref, str(out) if out else None, i).result()
    except Exception as e:
        entry = _unit_entry(rel, "unreadable", None)
        entry["problems"] = [problem("worker_crash", detail=f"处理进程异常退出（{type(e).__name__}）").as_dict()]
        return UnitOutcome(entry)


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _collect(files: list[tuple[Path, str]], scheme_ref: str | None, out: Path | None, jobs: int,
             progress: bool) -> UnitStore:
    """Phase 1 into a UnitStore in file order, then the duplicate rule across all of them."""
    encoded: list[bytes | None] = [None] * len(files)
    for i, o in _iter_outcomes(files, scheme_ref, out, jobs, progress):
        e = o.entry
        e["_staging"], e["_report_name"] = o.staging, o.report_name
        encoded[i] = UnitStore._encode(e)
    store = UnitStore()
    store._items = [b for b in encoded if b is not None]
    apply_duplicates(store)
    return store


def apply_duplicates(store: UnitStore) -> None:
    """Phase 2: two workbooks of the same unit and year are both invalid (spec 01)."""
    from .validate import UnitKey, duplicates

    dups = duplicates([UnitKey(*u["_key"]) for u in store if u.get("_key")])
    for i in range(len(store)):
        e = store[i]
        if e["file"] not in dups:
            continue
        probs = [p.as_dict() for p in dups[e["file"]]] + e["problems"]
        e["problems"] = [p for _, p in sorted(enumerate(probs), key=lambda ip: (ip[1]["severity"] != "error", ip[0]))]
        e["status"] = "invalid"
        for k in ("total", "grade", "levels", "indicators"):
            e[k] = None
        store[i] = e


def check_paths(paths: list[Path], scheme: Scheme | None, jobs: int | None = None) -> RunResult:
    """Validate (and score, for note checks) without writing anything."""
    files = discover(paths)
    units = _collect(files, _scheme_ref(scheme), None, jobs or 1, progress=False)
    return RunResult(units=units, scheme_id=scheme.id if scheme else _main_scheme(units))


def _main_scheme(units: Sequence[Mapping[str, Any]]) -> str:
    ids: list[str] = [str(u["_scheme"]) for u in units if u.get("_scheme")]
    return max(sorted(set(ids)), key=ids.count) if ids else DEFAULT_SCHEME


def run(inbox: Path, out: Path, *, scheme: Scheme | None = None, jobs: int | None = None, pdf: bool = False,
        progress: bool = False) -> RunResult:
    """The main job (``jixiao run``)."""
    out.mkdir(parents=True, exist_ok=True)
    atomic.remove_leftover_parts(out)
    shutil.rmtree(out / STAGING_DIR, ignore_errors=True)
    files = discover([inbox])
    # never read our own outputs when OUT lies inside INBOX (or is INBOX itself)
    own = [(out / d).resolve() for d in (REPORTS_DIR, RETURNED_DIR, "mail", STAGING_DIR)]
    summary_path = (out / SUMMARY_FILE).resolve()
    files = [(p, rel) for p, rel in files
             if p.resolve() != summary_path and not any(d in p.resolve().parents for d in own)]
    units = _collect(files, _scheme_ref(scheme), out, jobs or default_jobs(), progress)
    notices: list[str] = []

    used_names: set[str] = set()
    for i in range(len(units)):
        u = units[i]
        staging = u.pop("_staging", None)
        report_name = u.pop("_report_name", None)
        if staging is not None:
            src = out / staging
            if u["status"] != "ok":  # became invalid in phase 2 (duplicate): no report; return it instead
                src.unlink(missing_ok=True)
                _return_after_phase2(u, inbox, scheme, out)
            else:
                name = report_name or f"{u['file']}.docx"
                if name in used_names:  # two different units with the same name and year: keep both
                    stem = name[: -len(".docx")]
                    name = f"{stem}（{u.get('unit_code') or Path(u['file']).stem}）.docx"
                used_names.add(name)
                dest = out / REPORTS_DIR / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dest)
                u["report"] = f"{REPORTS_DIR}/{name}"
        units[i] = u

    if pdf:
        notices.extend(_make_pdfs(out, [u["report"] for u in units if u["report"]]))
    _remove_stale(out, units, pdf)
    shutil.rmtree(out / STAGING_DIR, ignore_errors=True)

    scheme_id = scheme.id if scheme else _main_scheme(units)
    result = RunResult(units=units, scheme_id=scheme_id, notices=notices)
    from . import summary

    summary.write_summary({"scheme": scheme_id, "units": units.public()}, scheme or load_scheme(scheme_id),
                          out / SUMMARY_FILE)
    result.write_json(out / RESULTS_FILE)
    return result


def _return_after_phase2(u: dict[str, Any], inbox: Path, scheme: Scheme | None, out: Path) -> None:
    from . import validate

    check = validate.check_file(inbox / u["file"], u["file"], scheme)
    if check.raw is None:
        return
    _write_returned(check.scheme, check.raw, [Problem(**_problem_kwargs(p)) for p in u["problems"]],
                    out / returned_rel(u["file"]))
    u["returned"] = returned_rel(u["file"])


def _remove_stale(out: Path, units: Sequence[Mapping[str, Any]], pdf: bool) -> None:
    """Reports and returned workbooks of an earlier run that this run did not produce are removed,
    so OUT always reflects the latest run (the officer reruns after corrections)."""
    keep = {u["report"] for u in units if u["report"]} | {u["returned"] for u in units if u["returned"]}
    if pdf:
        keep |= {r[: -len(".docx")] + ".pdf" for r in keep if r.endswith(".docx")}
    for sub, exts in ((REPORTS_DIR, (".docx", ".pdf")), (RETURNED_DIR, (".xlsx",))):
        base = out / sub
        if not base.is_dir():
            continue
        for p in base.rglob("*"):
            if p.is_file() and p.suffix.lower() in exts and p.relative_to(out).as_posix() not in keep:
                p.unlink()


# --------------------------------------------------------------------------- PDF (LibreOffice)
SOFFICE_HINT = ("未找到 LibreOffice（soffice），未生成 PDF。安装方法：Windows/macOS 从 libreoffice.org 下载安装；"
                "Debian/Ubuntu：sudo apt-get install libreoffice-writer-nogui fonts-noto-cjk")


def soffice_path() -> str | None:
    """LibreOffice's soffice: on PATH, or where the Windows/macOS installers put it."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    candidates = [Path(os.environ.get(v, "")) / "LibreOffice" / "program" / "soffice.exe"
                  for v in ("ProgramFiles", "ProgramFiles(x86)") if os.environ.get(v)]
    candidates.append(Path("/Applications/LibreOffice.app/Contents/MacOS/soffice"))
    return next((str(c) for c in candidates if c.is_file()), None)


def _make_pdfs(out: Path, reports: list[str]) -> list[str]:
    exe = soffice_path()
    if exe is None:
        return [SOFFICE_HINT]
    if not reports:
        return []
    with tempfile.TemporaryDirectory(prefix=".pdf-", dir=out) as tmp:
        profile = Path(tmp) / "profile"
        conv = Path(tmp) / "pdf"
        conv.mkdir()
        # convert in chunks: one soffice start is the expensive part
        for i in range(0, len(reports), 200):
            chunk = [str(out / r) for r in reports[i:i + 200]]
            subprocess.run([exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                            "--convert-to", "pdf", "--outdir", str(conv), *chunk],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600, check=False)
        missing = []
        for r in reports:
            produced = conv / (Path(r).stem + ".pdf")
            if not produced.exists():
                missing.append(r)
                continue
            atomic.write_bytes(out / (r[: -len(".docx")] + ".pdf"), normalize_pdf(produced.read_bytes()))
    return [f"PDF 生成失败：{m}" for m in missing]


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate)\s*\(D:[^)]*\)")
_PDF_ID = re.compile(rb"/ID\s*\[\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*\]")
_PDF_CHECKSUM = re.compile(rb"/DocChecksum\s*/([0-9A-Fa-f]+)")
_XMP_DATE = re.compile(rb"<(xmp:CreateDate|xmp:ModifyDate|xmp:MetadataDate)>[^<]*</\1>")


def normalize_pdf(data: bytes) -> bytes:
    """Make LibreOffice's PDF repeatable: fixed dates and document ID, same byte lengths (xref stays valid)."""

    def same_len_date(m: re.Match[bytes]) -> bytes:
        whole = m.group(0)
        start = whole.index(b"(D:") + 3
        inner = whole[start:-1]
        fixed = (b"20000101000000" + b"Z" * len(inner))[: len(inner)]
        return whole[:start] + fixed + b")"

    data = _PDF_DATE.sub(same_len_date, data)
    data = _PDF_CHECKSUM.sub(lambda m: m.group(0).replace(m.group(1), b"0" * len(m.group(1))), data)
    data = _PDF_ID.sub(lambda m: m.group(0).replace(m.group(1), b"0" * len(m.group(1)))
                       .replace(m.group(2), b"0" * len(m.group(2))), data)

    def xmp(m: re.Match[bytes]) -> bytes:
        tag = m.group(1)
        inner_len = len(m.group(0)) - 2 * len(tag) - 5
        return b"<" + tag + b">" + (b"2000-01-01T00:00:00" + b" " * inner_len)[:inner_len] + b"</" + tag + b">"

    return _XMP_DATE.sub(xmp, data)
