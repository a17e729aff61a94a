"""Numbers as people read them: the one home of rounding and number formatting.

Two kinds of text, chosen by the caller:
- ``num``/``money``/``pct``/``points``: a result, rounded half-up to ``places`` (2 by default) with
  trailing zeros dropped, as the report, the mail and 汇总表 show it (169.920 → 169.92, 170.00 → 170);
- ``exact``: a value as given (a scheme parameter, a clerk's number in a message): never rounded,
  never in scientific notation unless absurd (1E+999999 stays short).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
_EXACT_DIGITS = 16  # beyond this many integer digits, exact() switches to 1.5E+20 style


def to_decimal(x: Any) -> Decimal | None:
    """A Decimal for numbers and numeric text (floats through their shortest repr); None otherwise."""
    if x is None or isinstance(x, bool) or x == "":
        return None
    if isinstance(x, Decimal):
        return x
    try:
        return Decimal(str(x))
    except (InvalidOperation, ValueError):
        return None


def round_half_up(d: Decimal, places: int = 2) -> Decimal:
    """The scheme's rounding: half-up to ``places`` decimals (2.345 → 2.35)."""
    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def round2(d: Decimal) -> Decimal:
    return d.quantize(CENT, rounding=ROUND_HALF_UP)


def _trim(s: str) -> str:
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def num(x: Any, places: int = 2) -> str:
    """A result: half-up to ``places`` decimals, trailing zeros dropped; "" for blank; text as is."""
    if x is None or x == "":
        return ""
    d = to_decimal(x)
    if d is None or not d.is_finite():
        return str(x)
    if abs(d.adjusted()) >= _EXACT_DIGITS:
        return exact(d)
    return _trim(format(round_half_up(d, places), "f"))


def fixed(x: Any, places: int = 2) -> str:
    """Half-up with exactly ``places`` decimals: 3 → 3.00 (amounts in messages)."""
    d = to_decimal(x)
    if d is None or not d.is_finite():
        return "" if x is None else str(x)
    return format(round_half_up(d, places), "f")


def exact(x: Any) -> str:
    """A value as given, without rounding: 7.50 → 7.5, 1E+2 → 100; absurd magnitudes stay short."""
    d = to_decimal(x)
    if d is None:
        return "" if x is None else str(x)
    if not d.is_finite():
        return "非数字" if d.is_nan() else ("-" if d < 0 else "") + "无穷大"
    if abs(d.adjusted()) >= _EXACT_DIGITS:
        return format(d, ".6G")
    return _trim(format(d.normalize(), "f"))


def money(x: Any) -> str:
    """万元 amounts in sentences: 169.92万元, 170万元; zero is written 0元 (as in the reference)."""
    s = num(x if x is not None else 0)
    return "0元" if s == "0" else f"{s}万元"


def pct(fraction: Any, places: int | None = 2, none: str = "—") -> str:
    """A fraction as a percentage: 0.062 → 6.2%; ``places=None`` keeps it exact (scheme parameters)."""
    d = to_decimal(fraction)
    if d is None:
        return none
    return f"{exact(d * 100) if places is None else num(d * 100, places)}%"


def points(x: Any) -> str:
    """A score or a weight: 10 → 10, 7.50 → 7.5, 2.345 → 2.35 (blank is 0)."""
    return num(x if x is not None else 0)


def json_number(d: Decimal | None) -> float | None:
    """A Decimal as results.json stores it (a JSON number; scores are already rounded to cents)."""
    return None if d is None else float(d)
