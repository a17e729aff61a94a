"""Paragraph and table models → document.xml → a deterministic .docx package.

The body is built as a string (no python-docx object model per report: it is quadratic for tables
and slow); the shared parts come cached from ``layout.static_parts``. Zip entries have a fixed
order and timestamp, and the core properties are derived from the input, so identical input gives
identical bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from datetime import date

from toolkit.write.report import layout
from toolkit.write.report.layout import STYLE_IDS
from toolkit.write.report.narrative import Para
from toolkit.write.report.table import Appendix, Cell, Row, Table

_INVALID_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ROW_MIN = layout.cm(0.7)  # table rows at least 0.7 cm high


def esc(s: str) -> str:
    return _INVALID_XML.sub("", s).translate(_ESCAPE)


def _runs(text: str) -> str:
    """Text → one run; ``\\n`` becomes a line break inside the paragraph, tabs become tabs."""
    parts = []
    for i, line in enumerate(text.split("\n")):
        if i:
            parts.append("<w:br/>")
        for j, chunk in enumerate(line.split("\t")):
            if j:
                parts.append("<w:tab/>")
            if chunk:
                parts.append(f'<w:t xml:space="preserve">{esc(chunk)}</w:t>')
    return f"<w:r>{''.join(parts)}</w:r>" if parts else ""


def paragraph(p: Para) -> str:
    sid = STYLE_IDS[p.kind]
    ppr = "" if sid == "Normal" else f'<w:pStyle w:val="{sid}"/>'
    if p.page_break_before:
        ppr += "<w:pageBreakBefore/>"
    if p.align:
        ppr += f'<w:ind w:left="0" w:right="0" w:firstLineChars="0" w:firstLine="0"/><w:jc w:val="{p.align}"/>'
    return f"<w:p>{'<w:pPr>' + ppr + '</w:pPr>' if ppr else ''}{_runs(p.text)}</w:p>"


def _cell(c: Cell, width: int) -> str:
    tcpr = f'<w:tcW w:w="{width}" w:type="dxa"/>'
    if c.span > 1:
        tcpr += f'<w:gridSpan w:val="{c.span}"/>'
    if c.merge == "restart":
        tcpr += '<w:vMerge w:val="restart"/>'
    elif c.merge == "continue":
        tcpr += "<w:vMerge/>"
    tcpr += '<w:vAlign w:val="center"/>'
    style = STYLE_IDS["table_head" if c.head else "table_text"]
    jc = '<w:jc w:val="left"/>' if c.align == "left" else ""
    return (f"<w:tc><w:tcPr>{tcpr}</w:tcPr><w:p><w:pPr><w:pStyle w:val=\"{style}\"/>{jc}</w:pPr>"
            f"{_runs(c.text)}</w:p></w:tc>")


def _row(r: Row, widths: tuple[int, ...]) -> str:
    trpr = (("<w:cantSplit/>" if r.cant_split else "") + f'<w:trHeight w:val="{ROW_MIN}" w:hRule="atLeast"/>'
            + ("<w:tblHeader/>" if r.header else ""))
    cells = []
    col = 0
    for c in r.cells:
        cells.append(_cell(c, sum(widths[col:col + c.span])))
        col += c.span
    return f"<w:tr>{'<w:trPr>' + trpr + '</w:trPr>' if trpr else ''}{''.join(cells)}</w:tr>"


def table(t: Table) -> str:
    borders = "".join(f'<w:{s} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
                      for s in ("top", "left", "bottom", "right", "insideH", "insideV"))
    tblpr = (f'<w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="{sum(t.widths)}" w:type="dxa"/>'
             f'<w:jc w:val="center"/><w:tblBorders>{borders}</w:tblBorders><w:tblLayout w:type="fixed"/>'
             '<w:tblCellMar><w:left w:w="57" w:type="dxa"/><w:right w:w="57" w:type="dxa"/></w:tblCellMar>'
             '<w:tblLook w:val="0000" w:firstRow="0" w:lastRow="0" w:firstColumn="0" w:lastColumn="0" '
             'w:noHBand="0" w:noVBand="0"/></w:tblPr>')
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in t.widths)
    return f"<w:tbl>{tblpr}<w:tblGrid>{grid}</w:tblGrid>{''.join(_row(r, t.widths) for r in t.rows)}</w:tbl>"


def appendix_blocks(appendix: Appendix) -> list[Para | Table]:
    """The attachment title on a new page, then its tables with a spacer between them."""
    out: list[Para | Table] = [Para("body", appendix.attachment, page_break_before=True)]
    for i, t in enumerate(appendix.tables):
        if i:
            out.append(Para("spacer", ""))
        out.append(t)
    return out


def document_xml(blocks: Iterable[Para | Table], appendix: Appendix | None = None) -> str:
    """Paragraphs and tables in order (then ``appendix``, if given) as the document part."""
    items = list(blocks) + (appendix_blocks(appendix) if appendix is not None else [])
    body = [table(b) if isinstance(b, Table) else paragraph(b) for b in items]
    if items and isinstance(items[-1], Table):
        body.append(paragraph(Para("spacer", "")))  # a document may not end with a table
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{layout.W_NS}" xmlns:r="{layout.R_NS}"><w:body>'
        + "".join(body) + layout.sect_pr_xml() + "</w:body></w:document>"
    )


def core_xml(title: str, creator: str, when: date | None) -> str:
    stamp = f"{(when or date(2000, 1, 1)).isoformat()}T00:00:00Z"
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{esc(title)}</dc:title><dc:creator>{esc(creator)}</dc:creator>"
        "<cp:lastModifiedBy>jixiao</cp:lastModifiedBy><cp:revision>1</cp:revision>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def package(fonts: layout.Fonts, document: str, core: str) -> bytes:
    parts = list(layout.static_parts(fonts))
    parts.insert(3, ("docProps/core.xml", core.encode()))
    parts.insert(4, ("word/document.xml", document.encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in parts:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data, compresslevel=6)
    return buf.getvalue()
