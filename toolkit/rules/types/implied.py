"""Indicator rows without a 指标性质 column (the project form): 年度指标值 and 实际完成值 read in Excel.

The Python reader (toolkit.read.normalize.parse_target, toolkit.check.indicators.IndicatorRow.implied)
takes the direction from the target's text: "≥1200", "≤24", "=100", "＝100%", "1～7天", a plain number
is ≥, text without a number is 定性. A formula reads only the spellings it can read for certain:

- an optional leading ≥ ≤ = ＝ > < >= <= (> is ≥ and < is ≤, as normalize's direction lookup has it),
  then a plain number (digits, at most one inner dot, ≤ 15 characters), then nothing, %, ％, ‰ or
  exactly the row's 计量单位 (when that unit holds nothing that reads as a digit after NFKC, like ㎡);
- "lo～hi", "lo~hi", "lo-hi", "lo至hi" with plain numbers and the same suffixes (区间);
- text without any digit (定性); a cell the reader takes for a formula error (#N/A …) is unreadable.

Spaces are dropped as the reader's squash drops them. Everything else makes the row's direction "?",
and the row's live score says 提交后由财政局计算. The 实际完成值 of a numeric row is a plain number with
the same suffixes. The reading happens in hidden helper cells right of the live score column
(``IMPLIED_HELPERS``, written by ``helper_formulas``): one row's formula would pass Excel's 8192
characters if it read the texts itself (Excel 2010 has no LET).
"""

from __future__ import annotations

from toolkit.rules.excel import TableCells

# helper key → what its cell holds for the row
IMPLIED_HELPERS: dict[str, str] = {
    "t": "年度指标值（去空格）",
    "u": "计量单位（可作后缀时）",
    "k": "方向符号长度",
    "b": "去方向符号和单位后的文字",
    "lo": "数值或下限（文字）",
    "hi": "上限（文字）",
    "dir": "方向",
    "a": "实际完成值（去空格和单位）",
    "low": "指标值",
    "high": "上限",
    "act": "完成值",
}
SUFFIXES = ("%", "％", "‰")
PERCENT = ("%", "％")
# Characters that are (or NFKC-decompose to) digits: a unit holding one cannot follow a number in
# the reader's regex (10㎡ reads as "10m2": no number, 定性), so such a unit is never stripped.
DIGITISH = ("0123456789０１２３４５６７８９⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉①②③④⑤⑥⑦⑧⑨⑩⑴⑵⑶⑷⑸⑹⑺⑻⑼⑽⒈⒉⒊⒋⒌⒍⒎⒏⒐"
            "½¼¾㎠㎡㎢㎣㎤㎥㎦㎧㎨㎟㍘㍙㍚㍛㍜㍝㍞㍟㍠㍡㍢㍣㍤㍥㍦㍧㍨㍩㍪㍫㍬㍭㍮㍯㍰㏠㏡㏢㏣㏤㏥㏦㏧㏨㏩㏪㏫㏬㏭㏮"
            "㏯㏰㏱㏲㏳㏴㏵㏶㏷㏸㏹㏺㏻㏼㏽㏾㋀㋁㋂㋃㋄㋅㋆㋇㋈㋉㋊㋋")
_SEPS = ("～", "-", "至")  # unified to "~" before the one separator is looked for
_DIRECTION_SUFFIXES = ("以内", "以下", "以上")  # the reader takes these as ≤ / ≥, never as a unit


def _array(chars: str) -> str:
    return "{" + ",".join(f'"{c}"' for c in chars) + "}"


def has_digitish(text: str) -> str:
    """Excel: ``text`` holds a character the reader may read as a digit."""
    return f"SUMPRODUCT(--ISNUMBER(FIND({_array(DIGITISH)},{text})))>0"


def plain(x: str) -> str:
    """Excel: the text ``x`` is a plain decimal VALUE() reads exactly as the reader does."""
    dots = f'(LEN({x})-LEN(SUBSTITUTE({x},".","")))'
    digits = f"SUMPRODUCT(LEN({x})-LEN(SUBSTITUTE({x},{_array('0123456789')},\"\")))"
    return (f'AND(LEN({x})>0,LEN({x})<=15,{digits}+{dots}=LEN({x}),{dots}<=1,LEFT({x},1)<>".",'
            f'RIGHT({x},1)<>".")')


def _suffix_len(text: str, unit: str) -> str:
    ends = ",".join(f'RIGHT({text},1)="{c}"' for c in SUFFIXES)
    return (f"IF(OR({ends}),1,IF(AND(LEN({unit})>0,LEN({text})>LEN({unit}),RIGHT({text},LEN({unit}))={unit}),"
            f"LEN({unit}),0))")


def ends_percent(text: str) -> str:
    return "OR(" + ",".join(f'RIGHT({text},1)="{c}"' for c in PERCENT) + ")"


def squashed(ref: str) -> str:
    """The cell's text without spaces (ASCII, no-break, ideographic), as the reader's squash drops them."""
    return f'SUBSTITUTE(SUBSTITUTE(SUBSTITUTE({ref}&""," ",""),"\u00a0",""),"\u3000","")'


def actual_text(t: TableCells, i: int) -> str:
    """The 实际完成值 cell without spaces."""
    return squashed(str(t.cell("actual", i)))


def helper_formulas(t: TableCells, i: int) -> dict[str, str]:
    """Helper key → the formula of its cell on data row ``i`` (see IMPLIED_HELPERS)."""
    h = {k: t.helper(k, i) for k in IMPLIED_HELPERS}
    target, unit = t.cell("target", i), t.cell("unit", i)
    u_raw = squashed(unit) if unit else '""'
    unsafe = [has_digitish(u_raw), *(f'RIGHT({u_raw},2)="{s}"' for s in _DIRECTION_SUFFIXES)]
    b2 = h["b"]
    for sep in _SEPS:
        b2 = f'SUBSTITUTE({b2},"{sep}","~")'
    n_sep = f'(LEN({b2})-LEN(SUBSTITUTE({b2},"~","")))'
    at = f"FIND(\"~\",{b2})"
    one = f"AND({h['k']}=0,{n_sep}=1)"
    first = f"LEFT({h['t']},1)"
    sign = f'IF(OR({first}="≥",{first}=">"),"≥",IF(OR({first}="≤",{first}="<"),"≤","="))'
    lo_ok, hi_ok = plain(h["lo"]), plain(h["hi"])
    a = actual_text(t, i)
    return {
        "t": f"={squashed(str(target))}",
        "u": f'=IF(OR({",".join(unsafe)}),"",{u_raw})',
        "k": (f'=IF(ISNUMBER(FIND("|"&LEFT({h["t"]},2)&"|","|>=|<=|")),2,'
              f'IF(ISNUMBER(FIND("|"&{first}&"|","|≥|≤|=|＝|>|<|")),1,0))'),
        "b": f'=MID({h["t"]},{h["k"]}+1,MAX(0,LEN({h["t"]})-{h["k"]}-{_suffix_len(h["t"], h["u"])}))',
        "lo": f'=IF({one},LEFT({b2},{at}-1),{h["b"]})',
        "hi": f'=IF({one},MID({b2},{at}+1,99),"")',
        "dir": (f'=IF(LEN({h["t"]})=0,"",IF(NOT({has_digitish(h["t"])}),'
                f'IF(LEFT(TRIM({target}&""),1)="#","?","定性"),'
                f'IF(AND({lo_ok},LEN({h["hi"]})=0),IF({h["k"]}=0,"≥",{sign}),'
                f'IF(AND({lo_ok},{hi_ok}),"区间","?"))))'),
        "a": f'=MID({a},1,MAX(0,LEN({a})-{_suffix_len(a, h["u"])}))',
        "low": (f'=IF(OR({h["dir"]}="≥",{h["dir"]}="≤",{h["dir"]}="=",{h["dir"]}="区间"),'
                f'VALUE({h["lo"]}),"")'),
        "high": f'=IF({h["dir"]}="区间",VALUE({h["hi"]}),"")',
        "act": f'=IF(LEN({h["a"]})=0,"",IF({plain(h["a"])},VALUE({h["a"]}),"?"))',
    }


__all__ = ["DIGITISH", "IMPLIED_HELPERS", "actual_text", "ends_percent", "has_digitish", "helper_formulas",
           "plain", "squashed"]
