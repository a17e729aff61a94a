"""Fuzz over every named cell and every table column of the real template (issue 11, "Must show").

A seeded generator writes hostile values into one cell at a time of the reference unit's workbook
(built through the real template writer) the way Excel stores them: wrong types, huge and tiny
magnitudes, control characters, formulas, very long text. Each case runs in a child process with a
time guard and must give a Chinese message naming a sheet!cell, or a valid score: never an
exception, never "unreadable" for a readable file.
"""

from __future__ import annotations

import io
import multiprocessing
import random
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest

from tests.builders import build, defined_names, sheet_part
from toolkit import fields as F
from toolkit.check import validate
from toolkit.rules import inputs, scoring
from toolkit.rules.loader import load_scheme

SEED = 20261130
CASE_SECONDS = 5.0  # spec 05: every answer in under 5 s
NUMERIC_KINDS = {"int", "year", "money", "money_signed", "area", "percent", "score"}
CLASS_NAMES = ("Error", "Exception", "Traceback", "None")


@dataclass(frozen=True)
class Target:
    key: str  # field key, or table.column
    part: str  # the sheet's zip part
    sheet: str
    cell: str  # "C7"
    kind: str


@dataclass(frozen=True)
class Value:
    """How a cell is stored: t (cell type: n, s, e, str, b), the value and an optional formula."""

    t: str
    v: str
    f: str = ""


# One class of hostile value each; the tests below are grouped by class.
VALUES: dict[str, Value] = {
    "text_in_number": Value("s", "十二点五"),
    "number_in_text": Value("n", "12345.678"),
    "huge_1e999999": Value("n", "1E+999999"),
    "huge_1e26": Value("n", "1E+26"),
    "tiny_1e-30": Value("n", "1E-30"),
    "negative_1e300": Value("n", "-1E+300"),
    "huge_as_text": Value("s", "1E+999999"),
    "negative_small": Value("n", "-0.0001"),
    "control_characters": Value("s", "甲_x0007_乙\t丙_x001F_\r\n丁_x0000_"),
    "formula_div0": Value("e", "#DIV/0!", "1/0"),
    "formula_hyperlink": Value("str", "点我", 'HYPERLINK("http://example.com/x","点我")'),
    "formula_injection_text": Value("s", "=cmd|' /C calc'!A0"),
    "long_text": Value("s", "长" * 32767),
    "boolean": Value("b", "1"),
    "blank_spaces": Value("s", "   "),
    "bad_date_text": Value("s", "2023年13月45日"),
}
# Magnitudes no budget unit can have: in a numeric cell they must be a message naming the cell.
ABSURD = {"huge_1e999999", "huge_1e26", "negative_1e300", "huge_as_text"}

# --------------------------------------------------------------------------- the workbook and its targets
@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Target]]:
    path = build(tmp_path_factory.mktemp("fuzz") / "unit.xlsx")
    targets: list[Target] = []
    kinds = {f.key: f.kind for f in inputs.all_fields(load_scheme("jianghua-2023"))}
    for key, ref in sorted(defined_names(path).items()):
        if key.startswith("_xlnm."):  # print titles and the like: not an input
            continue
        sheet, cell = ref.split("!")
        sheet = sheet.strip("'")
        targets.append(Target(key, sheet_part(path, sheet), sheet, cell.replace("$", "").split(":")[0],
                              kinds.get(key, "text")))
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if not name.startswith("xl/tables/"):
                continue
            xml = z.read(name).decode()
            tname = re.search(r' name="([^"]+)"', xml).group(1)  # type: ignore[union-attr]
            first = re.search(r' ref="([A-Z]+)(\d+):', xml)
            assert first
            table = F.table_by_name(tname)
            col0, header_row = _col_index(first.group(1)), int(first.group(2))
            sheet = table.sheet
            for j, c in enumerate(table.columns):
                targets.append(Target(f"{tname}.{c.key}", sheet_part(path, sheet), sheet,
                                      f"{_col_letter(col0 + j)}{header_row + 1}", c.kind))
    assert len(targets) >= 70  # every input's defined name (62) and every table column (13)
    return path, targets


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _mutate(src: bytes, target: Target, value: Value) -> bytes:
    """The package with ``target``'s cell stored as ``value`` (style kept), as Excel would save it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        shared = zin.read("xl/sharedStrings.xml").decode()
        index = shared.count("<si>")
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/sharedStrings.xml" and value.t == "s":
                text = f'<si><t xml:space="preserve">{escape(value.v)}</t></si>'
                data = shared.replace("</sst>", text + "</sst>").encode()
                data = re.sub(rb'uniqueCount="\d+"', f'uniqueCount="{index + 1}"'.encode(), data, count=1)
            elif info.filename == target.part:
                data = _set_cell(data, target.cell, value, index)
            zout.writestr(info, data)
    return buf.getvalue()


def _set_cell(xml: bytes, cell: str, value: Value, string_index: int) -> bytes:
    pat = re.compile(rb'<c r="%s"(?P<attrs>[^>]*?)(?:/>|>.*?</c>)' % cell.encode(), re.S)
    m = pat.search(xml)
    style = re.search(rb' s="\d+"', m.group("attrs")).group(0).decode() if m and b' s="' in m.group("attrs") else ""
    t = "" if value.t == "n" else f' t="{value.t}"'
    f = f"<f>{escape(value.f)}</f>" if value.f else ""
    v = str(string_index) if value.t == "s" else escape(value.v)
    new = f'<c r="{cell}"{style}{t}>{f}<v>{v}</v></c>'.encode()
    if m:
        return xml[:m.start()] + new + xml[m.end():]
    row = int(re.sub(r"[A-Z]+", "", cell))  # the cell is not stored yet: put it in its row
    rm = re.search(rb'<row r="%d"[^>]*?(?:/>|>)' % row, xml)
    assert rm and not rm.group(0).endswith(b"/>"), cell
    return xml[:rm.end()] + new + xml[rm.end():]


# --------------------------------------------------------------------------- one case (child process)
def _run_case(path: str) -> dict[str, Any]:
    try:
        check = validate.check_file(Path(path), "unit.xlsx")
        out: dict[str, Any] = {"status": check.status, "problems": [p.as_dict() for p in check.problems]}
        if check.submission is not None and check.status != "unreadable":
            card = scoring.score(check.scheme, check.submission)
            out["problems"] += [p.as_dict() for p in card.problems]
            out["total"] = str(card.total)
            out["leaves"] = [(str(leaf.score), str(leaf.points)) for leaf in card.leaves()]
            out["scheme_total"] = str(check.scheme.total)
        return out
    except BaseException as e:  # noqa: BLE001 - the point of the test: report what escaped
        return {"exception": f"{type(e).__name__}: {str(e)[:200]}"}


def _judge(target: Target, value_class: str, out: dict[str, Any]) -> str | None:
    """What is wrong with one case's answer, or None."""
    if "exception" in out:
        return f"exception {out['exception']}"
    if out["status"] == "unreadable":
        return f"unreadable: {[p['message'][:120] for p in out['problems']]}"
    for p in out["problems"]:
        msg = p["message"]
        if not p["cells"] and not (p["sheet"] and p["cell"]):
            return f"message names no cell: {msg[:120]}"
        if not re.search(r"[\u4e00-\u9fff]", msg) or any(w in msg for w in CLASS_NAMES):
            return f"message not plain Chinese: {msg[:160]}"
    here = f"{target.sheet}!{target.cell}"
    if value_class in ABSURD and target.kind in NUMERIC_KINDS:
        if not any(here in p["cells"] or f"{p['sheet']}!{p['cell']}" == here for p in out["problems"]):
            return f"absurd number accepted (status {out['status']}, total {out.get('total')})"
    if out["status"] == "ok":
        total = Decimal(out["total"])
        if not (total.is_finite() and 0 <= total <= Decimal(out["scheme_total"])):
            return f"total out of range: {total}"
        if any(not (0 <= Decimal(s) <= Decimal(w)) for s, w in out["leaves"]):
            return "a leaf score outside [0, points]"
    return None


class _Runner:
    """A one-process pool; a case over the time guard kills it and starts a fresh one."""

    def __init__(self) -> None:
        self.ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        self.pool = self.ctx.Pool(1)

    def run(self, path: Path) -> dict[str, Any] | None:
        job = self.pool.apply_async(_run_case, (str(path),))
        try:
            return job.get(timeout=CASE_SECONDS)
        except multiprocessing.TimeoutError:
            self.pool.terminate()
            self.pool.join()
            self.pool = self.ctx.Pool(1)
            return None

    def close(self) -> None:
        self.pool.terminate()
        self.pool.join()


@pytest.fixture(scope="module")
def runner():
    r = _Runner()
    yield r
    r.close()


def _cases(value_class: str, targets: list[Target]) -> list[Target]:
    """Every target for magnitudes in numeric cells; otherwise a seeded sample covering each sheet."""
    rnd = random.Random(f"{SEED}-{value_class}")
    if value_class in ABSURD:
        return [t for t in targets if t.kind in NUMERIC_KINDS]
    return sorted(rnd.sample(targets, k=min(len(targets), 24)), key=lambda t: t.key)


def _params() -> list[Any]:
    return list(VALUES)


@pytest.mark.parametrize("value_class", _params())
def test_fuzz_value_class(value_class: str, base: tuple[Path, list[Target]], runner: _Runner, tmp_path: Path):
    path, targets = base
    src = path.read_bytes()
    value = VALUES[value_class]
    failures: list[str] = []
    hung: set[str] = set()
    for i, target in enumerate(_cases(value_class, targets)):
        group = "int" if target.kind in ("int", "year") else target.kind
        if group in hung:
            continue  # one hang per kind of cell is enough to fail the class; more would only cost time
        case = tmp_path / f"{i:03d}.xlsx"
        case.write_bytes(_mutate(src, target, value))
        out = runner.run(case)
        if out is None:
            failures.append(f"{target.key} ({target.sheet}!{target.cell}): over {CASE_SECONDS:g} s")
            hung.add(group)
            continue
        problem = _judge(target, value_class, out)
        if problem:
            failures.append(f"{target.key} ({target.sheet}!{target.cell}): {problem}")
    assert not failures, f"{value_class} = {value.v[:40]!r}:\n" + "\n".join(failures)


def test_fuzz_mutation_really_lands(base: tuple[Path, list[Target]], tmp_path: Path):
    """The generator writes where it means to: a text in 编制数 is reported at that cell."""
    path, targets = base
    t = next(x for x in targets if x.key == "staff_quota")
    case = tmp_path / "x.xlsx"
    case.write_bytes(_mutate(path.read_bytes(), t, VALUES["text_in_number"]))
    out = _run_case(str(case))
    assert out["status"] == "invalid"
    assert any(f"{t.sheet}!{t.cell}" in p["cells"] for p in out["problems"])
