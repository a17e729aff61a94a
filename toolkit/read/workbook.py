"""Reading a completed workbook: every value by defined name and every list table by table name.

``read_workbook(path, rel)`` reads the file once (read-only, into memory), has read/package.py refuse
anything that is not a safe .xlsx, then locates every value through the workbook's own structure
(read/ooxml.py) and reads only the cells around what the form reads. Nothing here knows about
schemes: check/validate.py decides what is required and what is missing.

Decisions where the spec is silent:
- Only the cells around what the form reads are kept (``_bounds``): named cells and tables plus
  MAX_TABLE_ROWS rows; stray values far away (XFD1048576) are not read at all. A table over whole
  columns (A3:K1048576) ends at the sheet's last value; at most MAX_TABLE_ROWS rows.
- Defined names match case-insensitively, workbook scope first, sheet scope as a fallback.
- A table is found by its table part's name anywhere in the workbook, else by its header row on its
  sheet (re-saves that drop table parts). Rows typed directly below a table's range belong to it
  (LibreOffice does not grow tables), up to the first blank row.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit import fields
from toolkit.problems import Problem, problem
from toolkit.read import cells as RC
from toolkit.read.clean import FormulaError, clean_text, display
from toolkit.read.ooxml import Sheet, SheetReader, Structure, TablePart, part_corners, structure
from toolkit.read.package import LIMITS, MB, check_prologs, fail, sniff
from toolkit.text.address import address, col_letter, split_address, split_cell


@dataclass(frozen=True)
class RawTable:
    """One list table as found in the workbook, every data row kept (blank ones too)."""

    name: str
    sheet: str
    header_row: int  # Excel row number of the header
    columns: dict[str, str]  # column key → column letter
    rows: tuple[tuple[int, dict[str, Any]], ...]  # (Excel row number, column key → raw value)
    missing_columns: tuple[str, ...] = ()  # column keys whose header was not found
    located_by: str = "table"  # "table" (a table part) or "header" (header row on the sheet)
    truncated: bool = False  # values below MAX_TABLE_ROWS data rows exist and were not read

    def nonblank_rows(self) -> list[tuple[int, int, dict[str, Any]]]:
        """(index among data rows, 1-based; Excel row; values) of rows with anything in them."""
        return [(i, r, vals) for i, (r, vals) in enumerate(self.rows, start=1)
                if any(not _blank(v) for v in vals.values())]

    def address(self, excel_row: int, key: str) -> str:
        return f"{self.sheet}!{self.columns[key]}{excel_row}"


@dataclass(frozen=True)
class RawWorkbook:
    """Everything read from one workbook, before any normalisation.

    ``values`` maps each defined name (lower-case; = field key) to the raw cell value (None when
    blank; a ``FormulaError`` for #DIV/0! etc.); ``addresses`` maps it to "sheet!C5".
    ``broken`` holds names whose reference is invalid (#REF!, a deleted sheet).
    """

    file: str
    values: dict[str, Any]
    addresses: dict[str, str]
    tables: dict[str, RawTable]
    meta: dict[str, Any]
    problems: tuple[Problem, ...] = ()
    sheet_names: tuple[str, ...] = ()
    broken: dict[str, str] = field(default_factory=dict)
    sheet_cells: dict[str, RC.SheetCells] = field(default_factory=dict, repr=False)
    macro: bool = False
    _reverse: dict[tuple[str, str], str] = field(default_factory=dict, repr=False, compare=False)

    def cell(self, sheet: str, row: int, col: int) -> Any:
        """The raw value at (row, col) of a sheet that was read (1-based); None when blank/unread."""
        cells = self.sheet_cells.get(sheet)
        return None if cells is None else cells.get(row, col)

    def logical_location(self, addr: str) -> str | None:
        """"sheet!C7" → the field key there, or "<table>:<row index>:<column key>"; None if neither."""
        parts = split_address(addr)
        if parts is None:
            return None
        if not self._reverse:
            rev = self._reverse
            for key, a in self.addresses.items():
                p = split_address(a)
                if p:
                    rev[p] = key
            for t in self.tables.values():
                for i, (r, _) in enumerate(t.rows, start=1):
                    for key, letter in t.columns.items():
                        rev[(t.sheet, f"{letter}{r}")] = f"{t.name}:{i}:{key}"
        return self._reverse.get(parts)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not isinstance(v, FormulaError) and clean_text(v) is None)


Migration = Callable[["RawWorkbook"], "RawWorkbook"]
# template_version → function bringing a RawWorkbook of that version up to TEMPLATE_VERSION.
MIGRATIONS: dict[int, Migration] = {}

MAX_TABLE_ROWS = fields.MAX_TABLE_ROWS  # rows past it are not read
# Rows and columns kept around what the form reads (rows typed below, pasted text spilling down).
_ROW_MARGIN = MAX_TABLE_ROWS + 100
_MIN_COLS, _MAX_COLS = 32, 1024
_META_BOUNDS = RC.Bounds(max_row=200, max_col=2)
# Serial-day difference between the 1900 and 1904 date systems.
_DAYS_1904 = 1462
_DATE_KEYS = frozenset(f.key for form in fields.FORMS.values() for f in form.fields if f.kind == "date")


def read_workbook(path: Path, rel: str | None = None, tables: Sequence[fields.Table] = ()) -> RawWorkbook:
    """Read one workbook safely. Raises IntakeError when the file cannot be used at all.

    ``tables``: a scheme's own list tables (spec 08.4), read like the built-in ones."""
    rel = rel or path.name
    try:
        # read-only, closed at once: never locked, never modified; O_NONBLOCK: a FIFO cannot block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise fail("unreadable", detail="不是普通文件（可能是设备、管道或快捷方式）")
            if st.st_size > LIMITS.max_file_size:
                raise fail("zip_bomb", detail=f"文件大小 {st.st_size // MB} MB，远超填报表的正常大小")
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:  # grew while being read
                raise fail("unreadable", detail="文件正在被写入，请稍后重试")
    except OSError as e:
        raise fail("unreadable", detail=f"无法打开文件（{e.strerror or e}）") from None
    return read_bytes(data, rel, suffix=path.suffix, tables=tables)


def _bounds(st: Structure, defined: list[tuple[str, int, int]]) -> dict[str, RC.Bounds]:
    """Per sheet, the rows and columns the form can read: its named cells and tables, plus margins."""
    rows: dict[str, int] = {}
    cols: dict[str, int] = {}
    for sheet, r, c in defined:
        rows[sheet] = max(rows.get(sheet, 0), r)
        cols[sheet] = max(cols.get(sheet, 0), c)
    for sheet, parts in st.tables.items():
        for p in parts:
            a, _ = part_corners(p)
            if a is None:
                continue
            rows[sheet] = max(rows.get(sheet, 0), a[0])
            cols[sheet] = max(cols.get(sheet, 0), a[1] + len(p.columns))
    out = {s.name: RC.Bounds(rows.get(s.name, 0) + _ROW_MARGIN,
                             min(_MAX_COLS, max(_MIN_COLS, cols.get(s.name, 0) + 2))) for s in st.sheets}
    for s in st.sheets:
        if s.name.lower() == fields.SHEET_META.lower():
            out[s.name] = _META_BOUNDS
    return out


def read_bytes(data: bytes, rel: str, suffix: str = ".xlsx", tables: Sequence[fields.Table] = ()) -> RawWorkbook:
    zf = sniff(data, suffix)
    check_prologs(zf)
    st = structure(zf)
    sheets, defined = st.sheets, st.names
    by_name = {s.name: s for s in sheets}
    problems: list[Problem] = []
    macro = suffix.lower() == ".xlsm" or "xl/vbaProject.bin" in zf.NameToInfo
    if macro:
        problems.append(problem("macro_workbook"))

    # defined names: workbook scope first, sheet scope as a fallback
    targets: dict[str, tuple[str, int, int]] = {}
    broken: dict[str, str] = {}
    for name, _scope, ref in sorted(defined, key=lambda d: d[1] is not None):
        key = name.lower()
        if not key or key.startswith("_xlnm.") or key in targets or key in broken:
            continue
        target = _resolve(ref, by_name)
        if target is None:
            broken[key] = ref
        else:
            targets[key] = target
    reader = SheetReader(zf, st, _bounds(st, list(targets.values())), RC.Bounds(_ROW_MARGIN, _MIN_COLS))
    value = reader.value

    meta = _read_meta(by_name, reader.sheet)
    values: dict[str, Any] = {}
    addresses: dict[str, str] = {}
    for key, (sheet, row, col) in targets.items():
        v = value(sheet, row, col)
        if st.date1904 and key in _DATE_KEYS and isinstance(v, float) and not isinstance(v, bool):
            v += _DAYS_1904  # a General-formatted serial: normalize counts from 1900
        values[key] = v
        addresses[key] = address(sheet, row, col)

    found_tables: dict[str, RawTable] = {}
    all_parts = {p.name.lower(): (sheet, p) for sheet, ps in st.tables.items() for p in ps}
    form = fields.form(meta["form"])
    for t in (*form.tables, *tables):
        found = all_parts.get(t.name.lower())
        if found:
            found_tables[t.name] = _table_from_part(t, found[0], found[1], reader.sheet, value)
        else:
            rt = _table_from_header(t, reader.sheet, value)
            if rt:
                found_tables[t.name] = rt
    raw = RawWorkbook(file=rel, values=values, addresses=addresses, tables=found_tables, meta=meta,
                      problems=tuple(problems), sheet_names=tuple(s.name for s in sheets), broken=broken,
                      sheet_cells=reader.sheets, macro=macro)
    version: int = meta["template_version"]
    if version != fields.TEMPLATE_VERSION:
        raw = MIGRATIONS[version](raw)  # _read_meta only lets known versions through
    return raw


def _resolve(ref: str, sheets: dict[str, Sheet]) -> tuple[str, int, int] | None:
    ref = ref.lstrip("=").split(",")[0].strip()
    parsed = None if "#REF!" in ref.upper() else split_address(ref)
    if parsed is None or parsed[0] not in sheets:
        return None
    rc = split_cell(parsed[1])
    return (parsed[0], rc[0], rc[1]) if rc else None


def _read_meta(sheets: dict[str, Sheet], sheet: Callable[[str], RC.SheetCells | None]) -> dict[str, Any]:
    """_meta (very hidden, hidden or visible): key/value rows in A/B. Refuses other workbooks."""
    name = next((n for n in sheets if n.lower() == fields.SHEET_META.lower()), None)
    cells = sheet(name) if name else None
    if cells is None:
        raise fail("not_template", detail="文件中没有模板标识（_meta 工作表）")
    meta: dict[str, Any] = {}
    for _, line in cells.rows():
        k = line.get(1)
        if isinstance(k, str) and k.strip():
            v = line.get(2)
            meta[k.strip()] = display(v) if isinstance(v, float) else v
    tid = str(meta.get("template_id") or "").strip()
    form = fields.form_of_template(tid)
    if form is None:
        raise fail("not_template", detail=f"模板标识为“{tid or '空'}”")
    meta["form"] = form.name  # dept / project: which form this workbook is
    raw_version = meta.get("template_version")
    try:
        version = int(str(raw_version).strip())
    except ValueError:
        raise fail("template_version", found=f"“{raw_version}”", expected=fields.TEMPLATE_VERSION) from None
    known = version == fields.TEMPLATE_VERSION or (
        version in fields.KNOWN_OLD_VERSIONS and version in MIGRATIONS)
    if not known:
        raise fail("template_version", found=version, expected=fields.TEMPLATE_VERSION)
    meta["template_version"] = version
    for k in ("scheme_id", "unit_code"):
        if meta.get(k) is not None:
            meta[k] = str(meta[k]).strip() or None
    return meta


def _header_key(text: Any) -> str:
    return "".join(str(text).split()) if text is not None else ""


SheetOf = Callable[[str], "RC.SheetCells | None"]
ValueAt = Callable[[str, int, int], Any]


def _table_from_part(t: fields.Table, sheet: str, part: TablePart, sheet_of: SheetOf, value: ValueAt) -> RawTable:
    a, b = part_corners(part)
    if a is None or b is None:
        raise fail("unreadable", detail=f"表格“{t.title}”的范围“{part.ref}”无效")
    header_row = a[0]
    by_header = {_header_key(h): a[1] + i for i, h in enumerate(part.columns)}
    cells = sheet_of(sheet) or RC.SheetCells({})
    if not part.columns and part.header_rows:  # no column list: read the header cells
        last_col = min(b[1], a[1] + _MAX_COLS)
        by_header = {_header_key(value(sheet, header_row, c)): c for c in range(a[1], last_col + 1)}
    cols, missing = _match_columns(t, by_header)
    first_data = header_row + (1 if part.header_rows else 0)
    cap = first_data + MAX_TABLE_ROWS - 1
    # a range over whole columns (A1:F1048576) ends at the last row holding anything (or the template's rows)
    last_data = min(b[0] - part.totals_rows, max(cells.last_row, header_row + t.rows), cap)
    last_data = _extend(t, sheet, cells, cols, last_data, cap, value)
    rows = _rows(sheet, cols, first_data, last_data, value)
    return RawTable(t.name, sheet, header_row, {k: col_letter(c) for k, c in cols.items()}, rows,
                    tuple(missing), "table", _truncated(sheet, cells, cols, cap, value))


def _truncated(sheet: str, cells: RC.SheetCells, cols: dict[str, int], cap: int, value: ValueAt) -> bool:
    """Anything in the table's columns just below its last readable row? (Rows are kept ~100 past it.)"""
    return any(not _blank(value(sheet, r, c)) for r in range(cap + 1, cells.last_row + 1) for c in cols.values())


def _match_columns(t: fields.Table, by_header: dict[str, int]) -> tuple[dict[str, int], list[str]]:
    """Column key → column number by header; the base columns not found. A column that only some
    schemes add (得分系数, 调整后指标值: fields.PERF_COLUMNS with an ``option``) is read when its
    header is there and is never missing."""
    cols: dict[str, int] = {}
    missing: list[str] = []
    optional = [c for c in fields.PERF_COLUMNS if c.option] if t.name == fields.PERF_INDICATORS.name else []
    for c in (*t.columns, *optional):
        n = by_header.get(_header_key(c.header))
        if n is not None:
            cols[c.key] = n
        elif not c.option:
            missing.append(c.key)
    return cols, missing


def _extend(t: fields.Table, sheet: str, cells: RC.SheetCells, cols: dict[str, int], last: int, cap: int,
            value: ValueAt) -> int:
    """Rows typed directly below a table (LibreOffice does not grow tables) belong to it."""
    other_headers = {_header_key(o.columns[0].header) for o in fields.TABLES if o is not t}
    r = last + 1
    while r <= min(cells.last_row, cap):
        vals = [value(sheet, r, c) for c in cols.values()]
        if all(_blank(v) for v in vals) or any(_header_key(v) in other_headers for v in vals):
            break
        last = r
        r += 1
    return last


def _rows(sheet: str, cols: dict[str, int], first: int, last: int,
          value: ValueAt) -> tuple[tuple[int, dict[str, Any]], ...]:
    return tuple((r, {k: value(sheet, r, c) for k, c in cols.items()}) for r in range(first, last + 1))


def _table_from_header(t: fields.Table, sheet_of: SheetOf, value: ValueAt) -> RawTable | None:
    """No table part (dropped by a re-save): find the table's header row on its sheet."""
    cells = sheet_of(t.sheet)
    if not cells or not cells.cells:
        return None
    wanted = {_header_key(c.header) for c in t.columns}
    first_header = _header_key(t.columns[0].header)
    other = {_header_key(o.columns[0].header) for o in fields.TABLES if o is not t}
    for r, line in cells.rows():
        keys = {_header_key(v): c for c, v in sorted(line.items()) if isinstance(v, str) and v.strip()}
        if first_header not in keys or not wanted & set(keys):
            continue
        cols, missing = _match_columns(t, keys)
        if len(missing) > len(t.columns) // 2:
            continue
        cap = r + MAX_TABLE_ROWS
        end = min(r + t.rows, max(cells.last_row, r), cap)
        for rr in range(r + 1, end + 1):  # stop at the next table's header
            if any(_header_key(value(t.sheet, rr, c)) in other for c in cols.values()):
                end = rr - 1
                break
        end = _extend(t, t.sheet, cells, cols, end, cap, value)
        rows = _rows(t.sheet, cols, r + 1, end, value)
        truncated = end == cap and _truncated(t.sheet, cells, cols, cap, value)
        return RawTable(t.name, t.sheet, r, {k: col_letter(c) for k, c in cols.items()}, rows,
                        tuple(missing), "header", truncated)
    return None
