"""The scheme language of issue 13: expressions, strict keys, extends, checks as data, qualitative words."""

from __future__ import annotations

from decimal import Decimal

import pytest

from toolkit.rules.expr import Expr, FormulaUndefined

D = Decimal
ENV = {"a": D(3), "b": D(0), "c": D("2.5"), "balance": D(10), "carryover_prev": D(12)}


@pytest.mark.parametrize(("src", "want"), [
    ("if(balance <= carryover_prev, 100, 0)", "100"),
    ("if(balance > carryover_prev, 100, 0)", "0"),
    ("if (a == 3, 1, 2)", "1"),
    ("if(b, 1, 2)", "2"),                        # 0 is false
    ("if(a, 1, 2)", "1"),                        # non-zero is true
    ("if(b != 0, a / b, 0)", "0"),               # only the branch taken is evaluated
    ("a < c", "0"), ("a <= 3", "1"), ("a > c", "1"), ("a >= 3.0", "1"), ("a == 3", "1"), ("a != 3", "0"),
    ("b < a < 4", "1"), ("b < a < 3", "0"),      # chained comparison
    ("a > 1 and c > 2", "1"), ("a > 1 and c > 3", "0"), ("b > 1 or c > 2", "1"), ("b > 1 or c > 3", "0"),
    ("b == 0 or a / b > 1", "1"),                # or stops at the first true
    ("not b", "1"), ("not a", "0"), ("not (a > 1)", "0"),
    ("min(a, c)", "2.5"), ("max(a, c, 4)", "4"), ("abs(b - a)", "3"),
    ("round(c)", "3"), ("round(2.45, 1)", "2.5"), ("round(-2.5)", "-3"), ("round(2.449, 2)", "2.45"),
    ("round(0.125, 2)", "0.13"), ("round(1.005, 2)", "1.01"),  # half-up in Decimal, not binary floats
    ("a * if(c > 2, 2, 1) + 1", "7"),
])
def test_expression_values(src: str, want: str) -> None:
    assert Expr.parse(src).eval(ENV) == D(want)


@pytest.mark.parametrize(("src", "names"), [
    ("if(balance <= carryover_prev, 100, 0)", ("balance", "carryover_prev")),
    ("round(a, 2) + min(b, c)", ("a", "b", "c")),
    ("gift(1)", None),  # not a function: refused below
])
def test_expression_names(src: str, names: tuple[str, ...] | None) -> None:
    if names is None:
        with pytest.raises(ValueError, match="if/max/min/abs/round"):
            Expr.parse(src)
    else:
        assert Expr.parse(src).names == names


@pytest.mark.parametrize(("src", "msg"), [
    ("if(a, 1)", "if 需要三个参数"),
    ("if(a, 1, 2, 3)", "if 需要三个参数"),
    ("round(a, b)", "round 写作"),
    ("round(a, 1.5)", "round 写作"),
    ("round(a, 11)", "round 写作"),
    ("round(a, 1, 2)", "round 写作"),
    ("abs(a, b)", "abs 只能有一个参数"),
    ("a if b else c", "不支持的运算"),
    ("a is b", "不支持的运算"),
    ("a in b", "不支持的运算"),
    ("a ** 2", "不支持的运算"),
    ("if + 1", "无法解析"),
    ("a / (1 - 1)", "除以 0"),
    ("a / if(1 > 2, 1, 0)", "除以 0"),
    ("x.y", "不支持的运算"),
    ("'text' == a", "只能包含数字和字段名"),
    ("True and a", "只能包含数字和字段名"),
])
def test_expression_refused(src: str, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        Expr.parse(src)


def test_field_division_inside_if_still_reported() -> None:
    e = Expr.parse("if(b != 0, a / b, 0)")
    assert len(e.field_divisions()) == 1
    with pytest.raises(FormulaUndefined):
        Expr.parse("if(a > 0, a / b, 0)").eval(ENV)


def test_source_round_trips_if() -> None:
    e = Expr.parse("if(a > 1, a, b)")
    assert Expr.of(e.tree).source == "if(a > 1, a, b)"
    assert Expr.parse("gif_x + 1").names == ("gif_x",)
