"""Rules in Excel: the translator every rule type's ``excel`` method writes its live formula with.

A rule type's ``excel(rule, node, w, x)`` returns the Excel expression of its raw score (before the
engine's clamp to [0, w] and half-up rounding to 2 decimals), or raises ``NotExpressible`` with a
Chinese reason. ``Excel`` (``x``) knows where each field key lives (its defined name), turns a scheme
formula (toolkit.rules.expr) into Excel over N() of those names, and collects *guards*: conditions
under which a cell holds something the Python reader would read differently from Excel (text typed
in a number cell, a value validation refuses, a choice spelled another way). The leaf's cell shows
``NA_TEXT`` when a guard holds, never a wrong number.

Only Excel 2010 functions (``EXCEL_2010``) are written, so WPS, LibreOffice and old Excel agree.
Excel's ROUND rounds half away from zero, like Decimal ROUND_HALF_UP for the scorer's values.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from xlsxwriter.utility import xl_col_to_name

from toolkit.fields import Field
from toolkit.rules.expr import IF, Expr, display

NA_TEXT = "提交后由财政局计算"
LIVE_TOTAL = "live_total"  # the defined name of the live 总分 cell (自评得分)
LIVE_GRADE = "live_grade"
EXCEL_2010 = frozenset({
    "IF", "AND", "OR", "NOT", "MIN", "MAX", "ABS", "ROUND", "SUM", "SUMIF", "SUMIFS", "SUMPRODUCT",
    "COUNT", "COUNTA", "COUNTIF", "COUNTIFS", "N", "ISNUMBER", "ISBLANK", "IFERROR", "INDEX", "MATCH",
    "LOOKUP", "TEXT", "LEN", "TRIM", "VALUE", "FIND", "SEARCH", "LEFT", "RIGHT", "MID", "SUBSTITUTE", "INT",
})
# Magnitudes the reader refuses (normalize.LIMITS), by field kind.
_LIMITS = {"money": "1E12", "money_signed": "1E12", "area": "1E12", "int": "1E7", "year": "1E4",
           "score": "1E6", "percent": "1E6"}
_NUMBER_KINDS = frozenset(_LIMITS)
_LOW_ZERO = frozenset({"money", "area", "score"})  # kinds whose default lower bound is 0
_MONEY = frozenset({"money", "money_signed"})
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "=", ast.NotEq: "<>"}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


class NotExpressible(Exception):
    """The rule (or one of its parts) has no faithful Excel formula; ``reason`` says why (Chinese)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def dec(d: Decimal | int | float) -> str:
    """A number as an Excel literal (no exponent, no trailing zeros)."""
    d = Decimal(str(d))
    s = f"{d.normalize():f}" if d == d.to_integral_value() or d.adjusted() > -20 else f"{d:f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def quote(text: str) -> str:
    """A string literal for a formula."""
    return '"' + text.replace('"', '""') + '"'


@dataclass
class Excel:
    """Field key → Excel, for one scheme's template; ``guards`` collects the leaf's unreadable-input tests.

    ``fields``: the form's fields as the scheme sees them (kinds, ranges, choices); ``names``: field key →
    the defined name (default: the key itself); ``table``: where the indicator table's rows and their
    live row scores are; ``qualitative``: the 定性 words per tier (Scheme.qualitative)."""

    fields: Mapping[str, Field]
    names: Mapping[str, str] = field(default_factory=dict)
    table: TableCells | None = None
    qualitative: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    guards: list[str] = field(default_factory=list)

    def fork(self) -> Excel:
        """The same translator with no guards yet (one per formula cell)."""
        return Excel(self.fields, self.names, self.table, self.qualitative)

    def name(self, key: str) -> str:
        if key not in self.fields:
            raise NotExpressible(f"“{key}”不是填报表中的单项（如列表合计），公式无法引用")
        return self.names.get(key, key)

    def guard(self, cond: str) -> None:
        if cond not in self.guards:
            self.guards.append(cond)

    def num(self, key: str) -> str:
        """The number the scorer reads for ``key``: N() of the cell; guards text and refused values."""
        f = self.fields.get(key)
        n = self.name(key)
        if f is None or f.kind not in _NUMBER_KINDS:
            raise NotExpressible(f"“{f.label if f else key}”不是数字项")
        bad = [f"NOT(ISNUMBER({n}))", f"ABS({n})>={_LIMITS[f.kind]}"]
        low = f.min if f.min is not None else (0 if f.kind in _LOW_ZERO else None)
        if f.kind == "percent":
            bad.append(f"{n}>1")  # 95 means 95%: read as 0.95 by the reader, not by N()
            low = f.min if f.min is not None else 0
        if low is not None:
            bad.append(f"{n}<{dec(Decimal(str(low)))}")
        if f.max is not None:
            bad.append(f"{n}>{dec(Decimal(str(f.max)))}")
        if f.kind in ("int", "year"):
            bad.append(f"INT({n})<>{n}")
        self.guard(f"AND(NOT(ISBLANK({n})),OR({','.join(bad)}))")
        return f"ROUND(N({n}),2)" if f.kind in _MONEY else f"N({n})"

    def text(self, key: str, accepted: Sequence[str] | None = None) -> str:
        """TRIM of the cell as text; a non-blank value not in ``accepted`` (default: the field's choices) is guarded."""
        n = self.name(key)
        f = self.fields[key]
        choices = tuple(accepted if accepted is not None else f.choices or ())
        if choices:
            known = ",".join(f"TRIM({n}&\"\")={quote(c)}" for c in choices)
            self.guard(f"AND(LEN(TRIM({n}&\"\"))>0,NOT(OR({known})))")
        return f'TRIM({n}&"")'

    def given(self, key: str) -> str:
        """True when the cell is not blank (first_given's test)."""
        return f'LEN(TRIM({self.name(key)}&""))>0'

    # -- scheme formulas
    def expr(self, e: Expr) -> str:
        return self._x(e.tree)

    def _x(self, n: ast.expr) -> str:
        if isinstance(n, ast.Constant):
            return dec(Decimal(str(n.value)))
        if isinstance(n, ast.Name):
            return self.num(n.id)
        if isinstance(n, ast.UnaryOp):
            v = self._x(n.operand)
            if isinstance(n.op, ast.Not):
                return f"IF(({v})=0,1,0)"
            return f"(-{v})" if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp):
            return f"({self._x(n.left)}{_ARITH[type(n.op)]}{self._x(n.right)})"
        if isinstance(n, ast.Compare):
            parts, left = [], self._x(n.left)
            for op, right_n in zip(n.ops, n.comparators, strict=True):
                right = self._x(right_n)
                parts.append(f"{left}{_CMP[type(op)]}{right}")
                left = right
            return f"IF(AND({','.join(parts)}),1,0)"
        if isinstance(n, ast.BoolOp):
            fn = "OR" if isinstance(n.op, ast.Or) else "AND"
            return f"IF({fn}({','.join(f'({self._x(v)})<>0' for v in n.values)}),1,0)"
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            args = [self._x(a) for a in n.args]
            if n.func.id == IF:
                return f"IF(({args[0]})<>0,{args[1]},{args[2]})"
            if n.func.id == "round":
                return f"ROUND({args[0]},{args[1] if len(args) == 2 else 0})"
            return f"{n.func.id.upper()}({','.join(args)})"
        raise NotExpressible(f"公式“{display(n)}”无法写成 Excel 公式")

    # -- the pieces every leaf shares
    def round2(self, raw: str, w: Decimal) -> str:
        """The engine's leaf score: raw clamped to [0, w], rounded half-up to 2 decimals."""
        return f"ROUND(MAX(0,MIN({dec(w)},{raw})),2)"

    def finish(self, score: str) -> str:
        """The cell's formula: NA_TEXT when a guard holds, else ``score``."""
        if not self.guards:
            return f"={score}"
        return f"=IF(OR({','.join(self.guards)}),{quote(NA_TEXT)},{score})"


@dataclass(frozen=True)
class TableCells:
    """Where an indicator table's rows are: ``cols`` column key → absolute range of its data cells
    ($A$4:$A$33 on ``sheet``), ``live`` the range of the live row scores, ``row(i, key)`` a cell."""

    sheet: str
    first_row: int  # 0-based row of the first data row
    n_rows: int
    cols: Mapping[str, int]  # column key → 0-based column
    live_col: int
    # A table without 指标性质 (the project form): helper key → its hidden column right of ``live_col``
    # (toolkit.rules.types.table.IMPLIED_HELPERS), where each row's 年度指标值 / 实际完成值 are read.
    helpers: Mapping[str, int] = field(default_factory=dict)
    below: int | None = None  # rows below the table a clerk may type into (None: MAX_TABLE_ROWS)

    def ref(self, col: int, i: int | None = None) -> str:
        c = xl_col_to_name(col)
        if i is not None:  # one row's cell: relative, as a row formula is written
            return f"{c}{self.first_row + i + 1}"
        return f"'{self.sheet}'!${c}${self.first_row + 1}:${c}${self.first_row + self.n_rows}"

    def helper(self, key: str, i: int) -> str:
        return self.ref(self.helpers[key], i)

    def cell(self, key: str, i: int) -> str | None:
        return self.ref(self.cols[key], i) if key in self.cols else None

    def column(self, key: str) -> str:
        return self.ref(self.cols[key])

    @property
    def live(self) -> str:
        return self.ref(self.live_col)

    def beyond(self, rows: int) -> str:
        """The table's columns on the ``rows`` rows below its data: a clerk who typed rows past the
        template's table there has rows without a live score (the reader reads them)."""
        lo, hi = min(self.cols.values()), max(self.cols.values())
        top = self.first_row + self.n_rows + 1
        return (f"'{self.sheet}'!${xl_col_to_name(lo)}${top}:${xl_col_to_name(hi)}${top + rows - 1}")


def functions_in(formula: str) -> set[str]:
    """The function names a formula calls (for the Excel 2010 scan)."""
    text = re.sub(r'"(?:[^"]|"")*"', '""', formula)
    return set(re.findall(r"([A-Z][A-Z0-9.]*)\(", text))
