"""The standard workbook (填报表): ``toolkit.fields`` + a scheme → .xlsx, written with XlsxWriter.

One writer serves the blank template, the prefilled roster copies, the samples and the returned
workbooks (the unit's own values, problem cells marked pink with a comment, and a first sheet
问题清单). The reader never relies on positions, only on what this module guarantees:

- every single-value input is a yellow, unlocked cell with a workbook-scoped defined name equal to
  its key (no other defined names except Excel's own ``_xlnm.*`` print titles);
- the list inputs are Excel tables named ``perf_indicators`` (绩效指标, header row 3 at A3, data
  rows from row 4), ``problems`` (绩效分析, column C) and ``plans`` (绩效分析, column D, beside
  ``problems``), with the headers of ``toolkit.fields`` and nothing below them;
- the very hidden sheet ``_meta`` holds keys in column A and values in column B from row 1
  (template_id, template_version, scheme_id, and unit_code for prefilled copies).

The project form (``scheme.form == "project"``, spec 06) is written by ``toolkit.forms.project_writer``
through the same entry points. Where each field and table lands is ``toolkit.forms.layout`` (``cell_address``); the sheets are written by
``toolkit.forms.writer``. This module is the public entry point: bytes, files, roster copies.

Same input → byte-identical file (fixed document dates; XlsxWriter gives zip entries a fixed
timestamp when writing in memory). The committed files in ``workbook_templates/`` and
``samples/*.xlsx`` are regenerated with ``python scripts/make_samples.py``; tests fail when they are
stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from toolkit import fields as F
from toolkit.forms.project_writer import ProjectWriter
from toolkit.forms.writer import Writer
from toolkit.problems import Problem
from toolkit.rules.model import Scheme
from toolkit.text.names import safe_file_stem
from toolkit.write import atomic

__all__ = ["build_workbook_bytes", "safe_file_name", "template_file_name", "write_templates", "write_workbook"]


def build_workbook_bytes(scheme: Scheme, *, year: int | None = None, values: Mapping[str, Any] | None = None,
                         tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                         meta: Mapping[str, Any] | None = None, marks: Mapping[str, Sequence[str]] | None = None,
                         problems: Sequence[Problem] = ()) -> bytes:
    """The standard workbook as .xlsx bytes (deterministic: same input → same bytes).

    ``values``: field key → value to prefill (str, number, date, bool or None), written as typed;
    keys the layout does not know are ignored. ``tables``: table name → rows (column key → value).
    ``meta``: extra ``_meta`` entries (e.g. unit_code). ``marks``: logical location → messages
    (``"spend_basic"``, ``"perf_indicators:3:actual"``, ``"perf_indicators:3"`` or ``"收支情况!C7"``);
    each marked cell is filled pink and gets a comment. ``problems``: listed on a first sheet 问题清单.
    """
    cls = ProjectWriter if scheme.form == F.PROJECT.name else Writer
    return cls(scheme, year=year, values=values or {}, tables=tables or {}, meta=meta or {},
                   marks=marks or {}, problems=tuple(problems)).build()


def write_workbook(scheme: Scheme, path: Path | str, *, year: int | None = None,
                   values: Mapping[str, Any] | None = None,
                   tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
                   meta: Mapping[str, Any] | None = None, marks: Mapping[str, Sequence[str]] | None = None,
                   problems: Sequence[Problem] = ()) -> None:
    """Write ``build_workbook_bytes(...)`` to ``path`` atomically."""
    data = build_workbook_bytes(scheme, year=year, values=values, tables=tables, meta=meta, marks=marks,
                                problems=problems)
    atomic.write_bytes(Path(path), data)


def template_file_name(scheme: Scheme) -> str:
    """The form's file name (部门整体支出绩效自评填报表.xlsx, 项目支出绩效自评表.xlsx), with the scheme id
    appended for a scheme other than the form's default."""
    form = F.form(scheme.form)
    if scheme.id == form.default_scheme:
        return form.file_name
    stem = Path(form.file_name).stem
    return safe_file_name(f"{stem}_{scheme.id}") + ".xlsx"


def safe_file_name(name: str, max_len: int = 80) -> str:
    """A file name stem that is safe on Windows and cannot leave its folder (no extension added)."""
    return safe_file_stem(name, max_len)


def notice_values(deadline: date | None = None, method: str | None = None,
                  contact: str | None = None) -> dict[str, str]:
    """The 填表说明 lines 报送截止时间 / 报送方式 / 联系人及电话 as writer values (only those given)."""
    out = {"notice_deadline": f"{deadline.year}年{deadline.month}月{deadline.day}日" if deadline else "",
           "notice_method": (method or "").strip(), "notice_contact": (contact or "").strip()}
    return {k: v for k, v in out.items() if v}


def write_templates(scheme: Scheme, out_dir: Path, year: int | None = None,
                    units: Sequence[Mapping[str, str]] | None = None,
                    notice: Mapping[str, str] | None = None) -> list[Path]:
    """Write the blank template, or one prefilled copy per roster unit (rows of
    ``toolkit.read.roster.read_roster``); ``notice`` (``notice_values``) fills the officer's lines
    of 填表说明 in every copy. Returns the paths written."""
    out_dir = Path(out_dir)
    base = template_file_name(scheme)
    if units is None:
        path = out_dir / base
        atomic.write_bytes(path, build_workbook_bytes(scheme, year=year, values=notice))
        return [path]
    paths = []
    for u in units:
        values: dict[str, Any] = {**(notice or {}), **{k: v for k, v in u.items() if v}}
        if year is not None:
            values["fiscal_year"] = year
        meta = {"unit_code": u["unit_code"]} if u.get("unit_code") else {}
        path = out_dir / f"{safe_file_name(u['unit_name'])}_{base}"
        atomic.write_bytes(path, build_workbook_bytes(scheme, year=year, values=values, meta=meta))
        paths.append(path)
    return paths
