"""The 单位名册 reader: a roster .xlsx → one row (field key → text) per unit, for prefilled templates."""

from __future__ import annotations

import math
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
}


def _cell_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime):
        return v.date().isoformat()
    return str(v).strip()


def read_roster(path: Path) -> list[dict[str, str]]:
    """Rows of a 单位名册 .xlsx as field key → text; RosterError when unusable."""
    import pandas as pd  # lazy (toolkit/__init__.py)

    path = Path(path)
    try:
        df = pd.read_excel(path, engine="calamine", dtype=object, header=0)
    except Exception as e:  # noqa: BLE001 - any reading failure is the roster's problem
        raise RosterError(f"无法读取单位名册 {path.name}：{e}（请提供 .xlsx 格式的名册）") from None
    headers = {str(c).strip(): c for c in df.columns}
    col_of: dict[str, Any] = {}
    for key, names in _ROSTER_COLUMNS.items():
        for n in names:
            if n in headers:
                col_of[key] = headers[n]
                break
    if "unit_name" not in col_of:
        raise RosterError(f"单位名册 {path.name} 缺少“单位名称”列（第1行应为表头：单位名称、单位编码、所属地区、联系人、联系邮箱）")
    out: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(df.itertuples(index=False), start=2):
        row = {key: _cell_text(rec[list(df.columns).index(col)]) for key, col in col_of.items()}
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
    return out
