"""File safety checks, then reading a completed workbook by defined name and table name.

``read_workbook(path, rel)`` reads the file once (read-only, into memory), refuses anything that
is not a safe .xlsx before any parser sees it (encrypted, legacy formats, zip and XML bombs), then
locates every value through the workbook's own ``xl/workbook.xml`` (defined names, sheets) and
table parts, and streams the cells it needs with its own namespace-aware parser (read_cells.py:
bounded memory, no dense grid, formula errors, percent and 1904 dates). Inserted rows/columns and re-saves by
Excel, WPS or LibreOffice do not matter. Nothing here knows about schemes: validate.py decides
what is required and what is missing.

Decisions where the spec is silent:
- Content wins over the extension: an OLE file is encrypted when it has an EncryptionInfo stream or
  is named .xlsx/.xlsm, else a legacy format; a real .xlsx named .xls is read; .xlsb and .ods
  (even renamed) are legacy formats; .csv is legacy by its extension.
- Limits (``Limits``): entries, declared sizes, ratio, total, XML prolog length, the size of the
  parts parsed. Only the cells around what the form reads are kept (``_bounds``): named cells and
  tables plus MAX_TABLE_ROWS rows; stray values far away (XFD1048576) are not read at all. A table
  over whole columns (A3:K1048576) ends at the sheet's last value; at most MAX_TABLE_ROWS rows.
- Counts a part declares (sharedStrings ``uniqueCount``, ``dimension``) are never trusted.
- Defined names match case-insensitively, workbook scope first, sheet scope as a fallback.
- A table is found by its table part's name anywhere in the workbook, else by its header row on its
  sheet (re-saves that drop table parts). Rows typed directly below a table's range belong to it
  (LibreOffice does not grow tables), up to the first blank row.
- Files being written: a file modified in the last 3 s is stat'ed again 50 ms later and skipped if
  it changed or is empty. An older empty file is reported (not_xlsx), as spec 05 asks.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from toolkit.forms import fields
from toolkit.problems import Problem, problem
from toolkit.read import cells as RC
from toolkit.read.normalize import FormulaError, clean_text, display
from toolkit.text.address import address, col_letter, split_address, split_cell

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a real workbook never exceeds (a filled template is < 1 MB, < 10 MB unpacked)."""

    max_file_size: int = 100 * MB  # on disk
    max_entries: int = 2000
    max_entry_size: int = 100 * MB  # declared uncompressed size of one part
    max_total_size: int = 200 * MB  # sum of declared uncompressed sizes
    max_ratio: float = 200  # uncompressed / compressed, for parts larger than ratio_min_size
    ratio_min_size: int = 1 * MB
    max_prolog: int = 64 * 1024  # bytes before the root element of an XML part
    max_tree_part: int = 5 * MB  # workbook.xml, relationships, tables (parsed into a tree here)
    max_cell_part: int = 20 * MB  # a sheet, sharedStrings.xml, styles.xml (streamed)


LIMITS = Limits()

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
# Formats a clerk must "save as .xlsx": suffix → name shown in the message.
LEGACY_FORMATS: dict[str, str] = {
    ".xls": "Excel 97-2003 工作簿（.xls）",
    ".et": "WPS 表格（.et）",
    ".ett": "WPS 表格模板（.ett）",
    ".ods": "OpenDocument 电子表格（.ods）",
    ".csv": "CSV 文本（.csv）",
    ".xlsb": "Excel 二进制工作簿（.xlsb）",
}
CANDIDATE_SUFFIXES = frozenset(WORKBOOK_SUFFIXES) | frozenset(LEGACY_FORMATS)
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
_REL_OFFICE_DOC = "/officeDocument"
_REL_WORKSHEET = "/worksheet"
_REL_TABLE = "/table"
# A file modified this recently is checked for growth (still being copied or saved).
_FRESH_SECONDS = 3.0
_SETTLE_SECONDS = 0.05
# What reading a damaged zip part may raise.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError)


class IntakeError(Exception):
    """The file cannot be read at all; ``problem`` says why (unreadable)."""

    def __init__(self, prob: Problem):
        super().__init__(prob.message)
        self.problem = prob


# --------------------------------------------------------------------------- result objects
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


# --------------------------------------------------------------------------- discovery
def _skipped_name(name: str) -> bool:
    return name.startswith((".", "~$")) or name.endswith(".part")


# Folders nested deeper than this under a given folder are not searched (a real inbox has 2–3 levels).
MAX_DEPTH = 32


def _regular(p: Path) -> os.stat_result | None:
    """The stat of a regular file (symlinks followed), else None: FIFOs, devices, sockets, folders."""
    try:
        st = os.stat(p)
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _inside(p: Path, root_real: str) -> bool:
    real = os.path.realpath(p)
    return os.path.normcase(real).startswith(os.path.normcase(root_real.rstrip(os.sep) + os.sep))


def _walk(root: Path) -> list[tuple[Path, str]]:
    """Candidate files under ``root`` without recursion: depth bounded, symlinked folders not entered,
    symlinked files kept only when they resolve inside ``root``."""
    root_real = os.path.realpath(root)
    out: list[tuple[Path, str]] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            try:
                is_link = e.is_symlink()
                is_dir = not is_link and e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if depth + 1 <= MAX_DEPTH:
                    stack.append((p, depth + 1))
                continue
            if _skipped_name(e.name) or p.suffix.lower() not in CANDIDATE_SUFFIXES:
                continue
            if is_link and not _inside(p, root_real):
                continue
            out.append((p, p.relative_to(root).as_posix()))
    return out


def discover(paths: Iterable[Path | str]) -> list[tuple[Path, str]]:
    """Workbook candidates under ``paths`` (files or folders, recursively) → [(path, rel)].

    ``rel`` is the path relative to the folder given (with / separators), or the file's name for
    a file given directly. Sorted and stable. Skipped silently: Excel lock files ``~$*``, hidden
    files and folders, files still being written (size or time changing), anything that is not a
    regular file (FIFOs, devices, sockets), symlinks leading out of the folder given, and folders
    nested deeper than MAX_DEPTH. Legacy formats (.xls, .et, .ods, .csv) are included so that they
    get the "save as .xlsx" answer.
    """
    found: list[tuple[Path, str, os.stat_result]] = []
    seen: set[str] = set()
    rels: set[str] = set()

    def add(p: Path, rel: str) -> None:
        st = _regular(p)
        if st is None:
            return
        key = os.path.normcase(os.path.realpath(p))
        if key in seen:
            return
        seen.add(key)
        if rel in rels:  # two files given directly with the same name
            rel = p.as_posix()
        rels.add(rel)
        found.append((p, rel, st))

    for given in paths:
        root = Path(given)
        if root.is_dir():
            for p, rel in sorted(_walk(root), key=lambda x: x[1].split("/")):
                add(p, rel)
        elif not root.name.startswith("~$"):
            add(root, root.name)
    return [(p, rel) for p, rel, _ in _settled(found)]


def _settled(found: list[tuple[Path, str, os.stat_result]]) -> list[tuple[Path, str, os.stat_result]]:
    """Drop files that are still growing: only recently modified files are stat'ed twice."""
    now = time.time()
    fresh = [i for i, (_, _, st) in enumerate(found) if now - st.st_mtime < _FRESH_SECONDS]
    if not fresh:
        return found
    time.sleep(_SETTLE_SECONDS)
    drop: set[int] = set()
    for i in fresh:
        p, _, st = found[i]
        try:
            st2 = p.stat()
        except OSError:
            drop.add(i)
            continue
        if st2.st_size != st.st_size or st2.st_mtime_ns != st.st_mtime_ns or st.st_size == 0:
            drop.add(i)
    return [f for i, f in enumerate(found) if i not in drop]


# --------------------------------------------------------------------------- safety checks
def _fail(code: str, **params: Any) -> IntakeError:
    return IntakeError(problem(code, **params))


def sniff(data: bytes, suffix: str) -> zipfile.ZipFile:
    """Refuse what is not a safe .xlsx package; return the opened zip (central directory only)."""
    suffix = suffix.lower()
    if not data:
        raise _fail("not_xlsx", detail="文件为空（0 字节），可能未保存完整")
    if data.startswith(OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data or suffix in WORKBOOK_SUFFIXES:
            raise _fail("encrypted")
        raise _fail("legacy_format", fmt=LEGACY_FORMATS.get(suffix, LEGACY_FORMATS[".xls"]))
    if suffix == ".csv":
        raise _fail("legacy_format", fmt=LEGACY_FORMATS[".csv"])
    if not data.startswith(ZIP_MAGICS):
        if suffix in LEGACY_FORMATS:
            raise _fail("legacy_format", fmt=LEGACY_FORMATS[suffix])
        head = data[:512].lstrip().lower()
        if head.startswith((b"<html", b"<!doctype html", b"<?xml", b"<table")) or b"<html" in head:
            raise _fail("not_xlsx", detail="文件内容是网页或 XML 文本，不是 .xlsx 工作簿")
        raise _fail("not_xlsx", detail="文件内容不是 Excel 工作簿")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _fail("not_xlsx", detail="文件不完整或已损坏") from None
    _check_zip(infos)
    names = {i.filename for i in infos}
    if "mimetype" in names and (_read_part(zf, "mimetype") or b"").startswith(_ODS_MIME):
        raise _fail("legacy_format", fmt=LEGACY_FORMATS[".ods"])
    if "xl/workbook.bin" in names:
        raise _fail("legacy_format", fmt=LEGACY_FORMATS[".xlsb"])
    if suffix in (".ods", ".xls", ".et", ".ett", ".xlsb") and "[Content_Types].xml" not in names:
        raise _fail("legacy_format", fmt=LEGACY_FORMATS[suffix])
    return zf


def _check_zip(infos: list[zipfile.ZipInfo]) -> None:
    lim = LIMITS
    if len(infos) > lim.max_entries:
        raise _fail("zip_bomb", detail=f"压缩包内有 {len(infos)} 个文件")
    total = 0
    for i in infos:
        if i.file_size > lim.max_entry_size:
            raise _fail("zip_bomb", detail=f"{i.filename} 解压后声称 {i.file_size // MB} MB")
        if i.file_size > lim.ratio_min_size and (
                i.compress_size == 0 or i.file_size / i.compress_size > lim.max_ratio):
            raise _fail("zip_bomb", detail=f"{i.filename} 压缩比异常")
        if i.flag_bits & 0x1:
            raise _fail("encrypted")
        total += i.file_size
    if total > lim.max_total_size:
        raise _fail("zip_bomb", detail=f"解压后共 {total // MB} MB")


# Parts no parser of ours ever reads: their prologs need no check.
_UNPARSED_PREFIXES = ("docprops/", "xl/theme/", "xl/drawings/", "xl/printersettings/", "xl/media/",
                      "xl/comments", "customxml/")


def _check_prologs(zf: zipfile.ZipFile) -> None:
    """Refuse any XML part that a parser will read if it has a DTD (entity definitions)."""
    for info in zf.infolist():
        name = info.filename.lower()
        if info.is_dir() or not (name.endswith((".xml", ".rels", ".vml"))) or name.startswith(_UNPARSED_PREFIXES):
            continue
        if not _prolog_ok(zf, info):
            raise _fail("xml_bomb")


def _prolog_ok(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    try:
        fh = zf.open(info)
    except _ZIP_ERRORS:
        raise _fail("not_xlsx", detail="文件不完整或已损坏") from None
    with fh:
        raw = b""
        for size in (2048, LIMITS.max_prolog):  # almost always decided by the first 2 KB
            try:
                chunk = fh.read(size - len(raw))
            except _ZIP_ERRORS:
                raise _fail("not_xlsx", detail="文件不完整或已损坏") from None
            raw += chunk
            verdict = _scan_prolog(_decode_head(raw), done=len(raw) < size)
            if verdict is not None:
                return verdict
        return False  # no root element within max_prolog bytes


def _decode_head(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="ignore")
    if raw[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        return raw.decode("utf-16-le" if raw[0] == 0x3C else "utf-16-be", errors="ignore")
    return raw.decode("utf-8", errors="ignore").lstrip("\ufeff")


def _scan_prolog(s: str, done: bool) -> bool | None:
    """True: root element reached without a DTD; False: a DTD or other declaration; None: need more."""
    pos, n = 0, len(s)
    while True:
        while pos < n and s[pos] in " \t\r\n":
            pos += 1
        rest = s[pos:pos + 4]
        if not rest:
            return True if done else None
        if rest.startswith("<?") or rest.startswith("<!--"):
            close = "?>" if rest.startswith("<?") else "-->"
            end = s.find(close, pos + 2)
            if end < 0:
                return True if done else None
            pos = end + len(close)
        elif not done and len(rest) < 4 and "<!--".startswith(rest):
            return None
        elif rest.startswith("<!"):
            return False
        else:
            return True  # root element (or not XML at all: the parser will say so)


# --------------------------------------------------------------------------- package parts
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_part(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """A part's bytes (None when absent); a damaged part (bad CRC, bad deflate data) is not_xlsx."""
    try:
        return zf.read(name)
    except KeyError:
        return None
    except _ZIP_ERRORS:
        raise _fail("not_xlsx", detail="文件不完整或已损坏") from None


def _check_size(zf: zipfile.ZipFile, name: str, limit: int) -> None:
    info = zf.NameToInfo.get(name)
    if info is not None and info.file_size > limit:
        raise _fail("zip_bomb", detail=f"{name} 解压后 {info.file_size // MB} MB，远超正常大小")


def _parse_part(zf: zipfile.ZipFile, name: str) -> Element | None:
    _check_size(zf, name, LIMITS.max_tree_part)
    data = _read_part(zf, name)
    if data is None:
        return None
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException:
        raise _fail("xml_bomb") from None
    except SafeET.ParseError:
        raise _fail("unreadable", detail=f"{name} 的内容已损坏") from None


def _rels(zf: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """Relationships of ``part``: (Id, Type, target part path)."""
    folder, base = posixpath.split(part)
    root = _parse_part(zf, posixpath.join(folder, "_rels", base + ".rels"))
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
class _Sheet:
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

    sheets: tuple[_Sheet, ...]
    names: tuple[tuple[str, str | None, str], ...]  # (name, local sheet index or None, reference)
    tables: dict[str, tuple[TablePart, ...]]  # sheet name → its table parts
    date1904: bool = False
    styles_part: str | None = None
    strings_part: str | None = None


_REL_STYLES = "/styles"
_REL_STRINGS = "/sharedStrings"


def read_structure(source: Path | str | bytes) -> Structure:
    """The structure of a workbook file (or its bytes), after the same safety checks as reading."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    suffix = ".xlsx" if isinstance(source, bytes) else Path(source).suffix
    zf = sniff(data, suffix)
    _check_prologs(zf)
    return _structure(zf)


def read_sheets(source: Path | str | bytes, max_row: int = 1000, max_col: int = 64) -> dict[str, RC.SheetCells]:
    """Every sheet's non-blank cells in A1…(max_col, max_row), read as the form's cells are read."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    zf = sniff(data, ".xlsx" if isinstance(source, bytes) else Path(source).suffix)
    _check_prologs(zf)
    st = _structure(zf)
    bounds = RC.Bounds(max_row, max_col)
    reader = _Reader(zf, st, {s.name: bounds for s in st.sheets})
    return {s.name: reader.sheet(s.name) or RC.SheetCells({}) for s in st.sheets}


def _structure(zf: zipfile.ZipFile) -> Structure:
    wb_part = _workbook_part(zf)
    root = _parse_part(zf, wb_part)
    if root is None or _local(root.tag) != "workbook":
        raise _fail("not_xlsx", detail="压缩包中没有 Excel 工作簿内容（可能是 Word 文档或其他文件改了扩展名）")
    rels = _rels(zf, wb_part)
    targets = {rid: path for rid, typ, path in rels if typ.endswith(_REL_WORKSHEET)}
    styles = next((path for _, typ, path in rels if typ.endswith(_REL_STYLES)), None)
    strings = next((path for _, typ, path in rels if typ.endswith(_REL_STRINGS)), None)
    sheets: list[_Sheet] = []
    names: list[tuple[str, str | None, str]] = []
    date1904 = False
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "sheet":
            rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
            sheets.append(_Sheet(el.get("name") or "", el.get("state") or "visible", targets.get(rid)))
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
        root = _parse_part(zf, path)
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


def _part_corners(p: TablePart) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    first, last = (p.ref.split(":") + [p.ref])[:2]
    return split_cell(first), split_cell(last)


# --------------------------------------------------------------------------- reading
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
_DATE_KEYS = frozenset(f.key for f in fields.STATIC_FIELDS if f.kind == "date")


def read_workbook(path: Path, rel: str | None = None) -> RawWorkbook:
    """Read one workbook safely. Raises IntakeError when the file cannot be used at all."""
    rel = rel or path.name
    try:
        # read-only, closed at once: never locked, never modified; O_NONBLOCK: a FIFO cannot block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _fail("unreadable", detail="不是普通文件（可能是设备、管道或快捷方式）")
            if st.st_size > LIMITS.max_file_size:
                raise _fail("zip_bomb", detail=f"文件大小 {st.st_size // MB} MB，远超填报表的正常大小")
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:  # grew while being read
                raise _fail("unreadable", detail="文件正在被写入，请稍后重试")
    except OSError as e:
        raise _fail("unreadable", detail=f"无法打开文件（{e.strerror or e}）") from None
    return read_bytes(data, rel, suffix=path.suffix)


class _Reader:
    """Reads the kept cells of each sheet on first use (streamed, bounded, see read_cells)."""

    def __init__(self, zf: zipfile.ZipFile, st: Structure, bounds: dict[str, RC.Bounds]):
        self.zf, self.st, self.bounds = zf, st, bounds
        self.by_name = {s.name: s for s in st.sheets}
        self.sheets: dict[str, RC.SheetCells] = {}
        self._styles: list[str] | None = None
        self._strings: list[str] | None = None

    def _stream(self, part: str | None, limit: int) -> IO[bytes] | None:
        if not part or part not in self.zf.NameToInfo:
            return None
        _check_size(self.zf, part, limit)
        try:
            return self.zf.open(part)
        except _ZIP_ERRORS:
            raise _fail("not_xlsx", detail="文件不完整或已损坏") from None

    def _parse(self, part: str | None, fn: Callable[[IO[bytes] | None], Any]) -> Any:
        fh = self._stream(part, LIMITS.max_cell_part)
        try:
            return fn(fh)
        except RC.SheetXmlError as e:
            if str(e) == "dtd":
                raise _fail("xml_bomb") from None
            raise _fail("unreadable", detail=f"{part} 的内容已损坏") from None
        except _ZIP_ERRORS:
            raise _fail("not_xlsx", detail="文件不完整或已损坏") from None
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
        bounds = self.bounds.get(name) or RC.Bounds(_ROW_MARGIN, _MIN_COLS)
        styles, strings = self._styles or [], self._strings or []
        cells = self._parse(s.part, lambda fh: RC.read_sheet(fh, bounds, styles, strings, self.st.date1904)
                            if fh is not None else RC.SheetCells({}))
        self.sheets[name] = cells
        return cells

    def value(self, sheet: str, row: int, col: int) -> Any:
        cells = self.sheet(sheet)
        return None if cells is None else cells.get(row, col)


def _bounds(st: Structure, defined: list[tuple[str, int, int]]) -> dict[str, RC.Bounds]:
    """Per sheet, the rows and columns the form can read: its named cells and tables, plus margins."""
    rows: dict[str, int] = {}
    cols: dict[str, int] = {}
    for sheet, r, c in defined:
        rows[sheet] = max(rows.get(sheet, 0), r)
        cols[sheet] = max(cols.get(sheet, 0), c)
    for sheet, parts in st.tables.items():
        for p in parts:
            a, _ = _part_corners(p)
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


def read_bytes(data: bytes, rel: str, suffix: str = ".xlsx") -> RawWorkbook:
    zf = sniff(data, suffix)
    _check_prologs(zf)
    st = _structure(zf)
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
    reader = _Reader(zf, st, _bounds(st, list(targets.values())))
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

    tables: dict[str, RawTable] = {}
    all_parts = {p.name.lower(): (sheet, p) for sheet, ps in st.tables.items() for p in ps}
    for t in fields.TABLES:
        found = all_parts.get(t.name.lower())
        if found:
            tables[t.name] = _table_from_part(t, found[0], found[1], reader.sheet, value)
        else:
            rt = _table_from_header(t, reader.sheet, value)
            if rt:
                tables[t.name] = rt
    raw = RawWorkbook(file=rel, values=values, addresses=addresses, tables=tables, meta=meta,
                      problems=tuple(problems), sheet_names=tuple(s.name for s in sheets), broken=broken,
                      sheet_cells=reader.sheets, macro=macro)
    version: int = meta["template_version"]
    if version != fields.TEMPLATE_VERSION:
        raw = MIGRATIONS[version](raw)  # _read_meta only lets known versions through
    return raw


def _resolve(ref: str, sheets: dict[str, _Sheet]) -> tuple[str, int, int] | None:
    ref = ref.lstrip("=").split(",")[0].strip()
    parsed = None if "#REF!" in ref.upper() else split_address(ref)
    if parsed is None or parsed[0] not in sheets:
        return None
    rc = split_cell(parsed[1])
    return (parsed[0], rc[0], rc[1]) if rc else None


def _read_meta(sheets: dict[str, _Sheet], sheet: Callable[[str], RC.SheetCells | None]) -> dict[str, Any]:
    """_meta (very hidden, hidden or visible): key/value rows in A/B. Refuses other workbooks."""
    name = next((n for n in sheets if n.lower() == fields.SHEET_META.lower()), None)
    cells = sheet(name) if name else None
    if cells is None:
        raise _fail("not_template", detail="文件中没有模板标识（_meta 工作表）")
    meta: dict[str, Any] = {}
    for _, line in cells.rows():
        k = line.get(1)
        if isinstance(k, str) and k.strip():
            v = line.get(2)
            meta[k.strip()] = display(v) if isinstance(v, float) else v
    tid = str(meta.get("template_id") or "").strip()
    if tid != fields.TEMPLATE_ID:
        raise _fail("not_template", detail=f"模板标识为“{tid or '空'}”")
    raw_version = meta.get("template_version")
    try:
        version = int(str(raw_version).strip())
    except ValueError:
        raise _fail("template_version", found=f"“{raw_version}”", expected=fields.TEMPLATE_VERSION) from None
    known = version == fields.TEMPLATE_VERSION or (
        version in fields.KNOWN_OLD_VERSIONS and version in MIGRATIONS)
    if not known:
        raise _fail("template_version", found=version, expected=fields.TEMPLATE_VERSION)
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
    a, b = _part_corners(part)
    if a is None or b is None:
        raise _fail("unreadable", detail=f"表格“{t.title}”的范围“{part.ref}”无效")
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
    cols: dict[str, int] = {}
    missing: list[str] = []
    for c in t.columns:
        n = by_header.get(_header_key(c.header))
        if n is None:
            missing.append(c.key)
        else:
            cols[c.key] = n
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
