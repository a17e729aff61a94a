"""Hostile-but-small files that used to abort the process or eat memory: each runs in a child process
with a time limit and an address-space limit, and must answer in < 5 s with peak RSS <= 300 MB.

Built in code from the seed workbook (issue 11 items 3, 4, 6).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import builders as B

resource = pytest.importorskip("resource", reason="peak RSS via resource is POSIX-only")

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
t = time.perf_counter()
from toolkit.check import validate
c = validate.check_file(Path(sys.argv[1]), "x")
rows = {n: len(t.rows) for n, t in c.raw.tables.items()} if c.raw else {}
truncated = {n: t.truncated for n, t in c.raw.tables.items()} if c.raw else {}
value = c.raw.values.get(sys.argv[2]) if c.raw and len(sys.argv) > 2 else None
print(json.dumps({"status": c.status, "codes": [p.code for p in c.problems], "rows": rows, "truncated": truncated,
                  "value": repr(value), "seconds": time.perf_counter() - t,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _limit_memory() -> None:  # a regression fails with MemoryError instead of taking the machine
    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 * MB, 3 * 1024 * MB))


def run_check(path: Path, key: str = "") -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, str(path), key], capture_output=True, text=True,
                       timeout=60, cwd=ROOT, preexec_fn=_limit_memory)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "panic" not in r.stderr.lower(), r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["seconds"] < 5, out
    assert out["rss_mb"] <= 300, out
    return out


@pytest.fixture(scope="module")
def seed_bytes(tmp_path_factory) -> bytes:
    return B.build(tmp_path_factory.mktemp("seed") / "seed.xlsx").read_bytes()


def repack(data: bytes, edit: Callable[[str, bytes], bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename, zin.read(info.filename)))
    return buf.getvalue()


def _on(part: str, fn: Callable[[bytes], bytes]) -> Callable[[str, bytes], bytes]:
    return lambda n, b: fn(b) if n == part else b


def _append_rows(rows: bytes) -> Callable[[bytes], bytes]:
    return lambda b: b.replace(b"</sheetData>", rows + b"</sheetData>", 1)


def _prefixed(b: bytes) -> bytes:
    """The same sheet with every element in the x: prefix (as some generators write it)."""
    b = re.sub(rb"<(/?)([A-Za-z][\w.]*)(?=[\s/>])", rb"<\1x:\2", b)
    return b.replace(b'xmlns="' + MAIN_NS + b'"', b'xmlns:x="' + MAIN_NS + b'"', 1)


def _whole_columns(b: bytes) -> bytes:
    return re.sub(rb'ref="A3:K\d+"', b'ref="A3:K1048576"', b, count=1)


def _rows_to(last: int, far: bytes = b"") -> Callable[[bytes], bytes]:
    body = b"".join(b'<row r="%d"><c r="C%d"><v>1</v></c><c r="E%d"><v>2</v></c></row>' % (r, r, r)
                    for r in range(40, last + 1))
    return _append_rows(body + far)


def _far(cell: str) -> Callable[[bytes], bytes]:
    row = re.sub(r"\D", "", cell).encode()
    return _append_rows(b'<row r="' + row + b'"><c r="' + cell.encode() + b'"><v>1</v></c></row>')


def _every_sheet_far(n: str, b: bytes) -> bytes:
    if n.startswith("xl/worksheets/sheet") and n.endswith(".xml"):
        return _far("AAA2800")(b)
    return b


CASES: dict[str, Callable[[str, bytes], bytes]] = {
    "uniqueCount_4e9": _on("xl/sharedStrings.xml",
                           lambda b: re.sub(rb'count="\d+" uniqueCount="\d+"',
                                            b'count="4000000000" uniqueCount="4000000000"', b, count=1)),
    "prefixed_sheet_value_at_XFD1048576": _on("xl/worksheets/sheet2.xml",
                                              lambda b: _prefixed(_far("XFD1048576")(b))),
    "value_at_XFD1048576": _on("xl/worksheets/sheet2.xml", _far("XFD1048576")),
    "table_over_whole_columns": _on("xl/tables/table1.xml", _whole_columns),
    "table_to_row_100000_plus_stray": lambda n, b: (
        _whole_columns(b) if n == "xl/tables/table1.xml"
        else _rows_to(100_000, b'<row r="1000000"><c r="Z1000000"><v>9</v></c></row>')(b)
        if n == "xl/worksheets/sheet5.xml" else b),
    "every_sheet_far_value": _every_sheet_far,
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_extent_is_read_in_bounded_memory(tmp_path, seed_bytes, case):
    p = tmp_path / f"{case}.xlsx"
    p.write_bytes(repack(seed_bytes, CASES[case]))
    assert p.stat().st_size < 2 * MB
    out = run_check(p)
    assert out["status"] != "unreadable", out
    assert out["rows"]["perf_indicators"] <= 2000
    assert out["truncated"]["perf_indicators"] == (case == "table_to_row_100000_plus_stray")


def test_prefixed_sheet_reads_the_same_values(tmp_path, seed_bytes):
    from toolkit.read import workbook

    plain = workbook.read_bytes(seed_bytes, "a.xlsx")
    data = repack(seed_bytes, lambda n, b: _prefixed(b) if n.startswith("xl/worksheets/sheet") else b)
    prefixed = workbook.read_bytes(data, "b.xlsx")
    assert prefixed.values == plain.values
    assert {n: t.rows for n, t in prefixed.tables.items()} == {n: t.rows for n, t in plain.tables.items()}


@pytest.mark.parametrize("number", [b"1E+300", b"-1E+300", b"1E+308", b"2958466"])
def test_huge_number_in_a_date_cell_arrives_as_a_number(tmp_path, seed_bytes, number):
    """calamine panicked converting these to dates; the value must reach the validator as a number."""
    from toolkit.read import workbook
    from toolkit.text.address import split_address

    raw = workbook.read_bytes(seed_bytes, "x.xlsx")
    sheet, cell = split_address(raw.addresses["report_date"]) or ("", "")
    index = raw.sheet_names.index(sheet) + 1

    def edit(b: bytes) -> bytes:
        return re.sub(rb'(<c r="' + cell.encode() + rb'"[^>]*?)(?:/>|>.*?</c>)',
                      lambda m: m.group(1).replace(b' t="s"', b"") + b"><v>" + number + b"</v></c>", b, count=1)
    p = tmp_path / "date.xlsx"
    p.write_bytes(repack(seed_bytes, _on(f"xl/worksheets/sheet{index}.xml", edit)))
    out = run_check(p, "report_date")
    assert out["status"] != "unreadable" and out["value"] == repr(float(number)), out
