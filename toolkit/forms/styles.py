"""Cell formats and row heights of the standard workbook: fonts, fills, named styles, text sizing."""

from __future__ import annotations

import functools
import math
import unicodedata
from typing import Any

from xlsxwriter.worksheet import Worksheet

from toolkit.fields import Column

FONT = "宋体"
TITLE_FONT = "黑体"
INPUT_FILL = "#FFF2CC"
LABEL_FILL = "#F2F2F2"
HEAD_FILL = "#DDEBF7"
CALC_FILL = "#E2EFDA"
MARK_FILL = "#FFC7CE"
MARK_BORDER = "#C00000"
LINE_PT = 15.0  # height of one line of 宋体 11, in points


_BORDER = {"border": 1, "border_color": "#808080", "valign": "vcenter"}
STYLES: dict[str, dict[str, Any]] = {
    # inputs (unlocked)
    "in_text": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "text_wrap": True},
    "in_wrap": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "text_wrap": True, "valign": "top"},
    "in_center": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "align": "center"},
    "in_int": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": "0", "align": "center"},
    "in_num": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "align": "center"},
    "in_money": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": "#,##0.00"},
    "in_date": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": 'yyyy"年"m"月"d"日"',
                "align": "left"},
    "in_pct": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": "0.00%", "align": "center"},
    "in_tabletext": {**_BORDER, "bg_color": INPUT_FILL, "locked": False, "num_format": "@", "align": "center"},
    # locked text
    "title": {"font_name": TITLE_FONT, "font_size": 16, "align": "center", "valign": "vcenter"},
    "subtitle": {"align": "center", "valign": "vcenter", "font_color": "#404040"},
    "hint": {"font_size": 10, "font_color": "#404040", "text_wrap": True, "valign": "top"},
    "section": {"font_name": TITLE_FONT, "font_size": 12, "valign": "vcenter"},
    "para": {"text_wrap": True, "valign": "top"},
    "head": {**_BORDER, "bold": True, "bg_color": HEAD_FILL, "align": "center", "text_wrap": True},
    "block": {**_BORDER, "bold": True, "bg_color": HEAD_FILL, "text_wrap": True},
    "block_c": {**_BORDER, "bold": True, "bg_color": HEAD_FILL, "align": "center"},
    "label": {**_BORDER, "bg_color": LABEL_FILL, "text_wrap": True},
    "label_c": {**_BORDER, "bg_color": LABEL_FILL, "align": "center", "text_wrap": True},
    "note": {**_BORDER, "font_size": 10, "font_color": "#404040", "text_wrap": True},
    "cell": {**_BORDER, "text_wrap": True},
    "cell_c": {**_BORDER, "align": "center", "text_wrap": True},
    "cell_err": {**_BORDER, "align": "center", "font_color": "#C00000", "bold": True},
    "link": {**_BORDER, "align": "center", "font_color": "#0563C1", "underline": 1},
    "calc_money": {**_BORDER, "bg_color": CALC_FILL, "num_format": "#,##0.00"},
    "calc_pct": {**_BORDER, "bg_color": CALC_FILL, "num_format": "0.00%", "align": "center"},
    "calc_text": {**_BORDER, "bg_color": CALC_FILL},
    "officer": {"locked": False, "bottom": 1, "valign": "vcenter"},
    "legend_in": {**_BORDER, "bg_color": INPUT_FILL},
    "legend_label": {**_BORDER, "bg_color": LABEL_FILL},
    "legend_calc": {**_BORDER, "bg_color": CALC_FILL},
    "legend_mark": {**_BORDER, "bg_color": MARK_FILL, "border_color": MARK_BORDER},
    "star": {"font_color": "#C00000", "bold": True},
    "grey": {"font_size": 9, "font_color": "#7F7F7F"},
}
MARKED = {"bg_color": MARK_FILL, "border_color": MARK_BORDER, "font_color": "#9C0006"}

# Input style of each field kind.
KIND_STYLE = {
    "text": "in_text", "longtext": "in_wrap", "int": "in_int", "year": "in_int", "money": "in_money",
    "money_signed": "in_money", "area": "in_money", "date": "in_date", "email": "in_text",
    "choice": "in_center", "percent": "in_pct", "score": "in_num",
}


def column_style(col: Column) -> str:
    """The input style of a table column."""
    if col.key in ("target", "target_max", "actual"):
        return "in_tabletext"
    if col.kind == "longtext" or col.key == "name":
        return "in_wrap"
    if col.kind == "choice" or col.key == "unit":
        return "in_center"
    if col.kind == "score":
        return "in_num"
    return "in_text"


@functools.lru_cache(maxsize=1024)  # labels, hints and instructions repeat in every workbook


def display_width(s: str) -> int:
    if s.isascii():
        return len(s)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def lines(text: str, width: float) -> int:
    usable = max(width - 1, 4)
    return sum(max(1, math.ceil(display_width(p) / usable)) for p in str(text).split("\n"))


def height(text: Any, width: float, min_lines: int = 1) -> float:
    n = max(min_lines, lines(str(text), width) if text not in (None, "") else 1)
    return min(409.0, n * LINE_PT + 6)


class FormSheet(Worksheet):  # type: ignore[misc]  # XlsxWriter has no type information
    """A worksheet of our workbooks. Their formulas use Excel 2010 functions only
    (tests/test_live_score.py scans every one), so XlsxWriter's rewriting of dynamic-array function
    names (about 30 regular expressions over each formula: 60 ms for a returned workbook's live
    formulas) never has anything to rewrite; only the leading = is taken off, as XlsxWriter does."""

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        if formula.startswith("{"):
            formula = formula[1:]
        if formula.startswith("="):
            formula = formula[1:]
        if formula.endswith("}"):
            formula = formula[:-1]
        return formula
