"""A mixed inbox (spec 06): department and project workbooks, one broken of each, in one ``jixiao run``.

The project samples are the committed ones (samples/data/project-*.yaml), written by the real template;
the run is the CLI's. Reruns are byte-identical wherever OUT is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from docx import Document

from tests.conftest import SAMPLES, default_scheme_samples
from toolkit.cli import main


def _project_samples() -> dict[str, dict[str, Any]]:
    out = {}
    for src in sorted((SAMPLES / "data").glob("project-*.yaml")):
        d = yaml.safe_load(src.read_text(encoding="utf-8"))
        out[d["sample_file"]] = d
    return out


PROJECTS = _project_samples()


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    d = tmp_path_factory.mktemp("mixed")
    inbox = d / "收件箱"
    (inbox / "项目").mkdir(parents=True)
    for p in default_scheme_samples():
        shutil.copy(p, inbox / p.name)
    for name in PROJECTS:
        shutil.copy(SAMPLES / name, inbox / "项目" / name)
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(d / "out"), "--jobs", "2"])
    assert r.exit_code == 1, r.output  # one broken workbook of each form
    results = json.loads((d / "out" / "results.json").read_text(encoding="utf-8"))
    return inbox, d / "out", results


def _units(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["file"]: u for u in results["units"]}


def test_each_workbook_is_recognised_by_its_meta(mixed: tuple[Path, Path, dict[str, Any]]) -> None:
    _, _, results = mixed
    units = _units(results)
    assert results["scheme"] == "jianghua-2023"  # the department workbooks' scheme
    for name, data in PROJECTS.items():
        u = units[f"项目/{name}"]
        assert u["form"] == "project" and u["scheme"] == data["scheme"]
        assert u["project_name"] == data["project_name"] and u["unit_name"] == data["unit_name"]
        assert u["status"] == data["expected"]["status"], u["problems"]
    for p in default_scheme_samples():
        assert units[p.name]["form"] == "dept"


def test_project_scores_match_the_samples_expected(mixed: tuple[Path, Path, dict[str, Any]]) -> None:
    _, out, results = mixed
    units = _units(results)
    for name, data in PROJECTS.items():
        u, want = units[f"项目/{name}"], data["expected"]
        if want["status"] != "ok":
            assert u["total"] is None and u["returned"] and (out / u["returned"]).is_file()
            continue
        assert u["total"] == want["total"] and u["grade"] == want["grade"]
        assert u["execution_rate"] == want["execution_rate"]
        assert u["indicators"][0]["id"] == "execution"
        assert len(u["indicators"]) == 1 + len(data["project_indicators"])
        assert round(sum(i["score"] for i in u["indicators"]), 2) == want["total"]
        report = out / u["report"]
        assert report.name == f"{data['unit_name']}{data['project_name']}{data['fiscal_year']}年度项目支出绩效自评表.docx"
        text = "\n".join(c.text for t in Document(str(report)).tables for row in t.rows for c in row.cells)
        assert data["project_name"] in text and f"{want['total']:g}" in text


def test_broken_project_is_returned_with_the_fund_cells_marked(mixed: tuple[Path, Path, dict[str, Any]]) -> None:
    _, out, results = mixed
    broken = [u for u in results["units"] if u.get("form") == "project" and u["status"] == "invalid"]
    assert len(broken) == 1
    u = broken[0]
    fund = [p for p in u["problems"] if p["code"] == "check_failed"]
    assert fund and len(fund[0]["cells"]) == 4
    wb = openpyxl.load_workbook(out / u["returned"])
    assert wb.sheetnames[0] == "问题清单"
    ws = wb["项目自评表"]
    marked = [c for c in fund[0]["cells"] if ws[c.split("!")[1]].comment is not None]
    assert len(marked) == 4


def test_summary_has_the_project_sheet(mixed: tuple[Path, Path, dict[str, Any]]) -> None:
    _, out, results = mixed
    wb = openpyxl.load_workbook(out / "汇总表.xlsx")
    assert "项目汇总" in wb.sheetnames
    ws = wb["项目汇总"]
    text = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    for data in PROJECTS.values():
        assert data["project_name"] in text


def test_rerun_is_byte_identical(mixed: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    inbox, out, _ = mixed
    other = tmp_path / "另一处" / "结果"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(other), "--jobs", "1"])
    assert r.exit_code == 1, r.output
    assert _hashes(other) == _hashes(out)


OUTLINE_WITH_PROJECTS = """\
extends: jianghua-2023
id: county-projects
title: 某县部门整体支出绩效评价指标体系（列出项目）
report:
  headings: {problems: 六、存在的问题, plans: 七、后续的工作计划}
  projects_intro: 本单位{fiscal_year}年度共对{count}个项目开展了绩效自评，{scored}个审核合格，平均得分{average}分。
  outline:
    - title
    - opening
    - overview
    - money
    - execution
    - performance
    - {heading: 五、项目支出绩效自评情况, block: projects}
    - problems
    - plans
    - signature
    - appendix
"""


def test_a_scheme_outline_lists_the_units_projects(tmp_path: Path) -> None:
    """block: projects (spec 06 / 08.5): the department report lists the unit's project forms of the run."""
    scheme = tmp_path / "county.yaml"
    scheme.write_text(OUTLINE_WITH_PROJECTS, encoding="utf-8")
    inbox = tmp_path / "收件箱"
    inbox.mkdir()
    for p in default_scheme_samples():
        shutil.copy(p, inbox / p.name)
    for name, data in PROJECTS.items():
        if data["unit_name"] != "江华瑶族自治县教育局":  # 教育局 sends no project form this time
            shutil.copy(SAMPLES / name, inbox / name)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out), "--scheme", str(scheme), "--jobs", "2"])
    assert r.exit_code == 1, r.output
    units = _units(json.loads((out / "results.json").read_text(encoding="utf-8")))

    def body(file: str) -> str:
        return "\n".join([p.text for p in Document(str(out / units[file]["report"])).paragraphs]
                         + [c.text for t in Document(str(out / units[file]["report"])).tables
                            for row in t.rows for c in row.cells])

    forestry = body("江华瑶族自治县林业局.xlsx")
    assert "五、项目支出绩效自评情况" in forestry and "六、存在的问题" in forestry
    assert "本单位2023年度共对1个项目开展了绩效自评，1个审核合格，平均得分95.65分。" in forestry
    assert "森林防火能力提升项目" in forestry and "94.18%" in forestry and "113.02" in forestry
    service = body("江华瑶族自治县政务服务中心.xlsx")  # its one project form was returned
    assert "政务服务一网通办建设项目" in service and "退回修改" in service
    assert "共对1个项目开展了绩效自评，项目自评表均已退回修改，尚无得分：" in service
    # a unit without project forms in the run: the block is left out with its heading
    education = body("江华瑶族自治县教育局.xlsx")
    assert "项目支出绩效自评情况" not in education
