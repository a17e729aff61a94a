"""The computed rows of 基本信息/收支情况: locked check cells with an Excel formula and its cached value."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Computed:
    """A locked convenience cell with a formula over defined names (never read back)."""

    label: str
    formula: str
    style: str
    names: tuple[str, ...]
    kind: str  # how to compute the cached value: sum, diff_check, ratio, change, budget_check


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
    "identity_check": Computed(
        "收支平衡校验（自动计算）",
        "=IF(COUNT(carryover_start,income_fiscal,income_other,spend_basic,spend_project,balance_basic,"
        "balance_project)=0,\"\",IF(ABS(N(carryover_start)+N(income_fiscal)+N(income_other)-N(spend_basic)"
        "-N(spend_project)-N(balance_basic)-N(balance_project))<=0.005,\"平衡\",\"不平衡：相差\"&TEXT("
        "N(carryover_start)+N(income_fiscal)+N(income_other)-N(spend_basic)-N(spend_project)"
        "-N(balance_basic)-N(balance_project),\"0.00\")&\"万元\"))",
        "calc_text", ("carryover_start", "income_fiscal", "income_other", "spend_basic", "spend_project",
                      "balance_basic", "balance_project"), "identity_check"),
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
    d = (v["carryover_start"] + v["income_fiscal"] + v["income_other"] - v["spend_basic"]
         - v["spend_project"] - v["balance_basic"] - v["balance_project"])
    return "平衡" if abs(d) <= 0.005 else f"不平衡：相差{d:.2f}万元"
