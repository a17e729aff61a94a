"""Scheme files: the county's indicator system, weights, rules and report wording, as YAML data.

``load_scheme(name_or_path)`` returns a validated, immutable ``Scheme``. Every problem in a
user-written file is reported at once, each naming the file, the line and the indicator.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from toolkit.forms.fields import SHEET_SCORING, STATIC_FIELDS, Field

DEFAULT_SCHEME = "jianghua-2023"
CHECK_CHOICES = ("是", "否")


class SchemeError(ValueError):
    """A scheme file that cannot be used; ``problems`` lists every reason (Chinese)."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"方案文件 {source} 有 {len(problems)} 处错误：\n" + "\n".join(f"  - {p}" for p in problems))


# --------------------------------------------------------------------------- YAML with line numbers
# Limits for user-written scheme files: the built-ins are ~20 KB, ~1,500 nodes, 12 levels deep.
MAX_SCHEME_BYTES = 1_000_000
MAX_NODES = 100_000  # counted with every alias expanded (a "billion laughs" file is refused)
MAX_DEPTH = 64  # nesting levels, also with aliases expanded
MAX_FORMULA_CHARS = 1_000
MAX_PARAM = Decimal("1E+9")  # points, percentages and deductions beyond this are typos
_FIX_YAML = "请对照内置方案（jixiao schemes 可列出）检查缩进、冒号和引号"


class _LineDict(dict):  # type: ignore[type-arg]
    line: int = 0
    key_lines: dict[Any, int] = {}  # noqa: RUF012 - replaced per instance


class _Refused(Exception):
    """A scheme file refused while reading its YAML: line (1-based, 0 = unknown) and a Chinese message."""

    def __init__(self, line: int, msg: str):
        super().__init__(msg)
        self.line = line
        self.msg = msg


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node) -> None:
    """Refuse a node graph that is too big or too deep once aliases are expanded, or that refers to itself."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        k = id(node)
        line = node.start_mark.line + 1
        if done:
            kids = _children(node)
            size[k] = 1 + sum(size[id(c)] for c in kids)
            depth[k] = 1 + max((depth[id(c)] for c in kids), default=0)
            on_path.discard(k)
            if size[k] > MAX_NODES:
                raise _Refused(line, f"内容展开后超过 {MAX_NODES} 项（多为锚点 & 与别名 * 层层引用所致），"
                                     "请直接写出各项内容，不要嵌套引用别名")
            if depth[k] > MAX_DEPTH:
                raise _Refused(line, f"嵌套超过 {MAX_DEPTH} 层，请减少缩进层次（内置方案不超过 12 层）")
            continue
        if k in size:
            continue
        if k in on_path:
            raise _Refused(line, "别名 * 引用了包含它自身的锚点 &，请删去这个别名")
        on_path.add(k)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)


class _Loader(yaml.SafeLoader):
    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(mark.line + 1, f"嵌套超过 {MAX_DEPTH} 层，请减少缩进或括号层次（内置方案不超过 12 层）")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()
        if node is not None:
            _measure(node)
        return node


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _Refused(line, f"键“{key}”重复（第{seen[key]}行已有），请删去或合并其中一个")
            seen[key] = line
    d = _LineDict(loader.construct_mapping(node, deep=True))
    d.line = node.start_mark.line + 1
    d.key_lines = seen
    return d


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    v = loader.construct_yaml_float(node)
    if v != v or v in (float("inf"), float("-inf")):
        raise _Refused(node.start_mark.line + 1,
                       f"“{node.value}”不是有限的数字（.nan、.inf 或过大的数），请写出具体数值")
    return v


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)  # type: ignore[arg-type]


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    if len(node.value) > 30:  # int() of a long digit string is slow, and no scheme needs one
        raise _Refused(node.start_mark.line + 1, f"数字“{node.value[:20]}…”位数过多，请写出合理的数值")
    return int(loader.construct_yaml_int(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)  # type: ignore[arg-type]

# PyYAML's problem texts → what a finance officer can act on.
_YAML_PROBLEMS = (
    ("'\\t'", "缩进或内容中有制表符（Tab），请全部改用空格缩进"),
    ("found character", "含有不能出现在这里的字符（如 @、`、%），请给这个值加上引号"),
    ("mapping values are not allowed", "这里不能出现“: ”，值中含冒号时请给整个值加引号"),
    ("could not find expected ':'", "缺少冒号“:”，或上一行的引号没有闭合"),
    ("expected <block end>", "缩进不一致：同一层的项目必须对齐"),
    ("expected <document start>", "缩进不一致或有多余的内容：同一层的项目必须对齐"),
    ("expected a single document", "文件中只能有一个文档，请删去多余的“---”"),
    ("undefined alias", "引用了未定义的别名 *，请先用 & 定义锚点或删去别名"),
    ("unhashable key", "键不能是列表或映射，请改为文字"),
    ("unknown escape", "双引号中有无效的转义（反斜杠 \\），请改用单引号"),
    ("end of stream", "引号或括号没有闭合"),
    ("could not determine a constructor", "含有不支持的标签“!”，请删去"),
    ("expected alphabetic or numeric character", "“&”或“*”后缺少名称，请给含 & 或 * 的值加引号"),
    ("while scanning an anchor", "“&”或“*”后缺少名称，请给含 & 或 * 的值加引号"),
    ("while scanning an alias", "“&”或“*”后缺少名称，请给含 & 或 * 的值加引号"),
    ("did not find expected", "缩进不一致，或列表项“- ”与键没有对齐"),
    ("expected ',' or", "方括号或花括号中的项目之间缺少逗号，或括号没有闭合"),
    ("special characters are not allowed", "含有不可见的控制字符，请删去（可在记事本中另存为 UTF-8 后检查）"),
)


def _yaml_problem(e: yaml.YAMLError, text: str) -> tuple[int, str]:
    """A PyYAML error → (line, Chinese message with a fix); never the library's English."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    opened = getattr(e, "context_mark", None)
    context = str(getattr(e, "context", "") or "")
    if mark is not None and opened is not None and (mark.index >= len(text.rstrip()) or "flow" in context):
        mark = opened  # an unclosed bracket or quote: the line where it opened
    line = mark.line + 1 if mark is not None else 0
    if isinstance(e, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(e.position, 0)) + 1
    raw = f"{getattr(e, 'context', '') or ''} {getattr(e, 'problem', '') or ''} {e}"
    for needle, msg in _YAML_PROBLEMS:
        if needle in raw:
            return line, msg
    return line, f"YAML 格式无法识别，{_FIX_YAML}"


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except _Refused as e:
        raise SchemeError(source, [_at(e.line, e.msg)]) from None
    except yaml.YAMLError as e:
        line, msg = _yaml_problem(e, text)
        raise SchemeError(source, [_at(line, f"YAML 格式错误：{msg}（{_FIX_YAML}）")]) from None
    except ValueError:  # int() of a number with thousands of digits
        raise SchemeError(source, ["含有位数过多的数字，请写出合理的数值"]) from None
    except RecursionError:  # not reached with MAX_DEPTH; kept so no traceback can escape
        raise SchemeError(source, [f"嵌套层次过深，请减少缩进层次（不超过 {MAX_DEPTH} 层）"]) from None


def _list(v: Any) -> list[Any]:
    """A YAML list, or [] for a blank; a scalar or mapping where a list belongs raises _NotAList."""
    if v is None or v == "":
        return []
    if isinstance(v, list):
        return v
    raise _NotAList(v)


class _NotAList(Exception):
    def __init__(self, value: Any):
        super().__init__()
        self.value = value


def _at(line: int, msg: str) -> str:
    return f"第{line}行：{msg}" if line else msg


def _line(d: Any, key: str | None = None) -> str:
    """“第N行” of a mapping (or of one of its keys) read from the file; "?" for anything else."""
    if not isinstance(d, _LineDict):
        return "?"
    n = d.key_lines.get(key, d.line) if key else d.line
    return f"第{n}行" if n else "?"


# --------------------------------------------------------------------------- expressions
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
        return {"max": max, "min": min, "abs": lambda x: abs(x)}[n.func.id](*args)  # type: ignore[operator]
    raise ValueError("unsupported expression")


# --------------------------------------------------------------------------- scheme objects
@dataclass(frozen=True)
class Rule:
    type: str
    params: Mapping[str, Any]  # validated and normalised (percentages as fractions, Expr objects)
    inputs: tuple[str, ...]  # every field key the rule reads


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    points: Decimal
    level: int
    path: tuple[str, ...]
    children: tuple[Node, ...] = ()
    rule: Rule | None = None
    wording: Mapping[str, Any] = field(default_factory=dict)  # report sentences for this node
    judgement: bool = False  # has a 评分表 block (checklist, tiers, named inputs): gets note_<id>

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.walk()

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class Grade:
    name: str
    min: Decimal  # inclusive lower bound


@dataclass(frozen=True)
class Scheme:
    id: str
    title: str
    total: Decimal
    grades: tuple[Grade, ...]  # highest first
    levels: tuple[Node, ...]  # 一级指标
    input_fields: tuple[Field, ...]  # the 评分表 inputs
    report: Mapping[str, Any]  # report wording and fonts (spec 04)
    source: str = ""
    ref: str = ""  # what load_scheme() takes to load it again: a built-in id or an absolute path
    indicator_groups: Mapping[str, Decimal] = field(default_factory=dict)  # level1 group → points

    def nodes(self) -> Iterator[Node]:
        for lv in self.levels:
            yield from lv.walk()

    def leaves(self) -> list[Node]:
        return [n for n in self.nodes() if n.is_leaf]

    def node(self, node_id: str) -> Node:
        for n in self.nodes():
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def grade_for(self, total: Decimal) -> str:
        for g in self.grades:
            if total >= g.min:
                return g.name
        return self.grades[-1].name

    @property
    def inputs(self) -> frozenset[str]:
        """Every single-value field key some rule of the scheme reads."""
        return frozenset(k for n in self.leaves() if n.rule for k in n.rule.inputs)


# --------------------------------------------------------------------------- rule parameter checks
def _pct(v: Any) -> Decimal:
    """A percentage parameter (100, "100%", 0.5) → fraction Decimal."""
    s = str(v).strip().rstrip("%")
    return _num(s, f"“{v}”不是百分数，请填写如 100 或 100% 的数值") / 100


def _num(v: Any, what: str = "") -> Decimal:
    """A finite, plausibly sized number from the scheme file, else ValueError with a Chinese reason."""
    what = what or f"“{v}”不是数字，请填写数值"
    if isinstance(v, bool) or isinstance(v, (Mapping, list)):
        raise ValueError(what)
    try:
        d = Decimal(str(v).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(what) from None
    if not d.is_finite():
        raise ValueError(f"“{v}”不是有限的数字，请写出具体数值")
    if abs(d) > MAX_PARAM:
        raise ValueError(f"“{v}”超出合理范围（绝对值不超过 {MAX_PARAM:,.0f}），请检查是否多写了位数")
    return d


class _RuleChecker:
    """Validates one rule mapping, collecting problems; returns a normalised Rule."""

    def __init__(self, where: str, problems: list[str], known: set[str]):
        self.where = where
        self.problems = problems
        self.known = known

    def err(self, msg: str) -> None:
        self.problems.append(f"{self.where}：{msg}")

    def expr(self, raw: Mapping[str, Any], key: str, inputs: list[str], required: bool = True,
             split: bool = False) -> Expr | None:
        if key not in raw:
            if required:
                self.err(f"缺少参数 {key}")
            return None
        try:
            e = Expr.parse(raw[key])
        except ValueError as ex:
            self.err(str(ex))
            return None
        for name in e.names:
            if name not in self.known:
                self.err(f"公式“{e.source}”中的字段 {name} 在填报表中不存在")
        inputs.extend(e.names)
        divs = e.field_divisions()
        if divs and not (split and divs == [e.tree]):
            self.err(f"公式“{e.source}”中“{ast.unparse(divs[0])}”的分母可能为 0：除以字段的运算只能作为"
                     "整个比率的最后一步，请改写为 numerator:（分子）与 denominator:（分母），"
                     "需要时用 zero_denominator 规定分母为 0 时如何计分")
            return None
        return e

    def value(self, raw: Mapping[str, Any], inputs: list[str]) -> dict[str, Any]:
        """``value: expr`` or ``numerator`` + ``denominator`` (+ ``zero_denominator``).

        ``value: a / b`` with a field in b is the ratio a over b, so that a zero b follows the
        zero-denominator rule (spec 03) instead of failing at run time.
        """
        out: dict[str, Any] = {}
        if "value" in raw:
            e = self.expr(raw, "value", inputs, split=True)
            if e is not None and e.field_divisions():
                div = e.tree
                assert isinstance(div, ast.BinOp)
                out["numerator"], out["denominator"] = Expr.of(div.left), Expr.of(div.right)
            else:
                out["value"] = e
        else:
            out["numerator"] = self.expr(raw, "numerator", inputs)
            out["denominator"] = self.expr(raw, "denominator", inputs)
        if "zero_denominator" in raw:
            if "denominator" in out:
                out["zero_denominator"] = self.zero_den(raw["zero_denominator"])
            else:
                self.err("zero_denominator 只用于有分母的比率（numerator 与 denominator）")
        return out

    def zero_den(self, z: Any) -> dict[str, Any]:
        """What a zero denominator means: {numerator_zero: outcome, otherwise: outcome}.

        An outcome is ``full`` (full points, case not_applicable), ``zero`` (0 points), ``error``
        (a validation error naming the cells) or ``{value: 百分数}`` (the ratio to score with);
        a mapping form ``{outcome: zero, case: no_previous}`` names the case the report words.
        """

        def outcome(v: Any) -> dict[str, Any]:
            if isinstance(v, str) and v in ("full", "zero", "error"):
                return {"kind": v, "case": {"full": "not_applicable", "zero": "zero_denominator",
                                             "error": "zero_denominator"}[v]}
            if isinstance(v, Mapping) and "value" in v:
                try:
                    return {"kind": "value", "value": _pct(v["value"]), "case": str(v.get("case", "normal"))}
                except ValueError as e:
                    self.err(f"zero_denominator：{e}")
            elif isinstance(v, Mapping) and v.get("outcome") in ("full", "zero", "error"):
                o = outcome(v["outcome"])
                o["case"] = str(v.get("case", o["case"]))
                return o
            else:
                self.err(f"zero_denominator 的取值“{v}”无效，可用：full、zero、error、{{value: 百分数}} "
                         "或 {outcome: full|zero|error, case: 名称}")
            return {"kind": "error", "case": "zero_denominator"}

        if isinstance(z, Mapping) and ("numerator_zero" in z or "otherwise" in z):
            return {"numerator_zero": outcome(z.get("numerator_zero", "error")),
                    "otherwise": outcome(z.get("otherwise", "error"))}
        o = outcome(z)
        return {"numerator_zero": o, "otherwise": o}

    def items(self, raw: Mapping[str, Any], key: str) -> list[Any]:
        try:
            return _list(raw.get(key))
        except _NotAList:
            self.err(f"{key} 必须是以“- ”开头的列表，请对照内置方案的写法")
            return []

    def pct(self, raw: Mapping[str, Any], key: str, required: bool = True) -> Decimal | None:
        if key not in raw:
            if required:
                self.err(f"缺少参数 {key}")
            return None
        try:
            return _pct(raw[key])
        except ValueError as e:
            self.err(f"参数 {key}：{e}")
            return None

    def num(self, raw: Mapping[str, Any], key: str, required: bool = True) -> Decimal | None:
        if key not in raw:
            if required:
                self.err(f"缺少参数 {key}")
            return None
        try:
            return _num(raw[key])
        except ValueError as e:
            self.err(f"参数 {key}：{e}")
            return None

    def input_key(self, raw: Mapping[str, Any], key: str, inputs: list[str]) -> str | None:
        k = raw.get(key)
        if not k:
            self.err(f"缺少参数 {key}")
            return None
        if k not in self.known:
            self.err(f"字段 {k} 在填报表中不存在")
        inputs.append(str(k))
        return str(k)

    def check(self, raw: Any, node_id: str, points: Decimal) -> Rule | None:
        if not isinstance(raw, Mapping) or "type" not in raw:
            self.err("rule 必须是含 type 的映射")
            return None
        t = raw["type"]
        if t not in RULE_TYPES:
            self.err(f"未知的规则类型“{t}”，可用：{'、'.join(sorted(RULE_TYPES))}")
            return None
        inputs: list[str] = []
        p: dict[str, Any] = {}
        if t in ("ratio_cap", "ratio_floor", "bands", "proportional"):
            p.update(self.value(raw, inputs))
        if t == "ratio_cap":
            p["cap"] = self.pct(raw, "cap")
            p["deduct"] = self.num(raw, "deduct")
            p["step"] = self.pct(raw, "step", required=False)
        elif t == "ratio_floor":
            p["floor"] = self.pct(raw, "floor")
            p["deduct"] = self.num(raw, "deduct")
            p["step"] = self.pct(raw, "step", required=False)
        elif t == "proportional":
            p["target"] = self.pct(raw, "target")
            if p["target"] is not None and p["target"] <= 0:
                self.err("参数 target 必须大于 0")
        elif t == "bands":
            bands = []
            for b in self.items(raw, "bands"):
                if not isinstance(b, Mapping) or "points" not in b:
                    self.err("bands 的每一档需要 points")
                    continue
                band: dict[str, Any] = {"points": self.num(b, "points")}
                for op in ("eq", "gt", "ge", "lt", "le"):
                    if op in b:
                        band[op] = self.pct(b, op)
                bp = band["points"]
                if bp is not None and not (0 <= bp <= points):
                    self.err(f"bands 中的分值 {bp} 超出 0～{points}")
                bands.append(band)
            if not bands:
                self.err("bands 至少需要一档")
            p["bands"] = tuple(bands)
        elif t == "not_applicable_full":
            p["flag"] = self.input_key(raw, "flag", inputs)
            p["when"] = str(raw.get("when", "无"))
            inner = self.check(raw.get("rule"), node_id, points)
            if inner:
                inputs.extend(inner.inputs)
            p["rule"] = inner
        elif t == "checklist":
            items = []
            total = Decimal(0)
            for i, it in enumerate(self.items(raw, "items"), start=1):
                if not isinstance(it, Mapping) or "text" not in it or "points" not in it:
                    self.err(f"checklist 第{i}项需要 text 和 points")
                    continue
                try:
                    pts = _num(it["points"])
                except ValueError as e:
                    self.err(f"checklist 第{i}项（{_line(it)}）的 points：{e}")
                    continue
                total += pts
                items.append({"key": f"chk_{node_id}_{i}", "text": str(it["text"]), "points": pts,
                              "unmet": str(it.get("unmet", ""))})
                inputs.append(f"chk_{node_id}_{i}")
            if not items:
                self.err("checklist 至少需要一项")
            elif total != points:
                self.err(f"checklist 各项分值之和 {total} 不等于指标分值 {points}")
            p["items"] = tuple(items)
        elif t == "tiers":
            tiers = []
            for tr in self.items(raw, "tiers"):
                if not isinstance(tr, Mapping) or not {"name", "low", "high"} <= set(tr):
                    self.err("tiers 的每一档需要 name、low、high")
                    continue
                try:
                    lo, hi = _pct(tr["low"]), _pct(tr["high"])
                except ValueError as e:
                    self.err(f"tiers 档次“{tr['name']}”（{_line(tr)}）：{e}")
                    continue
                tiers.append({"name": str(tr["name"]), "low": lo, "high": hi,
                              "high_open": bool(tr.get("high_open", False))})
            if not tiers:
                self.err("tiers 至少需要一档")
            p["tiers"] = tuple(tiers)
            inputs.extend([f"tier_{node_id}", f"score_{node_id}"])
        elif t == "lookup":
            p["input"] = self.input_key(raw, "input", inputs)
            table = raw.get("table")
            if not isinstance(table, Mapping) or not table:
                self.err("lookup 需要 table（取值 → 分值）")
                table = {}
            p["table"] = {}
            for k, v in table.items():
                try:
                    p["table"][str(k)] = v = _num(v)
                except ValueError as e:
                    self.err(f"lookup 中“{k}”的分值：{e}")
                    continue
                if not (0 <= v <= points):
                    self.err(f"lookup 中“{k}”的分值 {v} 超出 0～{points}")
        elif t == "first_given":
            opts = []
            for o in self.items(raw, "options"):
                if not isinstance(o, Mapping) or "input" not in o or "rule" not in o:
                    self.err("first_given 的每一项需要 input 和 rule")
                    continue
                key = self.input_key(o, "input", inputs)
                inner = self.check(o["rule"], node_id, points)
                if inner:
                    inputs.extend(inner.inputs)
                opts.append({"input": key, "rule": inner})
            if not opts:
                self.err("first_given 至少需要一项")
            p["options"] = tuple(opts)
        elif t == "indicator_table":
            g = raw.get("group")
            if not g:
                self.err("indicator_table 需要 group（一级指标名称，如 产出指标）")
            p["group"] = str(g)
        return Rule(type=t, params=p, inputs=tuple(dict.fromkeys(inputs)))


# The rule types a scheme may use; toolkit.rules.scoring has one scoring function for each.
RULE_TYPES = frozenset({
    "ratio_cap", "ratio_floor", "bands", "proportional", "not_applicable_full", "checklist",
    "tiers", "lookup", "first_given", "indicator_table",
})

_JUDGEMENT_TYPES = {"checklist", "tiers", "lookup", "first_given"}


# --------------------------------------------------------------------------- loading
def builtin_dir() -> Path:
    return Path(str(resources.files(__package__)))


def builtin_ids() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def resolve(name_or_path: str) -> Path:
    """A built-in scheme id or a path to a YAML file → the file's path; KeyError when neither."""
    p = builtin_dir() / f"{name_or_path}.yaml"
    if "/" not in name_or_path and "\\" not in name_or_path and p.exists():
        return p
    q = Path(name_or_path)
    if q.suffix.lower() in (".yaml", ".yml") and q.is_file():
        return q
    raise KeyError(name_or_path)


def _decode(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM); else GB18030, which is what WPS and Notepad save as "ANSI" on Chinese Windows."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise SchemeError(source, ["文件编码无法识别（不是 UTF-8 也不是 GBK），请在记事本中“另存为”并选择 UTF-8 编码"])


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, ref: str) -> Scheme:
    source = Path(path).name
    with open(path, "rb") as f:
        data = f.read(MAX_SCHEME_BYTES + 1)
    if len(data) > MAX_SCHEME_BYTES:
        raise SchemeError(source, [f"文件超过 {MAX_SCHEME_BYTES // 1_000_000} MB，不像方案文件（内置方案约 20 KB），"
                                   "请确认 --scheme 指向的是方案 .yaml 文件"])
    return dataclasses.replace(parse_scheme(_decode(data, source), source=source), ref=ref)


def load_scheme(name_or_path: str) -> Scheme:
    """Load and validate a scheme by built-in id or file path (cached per process)."""
    try:
        p = resolve(name_or_path)
    except KeyError:
        raise SchemeError(str(name_or_path), [
            f"找不到方案“{name_or_path}”：内置方案有 {'、'.join(builtin_ids())}，或给出 .yaml 文件路径"
        ]) from None
    builtin = p.parent == builtin_dir()
    ref = p.stem if builtin else str(p.resolve())
    return _load_cached(str(p.resolve()), p.stat().st_mtime_ns, ref)


def parse_scheme(text: str, source: str = "<scheme>") -> Scheme:
    """Parse and validate scheme text; every problem is a SchemeError in Chinese, never a traceback."""
    try:
        return _parse_scheme(text, source)
    except SchemeError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError, ArithmeticError, RecursionError):
        # A shape no check above foresaw: still a clear answer, not a Python exception name.
        raise SchemeError(source, ["方案的结构与内置方案不一致（某处应为列表或映射的地方写成了文字或数字），"
                                   "请复制内置方案（jixiao schemes 可列出）后只修改分值和文字"]) from None


def _parse_scheme(text: str, source: str) -> Scheme:
    if len(text) > MAX_SCHEME_BYTES:
        raise SchemeError(source, [f"内容超过 {MAX_SCHEME_BYTES // 1_000_000} MB，不像方案文件（内置方案约 20 KB）"])
    raw = _read_yaml(text, source)
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise SchemeError(source, ["第1行：文件内容必须是以“id:”“title:”“indicators:”等开头的映射，"
                                   "请复制一个内置方案再修改"])
    for k in ("id", "title", "indicators", "grades"):
        if k not in raw:
            problems.append(f"缺少顶层字段 {k}")
    if problems:
        raise SchemeError(source, problems)

    try:
        total = _num(raw.get("total", 100))
    except ValueError as e:
        problems.append(f"total（总分）：{e}")
        total = Decimal(100)
    # named inputs of the 评分表
    static_keys = {f.key for f in STATIC_FIELDS}
    named: list[Field] = []
    for i, inp in enumerate(_top_list(raw, "inputs", problems), start=1):
        if not isinstance(inp, Mapping) or "key" not in inp or "label" not in inp:
            problems.append(f"inputs 第{i}项（{_line(inp)}）需要 key 和 label")
            continue
        named.append(Field(
            key=str(inp["key"]), label=str(inp["label"]), sheet=SHEET_SCORING,
            kind=inp.get("kind", "text"), choices=tuple(str(c) for c in inp["choices"] if not isinstance(c, (list, Mapping))) if isinstance(inp.get("choices"), list) else (),
            note=str(inp.get("note", "")), indicator=inp.get("indicator"),
            min=inp.get("min"), max=inp.get("max"),
        ))
    named_keys = {f.key for f in named}

    # collect ids first so derived inputs (chk_X_n, tier_X …) are known to the checker
    seen: dict[str, str] = {}
    derived: set[str] = set()

    def pre(nodes: Any) -> None:
        for n in nodes if isinstance(nodes, list) else []:
            if isinstance(n, Mapping) and "id" in n:
                r = n.get("rule")
                if isinstance(r, Mapping):
                    nid = str(n["id"])
                    for it in range(1, len(r["items"]) if isinstance(r.get("items"), list) else 0 + 1):
                        derived.add(f"chk_{nid}_{it}")
                    derived.update({f"tier_{nid}", f"score_{nid}"})
                pre(n.get("children"))

    pre(raw.get("indicators"))
    known = static_keys | named_keys | derived

    groups: dict[str, Decimal] = {}

    def build(rn: Any, level: int, path: tuple[str, ...]) -> Node | None:
        if not isinstance(rn, Mapping):
            problems.append(f"{'/'.join(path) or '顶层'}：指标必须是映射")
            return None
        nid = str(rn.get("id", ""))
        name = str(rn.get("name", ""))
        where = f"指标 {nid or name or '?'}（{_line(rn)}）"
        if not nid:
            problems.append(f"{where}：缺少 id")
        elif not nid.isidentifier() or not nid.isascii():
            problems.append(f"{where}：id 只能由英文字母、数字和下划线组成")
        elif nid in seen:
            problems.append(f"{where}：id 与 {seen[nid]} 重复")
        else:
            seen[nid] = where
        if not name:
            problems.append(f"{where}：缺少 name")
        try:
            points = _num(rn.get("points"))
            if points <= 0:
                raise ValueError("")
        except ValueError as e:
            problems.append(f"{where}：points 必须是正数，现为“{rn.get('points')}”{f'（{e}）' if str(e) else '，请填写本指标的分值'}")
            points = Decimal(0)
        mypath = path + (name,)
        try:
            kids_raw = _list(rn.get("children"))
        except _NotAList:
            problems.append(f"{where}：children 必须是以“- ”开头的下级指标列表")
            kids_raw = []
        rule = None
        children: list[Node] = []
        if kids_raw:
            if "rule" in rn:
                problems.append(f"{where}：有下级指标的指标不能再有 rule")
            for k in kids_raw:
                c = build(k, level + 1, mypath)
                if c:
                    children.append(c)
            s = sum((c.points for c in children), Decimal(0))
            if children and s != points:
                detail = " + ".join(f"{c.name}{c.points}" for c in children)
                problems.append(f"{where}：下级指标分值之和 {s}（{detail}）不等于本级分值 {points}")
        else:
            if "rule" not in rn:
                problems.append(f"{where}：末级指标需要 rule")
            else:
                rule = _RuleChecker(where, problems, known).check(rn["rule"], nid, points)
                if rule and rule.type == "indicator_table":
                    g = rule.params["group"]
                    if g in groups:
                        problems.append(f"{where}：indicator_table 分组“{g}”被多个指标使用")
                    groups[g] = points
        wording = rn.get("wording") or {}
        if not isinstance(wording, Mapping):
            problems.append(f"{where}：wording 必须是映射")
            wording = {}
        judgement = bool(rule and _judgement(rule))
        return Node(id=nid, name=name, points=points, level=level, path=mypath, children=tuple(children),
                    rule=rule, wording=wording, judgement=judgement)

    levels = tuple(n for n in (build(r, 1, ()) for r in _top_list(raw, "indicators", problems)) if n)
    s = sum((n.points for n in levels), Decimal(0))
    if s != total:
        problems.append(f"一级指标分值之和 {s}（{' + '.join(f'{n.name}{n.points}' for n in levels)}）不等于总分 {total}")

    grades: list[Grade] = []
    for g in _top_list(raw, "grades", problems):
        try:
            grades.append(Grade(str(g["name"]), _num(g["min"])))
        except (KeyError, TypeError, ValueError):
            problems.append(f"grades（{_line(g)}）：每个等级需要 name 和 min")
    grades.sort(key=lambda g: g.min, reverse=True)
    if grades and grades[-1].min > 0:
        problems.append(f"等级未覆盖 0～{grades[-1].min} 分：最低等级的 min 必须为 0")
    if grades and grades[0].min > total:
        problems.append(f"等级“{grades[0].name}”的下限 {grades[0].min} 高于总分 {total}")
    if len({g.min for g in grades}) != len(grades):
        problems.append("grades 中有下限相同的等级")

    if problems:
        raise SchemeError(source, problems)

    nodes = [n for lv in levels for n in lv.walk()]
    input_fields = tuple(_derived_fields(nodes, named))
    report = raw.get("report") or {}
    if not isinstance(report, Mapping):
        raise SchemeError(source, [f"{_line(raw, 'report')}：report 必须是映射（report: 下缩进书写各项文字）"])
    return Scheme(id=str(raw["id"]), title=str(raw["title"]), total=total, grades=tuple(grades),
                  levels=levels, input_fields=input_fields, report=report, source=source,
                  indicator_groups=groups)


def _top_list(raw: Mapping[str, Any], key: str, problems: list[str]) -> list[Any]:
    try:
        return _list(raw.get(key))
    except _NotAList:
        problems.append(f"顶层字段 {key}（{_line(raw, key)}）必须是以“- ”开头的列表，请对照内置方案的写法")
        return []


def _judgement(rule: Rule) -> bool:
    if rule.type in _JUDGEMENT_TYPES:
        return True
    inner = rule.params.get("rule")
    return bool(inner and _judgement(inner))


def _derived_fields(nodes: list[Node], named: list[Field]) -> list[Field]:
    """The 评分表 fields in indicator order: each judgement block, then its note."""
    out: list[Field] = []
    named_by_ind: dict[str, list[Field]] = {}
    for f in named:
        named_by_ind.setdefault(f.indicator or "", []).append(f)
    used: set[str] = set()
    for n in nodes:
        if not n.rule or not n.judgement:
            continue
        r = n.rule
        if r.type == "checklist":
            for it in r.params["items"]:
                out.append(Field(it["key"], it["text"], SHEET_SCORING, kind="choice", required=True,
                                 choices=CHECK_CHOICES, unit=f"{it['points']}分", indicator=n.id))
        elif r.type == "tiers":
            names = tuple(t["name"] for t in r.params["tiers"])
            out.append(Field(f"tier_{n.id}", "完成档次", SHEET_SCORING, kind="choice", required=True,
                             choices=names, indicator=n.id))
            out.append(Field(f"score_{n.id}", "自评得分", SHEET_SCORING, kind="score", required=True,
                             min=0, max=float(n.points), unit="分", indicator=n.id))
        for k in r.inputs:
            for f in named:
                if f.key == k and k not in used:
                    out.append(Field(**{**f.__dict__, "indicator": n.id}))
                    used.add(k)
        out.append(Field(f"note_{n.id}", "情况说明（扣分时必填）", SHEET_SCORING, kind="longtext",
                         indicator=n.id))
    for f in named:  # named inputs no rule uses still appear
        if f.key not in used:
            out.append(f)
    return out
