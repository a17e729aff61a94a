"""Loading schemes: find a built-in or user file, read it safely, check every indicator and rule, and build the Scheme.

``load_scheme(name_or_path)`` returns a validated, immutable ``Scheme``. Every problem in a
user-written file is reported at once, each naming the file, the line and the indicator.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from toolkit.errors import JixiaoError
from toolkit.fields import FORMS, SHEET_SCORING, Field
from toolkit.rules import strict
from toolkit.rules.check import RuleChecker, derived_fields, is_judgement, param_num
from toolkit.rules.checks import parse_checks, parse_qualitative
from toolkit.rules.extends import ExtendsError, resolve_extends
from toolkit.rules.forms import aggregate_names, parse_fields, parse_overrides, parse_tables
from toolkit.rules.inputs import rule_inputs
from toolkit.rules.model import Grade, Node, Scheme
from toolkit.rules.types.adjust import parse_adjustments, parse_total_cap
from toolkit.rules.yaml_safe import (
    MAX_SCHEME_BYTES,
    NotAList,
    YamlRefused,
    as_list,
    at_line,
    decode,
    line_of,
    read_yaml,
)

DEFAULT_SCHEME = "jianghua-2023"


class SchemeError(JixiaoError, ValueError):
    """A scheme file that cannot be used; ``problems`` lists every reason (Chinese)."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"方案文件 {source} 有 {len(problems)} 处错误：\n" + "\n".join(f"  - {p}" for p in problems))


def builtin_dir() -> Path:
    """The folder of the built-in scheme files (toolkit/rules/builtin/*.yaml)."""
    return Path(str(resources.files("toolkit.rules").joinpath("builtin")))


def builtin_ids(form: str | None = None) -> list[str]:
    """The built-in schemes' ids; with ``form``, only those scoring that form (dept / project)."""
    ids = sorted(p.stem for p in builtin_dir().glob("*.yaml"))
    return ids if form is None else [i for i in ids if load_scheme(i).form == form]


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
    source = Path(path).name
    with open(path, "rb") as f:
        data = f.read(MAX_SCHEME_BYTES + 1)
    if len(data) > MAX_SCHEME_BYTES:
        raise SchemeError(source, [f"文件超过 {MAX_SCHEME_BYTES // 1_000_000} MB，不像方案文件（内置方案约 20 KB），"
                                   "请确认 --scheme 指向的是方案 .yaml 文件"])
    try:
        text = decode(data)
    except YamlRefused as e:
        raise SchemeError(source, [at_line(e.line, e.msg)]) from None
    return dataclasses.replace(parse_scheme(text, source=source, base=Path(path).parent), ref=ref)


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


def parent_path(name: str, base: Path) -> Path:
    """``extends:`` → the parent's file: a built-in id, or a .yaml path relative to the extending file."""
    p = builtin_dir() / f"{name}.yaml"
    if "/" not in name and "\\" not in name and p.exists():
        return p
    q = base / name
    if q.suffix.lower() in (".yaml", ".yml") and q.is_file():
        return q
    raise KeyError(name)


def parse_scheme(text: str, source: str = "<scheme>", base: Path | None = None) -> Scheme:
    """Parse and validate scheme text; every problem is a SchemeError in Chinese, never a traceback.

    ``base``: the folder an ``extends:`` path is relative to (the scheme file's; default the working folder).
    """
    try:
        return _parse_scheme(text, source, base or Path.cwd())
    except SchemeError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError, ArithmeticError, RecursionError):
        # A shape no check above foresaw: still a clear answer, not a Python exception name.
        raise SchemeError(source, ["方案的结构与内置方案不一致（某处应为列表或映射的地方写成了文字或数字），"
                                   "请复制内置方案（jixiao schemes 可列出）后只修改分值和文字"]) from None


def _parse_scheme(text: str, source: str, base: Path) -> Scheme:
    if len(text) > MAX_SCHEME_BYTES:
        raise SchemeError(source, [f"内容超过 {MAX_SCHEME_BYTES // 1_000_000} MB，不像方案文件（内置方案约 20 KB）"])
    try:
        raw = read_yaml(text)
    except YamlRefused as e:
        raise SchemeError(source, [at_line(e.line, e.msg)]) from None
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise SchemeError(source, ["第1行：文件内容必须是以“id:”“title:”“indicators:”等开头的映射，"
                                   "请复制一个内置方案再修改"])
    try:
        raw = resolve_extends(raw, base, parent_path)
    except ExtendsError as e:
        raise SchemeError(source, e.problems) from None
    for k in ("id", "title", "indicators", "grades"):
        if k not in raw:
            problems.append(f"缺少顶层字段 {k}")
    problems.extend(strict.unknown_keys(raw, strict.TOP_KEYS, "顶层", "方案文件"))
    if problems and any(k not in raw for k in ("id", "title", "indicators", "grades")):
        raise SchemeError(source, problems)

    try:
        total = param_num(raw.get("total", 100))
    except ValueError as e:
        problems.append(f"total（总分）：{e}")
        total = Decimal(100)
    form_name = str(raw.get("form", "dept"))
    if form_name not in FORMS:
        problems.append(f"form（{line_of(raw, 'form')}）：“{form_name}”不是可用的表，可用：{'、'.join(FORMS)}"
                        f"（dept 部门整体支出，project 项目支出）")
        form_name = "dept"
    # named inputs of the 评分表
    static_keys = {f.key for f in FORMS[form_name].fields}
    named: list[Field] = []
    for i, inp in enumerate(_top_list(raw, "inputs", problems), start=1):
        if not isinstance(inp, Mapping) or "key" not in inp or "label" not in inp:
            problems.append(f"inputs 第{i}项（{line_of(inp)}）需要 key 和 label")
            continue
        problems.extend(strict.unknown_keys(inp, strict.INPUT_KEYS, f"inputs 第{i}项", "输入项"))
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
    added = parse_fields(raw, static_keys | named_keys | derived, problems)
    overrides = parse_overrides(raw, problems, form_name)
    tables = parse_tables(raw, problems)
    known = static_keys | named_keys | derived | {f.key for f in added} | aggregate_names(tables)

    groups: dict[str, Decimal] = {}

    def build(rn: Any, level: int, path: tuple[str, ...]) -> Node | None:
        if not isinstance(rn, Mapping):
            problems.append(f"{'/'.join(path) or '顶层'}：指标必须是映射")
            return None
        nid = str(rn.get("id", ""))
        name = str(rn.get("name", ""))
        where = f"指标 {nid or name or '?'}（{line_of(rn)}）"
        problems.extend(strict.unknown_keys(rn, strict.NODE_KEYS, f"指标 {nid or name or '?'}", "指标"))
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
            points = param_num(rn.get("points"))
            if points <= 0:
                raise ValueError("")
        except ValueError as e:
            problems.append(f"{where}：points 必须是正数，现为“{rn.get('points')}”{f'（{e}）' if str(e) else '，请填写本指标的分值'}")
            points = Decimal(0)
        mypath = path + (name,)
        try:
            kids_raw = as_list(rn.get("children"))
        except NotAList:
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
                rule = RuleChecker(where, problems, known).check(rn["rule"], nid, points)
                if rule and rule.type == "indicator_table":
                    g = rule.params["group"]
                    if g in groups:
                        problems.append(f"{where}：indicator_table 分组“{g}”被多个指标使用")
                    elif groups and (g == "" or "" in groups):
                        problems.append(f"{where}：不写 group 的 indicator_table 计入全部指标行，"
                                        "不能与其他 indicator_table 同时使用")
                    groups[g] = points
        wording = rn.get("wording") or {}
        if not isinstance(wording, Mapping):
            problems.append(f"{where}：wording 必须是映射")
            wording = {}
        problems.extend(strict.check_wording(wording, f"指标 {nid or name or '?'}", strict.rule_cases(rn.get("rule")),
                                             frozenset(known)))
        judgement = bool(rule and is_judgement(rule))
        return Node(id=nid, name=name, points=points, level=level, path=mypath, children=tuple(children),
                    rule=rule, wording=wording, judgement=judgement)

    levels = tuple(n for n in (build(r, 1, ()) for r in _top_list(raw, "indicators", problems)) if n)
    s = sum((n.points for n in levels), Decimal(0))
    if s != total:
        problems.append(f"一级指标分值之和 {s}（{' + '.join(f'{n.name}{n.points}' for n in levels)}）不等于总分 {total}")

    grades: list[Grade] = []
    for g in _top_list(raw, "grades", problems):
        problems.extend(strict.unknown_keys(g, strict.GRADE_KEYS, "grades", "等级"))
        try:
            grades.append(Grade(str(g["name"]), param_num(g["min"])))
        except (KeyError, TypeError, ValueError):
            problems.append(f"grades（{line_of(g)}）：每个等级需要 name 和 min")
    grades.sort(key=lambda g: g.min, reverse=True)
    if grades and grades[-1].min > 0:
        problems.append(f"等级未覆盖 0～{grades[-1].min} 分：最低等级的 min 必须为 0")
    if grades and grades[0].min > total:
        problems.append(f"等级“{grades[0].name}”的下限 {grades[0].min} 高于总分 {total}")
    if len({g.min for g in grades}) != len(grades):
        problems.append("grades 中有下限相同的等级")

    report = raw.get("report") or {}
    if not isinstance(report, Mapping):
        problems.append(f"{line_of(raw, 'report')}：report 必须是映射（report: 下缩进书写各项文字）")
    problems.extend(strict.check_report(report, frozenset(known)))
    checks = parse_checks(raw, known, problems, form_name)
    qualitative = parse_qualitative(raw, problems)
    adjustments = parse_adjustments(raw, problems, known, set(seen))
    total_cap = parse_total_cap(raw, problems)
    if problems:
        raise SchemeError(source, problems)

    nodes = [n for lv in levels for n in lv.walk()] + [a.node for a in adjustments]
    input_fields = tuple(derived_fields(nodes, named))
    scheme = Scheme(id=str(raw["id"]), title=str(raw["title"]), total=total, grades=tuple(grades),
                    levels=levels, input_fields=input_fields, report=report, source=source,
                    indicator_groups=groups, checks=checks, qualitative=qualitative,
                    adjustments=adjustments, total_cap=total_cap, fields=added, field_overrides=overrides,
                    tables=tables, form=form_name)
    always = rule_inputs(scheme)[0]
    for key, change in overrides.items():
        if change.get("required") is False and key in always:
            problems.append(f"field_overrides.{key}：本方案的评分规则总要读取“{key}”，不能设为非必填"
                            "（required: false），请删去这一项或修改用到它的指标")
    if problems:
        raise SchemeError(source, problems)
    return scheme


def _top_list(raw: Mapping[str, Any], key: str, problems: list[str]) -> list[Any]:
    try:
        return as_list(raw.get(key))
    except NotAList:
        problems.append(f"顶层字段 {key}（{line_of(raw, key)}）必须是以“- ”开头的列表，请对照内置方案的写法")
        return []
