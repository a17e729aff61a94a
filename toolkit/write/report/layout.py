"""GB/T 9704-2012 page layout: the package parts every report shares (styles, settings, footers).

The parts are plain WordprocessingML strings built once per font configuration and cached; a
report only adds its ``document.xml`` body (see ``writer.py``). Units: twips (1/20 pt) unless
named otherwise, half-points for font sizes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- page geometry


def cm(x: float) -> int:
    return round(x * 1440 / 2.54)


def mm(x: float) -> int:
    return round(x * 1440 / 25.4)


PAGE_W, PAGE_H = 11906, 16838  # A4
MARGIN_TOP, MARGIN_BOTTOM = cm(3.7), cm(3.5)
MARGIN_LEFT, MARGIN_RIGHT = cm(2.8), cm(2.6)
TEXT_W = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT  # 156 mm
FOOTER_DIST = cm(2.5)  # puts the page number's 一字线 about 7 mm below the text block
HEADER_DIST = cm(1.5)

LINES_PER_PAGE, CHARS_PER_LINE = 22, 28
LINE_PITCH = 579  # exactly 28.95 pt: 22 lines fill the 225 mm text block
BODY_PT = 16  # 三号
TITLE_PT = 22  # 二号
PAGE_NUMBER_PT = 14  # 四号
TABLE_PT = 10.5  # 五号
# 28 characters a line: body text is condensed by 0.25 pt a character (28 × 15.75 pt ≤ 156 mm).
# A character grid (docGrid linesAndChars + charSpace) does the same in Word, but LibreOffice then
# gives every full-width character two grid cells, so the grid is lines only.
CHAR_CONDENSE = -5  # twentieths of a point
# A title line holds about 156 mm / 22 pt ≈ 20 characters; break longer titles between words.
TITLE_CHARS_PER_LINE = TEXT_W / 20 / TITLE_PT

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

# Paragraph style ids for the block kinds the narrative produces.
STYLE_IDS: dict[str, str] = {
    "body": "Normal",
    "title": "Title",
    "h1": "Heading1",
    "h2": "Heading2",
    "h3": "Heading3",
    "signature": "Signature",
    "table_text": "TableText",
    "table_head": "TableHead",
    "spacer": "TableSpacer",
}


@dataclass(frozen=True)
class Fonts:
    """Font names from ``scheme.report["fonts"]``; ``latin`` (optional) is for digits and Latin text in
    body-font paragraphs (headings and the title use their Chinese font for every script)."""

    title: str = "方正小标宋简体"
    heading1: str = "黑体"
    heading2: str = "楷体_GB2312"
    body: str = "仿宋_GB2312"
    table: str = "仿宋_GB2312"
    page_number: str = "宋体"
    latin: str = ""

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> Fonts:
        raw = report.get("fonts") or {}
        known = {k: str(v).strip() for k, v in raw.items() if k in cls.__dataclass_fields__ and v}
        return cls(**known)


# Names Word/WPS try when a GB2312-era font is missing (fontTable altName).
ALT_NAMES = {
    "仿宋_GB2312": "仿宋",
    "楷体_GB2312": "楷体",
    "方正小标宋简体": "宋体",
    "方正小标宋_GBK": "宋体",
}



_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def quoteattr(value: str) -> str:
    """An XML attribute value in double quotes (xml.sax.saxutils.quoteattr would import urllib,
    ~20 ms of every worker's start-up)."""
    return '"' + value.translate(_ATTR) + '"'

def title_lines(segments: list[str], width: float = TITLE_CHARS_PER_LINE) -> list[str]:
    """Pack title segments (words that must not be split) into lines of at most ``width`` characters.

    Half-width digits and letters count as 0.6 of a character (the 二号 fonts' digits are wider than
    half an em: a 20.0-wide line overflowed by one character), other half-width characters as half.
    A segment longer than a line gets a line of its own (Word wraps it)."""

    def w(s: str) -> float:
        return sum((0.6 if c.isascii() and c.isalnum() else 0.5) if ord(c) < 0x2E80 else 1.0 for c in s)

    lines: list[str] = []
    cur = ""
    for seg in (s for s in segments if s):
        if cur and w(cur) + w(seg) > width:
            lines.append(cur)
            cur = seg
        else:
            cur += seg
    if cur:
        lines.append(cur)
    return lines


# --------------------------------------------------------------------------- XML fragments
def _fonts(east: str, latin: str = "") -> str:
    lat = latin or east
    # hint: quotation marks and other shared characters take the Chinese font
    return (f"<w:rFonts w:ascii={quoteattr(lat)} w:eastAsia={quoteattr(east)} "
            f'w:hAnsi={quoteattr(lat)} w:cs={quoteattr(lat)} w:hint="eastAsia"/>')


def _sz(pt: float) -> str:
    hp = round(pt * 2)
    return f'<w:sz w:val="{hp}"/><w:szCs w:val="{hp}"/>'


def _para_style(sid: str, name: str, ppr: str, rpr: str, based: str | None = "Normal",
                nxt: str | None = "Normal", extra: str = "") -> str:
    b = f'<w:basedOn w:val="{based}"/>' if based else ""
    n = f'<w:next w:val="{nxt}"/>' if nxt else ""
    return (f'<w:style w:type="paragraph" w:styleId="{sid}"><w:name w:val={quoteattr(name)}/>{b}{n}'
            f"{extra}<w:qFormat/><w:pPr>{ppr}</w:pPr><w:rPr>{rpr}</w:rPr></w:style>")


_EXACT = f'<w:spacing w:before="0" w:after="0" w:line="{LINE_PITCH}" w:lineRule="exact"/>'
_INDENT_2 = f'<w:ind w:firstLineChars="200" w:firstLine="{BODY_PT * 40}"/>'
_NO_INDENT = '<w:ind w:left="0" w:right="0" w:firstLineChars="0" w:firstLine="0"/>'
# the title is followed by one blank line (GB/T 9704 7.3.1)
_TITLE_SPACING = f'<w:spacing w:before="0" w:after="{LINE_PITCH}" w:line="{LINE_PITCH}" w:lineRule="exact"/>'
_NO_CONDENSE = '<w:spacing w:val="0"/>'
_TABLE_SPACING = f'<w:spacing w:before="0" w:after="0" w:line="{round(TABLE_PT * 1.5 * 20)}" w:lineRule="exact"/>'


def styles_xml(f: Fonts) -> str:
    body_fonts = _fonts(f.body, f.latin)
    styles = [
        '<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/>'
        f'<w:pPr><w:widowControl w:val="0"/>{_EXACT}{_INDENT_2}<w:jc w:val="both"/></w:pPr>'
        f'<w:rPr>{body_fonts}<w:spacing w:val="{CHAR_CONDENSE}"/><w:kern w:val="2"/>{_sz(BODY_PT)}</w:rPr></w:style>',
        '<w:style w:type="character" w:default="1" w:styleId="DefaultParagraphFont">'
        '<w:name w:val="Default Paragraph Font"/><w:uiPriority w:val="1"/><w:semiHidden/><w:unhideWhenUsed/></w:style>',
        '<w:style w:type="table" w:default="1" w:styleId="TableNormal"><w:name w:val="Normal Table"/>'
        '<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/><w:tblPr><w:tblInd w:w="0" w:type="dxa"/>'
        '<w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/>'
        '<w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr></w:style>',
        '<w:style w:type="table" w:styleId="TableGrid"><w:name w:val="Table Grid"/><w:basedOn w:val="TableNormal"/>'
        '<w:uiPriority w:val="59"/><w:tblPr><w:tblBorders>'
        + "".join(f'<w:{s} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
                  for s in ("top", "left", "bottom", "right", "insideH", "insideV"))
        + "</w:tblBorders></w:tblPr></w:style>",
        _para_style("Title", "Title",
                    f'<w:keepNext/><w:snapToGrid w:val="0"/>{_TITLE_SPACING}{_NO_INDENT}<w:jc w:val="center"/>',
                    f"{_fonts(f.title)}{_NO_CONDENSE}{_sz(TITLE_PT)}"),
        _para_style("Heading1", "heading 1", f'<w:keepNext/>{_INDENT_2}<w:outlineLvl w:val="0"/>',
                    f"{_fonts(f.heading1)}{_sz(BODY_PT)}"),
        _para_style("Heading2", "heading 2", f'<w:keepNext/>{_INDENT_2}<w:outlineLvl w:val="1"/>',
                    f"{_fonts(f.heading2)}{_sz(BODY_PT)}"),
        _para_style("Heading3", "heading 3", f'<w:keepNext/>{_INDENT_2}<w:outlineLvl w:val="2"/>',
                    f"{body_fonts}{_sz(BODY_PT)}"),
        # 发文机关署名 and 成文日期: right-aligned, 2 characters in from the right.
        _para_style("Signature", "落款",
                    f'<w:keepNext/><w:ind w:left="0" w:right="{BODY_PT * 40}" w:rightChars="200" '
                    'w:firstLineChars="0" w:firstLine="0"/><w:jc w:val="right"/>', body_fonts),
        _para_style("TableText", "表格文字",
                    f'<w:snapToGrid w:val="0"/>{_TABLE_SPACING}{_NO_INDENT}<w:jc w:val="center"/>',
                    f'{_fonts(f.table, f.latin)}{_NO_CONDENSE}<w:kern w:val="0"/>{_sz(TABLE_PT)}'),
        _para_style("TableHead", "表格表头", "", f"{_fonts(f.heading1)}", based="TableText", nxt="TableText"),
        # the thin paragraph that keeps the two appendix tables apart
        _para_style("TableSpacer", "表格间隔",
                    '<w:snapToGrid w:val="0"/><w:spacing w:before="0" w:after="0" w:line="160" w:lineRule="exact"/>'
                    + _NO_INDENT, _sz(4)),
        _para_style("Footer", "footer",
                    '<w:snapToGrid w:val="0"/><w:spacing w:before="0" w:after="0" w:line="240" w:lineRule="auto"/>'
                    + _NO_INDENT, f"{_fonts(f.page_number)}{_NO_CONDENSE}{_sz(PAGE_NUMBER_PT)}", nxt=None),
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:styles xmlns:w="{W_NS}">'
        f'<w:docDefaults><w:rPrDefault><w:rPr>{body_fonts}<w:kern w:val="2"/>{_sz(BODY_PT)}'
        '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault>'
        "<w:pPrDefault><w:pPr/></w:pPrDefault></w:docDefaults>"
        + "".join(styles)
        + "</w:styles>"
    )


def settings_xml() -> str:
    # Element order follows CT_Settings; Word rejects settings out of order.
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:settings xmlns:w="{W_NS}">'
        '<w:zoom w:percent="100"/>'
        f'<w:defaultTabStop w:val="{BODY_PT * 40}"/>'
        "<w:evenAndOddHeaders/>"
        '<w:drawingGridVerticalSpacing w:val="290"/>'
        '<w:displayHorizontalDrawingGridEvery w:val="0"/>'
        '<w:displayVerticalDrawingGridEvery w:val="2"/>'
        '<w:characterSpacingControl w:val="doNotCompress"/>'
        "<w:compat><w:spaceForUL/><w:balanceSingleByteDoubleByteWidth/><w:doNotLeaveBackslashAlone/>"
        "<w:ulTrailSpace/><w:doNotExpandShiftReturn/><w:adjustLineHeightInTable/><w:useFELayout/>"
        '<w:compatSetting w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"/>'
        "</w:compat>"
        '<w:themeFontLang w:val="en-US" w:eastAsia="zh-CN"/>'
        '<w:decimalSymbol w:val="."/><w:listSeparator w:val=","/>'
        "</w:settings>"
    )


def footer_xml(odd: bool) -> str:
    """“— N —” with a PAGE field: odd pages right, even pages left, one character in."""
    one_char = PAGE_NUMBER_PT * 20
    ind = f'<w:ind w:right="{one_char}"/>' if odd else f'<w:ind w:left="{one_char}"/>'
    jc = "right" if odd else "left"

    def run(inner: str) -> str:
        return f"<w:r>{inner}</w:r>"

    field = (run('<w:fldChar w:fldCharType="begin"/>')
             + run('<w:instrText xml:space="preserve"> PAGE </w:instrText>')
             + run('<w:fldChar w:fldCharType="separate"/>')
             + run("<w:t>1</w:t>")
             + run('<w:fldChar w:fldCharType="end"/>'))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:ftr xmlns:w="{W_NS}" xmlns:r="{R_NS}">'
        f'<w:p><w:pPr><w:pStyle w:val="Footer"/>{ind}<w:jc w:val="{jc}"/></w:pPr>'
        + run('<w:t xml:space="preserve">— </w:t>') + field + run('<w:t xml:space="preserve"> —</w:t>')
        + "</w:p></w:ftr>"
    )


def sect_pr_xml() -> str:
    return (
        '<w:sectPr><w:footerReference w:type="default" r:id="rIdFooterOdd"/>'
        '<w:footerReference w:type="even" r:id="rIdFooterEven"/>'
        f'<w:pgSz w:w="{PAGE_W}" w:h="{PAGE_H}"/>'
        f'<w:pgMar w:top="{MARGIN_TOP}" w:right="{MARGIN_RIGHT}" w:bottom="{MARGIN_BOTTOM}" '
        f'w:left="{MARGIN_LEFT}" w:header="{HEADER_DIST}" w:footer="{FOOTER_DIST}" w:gutter="0"/>'
        '<w:cols w:space="425"/>'
        f'<w:docGrid w:type="lines" w:linePitch="{LINE_PITCH}"/>'
        "</w:sectPr>"
    )


def font_table_xml(f: Fonts) -> str:
    names = dict.fromkeys([f.title, f.heading1, f.heading2, f.body, f.table, f.page_number]
                          + ([f.latin] if f.latin else []))
    out = []
    for n in names:
        cjk = any(ord(c) > 0x2E80 for c in n)
        alt = f"<w:altName w:val={quoteattr(ALT_NAMES[n])}/>" if n in ALT_NAMES else ""
        charset = '<w:charset w:val="86"/>' if cjk else '<w:charset w:val="00"/>'
        fam = "modern" if cjk else "roman"
        pitch = "fixed" if cjk else "variable"
        out.append(f'<w:font w:name={quoteattr(n)}>{alt}{charset}<w:family w:val="{fam}"/>'
                   f'<w:pitch w:val="{pitch}"/></w:font>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<w:fonts xmlns:w="{W_NS}">' + "".join(out) + "</w:fonts>")


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '<Override PartName="/word/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>'
    '<Override PartName="/word/settings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>'
    '<Override PartName="/word/fontTable.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.fontTable+xml"/>'
    '<Override PartName="/word/footer1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/>'
    '<Override PartName="/word/footer2.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    "</Types>"
)

_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="word/document.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
    'Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
    "</Relationships>"
)
DOCUMENT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rIdStyles" Type="{_REL}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rIdSettings" Type="{_REL}/settings" Target="settings.xml"/>'
    f'<Relationship Id="rIdFontTable" Type="{_REL}/fontTable" Target="fontTable.xml"/>'
    f'<Relationship Id="rIdFooterOdd" Type="{_REL}/footer" Target="footer1.xml"/>'
    f'<Relationship Id="rIdFooterEven" Type="{_REL}/footer" Target="footer2.xml"/>'
    "</Relationships>"
)
APP_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>jixiao</Application><DocSecurity>0</DocSecurity></Properties>"
)


@functools.lru_cache(maxsize=16)
def static_parts(fonts: Fonts) -> tuple[tuple[str, bytes], ...]:
    """Every package part except document.xml and core.xml, in zip order (built once per fonts)."""
    return (
        ("[Content_Types].xml", CONTENT_TYPES.encode()),
        ("_rels/.rels", ROOT_RELS.encode()),
        ("docProps/app.xml", APP_XML.encode()),
        ("word/_rels/document.xml.rels", DOCUMENT_RELS.encode()),
        ("word/styles.xml", styles_xml(fonts).encode()),
        ("word/settings.xml", settings_xml().encode()),
        ("word/fontTable.xml", font_table_xml(fonts).encode()),
        ("word/footer1.xml", footer_xml(odd=True).encode()),
        ("word/footer2.xml", footer_xml(odd=False).encode()),
    )
