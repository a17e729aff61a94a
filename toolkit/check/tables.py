"""A scheme's own list tables (spec 08.4): every non-blank row checked by its columns' kinds, and the
totals formulas read (``sum(table.column)``, ``count(table)``) put beside the single values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from toolkit.fields import Field, Table
from toolkit.model import TableRow, Value
from toolkit.read.normalize import Invalid
from toolkit.read.workbook import RawWorkbook
from toolkit.rules.expr import count_name, sum_name
from toolkit.rules.forms import NUMBER_KINDS


class Reader(Protocol):
    """What of the validator (check/validate.py) a table's rows are read with."""

    raw: RawWorkbook
    values: dict[str, Value]

    def normalise(self, f: Field, raw: Any, addr: str) -> Value: ...

    def value_problem(self, e: Invalid, kind: str, label: str, addr: str | None, key: str,
                      choices: tuple[str, ...] = ()) -> None: ...

    def add(self, code: str, addr: str | None = None, *, field: str | None = None, **params: Any) -> None: ...

    def hint(self, f: Field) -> str: ...


def column_field(t: Table, index: int, key: str, sheet: str) -> Field:
    """A column cell of row ``index`` as a Field, so it is read and messaged like a single value."""
    c = t.column(key)
    low = 0 if c.kind in ("money", "area", "int", "score") else None
    return Field(t.name, f"{t.title}第{index}行“{c.header}”", sheet, kind=c.kind, choices=c.choices, min=low,
                 unit="万元" if c.kind in ("money", "money_signed") else "")


def scheme_table_rows(v: Reader, t: Table) -> tuple[TableRow, ...]:
    """The non-blank rows of ``t`` normalised; problems for bad or missing cells; totals into v.values."""
    rt = v.raw.tables.get(t.name)
    if rt is None:
        return ()
    out: list[TableRow] = []
    bad_columns: set[str] = set()
    for index, excel_row, vals in rt.nonblank_rows():
        cells = {k: rt.address(excel_row, k) for k in rt.columns}
        values: dict[str, Value] = {}
        for key in rt.columns:
            f = column_field(t, index, key, rt.sheet)
            try:
                value = v.normalise(f, vals.get(key), cells[key])
            except Invalid as e:
                bad_columns.add(key)
                v.value_problem(e, f.kind, f.label, cells[key], t.name, f.choices)
                continue
            if value is None and t.column(key).required:
                bad_columns.add(key)
                v.add("required", cells[key], field=t.name, label=f.label, hint=v.hint(f))
            values[key] = value
        out.append(TableRow(index=index, values=values, cells=cells, raw=dict(vals)))
    if len(out) < t.min_rows:
        first = rt.address(rt.rows[0][0], t.columns[0].key) if rt.rows and t.columns[0].key in rt.columns else None
        v.add("table_empty", first, field=t.name, title=t.title)
    v.values[count_name(t.name)] = Decimal(len(out))
    for c in t.columns:
        if c.kind in NUMBER_KINDS:
            total = sum((Decimal(x) for r in out if isinstance(x := r.values.get(c.key), (Decimal, int))), Decimal(0))
            v.values[sum_name(t.name, c.key)] = None if c.key in bad_columns or c.key not in rt.columns else total
    return tuple(out)
