"""Forgiving reading of typed values: each table row is (what the clerk typed, what we read)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

import pytest

from toolkit.read import clean as C
from toolkit.read import normalize as N
from toolkit.read.clean import FormulaError
from toolkit.read.normalize import Invalid


def code_of(fn, *args, **kw) -> tuple[str, str]:
    with pytest.raises(Invalid) as e:
        fn(*args, **kw)
    return e.value.code, e.value.seen


# --------------------------------------------------------------------------- text
@pytest.mark.parametrize("raw, expected", [
    ("  abc  ", "abc"),
    ("a\r\nb\rc", "a\nb\nc"),  # Word / Windows line endings
    ("第一段\x0b第二段", "第一段\n第二段"),  # Word's manual line break (vertical tab)
    ("分\u00adhyphen", "分hyphen"),  # soft hyphen
    ("a\x00b\x01c\x1fd\x7fe\x9ff", "abcdef"),  # NUL, C0, DEL, C1
    ("零\u200b宽\u200c字\u200d符\ufeff", "零宽字符"),
    ("行尾空格   \n下一行\u3000", "行尾空格\n下一行"),
    ("\u00a0前后\u3000", "前后"),
    ("\n\n  \n正文\n\n", "正文"),
    ("分页\x0c后", "分页\n后"),
    ("制表\t符", "制表 符"),
    ("   ", None),
    ("", None),
    (None, None),
    (12.0, "12"),
    (412001.0, "412001"),
    (date(2024, 4, 30), "2024-04-30"),
])
def test_clean_text(raw, expected):
    assert C.clean_text(raw) == expected


def test_clean_text_one_line_joins_lines():
    assert C.clean_text("江华瑶族自治县\n政务服务中心", multiline=False) == "江华瑶族自治县政务服务中心"
    assert C.clean_text("Li\nHua", multiline=False) == "Li Hua"


def test_no_control_character_survives():
    raw = "".join(chr(c) for c in range(0, 0x20)) + "文" + "".join(chr(c) for c in range(0x7F, 0xA0))
    out = C.clean_text(raw) or ""
    assert all(ch == "\n" or ord(ch) >= 0x20 for ch in out)
    assert not any(0x7F <= ord(ch) < 0xA0 for ch in out)
    assert "文" in out


# --------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("raw, expected", [
    ("1,234.5", D("1234.5")),
    ("１２３", D("123")),
    (" 12 ", D("12")),
    ("\u00a012\u3000", D("12")),
    ("１，２３４．５", D("1234.5")),
    ("12 345", D("12345")),
    ("−3", D("-3")),
    ("－3", D("-3")),
    (169.92, D("169.92")),
    (0.1 + 0.2, D("0.3")),  # a float from Excel arithmetic, at Excel's 15 digits
    (160.0, D("160")),
    (7, D("7")),
    ("160万元", D("160")),  # the field's own unit is forgiven
    ("", None),
    (None, None),
])
def test_parse_number(raw, expected):
    assert N.parse_number(raw, units=("万元",)) == expected


@pytest.mark.parametrize("raw", ["十个", "约10", "10左右", "1,2", "NaN", "Infinity", "1e", "--1", "一百", "((1))"])
def test_not_a_number(raw):
    assert code_of(N.parse_number, raw, units=("万元",)) == ("not_number", raw)


@pytest.mark.parametrize("raw", ["#DIV/0!", "#REF!", "#VALUE!", "#N/A", "#NAME?", "#NUM!", "#NULL!"])
def test_formula_errors(raw):
    assert C.formula_error(raw) == raw
    assert C.formula_error(FormulaError(raw)) == raw
    assert code_of(N.parse_number, FormulaError(raw)) == ("formula_error", raw)
    assert code_of(N.parse_number, raw) == ("formula_error", raw)
    assert code_of(N.parse_date, raw)[0] == "formula_error"
    assert code_of(N.parse_percent, raw)[0] == "formula_error"


def test_parse_int():
    assert N.parse_int("10人", units=("人",)) == 10
    assert N.parse_int(10.0) == 10
    assert code_of(N.parse_int, 10.5) == ("not_integer", "10.5")
    assert code_of(N.parse_int, "十人", units=("人",)) == ("not_number", "十人")


@pytest.mark.parametrize("raw, rounded, lost", [
    (D("169.92"), D("169.92"), False),
    (D("1.005"), D("1.01"), True),  # half-up, not banker's
    (D("2.675"), D("2.68"), True),
    (D("3"), D("3.00"), False),
    (D("-1.125"), D("-1.13"), True),
])
def test_round_money(raw, rounded, lost):
    assert N.round_money(raw) == (rounded, lost)


@pytest.mark.parametrize("raw, expected", [
    ("95%", D("0.95")),
    ("９５％", D("0.95")),
    (" 95 % ", D("0.95")),
    (95, D("0.95")),  # a bare number above 1 is a percentage
    (0.95, D("0.95")),  # what Excel stores for 95% in a percent cell
    ("0.95", D("0.95")),
    (1, D("1")),
    ("100%", D("1")),
    ("", None),
])
def test_parse_percent(raw, expected):
    assert N.parse_percent(raw) == expected


def test_bad_percent():
    assert code_of(N.parse_percent, "九成") == ("not_number", "九成")
    assert code_of(N.parse_percent, "约95%") == ("not_number", "约95%")


# --------------------------------------------------------------------------- dates
@pytest.mark.parametrize("raw", [
    "2024-04-30", "2024/4/30", "2024.4.30", "2024年4月30日", "20240430", "２０２４年４月３０日",
    " 2024 - 4 - 30 ", "2024-04-30 00:00:00", 45412, 45412.0, "45412",
    date(2024, 4, 30), datetime(2024, 4, 30, 0, 0),
])
def test_parse_date(raw):
    assert N.parse_date(raw) == date(2024, 4, 30)


@pytest.mark.parametrize("raw", ["2024-02-30", "2024年13月1日", "四月三十日", "30/4/2024", "1899-12-31", True])
def test_bad_date(raw):
    assert code_of(N.parse_date, raw)[0] == "bad_date"


# --------------------------------------------------------------------------- choices, e-mail
def test_parse_choice():
    assert N.parse_choice(" 是 ", ("是", "否")) == "是"
    assert N.parse_choice("√", ("是", "否")) == "是"
    assert N.parse_choice("Y", ("是", "否")) == "是"
    assert N.parse_choice("没有", ("有", "无")) == "无"
    assert N.parse_choice("部分 达成", ("达成年度目标", "部分达成", "未达成")) == "部分达成"
    assert code_of(N.parse_choice, "可能", ("是", "否")) == ("bad_choice", "可能")
    assert code_of(N.parse_choice, "没有", ("是", "否")) == ("bad_choice", "没有")


def test_parse_email():
    assert N.parse_email(" zwfwzx@example.com ") == "zwfwzx@example.com"
    assert N.parse_email("zwfwzx＠example．com") == "zwfwzx@example.com"
    assert N.parse_email("mailto:a@b.cn") == "a@b.cn"
    for bad in ("zwfwzx", "a@b", "a b@c.cn", "a@b.cn\nBcc: x@y.cn", "a@b.cn;c@d.cn"):
        assert code_of(N.parse_email, bad)[0] == "bad_email"


# --------------------------------------------------------------------------- indicator rows
@pytest.mark.parametrize("raw, expected", [
    ("≥", "≥"), (">=", "≥"), ("＞＝", "≥"), ("≧", "≥"), ("不低于", "≥"), ("不少于", "≥"), ("大于等于", "≥"),
    (" ≥ ", "≥"),
    ("≤", "≤"), ("<=", "≤"), ("＜＝", "≤"), ("不高于", "≤"), ("不超过", "≤"), ("以内", "≤"), ("小于等于", "≤"),
    ("=", "="), ("＝", "="), ("等于", "="),
    ("区间", "区间"), ("范围", "区间"),
    ("定性", "定性"),
    ("", None),
])
def test_parse_direction(raw, expected):
    assert N.parse_direction(raw) == expected


@pytest.mark.parametrize("raw", ["W", "Q", "大约", "≈"])
def test_bad_direction(raw):
    with pytest.raises(Invalid) as e:
        N.parse_direction(raw)
    assert e.value.code == "bad_direction" and e.value.seen == raw
    assert ">=" in e.value.params["accepted"] and "以内" in e.value.params["accepted"]


@pytest.mark.parametrize("raw, direction, low, high, unit", [
    ("≥3000", "≥", "3000", None, ""),
    ("≥99%", "≥", "99", None, "%"),
    ("1-7", "区间", "1", "7", ""),
    ("1～7天", "区间", "1", "7", "天"),
    ("1至7", "区间", "1", "7", ""),
    ("1天-7天", "区间", "1", "7", "天"),
    ("≤5天", "≤", "5", None, "天"),
    ("5天以内", "≤", "5", None, "天"),
    ("不低于99%", "≥", "99", None, "%"),
    ("＞＝３０００", "≥", "3000", None, ""),
    ("3,000人次", None, "3000", None, "人次"),
    ("99%", None, "99", None, "%"),
    (3000, None, "3000", None, ""),
    (" 200 条", None, "200", None, "条"),
])
def test_parse_target(raw, direction, low, high, unit):
    t = N.parse_target(raw)
    assert t is not None
    assert (t.direction, t.low, t.high, t.unit) == (direction, D(low), D(high) if high else None, unit)


@pytest.mark.parametrize("raw", ["十个", "约10", "较上年提高", "2024-04-30"])
def test_target_not_a_number(raw):
    assert code_of(N.parse_target, raw) == ("not_number", raw)


def test_parse_measure():
    assert N.parse_measure("100%") == (D("100"), "%")
    assert N.parse_measure(360000.0) == (D("360000"), "")
    assert N.parse_measure("5天") == (D("5"), "天")
    assert code_of(N.parse_measure, "≥5")[0] == "not_number"
    assert code_of(N.parse_measure, "约5天")[0] == "not_number"


def test_percent_points():
    assert N.percent_points(D("0.99"), D("100")) == (D("99"), True)
    assert N.percent_points(D("99"), D("100")) == (D("99"), False)
    assert N.percent_points(D("1"), D("99")) == (D("100"), True)
    assert N.percent_points(D("0.99"), D("1")) == (D("0.99"), False)  # both fractions: left alone
    assert N.percent_points(D("0.99"), None) == (D("0.99"), False)
    assert N.is_percent_unit("％") and N.is_percent_unit(" % ") and not N.is_percent_unit("个")
