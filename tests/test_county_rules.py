"""Issue 13 end to end: a county scheme written only as what differs from Jianghua (extends), using
per_item with a conditional formula, deductions with a penalty item, and a bonus capped at 100:
template → filled through defined names with openpyxl → `jixiao run` → report, appendix, 填表说明."""
from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from tests import builders as B
from tests import readback
from toolkit.cli import main

SCHEME = Path(__file__).parent / "schemes" / "county-demo.yaml"


def _fill(template: Path, path: Path, **values: object) -> Path:
    return B.fill_seed(template, path, drop=("chk_fund_compliance", "chk_disclosure", "note_disclosure"), **values)


@pytest.fixture(scope="module")
def county_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    d = tmp_path_factory.mktemp("county")
    template = B.cli_template(SCHEME, d / "tpl")
    inbox = d / "inbox"
    inbox.mkdir()
    # 甲: 3 projects outside the budget, one approval missing, a misuse found, an award → 99 − 6 − 7.5 + 2
    _fill(template, inbox / "甲.xlsx", unit_name="某县甲单位", unit_code="700001", unbudgeted_projects=3,
          award="是", ded_regulation="是", ded_approval="否", ded_misuse="是",
          note_fund_compliance="个别资金拨付审批手续不全；发现一笔挪用已整改")
    # 乙: clean, with an award: 99 + 2 → capped at 100
    _fill(template, inbox / "乙.xlsx", unit_name="某县乙单位", unit_code="700002", unbudgeted_projects=0,
          award="是", ded_regulation="是", ded_approval="是", ded_misuse="否")
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(d / "out"), "--scheme", str(SCHEME), "--jobs", "1"])
    assert r.exit_code == 0, r.output  # both units valid
    units = {u["unit_name"]: u for u in json.loads((d / "out" / "results.json").read_text("utf-8"))["units"]}
    return template, d / "out", units


def test_scores_follow_each_new_rule(county_run: tuple[Path, Path, dict]) -> None:
    _, _, units = county_run
    a, b = units["某县甲单位"], units["某县乙单位"]
    assert a["status"] == "ok" and b["status"] == "ok", (a["problems"], b["problems"])
    scores = {i["id"]: i["score"] for i in a["indicators"]}
    assert scores["fund_compliance"] == 0  # 6 − 3 (approval 否) − 6 (penalty: misuse 是) → floor 0
    assert scores["disclosure"] == 2.5  # if(3 > 0, 3, 0) × 2.5 = 7.5 off 10
    assert a["base_total"] == 85.5 and a["total"] == 87.5  # + 2 bonus
    assert a["adjustments"] == [{"id": "award_bonus", "name": "获得市级以上表彰", "kind": "bonus",
                                 "points": 2.0, "score": 2.0}]
    assert b["base_total"] == 99 and b["total"] == 100  # 99 + 2, capped at total_cap 100


def test_the_report_and_appendix_state_each_part(county_run: tuple[Path, Path, dict]) -> None:
    _, out, units = county_run
    rows = readback.rows((out / units["某县甲单位"]["report"]).read_bytes())
    text = "\n".join(rows)
    assert "资金使用合规性得0分（资金拨付有完整审批程序和手续，扣3分；发生截留、挤占、挪用、虚列支出，扣6分）" in text
    assert "专项资金纳入预算管理得2.5分" in text
    assert "加减分项：获得市级以上表彰加2分。加减分前得分85.5分，加减分后总分87.5分。" in text
    appendix = [r for r in rows if "专项资金纳入预算管理" in r and "|" in r or "获得市级以上表彰" in r and "+2" in r]
    assert any("3项" in r and "2.5" in r for r in appendix), appendix
    assert any("+2" in r for r in appendix), appendix


def test_the_clerk_is_told_each_rule_in_the_template(county_run: tuple[Path, Path, dict]) -> None:
    template, _, _ = county_run
    wb = openpyxl.load_workbook(template)
    help_text = "\n".join(" | ".join(str(c) for c in row if c) for row in wb["填表说明"].iter_rows(values_only=True))
    assert "③发生截留、挤占、挪用、虚列支出（选“是”扣6分）" in help_text  # the penalty item
    assert "未纳入预算的专项个数大于0时为未纳入预算的专项个数，否则为0" in help_text  # the conditional formula
    assert "每出现1项扣2.5分" in help_text and "%" not in help_text.split("每出现1项扣2.5分")[0][-20:]
    assert "加分项，最多加2分" in help_text and "最高100分" in help_text
    names = set(wb.defined_names.keys()) if hasattr(wb.defined_names, "keys") else {n.name for n in wb.defined_names.definedName}
    assert {"unbudgeted_projects", "award", "ded_regulation", "ded_approval", "ded_misuse"} <= names


def test_results_with_adjustments_satisfy_the_schema(county_run: tuple[Path, Path, dict]) -> None:
    import jsonschema

    _, out, _ = county_run
    schema = json.loads((Path(__file__).parent.parent / "docs" / "results.schema.json").read_text("utf-8"))
    jsonschema.validate(json.loads((out / "results.json").read_text("utf-8")), schema)
