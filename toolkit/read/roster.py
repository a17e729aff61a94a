"""The 单位名册 reader: a roster → one row (field key → text) per unit, for prefilled templates and
for ``run --roster`` (who has not submitted).

Rosters as people keep them (spec 07): .xlsx / .xls / .csv (UTF-8 or GBK), a title row (or a few)
above the header row (the first row naming 单位名称), a 联系电话 column, and 所属地区 taken from the
unit names' common prefix (cut after its last 省/市/州/县/区/旗) when the column is absent.
"""

from __future__ import annotations

import csv
import io
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from toolkit.errors import JixiaoError
from toolkit.text.names import safe_file_stem


class RosterError(JixiaoError, ValueError):
    """A 单位名册 that cannot be used; the message (Chinese) names the file, row or column."""


_ROSTER_COLUMNS = {  # roster header (and accepted variants) → field key
    "unit_name": ("单位名称",),
    "unit_code": ("单位编码", "单位编码（预算编码）", "预算编码"),
    "region": ("所属地区", "地区"),
    "contact_name": ("联系人",),
    "contact_email": ("联系邮箱", "电子邮箱", "邮箱"),
    "contact_phone": ("联系电话", "电话", "手机"),
}
_HEADER_SCAN = 10  # the header row is searched among the first rows (title rows above it)
_REGION_ENDS = "省市州县区旗"


def _rows(path: Path) -> list[list[Any]]:
    """The whole sheet (or CSV) as rows of cells, without a header."""
    if path.suffix.lower() == ".csv":
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValueError("文字编码无法识别（应为 UTF-8 或 GBK）")
        return [list(r) for r in csv.reader(io.StringIO(text))]
    import pandas as pd  # lazy (toolkit/__init__.py)

    df = pd.read_excel(path, engine="calamine", dtype=object, header=None)
    return [list(r) for r in df.itertuples(index=False)]


def region_of(names: list[str]) -> str:
    """The unit names' common prefix up to its last 省/市/州/县/区/旗 (\"\" when there is none)."""
    if len(names) < 2:
        return ""
    prefix = os.path.commonprefix(names)
    cut = max(prefix.rfind(c) for c in _REGION_ENDS)
    return prefix[: cut + 1] if cut >= 0 else ""



def _cell_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime):
        return v.date().isoformat()
    return str(v).strip()


def read_roster(path: Path) -> list[dict[str, str]]:
    """Rows of a 单位名册 (.xlsx/.xls/.csv) as field key → text; RosterError when unusable."""
    path = Path(path)
    try:
        raw_rows = _rows(path)
    except Exception as e:  # noqa: BLE001 - any reading failure is the roster's problem
        raise RosterError(f"无法读取单位名册 {path.name}：{e}（请提供 .xlsx 格式的名册）") from None
    rows = [[_cell_text(v) for v in rec] for rec in raw_rows]
    head = next((i for i, r in enumerate(rows[:_HEADER_SCAN]) if any(
        v in _ROSTER_COLUMNS["unit_name"] for v in r)), None)
    if head is None:
        raise RosterError(f"单位名册 {path.name} 缺少“单位名称”列（第1行应为表头：单位名称、单位编码、所属地区、联系人、联系邮箱）")
    headers = {v: c for c, v in reversed(list(enumerate(rows[head]))) if v}
    col_of: dict[str, int] = {}
    for key, names in _ROSTER_COLUMNS.items():
        for n in names:
            if n in headers:
                col_of[key] = headers[n]
                break
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(rows[head + 1:], start=head + 2):
        row = {key: rec[col] if col < len(rec) else "" for key, col in col_of.items()}
        if not any(row.values()):
            continue
        name = row["unit_name"]
        if not name:
            raise RosterError(f"单位名册 {path.name} 第{i}行的“单位名称”为空")
        file_key = safe_file_stem(name, 80).lower()  # names that would share a file name
        if file_key in seen:
            raise RosterError(f"单位名册 {path.name} 第{i}行的单位“{name}”与第{seen[file_key]}行重复")
        seen[file_key] = i
        out.append(row)
    if not out:
        raise RosterError(f"单位名册 {path.name} 中没有任何单位")
    if "region" not in col_of:
        region = region_of([r["unit_name"] for r in out])
        if region:
            for r in out:
                r["region"] = region
    return out
