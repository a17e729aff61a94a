"""One message per unit: its department workbook and all its project workbooks (spec 06, Outputs).

``group_units`` puts the units of results.json that can be mailed into groups: the same year and
the same unit_code (a workbook without a code takes the code of the same-named unit of that year,
when there is exactly one), else the same unit name; and the same recipient addresses. A group
of a single department workbook is mailed exactly as before (``message.draft_for``); any other
group gets ``group_draft``: every report (and its PDF) and every returned workbook attached, the
body listing each file (项目名称 → 得分 等级, or its problems).

The send log keys a group's message like a unit's: "<code or name>/<year>", the hash of subject and
attachments, and the addresses; so a re-run sends nothing twice, and a unit whose set of
attachments changed (a project added, a report rewritten) gets the whole message again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path

from toolkit.deliver.message import (
    MAX_ATTACHMENTS_BYTES,
    Attachment,
    Draft,
    UnitFailure,
    _attachment,
    _greeting,
    _out_file,
    _problem_lines,
    _score,
    draft_for,
    one_line,
    report_files,
    unit_key,
    unit_label,
)
from toolkit.problems import Problem
from toolkit.results import UnitResult

DEPT_FORM = "部门整体支出绩效自评表"


@dataclass(frozen=True)
class Group:
    """The units mailed together: the department workbook first, then the projects, as results.json lists them."""

    units: tuple[UnitResult, ...]
    to: tuple[Address, ...]

    @property
    def single(self) -> bool:
        """A lone department workbook: mailed exactly as before project forms existed."""
        return len(self.units) == 1 and not self.units[0].is_project


def group_units(units: Sequence[tuple[UnitResult, tuple[Address, ...]]]) -> list[Group]:
    """Units (with their recipients) grouped by unit and address set, groups in order of first appearance."""
    codes: dict[tuple[str, str], set[str]] = {}
    for u, _ in units:
        if u.unit_code and u.unit_name:
            codes.setdefault((str(u.fiscal_year), str(u.unit_name)), set()).add(str(u.unit_code))
    groups: dict[tuple[str, str, str, frozenset[str]], list[tuple[UnitResult, tuple[Address, ...]]]] = {}
    for u, to in units:
        year = str(u.fiscal_year)
        code = str(u.unit_code or "")
        if not code and len(same := codes.get((year, str(u.unit_name)), set())) == 1:
            code = next(iter(same))
        key = (year, "code" if code else "name", code or str(u.unit_name), frozenset(a.addr_spec for a in to))
        groups.setdefault(key, []).append((u, to))
    out = []
    for members in groups.values():
        members.sort(key=lambda m: m[0].is_project)  # stable: the department workbook first
        out.append(Group(tuple(m[0] for m in members), members[0][1]))
    return out


def _what(unit: UnitResult) -> str:
    """How the body names one workbook: 项目“…” or 部门整体支出绩效自评表."""
    if unit.is_project:
        return f"项目“{one_line(unit.extra.get('project_name') or unit.file, 80)}”"
    return DEPT_FORM


def _sub(problems: Sequence[Problem], prefix: str = "") -> list[str]:
    """A file's problems under its line: "    （1）项目自评表!E7：…"."""
    return [f"    （{i}）{prefix}{line.strip().split('. ', 1)[1]}"
            for i, line in enumerate(_problem_lines(problems, 1), start=1)]


def _unique(name: str, used: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    out, n = name, 1
    while out in used:
        n += 1
        out = f"{stem}_{n}{dot}{ext}" if dot else f"{name}_{n}"
    used.add(out)
    return out


def group_draft(out_dir: Path, group: Group, signature: str) -> Draft:
    """The message of a group; UnitFailure (or OSError) when a file is missing or too big."""
    if group.single:
        return draft_for(out_dir, group.units[0], signature)
    first = group.units[0]
    name, year = unit_label(first), one_line(first.fiscal_year, 8)
    ok = [u for u in group.units if u.status == "ok"]
    bad = [u for u in group.units if u.status != "ok"]
    used: set[str] = set()
    atts: list[Attachment] = []
    sizes = 0

    def attach(paths: list[Path]) -> list[str]:
        nonlocal sizes
        names = []
        for p in paths:
            sizes += p.stat().st_size
            a = _attachment(p, p.name)
            a = Attachment(_unique(a.filename, used), a.content_type, a.data)
            atts.append(a)
            names.append(a.filename)
        return names

    lines = [_greeting(first, name), "",
             f"　　您好！贵单位报送的{year}年度绩效自评填报表共 {len(group.units)} 份，审核结果如下：", ""]
    if ok:
        lines.append(f"  一、审核通过，附自评报告（{len(ok)} 份）：")
        for i, u in enumerate(ok, start=1):
            files = attach(report_files(out_dir, u))
            lines.append(f"  {i}. {_what(u)} → {_score(u.total)} 分，{one_line(u.grade, 20)}"
                         f"（附件：{'、'.join(files)}）")
            lines += _sub(u.warnings, "提示：")
    if bad:
        lines += ([""] if ok else []) + [f"  {'二' if ok else '一'}、存在问题，请修改后重新报送（{len(bad)} 份，附退回的填报表，"
                  "有问题的单元格已标出）："]
        for i, u in enumerate(bad, start=1):
            files = attach([_out_file(out_dir, u.returned, "退回的填报表")])
            lines.append(f"  {i}. {_what(u)}（{one_line(u.file, 120)}，附件：{'、'.join(files)}）")
            lines += _sub(u.errors) + _sub(u.warnings, "提示：")
    if sizes > MAX_ATTACHMENTS_BYTES:
        raise UnitFailure(f"附件超过 {MAX_ATTACHMENTS_BYTES // 1024 // 1024} MB，邮件服务器会拒收，请另行发送")
    if bad:
        lines += ["", "　　请直接在退回的填报表上修改（不要增删工作表、行或列），保存为 .xlsx 后重新报送。"]
    lines += ["　　如有疑问，请回复本邮件或与我们联系。", "", "　　此致", "敬礼！", "", signature]
    if not bad:
        subject = f"【绩效自评结果】{name}{year}年度绩效自评报告（{len(ok)} 份）"
    elif not ok:
        subject = f"【请修改后重新报送】{name}{year}年度绩效自评填报表（{len(bad)} 份）"
    else:
        subject = f"【绩效自评结果及退回修改】{name}{year}年度绩效自评（通过 {len(ok)} 份，退回 {len(bad)} 份）"
    files_text = f"{one_line(first.file, 120)} 等 {len(group.units)} 份" if len(group.units) > 1 else one_line(first.file, 200)
    status = "ok" if not bad else ("invalid" if not ok else "mixed")
    return Draft(key=unit_key(first), file=files_text, status=status, label=name, year=year, to=group.to,
                 subject=one_line(subject, 250), body="\n".join(lines) + "\n", attachments=tuple(atts))
