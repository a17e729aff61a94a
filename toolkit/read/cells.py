"""Streaming, namespace-aware reading of the cells a form needs (own OOXML parsing, no dense grid).

Why not calamine's grids: calamine trusts sharedStrings' ``uniqueCount`` (a 60 KB file can ask for
96 GB), builds a dense grid up to the farthest value (one value at XFD1048576 aborts the process),
panics on date-formatted ±1E+300 and reads formula errors as blanks. Here a sheet is parsed as a
stream by expat (prefixes and default namespaces handled by the parser itself), only cells inside
``Bounds`` are kept (sparse), and parsing stops at the first row past them.

Values handed downstream, as calamine would: float for numbers, str, bool, ``FormulaError``,
date/datetime/time for date-formatted numbers (1900 or 1904 system), None for blank. Differences:
- a number with a percent format (built-in 9/10 or any format with an unquoted, unescaped ``%``)
  becomes the text the clerk sees, "<value×100>%" computed exactly (0.98 → "98%"); a quoted or
  escaped % (``0.0"%"``, ``0.0\\%``) is a literal sign, the number is not scaled and stays a number;
- a date-formatted number outside Excel's date range (0 … 2958465) stays a number;
- ST_Xstring escapes (``_x000A_``) are decoded in every string.
"""

from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Literal

from toolkit.read.clean import FormulaError
from toolkit.text import address as A1

# Built-in number formats (ECMA-376 18.8.30 plus the CJK ids Excel/WPS use for dates).
_BUILTIN_PERCENT = frozenset({9, 10})
_BUILTIN_DATE = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 47, *range(27, 37), *range(50, 59)})
_BUILTIN_DURATION = frozenset({46})
_MAX_SERIAL = 2958466  # 10000-01-01


class SheetXmlError(Exception):
    """A part is not well-formed XML or declares a DTD."""


_LOCAL: dict[str, str] = {}


def _local(tag: str) -> str:
    """"{namespace}c" → "c" (cached: a sheet repeats a handful of tags thousands of times)."""
    name = _LOCAL.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1]
        if len(_LOCAL) < 4096:
            _LOCAL[tag] = name
    return name


_XSTRING_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def decode_xstring(s: str) -> str:
    """ST_Xstring escapes: "a_x000A_b" → "a\\nb"; "_x005F_x000A_" → "_x000A_" (an escaped underscore)."""
    if "_x" not in s:
        return s
    return _XSTRING_RE.sub(lambda m: chr(int(m.group(1), 16)), s)


# --------------------------------------------------------------------------- number formats
_QUOTED_RE = re.compile(r'"[^"]*"|\\.|_.|\*.')
_BRACKET_RE = re.compile(r"\[[^\]]*\]")
_ELAPSED_RE = re.compile(r"\[(h+|m+|s+)\]", re.I)


def format_kind(code: str) -> str:
    """A number format code → "percent", "date", "duration" or "number" (first section decides)."""
    section = _QUOTED_RE.sub("", code)  # literal text, escaped characters, padding
    section = section.split(";")[0]
    if _ELAPSED_RE.search(section):
        return "duration"
    section = _BRACKET_RE.sub("", section)  # [Red], [$-804], [DBNum1]
    if "%" in section:
        return "percent"
    low = section.lower()
    if "general" in low:
        return "number"
    if any(ch in low for ch in "ymdhse") or "aaa" in low:
        return "date"
    return "number"


def builtin_kind(num_fmt_id: int) -> str:
    if num_fmt_id in _BUILTIN_PERCENT:
        return "percent"
    if num_fmt_id in _BUILTIN_DATE:
        return "date"
    if num_fmt_id in _BUILTIN_DURATION:
        return "duration"
    return "number"


_Event = Literal["start", "end"]
# Parts up to this size are parsed into a tree by the C parser (fast); larger ones are streamed.
_TREE_MAX = 1024 * 1024


def _head(source: IO[bytes]) -> tuple[bytes, bool]:
    """The first _TREE_MAX + 1 bytes; True when that is the whole part."""
    head = source.read(_TREE_MAX + 1)
    return head, len(head) <= _TREE_MAX


def _fromstring(data: bytes) -> Any:
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise SheetXmlError("dtd" if "doctype" in str(e).lower() else str(e)) from None


def _iterparse(source: IO[bytes], events: tuple[_Event, ...] = ("end",), head: bytes = b"") -> Iterator[tuple[str, Any]]:
    """expat's C-accelerated pull parser (defusedxml's pure-Python handlers are 3x slower). Safe here:
    read/package.py refuses every part with a DTD before it is parsed (check_prologs), and a DOCTYPE cannot
    follow the root element."""
    parser: Any = ET.XMLPullParser(events=events)
    try:
        chunk = head or source.read(1 << 16)
        while chunk:
            parser.feed(chunk)
            yield from parser.read_events()
            chunk = source.read(1 << 16)
        parser.close()
        yield from parser.read_events()
    except ET.ParseError as e:
        raise SheetXmlError("dtd" if "doctype" in str(e).lower() else str(e)) from None


def _text(el: Any) -> str:
    """The text of a string item (<si> or <is>): <t>, or rich-text runs <r><t>; phonetic <rPh> skipped."""
    parts: list[str] = []
    for x in el:
        tag = _local(x.tag)
        if tag == "t":
            parts.append(x.text or "")
        elif tag == "r":
            parts.extend(y.text or "" for y in x if _local(y.tag) == "t")
    return "".join(parts)


def style_kinds(source: IO[bytes] | None) -> list[str]:
    """styles.xml → the format kind of each cellXfs entry (the cell's ``s`` index)."""
    if source is None:
        return []
    head, whole = _head(source)
    root = _fromstring(head) if whole else None
    if root is None:  # a styles part over 1 MB: stream it
        root = ET.Element("styleSheet")
        keep = ("numFmts", "cellXfs")
        for _, el in _iterparse(source, ("end",), head):
            tag = _local(el.tag)
            if tag in keep:
                root.append(el)
            elif tag in ("font", "fill", "border", "dxf", "cellStyleXfs", "cellStyles"):
                el.clear()
    custom: dict[int, str] = {}
    kinds: list[str] = []
    for part in root:
        tag = _local(part.tag)
        if tag == "numFmts":
            for el in part:
                try:
                    custom[int(el.get("numFmtId", ""))] = format_kind(el.get("formatCode") or "")
                except ValueError:
                    pass
        elif tag == "cellXfs":
            for el in part:
                try:
                    fid = int(el.get("numFmtId") or 0)
                except ValueError:
                    fid = 0
                kinds.append(custom.get(fid) or builtin_kind(fid))
    return kinds


def shared_strings(source: IO[bytes] | None) -> list[str]:
    """sharedStrings.xml → strings (rich-text runs joined, phonetic runs skipped). Counts are ignored."""
    if source is None:
        return []
    head, whole = _head(source)
    if whole:
        return [decode_xstring(_text(si)) for si in _fromstring(head) if _local(si.tag) == "si"]
    out: list[str] = []
    for _, el in _iterparse(source, ("end",), head):
        if _local(el.tag) == "si":
            out.append(decode_xstring(_text(el)))
            el.clear()
    return out


# --------------------------------------------------------------------------- values
def percent_text(v: float) -> str:
    """0.98 → "98%", 0.0525 → "5.25%": exact decimal arithmetic on the shortest repr."""
    d = (Decimal(repr(v)) * 100).normalize()
    s = format(d, "f")
    return ("0" if s in ("-0", "") else s) + "%"


def serial_to_datetime(serial: float, date1904: bool) -> date | datetime | time | None:
    """An Excel serial → date (whole days), time (< 1 day) or datetime; None when out of range."""
    if not (0 <= serial < _MAX_SERIAL) or serial != serial:
        return None
    if date1904:
        base = datetime(1904, 1, 1)
    elif serial < 60:  # Excel's 1900 leap-year bug: serial 1 is 1900-01-01
        base = datetime(1899, 12, 31)
    else:
        base = datetime(1899, 12, 30)
    ms = round(serial * 86_400_000)
    try:
        dt = base + timedelta(milliseconds=ms)
    except OverflowError:
        return None
    if ms % 86_400_000 == 0:
        return dt.date()
    if serial < 1 and not date1904:
        return dt.time()
    return dt


@dataclass(frozen=True)
class Bounds:
    """The part of a sheet that is kept: rows 1…max_row, columns 1…max_col."""

    max_row: int
    max_col: int


@dataclass
class SheetCells:
    """The non-blank cells kept from one sheet, sparse: (row, col) → value, both 1-based."""

    cells: dict[tuple[int, int], Any]
    last_row: int = 0  # the last row holding a kept value
    beyond: bool = False  # values exist past the bounds (not read)

    def get(self, row: int, col: int) -> Any:
        return self.cells.get((row, col))

    def rows(self) -> Iterator[tuple[int, dict[int, Any]]]:
        """(row, {col: value}) for rows with kept values, in order."""
        by_row: dict[int, dict[int, Any]] = {}
        for (r, c), v in self.cells.items():
            by_row.setdefault(r, {})[c] = v
        for r in sorted(by_row):
            yield r, by_row[r]


_REF_RE = re.compile(r"([A-Za-z]{1,3})(\d{1,7})$")


_col_number = functools.lru_cache(maxsize=4096)(A1.col_number)  # hot: once per cell read


def _cell_value(t: str, v: str | None, inline: str | None, kind: str, strings: list[str],
                date1904: bool) -> Any:
    if t == "inlineStr":
        return decode_xstring(inline) if inline else None
    if v is None:
        return None
    if t == "s":
        try:
            return strings[int(v)]
        except (ValueError, IndexError):
            return None
    if t == "str":
        return decode_xstring(v) if v else None
    if t == "b":
        return v.strip() in ("1", "true")
    if t == "e":
        return FormulaError(v.strip() or "#N/A")
    if t == "d":
        try:
            return datetime.fromisoformat(v.strip())
        except ValueError:
            return v
    try:
        n = float(v)
    except ValueError:
        return v.strip() or None
    if kind == "percent" and n == n and abs(n) < 1e15:
        try:
            return percent_text(n)
        except InvalidOperation:
            return n
    if kind == "date":
        d = serial_to_datetime(n, date1904)
        return n if d is None else d
    return n


# A cell's formula text, <f …>…</f> (any namespace prefix): the reader keeps the cached value <v> only,
# and the live-score formulas are long (a few KB a cell). Text cannot hold "<" (it is &lt;).
_FORMULA_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f(?:\s[^>]*)?>[^<]*</(?:[A-Za-z_][\w.-]*:)?f>")


def read_sheet(source: IO[bytes], bounds: Bounds, styles: list[str], strings: list[str],
               date1904: bool) -> SheetCells:
    """One worksheet part → the non-blank cells inside ``bounds``; parsing stops past them.

    Small parts are parsed into a tree, large ones streamed row by row (memory bounded by a row).
    Cells and rows without ``r`` follow the previous one, as Excel does.
    """
    out = SheetCells({})
    head, whole = _head(source)
    row = 0
    if whole:
        root = _fromstring(_FORMULA_RE.sub(b"", head))  # formulas are not read (only <v>): not parsed
        data = next((el for el in root if _local(el.tag) == "sheetData"), None)
        for el in data if data is not None else ():
            if _local(el.tag) == "row":
                row = _row(el, row, bounds, styles, strings, date1904, out)
                if row > bounds.max_row:
                    break
        return out
    sheet_data = None
    for ev, el in _iterparse(source, ("start", "end"), head):
        if ev == "start":
            if sheet_data is None and _local(el.tag) == "sheetData":
                sheet_data = el
            continue
        tag = _local(el.tag)
        if tag == "row":
            row = _row(el, row, bounds, styles, strings, date1904, out)
            el.clear()
            if sheet_data is not None:
                sheet_data.clear()
            if row > bounds.max_row:
                break
        elif tag == "sheetData":
            break
    return out


_REF_COL: dict[str, int] = {}


def _ref_col(ref: str) -> int:
    """"C10" → 3 (0 when not a cell reference); cached, bounded: refs repeat across workbooks."""
    col = _REF_COL.get(ref)
    if col is None:
        m = _REF_RE.match(ref)
        col = _col_number(m.group(1)) if m else 0
        if len(_REF_COL) < 65536:
            _REF_COL[ref] = col
    return col


def _row(el: Any, prev: int, bounds: Bounds, styles: list[str], strings: list[str], date1904: bool,
         out: SheetCells) -> int:
    """Keep one <row>'s cells; returns its row number (past max_row: nothing kept, out.beyond set)."""
    r = el.get("r")
    row = int(r) if r and r.isdigit() else prev + 1
    if row > bounds.max_row:
        out.beyond = True
        return row
    local, local_get = _local, _LOCAL.get
    max_col, n_styles, cells = bounds.max_col, len(styles), out.cells
    last_ref, offset = "", 0  # a cell without r follows the previous one
    for c in el:
        ref = c.get("r")
        if ref:
            last_ref, offset = ref, 0
        else:
            offset += 1
        if not len(c) or (local_get(c.tag) or local(c.tag)) != "c":  # <c r=".." s=".."/>: formatting only
            continue
        v: str | None = None
        inline: str | None = None
        for ch in c:
            tag = local_get(ch.tag) or local(ch.tag)
            if tag == "v":
                v = ch.text or ""
            elif tag == "is":
                inline = _text(ch)
        if v is None and not inline:
            continue
        col = _ref_col(last_ref) + offset
        if col > max_col:
            out.beyond = True
            continue
        s = c.get("s")
        kind = styles[int(s)] if s and s.isdigit() and int(s) < n_styles else "number"
        t = c.get("t")
        if (t is None or t == "n") and inline is None and kind == "number" and v:
            try:  # the common case: a plain number (as _cell_value does it)
                val: Any = float(v)
            except ValueError:
                val = _cell_value("n", v, inline, kind, strings, date1904)
        elif t == "s" and v is not None and inline is None:
            try:
                val = strings[int(v)]
            except (ValueError, IndexError):
                val = None
        else:
            val = _cell_value(t or "n", v, inline, kind, strings, date1904)
        if val is not None and val != "":
            cells[(row, col)] = val
            out.last_row = row
    return row
