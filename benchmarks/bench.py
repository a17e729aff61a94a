#!/usr/bin/env python
"""jixiao benchmark: N generated workbooks through ``toolkit.batch.run`` and through a naive pipeline.

    python benchmarks/bench.py                           # --n 100 1000 --jobs 1 2, with the naive pipeline
    python benchmarks/bench.py --n 100 --jobs 1 2 --json bench.json
    python benchmarks/bench.py --profile                 # cProfile of an in-process run, 100 files

Every configuration (N, jobs) runs ``toolkit.batch.run`` in a fresh subprocess, so its peak RSS is
its own (main process, and its worker processes through RUSAGE_CHILDREN and a /proc sampler;
every workbook is read in a worker process, even with --jobs 1). The naive
pipeline (benchmarks/naive.py) runs right after the 1-worker run in the same subprocess, on the
same files, so the fast/naive ratio is taken back to back. The per-stage breakdown runs the stage
functions in this process on a sample of the files. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import cProfile
import hashlib
import importlib
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(ROOT), str(HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

SCHEME = "jianghua-2023"
MB = 1024 * 1024

# Targets of spec 05 (2-core machine).
TARGET_RATIO = 5.0
TARGET_MS_PER_WB_CORE = 15.0
TARGET_1000_2W_SECONDS = 10.0
TARGET_RSS_MB = 300.0
FLAT_RSS_GROWTH = 0.20  # peak RSS at the largest N at most 20% above the smallest N

# What the pipeline needs, and what each stage calls.
REQUIRED: dict[str, tuple[str, ...]] = {
    "toolkit.forms.template": ("write_workbook",),
    "toolkit.read.workbook": ("read_workbook",),
    "toolkit.check.validate": ("check_file", "choose_scheme", "validate"),
    "toolkit.rules.scoring": ("score",),
    "toolkit.write.report": ("build_report", "report_file_name"),
    "toolkit.forms.returned": ("write_returned",),
    "toolkit.write.summary": ("write_summary",),
    "toolkit.process": ("process_file",),
    "toolkit.store": ("UnitStore",),
    "toolkit.batch": ("run", "apply_duplicates", "RunResult"),
}


def missing_modules() -> list[str]:
    out = []
    for mod, names in REQUIRED.items():
        try:
            m = importlib.import_module(mod)
        except Exception as e:  # noqa: BLE001 - report whatever stops the import
            out.append(f"{mod}: {type(e).__name__}: {e}")
            continue
        out.extend(f"{mod}.{n}: missing" for n in names if not hasattr(m, n))
    return out


# --------------------------------------------------------------------------- workbooks (cached)
def _fingerprint() -> str:
    """Generated files depend on the generator, its seed data and the toolkit (template writer,
    fields, schemes…): every *.py and *.yaml under toolkit/, so no restructuring can leave it stale."""
    tree = ROOT / "toolkit"
    parts = [HERE / "gen.py", ROOT / "samples" / "data" / "seed-unit.yaml"]
    parts += sorted(p for ext in ("*.py", "*.yaml") for p in tree.rglob(ext) if "__pycache__" not in p.parts)
    h = hashlib.sha256()
    for p in parts:
        h.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _gen_one(args: tuple[str, int, int, str]) -> tuple[int, str]:
    import gen

    folder, i, seed, form = args
    if form == "project":
        return i, gen.write_project(Path(folder) / gen.file_name(i), i, seed)
    return i, gen.write_unit(Path(folder) / gen.file_name(i), i, seed, SCHEME)


def ensure_pool(workdir: Path, n: int, seed: int, jobs: int, form: str = "dept") -> dict[str, Any]:
    """Workbooks 0..n-1 under workdir/pool-s<seed> (project forms: pool-project-s<seed>); generated
    once, reused while nothing changed."""
    import gen

    pool = workdir / (f"pool-s{seed}" if form == "dept" else f"pool-{form}-s{seed}")
    manifest_path = pool / "manifest.json"
    fp = _fingerprint()
    manifest: dict[str, Any] = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("fingerprint") != fp or manifest.get("generator") != gen.GENERATOR_VERSION:
        shutil.rmtree(pool, ignore_errors=True)
        manifest = {"fingerprint": fp, "generator": gen.GENERATOR_VERSION, "seed": seed, "kinds": {}}
    pool.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, str] = manifest["kinds"]
    todo = [i for i in range(n) if str(i) not in kinds or not (pool / gen.file_name(i)).exists()]
    t0 = time.perf_counter()
    if todo:
        print(f"generating {len(todo)} workbooks into {pool} …", flush=True)
        with cf.ProcessPoolExecutor(max_workers=max(1, jobs)) as ex:
            for i, kind in ex.map(_gen_one, [(str(pool), i, seed, form) for i in todo], chunksize=8):
                kinds[str(i)] = kind
        manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return {"pool": str(pool), "generated": len(todo), "seconds": time.perf_counter() - t0,
            "kinds": {str(i): kinds[str(i)] for i in range(n)}}


def make_inbox(workdir: Path, pool: Path, n: int, seed: int) -> Path:
    """workdir/inbox-<n>-<pool>: hard links to the first n workbooks of the pool."""
    import gen

    inbox = workdir / f"inbox-{n}-{pool.name}"
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    for i in range(n):
        src = pool / gen.file_name(i)
        try:
            os.link(src, inbox / src.name)
        except OSError:
            shutil.copy2(src, inbox / src.name)
    return inbox


def files_of(inbox: Path) -> list[tuple[Path, str]]:
    return [(p, p.name) for p in sorted(inbox.glob("*.xlsx"))]


# --------------------------------------------------------------------------- peak RSS
def _vm_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        for c in kids.get(todo.pop(), ()):
            out.append(c)
            todo.append(c)
    return out


class TreeSampler(threading.Thread):
    """Samples VmRSS of this process and its descendants (pool workers) every ``interval`` s."""

    def __init__(self, interval: float = 0.1):
        super().__init__(daemon=True)
        self.interval = interval
        self.stop_event = threading.Event()
        self.peak_tree = 0
        self.peak_child = 0

    def run(self) -> None:
        me = os.getpid()
        while not self.stop_event.is_set():
            if os.path.isdir("/proc"):
                kids = [_vm_rss(p) for p in _descendants(me)]
                self.peak_child = max([self.peak_child, *kids])
                self.peak_tree = max(self.peak_tree, _vm_rss(me) + sum(kids))
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join()


def _maxrss(who: int) -> int:
    kb = resource.getrusage(who).ru_maxrss
    return kb if sys.platform == "darwin" else kb * 1024


# --------------------------------------------------------------------------- one configuration (subprocess)
def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh interpreter: batch.run (and the naive pipeline), prints one JSON line."""
    for mod in REQUIRED:  # imports are not what we time (workers of a pool do pay theirs)
        importlib.import_module(mod)
    from toolkit import batch
    from toolkit.rules.loader import load_scheme

    inbox, out, jobs = Path(spec["inbox"]), Path(spec["out"]), int(spec["jobs"])
    res: dict[str, Any] = {"n": spec["n"], "jobs": jobs}
    sampler = TreeSampler()  # every read happens in a worker process, even with jobs=1
    fast_walls: list[float] = []
    naive_runs: list[Any] = []
    if spec.get("naive"):
        import naive
    for rnd in range(int(spec.get("rounds", 1))):
        shutil.rmtree(out, ignore_errors=True)
        if rnd == 0:
            sampler.start()
        t0 = time.perf_counter()
        result = batch.run(inbox, out, jobs=jobs, progress=False)
        fast_walls.append(time.perf_counter() - t0)
        if rnd == 0:
            sampler.stop()
            res["rss_main"] = _maxrss(resource.RUSAGE_SELF)
            res["rss_worker"] = _maxrss(resource.RUSAGE_CHILDREN)
            res["rss_tree"] = sampler.peak_tree
            res["rss_worker_sampled"] = sampler.peak_child
            res["counts"] = result.counts
        if spec.get("naive"):
            naive.import_libraries()  # after the RSS of the fast run was taken
            scheme = load_scheme(SCHEME)
            files = files_of(inbox)
            lay = naive.layout_from(files[0][0], scheme)
            nout = Path(spec["naive_out"])
            shutil.rmtree(nout, ignore_errors=True)
            naive_runs.append(naive.run(files, nout, scheme, lay, table=spec.get("naive_table", "rows")))
    res["wall"] = min(fast_walls)
    res["walls"] = fast_walls
    if naive_runs:
        best = min(naive_runs, key=lambda r: r.wall)
        res["naive"] = {"wall": best.wall, "walls": [r.wall for r in naive_runs], "seconds": best.seconds,
                        "counts": best.counts, "rss_after": _maxrss(resource.RUSAGE_SELF),
                        "table": spec.get("naive_table", "rows")}
    return res


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec, ensure_ascii=False)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"configuration {spec['n']}×{spec['jobs']} failed (exit {proc.returncode})\n{proc.stdout}")
    return json.loads(lines[-1])


# --------------------------------------------------------------------------- stages (in process)
# key, label, what one item is, naive stage (benchmarks/naive.py) measured alongside
STAGE_ROWS = (
    ("read", "read (read.workbook.read_workbook)", "workbook", "read"),
    ("validate", "validate (check.validate.validate)", "workbook", "validate"),
    ("score", "score (rules.scoring.score)", "workbook", "score"),
    ("docx_build", ".docx build (write.report.build_report)", "report", "docx"),
    ("docx_write", ".docx write (write.atomic.write_bytes)", "report", None),
    ("returned", "returned workbook (forms.returned.write_returned)", "invalid", None),
    ("phase2", "phase 2: UnitStore + batch.apply_duplicates", "workbook", None),
    ("summary", "汇总表.xlsx (write.summary.write_summary)", "workbook", "summary"),
    ("results_json", "results.json (batch.RunResult.write_json)", "workbook", None),
)


def _distinct(o: Any, j: int) -> tuple[Any, Any]:
    """The j-th copy of a sample outcome as (UnitResult, RunRecord): its own file, name and code."""
    import dataclasses

    u, rec = o.unit, o.record
    name = f"{u.unit_name}{j}" if u.unit_name else u.unit_name
    code = f"{u.unit_code}-{j}" if u.unit_code else u.unit_code
    u = dataclasses.replace(u, file=f"{j:05d}-{u.file}", unit_name=name, unit_code=code)
    if rec.key is not None:  # the validate.UnitKey fields: file, year, code, name, address, year_address
        k = list(rec.key)
        k[0] = u.file
        k[2] = f"{k[2]}-{j}" if k[2] else k[2]
        k[3] = f"{k[3]}{j}" if k[3] else k[3]
        rec = dataclasses.replace(rec, key=tuple(k))
    return u, rec


def stages(files: list[tuple[Path, str]], ns: list[int], workdir: Path) -> dict[str, Any]:
    """Each stage function timed on ``files`` in this process; summary/phase 2 at each N."""
    from toolkit import batch, process
    from toolkit.check import validate
    from toolkit.forms import returned
    from toolkit.read import package, workbook
    from toolkit.rules import scoring
    from toolkit.rules.loader import load_scheme
    from toolkit.store import UnitStore
    from toolkit.write import atomic, report, summary

    out = workdir / "stages-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    scheme = load_scheme(SCHEME)
    t = dict.fromkeys(["read", "validate", "score", "docx_build", "docx_write", "returned", "process_file"], 0.0)
    c = {"files": 0, "ok": 0, "invalid": 0, "unreadable": 0}
    pc = time.perf_counter
    for i, (path, rel) in enumerate(files):
        c["files"] += 1
        t0 = pc()
        try:
            raw = workbook.read_workbook(path, rel)
        except package.IntakeError:
            c["unreadable"] += 1
            continue
        t1 = pc()
        used = validate.choose_scheme(raw.meta, None)
        sub = validate.validate(raw, used, rel)
        t2 = pc()
        card = scoring.score(used, sub)
        t3 = pc()
        t["read"] += t1 - t0
        t["validate"] += t2 - t1
        t["score"] += t3 - t2
        problems = list(sub.problems) + list(card.problems)
        if not any(p.severity == "error" for p in problems):
            c["ok"] += 1
            t0 = pc()
            if used.form == "project":
                from toolkit.write import project_report

                data = project_report.build_project_report(used, sub, card)
            else:
                data = report.build_report(used, sub, card)
            t1 = pc()
            atomic.write_bytes(out / "reports" / f"{i:05d}.docx", data)
            t["docx_build"] += t1 - t0
            t["docx_write"] += pc() - t1
        else:
            c["invalid"] += 1
            t0 = pc()
            returned.write_returned(used, raw, problems, out / "returned" / rel)
            t["returned"] += pc() - t0
    outcomes = []
    pout = out / "process_file"
    pout.mkdir()
    t0 = pc()
    for i, (path, rel) in enumerate(files):
        outcomes.append(process.process_file(str(path), rel, None, str(pout), i))
    t["process_file"] = pc() - t0
    per: dict[str, float | None] = {
        "read": t["read"] / c["files"], "validate": t["validate"] / c["files"], "score": t["score"] / c["files"],
        "docx_build": t["docx_build"] / c["ok"] if c["ok"] else None,
        "docx_write": t["docx_write"] / c["ok"] if c["ok"] else None,
        "returned": t["returned"] / c["invalid"] if c["invalid"] else None,
        "process_file": t["process_file"] / c["files"],
    }
    # phase 2 and the summary at each N: the sample's outcomes repeated with distinct names/codes
    at_n: dict[int, dict[str, float]] = {}
    for n in ns:
        units = [_distinct(outcomes[j % len(outcomes)], j) for j in range(n)]
        t0 = pc()
        store = UnitStore(units)
        batch.apply_duplicates(store)
        t1 = pc()
        rr = batch.RunResult(units=store, scheme_id=scheme.id)
        summary.write_summary(store, scheme, out / batch.SUMMARY_FILE)
        t2 = pc()
        rr.write_json(out / batch.RESULTS_FILE)
        t3 = pc()
        at_n[n] = {"phase2": (t1 - t0) / n, "summary": (t2 - t1) / n, "results_json": (t3 - t2) / n}
    return {"sample": c, "per": per, "at_n": at_n}


def naive_table_cost(files: list[tuple[Path, str]], workdir: Path, k: int = 5) -> dict[str, float] | None:
    """python-docx table.cell(r, c) vs row.cells, on k documents (both naive; quadratic vs linear)."""
    import naive

    from toolkit.rules.loader import load_scheme
    from toolkit.rules.scoring import score

    scheme = load_scheme(SCHEME)
    lay = naive.layout_from(files[0][0], scheme)
    out = workdir / "naive-table"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cost = {"cell": 0.0, "rows": 0.0, "docs": 0, "table_rows": 0}
    for i, (path, rel) in enumerate(files):
        sub, errors = naive.read_submission(path, rel, scheme, lay, naive.NaiveRun())
        card = score(scheme, sub)
        if errors or any(p.severity == "error" for p in card.problems):
            continue
        for how in ("rows", "cell"):
            t0 = time.perf_counter()
            n_rows = naive.write_docx(out / f"{i}-{how}.docx", scheme, sub, card, table=how)
            cost[how] += time.perf_counter() - t0
        cost["docs"] += 1
        cost["table_rows"] += n_rows
        if cost["docs"] >= k:
            break
    if not cost["docs"]:
        return None
    d = cost["docs"]
    return {"cell": cost["cell"] / d, "rows": cost["rows"] / d, "docs": d, "table_rows": cost["table_rows"] / d}


# --------------------------------------------------------------------------- profile
def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1] if marker == "site-packages/" else "py:" + path.rsplit("/", 1)[1]
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def _print_stats(stats: pstats.Stats, key: str, top: int) -> list[dict[str, Any]]:
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"func": f"{_short(file)}:{line}({func})", "ncalls": nc, "tottime": tt, "cumtime": ct})
    rows.sort(key=lambda r: r[key], reverse=True)
    rows = rows[:top]
    print(f"{'ncalls':>9} {'tottime':>8} {'cumtime':>8}  function")
    for r in rows:
        print(f"{r['ncalls']:>9} {r['tottime']:>8.3f} {r['cumtime']:>8.3f}  {r['func']}")
    return rows


def _in_process_run(files: list[tuple[Path, str]], out: Path) -> int:
    """What ``batch.run`` does, all in this process: phase 1 (``process.process_file`` per workbook,
    which in a real run happens in the workers while the main process waits), then phase 2
    (UnitStore, duplicates, 汇总表, results.json). Staged documents are not moved."""
    from toolkit import batch, process
    from toolkit.rules.loader import load_scheme
    from toolkit.store import UnitStore
    from toolkit.write import summary

    out.mkdir(parents=True, exist_ok=True)
    store = UnitStore()
    for i, (path, rel) in enumerate(files):
        o = process.process_file(str(path), rel, None, str(out), i)
        store.append(o.unit, o.record)
    batch.apply_duplicates(store)
    summary.write_summary(store, load_scheme(SCHEME), out / batch.SUMMARY_FILE)
    batch.RunResult(units=store, scheme_id=SCHEME).write_json(out / batch.RESULTS_FILE)
    return len(store)


def profile(inbox: Path, workdir: Path, top: int = 25) -> dict[str, Any]:
    for mod in REQUIRED:
        importlib.import_module(mod)
    files = files_of(inbox)
    out = workdir / "profile-out"
    shutil.rmtree(out, ignore_errors=True)
    _in_process_run(files[:2], workdir / "profile-warm")  # first-use costs (lazy imports, scheme) not profiled
    shutil.rmtree(workdir / "profile-warm", ignore_errors=True)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    n = _in_process_run(files, out)
    prof.disable()
    wall = time.perf_counter() - t0
    print(f"\ncProfile of an in-process run over {inbox.name} (process.process_file per workbook, then "
          f"duplicates, 汇总表, results.json): {n} workbooks, {wall:.2f} s under the profiler "
          f"({wall / n * 1000:.1f} ms/workbook; the profiler adds overhead)")
    stats = pstats.Stats(prof)
    print(f"\nTop {top} by cumulative time")
    cum = _print_stats(stats, "cumtime", top)
    print(f"\nTop {top} by own time (tottime)")
    own = _print_stats(stats, "tottime", top)
    return {"n": n, "wall": wall, "cumulative": cum, "tottime": own}


# --------------------------------------------------------------------------- report
def _mb(b: float) -> str:
    return f"{b / MB:.0f}"


def _ms(s: float | None) -> str:
    return "—" if s is None else f"{s * 1000:.2f}"


def _pad(s: str, width: int) -> str:
    """Left-justify by display width (CJK characters take two columns)."""
    w = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)
    return s + " " * max(0, width - w)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def machine() -> dict[str, Any]:
    def git(*a: str) -> str:
        r = subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True, check=False)
        return r.stdout.strip()

    return {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "git_head": git("rev-parse", "--short", "HEAD"),
            "git_dirty_files": len(git("status", "--porcelain").splitlines())}


def evaluate(runs: list[dict[str, Any]], ncpu: int) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    ratios = [(r["n"], r["naive"]["wall"] / r["wall"]) for r in runs if r["jobs"] == 1 and "naive" in r]
    targets.append({"target": f"≥ {TARGET_RATIO:g}× naive on one worker",
                    "measured": "  ".join(f"N={n}: {x:.1f}×" for n, x in ratios) or "not run",
                    "ok": all(x >= TARGET_RATIO for _, x in ratios) if ratios else None})
    per_core = [(r["n"], r["jobs"], r["wall"] * min(r["jobs"], ncpu) / r["n"]) for r in runs]
    one = [(n, x) for n, j, x in per_core if j == 1]
    targets.append({"target": f"≤ {TARGET_MS_PER_WB_CORE:g} ms per workbook per core (1 worker, end to end)",
                    "measured": "  ".join(f"N={n}: {x * 1000:.1f} ms" for n, x in one) or "not run",
                    "ok": all(x * 1000 <= TARGET_MS_PER_WB_CORE for _, x in one) if one else None})
    big = [r for r in runs if r["n"] == 1000 and r["jobs"] == 2]
    if big:
        targets.append({"target": f"1,000 workbooks with 2 workers ≤ {TARGET_1000_2W_SECONDS:g} s",
                        "measured": f"{big[0]['wall']:.2f} s", "ok": big[0]["wall"] <= TARGET_1000_2W_SECONDS})
    else:
        two = [r for r in runs if r["jobs"] == 2]
        est = f" (N={two[-1]['n']} scaled: ≈ {two[-1]['wall'] / two[-1]['n'] * 1000:.1f} s)" if two else ""
        targets.append({"target": f"1,000 workbooks with 2 workers ≤ {TARGET_1000_2W_SECONDS:g} s",
                        "measured": "not run" + est, "ok": None})
    peak = max((max(r["rss_main"], r["rss_worker"], r.get("rss_worker_sampled", 0)) for r in runs), default=0)
    targets.append({"target": f"peak RSS ≤ {TARGET_RSS_MB:g} MB (largest single process)",
                    "measured": f"{_mb(peak)} MB", "ok": peak <= TARGET_RSS_MB * MB if runs else None})
    flat = []
    for j in sorted({r["jobs"] for r in runs}):
        rs = sorted((r for r in runs if r["jobs"] == j), key=lambda r: r["n"])
        if len(rs) >= 2:
            a = max(rs[0]["rss_main"], rs[0]["rss_worker"])
            b = max(rs[-1]["rss_main"], rs[-1]["rss_worker"])
            flat.append((j, rs[0]["n"], rs[-1]["n"], a, b))
    targets.append({"target": f"peak RSS flat in N (≤ +{FLAT_RSS_GROWTH:.0%})",
                    "measured": "  ".join(f"jobs {j}: {_mb(a)}→{_mb(b)} MB (N {n0}→{n1})" for j, n0, n1, a, b in flat)
                    or "needs two N", "ok": all(b <= a * (1 + FLAT_RSS_GROWTH) for *_, a, b in flat) if flat else None})
    return targets


def stage_table(st: dict[str, Any], nv: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per item and amortised per workbook (ms), fast and naive, at the largest N."""
    s = st["sample"]
    share = {"workbook": 1.0, "report": s["ok"] / s["files"], "invalid": s["invalid"] / s["files"]}
    big_n = max(st["at_n"], key=int)
    naive_big = nv[-1] if nv else None
    rows = []
    for key, label, unit, naive_key in STAGE_ROWS:
        per_item = st["per"][key] if key in st["per"] else st["at_n"][big_n][key]
        amortised = None if per_item is None else per_item * share[unit]
        naive_wb = (naive_big["naive"]["seconds"][naive_key] / naive_big["n"]
                    if naive_big and naive_key else None)
        rows.append({"stage": key, "label": label, "unit": unit, "per_item": per_item, "per_workbook": amortised,
                     "naive_per_workbook": naive_wb})
    return rows


def print_stages(st: dict[str, Any], nv: list[dict[str, Any]], tc: dict[str, Any] | None) -> None:
    s = st["sample"]
    big_n = max(st["at_n"], key=int)
    print(f"\nStages, in process, 1 worker: stage functions on {s['files']} workbooks ({s['ok']} valid, "
          f"{s['invalid']} invalid); 汇总表/phase 2/results.json at N={big_n}; ms")
    print(f"{_pad('stage', 50)} {'per item':>9}  {'item':<8} {'per wb':>7} {'naive/wb':>9}")
    rows = stage_table(st, nv)
    for r in rows:
        print(f"{_pad(r['label'], 50)} {_ms(r['per_item']):>9}  {r['unit']:<8} {_ms(r['per_workbook']):>7} "
              f"{_ms(r['naive_per_workbook']):>9}")
    total = sum(r["per_workbook"] or 0 for r in rows)
    naive_total = nv[-1]["naive"]["wall"] / nv[-1]["n"] if nv else None
    print(f"{_pad('sum of stages', 50)} {'':>9}  {'':<8} {total * 1000:>7.2f} {_ms(naive_total):>9}")
    print(f"{_pad('process.process_file, same sample (phase 1)', 50)} {_ms(st['per']['process_file']):>9}  "
          f"{'workbook':<8}")
    for n, d in sorted(st["at_n"].items(), key=lambda kv: int(kv[0])):
        print(f"  at N={n}: phase 2 {_ms(d['phase2'])} · 汇总表 {_ms(d['summary'])} · results.json "
              f"{_ms(d['results_json'])} ms/workbook")
    if tc:
        print(f"  naive .docx with the appendix via table.cell(r, c): {tc['cell'] * 1000:.0f} ms/report, via "
              f"row.cells: {tc['rows'] * 1000:.0f} ms ({tc['docs']} reports, {tc['table_rows']:.0f} table rows avg)")


def print_report(info: dict[str, Any]) -> None:
    m = info["machine"]
    print(f"\njixiao benchmark — {m['nproc']} CPUs, Python {m['python']}, {m['platform']}")
    g = info["pool"]
    bad = sum(k != "ok" for k in g["kinds"].values())
    made = f"generated {g['generated']} in {g['seconds']:.1f} s" if g["generated"] else "cached"
    print(f"workbooks: {len(g['kinds'])} in {g['pool']} ({bad} invalid by design; {made})")

    runs = info["runs"]
    print("\nEnd to end: toolkit.batch.run, one fresh process per configuration")
    print(f"{'N':>6} {'jobs':>4} {'wall s':>8} {'wb/s':>7} {'ms/wb/core':>10} {'RSS main':>9} {'worker':>7} "
          f"{'tree':>6}  ok/invalid/unreadable")
    for r in runs:
        per_core = r["wall"] * min(r["jobs"], m["nproc"] or 1) / r["n"]
        worker = max(r["rss_worker"], r.get("rss_worker_sampled", 0))
        c = r["counts"]
        print(f"{r['n']:>6} {r['jobs']:>4} {r['wall']:>8.2f} {r['n'] / r['wall']:>7.1f} {per_core * 1000:>10.2f} "
              f"{_mb(r['rss_main']):>6} MB {_mb(worker) + ' MB':>7} "
              f"{_mb(r['rss_tree']):>3} MB  {c['ok']}/{c['invalid']}/{c['unreadable']}")

    nv = [r for r in runs if "naive" in r]
    if nv:
        print("\nNaive pipeline (pandas read_excel + openpyxl, python-docx, openpyxl summary), 1 process, "
              "run back to back with the 1-worker run above")
        print(f"{'N':>6} {'naive s':>8} {'wb/s':>7} {'ms/wb':>7} {'fast s':>8} {'fast/naive':>10}  table")
        for r in nv:
            x = r["naive"]
            print(f"{r['n']:>6} {x['wall']:>8.2f} {r['n'] / x['wall']:>7.1f} {x['wall'] / r['n'] * 1000:>7.1f} "
                  f"{r['wall']:>8.2f} {x['wall'] / r['wall']:>9.1f}×  {x['table']}")

    st = info.get("stages")
    if st:
        print_stages(st, nv, info.get("naive_table_cost"))

    print("\nTargets (spec 05, 2-core machine)")
    for t in info["targets"]:
        print(f"  {_verdict(t['ok']):<5} {_pad(t['target'], 58)} {t['measured']}")


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=[100, 1000], help="numbers of workbooks (default 100 1000)")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts (default 1 2)")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "jixiao-bench",
                    help="generated workbooks and outputs (default: %(default)s)")
    ap.add_argument("--naive", action=argparse.BooleanOptionalAction, default=True,
                    help="also run the naive pipeline on 1 worker (default on)")
    ap.add_argument("--naive-table", choices=("rows", "cell"), default="rows",
                    help="naive appendix table: row.cells[c] (default) or table.cell(r, c), which is quadratic "
                         "in python-docx 1.2 (≈1 s a report)")
    ap.add_argument("--rounds", type=int, default=0,
                    help="runs per configuration, best of (on 1 worker each is followed by a naive run); "
                         "default 2 for N ≤ 200, else 1")
    ap.add_argument("--sample", type=int, default=100, help="workbooks in the per-stage breakdown (default 100)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--form", choices=("dept", "project"), default="dept",
                    help="which workbooks: department (default) or project forms (spec 06; no naive pipeline)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--profile", action="store_true",
                    help="only profile an in-process run (process.process_file per file, then phase 2) on "
                         "--profile-n files (cProfile)")
    ap.add_argument("--profile-n", type=int, default=100)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child(json.loads(args.child)), ensure_ascii=False))
        return 0

    missing = missing_modules()
    if missing:
        print("the benchmark needs the whole pipeline; not available yet:", file=sys.stderr)
        for m in missing:
            print(f"  - {m}", file=sys.stderr)
        return 2

    ncpu = os.cpu_count() or 1
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    ns = [args.profile_n] if args.profile else sorted(set(args.n))
    if args.form == "project":
        args.naive = False  # the naive pipeline is the department report's
    pool_info = ensure_pool(workdir, max(ns), args.seed, ncpu, args.form)
    pool = Path(pool_info["pool"])

    if args.profile:
        inbox = make_inbox(workdir, pool, args.profile_n, args.seed)
        prof = profile(inbox, workdir)
        if args.json:
            args.json.write_text(json.dumps({"machine": machine(), "profile": prof}, ensure_ascii=False, indent=1),
                                 encoding="utf-8")
        return 0

    runs: list[dict[str, Any]] = []
    jobs_list = sorted(set(args.jobs))
    for n in ns:
        inbox = make_inbox(workdir, pool, n, args.seed)
        configs = list(jobs_list)
        if args.naive and 1 not in configs:
            configs.insert(0, 1)
        for j in configs:
            spec = {"n": n, "jobs": j, "inbox": str(inbox), "out": str(workdir / f"out-{args.form}-{n}-j{j}"),
                    "naive": bool(args.naive and j == 1), "naive_out": str(workdir / f"naive-out-{n}"),
                    "naive_table": args.naive_table, "rounds": args.rounds or (2 if n <= 200 else 1)}
            print(f"running N={n} jobs={j}{' + naive' if spec['naive'] else ''} …", flush=True)
            r = run_child(spec)
            r["in_jobs"] = j in jobs_list
            runs.append(r)

    sample_inbox = make_inbox(workdir, pool, min(args.sample, max(ns)), args.seed)
    print(f"timing stages on {min(args.sample, max(ns))} workbooks …", flush=True)
    sample = files_of(sample_inbox)
    st = stages(sample, ns, workdir)
    tcost = naive_table_cost(sample, workdir) if args.naive else None

    info = {"machine": machine(), "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "seed": args.seed, "pool": pool_info, "runs": [r for r in runs if r["in_jobs"] or "naive" in r],
            "stages": st, "naive_table_cost": tcost}
    info["targets"] = evaluate(info["runs"], ncpu)
    info["stage_table"] = stage_table(st, [r for r in info["runs"] if "naive" in r])
    print_report(info)
    if args.json:
        info["pool"] = {k: v for k, v in pool_info.items() if k != "kinds"}
        args.json.write_text(json.dumps(info, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print(f"\nJSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
