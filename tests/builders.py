"""Build test workbooks from small readable tables (no binary fixtures).

``build()`` writes the standard workbook through the real template writer (toolkit.forms.template),
filled with the reference unit's data and any overrides. The other helpers change a built
workbook the way clerks and office suites do: edit its XML parts, fill it through defined names
with openpyxl, write one with the inputs at other cells, re-save or insert rows with LibreOffice.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import xlsxwriter

from tests.helpers import load_seed, workbook_inputs
from toolkit import fields as F
from toolkit.check import validate
from toolkit.model import Submission
from toolkit.problems import Problem
from toolkit.read.clean import FormulaError
from toolkit.rules import inputs as scheme_inputs
from toolkit.rules.loader import load_scheme
from toolkit.rules.model import Scheme

DROP = object()  # value meaning "leave this key out"


def seed_inputs() -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The reference unit's values and table rows, as a clerk would type them."""
    values, tables = workbook_inputs(load_seed())
    if isinstance(values.get("report_date"), str):
        values["report_date"] = date.fromisoformat(values["report_date"])
    return values, tables


def inputs(values: Mapping[str, Any] | None = None, tables: Mapping[str, Any] | None = None,
           ) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Seed inputs with overrides; a value DROP removes the key (the cell stays blank)."""
    v, t = seed_inputs()
    for k, x in (values or {}).items():
        if x is DROP:
            v.pop(k, None)
        else:
            v[k] = x
    for k, rows in (tables or {}).items():
        t[k] = list(rows)
    return v, t


def build(path: Path, values: Mapping[str, Any] | None = None, tables: Mapping[str, Any] | None = None, *,
          scheme: Scheme | str = "jianghua-2023", meta: Mapping[str, Any] | None = None,
          errors: Mapping[str, str] | None = None) -> Path:
    """A filled standard workbook: seed data + overrides. ``errors``: key → cached formula error."""
    from toolkit.forms.template import write_workbook

    sch = load_scheme(scheme) if isinstance(scheme, str) else scheme
    v, t = inputs(values, tables)
    write_workbook(sch, path, values=v, tables=t, meta=meta)
    if errors:
        set_errors(path, errors)
    return path


def blank_template(path: Path, scheme: Scheme | str = "jianghua-2023") -> Path:
    from toolkit.forms.template import write_workbook

    sch = load_scheme(scheme) if isinstance(scheme, str) else scheme
    write_workbook(sch, path)
    return path


# --------------------------------------------------------------------------- editing parts
def read_part(path: Path, part: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(part)


def rewrite(path: Path, edits: Mapping[str, Callable[[bytes], bytes | None]], out: Path | None = None,
            add: Mapping[str, bytes] | None = None) -> Path:
    """Copy the package with parts edited (a function returning None drops the part)."""
    out = out or path
    src = path.read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename in edits:
                new = edits[info.filename](data)
                if new is None:
                    continue
                data = new
            zout.writestr(info.filename, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    out.write_bytes(buf.getvalue())
    return out


def sheet_part(path: Path, sheet: str) -> str:
    """The zip part holding ``sheet`` (via workbook.xml and its rels)."""
    wb = read_part(path, "xl/workbook.xml").decode()
    m = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="(rId\d+)"', wb)
    assert m, sheet
    rels = read_part(path, "xl/_rels/workbook.xml.rels").decode()
    rid = m.group(1)
    t = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
    assert t
    target = t.group(1) or t.group(2)
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def defined_names(path: Path) -> dict[str, str]:
    wb = read_part(path, "xl/workbook.xml").decode()
    return {m.group(1): m.group(2) for m in re.finditer(r'<definedName name="([^"]+)"[^>]*>([^<]*)</definedName>', wb)}


def drop_name(path: Path, key: str) -> Path:
    def edit(b: bytes) -> bytes:
        return re.sub(rb'<definedName name="%s"[^>]*>[^<]*</definedName>' % key.encode(), b"", b)
    return rewrite(path, {"xl/workbook.xml": edit})


def break_name(path: Path, key: str) -> Path:
    """The name stays but points to #REF! (what Excel does when its cell's row is deleted)."""
    def edit(b: bytes) -> bytes:
        return re.sub(rb'(<definedName name="%s"[^>]*>)[^<]*(</definedName>)' % key.encode(), rb"\1#REF!\2", b)
    return rewrite(path, {"xl/workbook.xml": edit})


def rename_table(path: Path, old: str, new: str) -> Path:
    edits = {}
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            if n.startswith("xl/tables/") and f'name="{old}"'.encode() in z.read(n):
                edits[n] = lambda b: b.replace(f'"{old}"'.encode(), f'"{new}"'.encode())
    return rewrite(path, edits)


def drop_table_parts(path: Path) -> Path:
    """Remove every table part and its relationships (as some re-saves do); cells stay."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    edits: dict[str, Callable[[bytes], bytes | None]] = {}
    for n in names:
        if n.startswith("xl/tables/"):
            edits[n] = lambda b: None
        elif n.startswith("xl/worksheets/_rels/"):
            edits[n] = lambda b: re.sub(rb"<Relationship [^>]*/table\"[^>]*/>", b"", b)
        elif n.startswith("xl/worksheets/sheet"):
            edits[n] = lambda b: re.sub(rb"<tableParts.*?</tableParts>", b"", b, flags=re.S)
        elif n == "[Content_Types].xml":
            edits[n] = lambda b: re.sub(rb"<Override [^>]*tables/[^>]*/>", b"", b)
    return rewrite(path, edits)


def delete_sheet(path: Path, sheet: str) -> Path:
    """Delete a sheet as Excel does: its part goes, names pointing into it become #REF!."""
    part = sheet_part(path, sheet)

    def wb(b: bytes) -> bytes:
        b = re.sub(rb'<sheet [^>]*name="%s"[^>]*/>' % sheet.encode(), b"", b)
        return re.sub(rb"(<definedName [^>]*>)'?%s'?!\$[A-Z]+\$\d+(</definedName>)" % sheet.encode(), rb"\1#REF!\2", b)
    return rewrite(path, {"xl/workbook.xml": wb, part: lambda b: None})


def rename_sheet(path: Path, old: str, new: str) -> Path:
    """Rename a sheet as Excel does: the names follow it."""
    def wb(b: bytes) -> bytes:
        return b.replace(f'name="{old}"'.encode(), f'name="{new}"'.encode()).replace(
            f"'{old}'!".encode(), f"'{new}'!".encode())
    return rewrite(path, {"xl/workbook.xml": wb})


def set_meta(path: Path, **entries: Any) -> Path:
    """Change _meta values (column B next to the key)."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb[F.SHEET_META]
    for row in ws.iter_rows(min_col=1, max_col=2):
        k = row[0].value
        if k in entries:
            row[1].value = entries.pop(k)
    for k, v in entries.items():
        ws.append([k, v])
    wb.save(path)
    return path


def set_errors(path: Path, errors: Mapping[str, str]) -> Path:
    """Give named cells a cached formula error (t="e"), as Excel saves =1/0."""
    names = defined_names(path)
    by_part: dict[str, list[tuple[str, str]]] = {}
    for key, err in errors.items():
        sheet, cell = names[key].split("!")
        sheet = sheet.strip("'")
        by_part.setdefault(sheet_part(path, sheet), []).append((cell.replace("$", ""), err))

    def editor(cells: list[tuple[str, str]]) -> Callable[[bytes], bytes]:
        def edit(b: bytes) -> bytes:
            for cell, err in cells:
                new = f'<c r="{cell}" t="e"><f>1/0</f><v>{err}</v></c>'.encode()
                b, n = re.subn(rb'<c r="%s"(?: [^>]*)?(?:/>|>.*?</c>)' % cell.encode(), new, b, count=1, flags=re.S)
                assert n == 1, cell
            return b
        return edit
    return rewrite(path, {part: editor(cells) for part, cells in by_part.items()})


# --------------------------------------------------------------------------- filled by other tools
def fill_with_openpyxl(template: Path, out: Path, values: Mapping[str, Any],
                       tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> Path:
    """Fill a blank template purely through defined names and table names (the contract)."""
    from openpyxl import load_workbook

    wb = load_workbook(template)
    for key, v in values.items():
        dn = wb.defined_names[key]
        for sheet, ref in dn.destinations:
            wb[sheet][ref.replace("$", "").split(":")[0]] = v
    for name, rows in tables.items():
        for ws in wb.worksheets:
            if name not in ws.tables:
                continue
            t = ws.tables[name]
            first = t.ref.split(":")[0]
            col0 = ws[first].column
            hr = ws[first].row
            headers = {ws.cell(hr, col0 + j).value: col0 + j for j in range(len(t.tableColumns))}
            # the form's tables: rows keyed by column key; a scheme's own tables: rows keyed by header
            keys = ({c.header: c.key for c in F.table_by_name(name).columns}
                    if name in {tb.name for tb in F.TABLES} else {h: h for h in headers})
            for i, row in enumerate(rows, start=1):
                for header, col in headers.items():
                    if keys.get(header) in row:
                        ws.cell(hr + i, col).value = row[keys[header]]
    wb.save(out)
    return out


def write_shifted(path: Path, values: Mapping[str, Any], tables: Mapping[str, Sequence[Mapping[str, Any]]], *,
                  scheme: Scheme | str = "jianghua-2023", rows: int = 5, cols: int = 2) -> Path:
    """A minimal workbook honouring the contract with every input at other cells than the template's.

    Labels in column 1+cols, inputs two columns right of them, all ``rows`` lower; tables too.
    """
    sch = load_scheme(scheme) if isinstance(scheme, str) else scheme
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    sheets: dict[str, Any] = {}
    next_row: dict[str, int] = {}
    for name in F.SHEETS:
        ws = wb.add_worksheet(name)
        ws.write_string(0, 0, f"{name}（移动过的布局）")
        sheets[name] = ws
        next_row[name] = 2 + rows
    for f in scheme_inputs.all_fields(sch):
        ws = sheets[f.sheet]
        r = next_row[f.sheet]
        next_row[f.sheet] += 1
        ws.write_string(r, cols, f.label)
        _put(ws, r, cols + 2, values.get(f.key), date_fmt)
        wb.define_name(f.key, f"='{f.sheet}'!${_letter(cols + 3)}${r + 1}")
    for t in F.TABLES:
        ws = sheets[t.sheet]
        hr = next_row[t.sheet] + 2
        c0 = cols + 1 if t.name != "plans" else cols + 3
        data = list(tables.get(t.name) or [])
        n = max(t.rows, len(data))
        ws.add_table(hr, c0, hr + n, c0 + len(t.columns) - 1, {
            "name": t.name, "columns": [{"header": c.header} for c in t.columns], "autofilter": False})
        for i in range(n):
            for j, c in enumerate(t.columns):
                v = data[i].get(c.key) if i < len(data) else None
                if v is not None:
                    _put(ws, hr + 1 + i, c0 + j, v, date_fmt)
        if t.name == "problems":
            continue
        next_row[t.sheet] = hr + n + 3
    meta = sheets[F.SHEET_META]
    for r, (k, v) in enumerate((("template_id", F.TEMPLATE_ID), ("template_version", F.TEMPLATE_VERSION),
                                ("scheme_id", sch.id))):
        meta.write_string(r, 0, k)
        meta.write(r, 1, v)
    meta.very_hidden()
    wb.close()
    return path


def _letter(col0: int) -> str:
    from toolkit.text.address import col_letter

    return col_letter(col0)


def _put(ws: Any, r: int, c: int, v: Any, date_fmt: Any) -> None:
    if v is None:
        return
    if isinstance(v, FormulaError):
        ws.write_formula(r, c, "=1/0", None, str(v))
    elif isinstance(v, date):
        ws.write_datetime(r, c, v, date_fmt)
    elif isinstance(v, bool):
        ws.write_boolean(r, c, v)
    elif isinstance(v, (int, float)):
        ws.write_number(r, c, v)
    else:
        ws.write_string(r, c, str(v))


# --------------------------------------------------------------------------- LibreOffice
def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def _uno_python() -> str | None:
    for exe in ("/usr/bin/python3", sys.executable):
        if exe and Path(exe).exists():
            r = subprocess.run([exe, "-c", "import uno"], capture_output=True)
            if r.returncode == 0:
                return exe
    return None


_UNO_SCRIPT = r'''
import os, subprocess, sys, time, uno
from com.sun.star.beans import PropertyValue

def prop(name, value):
    p = PropertyValue(); p.Name = name; p.Value = value; return p

soffice, profile, pipe = sys.argv[1:4]
jobs = sys.argv[4:]
proc = subprocess.Popen([soffice, "-env:UserInstallation=" + profile, "--headless", "--invisible",
                         "--nologo", "--norestore", "--nodefault", f"--accept=pipe,name={pipe};urp;"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    for _ in range(300):
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            break
        except Exception:
            time.sleep(0.1)
    else:
        raise SystemExit("soffice did not start")
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    for job in jobs:
        src, dst, sheet, row, nrows, col, ncols = job.split("|")
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0,
                                           (prop("Hidden", True), prop("ReadOnly", True)))
        if doc is None:
            raise SystemExit("LibreOffice could not open " + src)
        if sheet:
            sh = doc.Sheets.getByName(sheet)
            if sh.isProtected():
                sh.unprotect("")
            if int(nrows):
                sh.Rows.insertByIndex(int(row), int(nrows))
            if int(ncols):
                sh.Columns.insertByIndex(int(col), int(ncols))
        doc.storeToURL(uno.systemPathToFileUrl(dst), (prop("FilterName", "Calc Office Open XML"),))
        doc.close(True)
    try:
        desktop.terminate()
    except Exception:
        pass
finally:
    try:
        proc.wait(timeout=20)
    except Exception:
        proc.kill()
'''


def libreoffice_edit(jobs: list[tuple[Path, Path, str, int, int, int, int]]) -> None:
    """Open each (src) in LibreOffice, insert rows/columns on a sheet, save as .xlsx (dst).

    A job is (src, dst, sheet, row index 0-based, rows to insert, column index, columns to insert);
    sheet "" just re-saves. All jobs run in one LibreOffice process with a private profile.
    """
    office, py = soffice(), _uno_python()
    if not office or not py:
        raise RuntimeError("LibreOffice (soffice) with Python UNO is not available")
    with tempfile.TemporaryDirectory(prefix="jixiao_lo_") as tmp:
        script = Path(tmp) / "edit.py"
        script.write_text(_UNO_SCRIPT, encoding="utf-8")
        profile = Path(tmp, "profile").as_uri()
        args = ["|".join(str(x) for x in job) for job in jobs]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        r = subprocess.run([py, str(script), office, profile, f"jixiao_{os.getpid()}", *args],
                           timeout=120, capture_output=True, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"LibreOffice edit failed: {r.stderr.decode(errors='replace')[-500:]}")
    for job in jobs:
        if not Path(job[1]).exists():
            raise RuntimeError(f"LibreOffice did not write {job[1]}")


def libreoffice_convert(src: Path, outdir: Path) -> Path:
    """``soffice --headless --convert-to xlsx`` with a private profile."""
    office = soffice()
    if not office:
        raise RuntimeError("soffice not found")
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jixiao_lo_") as tmp:
        subprocess.run([office, f"-env:UserInstallation={Path(tmp).as_uri()}", "--headless", "--convert-to", "xlsx",
                        "--outdir", str(outdir), str(src)], check=True, timeout=120, capture_output=True)
    out = outdir / (src.stem + ".xlsx")
    if not out.exists():
        raise RuntimeError("LibreOffice did not convert the file")
    return out


# --------------------------------------------------------------------------- checking what was built

def check(tmp_path: Path, values=None, tables=None, name="unit.xlsx", **kw) -> validate.FileCheck:
    p = build(tmp_path / name, values, tables, **kw)
    return validate.check_file(p, name)


def only(c: validate.FileCheck, code: str) -> Problem:
    found = [p for p in c.problems if p.code == code]
    assert len(found) == 1, [(p.code, p.message) for p in c.problems]
    return found[0]


def codes(c: validate.FileCheck) -> list[str]:
    return [p.code for p in c.problems]


def sub(c: validate.FileCheck) -> Submission:
    assert c.submission is not None, [p.message for p in c.problems]
    return c.submission


def perf_rows(**changes) -> list[dict]:
    """The seed's indicator rows with changes: {row number (1-based): {column: value}}."""
    _, tables = seed_inputs()
    rows = [dict(r) for r in tables["perf_indicators"]]
    for n, ch in changes.items():
        rows[int(n.lstrip("r")) - 1].update(ch)
    return rows


def cli_template(scheme: Path, folder: Path) -> Path:
    """The blank workbook of ``scheme`` as `jixiao template --scheme` writes it."""
    from click.testing import CliRunner

    from toolkit.cli import main

    r = CliRunner().invoke(main, ["template", "-o", str(folder), "--scheme", str(scheme)])
    assert r.exit_code == 0, r.output
    return next(folder.glob("*.xlsx"))


def fill_seed(template: Path, out: Path, *, drop: Sequence[str] = (),
              tables: Mapping[str, Sequence[Mapping[str, Any]]] | None = None, **values: Any) -> Path:
    """``template`` filled with openpyxl with the reference unit's data: keys starting with any of
    ``drop`` left out, ``values`` and ``tables`` added or replaced."""
    from tests.helpers import load_seed, workbook_inputs

    base, seed_tables = workbook_inputs(load_seed())
    base = {k: v for k, v in base.items() if not k.startswith(tuple(drop))} if drop else base
    base.update(values)
    return fill_with_openpyxl(template, out, base, {**seed_tables, **(tables or {})})
