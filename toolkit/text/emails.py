"""The one e-mail address rule, used by validation (联系邮箱) and by ``jixiao mail``.

A cell may hold several addresses separated by ; ； , ， 、 spaces or line breaks. Each is checked
by ``address``: plain ASCII after NFKC (a Chinese IME's ＠ and ． are forgiven), a dot-atom local
part (no leading, trailing or doubled dots), a domain of DNS labels and a letter TLD.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SEPARATORS = re.compile(r"[;；,，、\s]+")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = rf"{_ATOM}(?:\.{_ATOM})*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
ADDRESS_RE = re.compile(rf"{_LOCAL}@{_DOMAIN}")
MAX_LENGTH = 254
MAX_LOCAL = 64


@dataclass(frozen=True)
class Parsed:
    """A 联系邮箱 cell read: the valid addresses, and the parts that are not addresses (as typed)."""

    good: tuple[str, ...]
    bad: tuple[str, ...]


def address(value: object) -> str | None:
    """The bare address if ``value`` is exactly one valid address (after NFKC, "mailto:" dropped)."""
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not text or len(text) > MAX_LENGTH or not text.isascii():
        return None
    if not ADDRESS_RE.fullmatch(text) or len(text.split("@")[0]) > MAX_LOCAL:
        return None
    return text


def parse(text: object) -> Parsed:
    """Split a cell into addresses and check each; duplicates are kept once, order kept."""
    if not isinstance(text, str):
        return Parsed((), ())
    parts = [p for p in SEPARATORS.split(unicodedata.normalize("NFKC", text)) if p]
    good: dict[str, None] = {}
    bad: dict[str, None] = {}
    for p in parts:
        a = address(p)
        if a is None:
            bad[p] = None
        else:
            good.setdefault(a, None)
    return Parsed(tuple(good), tuple(bad))


def addresses(text: object) -> list[str]:
    """The valid addresses in a 联系邮箱 text (empty when none)."""
    return list(parse(text).good)
