"""A workbook's structure from its own XML: sheets, defined names, table parts, styles and strings.

Everything is located through ``xl/workbook.xml`` and the relationship parts (never by fixed part
names alone), so inserted rows/columns and re-saves by Excel, WPS or LibreOffice do not matter.
``SheetReader`` streams the kept cells of each sheet on first use (read/cells.py: bounded, sparse).
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from toolkit.read import cells as RC
from toolkit.read.package import (
    LIMITS,
    ZIP_ERRORS,
    check_prologs,
    check_size,
    fail,
    parse_part,
    sniff,
)
from toolkit.text.address import split_cell

_REL_OFFICE_DOC = "/officeDocument"
_REL_WORKSHEET = "/worksheet"
_REL_TABLE = "/table"
_REL_STYLES = "/styles"
_REL_STRINGS = "/sharedStrings"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _rels(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """Relationships of ``part``: (Id, Type, target part path)."""
    folder, base = posixpath.split(part)
    root = parse_part(zf, posixpath.join(folder, "_rels", base + ".rels"))
    out: list[tuple[str, str, str]] = []
    if root is None:
        return out
    for el in root:
        if _local(el.tag) != "Relationship" or el.get("TargetMode") == "External":
            continue
        target = el.get("Target") or ""
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
        out.append((el.get("Id") or "", el.get("Type") or "", path))
    return out


@dataclass
class Sheet:
    name: str
    state: str
    part: str | None


def _workbook_part(zf: zipfile.ZipFile) -> str:
    for _, typ, path in _rels(zf, ""):
        if typ.endswith(_REL_OFFICE_DOC):
            return path
    return "xl/workbook.xml"


@dataclass(frozen=True)
class TablePart:
    """A table part as written in the file: display name, ref ("A3:F20"), column names."""

    name: str
    ref: str
    header_rows: int
    totals_rows: int
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Structure:
    """A workbook's structure from its own XML: sheets (name, state, part), defined names, tables."""

    sheets: tuple[Sheet, ...]
    names: tuple[tuple[str, str | None, str], ...]  # (name, local sheet index or None, reference)
    tables: dict[str, tuple[TablePart, ...]]  # sheet name → its table parts
    date1904: bool = False
    styles_part: str | None = None
    strings_part: str | None = None



def read_structure(source: Path | str | bytes) -> Structure:
    """The structure of a workbook file (or its bytes), after the same safety checks as reading."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    suffix = ".xlsx" if isinstance(source, bytes) else Path(source).suffix
    zf = sniff(data, suffix)
    check_prologs(zf)
    return structure(zf)


def read_sheets(source: Path | str | bytes, max_row: int = 1000, max_col: int = 64) -> dict[str, RC.SheetCells]:
    """Every sheet's non-blank cells in A1…(max_col, max_row), read as the form's cells are read."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    zf = sniff(data, ".xlsx" if isinstance(source, bytes) else Path(source).suffix)
    check_prologs(zf)
    st = structure(zf)
    bounds = RC.Bounds(max_row, max_col)
    reader = SheetReader(zf, st, {s.name: bounds for s in st.sheets}, bounds)
    return {s.name: reader.sheet(s.name) or RC.SheetCells({}) for s in st.sheets}


def structure(zf: zipfile.ZipFile) -> Structure:
    wb_part = _workbook_part(zf)
    root = parse_part(zf, wb_part)
    if root is None or _local(root.tag) != "workbook":
        raise fail("not_xlsx", detail="压缩包中没有 Excel 工作簿内容（可能是 Word 文档或其他文件改了扩展名）")
    rels = _rels(zf, wb_part)
    targets = {rid: path for rid, typ, path in rels if typ.endswith(_REL_WORKSHEET)}
    styles = next((path for _, typ, path in rels if typ.endswith(_REL_STYLES)), None)
    strings = next((path for _, typ, path in rels if typ.endswith(_REL_STRINGS)), None)
    sheets: list[Sheet] = []
    names: list[tuple[str, str | None, str]] = []
    date1904 = False
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "sheet":
            rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
            sheets.append(Sheet(el.get("name") or "", el.get("state") or "visible", targets.get(rid)))
        elif tag == "definedName":
            names.append((el.get("name") or "", el.get("localSheetId"), (el.text or "").strip()))
        elif tag == "workbookPr" and el.get("date1904") is not None:  # not x15:workbookPr
            date1904 = (el.get("date1904") or "").strip().lower() in ("1", "true")
    tables = {s.name: tuple(_table_parts(zf, s.part)) for s in sheets if s.part}
    return Structure(tuple(sheets), tuple(names), tables, date1904,
                     styles or ("xl/styles.xml" if "xl/styles.xml" in zf.NameToInfo else None),
                     strings or ("xl/sharedStrings.xml" if "xl/sharedStrings.xml" in zf.NameToInfo else None))


def _table_parts(zf: zipfile.ZipFile, sheet_part: str) -> list[TablePart]:
    out: list[TablePart] = []
    for _, typ, path in _rels(zf, sheet_part):
        if not typ.endswith(_REL_TABLE):
            continue
        root = parse_part(zf, path)
        if root is None:
            continue
        cols = tuple(RC.decode_xstring(el.get("name") or "") for el in root.iter() if _local(el.tag) == "tableColumn")
        out.append(TablePart(
            name=root.get("displayName") or root.get("name") or "", ref=root.get("ref") or "",
            header_rows=_int_attr(root.get("headerRowCount"), 1),
            totals_rows=_int_attr(root.get("totalsRowCount"), 0), columns=cols))
    return out


def _int_attr(v: str | None, default: int) -> int:
    try:
        return int(v) if v is not None and v.strip() else default
    except ValueError:
        return default


def part_corners(p: TablePart) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    first, last = (p.ref.split(":") + [p.ref])[:2]
    return split_cell(first), split_cell(last)


class SheetReader:
    """Reads the kept cells of each sheet on first use (streamed, bounded, see read/cells.py)."""

    def __init__(self, zf: zipfile.ZipFile, st: Structure, bounds: dict[str, RC.Bounds], default: RC.Bounds):
        self.zf, self.st, self.bounds, self.default = zf, st, bounds, default
        self.by_name = {s.name: s for s in st.sheets}
        self.sheets: dict[str, RC.SheetCells] = {}
        self._styles: list[str] | None = None
        self._strings: list[str] | None = None

    def _stream(self, part: str | None, limit: int) -> IO[bytes] | None:
        if not part or part not in self.zf.NameToInfo:
            return None
        check_size(self.zf, part, limit)
        try:
            return self.zf.open(part)
        except ZIP_ERRORS:
            raise fail("not_xlsx", detail="文件不完整或已损坏") from None

    def _parse(self, part: str | None, fn: Callable[[IO[bytes] | None], Any]) -> Any:
        fh = self._stream(part, LIMITS.max_cell_part)
        try:
            return fn(fh)
        except RC.SheetXmlError as e:
            if str(e) == "dtd":
                raise fail("xml_bomb") from None
            raise fail("unreadable", detail=f"{part} 的内容已损坏") from None
        except ZIP_ERRORS:
            raise fail("not_xlsx", detail="文件不完整或已损坏") from None
        finally:
            if fh is not None:
                fh.close()

    def sheet(self, name: str) -> RC.SheetCells | None:
        if name in self.sheets:
            return self.sheets[name]
        s = self.by_name.get(name)
        if s is None:
            return None
        if self._styles is None:
            self._styles = self._parse(self.st.styles_part, RC.style_kinds)
            self._strings = self._parse(self.st.strings_part, RC.shared_strings)
        bounds = self.bounds.get(name) or self.default
        styles, strings = self._styles or [], self._strings or []
        cells: RC.SheetCells = self._parse(s.part, lambda fh: RC.read_sheet(fh, bounds, styles, strings, self.st.date1904)
                            if fh is not None else RC.SheetCells({}))
        self.sheets[name] = cells
        return cells

    def value(self, sheet: str, row: int, col: int) -> Any:
        cells = self.sheet(sheet)
        return None if cells is None else cells.get(row, col)

