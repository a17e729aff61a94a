"""A run's results as pandas DataFrames: the tables behind 汇总分析报告.docx (public as ``toolkit.analysis``).

Every function is pure: Results (and a previous year's Results) in, a DataFrame out, rows in a stable
order. Amounts stay floats as results.json has them; ``cents`` rounds one half up to two decimals the
way the report prints it. Only ``ok`` units are scored, so only they enter averages and rankings; the department statistics
take department workbooks only (``projects`` gives the project workbooks, spec 06).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from toolkit.results import Results, UnitResult

__all__ = ["cents", "units", "indicators", "problems", "grade_distribution", "level_averages", "level2",
           "weakest_level2", "below_full", "ranking", "year_over_year", "grade_moves", "problem_themes", "projects"]


def cents(x: float) -> Decimal:
    """``x`` rounded half up to 0.01 (float noise below 1e-8 is dropped first: 85.125 → 85.13)."""
    return Decimal(repr(float(x))).quantize(Decimal("1e-8")).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _level_names(results: Results) -> list[str]:
    names: dict[str, None] = {}
    for u in results.units:
        for k in (u.levels or {}):
            names.setdefault(k)
    return list(names)


def units(results: Results) -> pd.DataFrame:
    """One row per workbook: file, unit_name, unit_code, status, form, total, grade, one column per 一级指标."""
    levels = _level_names(results)
    rows = []
    for u in results.units:
        row: dict[str, Any] = {"file": u.file, "unit_name": u.label, "unit_code": u.unit_code, "status": u.status,
                               "form": u.extra.get("form"), "total": u.total, "grade": u.grade}
        row.update({lv: (u.levels or {}).get(lv) for lv in levels})
        rows.append(row)
    cols = ["file", "unit_name", "unit_code", "status", "form", "total", "grade", *levels]
    return pd.DataFrame(rows, columns=cols)


def _ok(results: Results) -> list[UnitResult]:
    """The scored department workbooks: project workbooks never enter the department statistics."""
    return [u for u in results.units if u.ok and u.total is not None and not u.is_project]


def indicators(results: Results) -> pd.DataFrame:
    """Long form, ok units scored by the run's scheme: unit_name, unit_code, id, level1, level2, name,
    points, score, share.
    Built column by column (a row dict per indicator would cost ~1 KB each: memory flat in N)."""
    names = ["unit_name", "unit_code", "id", "level1", "level2", "name", "points", "score", "share"]
    cols: dict[str, list[Any]] = {k: [] for k in names}
    for u in results.units:
        if not (u.ok and u.total is not None) or u.extra.get("scheme") not in (None, results.scheme) or u.is_project:
            continue  # (a mixed inbox: units scored by another scheme have other indicators)
        for i in u.indicators or ():
            p = list(i.path) or [i.id]
            for k, v in zip(names, (u.label, u.unit_code, i.id, p[0], p[1] if len(p) > 1 else p[0], p[-1],
                                    i.points, i.score, i.score / i.points if i.points else None), strict=True):
                cols[k].append(v)
    return pd.DataFrame(cols, columns=names)


def problems(results: Results) -> pd.DataFrame:
    """One row per recorded problem: unit_name, status, severity, code, message."""
    rows = [{"unit_name": u.label, "status": u.status, "severity": p.severity, "code": p.code, "message": p.message}
            for u in results.units for p in u.problems]
    return pd.DataFrame(rows, columns=["unit_name", "status", "severity", "code", "message"])


def grade_distribution(results: Results, grades: Sequence[str]) -> pd.DataFrame:
    """One row per grade in the scheme's order (highest first): grade, count, percent, units (names)."""
    ok = _ok(results)
    rows = []
    for g in grades:
        names = [u.label for u in ok if u.grade == g]
        rows.append({"grade": g, "count": len(names),
                     "percent": 100 * len(names) / len(ok) if ok else 0.0, "units": names})
    return pd.DataFrame(rows, columns=["grade", "count", "percent", "units"])


def level_averages(results: Results) -> pd.DataFrame:
    """One row per 一级指标: level, points, average, highest, lowest, rate (average / points, %)."""
    ind = indicators(results)
    if ind.empty:
        return pd.DataFrame(columns=["level", "points", "average", "highest", "lowest", "rate"])
    per_unit = ind.groupby(["level1", "unit_name"], sort=False)[["points", "score"]].sum().reset_index()
    g = per_unit.groupby("level1", sort=False)
    out = pd.DataFrame({"points": g["points"].max(), "average": g["score"].mean(), "highest": g["score"].max(),
                        "lowest": g["score"].min()}).reset_index(names="level")
    out["rate"] = 100 * out["average"] / out["points"]
    return out


def level2(results: Results) -> pd.DataFrame:
    """One row per 二级指标 (scheme order): level1, level2, points, average, share (mean of the units'
    score / points), below (units short of full points)."""
    ind = indicators(results)
    cols = ["level1", "level2", "points", "average", "share", "below"]
    if ind.empty:
        return pd.DataFrame(columns=cols)
    per_unit = ind.groupby(["level1", "level2", "unit_name"], sort=False)[["points", "score"]].sum().reset_index()
    per_unit["share"] = per_unit["score"] / per_unit["points"]
    per_unit["short"] = per_unit["score"] < per_unit["points"] - 1e-9
    g = per_unit.groupby(["level1", "level2"], sort=False)
    out = pd.DataFrame({"points": g["points"].max(), "average": g["score"].mean(), "share": g["share"].mean(),
                        "below": g["short"].sum().astype(int)}).reset_index()
    return out[cols]


def weakest_level2(results: Results, n: int = 3) -> pd.DataFrame:
    """The ``n`` 二级指标 with the lowest mean share of points (ties: scheme order); only those below full."""
    lv2 = level2(results)
    lv2 = lv2[lv2["below"] > 0]
    return lv2.sort_values("share", kind="stable").head(n).reset_index(drop=True)


def below_full(results: Results, n: int = 5) -> pd.DataFrame:
    """The 三级指标 most often short of full points: id, level1, level2, name, points, below, units."""
    ind = indicators(results)
    cols = ["id", "level1", "level2", "name", "points", "below", "units"]
    if ind.empty:
        return pd.DataFrame(columns=cols)
    short = ind[ind["score"] < ind["points"] - 1e-9]
    g = short.groupby(["id", "level1", "level2", "name", "points"], sort=False)["unit_name"]
    out = g.agg(below="count", units=list).reset_index()
    return out.sort_values("below", ascending=False, kind="stable").head(n).reset_index(drop=True)[cols]


def _key(u: UnitResult) -> str:
    return f"code:{u.unit_code}" if u.unit_code else f"name:{u.label}"


def _ranked(results: Results) -> pd.DataFrame:
    ok = _ok(results)
    df = pd.DataFrame([{"key": _key(u), "unit_name": u.label, "unit_code": u.unit_code, "total": u.total,
                        "grade": u.grade, **dict(u.levels or {})} for u in ok],
                      columns=["key", "unit_name", "unit_code", "total", "grade", *_level_names(results)])
    df = df.sort_values(["total", "unit_name"], ascending=[False, True], kind="stable").reset_index(drop=True)
    df.insert(0, "rank", df["total"].rank(method="min", ascending=False).astype("Int64"))
    return df


def _match(results: Results, previous: Results) -> dict[str, UnitResult]:
    """Current unit key → last year's ok unit: by unit_code, else by name."""
    prev_ok = _ok(previous)
    by_code = {u.unit_code: u for u in prev_ok if u.unit_code}
    by_name = {u.label: u for u in prev_ok}
    out = {}
    for u in _ok(results):
        p = by_code.get(u.unit_code) if u.unit_code else None
        p = p or by_name.get(u.label)
        if p is not None:
            out[_key(u)] = p
    return out


def ranking(results: Results, previous: Results | None = None) -> pd.DataFrame:
    """Ok units best first: rank (1, 2, 2, 4 …), unit_name, unit_code, total, grade, each 一级指标; with
    ``previous`` also previous_total, change, previous_grade, previous_rank, rank_change (up is positive)."""
    df = _ranked(results)
    if previous is None:
        return df.drop(columns="key")
    matched = _match(results, previous)
    prev_rank = _ranked(previous)
    rank_of = dict(zip(prev_rank["key"], prev_rank["rank"], strict=True))
    df["previous_total"] = [matched[k].total if k in matched else None for k in df["key"]]
    prev_total = {k: p.total for k, p in matched.items() if p.total is not None}
    df["change"] = [round(t - prev_total[k], 10) if k in prev_total else None
                    for t, k in zip(df["total"], df["key"], strict=True)]
    df["previous_grade"] = [matched[k].grade if k in matched else None for k in df["key"]]
    df["previous_rank"] = pd.array([rank_of.get(_key(matched[k])) if k in matched else None
                                    for k in df["key"]], dtype="Int64")
    df["rank_change"] = df["previous_rank"] - df["rank"]
    return df.drop(columns="key")


def year_over_year(results: Results, previous: Results) -> dict[str, Any]:
    """The counts of section 三: matched, improved, declined, unchanged, average_change (None if none matched)."""
    r = ranking(results, previous)
    ch = r["change"].dropna().astype(float)
    return {"matched": int(ch.size), "improved": int((ch > 0).sum()), "declined": int((ch < 0).sum()),
            "unchanged": int((ch == 0).sum()), "average_change": float(ch.mean()) if ch.size else None}


def grade_moves(results: Results, previous: Results) -> pd.DataFrame:
    """Units whose grade changed: previous_grade, grade, count, units (names); most units first."""
    r = ranking(results, previous)
    moved = r[r["previous_grade"].notna() & (r["previous_grade"] != r["grade"])]
    cols = ["previous_grade", "grade", "count", "units"]
    if moved.empty:
        return pd.DataFrame(columns=cols)
    out = moved.groupby(["previous_grade", "grade"], sort=False)["unit_name"].agg(count="count", units=list)
    return out.reset_index().sort_values("count", ascending=False, kind="stable").reset_index(drop=True)[cols]


def problem_themes(texts: Mapping[str, Sequence[str]], themes: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """The clerks' 存在的问题 rows (unit → texts) grouped by keyword theme (theme → keywords, scheme order):
    theme, count (units with a row naming a keyword), units. Themes no unit mentions are left out."""
    rows = []
    for theme, words in themes.items():
        names = [unit for unit, rows_ in texts.items()
                 if any(str(w) in str(t) for t in rows_ for w in words)]
        if names:
            rows.append({"theme": theme, "count": len(names), "units": names})
    df = pd.DataFrame(rows, columns=["theme", "count", "units"])
    return df.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def projects(results: Results) -> pd.DataFrame:
    """One row per project workbook, in results.json order: unit_name, unit_code, project_name, status, total, grade, execution_rate (fraction), fund_full, fund_spent."""
    cols = ["unit_name", "unit_code", "project_name", "status", "total", "grade", "execution_rate", "fund_full",
            "fund_spent"]
    rows = [{"unit_name": u.unit_name or u.file, "unit_code": u.unit_code, "status": u.status,
             "project_name": u.extra.get("project_name") or u.file, "total": u.total, "grade": u.grade,
             **{k: u.extra.get(k) for k in ("execution_rate", "fund_full", "fund_spent")}}
            for u in results.units if u.is_project]
    return pd.DataFrame(rows, columns=cols)
