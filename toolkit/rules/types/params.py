"""Reading rule parameters: numbers, percentages, formulas, ratios, lists and field keys, each
checked with a Chinese reason; unknown keys are refused with a did-you-mean."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from toolkit.rules.expr import MAX_PARAM, Expr
from toolkit.rules.model import Rule
from toolkit.rules.yaml_safe import NotAList, as_list, line_of


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


class ParamReader:
    """Reads the parameters of one rule mapping, collecting problems (Chinese, with the indicator and line)."""

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

    def known_keys(self, raw: Mapping[str, Any], keys: frozenset[str] | set[str], what: str,
                   also: frozenset[str] = frozenset()) -> None:
        """Refuse every key of ``raw`` not in ``keys`` (or ``also``: allowed, never suggested),
        suggesting the closest one."""
        for k in raw:
            if k in keys or k in also:
                continue
            near = difflib.get_close_matches(str(k), sorted(keys), n=1, cutoff=0.6)
            hint = f"是否应为 {near[0]}？" if near else f"可用：{'、'.join(sorted(keys))}"
            self.err(f"{what}的参数“{k}”（{line_of(raw, str(k))}）无法识别，{hint}")

    def check(self, raw: Any, node_id: str, points: Decimal) -> Rule | None:
        """Check one rule mapping (an inner rule of not_applicable_full / first_given too)."""
        raise NotImplementedError
