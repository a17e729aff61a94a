"""A folder of workbooks → reports, returned workbooks, 汇总表.xlsx and results.json.

Phase 1 (worker processes, see workers.py; every read happens there, even with one job, so a
reader abort costs one file): every workbook is read, validated and scored; its report or
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
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, overload

from toolkit.forms.fields import problem_sort_key
from toolkit.problems import Problem, problem
from toolkit.rules.loader import DEFAULT_SCHEME, load_scheme
from toolkit.rules.model import Scheme
from toolkit.workers import Crashed, Pool
from toolkit.write import atomic
from toolkit.write.atomic import DiskFull, OutLocked, OutputError, OutsideOut
from toolkit.write.names import safe_file_stem
from toolkit.write.outputs import Outputs, previous_outputs
from toolkit.write.pdf import SOFFICE_HINT, make_pdfs, normalize_pdf, soffice_path

RESULTS_FILE = "results.json"
SUMMARY_FILE = "汇总表.xlsx"
REPORTS_DIR = "reports"
RETURNED_DIR = "returned"
STAGING_DIR = ".staging"

__all__ = ["DiskFull", "OutLocked", "OutputError", "OutsideOut", "RunResult", "SOFFICE_HINT", "UnitOutcome",
           "UnitStore", "check_paths", "normalize_pdf", "process_file", "run", "soffice_path"]


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


def _problem_dicts(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """In workbook order (sheet, row, column), with params so the text can be re-rendered after the
    returned workbook moves the cells; ``_public`` drops the params for results.json."""
    return [p.as_dict(with_params=True) for p in sorted(problems, key=problem_sort_key)]


def returned_rel(rel: str) -> str:
    """``returned/<input path relative to INBOX, extension replaced by .xlsx>``."""
    p = Path(rel)
    return f"{RETURNED_DIR}/{p.with_suffix('.xlsx').as_posix()}"


# --------------------------------------------------------------------------- one workbook (worker)
def _fault(rel: str) -> str | None:
    """Tests only: ``JIXIAO_FAULT_INJECT="a.xlsx,b.xlsx=slow"`` → what to do for ``rel``
    (exit: the worker dies; abort: SIGABRT like a reader abort; sleepN: sleep N s (default 60)
    first; enospc: writing its documents fails with a full disk; enospc-return: the same when
    phase 2 writes a duplicate's returned workbook)."""
    spec = os.environ.get("JIXIAO_FAULT_INJECT")
    if not spec:
        return None
    for item in spec.split(","):
        name, _, mode = item.partition("=")
        if name == rel:
            return mode or "exit"
    return None


def process_file(path: str, rel: str, scheme_ref: str | None, out_dir: str | None, index: int) -> UnitOutcome:
    """Read, validate, score one workbook and write its documents. Never raises."""
    fault = _fault(rel)
    if fault == "exit":
        os._exit(70)
    elif fault == "abort":
        os.abort()
    elif fault is not None and fault.startswith("sleep"):
        time.sleep(float(fault[5:] or 60))
    try:
        if fault == "enospc":
            raise OSError(28, "No space left on device", out_dir)
        return _process_file(Path(path), rel, scheme_ref, Path(out_dir) if out_dir else None, index)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # a bug or a hostile file we did not foresee: this file only
        # (BaseException: a panic inside python-calamine's Rust code arrives as pyo3's
        # PanicException, which is not an Exception)
        entry = _unit_entry(rel, "unreadable", None)
        if atomic.is_disk_full(e):  # not this file's fault: the run stops (phase 2 raises DiskFull)
            entry["_disk_full"] = True
            return UnitOutcome(entry)
        detail = f"{type(e).__name__}: {e}"[:300]
        entry["problems"] = [problem("worker_crash", detail=detail).as_dict()]
        if os.environ.get("JIXIAO_DEBUG"):
            traceback.print_exc()
        return UnitOutcome(entry)


def _process_file(path: Path, rel: str, scheme_ref: str | None, out: Path | None, index: int) -> UnitOutcome:
    from toolkit.check import validate
    from toolkit.rules import scoring

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
    entry["problems"] = _problem_dicts(problems)
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
        from toolkit.write import report

        data = report.build_report(check.scheme, sub, card)
        staging = f"{STAGING_DIR}/{index:06d}.docx"
        atomic.write_bytes(atomic.inside(out, staging), data)
        return UnitOutcome(entry, staging=staging, report_name=report.report_file_name(sub))
    if status == "invalid" and check.raw is not None:
        staging = f"{STAGING_DIR}/{index:06d}.xlsx"
        _write_returned(check.scheme, check.raw, [Problem.from_dict(p) for p in entry["problems"]],
                        atomic.inside(out, staging))
        return UnitOutcome(entry, staging=staging)
    return UnitOutcome(entry)


def return_file(path: str, rel: str, scheme_ref: str | None, out_dir: str, index: int,
                problems: list[dict[str, Any]]) -> str | None:
    """Phase 2 (in a worker): the returned workbook of a unit that became invalid (a duplicate),
    staged; its staging path relative to OUT, or None."""
    from toolkit.check import validate

    try:
        if _fault(rel) == "enospc-return":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), out_dir)
        scheme = load_scheme(scheme_ref) if scheme_ref else None
        check = validate.check_file(Path(path), rel, scheme)
        if check.raw is None:
            return None
        staging = f"{STAGING_DIR}/{index:06d}.xlsx"
        _write_returned(check.scheme, check.raw, [Problem.from_dict(p) for p in problems],
                        atomic.inside(Path(out_dir), staging))
        return staging
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:
        if atomic.is_disk_full(e):
            raise  # the pool hands it back; phase 2 stops the run with DiskFull
        return None


def _write_returned(scheme: Scheme, raw: Any, problems: list[Problem], path: Path) -> None:
    from toolkit.forms import returned

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
    outputs: list[dict[str, Any]] | None = None  # run only: every file written, with its sha256

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
        d: dict[str, Any] = {"scheme": self.scheme_id, "units": [_public(u) for u in self.units]}
        if self.outputs is not None:
            d["outputs"] = self.outputs
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
                    fh.write(textwrap.indent(json.dumps(_public(u), ensure_ascii=False, indent=2), "    "))
                fh.write("\n  ]")
            if self.outputs is not None:
                fh.write(',\n  "outputs": ' + textwrap.indent(
                    json.dumps(self.outputs, ensure_ascii=False, indent=2), "  ")[2:])
            fh.write("\n}\n")

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
    """A unit as results.json and ``check --json`` show it: no private keys, no problem params."""
    d = {k: v for k, v in u.items() if not k.startswith("_")}
    d["problems"] = [{k: v for k, v in p.items() if k != "params"} for p in d.get("problems") or ()]
    return d


def discover(paths: list[Path]) -> list[tuple[Path, str]]:
    from toolkit.read import discover as inbox

    return inbox.discover(paths)


def _scheme_ref(scheme: Scheme | None) -> str | None:
    """What a worker process passes to load_scheme (schemes are loaded once per process)."""
    return None if scheme is None else (scheme.ref or scheme.id)


def _crashed(rel: str, c: Crashed, detail: str | None = None) -> UnitOutcome:
    entry = _unit_entry(rel, "unreadable", None)
    code = c.exitcode
    why = detail or ("进程消失" if code is None else (f"被系统信号 {-code} 终止" if code < 0 else f"退出码 {code}"))
    entry["problems"] = [problem("worker_crash", detail=f"处理进程异常退出（{why}）").as_dict()]
    return UnitOutcome(entry)


def _iter_outcomes(files: list[tuple[Path, str]], scheme_ref: str | None, out: Path | None, pool: Pool,
                   progress: bool) -> Iterator[tuple[int, UnitOutcome]]:
    """(file index, outcome) in completion order; every read happens in a worker process."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="份", desc="处理", leave=False, dynamic_ncols=True)
    try:
        tasks = ((i, process_file, (str(p), rel, scheme_ref, str(out) if out else None, i))
                 for i, (p, rel) in enumerate(files))
        for i, result in pool.map(tasks):
            if isinstance(result, Crashed):
                result = _crashed(files[i][1], result)
            elif isinstance(result, BaseException):  # process_file never raises; be safe anyway
                result = _crashed(files[i][1], Crashed(None), f"{type(result).__name__}: {result}")
            yield i, result
            if bar:
                bar.update()
    finally:
        if bar:
            bar.close()


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _collect(files: list[tuple[Path, str]], scheme_ref: str | None, out: Path | None, pool: Pool,
             progress: bool) -> UnitStore:
    """Phase 1 into a UnitStore in file order, then the duplicate rule across all of them."""
    encoded: list[bytes | None] = [None] * len(files)
    for i, o in _iter_outcomes(files, scheme_ref, out, pool, progress):
        e = o.entry
        if e.get("_disk_full") and out is not None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out))  # run() → DiskFull
        e["_staging"], e["_report_name"] = o.staging, o.report_name
        encoded[i] = UnitStore._encode(e)
    store = UnitStore()
    store._items = [b for b in encoded if b is not None]
    apply_duplicates(store)
    return store


def apply_duplicates(store: UnitStore) -> None:
    """Phase 2: two workbooks of the same unit and year are both invalid (spec 01)."""
    from toolkit.check.duplicates import UnitKey, duplicates, year_outliers

    keys = [UnitKey(*u["_key"]) for u in store if u.get("_key")]
    dups = duplicates(keys)
    odd_years = year_outliers(keys)
    for i in range(len(store)):
        e = store[i]
        added = dups.get(e["file"], []) + odd_years.get(e["file"], [])
        if not added:
            continue
        probs = [Problem.from_dict(p) for p in e["problems"]] + added
        e["problems"] = _problem_dicts(probs)
        if e["file"] in dups:
            e["status"] = "invalid"
            for k in ("total", "grade", "levels", "indicators"):
                e[k] = None
        store[i] = e


def check_paths(paths: list[Path], scheme: Scheme | None, jobs: int | None = None) -> RunResult:
    """Validate (and score, for note checks) without writing anything."""
    files = discover(paths)
    with Pool(min(jobs or 1, max(1, len(files)))) as pool:
        units = _collect(files, _scheme_ref(scheme), None, pool, progress=False)
    return RunResult(units=units, scheme_id=scheme.id if scheme else _main_scheme(units))


def _main_scheme(units: Sequence[Mapping[str, Any]]) -> str:
    ids: list[str] = [str(u["_scheme"]) for u in units if u.get("_scheme")]
    return max(sorted(set(ids)), key=ids.count) if ids else DEFAULT_SCHEME


def run(inbox: Path, out: Path, *, scheme: Scheme | None = None, jobs: int | None = None, pdf: bool = False,
        progress: bool = False, overwrite: bool = False) -> RunResult:
    """The main job (``jixiao run``). Raises OutputError (OutLocked, DiskFull, OutsideOut)."""
    files = _inputs(inbox, out)
    needed = space_needed(files)
    atomic.ensure_space(out, needed)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with atomic.OutLock(out, "run"):
            try:
                return _run(files, out, scheme, jobs, pdf, progress, overwrite)
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


def _inputs(inbox: Path, out: Path) -> list[tuple[Path, str]]:
    """The workbooks of INBOX, never our own outputs when OUT lies inside INBOX (or is INBOX)."""
    own = [(out / d).resolve() for d in (REPORTS_DIR, RETURNED_DIR, "mail", STAGING_DIR)]
    summary_path = (out / SUMMARY_FILE).resolve()
    return [(p, rel) for p, rel in discover([inbox])
            if p.resolve() != summary_path and not any(d in p.resolve().parents for d in own)]


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
         progress: bool, overwrite: bool) -> RunResult:
    _remove_leftover_parts(out)
    shutil.rmtree(out / STAGING_DIR, ignore_errors=True)
    outputs = Outputs(out, previous_outputs(out / RESULTS_FILE), overwrite=overwrite)
    ref = _scheme_ref(scheme)
    with Pool(min(jobs or default_jobs(), max(1, len(files)))) as pool:
        units = _collect(files, ref, out, pool, progress)
        _return_duplicates(units, files, ref, out, pool)

    _place(units, out, outputs)
    notices: list[str] = []
    if pdf:
        notices.extend(make_pdfs(out, [u["report"] for u in units if u["report"]], outputs))
    shutil.rmtree(out / STAGING_DIR, ignore_errors=True)

    scheme_id = scheme.id if scheme else _main_scheme(units)
    from toolkit.write import summary

    summary.write_summary({"scheme": scheme_id, "units": units.public()}, scheme or load_scheme(scheme_id),
                          out / SUMMARY_FILE)
    outputs.record(SUMMARY_FILE)
    outputs.remove_stale()
    result = RunResult(units=units, scheme_id=scheme_id, notices=notices + outputs.notices,
                       outputs=outputs.as_list())
    result.write_json(out / RESULTS_FILE)
    return result


def _return_duplicates(units: UnitStore, files: list[tuple[Path, str]], ref: str | None, out: Path,
                       pool: Pool) -> None:
    """Units that became invalid in phase 2 (duplicates): drop the staged report, stage a returned workbook."""
    redo: dict[int, dict[str, Any]] = {}
    for i in range(len(units)):
        u = units[i]
        if u["status"] != "ok" and str(u.get("_staging") or "").endswith(".docx"):
            atomic.inside(out, u["_staging"]).unlink(missing_ok=True)
            u["_staging"] = u["_report_name"] = None
            redo[i] = u
    tasks = ((i, return_file, (str(files[i][0]), u["file"], ref, str(out), i, u["problems"]))
             for i, u in redo.items())
    for i, staged in pool.map(tasks):
        if isinstance(staged, OSError) and atomic.is_disk_full(staged):
            raise staged
        if isinstance(staged, str):
            redo[i]["_staging"] = staged
    for i, u in redo.items():
        units[i] = u


def _place(units: UnitStore, out: Path, outputs: Outputs) -> None:
    """Staged documents → their final names (never over a file that is not ours, see outputs.py)."""
    used: set[str] = set()
    for i in range(len(units)):
        u = units[i]
        staging = u.pop("_staging", None)
        report_name = u.pop("_report_name", None)
        if staging is None:
            continue
        src = atomic.inside(out, staging)
        if staging.endswith(".docx"):
            name = report_name or safe_file_stem(Path(u["file"]).stem, suffix=".docx")
            tag = safe_file_stem(u.get("unit_code") or Path(u["file"]).stem, 40)
            base, n = name[: -len(".docx")], 1
            while name in used:  # two different units with the same name and year: keep both
                name = safe_file_stem(f"{base}（{tag}{'' if n == 1 else n}）", 200, suffix=".docx")
                n += 1
            used.add(name)
            u["report"] = outputs.place(src, f"{REPORTS_DIR}/{name}")
        else:
            u["returned"] = outputs.place(src, returned_rel(u["file"]))
        units[i] = u
