"""Test helpers: build Submissions from small readable mappings (no workbook involved)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from toolkit.fields import PERF_INDICATORS, STATIC_FIELDS
from toolkit.model import Submission, TableRow

ROOT = Path(__file__).resolve().parent.parent
SEED_YAML = ROOT / "samples" / "data" / "seed-unit.yaml"

_KIND = {f.key: f.kind for f in STATIC_FIELDS}
_PERF_KEYS = [c.key for c in PERF_INDICATORS.columns]


def load_seed() -> dict[str, Any]:
    return yaml.safe_load(SEED_YAML.read_text(encoding="utf-8"))


def _norm(key: str, v: Any) -> Any:
    if v is None or v == "":
        return None
    kind = _KIND.get(key)
    if key.startswith("score_") or key == "satisfaction_rate":
        return Decimal(str(v))
    if kind in ("int", "year"):
        return int(v)
    if kind in ("money", "money_signed", "area"):
        return Decimal(str(v))
    if kind == "date":
        return v if isinstance(v, date) else date.fromisoformat(str(v))
    return str(v)


def submission_from_data(data: dict[str, Any], file: str = "unit.xlsx") -> Submission:
    """A Submission from seed-unit.yaml-shaped data (checklists as lists, tables as lists)."""
    values: dict[str, Any] = {}
    cells: dict[str, str] = {}
    tables: dict[str, tuple[TableRow, ...]] = {}
    for k, v in data.items():
        if k == "expected":
            continue
        if k.startswith("chk_") and isinstance(v, list):
            for i, item in enumerate(v, start=1):
                values[f"{k}_{i}"] = item
            continue
        if k == "perf_indicators":
            rows = []
            for i, r in enumerate(v, start=1):
                vals: dict[str, Any] = dict.fromkeys(_PERF_KEYS)
                lv1, lv2, name, direction, target, tmax, unit, actual, points = r[:9]
                vals.update(level1=lv1, level2=lv2, name=name, direction=direction, unit=unit,
                            target=None if target is None else (Decimal(str(target)) if direction != "定性" else str(target)),
                            target_max=None if tmax is None else Decimal(str(tmax)),
                            actual=None if actual is None else (Decimal(str(actual)) if direction != "定性" else str(actual)),
                            points=Decimal(str(points)))
                if len(r) > 9:
                    vals["self_score"] = None if r[9] is None else Decimal(str(r[9]))
                if len(r) > 10:
                    vals["deviation_note"] = r[10]
                rows.append(TableRow(index=i, values=vals,
                                     cells={c: f"绩效指标!{chr(65 + j)}{3 + i}" for j, c in enumerate(_PERF_KEYS)}))
            tables["perf_indicators"] = tuple(rows)
            continue
        if k in ("problems", "plans"):
            tables[k] = tuple(TableRow(index=i, values={k: t}, cells={k: f"绩效分析!B{20 + i}"})
                              for i, t in enumerate(v, start=1))
            continue
        values[k] = _norm(k, v)
        cells[k] = f"x!{k}"
    return Submission(file=file, values=values, cells=cells, tables=tables,
                      meta={"template_id": "jixiao-dept-selfeval", "template_version": 1,
                            "scheme_id": "jianghua-2023"})


def seed_submission() -> Submission:
    return submission_from_data(load_seed(), file="江华瑶族自治县政务服务中心.xlsx")


def workbook_inputs(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """seed-unit.yaml-shaped data → (values by key, table rows) as a clerk would type them."""
    values: dict[str, Any] = {}
    tables: dict[str, list[dict[str, Any]]] = {}
    for k, v in data.items():
        if k == "expected":
            continue
        if k.startswith("chk_") and isinstance(v, list):
            values.update({f"{k}_{i}": item for i, item in enumerate(v, start=1)})
        elif k == "perf_indicators":
            tables[k] = [
                {key: (None if x is None else (x if isinstance(x, str) else (str(x) if key in ("target", "target_max", "actual") else x)))
                 for key, x in zip(_PERF_KEYS, r, strict=False)}
                for r in v
            ]
        elif k in ("problems", "plans"):
            tables[k] = [{k: t} for t in v]
        else:
            values[k] = v
    return values, tables


def write_unit(path: Path, data: dict[str, Any], scheme_id: str = "jianghua-2023") -> Path:
    """Write a filled standard workbook for ``data`` (through the real template writer)."""
    from toolkit.forms.template import write_workbook
    from toolkit.rules.loader import load_scheme

    values, tables = workbook_inputs(data)
    write_workbook(load_scheme(scheme_id), path, values=values, tables=tables)
    return path


def scheme_text(scheme_id: str = "jianghua-2023", *, new_id: str | None = None, **points: float) -> str:
    """A built-in scheme's YAML, optionally renamed and with some leaves' points changed."""
    import re

    from toolkit.rules.loader import builtin_dir

    text = (builtin_dir() / f"{scheme_id}.yaml").read_text(encoding="utf-8")
    if new_id:
        text = text.replace(f"id: {scheme_id}", f"id: {new_id}", 1)
    for node_id, pts in points.items():
        text, n = re.subn(rf"(- id: {node_id}\n(?:\s+name: .*\n))(\s+points: )\S+", rf"\g<1>\g<2>{pts}", text, count=1)
        assert n == 1, node_id
    return text


def distinct_units(inbox: Path, n: int, code_prefix: str = "6", name: str = "测试单位") -> None:
    """n valid workbooks u00.xlsx … of different units (the reference data, renamed)."""
    inbox.mkdir(parents=True, exist_ok=True)
    data = load_seed()
    for i in range(n):
        data.update(unit_name=f"江华瑶族自治县{name}{i:02d}", unit_code=f"{code_prefix}{i:05d}")
        write_unit(inbox / f"u{i:02d}.xlsx", data)
