"""The report's outline from the scheme (spec 08.5): blocks in the scheme's order, a cover page, a
key–value table, the score first, text over any field, a configurable scoring table, no empty
headings; the default outline is the reference report (its golden file is tests/test_report.py's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import load_seed, seed_submission, submission_from_data

from tests import readback
from toolkit.model import Submission
from toolkit.rules import strict
from toolkit.rules.loader import SchemeError, load_scheme, parse_scheme
from toolkit.rules.model import Scheme
from toolkit.rules.scoring import score
from toolkit.write.report import build_report, outline, table

DEMO = Path(__file__).parent / "schemes" / "outline-demo.yaml"
EXTRA = {"budget_code": "505001", "eval_method": "单位自评", "eval_agency": "江华瑶族自治县财政局",
         "perf_goal": "全面完成政务服务事项进驻，群众满意度达到95%以上。"}
HEADINGS = ("一、部门（单位）基本概况", "二、部门整体收支情况", "三、绩效目标", "四、绩效自评情况",
            "五、存在的问题", "六、改进措施")
SCORING_HEAD = "| 一级指标 | 二级指标 | 三级指标 | 评价标准 | 分值 | 得分 | 扣分原因 |"


def unit(**overrides: Any) -> Submission:
    data = load_seed()
    data.update(EXTRA)
    data.update(overrides)
    return submission_from_data(data)


def scheme_with(outline_yaml: str, extra: str = "") -> Scheme:
    return parse_scheme(f"id: t\nextends: jianghua-2023\n{extra}report:\n  outline:\n{outline_yaml}",
                        base=Path(__file__).parent)


def rows_of(sch: Scheme, sub: Submission) -> list[str]:
    return readback.rows(build_report(sch, sub, score(sch, sub)))


def texts(rows: list[str]) -> list[str]:
    return [r.split("\t", 1)[1] if "\t" in r else r for r in rows]


def index_of(rows: list[str], needle: str) -> int:
    return next(i for i, r in enumerate(texts(rows)) if needle in r)


@pytest.fixture(scope="module")
def demo_rows() -> list[str]:
    return rows_of(load_scheme(str(DEMO)), unit())


# --------------------------------------------------------------------------- the default outline
def test_the_default_outline_is_the_reference_report() -> None:
    sch = load_scheme("jianghua-2023")
    explicit = scheme_with("".join(f"    - {b}\n" for b in outline.DEFAULT_OUTLINE))
    sub = seed_submission()
    assert build_report(sch, sub, score(sch, sub)) == build_report(explicit, sub, score(explicit, sub))


def test_every_block_the_outline_runs_is_one_the_scheme_language_accepts() -> None:
    assert set(outline.SECTIONS) | set(outline.NEW_BLOCKS) | {"appendix", "heading"} == strict.OUTLINE_BLOCKS
    assert set(outline.APPENDICES) == strict.OUTLINE_APPENDICES
    assert set(table.COLUMN_NAMES) | set(table.COLUMN_MM) == strict.OUTLINE_COLUMNS


# --------------------------------------------------------------------------- the demo scheme end to end
def test_each_part_is_present_in_the_outline_order(demo_rows: list[str]) -> None:
    t = texts(demo_rows)
    marks = ["部门名称：江华瑶族自治县政务服务中心", "江华瑶族自治县财政局（制）", "评价得分为99分",
             *HEADINGS, SCORING_HEAD]
    at = [index_of(demo_rows, m) for m in marks]
    assert at == sorted(at), list(zip(marks, at, strict=True))
    assert t.index("江华瑶族自治县政务服务中心", at[-2]) < at[-1]  # the signature before the appendix


def test_the_cover_names_its_lines_and_the_body_starts_on_a_new_page(demo_rows: list[str]) -> None:
    t = texts(demo_rows)
    for line in ("部门名称：江华瑶族自治县政务服务中心", "预算编码：505001", "评价方式：单位自评",
                 "评价机构：江华瑶族自治县财政局", "报告日期：2024年4月30日"):
        assert line in t
    sch = load_scheme(str(DEMO))
    sub = unit()
    body = outline.compose(sch, sub, score(sch, sub), outline.Composer(sch, sub, score(sch, sub), None).ctx)
    after = [b for b in body if getattr(b, "page_break_before", False)]
    assert after[0].text.replace("\n", "").startswith("江华瑶族自治县2023年度")  # the title after the cover


def test_the_kv_table_has_one_row_per_field_with_the_workbook_labels(demo_rows: list[str]) -> None:
    t = texts(demo_rows)
    assert "| 单位名称 | 江华瑶族自治县政务服务中心 |" in t
    assert "| 预算编码 | 505001 |" in t
    assert "| 核定人员编制数 | 10 |" in t and "| 实有在职在编人数 | 10 |" in t
    assert any(r.startswith("| 主要职能及重点工作计划 | 贯彻执行") for r in t)


def test_the_scoring_table_has_the_chosen_columns_with_criteria_and_reasons(demo_rows: list[str]) -> None:
    t = texts(demo_rows)
    start = t.index(SCORING_HEAD)
    body = [r for r in t[start + 1:] if r.startswith("| ")]
    assert all(r.count(" | ") == 6 for r in body[:-1])  # seven cells a row
    assert any("在职人员控制率" in r and "实有在职" in r for r in body)  # 评价标准 = the rule in words
    lost = [r for r in body[:-1] if r.split(" | ")[4] != r.split(" | ")[5]]  # 分值 ≠ 得分
    assert lost and all(r.split(" | ")[6].strip(" |") for r in lost)  # every lost point has a reason
    assert body[-1].startswith("| 总分 |")


def test_no_heading_is_empty_or_left_without_its_block(demo_rows: list[str]) -> None:
    heads = [r for r in demo_rows if r.split("\t", 1)[0].startswith(("Heading", "标题"))]
    assert heads and all(r.split("\t", 1)[1].strip() for r in heads)


# --------------------------------------------------------------------------- blocks whose inputs are empty
@pytest.mark.parametrize(("overrides", "gone", "kept"), [
    ({"perf_goal": None}, "三、绩效目标", "四、绩效自评情况"),
    ({"perf_goal": "   "}, "三、绩效目标", "四、绩效自评情况"),
    ({"budget_code": None}, "预算编码：", "部门名称："),
    ({"eval_agency": None, "eval_method": None}, "评价机构：", "报告日期："),
])
def test_a_block_or_cover_line_with_empty_inputs_is_left_out(overrides: dict[str, Any], gone: str,
                                                            kept: str) -> None:
    t = texts(rows_of(load_scheme(str(DEMO)), unit(**overrides)))
    assert not any(gone in r for r in t)
    assert any(kept in r for r in t)


def test_a_kv_table_whose_fields_are_all_empty_is_left_out_with_its_heading() -> None:
    sch = scheme_with("    - title\n    - {heading: 一、基本概况, block: kv_table, fields: [budget_code]}\n"
                      "    - signature\n", "inputs:\n  - {key: budget_code, label: 预算编码, kind: text}\n")
    t = texts(rows_of(sch, unit(budget_code=None)))
    assert "一、基本概况" not in t and not any(r.startswith("| 预算编码") for r in t)
    t = texts(rows_of(sch, unit()))
    assert "一、基本概况" in t and "| 预算编码 | 505001 |" in t


def test_an_empty_scheme_heading_leaves_no_empty_paragraph() -> None:
    sch = parse_scheme("id: t\nextends: jianghua-2023\nreport:\n  headings: {basic: ''}\n", base=Path("."))
    rows = rows_of(sch, seed_submission())
    assert not any(r.split("\t", 1)[0].startswith(("Heading", "标题")) and not r.split("\t", 1)[1] for r in rows)


@pytest.mark.parametrize(("entry", "expect"), [
    ('{text: "绩效目标：{perf_goal}"}', "绩效目标：全面完成"),
    ('{text: "本报告依据自评表编制。"}', "本报告依据自评表编制。"),  # no field: always there
    ('{text: "{unit_name}{fiscal_year}年得{total}分"}', "江华瑶族自治县政务服务中心2023年得99分"),
    ("{heading: 附录}", "附录"),
])
def test_text_and_heading_entries(entry: str, expect: str) -> None:
    sch = scheme_with(f"    - title\n    - {entry}\n", "inputs:\n  - {key: perf_goal, label: 绩效目标, kind: longtext}\n")
    assert any(expect in r for r in texts(rows_of(sch, unit())))


def test_score_first_puts_the_score_paragraph_before_the_overview() -> None:
    sch = scheme_with("    - title\n    - score_first\n    - overview\n    - levels\n")
    rows = rows_of(sch, seed_submission())
    assert index_of(rows, "评价得分为99分") < index_of(rows, "一、部门概况") < index_of(rows, "1. 投入10分")
    assert not any("三、预算执行与管理情况" in r for r in texts(rows))


@pytest.mark.parametrize(("columns", "head"), [
    ("[一级指标, 三级指标, 分值, 得分]", "| 一级指标 | 三级指标 | 分值 | 得分 |"),
    ("[level3, criterion, score, reason]", "| 三级指标 | 评价标准 | 得分 | 扣分原因 |"),
    ("[三级指标, 指标说明, 扣分原因]", "| 三级指标 | 指标说明 | 扣分原因 |"),
])
def test_scoring_table_columns_are_configurable(columns: str, head: str) -> None:
    sch = scheme_with(f"    - title\n    - {{appendix: scoring_table, columns: {columns}}}\n")
    t = texts(rows_of(sch, seed_submission()))
    assert head in t
    assert sum(1 for r in t if r.startswith("| 单位名称")) == 0  # scoring_table: no overview table


def test_self_evaluation_appendix_keeps_the_overview_table_with_chosen_columns() -> None:
    sch = scheme_with("    - title\n    - {appendix: self_evaluation, columns: [一级指标, 三级指标, 得分, 扣分原因]}\n")
    t = texts(rows_of(sch, seed_submission()))
    assert "附件：部门整体支出绩效自评表" in t and "| 一级指标 | 三级指标 | 得分 | 扣分原因 |" in t
    assert any(r.startswith("| 单位名称") for r in t)


# --------------------------------------------------------------------------- the scheme language
@pytest.mark.parametrize(("entry", "message"), [
    ("coverr", "是否应为 `cover`"),
    ("{block: kv_tabel, fields: [unit_name]}", "是否应为 `kv_table`"),
    ("{appendix: scoring_tabel}", "是否应为 `scoring_table`"),
    ("{appendix: scoring_table, columns: [一级指标, 扣分原由]}", "扣分原由"),
    ("{block: kv_table, fields: [unit_nam]}", "是否应为 `unit_name`"),
    ('{text: "{perf_gaol}"}', "perf_gaol"),
    ("{block: money, headng: 二、收支}", "是否应为 `heading`"),
    ("{level: 2}", "需要 block、text、appendix 或 heading 之一"),
])
def test_a_misspelt_outline_is_refused_with_the_nearest_name(entry: str, message: str) -> None:
    with pytest.raises(SchemeError) as e:
        scheme_with(f"    - {entry}\n")
    assert message in str(e.value)


def test_an_outline_that_is_not_a_list_is_refused() -> None:
    with pytest.raises(SchemeError, match="outline 必须是列表"):
        parse_scheme("id: t\nextends: jianghua-2023\nreport:\n  outline: cover\n", base=Path("."))


# --------------------------------------------------------------------------- rendered
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None or not shutil.which("pdftotext"),
                    reason="LibreOffice (soffice) or poppler (pdftotext) is not installed")
def test_rendered_cover_page_and_every_heading(tmp_path: Path) -> None:
    sch = load_scheme(str(DEMO))
    sub = unit()
    docx = tmp_path / "outline.docx"
    docx.write_bytes(build_report(sch, sub, score(sch, sub)))
    subprocess.run([str(SOFFICE), f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                    "--norestore", "--convert-to", "pdf", "--outdir", str(tmp_path), str(docx)],
                   check=True, capture_output=True, timeout=120)
    pdf = docx.with_suffix(".pdf")

    def page_text(first: int, last: int | None = None) -> str:
        out = subprocess.run(["pdftotext", "-f", str(first), "-l", str(last or first), str(pdf), "-"],
                             check=True, capture_output=True, text=True).stdout
        return "".join(out.split())

    cover = page_text(1)
    assert "部门名称：江华瑶族自治县政务服务中心" in cover and "江华瑶族自治县财政局（制）" in cover
    assert "一、部门（单位）基本概况" not in cover  # the body starts on page 2
    rest = page_text(2, 99)
    for h in (*HEADINGS, "附件：绩效评价指标评分表", "评价标准", "扣分原因"):
        assert h in rest, h
