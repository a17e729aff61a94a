"""Scheme formulas: parse a restricted expression and evaluate it safely in Decimal.

Allowed: numbers, field keys, + - * /, comparisons < <= > >= == !=, and/or/not, and the
functions if(cond, a, b), max, min, abs, round(x, n) (half-up). A comparison or a logical
operator is 1 (true) or 0 (false); if() evaluates only the branch it takes.

A scheme's list tables (spec 08.4) are read through ``sum(table.column)`` and ``count(table)``: each
is parsed into one name, spelled as written (``sum(sangong_items.amount)``), whose value the
validator computes from the table's rows (``aggregate_names``), so checks and rules read it like a field.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

MAX_FORMULA_CHARS = 1_000
MAX_PARAM = Decimal("1E+9")  # points, percentages and deductions beyond this are typos
IF = "_if"  # `if` is a Python keyword: if( is read as _if( before ast parses the text
_ALLOWED_FUNCS = {"max", "min", "abs", "round", IF}
_MAX_EXPR_DEPTH = 40
_MAX_ROUND_PLACES = 10
_IF_CALL = re.compile(r"(?<![\w.])if\s*\(")
_OPS_HINT = ("只能用 + - * /、比较 < <= > >= == !=、and/or/not、if/max/min/abs/round，"
             "以及列表合计 sum(表名.列名) 和行数 count(表名)")
_COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_PLAIN = (ast.Name, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd, ast.Not,
          ast.Load, ast.Compare, ast.BoolOp, ast.And, ast.Or, *_COMPARE)
_ONE, _ZERO = Decimal(1), Decimal(0)


class FormulaUndefined(ArithmeticError):
    """A formula has no finite value for these inputs (only absurd magnitudes get here: every
    division by a field is the rule's top-level ratio, whose zero denominator scoring handles)."""

    def __init__(self, source: str, names: tuple[str, ...]):
        super().__init__(source)
        self.source = source
        self.names = names


def display(tree: ast.AST) -> str:
    """A parsed tree as the scheme author writes it (``if(`` rather than the internal ``_if(``)."""
    return re.sub(rf"(?<![\w.]){IF}\(", "if(", ast.unparse(tree))


@dataclass(frozen=True)
class Expr:
    """A restricted expression over input keys (see the module docstring)."""

    source: str
    tree: ast.expr = field(compare=False, repr=False)
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, source: str) -> Expr:
        src = str(source)
        if len(src) > MAX_FORMULA_CHARS:
            raise ValueError(f"公式长度超过 {MAX_FORMULA_CHARS} 个字符，请拆分或简化")
        try:
            tree = ast.parse(_IF_CALL.sub(f"{IF}(", src.strip()), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise ValueError(f"公式“{src}”无法解析，请检查括号和运算符（{_OPS_HINT}）") from None
        return cls.of(_Aggregates(src).visit(tree), src)

    @classmethod
    def of(cls, tree: ast.expr, source: str = "") -> Expr:
        """Check a parsed tree (depth, allowed nodes, no division by a constant 0) → Expr."""
        source = source or display(tree)
        stack: list[tuple[ast.AST, int]] = [(tree, 1)]
        while stack:
            n, depth = stack.pop()
            if depth > _MAX_EXPR_DEPTH:
                raise ValueError(f"公式“{source}”嵌套过深，请简化")
            if isinstance(n, ast.Call):
                _check_call(n, source)
                stack.extend((c, depth + 1) for c in n.args)  # not n.func: a checked function name
                continue
            stack.extend((c, depth + 1) for c in ast.iter_child_nodes(n))
            if isinstance(n, ast.Constant):
                if not isinstance(n.value, (int, float)) or isinstance(n.value, bool):
                    raise ValueError(f"公式“{source}”只能包含数字和字段名")
                if not Decimal(str(n.value)).is_finite() or abs(Decimal(str(n.value))) > MAX_PARAM:
                    raise ValueError(f"公式“{source}”中的数字 {n.value} 超出合理范围")
            elif isinstance(n, ast.Name) and n.id == IF:
                raise ValueError(f"公式“{source}”中 if 必须写成 if(条件, 成立时的值, 不成立时的值)")
            elif not isinstance(n, _PLAIN):
                raise ValueError(f"公式“{source}”含有不支持的运算（{_OPS_HINT}）")
        for n in ast.walk(tree):
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div) and not _names(n.right):
                try:
                    zero = _eval(n.right, {}) == 0
                except ArithmeticError:
                    zero = True
                if zero:
                    raise ValueError(f"公式“{source}”除以 0（“{display(n.right)}”等于 0），请改正分母")
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


def sum_name(table: str, column: str) -> str:
    """The name ``sum(table.column)`` is read as (the column's total over the table's rows)."""
    return f"sum({table}.{column})"


def count_name(table: str) -> str:
    """The name ``count(table)`` is read as (the table's number of non-blank rows)."""
    return f"count({table})"


class _Aggregates(ast.NodeTransformer):
    """sum(t.c) and count(t) → one Name each (spelled as written), so the rest sees plain names."""

    def __init__(self, source: str):
        self.source = source

    def visit_Call(self, node: ast.Call) -> ast.AST:
        f = node.func
        if not (isinstance(f, ast.Name) and f.id in ("sum", "count")):
            return self.generic_visit(node)
        arg = node.args[0] if len(node.args) == 1 and not node.keywords else None
        if f.id == "sum" and isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
            name = sum_name(arg.value.id, arg.attr)
        elif f.id == "count" and isinstance(arg, ast.Name):
            name = count_name(arg.id)
        else:
            raise ValueError(f"公式“{self.source}”中 {f.id} 写作 "
                             + ("sum(表名.列名)，如 sum(sangong_items.amount)" if f.id == "sum"
                                else "count(表名)，如 count(projects)"))
        return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)


def _check_call(n: ast.Call, source: str) -> None:
    if not (isinstance(n.func, ast.Name) and n.func.id in _ALLOWED_FUNCS) or n.keywords or not n.args:
        raise ValueError(f"公式“{source}”只能使用 if/max/min/abs/round 函数")
    name, count = n.func.id, len(n.args)
    if name == "abs" and count != 1:
        raise ValueError(f"公式“{source}”中 abs 只能有一个参数")
    if name == IF and count != 3:
        raise ValueError(f"公式“{source}”中 if 需要三个参数：if(条件, 成立时的值, 不成立时的值)")
    if name == "round":
        places = n.args[1] if count == 2 else None
        if count > 2 or (places is not None and not (
                isinstance(places, ast.Constant) and type(places.value) is int
                and 0 <= places.value <= _MAX_ROUND_PLACES)):
            raise ValueError(f"公式“{source}”中 round 写作 round(数值) 或 round(数值, 小数位数)，"
                             f"小数位数为 0～{_MAX_ROUND_PLACES} 的整数")


def _names(n: ast.AST) -> list[str]:
    return [x.id for x in ast.walk(n) if isinstance(x, ast.Name) and x.id not in _ALLOWED_FUNCS]


def _truth(v: bool) -> Decimal:
    return _ONE if v else _ZERO


def _compare(op: ast.cmpop, a: Decimal, b: Decimal) -> bool:
    if isinstance(op, ast.Lt):
        return a < b
    if isinstance(op, ast.LtE):
        return a <= b
    if isinstance(op, ast.Gt):
        return a > b
    if isinstance(op, ast.GtE):
        return a >= b
    if isinstance(op, ast.Eq):
        return a == b
    return a != b


def _eval(n: ast.expr, env: Mapping[str, Decimal]) -> Decimal:
    if isinstance(n, ast.Constant):
        return Decimal(str(n.value))
    if isinstance(n, ast.Name):
        return env[n.id]
    if isinstance(n, ast.UnaryOp):
        v = _eval(n.operand, env)
        if isinstance(n.op, ast.Not):
            return _truth(v == 0)
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
    if isinstance(n, ast.Compare):
        left = _eval(n.left, env)
        for op, right_n in zip(n.ops, n.comparators, strict=True):
            right = _eval(right_n, env)
            if not _compare(op, left, right):
                return _ZERO
            left = right
        return _ONE
    if isinstance(n, ast.BoolOp):  # short-circuit: and stops at the first false, or at the first true
        want = isinstance(n.op, ast.Or)
        for x in n.values:
            if (_eval(x, env) != 0) == want:
                return _truth(want)
        return _truth(not want)
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
        name = n.func.id
        if name == IF:
            cond, yes, no = n.args
            return _eval(yes if _eval(cond, env) != 0 else no, env)
        args = [_eval(a, env) for a in n.args]
        if name == "abs":
            return abs(args[0])
        if name == "round":
            places = int(args[1]) if len(args) == 2 else 0
            return args[0].quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return max(args) if name == "max" else min(args)
    raise ValueError("unsupported expression")
