"""Scheme rule checks: validate each leaf's rule mapping into a normalised Rule, and derive the 评分表 input fields the rules need."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from toolkit.forms.fields import SHEET_SCORING, Field
from toolkit.rules.expr import MAX_PARAM, Expr
from toolkit.rules.model import RULE_TYPES, Node, Rule
from toolkit.rules.yaml_safe import NotAList, as_list, line_of

CHECK_CHOICES = ("是", "否")
_JUDGEMENT_TYPES = {"checklist", "tiers", "lookup", "first_given"}


def param_pct(v: Any) -> Decimal:
    """A percentage parameter (100, "100%", 0.5) → fraction Decimal."""
    s = str(v).strip().rstrip("%")
    return param_num(s, f"“{v}”不是百分数，请填写如 100 或 100% 的数值") / 100


def param_num(v: Any, what: str = "") -> Decimal:
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


class RuleChecker:
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
                    return {"kind": "value", "value": param_pct(v["value"]), "case": str(v.get("case", "normal"))}
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
            return as_list(raw.get(key))
        except NotAList:
            self.err(f"{key} 必须是以“- ”开头的列表，请对照内置方案的写法")
            return []

    def pct(self, raw: Mapping[str, Any], key: str, required: bool = True) -> Decimal | None:
        if key not in raw:
            if required:
                self.err(f"缺少参数 {key}")
            return None
        try:
            return param_pct(raw[key])
        except ValueError as e:
            self.err(f"参数 {key}：{e}")
            return None

    def num(self, raw: Mapping[str, Any], key: str, required: bool = True) -> Decimal | None:
        if key not in raw:
            if required:
                self.err(f"缺少参数 {key}")
            return None
        try:
            return param_num(raw[key])
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
                    pts = param_num(it["points"])
                except ValueError as e:
                    self.err(f"checklist 第{i}项（{line_of(it)}）的 points：{e}")
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
                    lo, hi = param_pct(tr["low"]), param_pct(tr["high"])
                except ValueError as e:
                    self.err(f"tiers 档次“{tr['name']}”（{line_of(tr)}）：{e}")
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
                    p["table"][str(k)] = v = param_num(v)
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


def is_judgement(rule: Rule) -> bool:
    if rule.type in _JUDGEMENT_TYPES:
        return True
    inner = rule.params.get("rule")
    return bool(inner and is_judgement(inner))


def derived_fields(nodes: list[Node], named: list[Field]) -> list[Field]:
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
