"""Cell text as clerks leave it → clean text: control characters, line breaks, spaces, formula errors.

``clean_text`` gives the text as it may reach a .docx; ``display`` a raw value as the clerk sees it in
the cell; ``FormulaError`` marks a cached Excel error (#DIV/0! …) so no parser mistakes it for text.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Excel's formula errors, as typed strings or as cached error values (t="e").
FORMULA_ERRORS = frozenset({
    "#DIV/0!", "#REF!", "#VALUE!", "#N/A", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
    "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#N/A!",
})


# Characters Word and web pages leave in text that .docx XML does not allow or that are invisible.
_LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\x0b": "\n", "\x0c": "\n", "\u2028": "\n", "\u2029": "\n",
                "\x85": "\n"}
_REMOVE = "".join(chr(c) for c in (*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0))
                  if c != 0x85) + "\u00ad\u200b\u200c\u200d\u2060\ufeff\ufffe\uffff"
_REMOVE_TABLE = str.maketrans("", "", _REMOVE)
_SPACES = "\u00a0\u3000\u2002\u2003\u2009\u202f\t"
_SPACE_TABLE = str.maketrans(dict.fromkeys(_SPACES, " "))
_MINUS_TABLE = str.maketrans({"−": "-", "–": "-", "﹣": "-"})
_CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
# anything clean_text would change: line breaks, characters to remove, spaces to fold
_NEEDS_WORK = re.compile("[" + re.escape("".join(_LINE_BREAKS) + _REMOVE + _SPACES + "\n") + "]")


class FormulaError(str):
    """A cell whose cached value is an Excel error (#DIV/0!, #REF! …); a str, so writers can show it."""

    __slots__ = ()

    @property
    def text(self) -> str:
        return str.__str__(self)


def clean_text(raw: Any, *, multiline: bool = True) -> str | None:
    """Text as it may reach a .docx: control characters removed, line endings \\n, lines trimmed.

    Vertical tabs and form feeds (Word's manual line/page breaks) become line breaks; soft
    hyphens, zero-width characters, NUL and other C0/C1 characters are removed. Blank → None.
    A one-line field (``multiline=False``) has its line breaks joined.
    """
    if raw is None or isinstance(raw, FormulaError):
        return None
    s = display(raw)
    if not _NEEDS_WORK.search(s):  # the common case: one clean line
        s = s.strip(" ")
        return s or None
    for k, v in _LINE_BREAKS.items():
        s = s.replace(k, v)
    s = s.translate(_REMOVE_TABLE).translate(_SPACE_TABLE)
    lines = [ln.strip(" ") for ln in s.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        return None
    if multiline:
        return "\n".join(lines)
    out = lines[0]
    for ln in lines[1:]:
        if not ln:
            continue
        joiner = "" if _CJK_RE.match(out[-1:]) or _CJK_RE.match(ln[:1]) else " "
        out += joiner + ln
    return out


def display(raw: Any) -> str:
    """A raw value as the clerk sees it in the cell (for messages and text fields)."""
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float):
        if raw.is_integer() and abs(raw) < 1e15:
            return str(int(raw))
        return format(raw, ".15g")
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == datetime.min.time() else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, Decimal):
        return f"{raw:f}"
    return str(raw)


def is_blank(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return clean_text(raw) is None
    return False


def formula_error(raw: Any) -> str | None:
    """The Excel error shown in the cell (#DIV/0! …), whether cached as an error or typed as text."""
    if isinstance(raw, FormulaError):
        return raw.text
    if isinstance(raw, str):
        s = raw.strip().upper()
        if s in FORMULA_ERRORS:
            return s
    return None


def squash(s: str) -> str:
    """NFKC (full-width → ASCII), unify minus signs, drop every kind of space."""
    s = unicodedata.normalize("NFKC", s).translate(_MINUS_TABLE)
    return "".join(s.split())
