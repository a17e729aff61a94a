"""Rules in words: formulas, ratios and zero-denominator outcomes as the clerk reads them."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from toolkit.rules.expr import IF, Expr
from toolkit.text.numbers import exact, pct

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


_PREC = {"Add": 1, "Sub": 1, "Mult": 2, "Div": 2}
_OPS = {"Add": " + ", "Sub": " − ", "Mult": " × ", "Div": " ÷ "}
_CMP = {"Lt": "小于", "LtE": "不大于", "Gt": "大于", "GtE": "不小于", "Eq": "等于", "NotEq": "不等于"}


def expr_text(expr: Expr, labels: Mapping[str, str]) -> str:
    def go(n: ast.expr) -> tuple[str, int]:
        if isinstance(n, ast.Name):
            return labels.get(n.id, n.id), 3
        if isinstance(n, ast.Constant):
            return (exact(n.value) if isinstance(n.value, (int, float)) else str(n.value)), 3
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            return f"并非{go(n.operand)[0]}", 0
        if isinstance(n, ast.UnaryOp):
            s, p = go(n.operand)
            return ("−" if isinstance(n.op, ast.USub) else "") + (s if p >= 2 else f"（{s}）"), 2
        if isinstance(n, ast.BinOp):
            op = type(n.op).__name__
            prec = _PREC[op]
            ls, lp = go(n.left)
            rs, rp = go(n.right)
            if lp < prec:
                ls = f"（{ls}）"
            if rp < prec or (rp == prec and op in ("Sub", "Div")):
                rs = f"（{rs}）"
            return ls + _OPS[op] + rs, prec
        if isinstance(n, ast.Compare):  # chains read pairwise: 0 < a <= 1 → 0小于a且a不大于1
            parts, left = [], go(n.left)[0]
            for cmp_op, right in zip(n.ops, n.comparators, strict=True):
                r = go(right)[0]
                parts.append(f"{left}{_CMP[type(cmp_op).__name__]}{r}")
                left = r
            return "且".join(parts), 0
        if isinstance(n, ast.BoolOp):
            joiner = "且" if isinstance(n.op, ast.And) else "或"
            return joiner.join(go(v)[0] for v in n.values), 0
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            args = [go(a)[0] for a in n.args]
            name = n.func.id
            if name == IF and len(args) == 3:  # if(c, a, b)
                return f"{args[0]}时为{args[1]}，否则为{args[2]}", 0
            if name == "round" and args:
                places = args[1] if len(args) > 1 else "0"
                return f"{args[0]}（四舍五入保留{places}位小数）", 3
            return name.upper() + "（" + "，".join(args) + "）", 3
        return ast.unparse(n), 3

    return go(expr.tree)[0]


def value_text(name: str, p: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """“在职人员控制率 = 实有在职在编人数 ÷ 核定人员编制数 × 100%”."""
    if p.get("value") is not None:
        expr = p["value"]
        text = expr_text(expr, labels)
        return text if len(expr.names) == 1 and text == labels.get(expr.names[0]) else f"{name} = {text}"
    num, den = p.get("numerator"), p.get("denominator")
    if num is None or den is None:
        return name
    nt, dt = expr_text(num, labels), expr_text(den, labels)
    if not simple(num):
        nt = f"（{nt}）"
    if not simple(den):
        dt = f"（{dt}）"
    return f"{name} = {nt} ÷ {dt} × 100%"


def simple(e: Expr) -> bool:
    return isinstance(e.tree, (ast.Name, ast.Constant, ast.Call))


def outcome(o: Any) -> str:
    """A zero-denominator outcome: "full", "zero", "error", {"value": v} or {"kind": …, "value": …}."""
    kind = o.get("kind", "value" if "value" in o else "error") if isinstance(o, Mapping) else str(o)
    if kind == "value":
        return f"按{pct(o.get('value'), places=None, none='')}计算"
    return {"full": "得满分", "zero": "得0分"}.get(kind, "视为填报错误")


def zero_text(p: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    z = p.get("zero_denominator")
    den, num = p.get("denominator"), p.get("numerator")
    if not z or den is None or num is None:
        return ""
    dt = expr_text(den, labels)
    a, b = z["numerator_zero"], z["otherwise"]
    if a == b:
        return f"{dt}为0的，{outcome(a)}。"
    nt = expr_text(num, labels)
    return f"{dt}为0时：若{nt if simple(num) else f'（{nt}）'}也为0，{outcome(a)}；否则{outcome(b)}。"
