"""Checks across values once they are read: budget identity, tier ranges, suspicious values, spill.

``Checker`` holds what the validator has read so far (values, cells, problems); long text spilled
over the cells below is found here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from toolkit.fields import Field
from toolkit.model import Value
from toolkit.problems import Problem, problem
from toolkit.read.clean import clean_text, display
from toolkit.read.workbook import RawWorkbook
from toolkit.rules import inputs
from toolkit.rules.checks import Check, render_message
from toolkit.rules.expr import FormulaUndefined
from toolkit.rules.forms import aggregate_label
from toolkit.rules.model import Node, Scheme
from toolkit.text import address as A1
from toolkit.text import paste
from toolkit.text.numbers import fixed

# The budget identity and other cross-field checks are the scheme's ``checks:`` (toolkit.rules.checks).
BUDGET_KEYS = ("budget_initial", "budget_added", "income_fiscal")
TOLERANCE = Decimal("0.005")
# Long texts that make a report absurdly long (a pasted plan): a warning past this many characters.
LONG_TEXT_LIMITS = {"functions": 1500, "duty_analysis": 3000}
CHARS_PER_PAGE = 190  # GB/T 9704 body: 22 lines × 28 characters, less paragraph ends and headings
# How clerks separate the 内设机构 names: 、，,；; 和 及 spaces, line breaks.
_NAME_SEPS = re.compile(r"[、，,；;\s/]+|和|及|以及")
# Long text: how many cells below a long-text cell are looked at for text that spilled over.
SPILL_ROWS = 30


def as_typed(d: Any) -> str:
    """A number in a message as the clerk typed it: 1.50 and 0.00000001 keep every digit, an integer has
    no decimals (7.00 → 7). Not numbers.exact, which would write 1.5 and 1E-8 (messages would change)."""
    if isinstance(d, Decimal):
        return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d:f}"
    return display(d)


class Checker:
    """The values, cells and problems of one workbook being validated, and the checks across them."""

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

    def tier_nodes(self) -> list[Node]:
        return [n for n in self.scheme.leaves() if n.rule is not None and n.rule.type == "tiers"]

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
        """The scheme's checks (the budget identity by default), then 预算数 against 收到财政资金."""
        for check in self.scheme.checks:
            self.check(check)
        m = self.decimals(BUDGET_KEYS)
        if m is not None:
            b, income = m["budget_initial"] + m["budget_added"], m["income_fiscal"]
            if abs(b - income) > TOLERANCE:
                self.add("budget_income_mismatch", cells=[self.cells[k] for k in BUDGET_KEYS], field="income_fiscal",
                         budget=fixed(b), income=fixed(income), diff=fixed(b - income))

    def check(self, check: Check) -> None:
        """One scheme check over values that are all valid numbers: an error naming every cell of it."""
        d = self.decimals(check.names)
        if d is None:
            return
        try:
            holds, left, right = check.evaluate(d)
        except FormulaUndefined:
            return
        if holds:
            return
        keys = sorted(check.names, key=self.position)
        cells = [self.cells[k] for k in keys if k in self.cells]
        sums = {"left": fixed(left), "right": fixed(right), "diff": fixed(left - right)}
        if check.id == "budget_identity" and not check.message:
            self.add("budget_identity", cells=cells, field=keys[0], **sums)
        else:
            labels = "、".join(self.fields[k].label if k in self.fields
                               else aggregate_label(self.scheme.tables, k) or k for k in keys)
            # a scheme's own message stands alone (it is written for the clerk); else the formula, named
            message = (render_message(check.message, sums) if check.message
                       else f"“{check.id}” {check.expr.source}（左边 {sums['left']}，右边 {sums['right']}）")
            code = "check_warning" if check.severity == "warning" else "check_failed"
            self.add(code, cells=cells, field=keys[0], check=check.id, message=message, labels=labels)

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
                high = f"{as_typed(hi)}（不含）" if tier["high_open"] else as_typed(hi)
                self.add("tier_range", self.cells[sk], cells=[self.cells[sk], self.cells[tk]], field=sk,
                         score=as_typed(score), tier=tier_name, low=as_typed(lo), high=high)

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
