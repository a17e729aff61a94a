"""Forgiving reading of what clerks type: pure functions from a raw cell value to a clean value.

Every ``parse_*`` function takes the value as read from the workbook (str, float, int, bool,
datetime, ``FormulaError`` or None) and returns the normalised value, or raises ``Invalid`` with the
problem code (see problems.py) and the value as the clerk sees it: numbers, percents, dates, choices,
e-mail addresses and indicator targets. Aliases and limits are tables at the top of this module, not
if-chains. Text cleaning (control characters, line breaks, formula errors) is read/clean.py's.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from toolkit.read.clean import clean_text, display, formula_error, squash
from toolkit.text.numbers import exact, round2

# --------------------------------------------------------------------------- tables
DIRECTION_ALIASES: dict[str, tuple[str, ...]] = {
    "≥": ("≥", ">=", "≧", "=>", "⩾", ">", "不低于", "不少于", "不小于", "大于等于", "大于或等于", "至少", "以上"),
    "≤": ("≤", "<=", "≦", "=<", "⩽", "<", "不高于", "不超过", "不多于", "不大于", "以内", "以下",
          "小于等于", "小于或等于", "至多"),
    "=": ("=", "==", "等于"),
    "区间": ("区间", "范围", "区间值", "介于"),
    "定性": ("定性", "定性指标"),
}
DIRECTIONS = tuple(DIRECTION_ALIASES)
ACCEPTED_DIRECTIONS = "≥（>=、不低于、不少于）、≤（<=、不高于、不超过、以内）、=、区间、定性"

# Choice aliases (compared after NFKC, no spaces): value → canonical, applied only when the
# canonical value is one of the field's choices.
CHOICE_ALIASES: dict[str, str] = {
    "Y": "是", "YES": "是", "√": "是", "✓": "是", "✔": "是", "对": "是",
    "N": "否", "NO": "否", "×": "否", "✗": "否", "✘": "否",
    "没有": "无",
}

# Units a clerk may type after a number, by the field's unit (compared after NFKC, no spaces).
UNIT_ALIASES: dict[str, tuple[str, ...]] = {
    "万元": ("万元", "万"),
    "人": ("人", "名"),
    "平方米": ("平方米", "平米", "㎡", "m²", "m2"),
    "年": ("年度", "年"),
    "分": ("分",),
}
# Money typed in 元 in a 万元 cell: refused with the converted value (never silently divided).
YUAN = "元"

# Magnitudes (absolute value, as typed) that no real entry reaches: a cell message, not a hang.
LIMITS: dict[str, Decimal] = {
    "money": Decimal("1E12"), "money_signed": Decimal("1E12"), "area": Decimal("1E12"),
    "int": Decimal("1E7"), "year": Decimal("1E4"), "score": Decimal("1E6"), "percent": Decimal("1E6"),
}
LIMIT_TEXT = {Decimal("1E12"): "1 万亿", Decimal("1E7"): "1000 万", Decimal("1E4"): "1 万",
              Decimal("1E6"): "100 万", Decimal("1E15"): "1000 万亿"}
ABSURD = Decimal("1E15")  # any number read anywhere (targets, actuals …)
MAX_NUMBER_TEXT = 200  # characters; longer "numbers" are refused before converting
MAX_SERIAL = 2958465  # Excel's last date, 9999-12-31

# Range separators in targets like 1-7, 1～7天, 1至7.
_RANGE_SEPS = ("-", "~", "〜", "∼", "至", "到", "—", "–", "－")

_DIGITS = r"(?:\d+(?:\.\d*)?|\.\d+)"
_NUM_RE = re.compile(rf"^[+-]?{_DIGITS}(?:[eE][+-]?\d+)?$")
_THOUSANDS_RE = re.compile(r"^([+-]?)(\d{1,3}(?:,\d{3})+)(\.\d+)?$")
_NUM_UNIT_RE = re.compile(rf"^([+-]?(?:\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|{_DIGITS}))(\D*)$")
_RANGE_RE = re.compile(
    rf"^({_DIGITS})(\D*?)(?:{'|'.join(re.escape(s) for s in _RANGE_SEPS)})({_DIGITS})(\D*)$")
_DATE_RE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ]?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DATE8_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")

_EXCEL_EPOCH = date(1899, 12, 30)


class Invalid(ValueError):
    """A value that cannot be read: ``code`` is a messages.py code, ``seen`` the value as typed."""

    def __init__(self, code: str, seen: str, **params: Any):
        super().__init__(f"{code}: {seen}")
        self.code = code
        self.seen = seen
        self.params = params


@dataclass(frozen=True)
class Target:
    """A 年度指标值 split into its parts: "≥3000" → (≥, 3000), "1～7天" → (区间, 1, 7, 天)."""

    direction: str | None  # implied by the text ("≥3000", "1-7"), None for a bare number
    low: Decimal | None
    high: Decimal | None = None
    unit: str = ""
    text: str = ""  # the cleaned text (for 定性 targets)


# --------------------------------------------------------------------------- numbers
def float_to_decimal(x: float) -> Decimal:
    """A float from a cell → Decimal, at Excel's 15 significant digits (0.1+0.2 → 0.3)."""
    return Decimal(format(x, ".15g"))


def compact(d: Decimal) -> str:
    """A number as shown in a message: numbers.exact (1E+999999 rather than a million digits), except
    that a non-integer keeps the digits typed (1.50 stays 1.50) and −0 stays −0, as messages always had."""
    if d.is_finite() and abs(d.adjusted()) < 16 and d != d.to_integral_value():
        return f"{d:f}"
    return "-0" if d.is_zero() and d.is_signed() else exact(d)


def bounded(d: Decimal, limit: Decimal | None = None) -> Decimal:
    """``d`` unless |d| reaches ``limit`` (default ABSURD): then Invalid(absurd_number)."""
    lim = ABSURD if limit is None else limit
    if not d.is_finite():
        raise Invalid("not_number", compact(d))
    # Compare exponents before any arithmetic: abs() of 1E+9999999 overflows the decimal context.
    if d.adjusted() > lim.adjusted() or (d.adjusted() == lim.adjusted() and d.copy_abs() >= lim):
        raise Invalid("absurd_number", compact(d), limit=LIMIT_TEXT.get(lim, compact(lim)))
    if d.adjusted() < -30:  # 1E-9999999 underflows in arithmetic; nothing a clerk types is this small
        return Decimal(0)
    return d


def _number_text(s: str) -> Decimal | None:
    if len(s) > MAX_NUMBER_TEXT:
        return None
    neg = s.startswith("(") and s.endswith(")") and len(s) > 2  # accounting negative (10.00)
    if neg:
        s = s[1:-1]
        if s.startswith(("-", "+")):
            return None
    m = _THOUSANDS_RE.match(s)
    if m:
        s = m.group(1) + m.group(2).replace(",", "") + (m.group(3) or "")
    if not _NUM_RE.match(s):
        return None
    try:
        d = Decimal(s)
    except InvalidOperation:  # pragma: no cover - the regex only lets valid numbers through
        return None
    return -d if neg else d


def no_formula_error(raw: Any) -> None:
    err = formula_error(raw)
    if err:
        raise Invalid("formula_error", err)


def _one_line(raw: Any) -> str | None:
    """The cell as one clean line of text (None when blank); formula errors raise."""
    no_formula_error(raw)
    return clean_text(raw, multiline=False)


def parse_number(raw: Any, *, units: tuple[str, ...] = (), limit: Decimal | None = None) -> Decimal | None:
    """A number from a cell: 1,234.5 · １２３ · " 12 " · (10.00) · "160万元" (a unit in ``units``) → Decimal.

    Blank → None. Text that is not a number after normalisation (十个, 约10) → Invalid(not_number);
    formula errors → Invalid(formula_error); |x| ≥ ``limit`` (default ABSURD) → Invalid(absurd_number),
    checked before any conversion that could take long. Money in 元 where 万元 is asked →
    Invalid(money_in_yuan) with the value in 万元.
    """
    no_formula_error(raw)
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise Invalid("not_number", display(raw))
    if isinstance(raw, int):
        if raw.bit_length() > 64:
            raise Invalid("absurd_number", format(Decimal(raw), ".6G") if raw.bit_length() < 10000 else "…",
                          limit=LIMIT_TEXT[ABSURD])
        return bounded(Decimal(raw), limit)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise Invalid("not_number", display(raw))
        return bounded(float_to_decimal(raw), limit)
    if isinstance(raw, Decimal):
        return bounded(raw, limit)
    if isinstance(raw, (date, datetime)):
        raise Invalid("not_number", display(raw))
    text = clean_text(raw)
    if text is None:
        return None
    s = squash(text)
    aliases = [a for u in units for a in UNIT_ALIASES.get(u, (u,))]
    for u in sorted(aliases, key=len, reverse=True):
        uu = squash(u)
        if uu and s.endswith(uu) and len(s) > len(uu):
            s = s[: -len(uu)]
            break
    else:
        if "万元" in units and s.endswith(YUAN) and len(s) > 1:
            d = _number_text(s[:-1])
            if d is not None:
                raise Invalid("money_in_yuan", text, wan=compact(d / 10000))
    d = _number_text(s)
    if d is None:
        raise Invalid("not_number", text if len(text) <= MAX_NUMBER_TEXT else text[:20] + "…")
    return bounded(d, limit)


def parse_int(raw: Any, *, units: tuple[str, ...] = (), limit: Decimal | None = None) -> int | None:
    d = parse_number(raw, units=units, limit=LIMITS["int"] if limit is None else limit)
    if d is None:
        return None
    if d != d.to_integral_value():
        raise Invalid("not_integer", display(raw).strip())
    return int(d)


def decimals(d: Decimal) -> int:
    """Number of decimal places actually used (1.50 → 1, 2 → 0)."""
    exp = d.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def round_money(d: Decimal) -> tuple[Decimal, bool]:
    """Round half-up to 2 decimals; the flag says whether anything was lost."""
    return round2(d), decimals(d) > 2


def parse_percent(raw: Any) -> Decimal | None:
    """A percentage as a fraction: 95% → 0.95, "95%" → 0.95, 95 → 0.95, 0.95 → 0.95."""
    no_formula_error(raw)
    if isinstance(raw, str):
        text = clean_text(raw)
        if text is None:
            return None
        s = squash(text)
        if s.endswith("%"):
            d = _number_text(s[:-1])
            if d is None:
                raise Invalid("not_number", text)
            return bounded(d, LIMITS["percent"]) / 100
    d = parse_number(raw, limit=LIMITS["percent"])
    if d is None:
        return None
    return d / 100 if d > 1 else d


# --------------------------------------------------------------------------- dates
def parse_date(raw: Any) -> date | None:
    """A date: Excel date or serial, 2024-04-30, 2024/4/30, 2024.4.30, 2024年4月30日, 20240430."""
    no_formula_error(raw)
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return _date_in_range(raw.date(), raw)
    if isinstance(raw, date):
        return _date_in_range(raw, raw)
    if isinstance(raw, bool):
        raise Invalid("bad_date", display(raw))
    if isinstance(raw, (int, float, Decimal)):
        return _serial(raw, raw)
    text = clean_text(raw)
    if text is None:
        return None
    s = squash(text)
    m = _DATE_RE.match(s) or _DATE8_RE.match(s)
    if m:
        try:
            return _date_in_range(date(int(m.group(1)), int(m.group(2)), int(m.group(3))), text)
        except ValueError:
            raise Invalid("bad_date", text) from None
    if re.fullmatch(r"\d{5}(\.\d+)?", s):  # a serial typed or pasted as text
        return _serial(Decimal(s), text)
    raise Invalid("bad_date", text)


def _serial(n: int | float | Decimal, seen: Any) -> date:
    if isinstance(n, float) and not math.isfinite(n):
        raise Invalid("bad_date", display(seen))
    d = n if isinstance(n, Decimal) else Decimal(str(n)) if isinstance(n, float) else None
    if d is not None and (not d.is_finite() or abs(d) > MAX_SERIAL):
        raise Invalid("bad_date", compact(d))
    if isinstance(n, int) and abs(n) > MAX_SERIAL:
        raise Invalid("bad_date", display(seen) if n.bit_length() < 64 else "…")
    try:
        days = int(n)
        return _date_in_range(_EXCEL_EPOCH + timedelta(days=days), seen)
    except (ValueError, OverflowError):
        raise Invalid("bad_date", display(seen)) from None


def _date_in_range(d: date, seen: Any) -> date:
    if not 2000 <= d.year <= 2100:
        raise Invalid("bad_date", display(seen))
    return d


# --------------------------------------------------------------------------- choices, e-mail
def parse_choice(raw: Any, choices: tuple[str, ...]) -> str | None:
    """One of ``choices``; full-width and stray spaces forgiven, a few aliases (√ → 是, 没有 → 无)."""
    text = _one_line(raw)
    if text is None:
        return None
    if text in choices:
        return text
    s = squash(text)
    by_key = {squash(c): c for c in choices}
    if s in by_key:
        return by_key[s]
    alias = CHOICE_ALIASES.get(s.upper())
    if alias in choices:
        return alias
    raise Invalid("bad_choice", text)


def parse_email(raw: Any) -> str | None:
    text = _one_line(raw)
    if text is None:
        return None
    s = unicodedata.normalize("NFKC", text).strip()
    if s.lower().startswith("mailto:"):
        s = s[7:]
    if not _EMAIL_RE.match(s) or len(s) > 254:
        raise Invalid("bad_email", text)
    return s


# --------------------------------------------------------------------------- indicator rows
_DIRECTION_LOOKUP: dict[str, str] = {
    squash(alias): canon for canon, aliases in DIRECTION_ALIASES.items() for alias in aliases
}
# prefixes a target may start with ("≥3000", "不低于99%"), longest first
_PREFIXES = sorted(((a, c) for a, c in _DIRECTION_LOOKUP.items() if c in ("≥", "≤", "=")),
                   key=lambda t: len(t[0]), reverse=True)
_SUFFIXES = {"以内": "≤", "以下": "≤", "以上": "≥"}


def parse_direction(raw: Any) -> str | None:
    """指标性质 → one of ≥ ≤ = 区间 定性; Invalid(bad_direction) when not understood (OCR'd W, Q)."""
    text = _one_line(raw)
    if text is None:
        return None
    d = _DIRECTION_LOOKUP.get(squash(text))
    if d is None:
        raise Invalid("bad_direction", text, accepted=ACCEPTED_DIRECTIONS)
    return d


def parse_target(raw: Any) -> Target | None:
    """年度指标值 → Target: 3000, "≥3000", "≥99%", "1-7", "1～7天", "1至7", "≤5天", "5天以内".

    Invalid(not_number) when no number can be read; the caller decides whether text is allowed
    (定性 targets are text).
    """
    no_formula_error(raw)
    if raw is None:
        return None
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        d = parse_number(raw)
        return Target(None, d, text=display(raw))
    text = clean_text(raw, multiline=False)
    if text is None:
        return None
    s = squash(text)
    direction: str | None = None
    for prefix, canon in _PREFIXES:
        if s.startswith(prefix) and len(s) > len(prefix):
            direction, s = canon, s[len(prefix):]
            break
    for suffix, canon in _SUFFIXES.items():
        if direction is None and s.endswith(suffix) and len(s) > len(suffix):
            direction, s = canon, s[: -len(suffix)]
    whole = _number_text(s)  # a plain number, also in scientific notation (1E+5)
    if whole is not None:
        return Target(direction, bounded(whole), None, "", text)
    m = _RANGE_RE.match(s)
    if m and direction is None:
        unit1, unit2 = m.group(2), m.group(4)
        if not unit1 or not unit2 or unit1 == unit2:
            lo, hi = _number_text(m.group(1)), _number_text(m.group(3))
            if lo is not None and hi is not None:
                return Target("区间", bounded(lo), bounded(hi), unit2 or unit1, text)
    m = _NUM_UNIT_RE.match(s)
    if m:
        d = _number_text(m.group(1))
        unit = m.group(2)
        if d is not None and not any(ch.isdigit() for ch in unit):
            return Target(direction, bounded(d), None, unit, text)
    raise Invalid("not_number", text)


def parse_measure(raw: Any) -> tuple[Decimal | None, str]:
    """实际完成值 of a numeric indicator → (number, unit typed after it): 360000, "100%", "5天"."""
    t = parse_target(raw)
    if t is None:
        return None, ""
    if t.direction is not None or t.high is not None:
        raise Invalid("not_number", t.text)
    return t.low, t.unit


def percent_points(value: Decimal | None, other: Decimal | None) -> tuple[Decimal | None, bool]:
    """In a % row a number ≤ 1 beside another value > 1 is a fraction: 0.99 → 99 (flag True)."""
    if value is None or other is None:
        return value, False
    if 0 < value <= 1 < other:
        return value * 100, True
    return value, False


def is_percent_unit(unit: str | None) -> bool:
    return bool(unit) and squash(unit or "") == "%"
