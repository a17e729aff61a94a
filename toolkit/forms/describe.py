"""Scoring rules in words: the readable Chinese description of each leaf's rule (填表说明, 评分表)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from toolkit.rules import inputs
from toolkit.rules.expr import Expr
from toolkit.rules.model import Node, Rule, Scheme
from toolkit.text.numbers import exact, pct

CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


_PREC = {"Add": 1, "Sub": 1, "Mult": 2, "Div": 2}
_OPS = {"Add": " + ", "Sub": " − ", "Mult": " × ", "Div": " ÷ "}


def _expr_text(expr: Expr, labels: Mapping[str, str]) -> str:
    def go(n: ast.expr) -> tuple[str, int]:
        if isinstance(n, ast.Name):
            return labels.get(n.id, n.id), 3
        if isinstance(n, ast.Constant):
            return (exact(n.value) if isinstance(n.value, (int, float)) else str(n.value)), 3
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
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            return n.func.id.upper() + "（" + "，".join(go(a)[0] for a in n.args) + "）", 3
        return ast.unparse(n), 3

    return go(expr.tree)[0]


def _labels(scheme: Scheme) -> dict[str, str]:
    return {f.key: f.label for f in inputs.all_fields(scheme)}


def _value_text(name: str, p: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """“在职人员控制率 = 实有在职在编人数 ÷ 核定人员编制数 × 100%”."""
    if p.get("value") is not None:
        expr = p["value"]
        text = _expr_text(expr, labels)
        return text if len(expr.names) == 1 and text == labels.get(expr.names[0]) else f"{name} = {text}"
    num, den = p.get("numerator"), p.get("denominator")
    if num is None or den is None:
        return name
    nt, dt = _expr_text(num, labels), _expr_text(den, labels)
    if not _simple(num):
        nt = f"（{nt}）"
    if not _simple(den):
        dt = f"（{dt}）"
    return f"{name} = {nt} ÷ {dt} × 100%"


def _simple(e: Expr) -> bool:
    return isinstance(e.tree, (ast.Name, ast.Constant, ast.Call))


def _outcome(o: Any) -> str:
    """A zero-denominator outcome: "full", "zero", "error", {"value": v} or {"kind": …, "value": …}."""
    kind = o.get("kind", "value" if "value" in o else "error") if isinstance(o, Mapping) else str(o)
    if kind == "value":
        return f"按{pct(o.get('value'), places=None, none='')}计算"
    return {"full": "得满分", "zero": "得0分"}.get(kind, "视为填报错误")


def _zero_text(p: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    z = p.get("zero_denominator")
    den, num = p.get("denominator"), p.get("numerator")
    if not z or den is None or num is None:
        return ""
    dt = _expr_text(den, labels)
    a, b = z["numerator_zero"], z["otherwise"]
    if a == b:
        return f"{dt}为0的，{_outcome(a)}。"
    nt = _expr_text(num, labels)
    return f"{dt}为0时：若{nt if _simple(num) else f'（{nt}）'}也为0，{_outcome(a)}；否则{_outcome(b)}。"


def describe_rule(scheme: Scheme, node: Node) -> str:
    """A readable Chinese description of a leaf's scoring rule (填表说明, 评分表)."""
    if not node.rule:
        return ""
    return _describe(node.rule, node, _labels(scheme))


def _describe(rule: Rule, node: Node, labels: Mapping[str, str]) -> str:
    p, t, w = rule.params, rule.type, node.points
    if t == "ratio_cap":
        step = p.get("step")
        per = f"每超过{exact(step * 100)}个百分点扣{exact(p['deduct'])}分（不足{exact(step * 100)}个百分点的不扣分）" \
            if step else f"每超过1个百分点扣{exact(p['deduct'])}分"
        return (f"{_value_text(node.name, p, labels)}。不超过{pct(p['cap'], places=None, none='')}的得满分；{per}，扣完为止。"
                + _zero_text(p, labels))
    if t == "ratio_floor":
        step = p.get("step")
        per = f"每低于{exact(step * 100)}个百分点扣{exact(p['deduct'])}分（不足{exact(step * 100)}个百分点的不扣分）" \
            if step else f"每低于1个百分点扣{exact(p['deduct'])}分"
        return (f"{_value_text(node.name, p, labels)}。达到{pct(p['floor'], places=None, none='')}的得满分；{per}，扣完为止。"
                + _zero_text(p, labels))
    if t == "bands":
        words = {"eq": "等于", "gt": "大于", "ge": "不低于", "lt": "小于", "le": "不超过"}
        parts = []
        for b in p["bands"]:
            cond = "且".join(f"{words[op]}{pct(b[op], places=None, none='')}" for op in ("eq", "gt", "ge", "lt", "le") if op in b)
            parts.append(f"{cond}的得{exact(b['points'])}分")
        return f"{_value_text(node.name, p, labels)}。" + "；".join(parts) + "。" + _zero_text(p, labels)
    if t == "proportional":
        target = pct(p["target"], places=None, none='')
        return (f"{_value_text(node.name, p, labels)}。达到{target}的得满分；未达到的按 实际值 ÷ {target} × {exact(w)}分 "
                f"计分。" + _zero_text(p, labels))
    if t == "not_applicable_full":
        inner = p.get("rule")
        flag = labels.get(p["flag"], p["flag"])
        rest = _describe(inner, node, labels) if inner else ""
        return f"“{flag}”为“{p['when']}”的得满分；否则：{rest}"
    if t == "checklist":
        items = "；".join(f"{CIRCLED[i] if i < len(CIRCLED) else i + 1}{it['text']}（{exact(it['points'])}分）"
                         for i, it in enumerate(p["items"]))
        return f"逐项判断，符合的（选“是”）得该项分值：{items}。"
    if t == "tiers":
        parts = []
        for tr in p["tiers"]:
            lo, hi = tr["low"] * w, tr["high"] * w
            parts.append(f"{tr['name']} {exact(lo)}～{exact(hi)}分" + ("（不含上限）" if tr.get("high_open") else ""))
        return f"选择完成档次，并在该档次的分数范围内自评得分：{'；'.join(parts)}。扣分的须写明情况说明。"
    if t == "lookup":
        table = "，".join(f"{k}{exact(v)}分" for k, v in p["table"].items())
        return f"按“{labels.get(p['input'], p['input'])}”计分：{table}。"
    if t == "first_given":
        parts = []
        for i, o in enumerate(p["options"]):
            label = labels.get(o["input"], o["input"])
            inner = _describe(o["rule"], node, labels) if o.get("rule") else ""
            for dup in (f"按“{label}”计分：", f"{label}。"):  # the option's own rule often restates it
                inner = inner.removeprefix(dup)
            parts.append(("优先" if i == 0 else "未填写以上各项的，") + f"按“{label}”计分：{inner}")
        return "".join(parts)
    if t == "indicator_table":
        return (f"按《绩效指标》表中一级指标为“{p['group']}”的各行计分（计分方法见该表说明），"
                f"各行分值合计应为{exact(w)}分。")
    return t
