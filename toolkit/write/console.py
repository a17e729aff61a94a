"""What ``jixiao run`` tells the officer after a run (spec 07), as lines of text: the tally, every
workbook to look at (returned, unreadable, duplicates, not in the roster), the 未报送 units, and
where the output is and what it holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from toolkit.problems import OFFICER_ONLY
from toolkit.results import UnitResult

SUMMARY_FILE = "汇总表.xlsx"


def _first(u: UnitResult, codes: frozenset[str] | set[str]) -> list[str]:
    return [str((p.params or {}).get("other", "")) for p in u.problems if p.code in codes]


def unit_lines(u: UnitResult) -> list[str]:
    """The lines one workbook earns (none for a valid unit without officer-only notes)."""
    lines: list[str] = []
    officer = _first(u, OFFICER_ONLY)
    if u.status == "unreadable":
        why = u.errors[0].message if u.errors else "无法读取"
        lines.append(f"无法读取：{u.file}（{why}）")
    elif officer:
        others = "、".join(dict.fromkeys(officer))
        older = any(p.code == "duplicate_older" for p in u.problems)
        lines.append(f"未处理：{u.file}（较新的一份是 {others}）" if older
                     else f"重复报送：{u.file} 与 {others} 是同一单位同一年度，请删除过期的一份后重新运行")
    elif u.status == "invalid":
        lines.append(f"退回：{u.file}（{len(u.errors)} 个错误）")
    newer = _first(u, {"duplicate_newer"})
    if newer:
        lines.append(f"按较新的一份处理：{u.file}（另有 {'、'.join(newer)} 未处理）")
    if any(p.code == "not_in_roster" for p in u.problems):
        lines.append(f"不在名册中：{u.file}（{u.label}）")
    return lines


def run_lines(tally: str, units: Sequence[UnitResult], missing: Sequence[Mapping[str, Any]] | None,
              analysis: str | None, out_label: str) -> list[str]:
    lines = [tally]
    for u in units:
        lines.extend(unit_lines(u))
    for m in missing or ():
        who = " ".join(str(m[k]) for k in ("contact_name", "contact_email") if m.get(k))
        lines.append(f"未报送：{m['unit_name']}" + (f"（{who}）" if who else ""))
    reports = sum(1 for u in units if u.report)
    returned = sum(1 for u in units if u.returned)
    made = [f"报告 {reports} 份", f"退回 {returned} 份", SUMMARY_FILE]
    if analysis:
        made.append(analysis)
    lines.append(f"结果在 {out_label}：{'，'.join(made)}")
    return lines
