"""Scorecard + Submission → the unit's official self-evaluation report (.docx, GB/T 9704 layout).

    data = build_report(scheme, submission, scorecard)   # bytes; identical input → identical bytes
    write_report(scheme, submission, scorecard, path)     # atomic
    report_file_name(submission)  # 江华瑶族自治县政务服务中心2023年度部门整体支出绩效自评报告.docx

``outline`` runs the scheme's blocks in order (spec 08.5), ``narrative`` writes the sentences (all wording is scheme data), ``table`` the appendix table,
``layout`` holds the page format and shared package parts, ``writer`` produces the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from toolkit.model import ProjectScore, Scorecard, Submission
from toolkit.rules.model import Scheme
from toolkit.text.names import safe_file_stem
from toolkit.write import atomic
from toolkit.write.report import layout, narrative, outline, writer

__all__ = ["build_report", "write_report", "report_file_name"]


def build_report(scheme: Scheme, submission: Submission, scorecard: Scorecard,
                 projects: Sequence[ProjectScore] = ()) -> bytes:
    """The report as .docx bytes; ``projects``: the unit's project forms, for an outline that lists them."""
    ctx = narrative.unit_context(scheme, submission)
    body = outline.compose(scheme, submission, scorecard, ctx, projects)
    title = next((b.text.replace("\n", "") for b in body if isinstance(b, narrative.Para) and b.kind == "title"), "")
    when = submission.get("report_date")
    core = writer.core_xml(title, submission.unit_name, when if isinstance(when, date) else None)
    fonts = layout.Fonts.from_report(scheme.report)
    return writer.package(fonts, writer.document_xml(body), core)


def write_report(scheme: Scheme, submission: Submission, scorecard: Scorecard, path: Path | str) -> None:
    atomic.write_bytes(Path(path), build_report(scheme, submission, scorecard))


REPORT_SUFFIX = "年度部门整体支出绩效自评报告.docx"
MAX_NAME_CHARS = 150


def report_file_name(submission: Submission) -> str:
    """``<单位名称><年度>年度部门整体支出绩效自评报告.docx``, safe on Windows, macOS and Linux."""
    suffix = f"{submission.fiscal_year or ''}{REPORT_SUFFIX}"
    return safe_file_stem(submission.unit_name, MAX_NAME_CHARS - len(suffix), suffix=suffix)
