"""Returned workbooks: the clerk's values in a fresh template, every problem cell marked."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import openpyxl
from click.testing import CliRunner
from helpers import load_seed, write_unit

from toolkit.cli import main


def _named_cell(wb: openpyxl.Workbook, key: str):  # type: ignore[no-untyped-def]
    sheet, coord = next(iter(wb.defined_names[key].destinations))
    return wb[sheet][coord.replace("$", "")]


def _returned(tmp_path: Path) -> tuple[Path, dict]:
    inbox = tmp_path / "in"
    inbox.mkdir()
    data = load_seed()
    data.update(report_date=None, spend_basic=160, staff_quota="十个")
    write_unit(inbox / "政务.xlsx", data)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out)])
    assert r.exit_code == 1, r.output
    unit = json.loads((out / "results.json").read_text(encoding="utf-8"))["units"][0]
    return out / unit["returned"], unit


def test_returned_workbook_marks_every_problem_cell(tmp_path):
    path, unit = _returned(tmp_path)
    assert path.name == "政务.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "问题清单"
    assert wb.active.title == "问题清单"
    listed = "\n".join(str(c.value) for row in wb["问题清单"].iter_rows() for c in row if c.value)
    for p in unit["problems"]:
        assert p["message"] in listed
    # the clerk's own values are kept, including what was wrong
    assert _named_cell(wb, "staff_quota").value == "十个"
    assert _named_cell(wb, "unit_name").value == "江华瑶族自治县政务服务中心"
    # every cell in `cells` of every problem carries a comment with the message
    marked = 0
    for p in unit["problems"]:
        for addr in p["cells"]:
            sheet, coord = addr.rsplit("!", 1)
            cell = wb[sheet][coord]
            assert cell.comment is not None, addr
            assert p["message"][:10] in cell.comment.text
            marked += 1
    assert marked >= 7  # identity (≥5 cells) + report_date + staff_quota
    # the template survives: names, dropdowns, protection, very hidden _meta
    assert "new_building" in wb.defined_names
    assert any("有" in (dv.formula1 or "") for dv in wb["收支情况"].data_validations.dataValidation)
    assert wb["收支情况"].protection.sheet
    assert wb["_meta"].sheet_state == "veryHidden"


def test_fixed_returned_workbook_passes_check(tmp_path):
    path, _ = _returned(tmp_path)
    wb = openpyxl.load_workbook(path)
    _named_cell(wb, "report_date").value = date(2024, 4, 30)
    _named_cell(wb, "spend_basic").value = 169.92
    _named_cell(wb, "staff_quota").value = 10
    fixed = tmp_path / "fixed.xlsx"
    wb.save(fixed)
    r = CliRunner().invoke(main, ["check", str(fixed)])
    assert r.exit_code == 0, r.output


def test_returned_words_name_the_regenerated_cells(tmp_path):
    """A clerk's workbook with every input elsewhere: the 问题清单 and the comments name the cells
    of the returned workbook, in the location column and in the words alike (issue 10.11)."""
    from tests import builders as B
    from toolkit.check import validate
    from toolkit.forms import returned
    from toolkit.rules.loader import load_scheme

    values, tables = B.seed_inputs()
    values.update(spend_basic=160, staff_quota="十个")
    shifted = B.write_shifted(tmp_path / "moved.xlsx", values, tables, rows=7, cols=3)
    check = validate.check_file(shifted, "moved.xlsx")
    identity = next(p for p in check.problems if p.code == "budget_identity")
    old_cells = [c.rsplit("!", 1)[1] for c in identity.cells]
    scheme = load_scheme("jianghua-2023")
    moved = returned.relocated(scheme, check.raw, identity)
    new_cells = [c.rsplit("!", 1)[1] for c in moved.cells]
    assert set(old_cells).isdisjoint(new_cells)  # the layouts really differ
    out = tmp_path / "returned.xlsx"
    returned.write_returned(scheme, check.raw, check.problems, out)
    wb = openpyxl.load_workbook(out)
    listed = [" ".join(str(c.value) for c in row if c.value) for row in wb["问题清单"].iter_rows()]
    line = next(t for t in listed if "收支不平衡" in t)
    assert all(c in line for c in new_cells) and not any(f"!{c}" in line for c in old_cells), line
    comment = wb["收支情况"][new_cells[0]].comment
    assert comment is not None and f"!{new_cells[0]}" in comment.text and f"!{old_cells[0]}" not in comment.text
