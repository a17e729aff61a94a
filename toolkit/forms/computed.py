"""The computed rows of 基本信息/收支情况: locked check cells with an Excel formula and its cached value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from toolkit.rules.checks import DEFAULT_CHECKS, Check, excel_difference


@dataclass(frozen=True)
class Computed:
    """A locked convenience cell with a formula over defined names (never read back)."""

    label: str
    formula: str
    style: str
    names: tuple[str, ...]
    kind: str  # how to compute the cached value: sum, identity_check, ratio, change, budget_check
    check: Check | None = None  # identity_check: the scheme check the cell shows


def identity_cell(check: Check, label: str = "收支平衡校验（自动计算）") -> Computed:
    """The live 校验 cell of a scheme check (the budget identity): 平衡, or 不平衡：相差 x万元."""
    names = ",".join(check.names)
    diff = excel_difference(check)
    tol = f"{check.tolerance:f}"
    formula = (f'=IF(COUNT({names})=0,"",IF(ABS({diff})<={tol},"平衡","不平衡：相差"&TEXT('
               f'{diff},"0.00")&"万元"))')
    return Computed(label, formula, "calc_text", check.names, "identity_check", check)


COMPUTED: dict[str, Computed] = {
    "staff_rate": Computed(
        "在职人员控制率（自动计算）", "=IF(N(staff_quota)>0,N(staff_actual)/N(staff_quota),\"\")",
        "calc_pct", ("staff_actual", "staff_quota"), "ratio"),
    "income_total": Computed(
        "收入合计（自动计算）", "=IF(COUNT(carryover_start,income_fiscal,income_other)=0,\"\",N(carryover_start)+N(income_fiscal)"
        "+N(income_other))", "calc_money",
        ("carryover_start", "income_fiscal", "income_other"), "sum"),
    "budget_check": Computed(
        "预算数与收到财政资金核对（自动计算）",
        "=IF(COUNT(budget_initial,budget_added,income_fiscal)=0,\"\",IF(ABS(N(budget_initial)+N(budget_added)"
        "-N(income_fiscal))<=0.005,\"一致\",\"不一致：相差\"&TEXT(N(budget_initial)+N(budget_added)"
        "-N(income_fiscal),\"0.00\")&\"万元\"))",
        "calc_text", ("budget_initial", "budget_added", "income_fiscal"), "budget_check"),
    "spend_total": Computed(
        "支出合计（自动计算）", "=IF(COUNT(spend_basic,spend_project)=0,\"\",N(spend_basic)+N(spend_project))", "calc_money",
        ("spend_basic", "spend_project"), "sum"),
    "balance_total": Computed(
        "年末结余合计（自动计算）", "=IF(COUNT(balance_basic,balance_project)=0,\"\",N(balance_basic)+N(balance_project))", "calc_money",
        ("balance_basic", "balance_project"), "sum"),
    "identity_check": identity_cell(DEFAULT_CHECKS[0]),
    "sangong_rate": Computed(
        "“三公”经费变动率（自动计算）",
        "=IF(N(sangong_budget_prev)>0,(N(sangong_budget)-N(sangong_budget_prev))/N(sangong_budget_prev),\"\")",
        "calc_pct", ("sangong_budget", "sangong_budget_prev"), "change"),
}


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def excel_n(v: Any) -> float:
    """Excel's N(): a number or 0."""
    if is_number(v):
        f = float(v)
        return f if math.isfinite(f) else 0.0
    return 0.0


def cached_value(c: Computed, values: Mapping[str, Any]) -> Any:
    """The formula's result for the values written (Excel recalculates; other readers see this)."""
    v = {k: excel_n(values.get(k)) for k in c.names}
    given = any(is_number(values.get(k)) for k in c.names)
    if c.kind == "sum":
        return round(sum(v.values()), 2) if given else ""
    if c.kind == "ratio":
        return v["staff_actual"] / v["staff_quota"] if v["staff_quota"] > 0 else ""
    if c.kind == "change":
        prev = v["sangong_budget_prev"]
        return (v["sangong_budget"] - prev) / prev if prev > 0 else ""
    if not given:
        return ""
    if c.kind == "budget_check":
        d = v["budget_initial"] + v["budget_added"] - v["income_fiscal"]
        return "一致" if abs(d) <= 0.005 else f"不一致：相差{d:.2f}万元"
    assert c.check is not None
    _, left, right = c.check.evaluate({k: Decimal(repr(x)) for k, x in v.items()})
    d = float(left - right)
    return "平衡" if abs(d) <= float(c.check.tolerance) else f"不平衡：相差{d:.2f}万元"
