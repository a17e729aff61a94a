"""The strict scheme language: every key a scheme file may use, and every {placeholder} its wording may use.

A misspelt key or placeholder is an error naming the line, the indicator and the nearest known
name ("是否应为 `step`"). Rule *parameters* are checked by toolkit.rules.check, not here.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable, Mapping
from typing import Any

from toolkit.rules.yaml_safe import line_of

TOP_KEYS = frozenset({"id", "title", "total", "grades", "inputs", "indicators", "report",
                      "extends", "indicators_remove", "checks", "qualitative", "adjustments", "total_cap",
                      "fields", "field_overrides", "tables", "form"})
NODE_KEYS = frozenset({"id", "name", "points", "children", "rule", "wording"})
GRADE_KEYS = frozenset({"name", "min"})
INPUT_KEYS = frozenset({"key", "label", "kind", "choices", "note", "indicator", "min", "max"})
CHECK_KEYS = frozenset({"id", "assert", "tolerance", "message", "severity"})
FIELD_KEYS = frozenset({"key", "label", "sheet", "kind", "required", "note", "choices", "unit", "min", "max"})
OVERRIDE_KEYS = frozenset({"label", "required", "note"})
TABLE_KEYS = frozenset({"name", "sheet", "title", "columns", "rows", "min_rows"})
COLUMN_KEYS = frozenset({"key", "label", "kind", "required", "note", "choices", "width"})

# Names every unit-level sentence may use besides the workbook's field keys (narrative.unit_context).
UNIT_NAMES = frozenset({"unit_name", "region", "short_name", "area_prefix", "fiscal_year", "income_total",
                        "spend_total", "balance_total", "execution_rate", "total", "grade"})
# Names an indicator's sentence may use besides the unit's (narrative.leaf_values and the checklist text).
LEAF_NAMES = frozenset({"name", "points", "score", "note", "value", "numerator", "denominator",
                        "numerator_money", "denominator_money", "change", "change_word", "tier", "choice",
                        "choice_word", "details"})
# Cases scoring reports (ns.facts["case"]) whose sentence an indicator's wording may give.
CASES = frozenset({"zero_denominator", "not_applicable", "no_previous", "undefined"})
WORDING_KEYS = frozenset({"sentence", "heading", "full", "partial", "no_note", "by", "apart_from_execution",
                          "choice_words", "change_words", "target", "table_not_applicable"}) | CASES
_WORDING_PLAIN = frozenset({"choice_words", "change_words", "target", "table_not_applicable"})

UNIT, LEAF, ONLY = "unit", "leaf", "only"  # the context a sentence is filled with
PLAIN = None  # a text that is not filled (labels, fonts): its braces are not checked
_ANY = "*"  # a mapping whose keys are free (grade names, directions, fonts …)
Ctx = tuple[str, frozenset[str]]


def unit(*extra: str) -> Ctx:
    return (UNIT, frozenset(extra))


def leaf(*extra: str) -> Ctx:
    return (LEAF, frozenset(extra))


def only(*names: str) -> Ctx:
    return (ONLY, frozenset(names))


_HEAD = only("name", "score", "points", "items")
_LINE = only("n", "name", "target_text", "target", "actual", "score", "points")
# report: key → the context its text is filled with, or a nested spec (narrative.py, table.py, layout.py).
Spec = Mapping[str, Any]
REPORT: Spec = {
    "fonts": {_ANY: PLAIN},
    "title": unit(), "basis": unit(), "opening": unit("basis", "notice"), "opening_no_notice": unit("basis"),
    "headings": {_ANY: PLAIN},
    "basic_info": unit(), "basic_info_no_units": unit(), "basic_info_count_only": unit(),
    "basic_info_units_only": unit(), "staff": unit(), "money": unit(), "money_other_income": unit(),
    "score_intro": {_ANY: unit()},
    "level_heading": only("n", "name", "points", "score"),
    "level2": _HEAD, "level2_single": _HEAD, "level2_blocks": _HEAD,
    "change_words": {"increase": PLAIN, "decrease": PLAIN},
    "met_items": leaf("items"), "unmet_item": leaf("text", "unmet"), "unmet_item_text": leaf("text", "unmet"),
    "defaults": {k: leaf() for k in ("sentence", "checklist_full", "checklist_partial", *sorted(CASES))},
    "indicator_target": {_ANY: only("target", "target_max", "unit", "name")},
    "indicator_heading": leaf(), "no_indicators": leaf(),
    "indicator_line": _LINE, "indicator_line_qualitative": _LINE, "indicator_deviation": only("note"),
    "benefit_item": only("n", "label", "text"), "benefits": PLAIN, "list_item": only("n", "text"), "none": PLAIN,
    "attachment_title": unit(), "execution_indicator": PLAIN,
    "projects_intro": unit("count", "scored", "average"),  # the outline block projects (spec 06)
    "projects_intro_unscored": unit("count"),
    "table": {"labels": {_ANY: PLAIN}, "year_value": only("fiscal_year"), "grade": only("grade"),
              "not_applicable": PLAIN, "checklist_all": PLAIN, "checklist_some": only("met", "unmet")},
    "analysis": {  # 汇总分析报告.docx (write/analysis_report.py)
        "title": only("fiscal_year"), "opening": only("fiscal_year"), "attachment": only("fiscal_year"),
        "headings": {_ANY: PLAIN}, "labels": {_ANY: PLAIN}, "themes": {_ANY: PLAIN}, "application": {_ANY: PLAIN},
        "change_words": {_ANY: PLAIN}, "none": PLAIN,
        "basic": only("submitted", "passed", "returned", "unreadable"),
        "basic_roster": only("roster", "reported", "missing", "missing_names"),
        "basic_forms": only("dept", "project"),
        "distribution": only("grade", "count", "percent"), "distribution_intro": only("items"), "chart_note": PLAIN,
        "scores": only("passed", "average", "highest", "highest_units", "lowest", "lowest_units"),
        "level_line": only("name", "points", "average", "rate", "highest", "lowest"),
        "weakest_intro": PLAIN, "weakest_line": only("n", "level1", "name", "points", "average", "rate", "below"),
        "ranking": only("first", "first_total", "count"),
        "previous": only("matched", "improved", "declined", "unchanged", "change", "change_word"),
        "previous_none": PLAIN, "grade_moves_intro": PLAIN, "no_grade_moves": PLAIN,
        "grade_move": only("previous_grade", "grade", "count", "units"),
        "theme_intro": PLAIN, "theme_line": only("n", "theme", "count", "units"),
        "below_full_intro": PLAIN, "below_full_line": only("n", "level1", "level2", "name", "points", "below", "units"),
        "application_intro": PLAIN, "application_line": only("grade", "count", "rule", "units"),
    },
    # the report's outline (spec 08.5, write/report/outline.py): checked by check_outline
    "outline": PLAIN, "score_first": {_ANY: unit()},
    "cover": {"title": unit(), "lines": PLAIN, "issuer": unit()},
}


def suggest(word: str, known: Iterable[str]) -> str:
    """"，是否应为 `step`" for the nearest known name, or ""."""
    near = difflib.get_close_matches(str(word), sorted(known), n=1, cutoff=0.6)
    return f"，是否应为 `{near[0]}`" if near else ""


def unknown_keys(d: Any, known: Iterable[str], where: str, what: str) -> list[str]:
    """One problem per key of mapping ``d`` that is not in ``known``."""
    if not isinstance(d, Mapping):
        return []
    known = frozenset(known)
    return [f"{where}（{line_of(d, k)}）：{what}中没有“{k}”这一项{suggest(k, known)}"
            for k in d if k not in known]


def placeholders(text: Any) -> list[str]:
    """The names in "{a}…{b:.2f}"; [] for a text with stray braces (it is printed as written)."""
    try:
        parsed = list(string.Formatter().parse(str(text)))
    except ValueError:
        return []
    return [re.split(r"[.\[]", f, maxsplit=1)[0] for _, f, _, _ in parsed if f]


def _allowed(ctx: Ctx | None, fields: frozenset[str]) -> frozenset[str] | None:
    if ctx is None:
        return None
    base, extra = ctx
    if base == UNIT:
        return fields | UNIT_NAMES | extra
    if base == LEAF:
        return fields | UNIT_NAMES | LEAF_NAMES | extra
    return extra


def check_text(text: Any, allowed: frozenset[str] | None, where: str) -> list[str]:
    if allowed is None:
        return []
    out = []
    for name in dict.fromkeys(placeholders(text)):
        if name not in allowed:
            out.append(f"{where}：文字中的“{{{name}}}”不是可用的值{suggest(name, allowed)}"
                       "（可用的值见内置方案 report: 前的说明）")
    return out


def check_report(report: Any, fields: frozenset[str]) -> list[str]:
    """Every key of ``report:`` known, and every placeholder one its sentence is filled with."""
    problems: list[str] = []

    def walk(v: Any, spec: Any, path: str, holder: Any, key: Any) -> None:
        if isinstance(spec, Mapping):
            if not isinstance(v, Mapping):
                return
            for k, x in v.items():
                if k not in spec and _ANY not in spec:
                    problems.append(f"report.{path}{k}（{line_of(v, k)}）：report 中没有“{k}”这一项"
                                    f"{suggest(k, [s for s in spec if s != _ANY])}")
                else:
                    walk(x, spec[k] if k in spec else spec[_ANY], f"{path}{k}.", v, k)
            return
        where = f"report.{path.rstrip('.')}（{line_of(holder, key)}）"
        for text in v if isinstance(v, list) else [v]:
            if isinstance(text, (str, int, float)):
                problems.extend(check_text(text, _allowed(spec, fields), where))

    walk(report, REPORT, "", report, None)
    if isinstance(report, Mapping):
        problems.extend(check_outline(report.get("outline"), fields))
    return problems


def check_wording(wording: Any, where: str, cases: Iterable[str], fields: frozenset[str]) -> list[str]:
    """An indicator's ``wording:``: known keys (its rule's own case names too) and placeholders."""
    if not isinstance(wording, Mapping):
        return []
    known = WORDING_KEYS | frozenset(cases)
    problems = unknown_keys(wording, known, where, "wording ")
    allowed = _allowed(leaf(), fields)
    for k, v in wording.items():
        if k in known and k not in _WORDING_PLAIN:
            for text in v.values() if isinstance(v, Mapping) else [v]:
                problems.extend(check_text(text, allowed, f"{where} wording.{k}（{line_of(wording, k)}）"))
    return problems


def rule_cases(rule: Any) -> set[str]:
    """The ``case:`` names a rule's zero_denominator (at any depth) gives its sentences."""
    out: set[str] = set()
    stack = [rule]
    while stack:
        x = stack.pop()
        if isinstance(x, Mapping):
            if isinstance(x.get("case"), str):
                out.add(x["case"])
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return out


# --------------------------------------------------------------------------- report: outline:
# The blocks an outline may name (write/report/outline.py runs them), the keys of an entry, the
# appendices and the columns of the indicator table (write/report/table.py COLUMN_NAMES).
OUTLINE_BLOCKS = frozenset({"projects", "title", "opening", "overview", "basic", "staff", "money", "score_first", "execution",
                            "levels", "performance", "problems", "plans", "signature", "appendix",
                            "cover", "kv_table", "text", "heading"})
OUTLINE_KEYS = frozenset({"block", "heading", "level", "fields", "text", "appendix", "columns", "lines", "issuer"})
OUTLINE_APPENDICES = frozenset({"self_evaluation", "scoring_table"})
OUTLINE_COLUMNS = frozenset({"一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分",
                             "偏差原因分析及改进措施", "评价标准", "指标说明", "扣分原因",
                             "level1", "level2", "level3", "target", "actual", "points", "score", "deviation",
                             "criterion", "reason"})


def check_outline(outline: Any, fields: frozenset[str]) -> list[str]:
    """``report: outline:``: a list of block names or entries with known keys, blocks, columns and placeholders."""
    if outline is None:
        return []
    if not isinstance(outline, list):
        return ["report.outline：outline 必须是列表（每行“- 块名”或“- {block: 块名, heading: 标题}”）"]
    problems: list[str] = []
    for i, entry in enumerate(outline, start=1):
        where = f"report.outline 第{i}项"
        if not isinstance(entry, Mapping):
            if str(entry) not in OUTLINE_BLOCKS:
                problems.append(f"{where}：没有“{entry}”这种块{suggest(str(entry), OUTLINE_BLOCKS)}")
            continue
        where = f"{where}（{line_of(entry)}）"
        problems.extend(unknown_keys(entry, OUTLINE_KEYS, where, "outline 的一项"))
        block = entry.get("block")
        if block is not None and str(block) not in OUTLINE_BLOCKS:
            problems.append(f"{where}：没有“{block}”这种块{suggest(str(block), OUTLINE_BLOCKS)}")
        if block is None and not any(k in entry for k in ("text", "appendix", "heading")):
            problems.append(f"{where}：需要 block、text、appendix 或 heading 之一")
        app = entry.get("appendix")
        if app is not None and str(app) not in OUTLINE_APPENDICES:
            problems.append(f"{where}：没有“{app}”这种附件{suggest(str(app), OUTLINE_APPENDICES)}")
        cols = entry.get("columns")
        for col in cols if isinstance(cols, list) else ([] if cols is None else [cols]):
            if str(col) not in OUTLINE_COLUMNS:
                problems.append(f"{where}：附表没有“{col}”这一列{suggest(str(col), OUTLINE_COLUMNS)}")
        for f in entry.get("fields") or []:
            key = f.get("key") if isinstance(f, Mapping) else f
            if key is not None and str(key) not in fields | UNIT_NAMES:
                problems.append(f"{where}：没有“{key}”这个字段{suggest(str(key), fields | UNIT_NAMES)}")
        for k in ("text", "heading"):
            if k in entry:
                problems.extend(check_text(entry[k], fields | UNIT_NAMES, f"{where} {k}"))
    return problems
