"""Safe output file names from unit names (which come from clerks' workbooks)."""

from __future__ import annotations

import re
import unicodedata

_BAD_CHARS = re.compile(r'[/\\:*?"<>|]')
_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?$", re.IGNORECASE)
MAX_NAME_BYTES = 240  # most file systems allow 255 bytes per name component


def safe_file_stem(name: object, max_chars: int = 80, *, suffix: str = "", fallback: str = "未命名单位") -> str:
    """``name`` + ``suffix`` as one file name that is safe on Windows, macOS and Linux.

    Strips / \\ : * ? " < > |, control and format characters, leading dots and trailing dots or
    spaces; prefixes Windows reserved names (CON, NUL, COM1 …) with “_”; caps the stem at
    ``max_chars`` characters and the whole name at 240 UTF-8 bytes. The result can never name a
    parent folder or leave the folder it is joined to.
    """
    s = "".join(ch for ch in str(name or "") if unicodedata.category(ch)[0] != "C")
    s = re.sub(r"\s+", " ", _BAD_CHARS.sub("", s)).strip().lstrip(".").strip()
    s = s[:max_chars]
    while s and len((s + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        s = s[:-1]
    s = s.rstrip(" .") or fallback
    if _RESERVED.match(s):
        s = "_" + s
    return s + suffix
