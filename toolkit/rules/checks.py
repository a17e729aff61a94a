"""Checks as data (spec 08.3): a scheme's ``checks:`` — cross-field rules such as the budget identity.

```yaml
checks:
  - id: budget_identity
    assert: carryover_start + income_fiscal + income_other - spend_basic - spend_project == balance_basic + balance_project
    tolerance: 0.005
    message: 收支不平衡…   # optional; {left} {right} {diff} are the two sides and their difference (万元)
```
A scheme without ``checks:`` gets ``DEFAULT_CHECKS`` (the budget identity), so older scheme files
keep their check; ``checks: []`` turns it off.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from toolkit.fields import FUND_COLS, FUND_PARTS, QUAL_TIERS, fund_key
from toolkit.rules.expr import Expr, display
from toolkit.rules.strict import CHECK_KEYS, unknown_keys
from toolkit.rules.yaml_safe import NotAList, as_list, line_of

BUDGET_IDENTITY = ("carryover_start + income_fiscal + income_other - spend_basic - spend_project"
                   " == balance_basic + balance_project")
DEFAULT_TOLERANCE = Decimal("0.005")
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


@dataclass(frozen=True)
class Check:
    """One ``assert`` over field keys: ``left OP right`` within ``tolerance``, or any expression ≠ 0."""

    id: str
    expr: Expr
    tolerance: Decimal = DEFAULT_TOLERANCE
    message: str = ""
    severity: str = "error"  # "warning": said, but the workbook is still valid

    @property
    def names(self) -> tuple[str, ...]:
        """The field keys of the formula in the order they are written."""
        found = [n for n in ast.walk(self.expr.tree) if isinstance(n, ast.Name) and n.id in self.expr.names]
        found.sort(key=lambda n: (n.lineno, n.col_offset))
        return tuple(dict.fromkeys(n.id for n in found))

    @property
    def sides(self) -> tuple[Expr, str, Expr] | None:
        """(left, op, right) when the assert is one comparison, else None."""
        t = self.expr.tree
        if isinstance(t, ast.Compare) and len(t.ops) == 1:
            return Expr.of(t.left), _OPS[type(t.ops[0])], Expr.of(t.comparators[0])
        return None

    def evaluate(self, env: Mapping[str, Decimal]) -> tuple[bool, Decimal, Decimal]:
        """(holds, left, right); for a non-comparison the value is ``left`` and right is 0."""
        sides = self.sides
        if sides is None:
            v = self.expr.eval(env)
            return v != 0, v, Decimal(0)
        left_e, op, right_e = sides
        left, right = left_e.eval(env), right_e.eval(env)
        d, tol = left - right, self.tolerance
        holds = {"==": abs(d) <= tol, "!=": abs(d) > tol, "<": d < tol, "<=": d <= tol,
                 ">": d > -tol, ">=": d >= -tol}[op]
        return holds, left, right


def render_message(template: str, values: Mapping[str, str]) -> str:
    """A check's own message with {left} {right} {diff} filled (other braces stay as written)."""
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", v)
    return out


DEFAULT_CHECKS = (Check("budget_identity", Expr.parse(BUDGET_IDENTITY)),)
# The project form (spec 06): 年度资金总额 = 本年财政拨款 + 上年结转资金 + 其他资金 in each column.
PROJECT_CHECKS = tuple(
    Check(f"fund_identity_{col}",
          Expr.parse(f"{fund_key('total', col)} == " + " + ".join(fund_key(r, col) for r in FUND_PARTS)),
          message=f"“{label}”列：年度资金总额 {{left}}万元，不等于本年财政拨款、上年结转资金与其他资金之和 {{right}}万元，"
                  f"相差 {{diff}}万元")
    for col, label in FUND_COLS)
SEVERITIES = ("error", "warning")


def default_checks(form: str) -> tuple[Check, ...]:
    """The checks of a scheme that does not say ``checks:``, by the form it scores."""
    return PROJECT_CHECKS if form == "project" else DEFAULT_CHECKS


def parse_checks(raw: Mapping[str, Any], known: Iterable[str], problems: list[str],
                 form: str = "dept") -> tuple[Check, ...]:
    """The scheme's ``checks:`` (the form's default checks when absent); problems name the line and the check."""
    if "checks" not in raw:
        return default_checks(form)
    try:
        items = as_list(raw["checks"])
    except NotAList:
        problems.append(f"checks（{line_of(raw, 'checks')}）：应为以“- ”开头的列表，每项有 id 和 assert")
        return ()
    known = frozenset(known)
    out: list[Check] = []
    seen: set[str] = set()
    for i, c in enumerate(items, start=1):
        where = f"checks 第{i}项（{line_of(c)}）"
        if not isinstance(c, Mapping) or "id" not in c or "assert" not in c:
            problems.append(f"{where}：每项需要 id 和 assert（如 assert: a + b == c）")
            continue
        problems.extend(unknown_keys(c, CHECK_KEYS, f"checks 第{i}项", "校验"))
        cid = str(c["id"])
        if cid in seen:
            problems.append(f"{where}：id“{cid}”重复")
        seen.add(cid)
        try:
            e = Expr.parse(str(c["assert"]))
        except ValueError as ex:
            problems.append(f"{where}：{ex}")
            continue
        missing = [n for n in e.names if n not in known]
        if missing:
            problems.append(f"{where}：公式中的字段 {'、'.join(missing)} 在填报表中不存在")
        try:
            tol = Decimal(str(c.get("tolerance", DEFAULT_TOLERANCE)))
            if not tol.is_finite() or tol < 0:
                raise ValueError
        except (ValueError, ArithmeticError):
            problems.append(f"{where}：tolerance（允许误差）应为不小于 0 的数，现为“{c.get('tolerance')}”")
            tol = DEFAULT_TOLERANCE
        severity = str(c.get("severity", "error"))
        if severity not in SEVERITIES:
            problems.append(f"{where}：severity 只能是 error（错误，须修改）或 warning（提示），现为“{severity}”")
            severity = "error"
        out.append(Check(cid, e, tol, str(c.get("message") or ""), severity))
    return tuple(out)


# ---------------------------------------------------------------- the template's live check cell
def excel_difference(check: Check) -> str:
    """``left − right`` as an Excel formula over defined names: N(a)+N(b)-N(c)-N(d)…"""
    sides = check.sides
    if sides is None:
        raise ValueError(f"check {check.id} is not a comparison")
    terms = _terms(sides[0].tree, 1) + _terms(sides[2].tree, -1)
    text = "".join(("-" if s < 0 else "+") + t for s, t in terms)
    return text[1:] if text.startswith("+") else text


def _terms(n: ast.expr, sign: int) -> list[tuple[int, str]]:
    if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub)):
        return _terms(n.left, sign) + _terms(n.right, -sign if isinstance(n.op, ast.Sub) else sign)
    return [(sign, _excel(n))]


def _excel(n: ast.expr) -> str:
    if isinstance(n, ast.Name):
        return f"N({n.id})"
    if isinstance(n, ast.Constant):
        return str(n.value)
    if isinstance(n, ast.BinOp):
        op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}[type(n.op)]
        return f"({_excel(n.left)}{op}{_excel(n.right)})"
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
        return f"(-{_excel(n.operand)})"
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("max", "min", "abs", "round"):
        return f"{n.func.id.upper()}({','.join(_excel(a) for a in n.args)})"
    raise ValueError(f"no Excel form for {display(n)}")


# ---------------------------------------------------------------- qualitative words (spec 08.2)

DEFAULT_QUALITATIVE: Mapping[str, tuple[str, ...]] = {t: (t,) for t in QUAL_TIERS}


def parse_qualitative(raw: Mapping[str, Any], problems: list[str]) -> Mapping[str, tuple[str, ...]]:
    """``qualitative: {达成: [达成, 完成, …], 部分达成: […], 未达成: […]}`` → tier → words (tier first).

    Absent: DEFAULT_QUALITATIVE. Each tier always accepts its own name; a word may name one tier only."""
    q = raw.get("qualitative")
    if q is None:
        return DEFAULT_QUALITATIVE
    where = f"qualitative（{line_of(raw, 'qualitative')}）"
    if not isinstance(q, Mapping):
        problems.append(f"{where}：应写 达成、部分达成、未达成 三档各自可填写的词，如 达成: [达成, 完成]")
        return DEFAULT_QUALITATIVE
    problems.extend(unknown_keys(q, QUAL_TIERS, "qualitative", "定性档次"))
    out: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {}
    for tier in QUAL_TIERS:
        try:
            words = [str(w).strip() for w in as_list(q.get(tier)) if str(w).strip()]
        except NotAList:
            words = [str(q.get(tier)).strip()]
        out[tier] = tuple(dict.fromkeys([tier, *words]))
        for w in out[tier]:
            if w in owner and owner[w] != tier:
                problems.append(f"{where}：“{w}”同时出现在“{owner[w]}”和“{tier}”中，只能属于一档")
            owner.setdefault(w, tier)
    return out
