"""A scored project workbook → the filled 项目支出绩效自评表 (.docx, the MOF table on A4 portrait).

    data = build_project_report(scheme, sub, card)   # bytes; identical input → identical bytes
    project_report_file_name(sub)  # 县公路中心农村道路养护2023年度项目支出绩效自评表.docx

One bordered table under the title 项目支出绩效自评表 and （2023年度）: 项目名称 / 主管部门 / 实施单位,
the 项目资金（万元） block with 分值 / 执行率 / 得分, 年度总体目标, the 绩效指标 rows with their
computed 得分, 总分 and 自评等级, then 评价结论 / 存在的问题 / 改进措施 when filled, and a signature
line. Page format, fonts, table XML and the package come from the department report
(``toolkit.write.report``); the blocks of the form are laid out on millimetre positions that
``project_table`` turns into one table grid.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from toolkit.model import NodeScore, RowScore, Scorecard, Submission
from toolkit.rules.model import Scheme
from toolkit.text.names import safe_file_stem
from toolkit.text.numbers import fixed, pct, points
from toolkit.write import atomic
from toolkit.write.project_table import Box, fit, table
from toolkit.write.report import MAX_NAME_CHARS, layout, writer
from toolkit.write.report.narrative import Para, cn_date, indicator_actual, indicator_target
from toolkit.write.report.prose import clean_paragraphs, clean_text

__all__ = ["build_project_report", "write_project_report", "project_report_file_name"]

TITLE = "项目支出绩效自评表"
REPORT_SUFFIX = "年度项目支出绩效自评表.docx"
EXECUTION_ID = "execution"  # the scheme indicator that scores 预算执行率 (scheme.report may name another)
FUND_ROWS = (("total", "年度资金总额"), ("fiscal", "其中：本年财政拨款"),
             ("carryover", "上年结转资金"), ("other", "其他资金"))
FUND_COLS = ("initial", "full", "spent")
# 年度指标值 as the department report writes it (a scheme's report.indicator_target overrides these)
TARGETS = {"≥": "≥{target}{unit}", "≤": "≤{target}{unit}", "=": "{target}{unit}",
           "区间": "{target}～{target_max}{unit}", "定性": "{target}"}
CLOSING = (("conclusion", "评价结论"), ("problems_text", "存在的问题"), ("measures", "改进措施"))

# Column edges in mm from the left of the 156 mm table. Table text is 五号: a Chinese character is
# 3.7 mm and a cell loses 2 mm to its margins, so 10 mm holds the block labels two characters a
# line, 15 mm 产出/指标, 17 mm 服务对象/满意度, 25 mm 偏差原因分析/及改进措施 and 自评等级：优, 19 mm
# 20 mm 2900人次, 22 mm a money amount 12345.67; 三级指标 gets what is left (6 characters a line).
L = 10  # the block labels: 项目资金（万元） · 年度总体目标 · 绩效指标
# 绩效指标: 一级 | 二级 | 三级 | 年度指标值 | 实际完成值 | 分值 | 得分 | 偏差原因分析及改进措施
IND = (L, 25, 42, 68, 88, 108, 118, 131, 156)
# 项目资金: row label | 年初预算数 | 全年预算数 | 全年执行数 | 分值 | 执行率 | 得分
FUND = (L, 36, 58, 80, 102, 114, 133, 156)
LABEL_W = 44  # 项目名称 / 主管部门 labels
TEXT_LABEL_W = 27  # 评价结论 / 存在的问题 / 改进措施 labels


def _money(sub: Submission, key: str) -> str:
    v = sub.get(key)
    return "" if v is None or v == "" else fixed(v)


def _text(v: Any) -> str:
    """Clerk text for a cell: pasted line breaks joined, real paragraphs kept as lines."""
    return "\n".join(clean_paragraphs(v))


def _header(sub: Submission) -> list[list[Box]]:
    return [
        [Box("项目名称", 0, LABEL_W), Box(clean_text(sub.get("project_name")), LABEL_W, 156)],
        [Box("主管部门", 0, LABEL_W), Box(clean_text(sub.get("dept_name")), LABEL_W, IND[4]),
         Box("实施单位", IND[4], IND[5]), Box(clean_text(sub.get("unit_name")), IND[5], 156)],
    ]


def execution(scheme: Scheme, card: Scorecard) -> NodeScore | None:
    return card.node(str(scheme.report.get("execution_indicator") or EXECUTION_ID))


def _funds(scheme: Scheme, sub: Submission, card: Scorecard) -> list[list[Box]]:
    exe = execution(scheme, card)
    heads = ("年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分")
    rows = [[Box("项目资金（万元）", 0, L, merge="restart"), Box("", L, FUND[1])]
            + [Box(h, FUND[i + 1], FUND[i + 2], head=True) for i, h in enumerate(heads)]]
    for n, (row, label) in enumerate(FUND_ROWS):
        boxes = [Box("", 0, L, merge="continue"), Box(label, L, FUND[1])]
        boxes += [Box(_money(sub, f"fund_{row}_{col}"), FUND[i + 1], FUND[i + 2]) for i, col in enumerate(FUND_COLS)]
        if n == 0:
            rate = pct(exe.value, none="") if exe is not None else ""
            merged = (points(exe.points) if exe else "", rate, points(exe.score) if exe else "")
            boxes += [Box(t, FUND[i + 4], FUND[i + 5], merge="restart") for i, t in enumerate(merged)]
        else:
            boxes += [Box("", FUND[i + 4], FUND[i + 5], merge="continue") for i in range(3)]
        rows.append(boxes)
    return rows


def _goals(sub: Submission) -> list[list[Box]]:
    return [
        [Box("年度总体目标", 0, L, merge="restart"), Box("预期目标", L, IND[4], head=True),
         Box("实际完成情况", IND[4], 156, head=True)],
        [Box("", 0, L, merge="continue"), Box(_text(sub.get("goal_expected")), L, IND[4], align="left"),
         Box(_text(sub.get("goal_actual")), IND[4], 156, align="left")],
    ]


def indicator_rows(scheme: Scheme, card: Scorecard) -> list[tuple[str, ...]]:
    """One tuple per indicator row: 一级, 二级, 三级, 年度指标值, 实际完成值, 分值, 得分, 偏差原因."""
    report = {"indicator_target": {**TARGETS, **(scheme.report.get("indicator_target") or {})}}
    out: list[tuple[str, ...]] = []
    for leaf in card.leaves():
        for rs in leaf.rows:
            v = rs.row.values
            out.append((clean_text(v.get("level1")) or leaf.name, clean_text(v.get("level2")),
                        clean_text(v.get("name")), indicator_target(rs, report), _actual(rs),
                        points(rs.points), points(rs.score), _text(v.get("deviation_note"))))
    return out


def _actual(rs: RowScore) -> str:
    a = rs.row.values.get("actual")
    return "" if a is None or a == "" else indicator_actual(rs)


def _indicators(scheme: Scheme, card: Scorecard) -> list[list[Box]]:
    heads = ("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施")
    rows = [[Box("绩效指标", 0, L, merge="restart")]
            + [Box(h, IND[i], IND[i + 1], head=True) for i, h in enumerate(heads)]]
    lines = indicator_rows(scheme, card)
    for i, line in enumerate(lines):
        boxes = [Box("", 0, L, merge="continue")]
        for col, text in enumerate(line):
            left, right = IND[col], IND[col + 1]
            if col < 2:  # equal consecutive 一级 (and, within one, 二级) names share a merged cell
                same = i > 0 and text != "" and lines[i - 1][:col + 1] == line[:col + 1]
                nxt = i + 1 < len(lines) and text != "" and lines[i + 1][:col + 1] == line[:col + 1]
                merge = "continue" if same else ("restart" if nxt else None)
                boxes.append(Box("" if same else text, left, right, merge=merge))
            else:
                boxes.append(Box(text, left, right, align="left" if col in (2, 7) else "center"))
        rows.append(boxes)
    return rows


def _total(scheme: Scheme, card: Scorecard) -> list[Box]:
    return [Box("总分", 0, IND[5], head=True), Box(points(scheme.total), IND[5], IND[6]),
            Box(points(card.total), IND[6], IND[7]), Box(f"自评等级：{card.grade}", IND[7], 156)]


def _closing(sub: Submission) -> list[list[Box]]:
    return [[Box(label, 0, TEXT_LABEL_W), Box(_text(sub.get(key)), TEXT_LABEL_W, 156, align="left")]
            for key, label in CLOSING if clean_text(sub.get(key))]


def signature_lines(sub: Submission) -> tuple[str, str]:
    """(项目负责人 / 财务负责人 / 联系人及电话, 填报日期), only those filled."""
    contact = " ".join(x for x in (clean_text(sub.get("contact_name")), clean_text(sub.get("contact_phone"))) if x)
    when = sub.get("report_date")
    parts = (("项目负责人", clean_text(sub.get("project_leader"))), ("财务负责人", clean_text(sub.get("finance_leader"))),
             ("联系人及电话", contact))
    people = "\u3000\u3000".join(f"{k}：{v}" for k, v in parts if v)
    day = cn_date(when) if isinstance(when, date) else clean_text(when)
    return people, f"填报日期：{day}" if day else ""


def _year(sub: Submission) -> str:
    return str(sub.fiscal_year or clean_text(sub.get("fiscal_year")))


# Table lines at single spacing (14 pt instead of the report's 1.5 lines), rows at least 0.6 cm
# (not 0.7) and no automatic space between Chinese characters and digits: 15 rows fit two pages.
ROW_MIN = layout.cm(0.6)
_CENTRED = '<w:snapToGrid w:val="0"/>'  # the （2023年度） line: 20 pt, off the 28.95 pt body grid
_DENSE = ('<w:autoSpaceDE w:val="0"/><w:autoSpaceDN w:val="0"/>'
          '<w:spacing w:before="0" w:after="0" w:line="280" w:lineRule="exact"/>')


def dense(xml: str) -> str:
    for sid in (layout.STYLE_IDS["table_text"], layout.STYLE_IDS["table_head"]):
        xml = xml.replace(f'<w:pStyle w:val="{sid}"/>', f'<w:pStyle w:val="{sid}"/>{_DENSE}')
    return xml.replace(f'<w:trHeight w:val="{writer.ROW_MIN}"', f'<w:trHeight w:val="{ROW_MIN}"')


def document_xml(scheme: Scheme, sub: Submission, card: Scorecard) -> str:
    boxes = (_header(sub) + _funds(scheme, sub, card) + _goals(sub) + _indicators(scheme, card)
             + [_total(scheme, card)] + _closing(sub))
    title = (f'<w:p><w:pPr><w:pStyle w:val="{layout.STYLE_IDS["title"]}"/><w:spacing w:after="0"/></w:pPr>'
             f'<w:r><w:t>{TITLE}</w:t></w:r></w:p>')
    year = (f'<w:p><w:pPr>{_CENTRED}<w:spacing w:before="0" w:after="120" w:line="400" w:lineRule="exact"/>'
            f'<w:ind w:left="0" w:right="0" w:firstLineChars="0" w:firstLine="0"/><w:jc w:val="center"/></w:pPr>'
            f'<w:r><w:t>（{writer.esc(_year(sub))}年度）</w:t></w:r></w:p>')
    body = [title, year, dense(writer.table(table(boxes, fit)))]
    people, day = signature_lines(sub)
    body += [writer.paragraph(Para("table_text", t, align=a)) for t, a in ((people, "left"), (day, "right")) if t]
    body.append(writer.paragraph(Para("spacer", "")))  # a document may not end with a table
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<w:document xmlns:w="{layout.W_NS}" xmlns:r="{layout.R_NS}"><w:body>'
            + "".join(body) + layout.sect_pr_xml() + "</w:body></w:document>")


def build_project_report(scheme: Scheme, sub: Submission, card: Scorecard) -> bytes:
    """The filled 项目支出绩效自评表 as .docx bytes."""
    when = sub.get("report_date")
    name = clean_text(sub.get("project_name"))
    core = writer.core_xml(f"{name}{TITLE}", sub.unit_name, when if isinstance(when, date) else None)
    fonts = layout.Fonts.from_report(scheme.report or {})
    return writer.package(fonts, document_xml(scheme, sub, card), core)


def write_project_report(scheme: Scheme, sub: Submission, card: Scorecard, path: Path | str) -> None:
    atomic.write_bytes(Path(path), build_project_report(scheme, sub, card))


def project_report_file_name(sub: Submission) -> str:
    """``<实施单位><项目名称><年度>年度项目支出绩效自评表.docx``, safe on Windows, macOS and Linux."""
    suffix = f"{_year(sub)}{REPORT_SUFFIX}"
    stem = f"{sub.unit_name}{sub.text('project_name')}"
    return safe_file_stem(stem, MAX_NAME_CHARS - len(suffix), suffix=suffix)
