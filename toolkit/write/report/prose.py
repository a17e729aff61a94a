"""Clerk text made fit for an official report: full-width punctuation, 〔2024〕 document numbers,
paragraphs joined and terminated, the clerk's own numbering stripped."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from toolkit.text import paste

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = _HAN + "\u3000-\u303f\uff00-\uffef“”‘’—…"
_SP = "[ \t\u00a0\u3000]"
_DOC_NO = re.compile(
    rf"(?<=[{_HAN}]){_SP}*[\[［【(（〔﹝]{_SP}*((?:19|20)\d\d){_SP}*[\]］】)）〕﹞]{_SP}*(\d{{1,5}}){_SP}*号")
_PAREN = re.compile(r"\(([^()\n]*)\)")
_HALF = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_HALF_RE = re.compile(r"[,;:?!]")
_HAN_DIGIT = re.compile(rf"(?<=[{_HAN}]){_SP}+(?=[0-9A-Za-z%])|(?<=[0-9A-Za-z%]){_SP}+(?=[{_HAN}])")
_AROUND_PUNCT = re.compile(rf"{_SP}+(?=[，。；：？！、）》”’])|(?<=[，。；：？！、（《“‘]){_SP}+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Numbering a clerk typed at the start of an item: 1.  1、  1)  （1）  (1)  一、  ①
_NUMBERING = re.compile(
    r"^\s*(?:[（(]\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[)）]"
    r"|\d{1,2}\s*(?:[.．](?!\d)|[、)）])"
    r"|[一二三四五六七八九十]{1,3}\s*[、.．]"
    r"|[①-⑳])\s*"
)
_TERMINAL = "。！？…；：!?"


# full-width digits, Latin letters and ％ typed with a Chinese input method → ASCII (GB/T 9704: Arabic digits)
_FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                                             *range(0xFF41, 0xFF5B), 0xFF05]})
_CJK_RE = re.compile(f"[{_CJK}]")
_HAN_RE = re.compile(f"[{_HAN}]")
_DOUBLE_OPEN = re.compile("《{2,}")
_DOUBLE_CLOSE = re.compile("》{2,}")


def _is_cjk(c: str) -> bool:
    return bool(c) and _CJK_RE.match(c) is not None


@functools.lru_cache(maxsize=512)  # repeats come within one report; keep memory flat
def clean_line(s: str) -> str:
    """Tidy one line of clerk text: document numbers 〔2024〕, full-width punctuation next to
    Chinese, no doubled 《《, no spaces between Chinese characters and digits."""
    s = _CONTROL.sub("", s).strip().translate(_FULL_WIDTH)
    s = _DOC_NO.sub(r"〔\1〕\2号", s)
    s = _DOUBLE_OPEN.sub("《", s)
    s = _DOUBLE_CLOSE.sub("》", s)

    def paren(m: re.Match[str]) -> str:
        before = s[m.start() - 1] if m.start() else ""
        after = s[m.end()] if m.end() < len(s) else ""
        inner = m.group(1)
        if _is_cjk(before) or _is_cjk(after) or _HAN_RE.search(inner):
            return f"（{inner}）"
        return m.group(0)

    s = _PAREN.sub(paren, s)

    def half(m: re.Match[str]) -> str:
        i = m.start()
        before = s[i - 1] if i else ""
        after = s[i + 1] if i + 1 < len(s) else ""
        return _HALF[m.group(0)] if _is_cjk(before) or _is_cjk(after) else m.group(0)

    s = _HALF_RE.sub(half, s)
    s = _HAN_DIGIT.sub("", s)
    s = _AROUND_PUNCT.sub("", s)
    return s


def clean_lines(text: Any, numbered: bool = False) -> list[str]:
    """Clerk text → its non-empty, cleaned lines; ``numbered`` strips the numbering the clerk typed
    (the outline numbers that list itself). Line by line: see ``clean_paragraphs`` for pasted text."""
    if text is None:
        return []
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return _cleaned(lines, numbered)


def clean_paragraphs(text: Any, numbered: bool = False) -> list[str]:
    """Clerk text → its cleaned paragraphs: soft-wrapped lines of a paste joined, real breaks kept
    (``paste.paragraphs``); ``numbered`` strips the numbering the clerk typed."""
    return _cleaned(paste.paragraphs(text), numbered)


def _cleaned(pieces: Iterable[str], numbered: bool) -> list[str]:
    out = []
    for piece in pieces:
        p = clean_line(piece)
        if numbered:
            p = _NUMBERING.sub("", p, count=1).strip()
        if p:
            out.append(p)
    return out


def clean_text(text: Any) -> str:
    """Clerk text used inside a generated sentence or a table cell: one line, its paragraphs
    joined (a paragraph that ends without punctuation gets 。 before the next one)."""
    paras = [p for p in (clean_line(x) for x in paste.raw_paragraphs(text)) if p]
    return "".join([terminate(p) for p in paras[:-1]] + [p.rstrip("，、；,;") for p in paras[-1:]])


def terminate(s: str) -> str:
    """End a paragraph with 。 unless it already ends with sentence punctuation; a trailing
    ，、； becomes 。 (never “，。”)."""
    if not s:
        return s
    last = s[-1]
    if last in _TERMINAL or (last in "”’」』）)》" and len(s) > 1 and s[-2] in _TERMINAL):
        return paste.end_paragraph(s, before_item=True)
    if last in "，、,":
        return s[:-1] + "。"
    return s + "。"
