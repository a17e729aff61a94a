"""The perf_indicators table's row rules: one non-blank row → a TableRow, problems on the Checker."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from toolkit import fields as F
from toolkit.check.consistency import Checker, as_typed
from toolkit.model import TableRow, Value
from toolkit.read.clean import clean_text
from toolkit.read.normalize import (
    ACCEPTED_DIRECTIONS,
    LIMITS,
    Invalid,
    is_percent_unit,
    no_formula_error,
    parse_choice,
    parse_direction,
    parse_measure,
    parse_number,
    parse_percent,
    parse_target,
    percent_points,
)
from toolkit.read.workbook import RawTable
from toolkit.rules.checks import DEFAULT_QUALITATIVE
from toolkit.rules.types.table import group_options

QUAL_TIERS = F.QUAL_TIERS


def indicator_rows(v: Checker) -> tuple[TableRow, ...]:
    """Every non-blank row of the form's indicator table (perf_indicators / project_indicators) read;
    each scheme group present, its points adding up."""
    table = F.form(v.scheme.form).indicator_table
    t = v.raw.tables.get(table.name)
    if t is None:
        return ()
    rows = tuple(IndicatorRow(v, t, index, excel_row, vals, table).read()
                 for index, excel_row, vals in t.nonblank_rows())
    if not rows and table.min_rows and t.rows:
        v.add("required", t.address(t.rows[0][0], "name") if "name" in t.columns else None, field=t.name,
              label=f"{table.title}（至少填写一行）", hint="")
    groups = v.scheme.indicator_groups
    for group, points in groups.items():
        mine = [r for r in rows if group == F.ALL_GROUPS or r.values.get("level1") == group]
        if not mine:
            first = t.address(t.rows[0][0], "level1") if t.rows and "level1" in t.columns else None
            if group != F.ALL_GROUPS:
                v.add("indicator_group_missing", first, field=t.name, group=group, points=as_typed(points))
            continue
        pts = [p for r in mine if isinstance(p := r.values.get("points"), Decimal)]
        if len(pts) == len(mine):
            total = sum(pts, Decimal(0))
            if total != points:
                cells = [r.cells["points"] for r in mine if "points" in r.cells]
                v.add("indicator_points", cells=cells, field=t.name, group=group or "绩效指标", total=as_typed(total),
                      points=as_typed(points))
    return rows


class IndicatorRow:
    """One non-blank perf_indicators row → TableRow with normalised values, problems on the Checker."""

    COLS = {c.key: c for c in F.PERF_COLUMNS}

    def __init__(self, v: Checker, t: RawTable, index: int, excel_row: int, vals: dict[str, Any],
                 table: F.Table = F.PERF_INDICATORS):
        self.v, self.t, self.index, self.vals = v, t, index, vals
        self.cells = {k: t.address(excel_row, k) for k in t.columns}
        self.out: dict[str, Value] = dict.fromkeys(c.key for c in (*table.columns, F.PERF_INDICATORS.column("direction")))
        # no 指标性质 column (the project form): the direction is read from 年度指标值
        self.implied_direction = not any(c.key == "direction" for c in table.columns)

    def label(self, key: str) -> str:
        name = clean_text(self.vals.get("name"), multiline=False)
        where = f"第{self.index}行" + (f"“{name}”" if name else "")
        return f"{self.COLS[key].header}（{where}）"

    def problem(self, code: str, key: str, **params: Any) -> None:
        params.setdefault("label", self.label(key))
        self.v.add(code, self.cells.get(key), field=self.t.name, **params)

    def invalid(self, e: Invalid, key: str) -> None:
        params: dict[str, Any] = {"value": e.seen, **e.params}
        if e.code in ("not_number", "not_integer"):
            params["example"] = {"points": "2.5", "self_score": "2"}.get(key, "3000、99%、1-7")
        if e.code == "bad_direction":
            params["accepted"] = ACCEPTED_DIRECTIONS
        self.problem(e.code, key, **params)

    def attempt(self, key: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Invalid as e:
            self.invalid(e, key)
            return _BAD

    def require(self, key: str, value: Any) -> None:
        if value is None and key in self.cells:
            self.problem("required", key, hint="")

    def read(self) -> TableRow:
        vals, out = self.vals, self.out
        groups = F.level1_choices(self.v.scheme.indicator_groups)
        # level1: a group of this scheme
        text = self.attempt("level1", lambda: _text(vals.get("level1")))
        if text is not None and text is not _BAD:
            try:
                out["level1"] = parse_choice(text, groups)
            except Invalid:
                out["level1"] = text
                self.problem("indicator_group", "level1", value=text, groups="、".join(groups))
        elif text is None:
            self.require("level1", None)
        for key in ("level2", "name", "unit"):
            t = self.attempt(key, partial(_text, vals.get(key)))
            out[key] = None if t is _BAD else t
        self.require("name", out["name"])
        allowed = F.LEVEL2_BY_LEVEL1.get(str(out.get("level1") or ""), ())
        if out["level2"] and allowed and out["level2"] not in allowed:
            try:  # full-width and spacing variants of an allowed name are simply normalised
                out["level2"] = parse_choice(out["level2"], allowed)
            except Invalid:
                self.problem("level2_mismatch", "level2", value=out["level2"], level1=out["level1"],
                             choices="、".join(allowed))
        note = self.attempt("deviation_note", partial(_text, vals.get("deviation_note"), multiline=True))
        out["deviation_note"] = None if note is _BAD else note

        direction = (self.implied() if self.implied_direction
                     else self.attempt("direction", lambda: parse_direction(vals.get("direction"))))
        if direction == "定性":
            self.qualitative()
        elif direction is not _BAD:
            self.numeric(direction)
        else:
            # still read the numbers so that their own problems are reported
            self.numeric(None, direction_bad=True)

        points = self.attempt("points", lambda: parse_number(vals.get("points"), units=("分",),
                                                                 limit=LIMITS["score"]))
        if points is None:
            self.require("points", None)
        elif points is not _BAD:
            if points <= 0:
                self.problem("not_positive", "points", value=as_typed(points))
            else:
                out["points"] = points
        score = self.attempt("self_score", lambda: parse_number(vals.get("self_score"), units=("分",),
                                                                         limit=LIMITS["score"]))
        if score is not None and score is not _BAD:
            if score < 0:
                self.problem("negative", "self_score", value=as_typed(score))
            else:
                out["self_score"] = score
                if out["direction"] is not None and out["direction"] != "定性":
                    self.problem("self_score_not_qualitative", "self_score")
        if "coefficient" in self.cells:
            self.coefficient()
        self.unused_options()
        return TableRow(index=self.index, values=out, cells=self.cells, raw=dict(vals))

    def implied(self) -> str | None:
        """The direction a 年度指标值 alone says: ≥95% / ≤5天 / =100 / 1～7天; a plain number is ≥ (MOF
        practice: 指标值 is what is to be reached), text that is no number is 定性."""
        try:
            target = parse_target(self.vals.get("target"))
        except Invalid as e:
            return "定性" if e.code == "not_number" else None
        if target is None:
            return None  # blank: reported as required by numeric()
        return target.direction or "≥"

    def qualitative(self) -> None:
        vals, out = self.vals, self.out
        out["direction"] = "定性"
        target = self.attempt("target", lambda: _text(vals.get("target")))
        if target is not _BAD:
            out["target"] = target
            self.require("target", target)
        actual = self.attempt("actual", lambda: _text(vals.get("actual")))
        if actual is None:
            self.require("actual", None)
        elif actual is not _BAD:
            words = self.v.scheme.qualitative or DEFAULT_QUALITATIVE
            tier_of = {w: tier for tier, ws in words.items() for w in ws}
            try:
                out["actual"] = tier_of[str(parse_choice(actual, tuple(tier_of)))]
            except Invalid:
                if words == DEFAULT_QUALITATIVE:
                    self.problem("bad_qualitative", "actual", value=actual)
                else:
                    self.problem("bad_qualitative_word", "actual", value=actual,
                                 words="；".join(f"{t}：{'、'.join(ws)}" for t, ws in words.items()))

    def numeric(self, direction: str | None, direction_bad: bool = False) -> None:
        vals, out = self.vals, self.out
        target = self.attempt("target", lambda: parse_target(vals.get("target")))
        if target is _BAD:
            target = None
            target_bad = True
        else:
            target_bad = False
        implied = target.direction if target is not None else None
        if direction is None and not direction_bad:
            direction = implied
            if direction is None:
                self.require("direction", None)
        elif implied is not None and direction is not None and implied != direction:
            self.problem("direction_conflict", "target", value=target.text if target else "",
                         direction=direction)
            direction_bad = True
        out["direction"] = direction if not direction_bad else None

        tmax: Decimal | None = None
        tmax_pct = False
        raw_max = vals.get("target_max")
        if target is not None and target.high is not None:
            tmax, tmax_pct = target.high, is_percent_unit(target.unit)
        elif raw_max is not None:
            m = self.attempt("target_max", lambda: parse_measure(raw_max))
            if m is not _BAD:
                tmax, tmax_pct = m[0], is_percent_unit(m[1])
        measured = self.attempt("actual", lambda: parse_measure(vals.get("actual")))
        actual, actual_unit = (None, "") if measured is _BAD else measured

        unit = out["unit"] or (target.unit if target is not None and target.unit else None) or actual_unit or None
        if is_percent_unit(unit if isinstance(unit, str) else None):
            unit = "%"
        out["unit"] = unit
        low = target.low if target is not None else None
        if unit == "%":
            typed_pct = target is not None and is_percent_unit(target.unit)
            if low is not None and not typed_pct:
                low = self.fraction("target", low, actual)
            if actual is not None and not is_percent_unit(actual_unit):
                actual = self.fraction("actual", actual, target.low if target is not None else None)
            if tmax is not None and not tmax_pct:
                tmax = self.fraction("target_max", tmax, actual)
        for key, d in (("target", low), ("actual", actual), ("target_max", tmax)):
            if d is not None and d < 0:
                self.problem("negative", key, value=as_typed(d))
        if low is not None and low >= 0:
            out["target"] = low
        if actual is not None and actual >= 0:
            out["actual"] = actual
        if tmax is not None and tmax >= 0:
            out["target_max"] = tmax
        self.adjusted(unit, actual if actual is not None else low)
        if not target_bad:
            self.require("target", low)
        if measured is not _BAD:
            self.require("actual", actual)
        if direction == "区间" and not direction_bad:
            if tmax is None and "target_max" in self.cells and (raw_max is None):
                self.problem("required", "target_max", hint="区间指标的上限")
            if low is not None and tmax is not None and low > tmax:
                self.problem("bad_interval", "target", low=as_typed(low), high=as_typed(tmax))

    def coefficient(self) -> None:
        """得分系数: a percent 0–100% (0.9, 90, 90%); given, the row needs a 偏差原因."""
        c = self.attempt("coefficient", lambda: parse_percent(self.vals.get("coefficient")))
        if c is None or c is _BAD:
            return
        if not 0 <= c <= 1:
            self.problem("coefficient_range", "coefficient", value=as_typed(c * 100))
            return
        self.out["coefficient"] = c
        if not self.out.get("deviation_note"):
            self.problem("coefficient_note", "deviation_note", coefficient=f"{as_typed(c * 100)}%")

    def unused_options(self) -> None:
        """A 得分系数 / 调整后指标值 on a row whose group's indicator_table does not use it: said, not scored."""
        group = self.out.get("level1")
        opts = group_options(self.v.scheme).get(str(group)) if group else None
        if opts is None:
            return
        for key, on in (("coefficient", opts.coefficient), ("target_adjusted", opts.adjusted_target)):
            if self.out.get(key) is not None and not on:
                self.problem("option_unused", key, group=group)

    def adjusted(self, unit: Any, other: Decimal | None) -> None:
        """调整后指标值 of a numeric row: read like 年度指标值's number (a % row takes 0.95 as 95%)."""
        if "target_adjusted" not in self.cells:
            return
        m = self.attempt("target_adjusted", lambda: parse_measure(self.vals.get("target_adjusted")))
        if m is _BAD or m[0] is None:
            return
        d = m[0]
        if unit == "%" and not is_percent_unit(m[1]):
            d = self.fraction("target_adjusted", d, other)
        if d < 0:
            self.problem("negative", "target_adjusted", value=as_typed(d))
            return
        self.out["target_adjusted"] = d

    def fraction(self, key: str, value: Decimal, other: Decimal | None) -> Decimal:
        read, changed = percent_points(value, other)
        if changed and read is not None:
            self.problem("percent_fraction", key, value=as_typed(value), read=f"{as_typed(read)}%")
            return read
        return value


class _Bad:
    """Marker: the value had a problem (already reported)."""


_BAD: Any = _Bad()


def _text(raw: Any, multiline: bool = False) -> str | None:
    no_formula_error(raw)
    return clean_text(raw, multiline=multiline)

