"""The report's WordprocessingML parts are valid against the ECMA-376 transitional schema.

Microsoft Word rejects a package whose parts break the schema's content models (an element out of
order inside ``w:pPr``, ``w:tblPr``, ``w:tcPr``, ``w:sectPr``, ``w:settings`` …) with "the file is
corrupt", where python-docx and LibreOffice open it without complaint. ``tests/xsd/`` holds
``wml.xsd`` (verbatim) and local stand-ins for the schemas it imports; see ``tests/xsd/README.md``.

Two checks per part:

* full ``lxml.etree.XMLSchema`` validation against ``wml.xsd``;
* run properties in the schema's listed order: ``EG_RPrBase`` is an unbounded *choice* in the
  transitional schema (so XSD validation accepts any order), but Word writes — and the strict
  schema and the Open XML SDK require — the order the choice lists them in.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from decimal import Decimal as D
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from helpers import load_seed, seed_submission, submission_from_data
from lxml import etree

from toolkit.model import Submission
from toolkit.rules.loader import load_scheme
from toolkit.rules.scoring import score as score_card
from toolkit.write.report import build_report, layout

XSD_DIR = Path(__file__).parent / "xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"
W = f"{{{layout.W_NS}}}"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# Namespaces a WordprocessingML part may declare; anything else (w14, w15, mc, …) is an extension
# that Word accepts only when listed in mc:Ignorable — and the writer has no reason to emit any.
ALLOWED_NS = {layout.W_NS, layout.R_NS, XML_NS}
WML_PARTS = ("word/document.xml", "word/styles.xml", "word/settings.xml", "word/fontTable.xml",
             "word/footer1.xml", "word/footer2.xml")


@cache
def wml_schema() -> etree.XMLSchema:
    doc = etree.parse(str(XSD_DIR / "wml.xsd"))
    # wml.xsd imports the xml: namespace without a schemaLocation; point it at the local copy
    for imp in doc.getroot().iter(XS + "import"):
        if imp.get("namespace") == XML_NS and imp.get("schemaLocation") is None:
            imp.set("schemaLocation", "xml.xsd")
    return etree.XMLSchema(doc)


@cache
def rpr_order() -> dict[str, int]:
    """Run property name → position in wml.xsd's EG_RPrBase."""
    doc = etree.parse(str(XSD_DIR / "wml.xsd"))
    group = doc.getroot().find(f"{XS}group[@name='EG_RPrBase']")
    assert group is not None
    return {e.get("name"): i for i, e in enumerate(group.iter(XS + "element"))}


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist() if n in WML_PARTS}


def violations(name: str, xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    out: list[str] = []
    schema = wml_schema()
    if not schema.validate(root):
        out += [f"{name}:{e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]
    for el in root.iter():
        for prefix, uri in (el.nsmap or {}).items():
            if uri not in ALLOWED_NS:
                out.append(f"{name}: extension namespace {prefix}={uri} declared on {el.tag}")
    order = rpr_order()
    for rpr in root.iter(W + "rPr"):
        seen = [etree.QName(c).localname for c in rpr if isinstance(c.tag, str)]
        pos = [order.get(n, -1) for n in seen]
        if pos != sorted(pos) or len(set(seen)) != len(seen):
            out.append(f"{name}:{rpr.sourceline}: run properties out of EG_RPrBase order: {seen}")
    return out


def report(sub: Submission | None = None, scheme: str = "jianghua-2023") -> bytes:
    sch = load_scheme(scheme)
    sub = sub or seed_submission()
    return build_report(sch, sub, score_card(sch, sub))


def unit(**overrides: Any) -> Submission:
    data = load_seed()
    data.update(overrides)
    return submission_from_data(data)


def varied_unit() -> Submission:
    """A new building, unmet checklist items, a 定性 indicator and a lost-points note."""
    data = load_seed()
    rows = [list(r) for r in data["perf_indicators"]]
    rows[0] = ["效益指标", "可持续影响", "政务服务持续优化", "定性", "持续优化", None, None, "部分达成", rows[0][8]]
    rows[1] = [*rows[1][:7], 150, 2.5, None, "信息发布渠道调整，下年度加强统筹"]
    data.update(perf_indicators=rows, chk_mgmt_system=["是", "否", "是"], note_mgmt_system="部分制度未及时修订。",
                new_building="有", building_area_approved=D(1000), building_area_actual=D(1100),
                building_invest_approved=D(500), building_invest_actual=D(480))
    return submission_from_data(data)


CASES = {
    "reference": lambda: report(),
    "varied": lambda: report(varied_unit()),
    "mof-2020": lambda: report(scheme="mof-2020"),
    "nearly-blank": lambda: report(submission_from_data({"unit_name": "某单位"})),
    "latin-font": lambda: build_report(
        replace(sch := load_scheme("jianghua-2023"),
                report={**sch.report, "fonts": {**(sch.report.get("fonts") or {}), "latin": "Times New Roman"}}),
        seed_submission(), score_card(sch, seed_submission())),
}


def test_schema_set_loads() -> None:
    wml_schema()  # raises XMLSchemaParseError if libxml2 cannot compile the set


@pytest.mark.parametrize("case", sorted(CASES))
def test_parts_are_schema_valid(case: str) -> None:
    got = parts(CASES[case]())
    assert set(got) == set(WML_PARTS)
    problems = [v for name, xml in sorted(got.items()) for v in violations(name, xml)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("bad, needle", [
    # the checks do catch what Word rejects
    ('<w:p><w:pPr><w:jc w:val="both"/><w:pStyle w:val="Title"/></w:pPr></w:p>', "pStyle"),
    ('<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/><w:tblStyle w:val="T"/></w:tblPr><w:tblGrid/></w:tbl>',
     "tblStyle"),
    ('<w:tbl><w:tblPr/><w:tblGrid/><w:tr><w:tc><w:tcPr><w:vAlign w:val="center"/><w:tcW w:w="1" w:type="dxa"/>'
     '</w:tcPr><w:p/></w:tc></w:tr></w:tbl>', "tcW"),
    ('<w:p><w:r><w:rPr><w:sz w:val="20"/><w:rFonts w:ascii="A"/></w:rPr></w:r></w:p>', "run properties"),
])
def test_checks_catch_misordered_properties(bad: str, needle: str) -> None:
    xml = (f'<w:document xmlns:w="{layout.W_NS}"><w:body>{bad}<w:sectPr/></w:body></w:document>').encode()
    problems = violations("word/document.xml", xml)
    assert problems and any(needle in p for p in problems), problems
