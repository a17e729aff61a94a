"""Scheme formulas: parse a restricted arithmetic expression (+ - * /, numbers, max/min/abs) and evaluate it safely in Decimal."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

MAX_FORMULA_CHARS = 1_000
MAX_PARAM = Decimal("1E+9")  # points, percentages and deductions beyond this are typos
_ALLOWED_FUNCS = {"max", "min", "abs"}
_MAX_EXPR_DEPTH = 40


class FormulaUndefined(ArithmeticError):
    """A formula has no finite value for these inputs (only absurd magnitudes get here: every
    division by a field is the rule's top-level ratio, whose zero denominator scoring handles)."""

    def __init__(self, source: str, names: tuple[str, ...]):
        super().__init__(source)
        self.source = source
        self.names = names


@dataclass(frozen=True)
class Expr:
    """A restricted arithmetic expression over input keys: + - * /, numbers, max/min/abs."""

    source: str
    tree: ast.expr = field(compare=False, repr=False)
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, source: str) -> Expr:
        src = str(source)
        if len(src) > MAX_FORMULA_CHARS:
            raise ValueError(f"公式长度超过 {MAX_FORMULA_CHARS} 个字符，请拆分或简化")
        try:
            tree = ast.parse(src.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise ValueError(f"公式“{src}”无法解析，请检查括号和运算符（只能用 + - * / 和 max/min/abs）") from None
        return cls.of(tree, src)

    @classmethod
    def of(cls, tree: ast.expr, source: str = "") -> Expr:
        """Check a parsed tree (depth, allowed nodes, no division by a constant 0) → Expr."""
        source = source or ast.unparse(tree)
        stack: list[tuple[ast.AST, int]] = [(tree, 1)]
        while stack:
            n, depth = stack.pop()
            if depth > _MAX_EXPR_DEPTH:
                raise ValueError(f"公式“{source}”嵌套过深，请简化")
            stack.extend((c, depth + 1) for c in ast.iter_child_nodes(n))
            if isinstance(n, ast.Call):
                if not (isinstance(n.func, ast.Name) and n.func.id in _ALLOWED_FUNCS) or n.keywords or not n.args:
                    raise ValueError(f"公式“{source}”只能使用 max/min/abs 函数")
                if n.func.id == "abs" and len(n.args) != 1:
                    raise ValueError(f"公式“{source}”中 abs 只能有一个参数")
            elif isinstance(n, ast.Constant):
                if not isinstance(n.value, (int, float)) or isinstance(n.value, bool):
                    raise ValueError(f"公式“{source}”只能包含数字和字段名")
                if not Decimal(str(n.value)).is_finite() or abs(Decimal(str(n.value))) > MAX_PARAM:
                    raise ValueError(f"公式“{source}”中的数字 {n.value} 超出合理范围")
            elif not isinstance(n, (ast.Name, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
                                    ast.USub, ast.UAdd, ast.Load)):
                raise ValueError(f"公式“{source}”含有不支持的运算（只能用 + - * / 和 max/min/abs）")
        for n in ast.walk(tree):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) and not _names(n.right):
                try:
                    zero = _eval(n.right, {}) == 0
                except ArithmeticError:
                    zero = True
                if zero:
                    raise ValueError(f"公式“{source}”除以 0（“{ast.unparse(n.right)}”等于 0），请改正分母")
        return cls(source, tree, tuple(dict.fromkeys(_names(tree))))

    def field_divisions(self) -> list[ast.BinOp]:
        """Divisions whose denominator reads an input (it may be 0 at run time)."""
        return [n for n in ast.walk(self.tree)
                if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) and _names(n.right)]

    def eval(self, env: Mapping[str, Decimal]) -> Decimal:
        """The value for these inputs; FormulaUndefined (an ArithmeticError) when it has none."""
        try:
            with localcontext() as ctx:
                ctx.prec = 28
                return _eval(self.tree, env)
        except (ArithmeticError, RecursionError):
            raise FormulaUndefined(self.source, self.names) from None


def _names(n: ast.AST) -> list[str]:
    return [x.id for x in ast.walk(n) if isinstance(x, ast.Name) and x.id not in _ALLOWED_FUNCS]


def _eval(n: ast.expr, env: Mapping[str, Decimal]) -> Decimal:
    if isinstance(n, ast.Constant):
        return Decimal(str(n.value))
    if isinstance(n, ast.Name):
        return env[n.id]
    if isinstance(n, ast.UnaryOp):
        v = _eval(n.operand, env)
        return -v if isinstance(n.op, ast.USub) else v
    if isinstance(n, ast.BinOp):
        a, b = _eval(n.left, env), _eval(n.right, env)
        if isinstance(n.op, ast.Add):
            return a + b
        if isinstance(n.op, ast.Sub):
            return a - b
        if isinstance(n.op, ast.Mult):
            return a * b
        return a / b  # b == 0 raises decimal.DivisionByZero (an ArithmeticError)
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
        args = [_eval(a, env) for a in n.args]
        if n.func.id == "abs":
            return abs(args[0])
        return max(args) if n.func.id == "max" else min(args)
    raise ValueError("unsupported expression")
