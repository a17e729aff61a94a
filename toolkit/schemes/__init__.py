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
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..fields import SHEET_SCORING, STATIC_FIELDS, Field

DEFAULT_SCHEME = "jianghua-2023"
CHECK_CHOICES = ("是", "否")


class SchemeError(ValueError):
    """A scheme file that cannot be used; ``problems`` lists every reason (Chinese)."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"方案文件 {source} 有 {len(problems)} 处错误：\n" + "\n".join(f"  - {p}" for p in problems))


# --------------------------------------------------------------------------- YAML with line numbers
class _LineDict(dict):  # type: ignore[type-arg]
    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    d = _LineDict(loader.construct_mapping(node, deep=True))
    d.line = node.start_mark.line + 1
    return d


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]


def _line(d: Any) -> str:
    return f"第{d.line}行" if isinstance(d, _LineDict) and d.line else "?"


# --------------------------------------------------------------------------- expressions
_ALLOWED_FUNCS = {"max", "min", "abs"}


@dataclass(frozen=True)
class Expr:
    """A restricted arithmetic expression over input keys: + - * /, numbers, max/min/abs."""

    source: str
    tree: ast.expr = field(compare=False, repr=False)
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, source: str) -> Expr:
        try:
            tree = ast.parse(str(source), mode="eval").body
        except SyntaxError as e:
            raise ValueError(f"公式“{source}”无法解析") from e
        names: list[str] = []
        for n in ast.walk(tree):
            if isinstance(n, ast.Name):
                if n.id not in _ALLOWED_FUNCS:
                    names.append(n.id)
            elif isinstance(n, ast.Call):
                if not (isinstance(n.func, ast.Name) and n.func.id in _ALLOWED_FUNCS) or n.keywords:
                    raise ValueError(f"公式“{source}”只能使用 max/min/abs 函数")
            elif isinstance(n, ast.Constant):
                if not isinstance(n.value, (int, float)) or isinstance(n.value, bool):
                    raise ValueError(f"公式“{source}”只能包含数字和字段名")
            elif not isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
                                    ast.USub, ast.UAdd, ast.Load)):
                raise ValueError(f"公式“{source}”含有不支持的运算")
        return cls(str(source), tree, tuple(dict.fromkeys(names)))

    def eval(self, env: Mapping[str, Decimal]) -> Decimal:
        return _eval(self.tree, env)


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
        if b == 0:
            raise ZeroDivisionError
        return a / b
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
    try:
        return Decimal(s) / 100
    except InvalidOperation as e:
        raise ValueError(f"“{v}”不是百分数") from e


def _num(v: Any) -> Decimal:
    try:
        if isinstance(v, bool):
            raise InvalidOperation
        return Decimal(str(v))
    except InvalidOperation as e:
        raise ValueError(f"“{v}”不是数字") from e


class _RuleChecker:
    """Validates one rule mapping, collecting problems; returns a normalised Rule."""

    def __init__(self, where: str, problems: list[str], known: set[str]):
        self.where = where
        self.problems = problems
        self.known = known

    def err(self, msg: str) -> None:
        self.problems.append(f"{self.where}：{msg}")

    def expr(self, raw: Mapping[str, Any], key: str, inputs: list[str], required: bool = True) -> Expr | None:
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
        return e

    def value(self, raw: Mapping[str, Any], inputs: list[str]) -> dict[str, Any]:
        """``value: expr`` or ``numerator`` + ``denominator`` (+ ``zero_denominator``)."""
        out: dict[str, Any] = {}
        if "value" in raw:
            out["value"] = self.expr(raw, "value", inputs)
        else:
            out["numerator"] = self.expr(raw, "numerator", inputs)
            out["denominator"] = self.expr(raw, "denominator", inputs)
            if "zero_denominator" in raw:
                out["zero_denominator"] = self.zero_den(raw["zero_denominator"])
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
            for b in raw.get("bands") or []:
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
            for i, it in enumerate(raw.get("items") or [], start=1):
                if not isinstance(it, Mapping) or "text" not in it or "points" not in it:
                    self.err(f"checklist 第{i}项需要 text 和 points")
                    continue
                pts = _num(it["points"])
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
            for tr in raw.get("tiers") or []:
                if not isinstance(tr, Mapping) or not {"name", "low", "high"} <= set(tr):
                    self.err("tiers 的每一档需要 name、low、high")
                    continue
                tiers.append({"name": str(tr["name"]), "low": _pct(tr["low"]), "high": _pct(tr["high"]),
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
            p["table"] = {str(k): _num(v) for k, v in table.items()}
            for k, v in p["table"].items():
                if not (0 <= v <= points):
                    self.err(f"lookup 中“{k}”的分值 {v} 超出 0～{points}")
        elif t == "first_given":
            opts = []
            for o in raw.get("options") or []:
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


# The rule types a scheme may use; toolkit.scoring has one scoring function for each.
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


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int, ref: str) -> Scheme:
    text = Path(path).read_text(encoding="utf-8")
    return dataclasses.replace(parse_scheme(text, source=Path(path).name), ref=ref)


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
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark else ""
        raise SchemeError(source, [f"{where} YAML 格式错误：{getattr(e, 'problem', e)}"]) from None
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise SchemeError(source, ["文件内容必须是一个映射（id、title、indicators …）"])
    for k in ("id", "title", "indicators", "grades"):
        if k not in raw:
            problems.append(f"缺少顶层字段 {k}")
    if problems:
        raise SchemeError(source, problems)

    total = _num(raw.get("total", 100))
    # named inputs of the 评分表
    static_keys = {f.key for f in STATIC_FIELDS}
    named: list[Field] = []
    for i, inp in enumerate(raw.get("inputs") or [], start=1):
        if not isinstance(inp, Mapping) or "key" not in inp or "label" not in inp:
            problems.append(f"inputs 第{i}项（{_line(inp)}）需要 key 和 label")
            continue
        named.append(Field(
            key=str(inp["key"]), label=str(inp["label"]), sheet=SHEET_SCORING,
            kind=inp.get("kind", "text"), choices=tuple(str(c) for c in inp.get("choices") or ()),
            note=str(inp.get("note", "")), indicator=inp.get("indicator"),
            min=inp.get("min"), max=inp.get("max"),
        ))
    named_keys = {f.key for f in named}

    # collect ids first so derived inputs (chk_X_n, tier_X …) are known to the checker
    seen: dict[str, str] = {}
    derived: set[str] = set()

    def pre(nodes: Any) -> None:
        for n in nodes or []:
            if isinstance(n, Mapping) and "id" in n:
                r = n.get("rule")
                if isinstance(r, Mapping):
                    nid = str(n["id"])
                    for it in range(1, len(r.get("items") or []) + 1):
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
                raise ValueError
        except ValueError:
            problems.append(f"{where}：points 必须是正数，现为“{rn.get('points')}”")
            points = Decimal(0)
        mypath = path + (name,)
        kids_raw = rn.get("children")
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

    levels = tuple(n for n in (build(r, 1, ()) for r in raw.get("indicators") or []) if n)
    s = sum((n.points for n in levels), Decimal(0))
    if s != total:
        problems.append(f"一级指标分值之和 {s}（{' + '.join(f'{n.name}{n.points}' for n in levels)}）不等于总分 {total}")

    grades: list[Grade] = []
    for g in raw.get("grades") or []:
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
    return Scheme(id=str(raw["id"]), title=str(raw["title"]), total=total, grades=tuple(grades),
                  levels=levels, input_fields=input_fields, report=report, source=source,
                  indicator_groups=groups)


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
