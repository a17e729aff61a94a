"""Generated workbooks for the live 自评得分 test: boundary values for every rule type, and LibreOffice's
headless recalculation of many workbooks in one soffice call.

``generate(scheme, base, rng)`` varies a sample's values: each ratio rule's numerator set exactly on
(or one cent beside) every edge of its rule (cap, floor, band limits, target, steps) over a few
denominators including 0; blanks; checklist / deduction / lookup answers (and now and then a spelling
only the Python reader reads); tiers on and off their range edges; and 6–14 绩效指标 rows drawn from
ROW_CASES (≥ below/on/above target, ≤ above, = on/off, 区间 inside/on the edges/outside, 定性 with and
without 自评得分, zero targets, blanks, text numbers, % rows, aliases and texts a formula cannot read).

``recalculate(paths, out_dir)``: LibreOffice with a throwaway profile whose
``org.openoffice.Office.Calc/Formula/Load/OOXMLRecalcMode`` is 0 (always recalculate on load) — without
it LibreOffice may keep the cached values xlsxwriter wrote — converting every file in one call.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from toolkit.rules import inputs
from toolkit.rules.model import Node, Scheme

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

# (direction, target, target_max, unit, actual, self_score) — typed as a clerk would (text in the
# text-formatted cells); None is blank.
ROW_CASES: list[tuple[Any, ...]] = [
    ("≥", "3000", None, "人次", "2999", None), ("≥", "3000", None, "人次", "3000", None),
    ("≥", "3000", None, "人次", "4600", None), ("≥", "3000", None, "人次", "6000", None),
    ("≥", "200", None, "条", "199.99", None), ("≥", "0", None, "个", "0", None), ("≥", "0", None, "个", "5", None),
    ("≥", "99", None, "%", "100", None), ("≥", "98", None, "%", "96.5", None), ("≥", 95, None, "%", 97.25, None),
    ("≤", "5", None, "天", "5", None), ("≤", "5", None, "天", "6", None), ("≤", "5", None, "天", "7.5", None),
    ("≤", "0", None, "起", "0", None), ("≤", "0", None, "起", "2", None), ("≤", "1500", None, "元/亩", "1480", None),
    ("=", "100", None, "%", "100", None), ("=", "100", None, "%", "97", None), ("=", "100", None, "%", "250", None),
    ("=", "0", None, "个", "3", None), ("=", "12", None, "次", "11", None),
    ("区间", "1", "7", "天", "5", None), ("区间", "1", "7", "天", "1", None), ("区间", "1", "7", "天", "7", None),
    ("区间", "1", "7", "天", "9", None), ("区间", "1", "7", "天", "0.5", None), ("区间", "0", "7", "天", "0", None),
    ("区间", "300", "320", "人", "312", None), ("区间", "300", None, "人", "312", None),
    ("定性", "建立健全", None, None, "达成", None), ("定性", "建立健全", None, None, "部分达成", None),
    ("定性", "建立健全", None, None, "未达成", None), ("定性", "建立健全", None, None, "达成", 4.5),
    ("定性", "建立健全", None, None, "部分达成", 3), ("定性", "建立健全", None, None, "部分达成", 4),
    ("定性", "建立健全", None, None, "未达成", 2.99), ("定性", "建立健全", None, None, "达成", 3.9),
    ("定性", "建立健全", None, None, None, None),
    ("≥", None, None, "个", "5", None), ("≥", "5", None, "个", None, None), (None, "5", None, "个", "6", None),
    # spellings only the Python reader reads: the live cell says 提交后由财政局计算
    ("≥", "≥3000", None, "人次", "3100", None), (">=", "3000", None, "人次", "3100", None),
    ("≥", "95%", None, None, "96%", None), ("≥", "0.95", None, "%", "0.97", None), ("定性", "好", None, None, "完成", None),
    ("≥", "3,000", None, "人次", "3100", None),
]
NA_CASES = 6  # the last ROW_CASES rows hold such spellings


def _leaf_ratios(scheme: Scheme) -> list[tuple[Node, str, str, list[Decimal]]]:
    """Ratio leaves whose numerator and denominator are single fields, with every edge of their rule."""
    out = []
    for n in scheme.leaves():
        r = n.rule
        while r is not None and r.type == "not_applicable_full":
            r = r.params.get("rule")
        if r is None or r.type not in ("ratio_cap", "ratio_floor", "bands", "proportional"):
            continue
        p = r.params
        num, den = p.get("numerator"), p.get("denominator")
        if num is None or den is None or len(num.names) != 1 or len(den.names) != 1:
            continue
        edges = [v for k in ("cap", "floor", "target") if (v := p.get(k)) is not None]
        for b in p.get("bands") or ():
            edges += [b[op] for op in ("eq", "gt", "ge", "lt", "le") if b.get(op) is not None]
        if p.get("step"):
            base = edges[0]
            edges += [base + p["step"] * k * (1 if r.type == "ratio_cap" else -1) for k in (1, 2, 3)]
        out.append((n, num.names[0], den.names[0], edges))
    return out


def generate(scheme: Scheme, base: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One varied workbook (``build_workbook_bytes`` keyword arguments) from a sample's ``base`` arguments."""
    values = dict(base["values"])
    fields = inputs.field_map(scheme)
    for key in sorted(scheme.inputs | {k for a in scheme.adjustments if a.node.rule for k in a.node.rule.inputs}):
        f = fields.get(key)
        if f is None or rng.random() < 0.4:
            continue
        if f.kind == "choice":
            odd = "是的" if "是" in f.choices else "其他"  # a spelling only the Python reader may read
            values[key] = odd if rng.random() < 0.02 else rng.choice([*f.choices, *f.choices, None])
        elif f.kind == "int":
            values[key] = rng.choice([0, 1, 2, 3, 5, None])
        elif f.kind == "percent":
            values[key] = rng.choice([0.9, 0.95, 0.899, 0.85, 1, 0, None, 0.9, 95])
        elif f.kind == "score" and f.max is not None:
            w = Decimal(str(f.max))
            values[key] = float(rng.choice([w, w * Decimal("0.8"), w * Decimal("0.8") - Decimal("0.01"), w * Decimal("0.6"),
                                            w * Decimal("0.6") - Decimal("0.01"), Decimal("0"), w + 1]))
        elif f.kind in ("money", "money_signed", "area"):
            v = values.get(key)
            values[key] = rng.choice([None, 0, 100, 123.45, v, v, float(v) * 1.1 if isinstance(v, (int, float)) else 50])
    for _node, num, den, edges in _leaf_ratios(scheme):
        if rng.random() < 0.25:
            continue
        d = rng.choice([Decimal(100), Decimal(200), Decimal(80), Decimal(0)])
        e = rng.choice(edges)
        off = rng.choice([Decimal(0), Decimal(0), Decimal("0.01"), Decimal("-0.01")])
        n = (d * e + off).quantize(Decimal("0.01")) if d else rng.choice([Decimal(0), Decimal(5)])
        kind = fields[num].kind if num in fields else "money"
        if kind == "int":
            n = n.to_integral_value()
        values[den] = float(d)
        values[num] = float(max(n, Decimal(0)))
    rows = []
    groups = [g for g in scheme.indicator_groups if g] or ["产出指标"]
    perf_cols = ("direction", "target", "target_max", "unit", "actual", "self_score")
    for g in groups:
        for _ in range(rng.randint(3, 7)):
            case = rng.choice(ROW_CASES[:-NA_CASES]) if rng.random() < 0.98 else rng.choice(ROW_CASES[-NA_CASES:])
            row: dict[str, Any] = {"level1": g, "name": f"指标{len(rows) + 1}", **dict(zip(perf_cols, case, strict=True))}
            row["points"] = rng.choice([2.5, 5, 5, 10, 1.25])
            if rng.random() < 0.15:
                row["target_adjusted"] = rng.choice(["2800", "100", "6"])
            if rng.random() < 0.1:
                row["coefficient"] = rng.choice([0.9, 80, 0.333, 1])
            if rng.random() < 0.5:
                row["deviation_note"] = "原因说明"
            rows.append(row)
    return {**base, "values": values, "tables": {**base["tables"], "perf_indicators": rows}}


# Project rows (no 指标性质: the direction is the 年度指标值's text): (target, actual, unit, self_score).
PROJECT_ROW_CASES: list[tuple[Any, ...]] = [
    ("≥1200", "1199", "人次", None), ("≥1200", "1200", "人次", None), ("≥1200", "1350", "人次", None),
    ("1200", "1100", "人次", None), ("1200", "1200.01", None, None), ("≥1200人次", "1300人次", "人次", None),
    (">=95", "94.99", "分", None), (">90", "91", None, None), ("≥90%", "89%", None, None), ("≥90%", "95%", None, None),
    ("≥0", "0", "个", None), ("≥0", "5", "个", None), ("≥ 15", "13.5 ", "公里", None), (1200, 1300, "人次", None),
    ("≥1.2", "1.2", "万亩", None), ("≥15公里", "14", "公里", None),
    ("≤24", "26", "小时", None), ("≤24", "24", "小时", None), ("≤24", "20", "小时", None), ("<=5", "6", "天", None),
    ("<5", "4", "天", None), ("≤0", "0", "起", None), ("≤0", "2", "起", None), ("≤0.9‰", "0.6‰", None, None),
    ("≤0.9‰", "1.2‰", None, None), ("≤12", "12.01", "月", None),
    ("=100", "100", None, None), ("=100%", "97%", None, None), ("＝100%", "100%", None, None), ("=12", "11", "次", None),
    ("=0", "3", "个", None), ("=100", "100.01", None, None), ("=100", "99.99", "%", None),
    ("7～9", "8.1", "万元", None), ("7～9", "7", "万元", None), ("7～9", "9", "万元", None), ("7～9", "9.5", "万元", None),
    ("7～9", "6.5", "万元", None), ("1-7", "5", "天", None), ("1至7", "0", "天", None), ("0～7", "0", "天", None),
    ("1～7天", "8", "天", None), ("300-320", "312", "人", None), ("90～100%", "95%", None, None),
    ("明显提升", "达成", None, None), ("明显提升", "部分达成", None, None), ("明显提升", "未达成", None, None),
    ("有效改善", "达成", None, 4.5), ("有效改善", "部分达成", None, 3), ("有效改善", "部分达成", None, 4),
    ("有效改善", "未达成", None, 2.99), ("有效改善", "达成", None, 3.9), ("建立健全", None, None, None),
    (None, "5", "个", None), ("≥5", None, "个", None),
    # spellings a formula cannot read for certain: the live cell says 提交后由财政局计算
    ("≥3,000", "3100", "人次", None), ("不低于90%", "95%", None, None), ("≥90%", "0.95", None, None),
    ("≥90%", "92", None, None), ("95%以上", "96%", None, None), ("好", "完成", None, None),
    ("≥1000㎡", "1200㎡", "㎡", None), ("≥5", "5个以上", "个", None),
]
PROJECT_NA_CASES = 8


def generate_project(scheme: Scheme, base: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One varied project workbook: 执行率 below, at and above 100%, 全年预算数 0 or blank, and 4–10
    绩效指标 rows from PROJECT_ROW_CASES (now and then one a formula cannot read, or a 一级指标 typed
    with a space)."""
    from toolkit.fields import LEVEL2_BY_LEVEL1

    values = dict(base["values"])
    full = rng.choice([120.0, 120.0, 100.0, 0.0, None])
    spent = rng.choice([113.02, 120.0, 119.99, 130.0, 0.0, 60.0, None]) if full != 0 else rng.choice([0.0, 5.0])
    for col, v in (("full", full), ("spent", spent)):
        values[f"fund_total_{col}"] = values[f"fund_fiscal_{col}"] = v
        for row in ("carryover", "other"):
            values[f"fund_{row}_{col}"] = None
    groups = [g for g in scheme.indicator_groups if g] or ["产出指标", "效益指标", "满意度指标"]
    rows = []
    for _ in range(rng.randint(4, 10)):
        g = rng.choice(groups)
        odd = rng.random() < 0.06
        case = rng.choice(PROJECT_ROW_CASES[-PROJECT_NA_CASES:] if odd else PROJECT_ROW_CASES[:-PROJECT_NA_CASES])
        target, actual, unit, self_score = case
        rows.append({"level1": f" {g}" if rng.random() < 0.02 else g, "level2": LEVEL2_BY_LEVEL1[g][0],
                     "name": f"指标{len(rows) + 1}", "target": target, "actual": actual, "unit": unit,
                     "points": rng.choice([2.5, 5, 5, 10, 15, 1.25]), "self_score": self_score,
                     "deviation_note": "原因说明" if rng.random() < 0.5 else None})
    return {**base, "values": values, "tables": {**base["tables"], "project_indicators": rows}}


def recalculate(paths: list[Path], out_dir: Path, profile: Path, jobs: int = 0) -> None:
    """Open and save every workbook in LibreOffice with recalculation on load: ``jobs`` soffice
    processes side by side (default: one per CPU, at most 4), each with its own throwaway profile
    and a share of the files; files a process left unconverted are tried once more."""
    assert SOFFICE is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = jobs or max(1, min(4, os.cpu_count() or 1))
    for _attempt in range(2):
        todo = [p for p in paths if not (out_dir / p.name).exists()]
        if not todo:
            return
        procs = []
        for j in range(jobs):
            share = todo[j::jobs]
            if not share:
                continue
            prof = profile / f"p{j}"
            (prof / "user").mkdir(parents=True, exist_ok=True)
            (prof / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")
            procs.append(subprocess.Popen(
                [SOFFICE, f"-env:UserInstallation={prof.as_uri()}", "--headless", "--norestore",
                 "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out_dir), *map(str, share)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for proc in procs:
            proc.wait(timeout=600)
