"""Project workbooks (spec 06, Outputs) in 汇总表, 汇总分析报告 and mail: built from UnitResults as a run
writes them (dept and project units mixed, several projects per unit, one invalid project, one
unreadable file), and read back from the real .xlsx / .docx / messages."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import docx
import jsonschema
import openpyxl
import pytest

from tests import test_mail as tm
from toolkit import analysis as an
from toolkit.deliver import mail
from toolkit.problems import Problem
from toolkit.results import IndicatorResult, Results, UnitResult
from toolkit.rules.loader import load_scheme
from toolkit.rules.model import Scheme
from toolkit.write.analysis_report import build_analysis
from toolkit.write.summary import build_summary_bytes
from toolkit.write.summary_projects import HEADERS, SHEET_PROJECTS, TOTAL_LABEL

YEAR = 2023
DEPT_LEVELS = {"投入": 18.0, "过程": 30.0, "产出": 25.0, "效果": 19.5}


@pytest.fixture(scope="module")
def mof() -> Scheme:
    return load_scheme("mof-2020")


def dept(name: str, code: str | None, total: float | None, grade: str | None = None, *, status: str = "ok",
         email: str = "a@example.com", problems: tuple[Problem, ...] = (), form: bool = True) -> UnitResult:
    ok = status == "ok"
    return UnitResult(
        file=f"{name}.xlsx", status=status,  # type: ignore[arg-type]
        unit_name=name, unit_code=code, fiscal_year=YEAR, contact_name="李华", contact_email=email,
        total=total, grade=grade, levels=DEPT_LEVELS if ok else None, indicators=() if ok else None,
        problems=problems,
        report=f"reports/{name}{YEAR}年度部门整体支出绩效自评报告.docx" if ok else None,
        returned=None if ok else f"returned/{name}.xlsx",
        extra={"scheme": "mof-2020", "form": "dept"} if form else {"scheme": "mof-2020"})


def project(unit: str, code: str | None, name: str, total: float | None, grade: str | None,
            full: float, spent: float, *, status: str = "ok", problems: tuple[Problem, ...] = (),
            email: str = "a@example.com") -> UnitResult:
    ok = status == "ok"
    rate = round(spent / full, 4)
    inds = (IndicatorResult("execution", ("预算执行率",), 10.0, rate, round(min(rate, 1) * 10, 2)),
            IndicatorResult("row1", ("产出指标", "数量指标", "完成量"), 50.0, 0.98, 49.0))
    stem = f"{unit}{name}{YEAR}年度项目支出绩效自评表"
    return UnitResult(
        file=f"项目/{unit}{name}.xlsx", status=status,  # type: ignore[arg-type]
        unit_name=unit, unit_code=code, fiscal_year=YEAR, contact_name="王芳", contact_email=email,
        total=total, grade=grade,
        levels={"预算执行率": round(min(rate, 1) * 10, 2), "产出指标": 49.0, "效益指标": 30.0, "满意度指标": 10.0}
        if ok else None,
        indicators=inds if ok else None, problems=problems,
        report=f"reports/{stem}.docx" if ok else None, returned=None if ok else f"returned/{unit}{name}.xlsx",
        extra={"scheme": "mof-project-2020", "form": "project", "project_name": name,
               "project_code": f"XM-{name}" if code else None, "dept_name": "县交通运输局",
               "execution_rate": rate, "fund_full": full, "fund_spent": spent})


FUND_ERROR = Problem("fund_identity", "error", "资金来源合计不等于各项之和", sheet="项目自评表", cell="E7",
                     cells=("项目自评表!E7", "项目自评表!E8"))
UNREADABLE = UnitResult(file="坏文件.xlsx", status="unreadable",
                        problems=(Problem("not_xlsx", "error", "无法读取：不是有效的 Excel 文件"),))


def mixed() -> list[UnitResult]:
    """Two valid departments, one invalid, one unreadable file; four projects of two units."""
    return [
        project("县公路中心", "430001", "桥梁检测", 80.0, "良", 50.0, 40.0),
        dept("县教育局", "430002", 85.0, "良"),
        project("县公路中心", "430001", "农村道路养护", 94.42, "优", 120.0, 113.016),
        dept("县公路中心", "430001", 92.5, "优"),
        project("县公路中心", "430001", "危桥改造", None, None, 80.0, 70.0, status="invalid",
                problems=(FUND_ERROR,)),
        UNREADABLE,
        project("县教育局", None, "学生资助", 88.0, "良", 200.0, 190.0),  # no code: matched by name
        dept("县卫健局", "430003", None, status="invalid", problems=(FUND_ERROR,)),
    ]


def sheet_rows(data: bytes, name: str) -> list[tuple[Any, ...]]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return [tuple(r) for r in wb[name].iter_rows(values_only=True)]


# ---------------------------------------------------------------------------------------------
# 汇总表


def test_department_ranking_and_statistics_leave_projects_out(mof: Scheme) -> None:
    data = build_summary_bytes(mixed(), mof)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["汇总", SHEET_PROJECTS, "得分明细", "问题清单", "统计"]
    rows = sheet_rows(data, "汇总")
    assert rows[1][0] == ("共 4 份：合格 2 份，退回修改 1 份，无法读取 1 份；另有项目支出绩效自评表 4 份"
                          "（见“项目汇总”）。评分方案：" + mof.title)
    head = list(rows[2])
    c_n, c_mean = head.index("项目数"), head.index("项目平均分")
    assert head[c_mean + 1] == "错误数"
    got = [(r[1], r[5], r[7], r[c_n], r[c_mean]) for r in rows[3:]]
    assert got == [
        ("县公路中心", 92.5, 1, 3, 87.21),  # (94.42 + 80) / 2: the invalid project counts, not averaged
        ("县教育局", 85.0, 2, 1, 88.0),
        ("县卫健局", None, None, 0, None),
        (None, None, None, 0, None),  # the unreadable file
    ]
    detail = sheet_rows(data, "得分明细")
    assert [r[1] for r in detail[3:]] == ["县公路中心", "县教育局"]
    stats = {r[0]: r[1] for r in sheet_rows(data, "统计") if r[0]}
    assert stats["合计"] == 4 and stats["合格"] == 2 and stats["单位数"] == 2 and stats["平均分"] == 88.75


def test_project_sheet_rows_total_line_and_links(mof: Scheme) -> None:
    data = build_summary_bytes(mixed(), mof)
    rows = sheet_rows(data, SHEET_PROJECTS)
    assert rows[0][0] == f"{YEAR}年度项目支出绩效自评汇总表"
    assert rows[1] == HEADERS
    body = [r[:11] for r in rows[2:6]]
    assert body == [
        (1, "县交通运输局", "县公路中心", "农村道路养护", "XM-农村道路养护", 120.0, 113.016, 0.9418, 94.42, "优", "合格"),
        (2, "县交通运输局", "县公路中心", "桥梁检测", "XM-桥梁检测", 50.0, 40.0, 0.8, 80.0, "良", "合格"),
        (3, "县交通运输局", "县公路中心", "危桥改造", "XM-危桥改造", 80.0, 70.0, 0.875, None, None, "退回修改"),
        (4, "县交通运输局", "县教育局", "学生资助", None, 200.0, 190.0, 0.95, 88.0, "良", "合格"),
    ]
    # the valid projects: 120 + 50 + 200; 113.016 + 40 + 190; 343.016 / 370; (94.42 + 80 + 88) / 3
    assert rows[6][0] == TOTAL_LABEL and rows[6][5:9] == (370.0, 343.02, 0.9271, 87.47)
    assert len(rows) == 7
    ws = openpyxl.load_workbook(io.BytesIO(data))[SHEET_PROJECTS]
    links = {c.row: (c.value, c.hyperlink.target.replace("\\", "/")) for c in ws["L"] if c.hyperlink}  # as in 汇总
    assert links[3] == ("打开报告", "reports/县公路中心农村道路养护2023年度项目支出绩效自评表.docx")
    assert links[5] == ("打开退回表", "returned/县公路中心危桥改造.xlsx")
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$2:$2"
    assert ws.auto_filter.ref == "A2:L6"


def test_project_problems_are_listed_like_department_ones(mof: Scheme) -> None:
    rows = sheet_rows(build_summary_bytes(mixed(), mof), "问题清单")
    files = [r[2] for r in rows[2:]]
    assert files == ["县卫健局.xlsx", "坏文件.xlsx", "项目/县公路中心危桥改造.xlsx"]
    assert rows[-1][3:6] == ("错误", "项目自评表", "E7") and rows[-1][6] == "项目自评表!E7、项目自评表!E8"


def test_project_only_run_writes_a_valid_summary(mof: Scheme) -> None:
    units = [u for u in mixed() if u.extra.get("form") == "project"]
    data = build_summary_bytes(units, mof)
    rows = sheet_rows(data, "汇总")
    assert len(rows) == 3 and rows[2][:3] == ("序号", "单位", "编码") and "项目数" in rows[2]
    assert rows[1][0].startswith("共 0 份：合格 0 份") and "另有项目支出绩效自评表 4 份" in rows[1][0]
    assert [r[3] for r in sheet_rows(data, SHEET_PROJECTS)[2:6]] == ["农村道路养护", "桥梁检测", "危桥改造", "学生资助"]


# sha256 of the 汇总表 of these department units as commit 5729972 wrote it (before project forms)
DEPT_ONLY_SHA256 = "7a60dd85171c09e3eed9953b755405eaf4235c3fd97c0840d5d6bd2ffe94ede7"


def test_a_department_only_summary_is_byte_identical_to_before(mof: Scheme) -> None:
    units = [u for u in mixed() if u.extra.get("form") != "project"]
    plain = [dept("县教育局", "430002", 85.0, "良", form=False), dept("县公路中心", "430001", 92.5, "优", form=False),
             UNREADABLE, dept("县卫健局", "430003", None, status="invalid", problems=(FUND_ERROR,), form=False)]
    data = build_summary_bytes(units, mof)
    assert data == build_summary_bytes(plain, mof)  # form "dept" or no form: the same workbook
    assert hashlib.sha256(data).hexdigest() == DEPT_ONLY_SHA256
    assert "项目数" not in sheet_rows(data, "汇总")[2]


# ---------------------------------------------------------------------------------------------
# Mail: one message per unit and address set, every workbook of the unit attached

smtp_server = tm.smtp_server  # the real SMTP server of the mail tests, on 127.0.0.1
GLZX, JYJ = "glzx@example.com", "jyj@example.com"
DUP = Problem("duplicate_older", "error", "与文件“项目/县公路中心桥梁检测（新）.xlsx”是同一项目的填报表，重复报送")


def mail_units() -> list[UnitResult]:
    email_of = {"县公路中心": GLZX, "县教育局": JYJ, "县卫健局": "wjj@example.com"}
    units = [replace(u, contact_email=email_of[u.unit_name]) if u.unit_name else u for u in mixed()]
    return units + [
        project("县教育局", "430002", "营养餐", 91.0, "优", 30.0, 30.0, email="yyc@example.com"),  # another address
        project("县公路中心", "430001", "桥梁检测（旧）", None, None, 50.0, 40.0, status="invalid",
                problems=(DUP,), email=GLZX),  # a duplicate: the officer's, never mailed
    ]


def write_results(out: Path, units: list[UnitResult]) -> Path:
    for u in units:
        for rel in (u.report, u.returned):
            if rel and not (out / rel).exists():
                (tm.write_docx if rel.endswith(".docx") else tm.write_xlsx)(out / rel, f"{u.unit_name} {rel}")
    (out / "results.json").write_text(json.dumps(Results("mof-2020", tuple(units)).to_json(), ensure_ascii=False),
                                      encoding="utf-8")
    return out


def test_one_message_per_unit_with_all_its_reports_and_returned_workbooks(tmp_path: Path,
                                                                          smtp_server: tm.Server) -> None:
    out = write_results(tmp_path / "out", mail_units())
    result = mail.send_all(out, tm.opts(smtp_server.port))
    assert result.tally() == "邮件：发送 4 封，跳过 0 封，失败 1 封，留给财政局处理 1 份"
    assert [ln.split("：")[0] for ln in result.lines()] == ["已发送", "已发送", "失败", "已发送", "已发送",
                                                           "未发送（留给财政局处理）"]  # at each unit's first file
    got = smtp_server.handler.by_to()
    assert sorted(got) == [GLZX, JYJ, "wjj@example.com", "yyc@example.com"]

    glzx = got[GLZX]
    assert glzx["Subject"] == "【绩效自评结果及退回修改】县公路中心2023年度绩效自评（通过 3 份，退回 1 份）"
    assert sorted(tm.attachments(glzx)) == sorted([
        "县公路中心2023年度部门整体支出绩效自评报告.docx",
        "县公路中心桥梁检测2023年度项目支出绩效自评表.docx",
        "县公路中心农村道路养护2023年度项目支出绩效自评表.docx",
        "县公路中心危桥改造.xlsx"])
    text = tm.body(glzx).replace("\r\n", "\n")
    assert "贵单位报送的2023年度绩效自评填报表共 4 份" in text
    assert "  1. 部门整体支出绩效自评表 → 92.5 分，优（附件：县公路中心2023年度部门整体支出绩效自评报告.docx）" in text
    assert "  2. 项目“桥梁检测” → 80 分，良（附件：县公路中心桥梁检测2023年度项目支出绩效自评表.docx）" in text
    assert "  3. 项目“农村道路养护” → 94.42 分，优" in text
    assert ("  1. 项目“危桥改造”（项目/县公路中心危桥改造.xlsx，附件：县公路中心危桥改造.xlsx）\n"
            "    （1）项目自评表!E7：资金来源合计不等于各项之和\n") in text
    assert "桥梁检测（旧）" not in text  # the duplicate stays with the officer

    jyj = got[JYJ]  # the project without a code joins its unit by name
    assert jyj["Subject"] == "【绩效自评结果】县教育局2023年度绩效自评报告（2 份）"
    assert len(tm.attachments(jyj)) == 2 and "项目“学生资助” → 88 分，良" in tm.body(jyj)
    assert list(tm.attachments(got["yyc@example.com"])) == ["县教育局营养餐2023年度项目支出绩效自评表.docx"]
    # a department workbook alone gets the message it always had
    assert got["wjj@example.com"]["Subject"] == "【请修改后重新报送】县卫健局2023年度绩效自评填报表"


def test_rerun_sends_nothing_and_a_changed_set_of_attachments_goes_again(tmp_path: Path,
                                                                         smtp_server: tm.Server) -> None:
    units = mail_units()
    out = write_results(tmp_path / "out", units)
    handler = smtp_server.handler
    mail.send_all(out, tm.opts(smtp_server.port))
    assert len(handler.messages) == 4
    again = mail.send_all(out, tm.opts(smtp_server.port))
    assert again.tally() == "邮件：发送 0 封，跳过 4 封，失败 1 封，留给财政局处理 1 份" and len(handler.messages) == 4

    # the unit corrected 危桥改造: the next run writes its report; the unit gets all its results again
    fixed = project("县公路中心", "430001", "危桥改造", 86.0, "良", 80.0, 70.0, email=GLZX)
    write_results(out, [fixed if u.extra.get("project_name") == "危桥改造" else u for u in units])
    changed = mail.send_all(out, tm.opts(smtp_server.port))
    assert changed.count("sent") == 1 and changed.count("skipped") == 3
    new = handler.parsed()[-1]
    assert new["To"].addresses[0].addr_spec == GLZX
    assert new["Subject"] == "【绩效自评结果】县公路中心2023年度绩效自评报告（4 份）"
    assert len(tm.attachments(new)) == 4 and "项目“危桥改造” → 86 分，良" in tm.body(new)
    log = [json.loads(x) for x in (out / "mail" / "sent.jsonl").read_text(encoding="utf-8").splitlines()]
    sent = [(e["unit"], e["to"], e["status"]) for e in log if e["state"] == "sent"]
    assert sent[-1] == ("430001/2023", GLZX, "ok") and sent.count(("430001/2023", GLZX, "mixed")) == 1


# ---------------------------------------------------------------------------------------------
# 汇总分析报告


def analysis_paras(units: list[UnitResult], scheme: Scheme) -> list[str]:
    doc = docx.Document(io.BytesIO(build_analysis(Results("mof-2020", tuple(units)), scheme)))
    return [p.text for p in doc.paragraphs if p.text.strip()]


def test_analysis_counts_departments_only_and_adds_the_project_section(mof: Scheme) -> None:
    units = [*mixed(), project("县教育局", "430002", "营养餐", 91.0, "优", 30.0, 30.0)]
    paras = analysis_paras(units, mof)
    # department statistics: the two valid department workbooks, never the projects
    assert "审核合格的2家单位平均得分88.75分，最高92.50分（县公路中心），最低85.00分（县教育局）。" in paras
    assert "按评价等级分：评价等级为“优”的1家，占50.00%；评价等级为“良”的1家，占50.00%。" in paras
    assert "本次共收到自评表9份，审核合格6份，退回修改2份，无法读取1份。" in paras
    assert "合格的自评表中，部门整体支出2份，项目支出4份。" in paras
    at = paras.index("（六）项目支出绩效自评情况")
    assert paras[at + 1:at + 7] == [
        "本次共收到项目支出绩效自评表5份，涉及2家单位；审核合格4份，退回修改1份，无法读取0份。",
        "审核合格的4个项目平均得分88.36分，最高94.42分，最低80.00分。",  # (80 + 94.42 + 88 + 91) / 4 = 88.355
        "按评价等级分：“优”2个，占50.00%；“良”2个，占50.00%。",
        "全年预算执行率低于90%的项目1个：",
        "1. 县公路中心—桥梁检测：执行率80.00%（预算50.00万元，执行40.00万元）。",
        paras[at + 6],
    ]
    assert not paras[at + 6].startswith("2.")
    ranking = an.ranking(Results("mof-2020", tuple(units)))
    assert list(ranking["unit_name"]) == ["县公路中心", "县教育局"]


def test_analysis_without_projects_has_no_project_section_and_project_only_has_it(mof: Scheme) -> None:
    dept_only = [u for u in mixed() if u.extra.get("form") != "project"]
    assert not any("项目支出绩效自评" in p for p in analysis_paras(dept_only, mof))
    only = [project("县公路中心", "430001", "农村道路养护", 94.42, "优", 120.0, 119.0)]
    paras = analysis_paras(only, mof)
    assert "（六）项目支出绩效自评情况" in paras and "审核合格的项目全年预算执行率均不低于90%。" in paras


# ---------------------------------------------------------------------------------------------
# results.json contract

SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "results.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_mixed_results_satisfy_the_schema_and_project_keys_are_required() -> None:
    doc = Results("mof-2020", tuple(mail_units())).to_json()
    assert [e.message for e in VALIDATOR.iter_errors(doc)] == []
    for key, value in (("execution_rate", "94%"), ("execution_rate", -0.1), ("fund_full", "120"),
                       ("project_name", 7), ("execution_rate", None)):
        broken = json.loads(json.dumps(doc))
        pj = next(u for u in broken["units"] if u.get("form") == "project")
        if value is None:
            del pj[key]  # a project entry always carries its keys (null when unknown)
        else:
            pj[key] = value
        assert list(VALIDATOR.iter_errors(broken)), f"schema accepted {key}={value!r}"


def test_the_documented_example_satisfies_the_schema() -> None:
    text = (Path(__file__).parent.parent / "docs" / "results-json.md").read_text(encoding="utf-8")
    example = json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])
    assert [u.get("form") for u in example["units"]] == [None, "project"]
    assert [e.message for e in VALIDATOR.iter_errors(example)] == []
