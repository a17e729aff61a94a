"""The filled 项目支出绩效自评表 (.docx): project workbooks built with openpyxl (defined names + the
project_indicators table), checked and scored by the real pipeline, written, and read back cell by
cell with python-docx; LibreOffice renders it to one or two A4 pages."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.table import Table

from tests import readback
from toolkit import fields as F
from toolkit.check.validate import check_file
from toolkit.model import Scorecard, Submission
from toolkit.rules.model import Scheme
from toolkit.rules.scoring import score
from toolkit.write.project_report import build_project_report, project_report_file_name
from toolkit.write.project_table import fit

# --------------------------------------------------------------------------- a project workbook

BASE: dict[str, Any] = {
    "project_name": "农村道路养护", "dept_name": "县交通运输局", "unit_name": "县公路中心", "fiscal_year": 2023,
    "fund_total_initial": 100, "fund_fiscal_initial": 100,
    "fund_total_full": 120, "fund_fiscal_full": 100, "fund_carryover_full": 20,
    "fund_total_spent": 113.02, "fund_fiscal_spent": 100, "fund_carryover_spent": 13.02,
    "goal_expected": "养护农村公路100公里，\n路况优良率达到85%以上。", "goal_actual": "养护农村公路98公里，路况优良率86%。",
    "project_leader": "李明", "finance_leader": "王芳", "contact_name": "张伟", "contact_phone": "0746-7221234",
    "contact_email": "glzx@example.cn", "report_date": "2024-04-30",
}
# 一级, 二级, 三级, 年度指标值, 实际完成值, 计量单位, 分值, 自评得分, 偏差原因
Line = tuple[str, str, str, Any, Any, str | None, float, float | None, str | None]
THREE: list[Line] = [
    ("产出指标", "数量指标", "养护里程", "≥100", 98, "公里", 50, None, "雨季影响，\n部分路段顺延"),
    ("效益指标", "社会效益", "通行条件", "有效改善", "达成", None, 30, None, None),
    ("满意度指标", "服务对象满意度", "群众满意度", "≥90%", "95%", None, 10, None, None),
]


def write_project(path: Path, values: dict[str, Any], lines: list[Line],
                  scheme_id: str = "mof-project-2020") -> Path:
    """A project workbook filled only through defined names and the table name (no template)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = F.SHEET_PROJECT
    for r, f in enumerate(F.PROJECT_FIELDS, 1):
        ws.cell(r, 1, f.label)
        ws.cell(r, 2, values.get(f.key))
        wb.defined_names[f.key] = DefinedName(f.key, attr_text=f"'{F.SHEET_PROJECT}'!$B${r}")
    top = len(F.PROJECT_FIELDS) + 2
    headers = [c.header for c in F.PROJECT_INDICATORS.columns]
    for i, h in enumerate(headers, 1):
        ws.cell(top, i, h)
    for j, line in enumerate(lines, 1):
        for i, v in enumerate(line, 1):
            ws.cell(top + j, i, v)
    ref = f"A{top}:{get_column_letter(len(headers))}{top + max(len(lines), 1)}"
    ws.add_table(Table(displayName=F.PROJECT_INDICATORS.name, ref=ref))
    meta = wb.create_sheet("_meta")
    for row in (["template_id", F.PROJECT_TEMPLATE_ID], ["template_version", 1], ["scheme_id", scheme_id]):
        meta.append(row)
    wb.save(path)
    return path


def scored(tmp: Path, values: dict[str, Any] | None = None, lines: list[Line] | None = None,
           scheme_id: str = "mof-project-2020") -> tuple[Scheme, Submission, Scorecard]:
    path = write_project(tmp / "p.xlsx", values or BASE, THREE if lines is None else lines, scheme_id)
    fc = check_file(path, path.name)
    assert fc.submission is not None and not fc.errors, fc.problems
    assert fc.scheme.id == scheme_id
    return fc.scheme, fc.submission, score(fc.scheme, fc.submission)


def docx_rows(tmp: Path, **kw: Any) -> list[str]:
    return readback.rows(build_project_report(*scored(tmp, **kw)))



def cells(rows: list[str]) -> list[list[str]]:
    return [[c.strip() for c in r[2:-2].split(" | ")] for r in rows if r.startswith("| ")]


def find(rows: list[str], *start: str) -> list[str]:
    """The table row whose cells begin with ``start`` (after the merged 〃 of the block label)."""
    for r in cells(rows):
        body = r[1:] if r[0] == readback.MERGED else r
        if tuple(body[:len(start)]) == start:
            return body
    raise AssertionError(f"no row {start} in:\n" + "\n".join(rows))


# --------------------------------------------------------------------------- typed and computed cells
def test_header_money_and_goals(tmp_path: Path) -> None:
    rows = docx_rows(tmp_path)
    assert rows[:2] == ["Title\t项目支出绩效自评表", "Normal\t（2023年度）"]
    assert find(rows, "项目名称") == ["项目名称", "农村道路养护"]
    assert find(rows, "主管部门") == ["主管部门", "县交通运输局", "实施单位", "县公路中心"]
    assert find(rows, "项目资金（万元）") == ["项目资金（万元）", "", "年初预算数", "全年预算数", "全年执行数",
                                         "分值", "执行率", "得分"]
    # 执行率 113.02 / 120 = 94.18% → 10 × 94.18% = 9.42, merged down the money block
    assert find(rows, "年度资金总额") == ["年度资金总额", "100.00", "120.00", "113.02", "10", "94.18%", "9.42"]
    assert find(rows, "其中：本年财政拨款") == ["其中：本年财政拨款", "100.00", "100.00", "100.00", "〃", "〃", "〃"]
    assert find(rows, "上年结转资金") == ["上年结转资金", "0.00", "20.00", "13.02", "〃", "〃", "〃"]
    assert find(rows, "其他资金") == ["其他资金", "0.00", "0.00", "0.00", "〃", "〃", "〃"]
    # the pasted line break after “，” is joined
    assert find(rows, "养护农村公路100公里，路况优良率达到85%以上。") == [
        "养护农村公路100公里，路况优良率达到85%以上。", "养护农村公路98公里，路况优良率86%。"]


# 一级, 二级, 三级, 年度指标值, 实际完成值, 计量单位, 分值, 自评得分, 偏差原因 → the row as the form shows it
INDICATOR_CASES: list[tuple[str, Line, list[str]]] = [
    ("≥ below target: 98/100 × 40", ("产出指标", "数量指标", "养护里程", "≥100", 98, "公里", 40, None, "雨季影响，\n部分路段顺延"),
     ["产出指标", "数量指标", "养护里程", "≥100公里", "98公里", "40", "39.2", "雨季影响，部分路段顺延"]),
    ("≤ above target: 1.5/1.62 × 10", ("产出指标", "成本指标", "单位养护成本", "≤1.5", 1.62, "万元/公里", 10, None, None),
     ["产出指标", "成本指标", "单位养护成本", "≤1.5万元/公里", "1.62万元/公里", "10", "9.26", ""]),
    ("定性 without 自评得分: 部分达成 = 70%", ("效益指标", "社会效益", "通行条件", "有效改善", "部分达成", None, 20, None, None),
     ["效益指标", "社会效益", "通行条件", "有效改善", "部分达成", "20", "14", ""]),
    ("定性 with 自评得分 6.5", ("效益指标", "经济效益", "群众出行", "明显改善", "部分达成", None, 10, 6.5, None),
     ["效益指标", "经济效益", "群众出行", "明显改善", "部分达成", "10", "6.5", ""]),
    ("≥ percentage above target", ("满意度指标", "服务对象满意度", "群众满意度", "≥90%", "95%", None, 10, None, None),
     ["满意度指标", "服务对象满意度", "群众满意度", "≥90%", "95%", "10", "10", ""]),
    ("区间 typed 1-7", ("产出指标", "时效指标", "处置时限", "1-7", 5, "天", 10, None, None),
     ["产出指标", "时效指标", "处置时限", "1～7天", "5天", "10", "10", ""]),
]


# one complete workbook (产出 50 · 效益 30 · 满意度 10), the case's line in place of the one at its index
FIVE = [c[1] for c in INDICATOR_CASES[:5]]
AT = {c[0]: (i if i < 5 else 1) for i, c in enumerate(INDICATOR_CASES)}


@pytest.mark.parametrize(("case", "line", "shown"), INDICATOR_CASES, ids=[c[0] for c in INDICATOR_CASES])
def test_indicator_row(tmp_path: Path, case: str, line: Line, shown: list[str]) -> None:
    lines = list(FIVE)
    lines[AT[case]] = line
    rows = docx_rows(tmp_path, lines=lines)
    got = find(rows, "〃", *shown[1:3]) if AT[case] in (1, 3) else find(rows, *shown[:3])
    assert got[3:] == shown[3:]


def test_equal_levels_merge_down_and_total(tmp_path: Path) -> None:
    rows = docx_rows(tmp_path, lines=FIVE)
    body = [r[1:] for r in cells(rows) if r[0] == readback.MERGED and len(r) == 9]
    names = [(r[0], r[1], r[2]) for r in body]
    assert names == [("产出指标", "数量指标", "养护里程"), ("〃", "成本指标", "单位养护成本"),
                     ("效益指标", "社会效益", "通行条件"), ("〃", "经济效益", "群众出行"),
                     ("满意度指标", "服务对象满意度", "群众满意度")]
    # 9.42 + 39.2 + 9.26 + 14 + 6.5 + 10 = 88.38 → 良
    assert find(rows, "总分") == ["总分", "100", "88.38", "自评等级：良"]


def test_clean_text_no_none_no_doubled_punctuation(tmp_path: Path) -> None:
    values = dict(BASE, goal_actual="完成养护98公里，\n\n路况优良率86%，", contact_phone=None, project_leader=None)
    data = build_project_report(*scored(tmp_path, values))
    text = readback.text(data)
    assert "None" not in text and "，。" not in text
    rows = readback.rows(data)
    assert find(rows, "养护农村公路100公里，路况优良率达到85%以上。")[1] == "完成养护98公里。路况优良率86%。"
    assert "表格文字\t财务负责人：王芳　　联系人及电话：张伟" in rows
    assert "表格文字\t填报日期：2024年4月30日" in rows


# --------------------------------------------------------------------------- both schemes
def test_mof_scheme_has_no_closing_rows(tmp_path: Path) -> None:
    text = readback.text(build_project_report(*scored(tmp_path)))
    assert "评价结论" not in text and "存在的问题" not in text and "改进措施" not in text.replace("偏差原因分析及改进措施", "")


def test_sichuan_scheme_closing_rows(tmp_path: Path) -> None:
    values = dict(BASE, conclusion="项目总体完成较好，\n资金使用规范", problems_text="1.执行进度偏慢，\n年底集中支付；\n2.指标不够细化",
                  measures="加快执行进度，细化绩效指标。")
    lines = [THREE[0][:6] + (50,) + THREE[0][7:], THREE[1], THREE[2]]
    scheme, sub, card = scored(tmp_path, values, lines, "sichuan-project-2022")
    rows = readback.rows(build_project_report(scheme, sub, card))
    assert find(rows, "评价结论") == ["评价结论", "项目总体完成较好，资金使用规范"]
    assert find(rows, "存在的问题") == ["存在的问题", "1.执行进度偏慢，年底集中支付。2.指标不够细化"]
    assert find(rows, "改进措施") == ["改进措施", "加快执行进度，细化绩效指标。"]
    assert find(rows, "总分") == ["总分", "100", "98.42", "自评等级：优"]  # 9.42 + 49 + 30 + 10


# --------------------------------------------------------------------------- the file
FILE_NAMES = [
    ({}, "县公路中心农村道路养护2023年度项目支出绩效自评表.docx"),
    ({"project_name": "道路/养护*一期?"}, "县公路中心道路养护一期2023年度项目支出绩效自评表.docx"),
]


@pytest.mark.parametrize(("change", "name"), FILE_NAMES)
def test_file_name(tmp_path: Path, change: dict[str, Any], name: str) -> None:
    _, sub, _ = scored(tmp_path, dict(BASE, **change))
    assert project_report_file_name(sub) == name


def test_same_bytes_twice_and_fixed_dates(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = build_project_report(*scored(tmp_path / "a"))
    assert first == build_project_report(*scored(tmp_path / "b"))
    core = zipfile.ZipFile(io.BytesIO(first)).read("docProps/core.xml").decode()
    assert "2024-04-30T00:00:00Z" in core and "农村道路养护项目支出绩效自评表" in core


def test_fonts_from_the_scheme(tmp_path: Path) -> None:
    scheme, sub, card = scored(tmp_path)
    default = zipfile.ZipFile(io.BytesIO(build_project_report(scheme, sub, card))).read("word/styles.xml").decode()
    assert 'w:eastAsia="方正小标宋简体"' in default and 'w:eastAsia="仿宋_GB2312"' in default
    own = dataclasses.replace(scheme, report={"fonts": {"title": "黑体", "table": "仿宋"}})
    styles = zipfile.ZipFile(io.BytesIO(build_project_report(own, sub, card))).read("word/styles.xml").decode()
    assert "方正小标宋简体" not in styles and 'w:eastAsia="仿宋"' in styles


def test_short_labels_never_leave_one_character_alone() -> None:
    assert fit("服务对象满意度", 15) == "服务对\n象满\n意度"
    assert fit("年度指标值", 19) == "年度指\n标值"
    assert fit("满意度指标", 15) == "满意度指标"  # wraps 3 + 2 by itself
    assert fit("≥3000人次", 15) == "≥3000人次"  # numbers are never broken by hand


# --------------------------------------------------------------------------- as printed
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")
LONG = "受汛期强降雨影响，部分路段养护作业延期至次年一季度完成，下一步将加强项目进度管理，提前谋划雨季施工安排。"
NOTE = "受汛期强降雨影响，部分路段养护作业延期至次年一季度完成。"
SECOND_LEVELS = [("产出指标", "数量指标"), ("产出指标", "数量指标"), ("产出指标", "质量指标"), ("产出指标", "质量指标"),
                 ("产出指标", "时效指标"), ("产出指标", "成本指标"), ("产出指标", "成本指标"), ("效益指标", "经济效益"),
                 ("效益指标", "社会效益"), ("效益指标", "社会效益"), ("效益指标", "生态效益"), ("效益指标", "可持续影响"),
                 ("满意度指标", "服务对象满意度"), ("满意度指标", "服务对象满意度"), ("满意度指标", "服务对象满意度")]
POINTS = [8, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 4, 3, 3]
FIFTEEN: list[Line] = [(a, b, f"农村公路养护第{i + 1}项指标", "≥3000", 2900, "人次", p, None, NOTE if i % 4 == 0 else None)
                       for i, ((a, b), p) in enumerate(zip(SECOND_LEVELS, POINTS, strict=True))]


def _pdf(tmp: Path, data: bytes) -> tuple[int, str, str]:
    docx = tmp / "form.docx"
    docx.write_bytes(data)
    subprocess.run([str(SOFFICE), f"-env:UserInstallation={(tmp / 'profile').as_uri()}", "--headless",
                    "--norestore", "--convert-to", "pdf", "--outdir", str(tmp), str(docx)],
                   check=True, capture_output=True, timeout=120)
    info = subprocess.run(["pdfinfo", str(tmp / "form.pdf")], check=True, capture_output=True, text=True).stdout
    text = subprocess.run(["pdftotext", str(tmp / "form.pdf"), "-"], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1)), info, re.sub(r"\s+", "", text)  # type: ignore[union-attr]


KEEP = Path(os.environ["JIXIAO_KEEP_RENDER"]) if os.environ.get("JIXIAO_KEEP_RENDER") else None
RENDER_CASES = [
    ("three rows", "mof-project-2020", BASE, THREE, 1, "98.42"),
    ("fifteen rows, long texts", "sichuan-project-2022",
     dict(BASE, goal_expected=LONG * 2, goal_actual=LONG * 2, conclusion=LONG, problems_text=LONG, measures=LONG),
     FIFTEEN, 2, "96.44"),
]


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-writer")
@pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo) is not installed")
@pytest.mark.parametrize(("scheme_id", "values", "lines", "pages", "total"), [c[1:] for c in RENDER_CASES],
                         ids=[c[0] for c in RENDER_CASES])
def test_renders_on_one_or_two_a4_pages(tmp_path: Path, scheme_id: str, values: dict[str, Any], lines: list[Line],
                                        pages: int, total: str) -> None:
    (tmp_path / "wb").mkdir()
    scheme, sub, card = scored(tmp_path / "wb", values, lines, scheme_id)
    assert f"{card.total:f}".rstrip("0").rstrip(".") == total
    data = build_project_report(scheme, sub, card)
    if KEEP:
        (KEEP / f"{scheme_id}-{len(lines)}.docx").write_bytes(data)
    n, info, text = _pdf(tmp_path, data)
    assert n == pages
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info)
    assert "项目支出绩效自评表" in text and "总分" in text and f"100{total}自评等级" in text
