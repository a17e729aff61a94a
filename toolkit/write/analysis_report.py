"""Results → OUT/汇总分析报告.docx: the county's report upward on the year's self-evaluation (spec 07).

    write_analysis(results, scheme, out_dir, previous=None)   # → "汇总分析报告.docx" (relative to OUT)

Outline: 一、基本情况 · 二、自评结果 (grade table and a table-drawn bar chart, scores, 一级 averages,
weakest 二级指标, ranking; then （六）项目支出绩效自评情况 when the run has project workbooks — every
department statistic takes department workbooks only) · 三、与上年比较 (only with ``previous``) · 四、主要问题 · 五、结果应用建议 ·
附表 the ranking. Wording is ``report.analysis`` of the scheme, numbers come from ``toolkit.analysis``
(pandas, imported on first use) printed to the cent; a heading appears only above content. Same
input, same bytes (GB/T 9704 layout and package parts of the unit reports).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from toolkit.results import Results
from toolkit.rules.model import Scheme
from toolkit.write import atomic
from toolkit.write.report import layout, writer
from toolkit.write.report.bar_chart import bar_table
from toolkit.write.report.narrative import Para, fill
from toolkit.write.report.table import Cell, Row, Table

ANALYSIS_FILE = "汇总分析报告.docx"
LOW_EXECUTION = 0.9  # projects below this 执行率 are named
# The section on project workbooks (spec 06): the scheme's ``report.analysis`` may word it, else these.
PROJECT_WORDING: Mapping[str, str] = {
    "projects": "（六）项目支出绩效自评情况",
    "projects_basic": "本次共收到项目支出绩效自评表{submitted}份，涉及{units}家单位；审核合格{passed}份，"
                      "退回修改{returned}份，无法读取{unreadable}份。",
    "projects_scores": "审核合格的{passed}个项目平均得分{average}分，最高{highest}分，最低{lowest}分。",
    "projects_grades": "按评价等级分：{items}。",
    "projects_grade": "“{grade}”{count}个，占{percent}%",
    "projects_low_intro": "全年预算执行率低于{limit}%的项目{count}个：",
    "projects_low_line": "{n}. {unit}—{project}：执行率{rate}%（预算{full}万元，执行{spent}万元）。",
    "projects_low_none": "审核合格的项目全年预算执行率均不低于{limit}%。",
}
Block = Para | str  # a paragraph, or ready WordprocessingML (a table)


def _f2(x: Any) -> str:
    from toolkit.write.analysis_data import cents

    return str(cents(float(x)))


def _names(names: Sequence[str], none: str) -> str:
    return "、".join(names) if names else none


def _fiscal_year(results: Results) -> str:
    years = Counter(u.fiscal_year for u in results.units if u.fiscal_year)
    return str(min(years, key=lambda y: (-years[y], y))) if years else ""


def _missing_names(missing: Any) -> list[str]:
    out = []
    for m in missing if isinstance(missing, list) else []:
        name = m.get("unit_name") or m.get("name") if isinstance(m, Mapping) else m
        out.append(str(name))
    return out


def _mm_widths(mm: Sequence[float]) -> tuple[int, ...]:
    tw = [layout.mm(x) for x in mm]
    tw[1] += layout.TEXT_W - sum(tw)  # the unit column takes what is left
    return tuple(tw)


class _Doc:
    def __init__(self, scheme: Scheme, results: Results) -> None:
        self.w: Mapping[str, Any] = scheme.report.get("analysis") or {}
        self.blocks: list[Block] = []
        self.none = str(self.w.get("none", "无"))
        self.year = _fiscal_year(results)

    def text(self, key: str, **values: Any) -> str:
        return fill(self.w.get(key), values) if self.w.get(key) else ""

    def para(self, key: str, **values: Any) -> None:
        t = self.text(key, **values)
        if t:
            self.blocks.append(Para("body", t))

    def heading(self, key: str, kind: str = "h1") -> None:
        t = str((self.w.get("headings") or {}).get(key) or "")
        if t:
            self.blocks.append(Para(kind, t))

    def ptext(self, key: str, **values: Any) -> None:
        """A paragraph of the project section: the scheme's wording, else PROJECT_WORDING."""
        self.blocks.append(Para("body", fill(self.w.get(key) or PROJECT_WORDING[key], values)))

    def label(self, key: str) -> str:
        return str((self.w.get("labels") or {}).get(key) or key)


def _simple_table(head: Sequence[str], rows: Sequence[Sequence[str]], widths: tuple[int, ...]) -> str:
    out = [Row(tuple(Cell(h, head=True) for h in head), header=True)]
    out += [Row(tuple(Cell(c, align="left" if i == 1 else "center") for i, c in enumerate(r))) for r in rows]
    return writer.table(Table(widths, tuple(out)))


def _basic(d: _Doc, results: Results) -> None:
    st = Counter(u.status for u in results.units)
    d.heading("basic")
    d.para("basic", submitted=len(results.units), passed=st["ok"], returned=st["invalid"],
           unreadable=st["unreadable"])
    if "missing" in results.extra:
        missing = _missing_names(results.extra.get("missing"))
        reported = len({u.label for u in results.units})
        d.para("basic_roster", roster=reported + len(missing), reported=reported, missing=len(missing),
               missing_names=_names(missing, d.none))
    forms = Counter(u.extra.get("form") for u in results.units if u.ok)
    if forms.get("dept") or forms.get("project"):
        d.para("basic_forms", dept=forms["dept"], project=forms["project"])


def _results(d: _Doc, results: Results, scheme: Scheme) -> None:
    from toolkit.write import analysis_data as an

    rank = an.ranking(results)
    if rank.empty:
        if not an.projects(results).empty:
            d.heading("results")
            _projects(d, results, scheme)
        return
    d.heading("results")
    dist = an.grade_distribution(results, [g.name for g in scheme.grades])
    d.heading("distribution", "h2")
    items = [d.text("distribution", grade=r.grade, count=r.count, percent=_f2(r.percent))
             for r in dist.itertuples() if r.count]
    d.para("distribution_intro", items="；".join(items))
    rows = [(str(r.grade), float(r.count), f"{r.count}家（{_f2(r.percent)}%）") for r in dist.itertuples()]
    d.para("chart_note")
    d.blocks.append(bar_table(rows))
    d.blocks.append(Para("spacer", ""))
    d.blocks.append(_simple_table([d.label("grade"), d.label("unit"), d.label("count"), d.label("percent")],
                                  [[str(r.grade), _names(r.units, d.none), str(r.count), f"{_f2(r.percent)}%"]
                                   for r in dist.itertuples()], _mm_widths([16, 0, 20, 24])))
    d.heading("scores", "h2")
    totals = rank["total"]
    hi, lo = totals.max(), totals.min()
    d.para("scores", passed=len(rank), average=_f2(totals.mean()), highest=_f2(hi), lowest=_f2(lo),
           highest_units="、".join(rank[totals == hi]["unit_name"]), lowest_units="、".join(rank[totals == lo]["unit_name"]))
    lv = an.level_averages(results)
    if not lv.empty:
        d.heading("levels", "h2")
        for r in lv.itertuples():
            d.para("level_line", name=r.level, points=_f2(r.points), average=_f2(r.average), rate=_f2(r.rate),
                   highest=_f2(r.highest), lowest=_f2(r.lowest))
    weak = an.weakest_level2(results)
    if not weak.empty:
        d.heading("weakest", "h2")
        d.para("weakest_intro")
        for n, r in enumerate(weak.itertuples(), 1):
            d.para("weakest_line", n=n, level1=r.level1, name=r.level2, points=_f2(r.points),
                   average=_f2(r.average), rate=_f2(100 * r.share), below=r.below)
    d.heading("ranking", "h2")
    d.para("ranking", first="、".join(rank[totals == hi]["unit_name"]), first_total=_f2(hi), count=len(rank))
    _projects(d, results, scheme)


def _projects(d: _Doc, results: Results, scheme: Scheme) -> None:
    """（六）项目支出绩效自评情况: counts, scores, grades and the projects below 90% 执行率."""
    from toolkit.write import analysis_data as an

    pj = an.projects(results)
    if pj.empty:
        return
    d.blocks.append(Para("h2", str((d.w.get("headings") or {}).get("projects") or PROJECT_WORDING["projects"])))
    st = Counter(pj["status"])
    ok = pj[(pj["status"] == "ok") & pj["total"].notna()]
    d.ptext("projects_basic", submitted=len(pj), units=pj["unit_name"].nunique(), passed=st["ok"],
            returned=st["invalid"], unreadable=st["unreadable"])
    if ok.empty:
        return
    totals = ok["total"].astype(float)
    d.ptext("projects_scores", passed=len(ok), average=_f2(totals.mean()), highest=_f2(totals.max()),
            lowest=_f2(totals.min()))
    counts = Counter(ok["grade"].fillna(""))
    order = [g.name for g in scheme.grades if g.name in counts] + [g for g in counts if g not in
                                                                  {x.name for x in scheme.grades}]
    d.ptext("projects_grades", items="；".join(
        fill(d.w.get("projects_grade") or PROJECT_WORDING["projects_grade"],
             {"grade": g or d.none, "count": counts[g], "percent": _f2(100 * counts[g] / len(ok))}) for g in order))
    rate = ok["execution_rate"].astype(float)
    low = ok[rate.notna() & (rate < LOW_EXECUTION)].sort_values("execution_rate", kind="stable")
    limit = _f2(100 * LOW_EXECUTION).rstrip("0").rstrip(".")
    if low.empty:
        d.ptext("projects_low_none", limit=limit)
        return
    d.ptext("projects_low_intro", limit=limit, count=len(low))
    for n, r in enumerate(low.itertuples(), 1):
        d.ptext("projects_low_line", n=n, unit=r.unit_name, project=r.project_name,
                rate=_f2(100 * float(r.execution_rate)), full=_opt(r.fund_full), spent=_opt(r.fund_spent))


def _opt(x: Any) -> str:
    return "—" if x is None or x != x else _f2(x)


def _previous(d: _Doc, results: Results, previous: Results) -> None:
    from toolkit.write import analysis_data as an

    if an.ranking(results).empty:
        return
    d.heading("previous")
    yoy = an.year_over_year(results, previous)
    if not yoy["matched"]:
        d.para("previous_none")
        return
    avg = yoy["average_change"]
    words = d.w.get("change_words") or {}
    word = words.get("increase" if avg > 0 else "decrease" if avg < 0 else "same", "")
    d.para("previous", matched=yoy["matched"], improved=yoy["improved"], declined=yoy["declined"],
           unchanged=yoy["unchanged"], change=_f2(abs(avg)), change_word=word)
    moves = an.grade_moves(results, previous)
    if moves.empty:
        d.para("no_grade_moves")
        return
    d.para("grade_moves_intro")
    for r in moves.itertuples():
        d.para("grade_move", previous_grade=r.previous_grade, grade=r.grade, count=r.count,
               units="、".join(r.units))


def _problems(d: _Doc, results: Results, texts: Mapping[str, Sequence[str]] | None) -> None:
    from toolkit.write import analysis_data as an

    themes = an.problem_themes(texts or {}, d.w.get("themes") or {})
    below = an.below_full(results)
    if themes.empty and below.empty:
        return
    d.heading("problems")
    if not themes.empty:
        d.heading("themes", "h2")
        d.para("theme_intro")
        for n, r in enumerate(themes.itertuples(), 1):
            d.para("theme_line", n=n, theme=r.theme, count=r.count, units="、".join(r.units))
    if not below.empty:
        d.heading("below_full", "h2")
        d.para("below_full_intro")
        for n, r in enumerate(below.itertuples(), 1):
            d.para("below_full_line", n=n, level1=r.level1, level2=r.level2, name=r.name, points=_f2(r.points),
                   below=r.below, units="、".join(r.units))


def _application(d: _Doc, results: Results, scheme: Scheme) -> None:
    from toolkit.write import analysis_data as an

    rules = d.w.get("application") or {}
    dist = an.grade_distribution(results, [g.name for g in scheme.grades])
    lines = [r for r in dist.itertuples() if rules.get(r.grade)]
    if not lines or not dist["count"].sum():
        return
    d.heading("application")
    d.para("application_intro")
    for r in lines:
        d.para("application_line", grade=r.grade, count=r.count, rule=rules[r.grade], units=_names(r.units, d.none))


def _appendix(d: _Doc, results: Results, previous: Results | None) -> None:
    from toolkit.write import analysis_data as an

    rank = an.ranking(results, previous)
    if rank.empty:
        return
    levels = [c for c in rank.columns[5:] if c not in ("previous_total", "change", "previous_grade",
                                                      "previous_rank", "rank_change")]
    head = [d.label("rank"), d.label("unit"), d.label("total"), d.label("grade"), *levels]
    mm = [10, 0, 16, 10, *[14] * len(levels)]
    if previous is not None:
        head += [d.label("previous_total"), d.label("change"), d.label("rank_change")]
        mm += [15, 16, 14]

    def opt(x: Any, signed: bool = False) -> str:
        if x is None or x != x:  # None, NaN, pd.NA-free floats
            return "—"
        s = _f2(x) if not signed else f"{'+' if x > 0 else ''}{_f2(x)}"
        return s

    rows = []
    for r in rank.to_dict("records"):
        row = [str(r["rank"]), str(r["unit_name"]), _f2(r["total"]), str(r["grade"] or ""),
               *[opt(r[lv]) for lv in levels]]
        if previous is not None:
            rc = r["rank_change"]
            row += [opt(r["previous_total"]), opt(r["change"], signed=True),
                    "—" if rc is None or str(rc) == "<NA>" else f"{'+' if int(rc) > 0 else ''}{int(rc)}"]
        rows.append(row)
    d.blocks.append(Para("body", d.text("attachment", fiscal_year=d.year), page_break_before=True))
    d.blocks.append(_simple_table(head, rows, _mm_widths(mm)))
    d.blocks.append(Para("spacer", ""))


def compose(results: Results, scheme: Scheme, previous: Results | None = None,
            problem_texts: Mapping[str, Sequence[str]] | None = None) -> list[Block]:
    """The report's blocks in order (paragraphs and table XML)."""
    d = _Doc(scheme, results)
    title = d.w.get("title") or []
    segs = [fill(s, {"fiscal_year": d.year}) for s in (title if isinstance(title, list) else [title])]
    d.blocks.append(Para("title", "\n".join(s for s in segs if s)))  # a list item is a line
    d.para("opening", fiscal_year=d.year)
    _basic(d, results)
    _results(d, results, scheme)
    if previous is not None:
        _previous(d, results, previous)
    _problems(d, results, problem_texts)
    _application(d, results, scheme)
    _appendix(d, results, previous)
    return d.blocks


def build_analysis(results: Results, scheme: Scheme, previous: Results | None = None,
                   problem_texts: Mapping[str, Sequence[str]] | None = None) -> bytes:
    """汇总分析报告 as .docx bytes; ``problem_texts`` maps a unit's name to its 存在的问题 rows."""
    blocks = compose(results, scheme, previous, problem_texts)
    body = "".join(writer.paragraph(b) if isinstance(b, Para) else b for b in blocks)
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:document xmlns:w="{layout.W_NS}" xmlns:r="{layout.R_NS}"><w:body>'
                + body + layout.sect_pr_xml() + "</w:body></w:document>")
    first = blocks[0]
    title = first.text.replace("\n", "") if isinstance(first, Para) else ""
    fonts = layout.Fonts.from_report(scheme.report)
    return writer.package(fonts, document, writer.core_xml(title, "jixiao", None))


def write_analysis(results: Results, scheme: Scheme, out_dir: Path | str, previous: Results | None = None,
                   problem_texts: Mapping[str, Sequence[str]] | None = None) -> str:
    """Write ``OUT/汇总分析报告.docx`` atomically; returns its name relative to OUT."""
    atomic.write_bytes(Path(out_dir) / ANALYSIS_FILE, build_analysis(results, scheme, previous, problem_texts))
    return ANALYSIS_FILE
