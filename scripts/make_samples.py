"""Regenerate the committed workbooks: ``samples/*.xlsx`` and ``workbook_templates/*.xlsx``.

    python scripts/make_samples.py           # (re)write every file; byte-identical when nothing changed
    python scripts/make_samples.py --check   # write nothing; exit 1 listing the stale files

Each sample is a YAML file in ``samples/data/`` shaped like ``seed-unit.yaml``: field keys with the
values a clerk would type; checklists as lists (``chk_mgmt_system: [是, 是, 否]`` → chk_mgmt_system_1…);
``perf_indicators`` (a project form's ``project_indicators``: [level1, level2, name, target, actual,
unit, points, self_score, deviation_note]) rows as lists [level1, level2, name, direction, target, target_max, unit,
actual, points, self_score?, deviation_note?] — the columns of the scheme's template in order, so a
scheme whose indicator_table adds 得分系数 takes [..., points, self_score, coefficient, deviation_note]; ``problems`` / ``plans`` as lists of text. Keys that
are not workbook values: ``sample_file`` (output name, default ``<unit_name>.xlsx``), ``scheme``
(default jianghua-2023) and ``expected`` (results other tests check).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from toolkit.fields import form  # noqa: E402
from toolkit.forms.template import build_workbook_bytes, template_file_name  # noqa: E402
from toolkit.rules.loader import DEFAULT_SCHEME, builtin_ids, load_scheme  # noqa: E402
from toolkit.rules.types.table import perf_table  # noqa: E402
from toolkit.write import atomic  # noqa: E402

SAMPLES = ROOT / "samples"
DATA = SAMPLES / "data"
TEMPLATES = ROOT / "workbook_templates"

NOT_VALUES = {"sample_file", "scheme", "expected"}
TEXT_COLUMNS = {"target", "target_max", "actual"}  # formatted as text in the template: typed as text


def _as_typed(v: Any) -> Any:
    """What a clerk's typing leaves in a text-formatted cell: the text as written."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def workbook_args(data: dict[str, Any]) -> dict[str, Any]:
    """YAML sample data → keyword arguments of ``build_workbook_bytes``."""
    values: dict[str, Any] = {}
    tables: dict[str, list[dict[str, Any]]] = {}
    scheme = load_scheme(data.get("scheme") or DEFAULT_SCHEME)
    indicator_table = perf_table(scheme) if scheme.form == "dept" else form(scheme.form).indicator_table
    perf_keys = [c.key for c in indicator_table.columns]
    for k, v in data.items():
        if k in NOT_VALUES:
            continue
        if k == indicator_table.name:
            rows = []
            for r in v or []:
                row = dict(zip(perf_keys, r, strict=False))
                rows.append({c: (_as_typed(x) if c in TEXT_COLUMNS else x) for c, x in row.items()})
            tables[k] = rows
        elif k in ("problems", "plans"):
            tables[k] = [{k: text} for text in v or []]
        elif k.startswith("chk_") and isinstance(v, list):
            values.update({f"{k}_{i}": item for i, item in enumerate(v, start=1)})
        else:
            values[k] = v
    meta = {"unit_code": str(values["unit_code"])} if values.get("unit_code") else {}
    return {"values": values, "tables": tables, "meta": meta}


def sample_files() -> dict[Path, bytes]:
    out: dict[Path, bytes] = {}
    for src in sorted(DATA.glob("*.yaml")):
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
        name = data.get("sample_file") or f"{data['unit_name']}.xlsx"
        scheme = load_scheme(data.get("scheme") or DEFAULT_SCHEME)
        out[SAMPLES / name] = build_workbook_bytes(scheme, **workbook_args(data))
    return out


def template_files() -> dict[Path, bytes]:
    out: dict[Path, bytes] = {}
    for sid in builtin_ids():
        scheme = load_scheme(sid)
        out[TEMPLATES / template_file_name(scheme)] = build_workbook_bytes(scheme)
    return out


def stale_files() -> list[Path]:
    """Committed files that differ from what this script would write."""
    wanted = {**sample_files(), **template_files()}
    return [p for p, data in wanted.items() if not p.exists() or p.read_bytes() != data]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="只检查，不写文件；有过期文件时退出码为 1")
    args = ap.parse_args(argv)
    if args.check:
        stale = stale_files()
        for p in stale:
            print(f"过期：{p.relative_to(ROOT)}")
        return 1 if stale else 0
    for path, data in {**sample_files(), **template_files()}.items():
        if not path.exists() or path.read_bytes() != data:
            atomic.write_bytes(path, data)
            print(f"已写入：{path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
