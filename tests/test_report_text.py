"""How clerk text and numbers become the report's sentences: pasted line breaks, the 收支 paragraph
that must add up, and wording that must not read machine-made (issue 10, items 3, 4 and 13)."""

from __future__ import annotations

import re
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import ROOT, load_seed, submission_from_data

from tests import readback
from toolkit.rules.loader import load_scheme
from toolkit.rules.scoring import score as score_card
from toolkit.text.paste import paragraphs, soft_wrapped_lines
from toolkit.write.report import build_report
from toolkit.write.report import table as T
from toolkit.write.report.prose import clean_paragraphs, clean_text, terminate

LINYEJU = ROOT / "samples" / "data" / "linyeju.yaml"


def _data(path: Path | None = None, **overrides: Any) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path else load_seed()
    data.update(overrides)
    return data


def _report(data: dict[str, Any], scheme: str = "jianghua-2023") -> list[str]:
    sch = load_scheme(scheme)
    sub = submission_from_data(data)
    return readback.rows(build_report(sch, sub, score_card(sch, sub)))


def _body(rows: list[str]) -> list[str]:
    return [r.split("\t", 1)[1] for r in rows if "\t" in r]


# --------------------------------------------------------------------------- pasted line breaks
PASTED = [
    # a soft wrap after ，: joined, no 。 after the comma
    ("我单位严格执行预算，保障了民生支出，\n资金使用规范。", ["我单位严格执行预算，保障了民生支出，资金使用规范。"]),
    # a wrap inside a word
    ("资金使用效益有待提\n高。", ["资金使用效益有待提高。"]),
    ("按时完成县本级部门预算编\n制工作。", ["按时完成县本级部门预算编制工作。"]),
    # the paragraph's last line ends with ， → 。, never “，。”
    ("保障了民生支出，", ["保障了民生支出。"]),
    ("办公室、财务股、", ["办公室、财务股。"]),
    ("加强管理；\n", ["加强管理。"]),
    # a sentence end is a real break; several sentences in one line stay together
    ("第一句。\n第二句！\n第三句？", ["第一句。", "第二句！", "第三句？"]),
    ("他说“完成了。”\n下一段。", ["他说“完成了。”", "下一段。"]),
    ("一句……\n下一句。", ["一句……", "下一句。"]),
    # a blank line is a real break even without punctuation
    ("第一段没有句号\n\n第二段", ["第一段没有句号", "第二段"]),
    # numbered items are separate paragraphs, whatever the line before ends with
    ("主要做法：\n1. 加强学习，\n提高能力；\n2. 严格执行", ["主要做法：", "1. 加强学习，提高能力。", "2. 严格执行"]),
    ("工作如下\n（一）推进改革\n（二）强化管理", ["工作如下", "（一）推进改革", "（二）强化管理"]),
    ("一、基本情况\n二、主要做法", ["一、基本情况", "二、主要做法"]),
    ("成效有：\n一是加强管理，\n规范运行。二是优化服务。", ["成效有：", "一是加强管理，规范运行。二是优化服务。"]),
    ("①办件提速\n②群众满意", ["①办件提速", "②群众满意"]),
    # a colon stays before a numbered list, becomes 。 at the end of the text
    ("存在问题：", ["存在问题。"]),
    # Latin words and numbers across a wrap keep one space; Chinese and digits join tight
    ("使用 PDF\nfile 导出", ["使用 PDF file 导出"]),
    ("全年办件\n2023\n件", ["全年办件2023件"]),
    ("累计 1.5\n万元", ["累计 1.5万元"]),
    # numbers that merely start a wrapped line are not items
    ("资金\n1.5万元已拨付。", ["资金1.5万元已拨付。"]),
    ("完成\n2023年度任务。", ["完成2023年度任务。"]),
    # Windows and old Mac line ends, Word's manual line break and paragraph separator
    ("甲，\r\n乙。\r丙\x0b丁。\u2029戊", ["甲，乙。", "丙丁。", "戊"]),
    # full-width indentation marks a new paragraph
    ("第一段没有句号\n\u3000\u3000第二段", ["第一段没有句号", "第二段"]),
    ("  \n\n", []),
]


@pytest.mark.parametrize("raw, expected", PASTED)
def test_pasted_text_becomes_paragraphs(raw: str, expected: list[str]) -> None:
    assert paragraphs(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("我单位严格执行预算，\n保障了民生支出。", ["我单位严格执行预算，"]),
    ("有待提\n高。按时完成编\n制。", ["有待提", "高。按时完成编"]),
    ("第一句。\n第二句。", []),
    ("标题：\n1. 甲\n2. 乙", []),
    ("主要职能：\n负责造林；\n负责防火", []),  # typed on purpose: reads well joined, no warning
    ("保障了民生支出、\n教育支出。", ["保障了民生支出、"]),
    ("第一段\n\n第二段", []),
])
def test_lines_that_end_mid_sentence_are_listed(raw: str, expected: list[str]) -> None:
    assert soft_wrapped_lines(raw) == expected


@pytest.mark.parametrize("s, expected", [
    ("完成", "完成。"), ("完成。", "完成。"), ("完成，", "完成。"), ("完成、", "完成。"),
    ("完成；", "完成。"), ("如下：", "如下："), ("“完成。”", "“完成。”"), ("", ""),
])
def test_terminate_never_puts_a_full_stop_after_other_punctuation(s: str, expected: str) -> None:
    assert terminate(s) == expected


@pytest.mark.parametrize("raw, expected", [
    ("完成率９５％，办件２０２３件", "完成率95%，办件2023件"),
    ("使用ＰＤＦ格式", "使用PDF格式"),
    ("１．加强管理", "1．加强管理"),
])
def test_full_width_digits_and_letters_become_ascii(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_clean_paragraphs_and_clean_text() -> None:
    raw = "1、加强学习培\n训，提高能力；\n2、严格执行制度"
    assert clean_paragraphs(raw, numbered=True) == ["加强学习培训，提高能力。", "严格执行制度"]
    assert clean_text("办公室、\n财务股、") == "办公室、财务股"  # used inside a sentence: no stray mark
    assert clean_text("甲\n\n乙") == "甲。乙"


CLERK_PASTE = {
    "functions": "贯彻执行国家有关林业工作的方针政策，\n负责全县林业及其生态建设的监督管\n理，组织造林绿化工作。\n"
                 "负责森林资源的监督管理；\n负责森林防火工作",
    "duty_analysis": "一是推进国土绿化，全年完成人工造林7600亩，\n造林成活率88%。\n"
                     "二是加强森林防灭火，保障了民生支出，\n有待提\n高。",
    "admin_efficiency": "１．建立项目资金使用台账，\n项目资金实行专账核算；\n2.严格“三公”经费审批，\n按时完成县本级部门预算编\n制",
    "benefit_social": "选聘生态护林员312名，\n优先从脱贫户中选聘，",
    "problems": ["预算编制不够科学，\n年中追加预算比例较大，", "1、项目管理有待加\n强"],
    "plans": ["加强预算编制的前瞻性，\n减少年中追加；"],
}


def test_a_report_from_pasted_text_has_no_stray_full_stops() -> None:
    body = _body(_report(_data(LINYEJU, **CLERK_PASTE)))
    text = "\n".join(body)
    for bad in ("，。", "、。", "；。", "：。", "提。高", "编。制", "管。理"):
        assert bad not in text, bad
    assert ("主要职能及重点工作计划：贯彻执行国家有关林业工作的方针政策，负责全县林业及其生态建设的监督管理，"
            "组织造林绿化工作。") in text
    assert "负责森林资源的监督管理；负责森林防火工作。" in body
    assert "二是加强森林防灭火，保障了民生支出，有待提高。" in body
    assert "1. 建立项目资金使用台账，项目资金实行专账核算。" in body
    assert "2. 严格“三公”经费审批，按时完成县本级部门预算编制。" in body
    assert "2. 社会效益指标：选聘生态护林员312名，优先从脱贫户中选聘。" in body
    assert "1. 预算编制不够科学，年中追加预算比例较大。" in body
    assert "2. 项目管理有待加强。" in body


# --------------------------------------------------------------------------- the 收支 paragraph adds up
_AMOUNT = r"(\d+(?:\.\d+)?)(万元|元)"


def _amount(text: str, label: str) -> D:
    m = re.search(re.escape(label) + _AMOUNT, text)
    assert m, f"{label} not in {text}"
    return D(m.group(1)) if m.group(2) == "万元" else D(0)


def _money_paragraph(rows: list[str]) -> str:
    return next(p for p in _body(rows) if "实际支出" in p)


MONEY_CASES = [
    # (carryover, fiscal, other, basic, project, balance_basic, balance_project)
    pytest.param("0", "169.92", "0", "169.92", "0", "0", "0", id="reference-no-other-income"),
    pytest.param("56.3", "1662.6", "35", "756.48", "862.37", "12.4", "122.65", id="linyeju-other-income"),
    pytest.param("0", "500", "20.5", "300", "200", "10", "10.5", id="no-carryover-other-income"),
    pytest.param("12.34", "100", "0", "60", "40", "12.34", "0", id="carryover-no-other-income"),
    pytest.param("0", "0", "80", "50", "20", "5", "5", id="only-other-income"),
]


@pytest.mark.parametrize("scheme", ["jianghua-2023", "mof-2020"])
@pytest.mark.parametrize("carry, fiscal, other, basic, project, bb, bp", MONEY_CASES)
def test_every_stated_sum_of_the_money_paragraph_is_true(scheme: str, carry: str, fiscal: str, other: str,
                                                       basic: str, project: str, bb: str, bp: str) -> None:
    p = _money_paragraph(_report(_data(carryover_start=carry, income_fiscal=fiscal, income_other=other,
                                       spend_basic=basic, spend_project=project,
                                       balance_basic=bb, balance_project=bp), scheme))
    income = [_amount(p, "收到财政资金"), _amount(p, "年初结转结余")]
    if D(other):
        income.append(_amount(p, "其他收入"))
        assert "结余财政资金" not in p  # the balance is not all 财政资金
    else:
        assert "其他收入" not in p
    total = _amount(p, "合计")
    spent = _amount(p, "实际支出")
    parts = [_amount(p, "基本支出"), _amount(p, "项目支出")]
    balance = _amount(p, "结余资金") if "结余资金" in p else _amount(p, "结余财政资金")
    assert sum(income) == total, p
    assert sum(parts) == spent, p
    assert _amount(p, "基本支出结余") + _amount(p, "项目支出结余") == balance, p
    assert total - spent == balance, p


def test_the_linyeju_sample_adds_up() -> None:
    p = _money_paragraph(_report(_data(LINYEJU)))
    assert p == ("我单位2023年收到财政资金1662.6万元，其他收入35万元，年初结转结余56.3万元，合计1753.9万元。"
                 "2023年全年实际支出1618.85万元，其中基本支出756.48万元，项目支出862.37万元；"
                 "年末结余资金135.05万元，其中基本支出结余12.4万元，项目支出结余122.65万元。")


def _overview_rate(rows: list[str]) -> str:
    i = next(i for i, r in enumerate(rows) if "| 执行率 |" in r)
    return rows[i + 1].split(" | ")[5]


@pytest.mark.parametrize("changes, apart", [
    ({}, True),  # 35万元 other income spent: 执行率 94.18%, 预算完成率 92.14%
    ({"income_other": "0", "income_fiscal": "1697.6", "budget_added": "447.6"}, False),  # income = budget
])
def test_budget_completion_agrees_with_the_appendix_or_says_how_it_differs(changes: dict[str, str],
                                                                           apart: bool) -> None:
    rows = _report(_data(LINYEJU, **changes))
    text = "\n".join(_body(rows))
    rate = _overview_rate(rows)
    m = re.search(r"预算完成率([\d.]+%)", text)
    assert m
    if apart:
        assert m.group(1) != rate
        assert (f"预算完成率{m.group(1)}（按全年预算数1718.9万元减年末结余135.05万元计算，"
                f"附件中的执行率{rate}按全年执行数1618.85万元计算）") in text
    else:
        assert f"预算完成率{rate}，得" in text


def test_mof_execution_rate_is_the_appendix_rate() -> None:
    rows = _report(_data(LINYEJU), "mof-2020")
    rate = _overview_rate(rows)
    assert f"预算执行率{rate}，得" in "\n".join(_body(rows))


# --------------------------------------------------------------------------- wording
def test_a_checklist_deduction_is_stated_once() -> None:
    text = "\n".join(_body(_report(_data(LINYEJU))))
    assert ("“制度得到有效执行”未达到，扣2分；固定资产管理办法执行不到位，年末未按规定开展资产盘点。"
            "已于2024年3月完成全面盘点并建立资产台账）") in text
    assert "“在规定时限内公开”未达到，扣3分；2023年部门预算公开时间晚于规定时限5天。今后将按规定时限及时公开）" in text
    for sentence in re.findall(r"[^；（]*得[\d.]+分（[^）]*）", text):
        assert len(re.findall(r"扣[\d.]+分", sentence)) == sentence.count("未达到"), sentence


@pytest.mark.parametrize("scheme", ["jianghua-2023", "mof-2020"])
def test_qualitative_and_range_indicators_read_naturally(scheme: str) -> None:
    rows = _report(_data(LINYEJU), scheme)
    text = "\n".join(_body(rows))
    assert "林业生态保护长效机制，年度目标为建立健全，实际完成情况为部分达成，得" in text
    assert "生态护林员选聘人数300～320人，实际完成312人" in text
    assert "| 300～320人 |" in "\n".join(rows)
    assert not re.search(r"\d-\d", text)


def test_appendix_columns_hold_numbers_on_one_line_and_text_readably() -> None:
    def width_mm(s: str) -> float:
        """五号 in the widest fallback fonts: a Chinese character 3.7 mm, a digit 2.4 mm, and the
        quarter-em LibreOffice and Word put between Chinese and digits."""
        w = sum({".": 1.2, "%": 3.5}.get(c, 2.4) if ord(c) < 0x2000 else 3.7 for c in s)
        return w + 0.93 * len(re.findall(r"(?<=[0-9])(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])(?=[0-9])", s))

    usable = [w - 2.01 for w in T.INDICATORS_MM]  # 57-twip margins each side
    assert sum(T.INDICATORS_MM) == 156 and sum(T.OVERVIEW_MM) == 156
    for s in ("100", "2.5", "分值"):
        assert width_mm(s) <= usable[5], s
    for s in ("76.43", "100", "1.88", "得分"):  # the 总分 row's score wrapped as 76.4/3
        assert width_mm(s) <= usable[6], s
    for s in ("≥3000亩", "≥73.5%", "360000", "300～320", "1350人次", "105.25%"):  # a sign with its number
        assert width_mm(s) <= min(usable[3], usable[4]), s
    assert width_mm("一级指标") <= usable[0] and width_mm("二级指标") <= usable[1]
    assert usable[7] >= 7 * 3.7  # 偏差原因: at least seven characters a line (it held five)
    for s in ("1718.85", "12345.67", "年初预算数", "全年执行数"):  # the money block
        assert all(width_mm(s) <= w - 2.01 for w in T.OVERVIEW_MM[1:4]), s
    for s in ("100%", "94.18%", "分值", "执行率"):
        assert all(width_mm(s) <= w - 2.01 for w in T.OVERVIEW_MM[4:]), s
