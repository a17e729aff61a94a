"""Clashes across a batch (check/duplicates.py): the same unit and year twice, a year unlike the batch's."""

from __future__ import annotations

import pytest

from tests import builders as B
from toolkit import fields as F
from toolkit.check import duplicates, validate


def test_duplicates(tmp_path):
    a = validate.check_file(B.build(tmp_path / "a.xlsx"), "a.xlsx")
    b = validate.check_file(B.build(tmp_path / "b.xlsx", {"unit_name": "县政务服务中心"}), "sub/b.xlsx")
    other_year = validate.check_file(B.build(tmp_path / "c.xlsx", {"fiscal_year": 2022}), "c.xlsx")
    other_unit = validate.check_file(B.build(tmp_path / "d.xlsx", {"unit_code": "412002"}), "d.xlsx")
    bad = validate.check_file(tmp_path / "missing.xlsx", "missing.xlsx")
    dups = validate.find_duplicates([a, b, other_year, other_unit, bad])
    assert set(dups) == {"a.xlsx", "sub/b.xlsx"}  # same unit_code, though the names differ
    pa = dups["a.xlsx"][0]
    assert pa.code == "duplicate_unit" and pa.severity == "error" and "重复" in pa.message and "sub/b.xlsx" in pa.message
    assert "a.xlsx" in dups["sub/b.xlsx"][0].message and pa.sheet == F.SHEET_BASIC


def test_duplicates_by_name_without_code(tmp_path):
    a = validate.check_file(B.build(tmp_path / "a.xlsx", {"unit_code": B.DROP}), "a.xlsx")
    b = validate.check_file(B.build(tmp_path / "b.xlsx", {"unit_code": B.DROP,
                                                          "unit_name": " 江华瑶族自治县政务服务中心 "}), "b.xlsx")
    c = validate.check_file(B.build(tmp_path / "c.xlsx", {"unit_name": "县教育局"}), "c.xlsx")
    assert set(validate.find_duplicates([a, b, c])) == {"a.xlsx", "b.xlsx"}



@pytest.mark.parametrize("years, flagged", [
    ((2023, 2023, 2022), ["f2"]),
    ((2023, 2023, 2023), []),
    ((2023, 2022), []),  # too few to tell
    ((2023, 2022, 2021), []),  # no majority
    ((2023, 2023, 2023, 2024, 2022), ["f3", "f4"]),
])
def test_year_outliers_in_a_batch(years, flagged):
    keys = [duplicates.UnitKey(f"f{i}", y, f"c{i}", f"单位{i}", "基本信息!C4", "基本信息!C7")
            for i, y in enumerate(years)]
    out = duplicates.year_outliers(keys)
    assert sorted(out) == [f"f{i}" for i in range(len(years)) if f"f{i}" in flagged]
    for probs in out.values():
        [p] = probs
        assert (p.code, p.severity, p.cell) == ("year_mismatch", "warning", "C7") and "2023" in p.message
