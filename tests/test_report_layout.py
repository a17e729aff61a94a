"""The report's GB/T 9704 layout, read from the package XML (document, styles, settings, footers)."""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache

import pytest
from docx import Document
from helpers import seed_submission
from lxml import etree

from toolkit.rules.loader import builtin_dir, load_scheme, parse_scheme
from toolkit.rules.scoring import score
from toolkit.write.report import build_report, layout

W = layout.W_NS
NS = {"w": W, "r": layout.R_NS}


def q(tag: str) -> str:
    return f"{{{W}}}{tag}"


@lru_cache(maxsize=4)
def reference_docx(scheme_id: str = "jianghua-2023") -> bytes:
    sch = load_scheme(scheme_id)
    sub = seed_submission()
    return build_report(sch, sub, score(sch, sub))


def part(name: str, data: bytes | None = None) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(data or reference_docx())) as z:
        return etree.fromstring(z.read(name))


def style(styles: etree._Element, sid: str) -> etree._Element:
    found = styles.xpath(f"w:style[@w:styleId='{sid}']", namespaces=NS)
    assert found, sid
    return found[0]


def attr(el: etree._Element | None, name: str) -> str | None:
    return None if el is None else el.get(q(name))


# --------------------------------------------------------------------------- page
def test_a4_page_margins_and_grid() -> None:
    doc = part("word/document.xml")
    sects = doc.xpath("//w:sectPr", namespaces=NS)
    assert len(sects) == 1  # one section: the appendix is a page break, not a section break
    sect = sects[0]
    pg = sect.find(q("pgSz"))
    assert (attr(pg, "w"), attr(pg, "h")) == ("11906", "16838")
    assert attr(pg, "orient") in (None, "portrait")
    mar = sect.find(q("pgMar"))
    for side, cm in (("top", 3.7), ("bottom", 3.5), ("left", 2.8), ("right", 2.6)):
        assert abs(int(attr(mar, side) or 0) - cm * 1440 / 2.54) <= 1, side
    text_width = 11906 - int(attr(mar, "left") or 0) - int(attr(mar, "right") or 0)
    assert abs(text_width - 156 * 1440 / 25.4) <= 2
    grid = sect.find(q("docGrid"))
    assert attr(grid, "type") in ("lines", "linesAndChars")
    assert attr(grid, "linePitch") == "579"  # 22 lines of 28.95 pt


def test_body_style_is_fangsong_16pt_exact_28_95_justified_indented() -> None:
    normal = style(part("word/styles.xml"), "Normal")
    assert attr(normal, "default") == "1"
    assert attr(normal.find(q("name")), "val") == "Normal"  # 正文 in Chinese Word
    ppr = normal.find(q("pPr"))
    sp = ppr.find(q("spacing"))
    assert (attr(sp, "line"), attr(sp, "lineRule")) == ("579", "exact")
    assert attr(ppr.find(q("ind")), "firstLineChars") == "200"
    assert attr(ppr.find(q("jc")), "val") == "both"
    rpr = normal.find(q("rPr"))
    assert attr(rpr.find(q("rFonts")), "eastAsia") == "仿宋_GB2312"
    assert attr(rpr.find(q("sz")), "val") == "32"


@pytest.mark.parametrize("sid, name, font, size, outline, jc", [
    ("Title", "Title", "方正小标宋简体", "44", None, "center"),
    ("Heading1", "heading 1", "黑体", "32", "0", None),
    ("Heading2", "heading 2", "楷体_GB2312", "32", "1", None),
    ("Heading3", "heading 3", "仿宋_GB2312", "32", "2", None),
    ("Footer", "footer", "宋体", "28", None, None),
    ("TableText", "表格文字", "仿宋_GB2312", "21", None, "center"),
])
def test_styles(sid: str, name: str, font: str, size: str, outline: str | None, jc: str | None) -> None:
    st = style(part("word/styles.xml"), sid)
    assert attr(st.find(q("name")), "val") == name
    rpr = st.find(q("rPr"))
    assert attr(rpr.find(q("rFonts")), "eastAsia") == font
    assert attr(rpr.find(q("sz")), "val") == size
    ppr = st.find(q("pPr"))
    assert attr(ppr.find(q("outlineLvl")), "val") == outline
    if jc:
        assert attr(ppr.find(q("jc")), "val") == jc
    if sid.startswith("Heading"):  # headings are indented 2 characters like body text
        assert attr(ppr.find(q("ind")), "firstLineChars") == "200"
        assert ppr.find(q("keepNext")) is not None


def test_every_font_setting_names_the_east_asian_slot() -> None:
    styles = part("word/styles.xml")
    fonts = styles.xpath("//w:rFonts", namespaces=NS)
    assert fonts
    for f in fonts:
        for slot in ("eastAsia", "ascii", "hAnsi"):
            assert attr(f, slot), (slot, etree.tostring(f))
        assert not any(k.endswith("Theme") for k in f.attrib)  # theme fonts would override the names
    # runs do not override fonts; where they would, they must name eastAsia too
    for f in part("word/document.xml").xpath("//w:r/w:rPr/w:rFonts", namespaces=NS):
        assert attr(f, "eastAsia")


def test_fonts_are_settings() -> None:
    src = (builtin_dir() / "jianghua-2023.yaml").read_text(encoding="utf-8")
    sch = parse_scheme(src.replace("body: 仿宋_GB2312", "body: 仿宋").replace("heading1: 黑体", "heading1: 方正黑体_GBK"))
    sub = seed_submission()
    styles = part("word/styles.xml", build_report(sch, sub, score(sch, sub)))
    assert attr(style(styles, "Normal").find(f"{q('rPr')}/{q('rFonts')}"), "eastAsia") == "仿宋"
    assert attr(style(styles, "Heading1").find(f"{q('rPr')}/{q('rFonts')}"), "eastAsia") == "方正黑体_GBK"


def test_heading_numbers_are_typed_not_auto_numbered() -> None:
    doc = part("word/document.xml")
    assert not doc.xpath("//w:numPr", namespaces=NS)
    with zipfile.ZipFile(io.BytesIO(reference_docx())) as z:
        assert "word/numbering.xml" not in z.namelist()


def test_title_breaks_inside_one_paragraph() -> None:
    first = part("word/document.xml").xpath("//w:body/w:p[1]", namespaces=NS)[0]
    assert first.xpath("string(w:pPr/w:pStyle/@w:val)", namespaces=NS) == "Title"
    assert len(first.xpath(".//w:br", namespaces=NS)) == 1


# --------------------------------------------------------------------------- page numbers
def test_odd_and_even_footers_with_page_field() -> None:
    settings = part("word/settings.xml")
    assert settings.find(q("evenAndOddHeaders")) is not None
    sect = part("word/document.xml").xpath("//w:sectPr", namespaces=NS)[0]
    refs = {attr(r, "type"): r.get(f"{{{layout.R_NS}}}id") for r in sect.findall(q("footerReference"))}
    assert set(refs) == {"default", "even"}
    rels = part("word/_rels/document.xml.rels")
    target = {r.get("Id"): r.get("Target") for r in rels}
    for kind, jc, side in (("default", "right", "right"), ("even", "left", "left")):
        ftr = part(f"word/{target[refs[kind]]}")
        assert "PAGE" in "".join(ftr.xpath("//w:instrText/text()", namespaces=NS))
        assert [attr(f, "fldCharType") for f in ftr.xpath("//w:fldChar", namespaces=NS)] == [
            "begin", "separate", "end"]
        text = "".join(ftr.xpath("//w:t/text()", namespaces=NS))
        assert text.startswith("— ") and text.endswith(" —")
        ppr = ftr.xpath("//w:p/w:pPr", namespaces=NS)[0]
        assert attr(ppr.find(q("jc")), "val") == jc
        assert int(attr(ppr.find(q("ind")), side) or 0) == 14 * 20  # one 四号 character in
        assert attr(ppr.find(q("pStyle")), "val") == "Footer"
    section = Document(io.BytesIO(reference_docx())).sections[0]
    assert section.even_page_footer.paragraphs[0].text.startswith("— ")


# --------------------------------------------------------------------------- signature, appendix
def test_signature_right_aligned_two_characters_in() -> None:
    sig = style(part("word/styles.xml"), "Signature")
    ppr = sig.find(q("pPr"))
    assert attr(ppr.find(q("jc")), "val") == "right"
    assert attr(ppr.find(q("ind")), "rightChars") == "200"
    assert attr(ppr.find(q("ind")), "firstLineChars") == "0"


def test_appendix_on_a_new_page_with_a_real_table() -> None:
    doc = part("word/document.xml")
    breaks = doc.xpath("//w:p[w:pPr/w:pageBreakBefore]", namespaces=NS)
    assert len(breaks) == 1
    assert "".join(breaks[0].xpath(".//w:t/text()", namespaces=NS)) == "附件：部门整体支出绩效自评表"
    tables = doc.xpath("//w:body/w:tbl", namespaces=NS)
    assert len(tables) == 2
    # the tables come after the attachment paragraph
    body = doc.find(q("body"))
    assert list(body).index(tables[0]) > list(body).index(breaks[0])
    target = round(156 * 1440 / 25.4)
    for t in tables:
        cols = [int(c.get(q("w"))) for c in t.xpath("w:tblGrid/w:gridCol", namespaces=NS)]
        assert sum(cols) == target
        assert attr(t.find(f"{q('tblPr')}/{q('tblLayout')}"), "type") == "fixed"
        borders = t.find(f"{q('tblPr')}/{q('tblBorders')}")
        assert {b.tag.split('}')[1] for b in borders} == {"top", "left", "bottom", "right", "insideH", "insideV"}
        assert all(attr(b, "val") == "single" for b in borders)
        for tr in t.findall(q("tr")):  # every row fills the grid
            spans = [int(tc.xpath("string(w:tcPr/w:gridSpan/@w:val)", namespaces=NS) or 1)
                     for tc in tr.findall(q("tc"))]
            assert sum(spans) == len(cols)
    indicators = tables[1]
    rows = indicators.findall(q("tr"))
    assert rows[0].find(f"{q('trPr')}/{q('tblHeader')}") is not None  # repeated on each page
    assert all(r.find(f"{q('trPr')}/{q('tblHeader')}") is None for r in rows[1:])
    assert indicators.xpath("string(w:tr[1]/w:tc[1])", namespaces=NS) == "一级指标"
    assert indicators.xpath("string(w:tr[last()]/w:tc[1])", namespaces=NS) == "总分"
    assert indicators.xpath(".//w:vMerge[@w:val='restart']", namespaces=NS)


# --------------------------------------------------------------------------- package
def test_identical_input_gives_identical_bytes() -> None:
    sch = load_scheme("jianghua-2023")
    sub = seed_submission()
    card = score(sch, sub)
    a = build_report(sch, sub, card)
    b = build_report(sch, sub, card)
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        infos = z.infolist()
        assert [i.filename for i in infos][:2] == ["[Content_Types].xml", "_rels/.rels"]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    props = Document(io.BytesIO(a)).core_properties
    assert props.title == "江华瑶族自治县2023年度政务服务中心整体绩效评价报告"
    assert props.author == "江华瑶族自治县政务服务中心"
    assert props.last_modified_by == "jixiao"
    assert props.revision == 1
    assert props.created is not None and props.created.date().isoformat() == "2024-04-30"


def test_python_docx_reads_styles_and_text() -> None:
    d = Document(io.BytesIO(reference_docx()))
    names = {s.name for s in d.styles}
    assert {"Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "落款", "表格文字"} <= names
    assert d.settings.odd_and_even_pages_header_footer is True
    width = d.sections[0].page_width
    assert width is not None and width.mm == pytest.approx(210, abs=0.1)


def test_invalid_xml_characters_in_clerk_text_are_dropped() -> None:
    from helpers import load_seed, submission_from_data

    data = load_seed()
    data["goal_actual"] = "完成\x01目标 <全部> & 更多"
    sch = load_scheme("jianghua-2023")
    sub = submission_from_data(data)
    out = build_report(sch, sub, score(sch, sub))
    assert "完成目标 <全部> & 更多" in "".join(part("word/document.xml", out).xpath("//w:t/text()", namespaces=NS))
