"""Raw workbook values → a normalised Submission and every problem found (never stops at the first).

``check_file(path, rel, scheme)`` is the one entry point for a workbook on disk: intake (safety
checks, reading by defined name and table), the choice of scheme, then ``validate``. Checks are
data-driven from ``toolkit.forms.fields`` and the scheme: kinds, required flags, required_when, the
inputs the scheme's rules read, the budget identity, tiers, and the indicator table.
Scoring-time problems (note_required, zero_denominator, overachieved, a 定性 row's tier range) are
the scorer's.

Decisions where the spec is silent (keep this list current):
- Status: a file that cannot be opened as our template (intake's codes) is "unreadable", with no
  Submission; a deleted sheet, name, table or column is "invalid": everything else is still read.
- Required = ``Field.required`` as ``fields.all_fields`` gives it (the template's * shows the same
  flag; it includes every input a scheme rule always reads) + ``required_when`` + first_given
  options (one of them, else first_given_blank) + a not_applicable_full inner rule's inputs (only
  when the flag ≠ ``when``). Every money cell is required or blank_is_zero (read as 0).
- A field's own unit typed after the number is forgiven ("160万元", "10人"); any other text is not.
- One-line text fields have line breaks joined; percent fields must lie in 0–100%.
- budget_identity: ``cells`` = the seven cells in sheet order, ``cell``/``field`` = the first one.
- Indicator rows: the direction may come from the target text ("≥3000", "1～7天"); a different
  direction in the 指标性质 column is ``direction_conflict``. A blank 计量单位 takes the unit typed
  after the target/actual. ">" and "<" are accepted as ≥ / ≤. Negative targets/actuals are errors;
  a 区间 lower bound above the upper bound is ``bad_interval``; 定性 rows need a target text too.
  自评得分 on a numeric row is a warning (self_score_not_qualitative).
- missing_inputs names the rule inputs only (note_X is optional); a workbook whose _meta.scheme_id
  is not built in is scored with the default scheme plus a scheme_mismatch warning.
- text_spill looks below a long-text cell until the next named cell, table or label. The template
  puts fields on consecutive rows, so text that landed on the next (number, date, choice) field is
  also reported as spill, next to that cell's own error.
- Duplicates need both fiscal years; unit_code comes from the cell, else from _meta.
- 联系邮箱 may hold several addresses (emails.SEPARATORS); each bad one, or a blank cell, is a
  warning (bad_email / email_missing), never an error. The value kept is "a@x.cn; b@y.cn" when all
  are valid, else the text as typed (NFKC); ``emails.addresses`` gives mail the valid ones.
- "3万" / "3 万元" in a 万元 cell is 3; "30,000元" is an error (money_in_yuan) whose fix gives the
  value in 万元: a silent ÷10000 would hide a wrong column. (10.00) / （10.00） is −10, so a
  negative error in an unsigned cell. "2023年" / "2023年度" is a year; "12人" a count.
- Magnitudes are bounded before any conversion (normalize.LIMITS: money/area 1e12, counts 1e7,
  years 1e4, scores and percents 1e6; 1e15 for everything else): absurd_number with the value shown
  compactly (1E+999999). Dates beyond Excel's last serial are bad_date.
- Warnings for valid but suspicious values: 评价年度 ≠ _meta.fiscal_year (written by
  ``jixiao template --year``) or ≠ the batch's majority year (``year_outliers``, wired by batch);
  内设机构数 ≠ the number of names listed (when two or more are listed); 主要职能 over 1,500 or
  职责履行 over 3,000 characters.
- Problems are returned in workbook order (model.problem_sort_key): no sheet, then fields.SHEETS
  order, row, column; problems on one cell keep the order they were found in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Literal

from toolkit.forms import fields as F
from toolkit.forms.fields import Field, Table, problem_sort_key
from toolkit.model import Submission, TableRow, Value
from toolkit.problems import Problem, problem
from toolkit.read.clean import clean_text, display, formula_error
from toolkit.read.normalize import (
    ACCEPTED_DIRECTIONS,
    LIMITS,
    Invalid,
    is_percent_unit,
    parse_choice,
    parse_date,
    parse_direction,
    parse_int,
    parse_measure,
    parse_number,
    parse_percent,
    parse_target,
    percent_points,
    round_money,
)
from toolkit.read.package import IntakeError
from toolkit.read.workbook import RawTable, RawWorkbook, read_workbook
from toolkit.rules import inputs
from toolkit.rules.schemes import DEFAULT_SCHEME, Node, Scheme, builtin_ids, load_scheme
from toolkit.text import address as A1
from toolkit.text import emails, paste

Status = Literal["ok", "invalid", "unreadable"]

# The budget identity: carryover_start + income_fiscal + income_other − spend_basic − spend_project
# = balance_basic + balance_project (off by more than TOLERANCE is an error).
IDENTITY_IN = ("carryover_start", "income_fiscal", "income_other")
IDENTITY_OUT = ("spend_basic", "spend_project")
IDENTITY_BALANCE = ("balance_basic", "balance_project")
IDENTITY_KEYS = IDENTITY_IN + IDENTITY_OUT + IDENTITY_BALANCE
BUDGET_KEYS = ("budget_initial", "budget_added", "income_fiscal")
TOLERANCE = Decimal("0.005")

MONEY_KINDS = ("money", "money_signed")
NUMBER_KINDS = ("int", "year", "money", "money_signed", "area", "percent", "score")
# Example values shown in "应为数字" messages, and hints in "未填写" messages.
EXAMPLES = {"int": "10", "year": "2023", "money": "160.00", "money_signed": "-9.92", "area": "7200",
            "percent": "95%", "score": "8"}
REQUIRED_HINTS = {"int": "整数", "year": "四位年份，如 2023", "money": "金额（万元）", "money_signed": "金额（万元）",
                  "area": "面积（平方米）", "date": "日期，如 2024-04-30", "email": "电子邮箱",
                  "percent": "百分比，如 95%", "score": "分数"}
QUAL_TIERS = F.QUAL_TIERS
# Long texts that make a report absurdly long (a pasted plan): a warning past this many characters.
LONG_TEXT_LIMITS = {"functions": 1500, "duty_analysis": 3000}
CHARS_PER_PAGE = 190  # GB/T 9704 body: 22 lines × 28 characters, less paragraph ends and headings
# How clerks separate the 内设机构 names: 、，,；; 和 及 spaces, line breaks.
_NAME_SEPS = re.compile(r"[、，,；;\s/]+|和|及|以及")
# Long text: how many cells below a long-text cell are looked at for text that spilled over.
SPILL_ROWS = 30


@dataclass(frozen=True)
class FileCheck:
    """One workbook checked: status, the scheme used, the Submission (None when unreadable)."""

    file: str
    status: Status
    scheme: Scheme
    submission: Submission | None
    raw: RawWorkbook | None
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


# --------------------------------------------------------------------------- entry points
def check_file(path: Path, rel: str, scheme: Scheme | None = None) -> FileCheck:
    """Read and validate one workbook; never raises for a bad file (status "unreadable")."""
    try:
        raw = read_workbook(Path(path), rel)
    except IntakeError as e:
        used = scheme or load_scheme(DEFAULT_SCHEME)
        return FileCheck(rel, "unreadable", used, None, None, (e.problem,))
    used = choose_scheme(raw.meta, scheme)
    sub = validate(raw, used, rel)
    status: Status = "invalid" if sub.errors else "ok"
    return FileCheck(rel, status, used, sub, raw, sub.problems)


def choose_scheme(meta: dict[str, Any], scheme: Scheme | None = None) -> Scheme:
    """``scheme`` if given, else the workbook's built-in ``_meta.scheme_id``, else the default."""
    if scheme is not None:
        return scheme
    sid = str(meta.get("scheme_id") or "")
    return load_scheme(sid if sid in builtin_ids() else DEFAULT_SCHEME)


def validate(raw: RawWorkbook, scheme: Scheme, rel: str) -> Submission:
    """Normalise every value of ``raw`` for ``scheme``; Submission.problems lists all problems."""
    return _Validator(raw, scheme).run(rel)


@dataclass(frozen=True)
class UnitKey:
    """What identifies a unit's submission for the duplicate rule (small: crosses processes)."""

    file: str
    year: int
    code: str  # unit_code from the cell, else from _meta; "" when none
    name: str  # trimmed unit_name
    address: str | None  # the unit_name cell, for the problem
    year_address: str | None = None  # the fiscal_year cell (year_outliers)


def unit_key(check: FileCheck) -> UnitKey | None:
    sub = check.submission
    if check.status == "unreadable" or sub is None or sub.fiscal_year is None:
        return None
    code = sub.text("unit_code").strip() or str(sub.meta.get("unit_code") or "").strip()
    return UnitKey(check.file, sub.fiscal_year, code, sub.unit_name,
                   sub.cells.get("unit_name") or sub.cells.get("unit_code"), sub.cells.get("fiscal_year"))


def duplicates(keys: list[UnitKey]) -> dict[str, list[Problem]]:
    """Two workbooks of the same unit and year → a duplicate_unit error on each, naming the other.

    Same unit: same unit_code when both have one, else the same unit_name after trimming.
    Grouped by (year, code) and (year, name), so a province-sized folder stays linear.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, k in enumerate(keys):
        if k.code:
            groups.setdefault(("code", k.year, k.code), []).append(i)
        if k.name:
            groups.setdefault(("name", k.year, k.name), []).append(i)
    pairs = sorted({(i, j) for m in groups.values() for x, i in enumerate(m) for j in m[x + 1:]})
    out: dict[str, list[Problem]] = {}
    for i, j in pairs:
        a, b = keys[i], keys[j]
        if not (a.code == b.code if a.code and b.code else bool(a.name) and a.name == b.name):
            continue
        for me, other in ((a, b), (b, a)):
            sheet, cell = A1.split_location(me.address)
            out.setdefault(me.file, []).append(problem(
                "duplicate_unit", sheet=sheet or F.SHEET_BASIC, cell=cell,
                cells=(me.address,) if me.address else (), field="unit_name",
                other=other.file, unit=me.name or me.code, year=me.year))
    return out


_YEAR_LABEL = next(f.label for f in F.BASIC_FIELDS if f.key == "fiscal_year")


def year_outliers(keys: list[UnitKey]) -> dict[str, list[Problem]]:
    """A 评价年度 other than the year most of the batch has (a 2022 among 2023s): a year_mismatch
    warning on that file. Needs at least three units and a year held by more than half of them."""
    years = [k.year for k in keys]
    if len(years) < 3:
        return {}
    common = max(sorted(set(years)), key=years.count)
    if years.count(common) * 2 <= len(years):
        return {}
    out: dict[str, list[Problem]] = {}
    for k in keys:
        if k.year != common:
            sheet, cell = A1.split_location(k.year_address)
            out.setdefault(k.file, []).append(problem(
                "year_mismatch", sheet=sheet or F.SHEET_BASIC, cell=cell, field="fiscal_year",
                label=_YEAR_LABEL, value=k.year, expected=common))
    return out


def find_duplicates(checks: list[FileCheck]) -> dict[str, list[Problem]]:
    """``duplicates`` over FileChecks."""
    return duplicates([k for k in map(unit_key, checks) if k is not None])


# --------------------------------------------------------------------------- helpers
def _fmt(d: Any) -> str:
    if isinstance(d, Decimal):
        return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d:f}"
    return display(d)


def _money2(d: Decimal) -> str:
    return f"{d.quantize(Decimal('0.01')):f}"


@dataclass(frozen=True)
class _Requirements:
    """Which scheme inputs are required only in some cases (the rest are Field.required)."""

    unless: tuple[tuple[str, str, frozenset[str]], ...]  # (flag, value, keys): required unless flag == value
    first_given: tuple[tuple[Node, tuple[tuple[str, frozenset[str]], ...]], ...]  # node, (input, inner keys)


def _requirements(scheme: Scheme) -> _Requirements:
    _, unless, first = inputs.rule_inputs(scheme)
    return _Requirements(unless, first)


# --------------------------------------------------------------------------- the validator
class _Validator:
    def __init__(self, raw: RawWorkbook, scheme: Scheme):
        self.raw = raw
        self.scheme = scheme
        self.fields: dict[str, Field] = inputs.field_map(scheme)
        self.values: dict[str, Value] = {}
        self.cells: dict[str, str] = {}
        self.problems: list[Problem] = list(raw.problems)
        self.bad: set[str] = set()  # keys already reported (invalid value)
        self.absent: set[str] = set()  # keys with no cell in the workbook

    def add(self, code: str, addr: str | None = None, *, cells: Iterable[str] = (), field: str | None = None,
            **params: Any) -> None:
        cells_t = tuple(c for c in cells if c) or ((addr,) if addr else ())
        sheet, cell = A1.split_location(addr or (cells_t[0] if cells_t else None))
        self.problems.append(problem(code, sheet=sheet, cell=cell, cells=cells_t, field=field, **params))

    def run(self, rel: str) -> Submission:
        self.structure()
        for f in self.fields.values():
            self.read_field(f)
        self.required()
        self.identity()
        self.tiers()
        tables = {F.PERF_INDICATORS.name: self.indicator_rows()}
        for t in (F.PROBLEMS, F.PLANS):
            tables[t.name] = self.text_rows(t)
        self.spill()
        self.suspicious()
        problems = sorted(self.problems, key=problem_sort_key)
        return Submission(file=rel, values=self.values, cells=self.cells, tables=tables,
                          meta=dict(self.raw.meta), problems=tuple(problems))

    # -- structure: sheets, names, tables, scheme
    def structure(self) -> None:
        raw, scheme = self.raw, self.scheme
        found = raw.meta.get("scheme_id")
        if found and found != scheme.id:
            self.add("scheme_mismatch", found=found, used=scheme.id)
        sheets = set(raw.sheet_names)
        gone: list[str] = []

        def sheet_gone(name: str) -> bool:
            if name in sheets:
                return False
            if name not in gone:
                gone.append(name)
                self.problems.append(problem("missing_sheet", sheet=name))
            return True

        scheme_keys = {f.key for f in scheme.input_fields} & scheme.inputs  # notes are optional
        missing_inputs: list[Field] = []
        for f in self.fields.values():
            if f.key in raw.addresses:
                self.cells[f.key] = raw.addresses[f.key]
                continue
            self.absent.add(f.key)
            self.values[f.key] = None
            if sheet_gone(f.sheet):
                continue
            if f.key in scheme_keys:
                missing_inputs.append(f)
            elif f.sheet == F.SHEET_SCORING and found != scheme.id:
                continue  # an optional 评分表 field (note_X) another scheme's template does not have
            elif f.key in raw.broken:
                self.problems.append(problem("bad_reference", sheet=f.sheet, field=f.key, key=f.key,
                                             ref=raw.broken[f.key]))
            else:
                self.problems.append(problem("missing_name", sheet=f.sheet, field=f.key, key=f.key, label=f.label))
        if missing_inputs:
            keys = "、".join(f"{f.label}（{f.key}）" for f in missing_inputs)
            self.problems.append(problem("missing_inputs", sheet=F.SHEET_SCORING, field=missing_inputs[0].key,
                                         scheme=scheme.id, keys=keys))
        for t in F.TABLES:
            rt = raw.tables.get(t.name)
            if rt is None:
                if not sheet_gone(t.sheet):
                    self.problems.append(problem("missing_table", sheet=t.sheet, field=t.name, table=t.name,
                                                 title=t.title))
                continue
            for key in rt.missing_columns:
                self.problems.append(problem("missing_column", sheet=rt.sheet, field=t.name, title=t.title,
                                             header=t.column(key).header))
            if rt.truncated:
                first_col = min(rt.columns.values(), key=lambda c: (len(c), c), default="A")
                below = (rt.rows[-1][0] if rt.rows else rt.header_row) + 1
                self.problems.append(problem("table_truncated", sheet=rt.sheet, cell=f"{first_col}{below}",
                                             field=t.name, title=t.title, max=F.MAX_TABLE_ROWS))

    # -- single values
    def read_field(self, f: Field) -> None:
        if f.key in self.absent:
            return
        addr = self.cells[f.key]
        raw = self.raw.values.get(f.key)
        try:
            value = self.normalise(f, raw, addr)
        except Invalid as e:
            self.bad.add(f.key)
            self.values[f.key] = None
            self.value_problem(e, f.kind, f.label, addr, f.key, f.choices)
            return
        if value is None and f.blank_is_zero:
            value = Decimal(0)
        self.values[f.key] = value

    def normalise(self, f: Field, raw: Any, addr: str) -> Value:
        kind = f.kind
        units = (f.unit,) if f.unit else ()
        if kind == "text":
            _no_error(raw)
            return clean_text(raw, multiline=False)
        if kind == "longtext":
            _no_error(raw)
            return clean_text(raw)
        if kind in ("int", "year"):
            n = parse_int(raw, units=units + (("年",) if kind == "year" else ()), limit=LIMITS[kind])
            if n is not None:
                self.check_range(Decimal(n), f.min, f.max, f.label, raw)
            return n
        if kind in ("money", "money_signed", "area", "score"):
            if kind == "score":
                units = ("分",)
            d = parse_number(raw, units=units, limit=LIMITS[kind])
            if d is None:
                return None
            low = f.min if f.min is not None else (0 if kind in ("money", "area", "score") else None)
            self.check_range(d, low, f.max, f.label, raw)
            if kind in MONEY_KINDS:
                r, lost = round_money(d)
                if lost:
                    self.add("too_many_decimals", addr, field=f.key, label=f.label, value=_fmt(d),
                             rounded=_money2(r))
                return r
            return d
        if kind == "percent":
            p = parse_percent(raw)
            if p is not None:
                lo = Decimal(str(f.min)) if f.min is not None else Decimal(0)
                hi = Decimal(str(f.max)) if f.max is not None else Decimal(1)
                if not lo <= p <= hi:
                    raise Invalid("out_of_range", display(raw), low=f"{_fmt(lo * 100)}%", high=f"{_fmt(hi * 100)}%")
            return p
        if kind == "date":
            return parse_date(raw)
        if kind == "email":
            _no_error(raw)
            text = clean_text(raw, multiline=False)
            parsed = emails.parse(text)
            for bad in parsed.bad:  # a warning: the report is never withheld for it
                self.add("bad_email", addr, field=f.key, label=f.label, value=bad)
            if parsed.good and not parsed.bad:
                return "; ".join(parsed.good)
            return unicodedata.normalize("NFKC", text).strip() if text else None
        if kind == "choice":
            return parse_choice(raw, f.choices)
        raise AssertionError(f"unknown kind {kind}")  # pragma: no cover - fields.Kind is closed

    @staticmethod
    def check_range(d: Decimal, low: float | int | None, high: float | int | None, label: str, raw: Any) -> None:
        if low is not None and d < Decimal(str(low)):
            if low == 0:
                raise Invalid("negative", _fmt(d))
            raise Invalid("out_of_range", display(raw), low=_fmt(Decimal(str(low))),
                          high=_fmt(Decimal(str(high))) if high is not None else "")
        if high is not None and d > Decimal(str(high)):
            raise Invalid("out_of_range", display(raw), low=_fmt(Decimal(str(low))) if low is not None else "",
                          high=_fmt(Decimal(str(high))))

    def value_problem(self, e: Invalid, kind: str, label: str, addr: str | None, key: str,
                      choices: tuple[str, ...] = ()) -> None:
        params: dict[str, Any] = {"label": label, "value": e.seen}
        if e.code in ("not_number", "not_integer"):
            params["example"] = EXAMPLES.get(kind, "10")
        elif e.code == "bad_choice":
            params["choices"] = "、".join(choices)
        elif e.code == "bad_direction":
            params["accepted"] = ACCEPTED_DIRECTIONS
        params.update(e.params)
        self.add(e.code, addr, field=key, **params)

    # -- required values
    def required(self) -> None:
        req = _requirements(self.scheme)
        needed: dict[str, None] = {}
        for f in self.fields.values():
            cond = f.required_when
            if f.required or (cond and self.values.get(cond[0]) == cond[1]):
                needed[f.key] = None
        for flag, when, keys in req.unless:
            v = self.values.get(flag)
            if v is not None and v != when:
                for k in sorted(keys, key=self.order):
                    needed[k] = None
        for node, options in req.first_given:
            chosen = next((o for o in options if self.given(o[0])), None)
            if chosen is None:
                inputs = [o[0] for o in options]
                if any(k in self.absent for k in inputs):
                    continue  # reported as missing inputs
                labels = "、".join(self.fields[k].label if k in self.fields else k for k in inputs)
                cells = [self.cells[k] for k in inputs if k in self.cells]
                self.add("first_given_blank", cells=cells, field=inputs[0], label=node.name, labels=labels)
            else:
                for k in sorted(chosen[1], key=self.order):
                    needed[k] = None
        tier_keys = {f"tier_{n.id}" for n in self.tier_nodes()}
        for k in needed:
            if k in self.absent or k in self.bad or self.values.get(k) is not None:
                continue
            if k in tier_keys and self.values.get("score_" + k[5:]) is not None:
                continue  # tier_missing says more
            field = self.fields.get(k)
            if field is not None:
                self.add("required", self.cells.get(k), field=k, label=field.label, hint=self.hint(field))

    def order(self, key: str) -> tuple[int, str]:
        keys = list(self.fields)
        return (keys.index(key) if key in self.fields else len(keys), key)

    def given(self, key: str) -> bool:
        return self.values.get(key) is not None or key in self.bad

    @staticmethod
    def hint(f: Field) -> str:
        if f.kind == "choice" and f.choices:
            return "，可选：" + "、".join(f.choices)
        h = REQUIRED_HINTS.get(f.kind)
        return f"：{h}" if h else ""

    # -- values that are valid but probably wrong (warnings with the cell and a fix)
    def suspicious(self) -> None:
        for f in self.fields.values():
            if f.kind == "email" and f.key not in self.absent and f.key not in self.bad \
                    and self.values.get(f.key) is None:
                self.add("email_missing", self.cells[f.key], field=f.key, label=f.label)
        year, expected = self.values.get("fiscal_year"), _int(self.raw.meta.get("fiscal_year"))
        if isinstance(year, int) and expected is not None and year != expected:
            self.add("year_mismatch", self.cells.get("fiscal_year"), field="fiscal_year",
                     label=self.fields["fiscal_year"].label, value=year, expected=expected)
        count, names = self.values.get("internal_unit_count"), self.values.get("internal_units")
        if isinstance(count, int) and isinstance(names, str):
            listed = len(_listed_names(names))
            if listed >= 2 and listed != count:
                self.add("unit_count_mismatch", cells=[self.cells["internal_unit_count"], self.cells["internal_units"]],
                         field="internal_unit_count", count=count, names=listed)
        for f in self.fields.values():
            text = self.values.get(f.key)
            if f.kind == "longtext" and isinstance(text, str) and "\n" in text:
                wrapped = paste.soft_wrapped_lines(text)
                if wrapped:
                    self.add("line_break_mid_sentence", self.cells.get(f.key), field=f.key, label=f.label,
                             count=len(wrapped), example=wrapped[0][-12:])
        for key, limit in LONG_TEXT_LIMITS.items():
            text = self.values.get(key)
            if isinstance(text, str) and len(text) > limit:
                self.add("text_too_long", self.cells.get(key), field=key, label=self.fields[key].label,
                         length=len(text), pages=max(2, round(len(text) / CHARS_PER_PAGE)), limit=limit)

    # -- consistency
    def identity(self) -> None:
        d = self.decimals(IDENTITY_KEYS)
        if d is not None:
            left = sum((d[k] for k in IDENTITY_IN), Decimal(0)) - sum((d[k] for k in IDENTITY_OUT), Decimal(0))
            right = sum((d[k] for k in IDENTITY_BALANCE), Decimal(0))
            diff = left - right
            if abs(diff) > TOLERANCE:
                keys = sorted(IDENTITY_KEYS, key=self.position)
                self.add("budget_identity", cells=[self.cells[k] for k in keys], field=keys[0],
                         left=_money2(left), right=_money2(right), diff=_money2(diff))
        m = self.decimals(BUDGET_KEYS)
        if m is not None:
            b, income = m["budget_initial"] + m["budget_added"], m["income_fiscal"]
            if abs(b - income) > TOLERANCE:
                self.add("budget_income_mismatch", cells=[self.cells[k] for k in BUDGET_KEYS], field="income_fiscal",
                         budget=_money2(b), income=_money2(income), diff=_money2(b - income))

    def decimals(self, keys: Iterable[str]) -> dict[str, Decimal] | None:
        """The values of ``keys`` when every one is a valid number, else None."""
        out = {}
        for k in keys:
            x = self.values.get(k)
            if not isinstance(x, Decimal):
                return None
            out[k] = x
        return out

    def position(self, key: str) -> tuple[int, int, int]:
        """Sort key of a field's cell: sheet order, row, column."""
        p = A1.split_address(self.cells.get(key, ""))
        if p is None:
            return (99, 0, 0)
        sheet, cell = p
        rc = A1.split_cell(cell) or (0, 0)
        names = list(self.raw.sheet_names)
        return (names.index(sheet) if sheet in names else 99, rc[0], rc[1])

    def tier_nodes(self) -> list[Node]:
        return [n for n in self.scheme.leaves() if n.rule is not None and n.rule.type == "tiers"]

    def tiers(self) -> None:
        for node in self.tier_nodes():
            assert node.rule is not None
            tk, sk = f"tier_{node.id}", f"score_{node.id}"
            if tk in self.absent or sk in self.absent or tk in self.bad or sk in self.bad:
                continue
            tier_name, score = self.values.get(tk), self.values.get(sk)
            if tier_name is None:
                if score is not None:
                    self.add("tier_missing", self.cells[tk], cells=[self.cells[tk], self.cells[sk]], field=tk,
                             label=node.name)
                continue
            if not isinstance(score, Decimal):
                continue
            tier = next((t for t in node.rule.params["tiers"] if t["name"] == tier_name), None)
            if tier is None:
                continue
            lo, hi = tier["low"] * node.points, tier["high"] * node.points
            inside = lo <= score < hi if tier["high_open"] else lo <= score <= hi
            if not inside:
                high = f"{_fmt(hi)}（不含）" if tier["high_open"] else _fmt(hi)
                self.add("tier_range", self.cells[sk], cells=[self.cells[sk], self.cells[tk]], field=sk,
                         score=_fmt(score), tier=tier_name, low=_fmt(lo), high=high)

    # -- the indicator table
    def indicator_rows(self) -> tuple[TableRow, ...]:
        t = self.raw.tables.get(F.PERF_INDICATORS.name)
        if t is None:
            return ()
        rows = tuple(_IndicatorRow(self, t, index, excel_row, vals).read()
                     for index, excel_row, vals in t.nonblank_rows())
        groups = self.scheme.indicator_groups
        for group, points in groups.items():
            mine = [r for r in rows if r.values.get("level1") == group]
            if not mine:
                first = t.address(t.rows[0][0], "level1") if t.rows and "level1" in t.columns else None
                self.add("indicator_group_missing", first, field=t.name, group=group, points=_fmt(points))
                continue
            pts = [p for r in mine if isinstance(p := r.values.get("points"), Decimal)]
            if len(pts) == len(mine):
                total = sum(pts, Decimal(0))
                if total != points:
                    cells = [r.cells["points"] for r in mine if "points" in r.cells]
                    self.add("indicator_points", cells=cells, field=t.name, group=group, total=_fmt(total),
                             points=_fmt(points))
        return rows

    def text_rows(self, t: Table) -> tuple[TableRow, ...]:
        rt = self.raw.tables.get(t.name)
        if rt is None:
            return ()
        key = t.columns[0].key
        out = []
        for index, excel_row, vals in rt.nonblank_rows():
            cells = {k: rt.address(excel_row, k) for k in rt.columns}
            raw = vals.get(key)
            text = clean_text(raw)
            if text is None and raw is not None:
                err = formula_error(raw)
                if err:
                    self.add("formula_error", cells.get(key), field=t.name, label=f"{t.title}（第{index}行）",
                             value=err)
            if text is None:
                continue
            out.append(TableRow(index=index, values={key: text}, cells=cells, raw=dict(vals)))
        if len(out) < t.min_rows:
            first = rt.address(rt.rows[0][0], key) if rt.rows and key in rt.columns else None
            self.add("table_empty", first, field=t.name, title=t.title)
        return tuple(out)

    # -- long text pasted over the cells below
    def spill(self) -> None:
        raw = self.raw
        named = {A1.split_address(a) for a in raw.addresses.values()}
        table_cells = set()
        for t in raw.tables.values():
            for c in t.columns.values():
                table_cells.add((t.sheet, c, t.header_row))
        for f in self.fields.values():
            if f.kind != "longtext" or f.key in self.absent or self.values.get(f.key) is None:
                continue
            sheet, cell = A1.split_address(self.cells[f.key]) or ("", "")
            rc = A1.split_cell(cell)
            if rc is None:
                continue
            row, col = rc
            below: list[str] = []
            for r in range(row + 1, row + 1 + SPILL_ROWS):
                here = (sheet, f"{A1.col_letter(col)}{r}")
                v = raw.cell(sheet, r, col)
                if here in named:
                    key = self.key_at(here)
                    kf = self.fields.get(key) if key else None
                    # text that landed on a number/choice/date cell is almost surely spilled paragraphs
                    if kf is not None and kf.kind not in ("text", "longtext") and key in self.bad \
                            and _looks_like_prose(v):
                        below.append(f"{sheet}!{here[1]}")
                        continue
                    break
                if any(hc == (sheet, A1.col_letter(col), r) for hc in table_cells):
                    break
                if clean_text(v) is None or any(raw.cell(sheet, r, c) not in (None, "") for c in range(1, col)):
                    break  # an empty cell or the next row's label: the spill (if any) ends here
                below.append(f"{sheet}!{here[1]}")
            if below:
                self.add("text_spill", self.cells[f.key], cells=[self.cells[f.key], *below], field=f.key,
                         label=f.label, below="、".join(b.split("!")[1] for b in below))

    def key_at(self, here: tuple[str, str]) -> str | None:
        for k, a in self.raw.addresses.items():
            if A1.split_address(a) == here:
                return k
        return None


def _int(v: Any) -> int | None:
    try:
        return int(str(v).strip()) if v is not None and len(str(v)) < 10 else None
    except ValueError:
        return None


def _listed_names(text: str) -> list[str]:
    """The names listed in a 内设机构 text: "办公室、财务股和业务股" → three."""
    return [n for n in _NAME_SEPS.split(text) if len(n.strip("等。.")) >= 2]


def _looks_like_prose(v: Any) -> bool:
    s = clean_text(v)
    return s is not None and len(s) >= 8 and any("\u4e00" <= ch <= "\u9fff" for ch in s)


def _no_error(raw: Any) -> None:
    err = formula_error(raw)
    if err:
        raise Invalid("formula_error", err)


class _IndicatorRow:
    """One non-blank perf_indicators row → TableRow with normalised values, problems on the validator."""

    COLS = {c.key: c for c in F.PERF_INDICATORS.columns}

    def __init__(self, v: _Validator, t: RawTable, index: int, excel_row: int, vals: dict[str, Any]):
        self.v, self.t, self.index, self.vals = v, t, index, vals
        self.cells = {k: t.address(excel_row, k) for k in t.columns}
        self.out: dict[str, Value] = dict.fromkeys(self.COLS)

    def label(self, key: str) -> str:
        name = clean_text(self.vals.get("name"), multiline=False)
        where = f"第{self.index}行" + (f"“{name}”" if name else "")
        return f"{self.COLS[key].header}（{where}）"

    def problem(self, code: str, key: str, **params: Any) -> None:
        params.setdefault("label", self.label(key))
        self.v.add(code, self.cells.get(key), field=self.t.name, **params)

    def invalid(self, e: Invalid, key: str) -> None:
        params: dict[str, Any] = {"value": e.seen, **e.params}
        if e.code in ("not_number", "not_integer"):
            params["example"] = {"points": "2.5", "self_score": "2"}.get(key, "3000、99%、1-7")
        if e.code == "bad_direction":
            params["accepted"] = ACCEPTED_DIRECTIONS
        self.problem(e.code, key, **params)

    def attempt(self, key: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Invalid as e:
            self.invalid(e, key)
            return _BAD

    def require(self, key: str, value: Any) -> None:
        if value is None and key in self.cells:
            self.problem("required", key, hint="")

    def read(self) -> TableRow:
        vals, out = self.vals, self.out
        groups = tuple(self.v.scheme.indicator_groups)
        # level1: a group of this scheme
        text = self.attempt("level1", lambda: _text(vals.get("level1")))
        if text is not None and text is not _BAD:
            try:
                out["level1"] = parse_choice(text, groups)
            except Invalid:
                out["level1"] = text
                self.problem("indicator_group", "level1", value=text, groups="、".join(groups))
        elif text is None:
            self.require("level1", None)
        for key in ("level2", "name", "unit"):
            t = self.attempt(key, partial(_text, vals.get(key)))
            out[key] = None if t is _BAD else t
        self.require("name", out["name"])
        allowed = F.LEVEL2_BY_LEVEL1.get(str(out.get("level1") or ""), ())
        if out["level2"] and allowed and out["level2"] not in allowed:
            try:  # full-width and spacing variants of an allowed name are simply normalised
                out["level2"] = parse_choice(out["level2"], allowed)
            except Invalid:
                self.problem("level2_mismatch", "level2", value=out["level2"], level1=out["level1"],
                             choices="、".join(allowed))
        note = self.attempt("deviation_note", partial(_text, vals.get("deviation_note"), multiline=True))
        out["deviation_note"] = None if note is _BAD else note

        direction = self.attempt("direction", lambda: parse_direction(vals.get("direction")))
        if direction == "定性":
            self.qualitative()
        elif direction is not _BAD:
            self.numeric(direction)
        else:
            # still read the numbers so that their own problems are reported
            self.numeric(None, direction_bad=True)

        points = self.attempt("points", lambda: parse_number(vals.get("points"), units=("分",),
                                                                 limit=LIMITS["score"]))
        if points is None:
            self.require("points", None)
        elif points is not _BAD:
            if points <= 0:
                self.problem("not_positive", "points", value=_fmt(points))
            else:
                out["points"] = points
        score = self.attempt("self_score", lambda: parse_number(vals.get("self_score"), units=("分",),
                                                                         limit=LIMITS["score"]))
        if score is not None and score is not _BAD:
            if score < 0:
                self.problem("negative", "self_score", value=_fmt(score))
            else:
                out["self_score"] = score
                if out["direction"] is not None and out["direction"] != "定性":
                    self.problem("self_score_not_qualitative", "self_score")
        return TableRow(index=self.index, values=out, cells=self.cells, raw=dict(vals))

    def qualitative(self) -> None:
        vals, out = self.vals, self.out
        out["direction"] = "定性"
        target = self.attempt("target", lambda: _text(vals.get("target")))
        if target is not _BAD:
            out["target"] = target
            self.require("target", target)
        actual = self.attempt("actual", lambda: _text(vals.get("actual")))
        if actual is None:
            self.require("actual", None)
        elif actual is not _BAD:
            try:
                out["actual"] = parse_choice(actual, QUAL_TIERS)
            except Invalid:
                self.problem("bad_qualitative", "actual", value=actual)

    def numeric(self, direction: str | None, direction_bad: bool = False) -> None:
        vals, out = self.vals, self.out
        target = self.attempt("target", lambda: parse_target(vals.get("target")))
        if target is _BAD:
            target = None
            target_bad = True
        else:
            target_bad = False
        implied = target.direction if target is not None else None
        if direction is None and not direction_bad:
            direction = implied
            if direction is None:
                self.require("direction", None)
        elif implied is not None and direction is not None and implied != direction:
            self.problem("direction_conflict", "target", value=target.text if target else "",
                         direction=direction)
            direction_bad = True
        out["direction"] = direction if not direction_bad else None

        tmax: Decimal | None = None
        tmax_pct = False
        raw_max = vals.get("target_max")
        if target is not None and target.high is not None:
            tmax, tmax_pct = target.high, is_percent_unit(target.unit)
        elif raw_max is not None:
            m = self.attempt("target_max", lambda: parse_measure(raw_max))
            if m is not _BAD:
                tmax, tmax_pct = m[0], is_percent_unit(m[1])
        measured = self.attempt("actual", lambda: parse_measure(vals.get("actual")))
        actual, actual_unit = (None, "") if measured is _BAD else measured

        unit = out["unit"] or (target.unit if target is not None and target.unit else None) or actual_unit or None
        if is_percent_unit(unit if isinstance(unit, str) else None):
            unit = "%"
        out["unit"] = unit
        low = target.low if target is not None else None
        if unit == "%":
            typed_pct = target is not None and is_percent_unit(target.unit)
            if low is not None and not typed_pct:
                low = self.fraction("target", low, actual)
            if actual is not None and not is_percent_unit(actual_unit):
                actual = self.fraction("actual", actual, target.low if target is not None else None)
            if tmax is not None and not tmax_pct:
                tmax = self.fraction("target_max", tmax, actual)
        for key, d in (("target", low), ("actual", actual), ("target_max", tmax)):
            if d is not None and d < 0:
                self.problem("negative", key, value=_fmt(d))
        if low is not None and low >= 0:
            out["target"] = low
        if actual is not None and actual >= 0:
            out["actual"] = actual
        if tmax is not None and tmax >= 0:
            out["target_max"] = tmax
        if not target_bad:
            self.require("target", low)
        if measured is not _BAD:
            self.require("actual", actual)
        if direction == "区间" and not direction_bad:
            if tmax is None and "target_max" in self.cells and (raw_max is None):
                self.problem("required", "target_max", hint="区间指标的上限")
            if low is not None and tmax is not None and low > tmax:
                self.problem("bad_interval", "target", low=_fmt(low), high=_fmt(tmax))

    def fraction(self, key: str, value: Decimal, other: Decimal | None) -> Decimal:
        read, changed = percent_points(value, other)
        if changed and read is not None:
            self.problem("percent_fraction", key, value=_fmt(value), read=f"{_fmt(read)}%")
            return read
        return value


class _Bad:
    """Marker: the value had a problem (already reported)."""


_BAD: Any = _Bad()


def _text(raw: Any, multiline: bool = False) -> str | None:
    _no_error(raw)
    return clean_text(raw, multiline=multiline)
