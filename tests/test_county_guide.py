"""Issue 14 end to end, with the scheme of the README's county guide (tests/schemes/county-guide.yaml):
added fields, a relabelled and an optional built-in field, a 三公明细 table summed in a check, and a
custom outline — `jixiao template` → filled with openpyxl through defined names and the table name →
`jixiao run` → a report with every part in order."""
from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from tests import builders as B
from tests import readback
from toolkit.cli import main

SCHEME = Path(__file__).parent / "schemes" / "county-guide.yaml"


def _fill(template: Path, out: Path, amounts: list[float], **values: object) -> Path:
    rows = [{"项目": "公务用车" if i % 2 else "公务接待", "本年支出金额": a} for i, a in enumerate(amounts, start=1)]
    return B.fill_seed(template, out, drop=("region",), tables={"sangong_items": rows},  # region: optional here
                       budget_code="412001-2023", eval_method="单位自评", eval_agency="本单位绩效自评小组",
                       perf_goal="全面完成年度政务服务目标，群众满意度保持在95%以上。", **values)


@pytest.fixture(scope="module")
def guide_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    d = tmp_path_factory.mktemp("guide")
    template = B.cli_template(SCHEME, d / "tpl")
    inbox = d / "inbox"
    inbox.mkdir()
    _fill(template, inbox / "相符.xlsx", [1.85, 1.0])  # 1.85 + 1.00 = 2.85 = sangong_actual
    _fill(template, inbox / "不符.xlsx", [1.85, 1.5], unit_name="示例县另一单位", unit_code="412099")
    CliRunner().invoke(main, ["run", str(inbox), "-o", str(d / "out"), "--scheme", str(SCHEME), "--jobs", "1"])
    units = {u["file"]: u for u in json.loads((d / "out" / "results.json").read_text("utf-8"))["units"]}
    return template, d / "out", units


def test_the_template_shows_the_scheme_s_fields_labels_and_table(guide_run: tuple[Path, Path, dict]) -> None:
    template, _, _ = guide_run
    wb = openpyxl.load_workbook(template)
    names = set(wb.defined_names.keys())
    assert {"budget_code", "eval_method", "eval_agency", "perf_goal"} <= names
    texts = {str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value}
    assert any("本年调整预算数" in t for t in texts)  # relabelled
    assert any(t.startswith("*") and "预算编码" in t for t in texts)  # an added required field has its *
    assert not any(t.startswith("*") and "所属地区" in t for t in texts)  # made optional: no *
    assert any("sangong_items" in ws.tables for ws in wb.worksheets)


def test_the_table_sum_is_checked(guide_run: tuple[Path, Path, dict]) -> None:
    _, _, units = guide_run
    ok, bad = units["相符.xlsx"], units["不符.xlsx"]
    assert ok["status"] == "ok", ok["problems"]
    assert ok["total"] == 99.0
    [p] = [p for p in bad["problems"] if p["code"] == "check_failed"]
    assert "三公经费明细合计 3.35 万元与三公经费实际支出数 2.85 万元不一致" in p["message"]
    assert not any(p["code"] == "required" and p["field"] == "region" for p in ok["problems"])


def test_the_report_has_every_part_of_the_outline_in_order(guide_run: tuple[Path, Path, dict]) -> None:
    _, out, units = guide_run
    rows = readback.rows((out / units["相符.xlsx"]["report"]).read_bytes())
    order = ["预算编码：412001-2023", "评价方式：单位自评", "评价机构：本单位绩效自评小组",
             "得分为99分", "一、部门（单位）基本概况", "二、部门整体收支情况", "三、绩效目标",
             "全面完成年度政务服务目标", "四、绩效自评情况", "五、存在的问题", "六、改进措施",
             "附件：绩效评价指标评分表", "评价标准", "扣分原因"]
    at = [next((i for i, r in enumerate(rows) if s in r), -1) for s in order]
    assert -1 not in at, [s for s, i in zip(order, at, strict=True) if i == -1]
    assert at == sorted(at), list(zip(order, at, strict=True))
    assert not any(r.split("\t", 1)[0].startswith("Heading") and not r.split("\t", 1)[-1].strip() for r in rows)
