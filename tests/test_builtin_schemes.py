"""The built-in schemes beyond Jianghua (issue 14, build item 3): chongqing-2021 (预算执行 10 + an
indicator grid with 得分系数) and hunan-prefecture-2018 (投入 15, a cover page, a key–value 基本概况).
Each sample workbook is run by ``jixiao run`` with the scheme its _meta names; its literal scores
and its report's outline are checked."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from tests import readback
from toolkit.cli import main
from toolkit.rules.loader import load_scheme
from toolkit.rules.types.table import perf_table

ROOT = Path(__file__).resolve().parent.parent
CHONGQING = ROOT / "samples" / "重庆市渝北区农业农村委员会.xlsx"
HUNAN = ROOT / "samples" / "岳阳市生态环境局.xlsx"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    inbox = tmp_path_factory.mktemp("inbox")
    for p in (CHONGQING, HUNAN):
        shutil.copy(p, inbox / p.name)
    out = tmp_path_factory.mktemp("out")
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out)])
    assert r.exit_code == 0, r.output
    units = json.loads((out / "results.json").read_text(encoding="utf-8"))["units"]
    return out, {u["file"]: u for u in units}


def report_texts(out: Path, unit: dict[str, Any]) -> list[str]:
    rows = readback.rows((out / unit["report"]).read_bytes())
    return [r.split("\t", 1)[1] if "\t" in r else r for r in rows]


def in_order(texts: list[str], marks: list[str]) -> list[int]:
    at = [next((i for i, t in enumerate(texts) if m in t), -1) for m in marks]
    assert -1 not in at, [m for m, i in zip(marks, at, strict=True) if i < 0]
    assert at == sorted(at), list(zip(marks, at, strict=True))
    return at


# --------------------------------------------------------------------------- the schemes themselves
@pytest.mark.parametrize(("sid", "levels"), [
    ("chongqing-2021", {"预算执行": 10, "产出指标": 50, "效益指标": 30, "满意度指标": 10}),
    ("hunan-prefecture-2018", {"投入": 15, "过程": 35, "产出": 25, "效益": 25}),
])
def test_the_level_points_add_up_to_100(sid: str, levels: dict[str, int]) -> None:
    s = load_scheme(sid)
    assert {n.name: n.points for n in s.levels} == {k: Decimal(v) for k, v in levels.items()}
    assert s.total == 100


def test_chongqing_grid_has_the_coefficient_column_and_mof_weights() -> None:
    s = load_scheme("chongqing-2021")
    assert s.indicator_groups == {"产出指标": 50, "效益指标": 30, "满意度指标": 10}
    keys = [c.key for c in perf_table(s).columns]
    assert "coefficient" in keys and "target_adjusted" not in keys
    assert "coefficient" not in [c.key for c in perf_table(load_scheme("hunan-prefecture-2018")).columns]


def test_hunan_adds_the_cover_fields_and_drops_the_building_indicators() -> None:
    from toolkit.rules import inputs

    s = load_scheme("hunan-prefecture-2018")
    fields = {f.key: f for f in inputs.all_fields(s)}
    assert {k: fields[k].label for k in ("budget_code", "eval_method", "eval_agency")} == {
        "budget_code": "预算编码", "eval_method": "评价方式", "eval_agency": "评价机构"}
    ids = {n.id for n in s.nodes()}
    assert {"goal_quality", "duty", "outputs", "hn_effects", "hn_satisfaction"} <= ids
    assert not ids & {"building_area", "building_invest", "effects", "satisfaction"}


# --------------------------------------------------------------------------- the samples, run
def test_chongqing_sample_scores(run: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    _, units = run
    u = units[CHONGQING.name]
    assert u["scheme"] == "chongqing-2021" and u["status"] == "ok" and u["problems"] == []
    assert u["total"] == 94.5 and u["grade"] == "优"
    assert u["levels"] == {"预算执行": 9.0, "产出指标": 47.0, "效益指标": 28.5, "满意度指标": 10.0}
    # 执行率 2520 / 2800 = 90% → 9; 产出 15 + 9 + 10×80% + 10 + 5; 效益 9.5 + 10 + 10×90% (定性 达成)
    assert {i["id"]: i["score"] for i in u["indicators"]} == {
        "execution_rate": 9.0, "outputs": 47.0, "effects": 28.5, "satisfaction": 10.0}


def test_hunan_sample_scores(run: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    _, units = run
    u = units[HUNAN.name]
    assert u["scheme"] == "hunan-prefecture-2018" and u["status"] == "ok" and u["problems"] == []
    assert u["total"] == 91.66 and u["grade"] == "优"
    assert u["levels"] == {"投入": 13.0, "过程": 31.7, "产出": 23.9, "效益": 23.06}
    assert {i["id"]: i["score"] for i in u["indicators"]} == {
        "staff_control": 5.0, "sangong_change": 5.0, "goal_quality": 3.0,          # 45/46; −5%; one 否 (2)
        "budget_completion": 5.0, "budget_control": 4.0,                          # 95.17% (< one step); 8%
        "procurement": 5.7, "mgmt_system": 8.0, "fund_compliance": 6.0, "disclosure": 3.0,
        "duty": 9.0, "outputs": 14.9, "hn_effects": 13.5, "hn_satisfaction": 9.56}  # 86% / 90% × 10


def test_chongqing_report_names_the_coefficients(run: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    out, units = run
    t = report_texts(out, units[CHONGQING.name])
    in_order(t, ["根据重庆市部门整体支出绩效自评指标体系，我单位2023年度自评得分为94.5分，等级为优",
                 "1. 预算执行10分", "预算执行率90%，得9分", "2. 产出指标50分",
                 "农田建设项目验收合格率≥95%，实际完成98%，得8分（按得分系数80%计分）",
                 "3. 效益指标30分", "实际完成情况为达成，得9分（按得分系数90%计分）", "4. 满意度指标10分",
                 "附件：部门整体支出绩效自评表", "| 总分 | 100 | 94.5 | 评价等级：优 |"])


def test_hunan_report_has_the_outline_parts_in_order(run: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    out, units = run
    t = report_texts(out, units[HUNAN.name])
    cover = ["部门名称：岳阳市生态环境局", "预算编码：505001", "评价方式：单位自评",
             "评价机构：岳阳市生态环境局绩效评价工作小组", "报告日期：2024年4月20日", "岳阳市财政局（制）"]
    at = in_order(t, [
        *cover, "岳阳市2023年度生态环境局\\n整体绩效评价报告",  # two lines: it does not fit one
        "一、部门（单位）基本概况", "| 单位名称 | 岳阳市生态环境局 |", "| 预算编码 | 505001 |",
        "| 核定人员编制数 | 46 |", "二、部门整体收支情况", "三、绩效评价情况",
        "根据湖南省市州部门整体支出绩效评价指标体系，我单位2023年度评价得分为91.66分，等级为优",
        "1. 投入15分", "2. 过程35分", "3. 产出25分", "4. 效益25分", "四、存在的问题", "五、改进措施",
        "附件：部门整体支出绩效评价指标评分表", "| 一级指标 | 二级指标 | 三级指标 | 评价标准 | 分值 | 得分 | 扣分原因 |",
        "| 总分 | 100 | 91.66 | 评价等级：优 |"])
    assert at[len(cover) - 1] < at[len(cover)]  # the cover comes before the report's own title
    assert "| 〃 | 〃 | 环境信访办结率 | ≥98% | 5 | 4.9 | 少数跨区域信访件需多部门会商，年末仍在办理。 |" in t
    assert not any(x in "".join(t) for x in ("楼堂馆所", "{", "}"))


def test_a_blank_cover_field_is_left_off_the_cover(tmp_path: Path) -> None:
    # the sample with 评价方式 and 评价机构 cleared through their defined names (optional fields)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    wb = openpyxl.load_workbook(HUNAN)
    for name in ("eval_method", "eval_agency"):
        sheet, ref = next(iter(wb.defined_names[name].destinations))
        wb[sheet][ref.replace("$", "")] = None
    wb.save(inbox / HUNAN.name)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out)])
    u = json.loads((out / "results.json").read_text(encoding="utf-8"))["units"][0]
    assert u["scheme"] == "hunan-prefecture-2018" and u["status"] == "ok", (r.output, u["problems"])
    assert u["total"] == 91.66
    t = report_texts(out, u)
    in_order(t, ["部门名称：岳阳市生态环境局", "预算编码：505001", "报告日期：2024年4月20日", "岳阳市财政局（制）"])
    assert not any(x.startswith(("评价方式", "评价机构")) for x in t)
