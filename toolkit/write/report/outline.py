"""The report's outline from the scheme (spec 08.5): ``report: outline:`` lists the blocks in order.

    outline:
      - cover                                      # 封面 (report: cover: gives its lines)
      - {block: score_first}                       # 自评得分 first (南县)
      - {heading: 一、基本概况, block: kv_table, fields: [unit_name, staff_quota]}
      - {heading: 二、部门整体收支情况, block: money}
      - {heading: 三、绩效目标, text: "{perf_goal}"}
      - {heading: 四、绩效自评情况, block: levels}
      - signature
      - {appendix: scoring_table, columns: [一级指标, 二级指标, 三级指标, 评价标准, 分值, 得分, 扣分原因]}

A block's ``heading:`` replaces its own (``headings:``); a block with nothing to say is left out
with its heading. Without ``outline:`` the report follows ``DEFAULT_OUTLINE``, the reference
report's order. The block names are ``toolkit.rules.strict.OUTLINE_BLOCKS`` (checked on load).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from toolkit.forms.describe import describe_rule
from toolkit.model import ProjectScore, Scorecard, Submission
from toolkit.rules.model import Scheme
from toolkit.write.report import blocks, table
from toolkit.write.report.narrative import Composer, Para, fill
from toolkit.write.report.table import Appendix, Table
from toolkit.write.report.writer import appendix_blocks

Block = Para | Table
DEFAULT_OUTLINE: tuple[str, ...] = ("title", "opening", "overview", "money", "execution", "performance",
                                    "problems", "plans", "signature", "appendix")
_HEADINGS = frozenset({"h1", "h2", "h3"})

# the reference report's sections: the Composer's methods (each takes the outline's heading or None)
SECTIONS = ("title", "opening", "overview", "basic", "staff", "money", "score_first", "execution", "levels",
            "performance", "problems", "plans", "signature")
NEW_BLOCKS: dict[str, Callable[[Composer, Mapping[str, Any]], list[Table]]] = {
    "cover": blocks.cover, "kv_table": blocks.kv_table, "text": blocks.text, "projects": blocks.projects}
APPENDICES = ("self_evaluation", "scoring_table")


def item_of(raw: Any) -> dict[str, Any]:
    """An outline entry as a mapping with ``block``: ``cover`` → {block: cover}; ``{text: …}`` →
    block text; ``{appendix: scoring_table}`` → block appendix; ``{heading: …}`` alone → heading."""
    if not isinstance(raw, Mapping):
        return {"block": str(raw)}
    item = dict(raw)
    if "block" not in item:
        item["block"] = ("text" if "text" in item else "appendix" if "appendix" in item
                         else "heading" if "heading" in item else "")
    return item


def wants_projects(scheme: Scheme) -> bool:
    """Does the scheme's outline list the unit's project scores (block ``projects``)?"""
    return any(item["block"] == "projects" for item in outline_of(scheme))


def outline_of(scheme: Scheme) -> list[dict[str, Any]]:
    raw = scheme.report.get("outline")
    return [item_of(x) for x in (raw if isinstance(raw, list) and raw else DEFAULT_OUTLINE)]


def _columns(scheme: Scheme, names: Any) -> tuple[tuple[str, str], ...] | None:
    if not isinstance(names, list) or not names:
        return None
    labels: Mapping[str, str] = (scheme.report.get("table") or {}).get("labels") or {}
    out = []
    for name in names:
        key = table.column_key(str(name))
        if key is not None:
            out.append((key, str(labels.get(key) or table.HEADERS[key]) if key == name else str(name)))
    return tuple(out) or None


def _appendix(c: Composer, item: Mapping[str, Any]) -> Appendix:
    tbl: Mapping[str, Any] = c.r.get("table") or {}
    cols = _columns(c.scheme, item.get("columns"))
    indicators = table.indicator_table(c.scheme, c.card, tbl, cols,
                                       lambda node: describe_rule(c.scheme, node))
    heading = item.get("heading")
    title = fill(c.r.get("attachment_title") if heading is None else heading, c.ctx)
    if item.get("appendix") == "scoring_table":
        return Appendix(title, (indicators,))
    return Appendix(title, (table.overview_table(c.scheme, c.sub, c.card, tbl), indicators))


def _run(c: Composer, item: Mapping[str, Any]) -> list[Block]:
    """One block's paragraphs and tables, in order."""
    name = item["block"]
    heading = item.get("heading")
    heading = None if heading is None else str(heading)
    c.out = []
    if name == "appendix":
        return appendix_blocks(_appendix(c, item))
    if name == "heading":
        c.head("h2" if item.get("level") == 2 else "h1", "", heading)
        return list(c.out)
    if name in NEW_BLOCKS:
        if name != "cover":
            c.head("h2" if item.get("level") == 2 else "h1", "", heading)
        tables = NEW_BLOCKS[name](c, item)
        made: list[Block] = [*c.out, *tables]
        if tables and c.break_next:  # a table right after the cover: it starts the next page
            made.insert(len(c.out), Para("spacer", "", page_break_before=True))
            c.break_next = False
        return made
    if name in SECTIONS:
        getattr(c, name)(heading)
        return list(c.out)
    return []


def _says_something(made: list[Block]) -> bool:
    return any(isinstance(b, Table) or (b.kind not in _HEADINGS and b.text.strip()) for b in made)


def compose(scheme: Scheme, sub: Submission, card: Scorecard, ctx: Mapping[str, str],
            projects: Sequence[ProjectScore] = ()) -> list[Block]:
    """The whole document body (title to appendix) in the scheme's outline order; ``projects``: the
    unit's project forms for the ``projects`` block."""
    c = Composer(scheme, sub, card, ctx)
    c.projects = tuple(projects)
    out: list[Block] = []
    for item in outline_of(scheme):
        pending = c.break_next
        made = _run(c, item)
        if item["block"] == "heading" or _says_something(made):
            out.extend(made)
        else:  # nothing to say: left out with its heading (and the cover's page break waits)
            c.break_next = pending
    return out
