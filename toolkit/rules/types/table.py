"""The indicator_table rule type: the perf_indicators rows of one 一级指标 group, scored by the MOF rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from toolkit.fields import (
    ALL_GROUPS,
    MAX_TABLE_ROWS,
    QUAL_TIERS,
    TABLE_OPTIONS,
    Table,
    form,
    perf_indicators_table,
)
from toolkit.model import RowScore, TableRow
from toolkit.rules.excel import NA_TEXT, Excel, NotExpressible, TableCells, dec, quote
from toolkit.rules.model import Node, Rule, Scheme
from toolkit.rules.types import implied
from toolkit.rules.types.base import ONE, ZERO, Ctx, Describe, Outcome, RuleType, clamp, register
from toolkit.rules.types.params import ParamReader
from toolkit.text.numbers import exact, round2, to_decimal

# 定性 rows (MOF practice): tier → [low, high) share of w and the default share when no self score.
QUAL_RANGES: dict[str, tuple[Decimal, Decimal, bool, Decimal]] = {
    "达成": (Decimal("0.8"), ONE, False, ONE),
    "部分达成": (Decimal("0.6"), Decimal("0.8"), True, Decimal("0.7")),
    "未达成": (ZERO, Decimal("0.6"), True, Decimal("0.3")),
}
assert tuple(QUAL_RANGES) == QUAL_TIERS
OVERACHIEVED = Decimal("1.5")
OVER_STEP = Decimal("0.5")  # over-achievement deductions are per 50 percentage points beyond `above`


@dataclass(frozen=True)
class RowOptions:
    """The indicator_table options that change how a row scores (all off: the MOF rules as before)."""

    coefficient: bool = False  # 得分系数 column: w × coefficient
    adjusted_target: bool = False  # 调整后指标值 column: scored against it
    over_above: Decimal | None = None  # overachievement.above as a fraction (1.5 = 150%)
    over_share: Decimal = ZERO  # overachievement.deduct_share as a fraction of w per OVER_STEP


NO_OPTIONS = RowOptions()


def row_options(rule: Rule) -> RowOptions:
    p = rule.params
    return RowOptions(bool(p.get("coefficient")), bool(p.get("adjusted_target")), p.get("over_above"),
                      p.get("over_share") or ZERO)


def table_options(scheme: Scheme) -> frozenset[str]:
    """The column options (coefficient, adjusted_target) any indicator_table of ``scheme`` turns on."""
    on: set[str] = set()
    for n in scheme.nodes():
        if n.rule is not None and n.rule.type == IndicatorTable.name:
            on.update(k for k in TABLE_OPTIONS if n.rule.params.get(k))
    return frozenset(on)


def group_options(scheme: Scheme) -> dict[str, RowOptions]:
    """一级指标 group → the options of its indicator_table."""
    return {str(n.rule.params["group"]): row_options(n.rule) for n in scheme.nodes()
            if n.rule is not None and n.rule.type == IndicatorTable.name}


def perf_table(scheme: Scheme) -> Table:
    """The perf_indicators table of ``scheme``'s template: one source for the template, reader and validator."""
    return perf_indicators_table(table_options(scheme))


def over_deduction(actual: Decimal, target: Decimal, w: Decimal, opts: RowOptions) -> Decimal:
    """Points taken from a ≥ row whose actual exceeds ``over_above`` of its target: ``over_share`` × w per
    further 50 percentage points, in proportion (175% with above 150%, share 10%: 5% of w); 0 otherwise."""
    if opts.over_above is None or target <= 0:
        return ZERO
    beyond = actual / target - opts.over_above
    if beyond <= 0:
        return ZERO
    return w * opts.over_share * beyond / OVER_STEP


def score_row(row: TableRow, opts: RowOptions = NO_OPTIONS) -> tuple[Decimal, Decimal | None, list[str]]:
    """MOF rules for one perf_indicators row → (raw score before clamp, value, warnings codes).

    With the options: a 得分系数 scores w × coefficient; a 调整后指标值 replaces 年度指标值; a ≥ row
    beyond ``over_above`` loses over_deduction (floor 0 by the caller's clamp)."""
    v = row.values
    w = to_decimal(v.get("points")) or ZERO
    direction = v.get("direction")
    notes: list[str] = []
    coefficient = to_decimal(v.get("coefficient")) if opts.coefficient else None
    if coefficient is not None:
        return w * coefficient, None, notes
    if direction == "定性":
        tier = str(v.get("actual") or "")
        rng = QUAL_RANGES.get(tier)
        if rng is None:
            return ZERO, None, notes
        s = to_decimal(v.get("self_score"))
        if s is None:
            return w * rng[3], None, notes
        lo, hi, open_hi, _ = rng
        inside = lo * w <= s < hi * w if open_hi else lo * w <= s <= hi * w
        if not inside:
            notes.append("self_score_range")
            return ZERO, None, notes
        return s, None, notes
    a, t = to_decimal(v.get("actual")), to_decimal(v.get("target"))
    adjusted = to_decimal(v.get("target_adjusted")) if opts.adjusted_target else None
    if adjusted is not None:
        t = adjusted
    if a is None or t is None:
        return ZERO, None, notes
    value = a / t if t != 0 else None
    if direction == "≥":
        if t != 0 and a > t * OVERACHIEVED:
            notes.append("overachieved")
        if a >= t:
            cut = over_deduction(a, t, w, opts)
            if cut > 0:
                notes.append("over_deducted")
            return w - cut, value, notes
        return (w * a / t if t > 0 else ZERO), value, notes
    if direction == "≤":
        if a <= t:
            return w, value, notes
        return (w * t / a if a > 0 else ZERO), value, notes
    if direction == "=":
        if a == t:
            return w, value, notes
        if t == 0:
            return ZERO, value, notes
        return w * max(ZERO, ONE - abs(a - t) / abs(t)), value, notes
    if direction == "区间":
        top = to_decimal(v.get("target_max"))
        if top is None:
            return ZERO, None, notes
        hi = top
        if t <= a <= hi:
            return w, None, notes
        if a > hi:
            return (w * hi / a), None, notes
        return (w * a / t if t > 0 else ZERO), None, notes
    return ZERO, None, notes


@register
class IndicatorTable(RuleType):
    name = "indicator_table"
    keys = frozenset({"group", "coefficient", "adjusted_target", "overachievement"})
    block = True
    example = {"type": "indicator_table", "group": "产出指标"}

    def parse(self, chk: ParamReader, raw: Mapping[str, Any], node_id: str, points: Decimal,
              inputs: list[str]) -> dict[str, Any]:
        g = raw.get("group")  # absent: every row of the table, whatever its 一级指标 (四川: 绩效指标 90)
        out: dict[str, Any] = {"group": str(g).strip() if g else ALL_GROUPS}
        for key in TABLE_OPTIONS:
            if key in raw:
                if not isinstance(raw[key], bool):
                    chk.err(f"参数 {key} 只能是 true 或 false")
                elif raw[key]:
                    out[key] = True
        over = raw.get("overachievement")
        if over is not None:
            if not isinstance(over, Mapping):
                chk.err("参数 overachievement 应写成 {above: 150, deduct_share: 10}")
            else:
                chk.known_keys(over, frozenset({"above", "deduct_share"}), "overachievement")
                above, share = chk.pct(over, "above"), chk.pct(over, "deduct_share")
                if above is not None and above < 1:
                    chk.err("overachievement.above 是完成值占指标值的百分比，应不低于 100（如 150）")
                elif share is not None and not ZERO < share <= 1:
                    chk.err("overachievement.deduct_share 是每超 50 个百分点扣减分值的比例，应在 0～100 之间（如 10）")
                elif above is not None and share is not None:
                    out["over_above"], out["over_share"] = above, share
        return out

    def score(self, ctx: Ctx, node: Node, rule: Rule, w: Decimal) -> Outcome:
        group = rule.params["group"]
        opts = row_options(rule)
        rows: list[RowScore] = []
        deducted: dict[int, Decimal] = {}  # row index → over-achievement points taken
        table = form(ctx.scheme.form).indicator_table.name
        for row in ctx.sub.tables.get(table, ()):
            if group != ALL_GROUPS and row.values.get("level1") != group:
                continue
            raw, value, notes = score_row(row, opts)
            pts = to_decimal(row.values.get("points")) or ZERO
            s = round2(clamp(raw, pts))
            rows.append(RowScore(row=row, points=pts, score=s, value=value))
            if "over_deducted" in notes:
                deducted[row.index] = pts - s
            name = str(row.values.get("name") or "")
            if any(c in ctx.bad_cells for c in row.cells.values()):
                continue  # validation already reported this row; its score problems would only echo it
            if "overachieved" in notes:
                ctx.add("overachieved", cells=[row.cells["actual"]] if "actual" in row.cells else [],
                        field_key=table, label=name, actual=exact(row.values.get("actual")),
                        target=exact(row.values.get("target")))
            if "self_score_range" in notes:
                tier = str(row.values.get("actual"))
                lo, hi, _, _ = QUAL_RANGES[tier]
                ctx.add("tier_range", cells=[row.cells["self_score"]] if "self_score" in row.cells else [],
                        field_key=table,
                        score=exact(row.values.get("self_score")), tier=tier, low=exact(lo * pts), high=exact(hi * pts))
            if s < pts and not str(row.values.get("deviation_note") or "").strip():
                ctx.add("note_required", cells=[row.cells["deviation_note"]] if "deviation_note" in row.cells else [],
                        field_key=table,
                        label=name, score=exact(s), points=exact(pts))
        total = sum((rs.score for rs in rows), ZERO)
        out = Outcome(total, None, {"case": "normal", "group": group})
        out.facts["rows"] = tuple(rows)
        if opts.coefficient:
            out.facts["coefficient"] = True
        if opts.adjusted_target:
            out.facts["adjusted_target"] = True
        if deducted:
            out.facts["over_deducted"] = deducted
            out.facts["over_above"] = opts.over_above
        return out

    def excel(self, rule: Rule, node: Node, w: Decimal, x: Excel) -> str:
        t = x.table
        if t is None:
            raise NotExpressible("绩效指标表没有逐行得分列")
        x.guard(f"COUNTIF({t.live},{quote(NA_TEXT)})>0")  # a row the reader may read differently
        x.guard(f"COUNTA({t.beyond(t.below or MAX_TABLE_ROWS)})>0")  # rows typed below the table have no live score
        group = rule.params["group"]
        if group == ALL_GROUPS:
            return f"SUM({t.live})"
        return f"SUMIF({t.column('level1')},{quote(group)},{t.live})"

    def describe(self, rule: Rule, node: Node, labels: Mapping[str, str], inner: Describe) -> str:
        o = row_options(rule)
        extra = "".join((
            "填写调整后指标值的行按调整后的值计分；" if o.adjusted_target else "",
            "填写得分系数的行得分为分值×得分系数；" if o.coefficient else "",
            (f"≥类完成值超过指标值{exact(o.over_above * 100)}%的，每再超过50个百分点扣该行分值的"
             f"{exact(o.over_share * 100)}%；") if o.over_above is not None else "",
        ))
        rows = (f"一级指标为“{rule.params['group']}”的各行" if rule.params["group"] != ALL_GROUPS else "各行")
        return (f"按《绩效指标》表中{rows}计分（计分方法见该表说明），"
                f"{extra}各行分值合计应为{exact(node.points)}分。")


# ---------------------------------------------------------------- the live row score (Excel)
_TEXT_NUMBERS = ("target", "actual", "target_max", "target_adjusted")  # text-formatted: typed as text


def _plain(ref: str) -> str:
    """Excel: the cell holds a number, or text that is a plain decimal (digits, one inner dot) —
    the only spellings VALUE() reads exactly as the Python reader does."""
    t = f'TRIM({ref}&"")'
    digits = t
    for ch in "0123456789.":
        digits = f'SUBSTITUTE({digits},"{ch}","")'
    return (f'OR(ISNUMBER({ref}),AND(LEN({t})>0,LEN({t})<=15,{digits}="",'
            f'LEN({t})-LEN(SUBSTITUTE({t},".",""))<=1,LEFT({t},1)<>".",RIGHT({t},1)<>"."))')


def _value(ref: str) -> str:
    """The number in a non-blank cell (number or plain text): a number's text has Excel's 15 digits,
    the digits the Python reader keeps of a float."""
    return f'VALUE(TRIM({ref}&""))'


def excel_row(t: TableCells, i: int, options: Mapping[str, RowOptions], qualitative: Mapping[str, tuple[str, ...]]) -> str:
    """The live score of data row ``i`` of the indicator table: score_row in Excel, clamped and rounded;
    "" for a blank row, NA_TEXT for a row holding what only the Python reader reads (numbers with
    units or signs typed as text, direction aliases, other 定性 words, % rows typed as fractions)."""
    if "direction" not in t.cols:
        if not t.helpers:
            raise NotExpressible("指标性质由年度指标值的文字决定，公式无法可靠识别")
        return _implied_row(t, i, options, qualitative)
    c = {k: t.ref(col, i) for k, col in t.cols.items()}
    text = {k: f'TRIM({v}&"")' for k, v in c.items()}
    d = text["direction"]
    w = f"N({c['points']})"  # points ≤ 0 or blank score 0 (below); text points are NA_TEXT
    val = {k: _value(c[k]) for k in _TEXT_NUMBERS if k in c}
    # a non-blank cell that is not plain is NA_TEXT (``bad``), so here non-blank means readable
    ok = {k: f"AND(LEN({text[k]})>0,IFERROR({val[k]},-1)>=0)" for k in val}
    directions = ",".join(f"{d}={quote(x)}" for x in ("≥", "≤", "=", "区间", "定性"))
    words = ",".join(f"{text['actual']}={quote(x)}" for ws in qualitative.values() for x in ws)
    pct_unit = f'OR({text["unit"]}="%",{text["unit"]}="％")' if "unit" in c else "1=0"
    fractions = ",".join(f"AND(IFERROR({val[k]},0)>0,IFERROR({val[k]},0)<=1)" for k in val)
    bad = [f"AND(LEN({d})>0,NOT(OR({directions})))",
           f'AND({d}<>"定性",{pct_unit},OR({fractions}))',
           f'AND({d}="定性",LEN({text["actual"]})>0,NOT(OR({words})))']
    bad += [f"AND(NOT(ISBLANK({c[k]})),NOT(ISNUMBER({c[k]})))" for k in ("points", "self_score", "coefficient")
            if k in c]
    bad += [f'AND({d}<>"定性",LEN({text[k]})>0,NOT({_plain(c[k])}))' for k in val]
    variants: dict[RowOptions, list[str]] = {}
    for g, o in options.items():
        variants.setdefault(o, []).append(g)
    if len(variants) == 1:
        raw = _row_raw(c, text, val, ok, w, next(iter(variants)), qualitative)
    else:
        raw = "0"
        for o, groups in variants.items():
            cond = ",".join(f"{text['level1']}={quote(g)}" for g in groups)
            raw = f"IF(OR({cond}),{_row_raw(c, text, val, ok, w, o, qualitative)},{raw})"
    return (f'=IF(COUNTA({",".join(c.values())})=0,"",IF(OR({",".join(bad)}),{quote(NA_TEXT)},'
            f"IF({w}<=0,0,ROUND(MAX(0,MIN({w},{raw})),2))))")


def _row_raw(c: Mapping[str, str], text: Mapping[str, str], val: Mapping[str, str], ok: Mapping[str, str],
             w: str, o: RowOptions, qualitative: Mapping[str, tuple[str, ...]]) -> str:
    d, a_txt = text["direction"], text["actual"]
    s = c["self_score"]
    qual = "0"
    for tier in reversed(QUAL_TIERS):
        lo, hi, open_hi, share = QUAL_RANGES[tier]
        inside = f"AND({s}>={dec(lo)}*{w},{s}{'<' if open_hi else '<='}{dec(hi)}*{w})"
        score = f"IF(AND(ISNUMBER({s}),{s}>=0),IF({inside},{s},0),{w}*{dec(share)})"
        cond = ",".join(f"{a_txt}={quote(x)}" for x in qualitative.get(tier, (tier,)))
        qual = f"IF(OR({cond}),{score},{qual})"
    a, t, t_ok = val["actual"], val["target"], ok["target"]
    if o.adjusted_target and "target_adjusted" in val:
        j = val["target_adjusted"]
        t_ok = f"OR({ok['target_adjusted']},{t_ok})"
        t = f"IF({ok['target_adjusted']},{j},{t})"
    cut = "0"
    if o.over_above is not None:
        beyond = f"({a}/{t}-{dec(o.over_above)})"
        cut = f"IF({t}>0,IF({beyond}>0,{w}*{dec(o.over_share)}*{beyond}/{dec(OVER_STEP)},0),0)"  # IF, not AND: t may be 0
    ge = f"IF({a}>={t},{w}-{cut},IF({t}>0,{w}*{a}/{t},0))"
    le = f"IF({a}<={t},{w},IF({a}>0,{w}*{t}/{a},0))"
    eq = f"IF({a}={t},{w},IF({t}=0,0,{w}*MAX(0,1-ABS({a}-{t})/ABS({t}))))"
    iv = "0"
    if "target_max" in val:
        m = val["target_max"]
        iv = (f"IF(NOT({ok['target_max']}),0,IF(AND({t}<={a},{a}<={m}),{w},"
              f"IF({a}>{m},{w}*{m}/{a},IF({t}>0,{w}*{a}/{t},0))))")
    numeric = (f'IF(NOT(AND({t_ok},{ok["actual"]})),0,IF({d}="≥",{ge},IF({d}="≤",{le},IF({d}="=",{eq},'
               f'IF({d}="区间",{iv},0)))))')
    raw = f'IF({d}="定性",{qual},{numeric})'
    if o.coefficient and "coefficient" in c:
        k = c["coefficient"]
        coef = f"IF({k}>1,{k}/100,{k})"
        raw = f"IF(AND(ISNUMBER({k}),{coef}>=0,{coef}<=1),{w}*{coef},{raw})"
    return raw


def _implied_row(t: TableCells, i: int, options: Mapping[str, RowOptions],
                 qualitative: Mapping[str, tuple[str, ...]]) -> str:
    """excel_row for a table without 指标性质 (the project form): the direction and numbers come from
    the row's hidden helper cells (toolkit.rules.types.implied); NA_TEXT for what they cannot read,
    for % rows holding a fraction (0.95 beside 98: the reader may take it as 95%) or % on one side
    only, for a 一级指标 SUMIF would not match as the reader does, and for any error."""
    c = {k: t.ref(col, i) for k, col in t.cols.items()}
    h = {k: t.helper(k, i) for k in implied.IMPLIED_HELPERS}
    d, a_txt = h["dir"], f'TRIM({c["actual"]}&"")'
    w = f"N({c['points']})"
    words = ",".join(f"{a_txt}={quote(x)}" for ws in qualitative.values() for x in ws)
    numeric = f'AND({d}<>"",{d}<>"定性")'
    unit = implied.squashed(c["unit"])
    pct = (f'OR({unit}="%",{unit}="％",{implied.ends_percent(h["t"])},'
           f'{implied.ends_percent(implied.actual_text(t, i))})')
    fractions = ",".join(f"AND(ISNUMBER({h[k]}),N({h[k]})>0,N({h[k]})<=1)" for k in ("low", "high", "act"))
    one_sided = (f'AND(LEN({h["a"]})>0,{implied.ends_percent(h["t"])}'
                 f'<>{implied.ends_percent(implied.actual_text(t, i))})')
    bad = [f'{d}="?"', f'AND({numeric},{h["act"]}="?")', f"AND({numeric},{pct},OR({fractions}))",
           f"AND({numeric},{one_sided})", f'AND({d}="定性",LEN({a_txt})>0,NOT(OR({words})))',
           *(f"AND(NOT(ISBLANK({c[k]})),NOT(ISNUMBER({c[k]})))" for k in ("points", "self_score"))]
    groups = [g for g in options if g != ALL_GROUPS]
    if groups and ALL_GROUPS not in options:  # SUMIF matches the cell as typed; the reader trims it
        level1 = f'{c["level1"]}&""'
        known = ",".join(f"{level1}={quote(g)}" for g in groups)
        bad.append(f"AND(LEN({level1})>0,NOT(OR({known})))")
    text = {"direction": d, "actual": a_txt}
    val = {"actual": h["act"], "target": h["low"], "target_max": h["high"]}
    ok = {k: f"ISNUMBER({v})" for k, v in val.items()}
    raw = _row_raw(c, text, val, ok, w, next(iter(options.values()), NO_OPTIONS), qualitative)
    inputs = ",".join(c[k] for k in t.cols)
    return (f'=IFERROR(IF(COUNTA({inputs})=0,"",IF(OR({",".join(bad)}),{quote(NA_TEXT)},'
            f"IF({w}<=0,0,ROUND(MAX(0,MIN({w},{raw})),2)))),{quote(NA_TEXT)})")
