"""Raw workbook values → a normalised Submission and every problem found (never stops at the first).

``check_file(path, rel, scheme)`` is the one entry point for a workbook on disk: intake (safety
checks, reading by defined name and table), the choice of scheme, then ``validate``. Checks are
data-driven from ``toolkit.fields`` and the scheme: kinds, required flags, required_when, the
inputs the scheme's rules read, the budget identity, tiers, and the indicator table (the checks
across values are check/consistency.py's, the indicator rows check/indicators.py's, clashes across a
batch check/duplicates.py's).
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

import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from toolkit import fields as F
from toolkit.check.consistency import Checker, as_typed
from toolkit.check.duplicates import UnitKey, duplicates
from toolkit.check.indicators import indicator_rows
from toolkit.check.project import low_execution
from toolkit.check.tables import scheme_table_rows
from toolkit.fields import Field, Table, problem_sort_key
from toolkit.model import Submission, TableRow, Value
from toolkit.problems import Problem, problem
from toolkit.read.clean import clean_text, display, formula_error
from toolkit.read.normalize import (
    ACCEPTED_DIRECTIONS,
    LIMITS,
    Invalid,
    no_formula_error,
    parse_choice,
    parse_date,
    parse_int,
    parse_number,
    parse_percent,
    round_money,
)
from toolkit.read.package import IntakeError
from toolkit.read.workbook import RawWorkbook, read_workbook
from toolkit.rules import inputs
from toolkit.rules.loader import DEFAULT_SCHEME, builtin_ids, load_scheme
from toolkit.rules.model import Node, Scheme
from toolkit.text import emails
from toolkit.text.numbers import fixed

Status = Literal["ok", "invalid", "unreadable"]

MONEY_KINDS = ("money", "money_signed")
NUMBER_KINDS = ("int", "year", "money", "money_signed", "area", "percent", "score")
# Example values shown in "应为数字" messages, and hints in "未填写" messages.
EXAMPLES = {"int": "10", "year": "2023", "money": "160.00", "money_signed": "-9.92", "area": "7200",
            "percent": "95%", "score": "8"}
REQUIRED_HINTS = {"int": "整数", "year": "四位年份，如 2023", "money": "金额（万元）", "money_signed": "金额（万元）",
                  "area": "面积（平方米）", "date": "日期，如 2024-04-30", "email": "电子邮箱",
                  "percent": "百分比，如 95%", "score": "分数"}


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
        raw = read_workbook(Path(path), rel, scheme.tables if scheme else ())
        used = choose_scheme(raw.meta, scheme)
        if any(t.name not in raw.tables for t in used.tables) and used is not scheme:
            raw = read_workbook(Path(path), rel, used.tables)  # the workbook's own scheme adds tables
    except IntakeError as e:
        used = scheme or load_scheme(DEFAULT_SCHEME)
        return FileCheck(rel, "unreadable", used, None, None, (e.problem,))
    sub = validate(raw, used, rel)
    status: Status = "invalid" if sub.errors else "ok"
    return FileCheck(rel, status, used, sub, raw, sub.problems)


def choose_scheme(meta: dict[str, Any], scheme: Scheme | None = None) -> Scheme:
    """``scheme`` if given and made for this workbook's form (dept / project), else the workbook's
    built-in ``_meta.scheme_id``, else the form's default scheme. In a mixed inbox ``--scheme`` is the
    scheme of its own form's workbooks; the other form's workbooks keep theirs."""
    form = F.form(str(meta.get("form") or "dept"))
    if scheme is not None and scheme.form == form.name:
        return scheme
    sid = str(meta.get("scheme_id") or "")
    if sid in builtin_ids():
        found = load_scheme(sid)
        if found.form == form.name:
            return found
    return load_scheme(form.default_scheme if form.name != "dept" else DEFAULT_SCHEME)


def validate(raw: RawWorkbook, scheme: Scheme, rel: str) -> Submission:
    """Normalise every value of ``raw`` for ``scheme``; Submission.problems lists all problems."""
    return _Validator(raw, scheme).run(rel)


def unit_key(check: FileCheck) -> UnitKey | None:
    sub = check.submission
    if check.status == "unreadable" or sub is None or sub.fiscal_year is None:
        return None
    code = sub.text("unit_code").strip() or str(sub.meta.get("unit_code") or "").strip()
    project = name = ""
    if check.scheme.form == "project":
        pcode, name = sub.text("project_code").strip(), " ".join(sub.text("project_name").split())
        project = f"c:{pcode}" if pcode else f"n:{name}"
    return UnitKey(check.file, sub.fiscal_year, code, sub.unit_name,
                   sub.cells.get("unit_name") or sub.cells.get("unit_code"), sub.cells.get("fiscal_year"),
                   project, name)


def find_duplicates(checks: list[FileCheck]) -> dict[str, list[Problem]]:
    """``duplicates`` over FileChecks."""
    return duplicates([k for k in map(unit_key, checks) if k is not None])


@dataclass(frozen=True)
class _Requirements:
    """Which scheme inputs are required only in some cases (the rest are Field.required)."""

    unless: tuple[tuple[str, str, frozenset[str]], ...]  # (flag, value, keys): required unless flag == value
    first_given: tuple[tuple[Node, tuple[tuple[str, frozenset[str]], ...]], ...]  # node, (input, inner keys)


def _requirements(scheme: Scheme) -> _Requirements:
    _, unless, first = inputs.rule_inputs(scheme)
    return _Requirements(unless, first)


class _Validator(Checker):
    """Reads every field and table of one workbook for a scheme; the checks across values are Checker's."""

    def run(self, rel: str) -> Submission:
        self.structure()
        for f in self.fields.values():
            self.read_field(f)
        self.required()
        own = {t.name: scheme_table_rows(self, t) for t in self.scheme.tables}  # totals before the checks
        self.identity()
        self.tiers()
        form = F.form(self.scheme.form)
        tables = {form.indicator_table.name: indicator_rows(self)}
        if form.name == "project":
            low_execution(self, tables[form.indicator_table.name])
        for t in form.tables:
            if t is not form.indicator_table:
                tables[t.name] = self.text_rows(t)
        tables.update(own)
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
        for t in (*F.form(scheme.form).tables, *scheme.tables):
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
            no_formula_error(raw)
            return clean_text(raw, multiline=False)
        if kind == "longtext":
            no_formula_error(raw)
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
                    self.add("too_many_decimals", addr, field=f.key, label=f.label, value=as_typed(d),
                             rounded=fixed(r))
                return r
            return d
        if kind == "percent":
            p = parse_percent(raw)
            if p is not None:
                lo = Decimal(str(f.min)) if f.min is not None else Decimal(0)
                hi = Decimal(str(f.max)) if f.max is not None else Decimal(1)
                if not lo <= p <= hi:
                    raise Invalid("out_of_range", display(raw), low=f"{as_typed(lo * 100)}%", high=f"{as_typed(hi * 100)}%")
            return p
        if kind == "date":
            return parse_date(raw)
        if kind == "email":
            no_formula_error(raw)
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
                raise Invalid("negative", as_typed(d))
            raise Invalid("out_of_range", display(raw), low=as_typed(Decimal(str(low))),
                          high=as_typed(Decimal(str(high))) if high is not None else "")
        if high is not None and d > Decimal(str(high)):
            raise Invalid("out_of_range", display(raw), low=as_typed(Decimal(str(low))) if low is not None else "",
                          high=as_typed(Decimal(str(high))))

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

