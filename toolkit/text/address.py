"""Cell addresses, the one place that parses and writes them: "C7", "收支情况!C7", "'收支 情况'!$C$7"."""

from __future__ import annotations

import re


def col_letter(n: int) -> str:
    """1 → A, 27 → AA."""
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def col_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


_CELL_RE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_REF_RE = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!(.+)$")


def split_cell(cell: str) -> tuple[int, int] | None:
    """"C7" → (7, 3) (row, column), 1-based."""
    m = _CELL_RE.match(cell.strip())
    if not m:
        return None
    return int(m.group(2)), col_number(m.group(1))


def split_address(address: str) -> tuple[str, str] | None:
    """"收支情况!C7" or "'收支 情况'!$C$7" → (sheet, "C7")."""
    m = _REF_RE.match(address.strip())
    if not m:
        return None
    sheet = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
    rc = split_cell(m.group(3).split(":")[0])
    if rc is None:
        return None
    return sheet, f"{col_letter(rc[1])}{rc[0]}"


def address(sheet: str, row: int, col: int) -> str:
    return f"{sheet}!{col_letter(col)}{row}"


def split_location(location: str | None) -> tuple[str | None, str | None]:
    """"收支情况!C7" → ("收支情况", "C7"); "C7" → (None, "C7"); None → (None, None)."""
    if not location:
        return None, None
    parsed = split_address(location)
    return parsed if parsed else (None, location)


def cell_order(cell: str | None) -> tuple[int, int]:
    """(row, column) of "C7" for sorting; (0, 0) when there is no cell."""
    rc = split_cell(cell) if cell else None
    return rc or (0, 0)
