"""toolkit.text.numbers: the one home of rounding and number text."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from toolkit.text import numbers as N


@pytest.mark.parametrize("x, places, text", [
    (D("169.920"), 2, "169.92"), (D("170.00"), 2, "170"), (D("2.345"), 2, "2.35"), (D("2.344"), 2, "2.34"),
    (D("-0.001"), 2, "0"), (0.1 + 0.2, 2, "0.3"), ("12.5", 0, "13"), (None, 2, ""), ("约10", 2, "约10"),
    (D("1E+999999"), 2, "1E+999999"),
])
def test_num_rounds_half_up_and_drops_trailing_zeros(x, places, text):
    assert N.num(x, places) == text


@pytest.mark.parametrize("x, text", [
    (D("7.50"), "7.5"), (D("1E+2"), "100"), (D("0.0525"), "0.0525"), (3, "3"), (D("1E+26"), "1E+26"),
    (D("NaN"), "非数字"), (D("-Infinity"), "-无穷大"), (None, ""),
])
def test_exact_never_rounds(x, text):
    assert N.exact(x) == text


def test_pct_money_points_fixed():
    assert N.pct(D("0.062")) == "6.2%" and N.pct(D("0.94117")) == "94.12%" and N.pct(None) == "—"
    assert N.pct(D("0.0525"), places=None) == "5.25%" and N.pct(D("0.123456"), places=None) == "12.3456%"
    assert N.money(D("169.920")) == "169.92万元" and N.money(0) == "0元" and N.money(None) == "0元"
    assert N.points(None) == "0" and N.points(D("7.50")) == "7.5"
    assert N.fixed(3) == "3.00" and N.fixed(D("2.345")) == "2.35"
    assert N.json_number(D("99.00")) == 99.0 and N.json_number(None) is None
