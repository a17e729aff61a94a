"""The report's text: the reference unit against its golden file, the corrected sentences of the
reference, number formatting, clerk-text cleaning and the outline's variants.

Regenerate the golden file after a deliberate wording change with
``JIXIAO_UPDATE_GOLDENS=1 pytest tests/test_report.py`` and review the diff.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from helpers import load_seed, seed_submission, submission_from_data

from tests import readback
from toolkit.model import NodeScore, Scorecard, Submission
from toolkit.rules.loader import builtin_dir, load_scheme, parse_scheme
from toolkit.rules.model import Scheme
from toolkit.rules.scoring import score as score_card
from toolkit.text.numbers import money, num, pct, points
from toolkit.write.report import build_report, report_file_name, write_report
from toolkit.write.report.layout import title_lines
from toolkit.write.report.narrative import cn_date
from toolkit.write.report.prose import clean_lines, clean_text

GOLDEN = Path(__file__).parent / "golden" / "reference_report.txt"
UPDATE = os.environ.get("JIXIAO_UPDATE_GOLDENS") == "1"


# --------------------------------------------------------------------------- helpers
def unit(**overrides: Any) -> Submission:
    data = load_seed()
    data.update(overrides)
    return submission_from_data(data)


def report_for(sub: Submission | None = None, scheme: Scheme | str = "jianghua-2023",
               card: Scorecard | None = None) -> bytes:
    sch = load_scheme(scheme) if isinstance(scheme, str) else scheme
    sub = sub or seed_submission()
    return build_report(sch, sub, card or score_card(sch, sub))


def paragraphs(data: bytes) -> list[str]:
    return [r.split("\t", 1)[1] for r in readback.rows(data) if "\t" in r]


def with_leaf(card: Scorecard, leaf_id: str, **changes: Any) -> Scorecard:
    """A Scorecard with one leaf replaced and the sub-totals above it recomputed."""

    def walk(n: NodeScore) -> NodeScore:
        if n.id == leaf_id:
            return replace(n, **changes)
        if not n.children:
            return n
        kids = tuple(walk(c) for c in n.children)
        return replace(n, children=kids, score=sum((k.score for k in kids), D(0)))

    levels = tuple(walk(lv) for lv in card.levels)
    return replace(card, levels=levels, total=sum((lv.score for lv in levels), D(0)))


# --------------------------------------------------------------------------- the reference unit
def test_reference_report_matches_golden() -> None:
    rows = readback.rows(report_for())
    actual = "".join(r.rstrip() + "\n" for r in rows)  # editors strip trailing tabs
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(actual, encoding="utf-8")
    if not GOLDEN.exists():  # a missing golden is a failure, never silently written by the test
        pytest.fail(f"{GOLDEN} is missing: create it with JIXIAO_UPDATE_GOLDENS=1 and review it")
    expected = "".join(r.rstrip() + "\n" for r in GOLDEN.read_text(encoding="utf-8").splitlines())
    if actual != expected:
        diff = "\n".join(difflib.unified_diff(expected.splitlines(), actual.splitlines(),
                                              "golden/reference_report.txt", "generated", lineterm=""))
        pytest.fail(f"the report differs from its golden file (JIXIAO_UPDATE_GOLDENS=1 to accept):\n{diff}")


KEY_SENTENCES = [
    "江华瑶族自治县2023年度政务服务中心\\n整体绩效评价报告",
    "根据《中华人民共和国预算法》、中共湖南省委办公厅 湖南省人民政府办公厅《关于全面实施预算绩效管理的实施意见》"
    "（湘办发〔2019〕10号）、《江华瑶族自治县财政局关于开展2023年度财政支出绩效自评工作的通知》（江财绩〔2024〕1号）精神",
    "县政务服务中心设2个内设机构：办公室和业务指导股，主要职能及重点工作计划：贯彻执行国家",
    "核定人员编制10人，实有在职在编人数10人。",
    "我单位2023年收到财政资金169.92万元，年初结转结余0元，合计169.92万元。其中基本支出169.92万元，项目支出0元；"
    "2023年全年实际支出169.92万元；结余财政资金0元。基本支出结余0元，项目支出结余0元。",
    "我单位2023年度评价得分为99分。",
    "预算配置得10分。其中：在职人员控制率：在职10人/编制10人×100%=100%，得5分；“三公”经费预算数减少0元，变动率等于0%，得5分。",
    "预算执行得19分。其中：预算完成率100%，得5分；预算控制率6.2%，得4分；无新建楼堂馆所，得10分。",
    "预算管理得30分。其中：政府采购执行率100%，得6分；",
    "职责履行得10分。根据部门制定的计划工作任务及内容考核实际完成情况及质量情况，情况完成度高，质量较好。",
    "指标1：受理办理业务≥3000人次，实际完成360000人次，得2.5分",
    "指标3：审批时间1～7天，实际完成5天，得2.5分",
    "指标1：受理办理业务完成率≥99%，实际完成100%，得2.5分",
    "③ 社会公众或服务对象满意度得10分：在年度绩效考核中成绩优异，考核等级为优秀。",
    "3. 可持续影响指标：打造了“审批事项少、办事效率高、服务质量优、群众获得感强”的政务服务环境。",
    "组建“县+园区+乡镇+社区（村）”四维一体",
    "2. 人员严重缺编与工作任务繁重矛盾日益突出。",
    "附件：部门整体支出绩效自评表",
]
MISTAKES = ["《《", "[2019]", "[2024]", "*1%", "1、投入", "预算完成率1%", "(1)", "（1）预算执行", " 1%"]


def test_reference_sentences_with_corrected_numbers() -> None:
    text = "\n".join(paragraphs(report_for()))
    for s in KEY_SENTENCES:
        assert s in text, s
    for bad in MISTAKES:
        assert bad not in text, bad


def test_outline_order_and_styles() -> None:
    rows = readback.rows(report_for())
    heads = [r for r in rows if r.startswith("Heading")]
    assert heads == [
        "Heading 1\t一、部门概况", "Heading 2\t（一）部门基本情况", "Heading 2\t（二）人员情况",
        "Heading 1\t二、部门整体收支结余情况", "Heading 1\t三、预算执行与管理情况",
        "Heading 3\t1. 投入10分", "Heading 3\t2. 过程50分", "Heading 3\t3. 产出及效率40分",
        "Heading 1\t四、绩效情况", "Heading 2\t（一）部门职责履行情况分析", "Heading 2\t（二）社会经济效益分析",
        "Heading 2\t（三）行政效能分析", "Heading 1\t五、存在的问题", "Heading 1\t六、后续的工作计划",
    ]
    assert rows[0].startswith("Title\t")
    i = rows.index("落款\t江华瑶族自治县政务服务中心")
    assert rows[i - 1] == "Normal\t"  # one blank line before the signature
    assert rows[i + 1] == "落款\t2024年4月30日"


_SUBTOTAL = re.compile(r"^(?:[^。：]+)得([\d.]+)分。其中：(.*)。$")


def _check_subtotals(data: bytes) -> int:
    checked = 0
    for p in paragraphs(data):
        m = _SUBTOTAL.match(p)
        if m:
            parts = [D(x) for x in re.findall(r"得([\d.]+)分(?:；|$|（)", m.group(2) + "")]
            assert sum(parts) == D(m.group(1)), p
            checked += 1
    return checked


def test_shown_parts_add_up_to_the_shown_subtotals() -> None:
    assert _check_subtotals(report_for()) == 3


def test_total_and_levels_match_the_scorecard() -> None:
    sch = load_scheme("jianghua-2023")
    card = score_card(sch, seed_submission())
    text = "\n".join(paragraphs(build_report(sch, seed_submission(), card)))
    assert f"评价得分为{points(card.total)}分" in text
    for lv in card.levels:
        for l2 in lv.children:
            assert f"{l2.name}得{points(l2.score)}分。" in text


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("value, expected", [
    (D("169.92"), "169.92万元"), (D("170.00"), "170万元"), (D("0"), "0元"), (D("0.00"), "0元"),
    (D("9.925"), "9.93万元"), (D("1234567.5"), "1234567.5万元"), (None, "0元"),
])
def test_money(value: D | None, expected: str) -> None:
    assert money(value) == expected


@pytest.mark.parametrize("value, expected", [
    (D("0.062"), "6.2%"), (D("0.9411764"), "94.12%"), (D(1), "100%"), (D("1.03"), "103%"),
    (D("0.000049"), "0%"), (D("0.00005"), "0.01%"), (D("-0.05"), "-5%"), (D(0), "0%"),
])
def test_pct(value: D, expected: str) -> None:
    assert pct(value) == expected


def test_scores_dates_and_plain_numbers() -> None:
    assert points(D("99.00")) == "99"
    assert points(D("2.50")) == "2.5"
    assert points(D("7.125")) == "7.13"  # half-up, not banker's rounding
    assert num(D("360000")) == "360000"  # never 3.6E+5
    assert num(D("1E+3")) == "1000"
    assert cn_date(date(2024, 4, 30)) == "2024年4月30日"
    assert cn_date(date(2024, 10, 1)) == "2024年10月1日"


# --------------------------------------------------------------------------- clerk text
@pytest.mark.parametrize("raw, expected", [
    ("（湘办发[2019]10号）", "（湘办发〔2019〕10号）"),
    ("江财绩【2024】1号", "江财绩〔2024〕1号"),
    ("江财绩(2024)1号", "江财绩〔2024〕1号"),
    ("江财绩 [ 2024 ] 1 号", "江财绩〔2024〕1号"),
    ("《《江华瑶族自治县财政局通知》》", "《江华瑶族自治县财政局通知》"),
    ("社区(村)服务", "社区（村）服务"),
    ("办公室,业务股;以及:其他?是!", "办公室，业务股；以及：其他？是！"),
    ("累计 1,000 件, 10:30 开始", "累计1,000件，10:30开始"),
    ("面积 7200 平方米 ", "面积7200平方米"),
    ("中共湖南省委办公厅 湖南省人民政府办公厅", "中共湖南省委办公厅 湖南省人民政府办公厅"),
    ("Windows 10 系统", "Windows 10系统"),
    ("a\x07b", "ab"),
])
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_lines_drops_empty_lines_and_strips_numbering_only_when_asked() -> None:
    raw = "1、第一条。 \n\n  （2）第二条\n3.第三条\n一、第四条\n① 第五条\n1.5万元的资金\n2023年完成\n一是加强管理"
    assert clean_lines(raw, numbered=True) == [
        "第一条。", "第二条", "第三条", "第四条", "第五条", "1.5万元的资金", "2023年完成", "一是加强管理"]
    assert clean_lines(raw)[:2] == ["1、第一条。", "（2）第二条"]


def test_clerk_numbering_is_stripped_where_the_outline_numbers_the_list() -> None:
    data = load_seed()
    data["problems"] = ["1、资金使用效益有待进一步提高", "（2）人员严重缺编"]
    data["plans"] = ["1.加强财务管理。", "2. 抓好运行经费控制管理"]
    data["admin_efficiency"] = "1、加强学习培训。\n\n2、严格制度执行。\n"
    data["duty_analysis"] = "一是优化服务场所。\n1.不由大纲编号的段落保留原编号。"
    text = paragraphs(report_for(submission_from_data(data)))
    assert "1. 资金使用效益有待进一步提高。" in text
    assert "2. 人员严重缺编。" in text
    assert "1. 加强财务管理。" in text and "2. 抓好运行经费控制管理。" in text
    assert "1. 加强学习培训。" in text and "2. 严格制度执行。" in text
    assert "1.不由大纲编号的段落保留原编号。" in text  # the outline does not number duty_analysis
    assert not any(re.match(r"\d\. ?\d[.、]", p) for p in text)


# --------------------------------------------------------------------------- variants of the outline
def test_blank_internal_units_leave_the_clause_out() -> None:
    text = "\n".join(paragraphs(report_for(unit(internal_unit_count=None, internal_units=None))))
    assert "县政务服务中心主要职能及重点工作计划：贯彻执行" in text
    assert "内设机构" not in text


def test_one_internal_unit_field_alone() -> None:
    text = "\n".join(paragraphs(report_for(unit(internal_units=None))))
    assert "县政务服务中心设2个内设机构，主要职能及重点工作计划：" in text


def test_area_prefix_and_short_name_follow_the_region() -> None:
    text = "\n".join(paragraphs(report_for(unit(region="长沙市雨花区", unit_name="长沙市雨花区财政局"))))
    assert "区财政局设2个内设机构" in text
    assert "长沙市雨花区2023年度财政局\\n整体绩效评价报告" in text


def test_multi_paragraph_functions() -> None:
    text = paragraphs(report_for(unit(functions="负责政务公开。\n负责政务服务")))
    i = next(i for i, p in enumerate(text) if p.startswith("县政务服务中心设2个内设机构"))
    assert text[i].endswith("主要职能及重点工作计划：负责政务公开。")
    assert text[i + 1] == "负责政务服务。"


def test_an_empty_benefit_is_left_out_and_the_rest_renumbered() -> None:
    text = paragraphs(report_for(unit(benefit_economic="  \n ", benefit_social="1. 社会效益指标：服务2万余人次")))
    assert "1. 社会效益指标：服务2万余人次。" in text
    assert any(p.startswith("2. 可持续影响指标：打造了") for p in text)
    assert not any("经济效益指标" in p for p in text)


def test_no_notice_uses_the_opening_without_it() -> None:
    text = paragraphs(report_for(unit(notice=None)))
    assert any(p.startswith("根据《中华人民共和国预算法》、中共湖南省委办公厅") and "）精神，我单位" in p for p in text)
    assert not any("、精神" in p or "、、" in p for p in text)


def test_unmet_checklist_items_are_named_with_the_points_lost() -> None:
    sub = unit(chk_mgmt_system=["是", "否", "是"], note_mgmt_system="部分制度未及时修订。")
    data = report_for(sub)
    text = "\n".join(paragraphs(data))
    assert ("管理制度健全性得5分（已制定预算资金管理、财务管理等制度，制度得到有效执行；"
            "“制度合法、合规、完整”未达到，扣3分；部分制度未及时修订）") in text
    assert "预算管理得27分。" in text
    assert _check_subtotals(data) == 3
    assert "| 〃 | 〃 | 管理制度健全性 | 制度健全并有效执行 | 2项达到，1项未达到 | 8 | 5 | 部分制度未及时修订。 |" in (
        readback.rows(data))


def test_a_new_building_gets_its_two_sentences() -> None:
    sub = unit(new_building="有", building_area_approved=D(1000), building_area_actual=D(1100),
               building_invest_approved=D(500), building_invest_actual=D(480))
    data = report_for(sub)
    text = "\n".join(paragraphs(data))
    assert "新建楼堂馆所面积控制率110%，得1分；新建楼堂馆所投资概算控制率96%，得5分" in text
    assert "无新建楼堂馆所" not in text
    assert _check_subtotals(data) == 3


def test_satisfaction_from_the_rate() -> None:
    text = "\n".join(paragraphs(report_for(unit(satisfaction_rate=D("0.95")))))
    assert "③ 社会公众或服务对象满意度得10分：服务对象满意度为95%。" in text


def test_sangong_increase_both_years_zero_and_no_previous_budget() -> None:
    text = "\n".join(paragraphs(report_for(unit(sangong_budget=D("3.3")))))
    assert "“三公”经费预算数增加0.3万元，变动率等于10%，得0分" in text
    text = "\n".join(paragraphs(report_for(unit(sangong_budget_prev=D(0), sangong_budget=D(0)))))
    assert "“三公”经费预算数减少0元，变动率等于0%，得5分" in text
    text = "\n".join(paragraphs(report_for(unit(sangong_budget_prev=D(0), sangong_budget=D("3.3")))))
    assert "上年“三公”经费预算为0元，本年增加3.3万元，得0分" in text
    assert "预算配置得5分。" in text


def test_special_cases_without_an_own_sentence_use_the_scheme_defaults() -> None:
    sch = load_scheme("jianghua-2023")
    sub = seed_submission()
    card = with_leaf(score_card(sch, sub), "staff_control", score=D(0), value=None,
                     facts={"case": "zero_denominator", "numerator": D(10), "denominator": D(0)})
    text = "\n".join(paragraphs(build_report(sch, sub, card)))
    assert "在职人员控制率无法计算（分母为0），得0分" in text


def test_no_procurement_budget_reads_as_not_applicable() -> None:
    data = report_for(unit(procurement_budget=D(0), procurement_actual=D(0)))
    assert "预算管理得30分。其中：本年无政府采购预算，政府采购执行率得6分；" in "\n".join(paragraphs(data))
    assert "| 〃 | 预算管理 | 政府采购执行率 | 100% | 无政府采购预算 | 6 | 6 |  |" in readback.rows(data)


def test_deviation_notes_of_rows_that_lost_points() -> None:
    data = load_seed()
    rows = [list(r) for r in data["perf_indicators"]]
    rows[1] = [*rows[1][:7], 150, 2.5, None, "信息发布渠道调整，下年度加强统筹"]
    data["perf_indicators"] = rows
    out = report_for(submission_from_data(data))
    text = "\n".join(paragraphs(out))
    assert "指标2：发布政府信息≥200条，实际完成150条，得1.88分（偏差原因：信息发布渠道调整，下年度加强统筹）" in text
    assert any("| 发布政府信息 | ≥200条 | 150条 | 2.5 | 1.88 | 信息发布渠道调整，下年度加强统筹 |" in r
               for r in readback.rows(out))


@pytest.mark.parametrize("scheme_id", ["jianghua-2023", "mof-2020"])
def test_a_nearly_blank_unit_still_gives_a_report(scheme_id: str) -> None:
    sch = load_scheme(scheme_id)
    sub = submission_from_data({"unit_name": "某单位"})
    text = "\n".join(paragraphs(build_report(sch, sub, score_card(sch, sub))))
    assert "{" not in text and "None" not in text
    assert "某单位主要职能及重点工作计划：" in text


def test_grade_selects_the_score_intro() -> None:
    sch = load_scheme("jianghua-2023")
    sub = seed_submission()
    card = replace(score_card(sch, sub), grade="良")
    text = "\n".join(paragraphs(build_report(sch, sub, card)))
    assert "基本完成了年度工作目标" in text


def test_wording_is_data() -> None:
    src = (builtin_dir() / "jianghua-2023.yaml").read_text(encoding="utf-8")
    sch = parse_scheme(src.replace("较好地完成了年度工作目标", "圆满完成了年度工作目标")
                       .replace("level_heading: \"{n}. {name}{points}分\"", "level_heading: \"（{n}）{name}\""))
    text = paragraphs(report_for(scheme=sch))
    assert any("圆满完成了年度工作目标" in p for p in text)
    assert "（1）投入" in text


def test_second_scheme_mof_2020() -> None:
    data = report_for(scheme="mof-2020")
    rows = readback.rows(data)
    text = "\n".join(rows)
    assert "Heading 3\t1. 预算执行10分" in rows
    assert "预算执行率得10分。全年预算数169.92万元，全年执行数169.92万元，预算执行率100%，得10分。" in text
    # the money block shows the 预算执行率 indicator's 分值 and 得分
    assert "| 〃 | 160 | 169.92 | 169.92 | 10 | 100% | 10 |" in rows
    assert "| 产出指标 | 数量指标 | 受理办理业务 | ≥3000人次 | 360000人次 | 2.5 | 2.5 |  |" in rows


def test_title_breaks_between_words() -> None:
    assert title_lines(["江华瑶族自治县", "2023年度", "政务服务中心", "整体绩效评价报告"]) == [
        "江华瑶族自治县2023年度政务服务中心", "整体绩效评价报告"]
    assert title_lines(["某县", "2023年度", "财政局", "整体绩效评价报告"]) == ["某县2023年度财政局整体绩效评价报告"]
    assert title_lines(["江华瑶族自治县", "2023年度", "人力资源和社会保障局", "整体绩效评价报告"]) == [
        "江华瑶族自治县2023年度", "人力资源和社会保障局整体绩效评价报告"]


# --------------------------------------------------------------------------- files
@pytest.mark.parametrize("name, year, expected", [
    ("江华瑶族自治县政务服务中心", 2023, "江华瑶族自治县政务服务中心2023年度部门整体支出绩效自评报告.docx"),
    ('a/b\\c:d*e?f"g<h>i|j', 2023, "abcdefghij2023年度部门整体支出绩效自评报告.docx"),
    ("..隐藏单位\t\n", 2023, "隐藏单位2023年度部门整体支出绩效自评报告.docx"),
    ("NUL", 2023, "_NUL2023年度部门整体支出绩效自评报告.docx"),
    ("", None, "未命名单位年度部门整体支出绩效自评报告.docx"),
])
def test_report_file_name(name: str, year: int | None, expected: str) -> None:
    assert report_file_name(unit(unit_name=name, fiscal_year=year)) == expected


def test_report_file_name_is_capped() -> None:
    name = report_file_name(unit(unit_name="很长的单位名称" * 40))
    assert name.endswith("2023年度部门整体支出绩效自评报告.docx")
    assert len(name) <= 150 and len(name.encode("utf-8")) <= 240


def test_write_report_is_atomic(tmp_path: Path) -> None:
    sch = load_scheme("jianghua-2023")
    sub = seed_submission()
    card = score_card(sch, sub)
    target = tmp_path / "reports" / report_file_name(sub)
    write_report(sch, sub, card, target)
    assert target.read_bytes() == build_report(sch, sub, card)
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_fast_enough_for_a_county_batch() -> None:
    sch = load_scheme("jianghua-2023")
    sub = seed_submission()
    card = score_card(sch, sub)
    build_report(sch, sub, card)
    n = 20
    t = time.perf_counter()
    for _ in range(n):
        build_report(sch, sub, card)
    per_report = (time.perf_counter() - t) / n
    assert per_report < 0.05, f"{per_report * 1000:.1f} ms per report"
