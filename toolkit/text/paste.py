"""Clerk text pasted from a PDF or Word: hard line breaks → real paragraphs.

A line break is a paragraph break when the line ends a sentence (。！？…), when the next line is
blank, starts a numbered item (1.  一、  （二）  ①  一是) or is indented like a new paragraph;
any other line is a soft wrap and is joined to the next: with nothing between Chinese text, with
one space between two Latin words or numbers. A paragraph never ends in ，、； (they become 。);
a ： is kept only before a numbered item. Pure functions: no cleaning beyond line structure.
"""

from __future__ import annotations

import re
from typing import Any

# Numbering at the start of an item: 1.  1、  1)  （1）  (1)  一、  （一）  ①  一是  第一，
ITEM_START = re.compile(
    r"^\s*(?:[（(]\s*(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*[)）]"
    r"|\d{1,2}\s*(?:[.．](?!\d)|[、)）])"
    r"|[一二三四五六七八九十]{1,3}\s*(?:[、.．]|是(?=\S))"
    r"|第[一二三四五六七八九十]{1,3}[，,、]"
    r"|[①-⑳])"
)
_SENTENCE_END = re.compile(r"(?:[。！？…!?]|(?<![0-9A-Za-z])\.)[”’」』）)》]*$")
_INDENT = re.compile(r"^(?:\u3000|[ \t\u00a0]{2,})")
_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\u0085\u2028]")
_PARAGRAPH_SEP = "\u2029"
_SPACE = " \t\u00a0\u3000"
_MID = "，、；,;"  # a paragraph must not end with these: they become 。
_LATIN = re.compile(r"[0-9A-Za-z%]")


def _lines(text: Any) -> list[str]:
    s = _BREAKS.sub("\n", str(text)).replace(_PARAGRAPH_SEP, "\n\n")
    return s.split("\n")


def _join(a: str, b: str) -> str:
    """Join a soft-wrapped line to the next: a space only between two Latin words or numbers."""
    if a and b and _LATIN.match(a[-1]) and _LATIN.match(b[0]):
        return f"{a} {b}"
    return a + b


def _ends_sentence(line: str) -> bool:
    return _SENTENCE_END.search(line) is not None


def _split(text: Any) -> tuple[list[str], list[str]]:
    """(paragraphs, the lines that were soft-wrapped into their successor)."""
    if text is None:
        return [], []
    raw = _lines(text)
    paras: list[str] = []
    wrapped: list[str] = []
    cur = cur_last = ""
    for line in raw:
        stripped = line.strip(_SPACE)
        if not stripped:
            if cur:
                paras.append(cur)
                cur = ""
            continue
        if cur and (ITEM_START.match(stripped) or _INDENT.match(line)):
            paras.append(cur)
            cur = ""
        if cur:
            wrapped.append(cur_last)
            cur = _join(cur, stripped)
        else:
            cur = stripped
        cur_last = stripped
        if _ends_sentence(stripped):
            paras.append(cur)
            cur = ""
    if cur:
        paras.append(cur)
    return paras, wrapped


def raw_paragraphs(text: Any) -> list[str]:
    """Clerk text → its paragraphs, soft wraps joined, punctuation as typed."""
    return _split(text)[0]


def paragraphs(text: Any) -> list[str]:
    """Clerk text → its paragraphs (soft wraps joined, trailing ，、； turned into 。)."""
    paras, _ = _split(text)
    out = []
    for i, p in enumerate(paras):
        nxt = paras[i + 1] if i + 1 < len(paras) else ""
        out.append(end_paragraph(p, before_item=bool(nxt) and ITEM_START.match(nxt) is not None))
    return out


def end_paragraph(p: str, before_item: bool = False) -> str:
    """A paragraph's last character: ，、； → 。 (a ： stays before a numbered item)."""
    if not p:
        return p
    last = p[-1]
    if last in _MID or (last in "：:" and not before_item):
        return p[:-1] + "。"
    return p


def soft_wrapped_lines(text: Any) -> list[str]:
    """The lines that end mid-sentence (no punctuation, or ，、) and were joined to the next: the
    marks of a paste from a PDF or Word, for a validator warning. A line ending in ： or ；
    followed by its continuation is typed that way on purpose and reads well joined."""
    return [x for x in _split(text)[1] if x[-1] not in "：:；;"]
