"""A bar chart drawn as a borderless table (no chart part): one row per category, a shaded cell as long
as its share, the label on the left and the value on the right. Renders the same in Word, WPS and
LibreOffice, and prints in black and white.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.write.report import layout
from toolkit.write.report.layout import STYLE_IDS
from toolkit.write.report.writer import esc

BAR_CELLS = 20  # the bar area is divided into this many grid columns
LABEL_W, VALUE_W = layout.mm(24), layout.mm(32)
FILL = "595959"


def bar_length(value: float, largest: float) -> int:
    """Grid columns a bar covers: proportional to ``largest``, at least one for a value above zero."""
    if value <= 0 or largest <= 0:
        return 0
    return max(1, round(BAR_CELLS * value / largest))


def _cell(text: str, width: int, span: int = 1, fill: str | None = None) -> str:
    pr = f'<w:tcW w:w="{width}" w:type="dxa"/>'
    if span > 1:
        pr += f'<w:gridSpan w:val="{span}"/>'
    if fill:
        pr += f'<w:shd w:val="clear" w:color="auto" w:fill="{fill}"/>'
    pr += '<w:vAlign w:val="center"/>'
    run = f'<w:r><w:t xml:space="preserve">{esc(text)}</w:t></w:r>' if text else ""
    return (f'<w:tc><w:tcPr>{pr}</w:tcPr><w:p><w:pPr><w:pStyle w:val="{STYLE_IDS["table_text"]}"/></w:pPr>'
            f"{run}</w:p></w:tc>")


def bar_table(rows: Sequence[tuple[str, float, str]]) -> str:
    """``(label, value, value text)`` rows → WordprocessingML for the chart table."""
    cell_w = (layout.TEXT_W - LABEL_W - VALUE_W) // BAR_CELLS
    value_w = layout.TEXT_W - LABEL_W - cell_w * BAR_CELLS
    largest = max((v for _, v, _ in rows), default=0.0)
    none = "".join(f'<w:{s} w:val="nil"/>' for s in ("top", "left", "bottom", "right", "insideH", "insideV"))
    out = [f'<w:tbl><w:tblPr><w:tblW w:w="{layout.TEXT_W}" w:type="dxa"/><w:jc w:val="center"/>'
           f'<w:tblBorders>{none}</w:tblBorders><w:tblLayout w:type="fixed"/>'
           '<w:tblCellMar><w:left w:w="0" w:type="dxa"/><w:right w:w="0" w:type="dxa"/></w:tblCellMar>'
           '<w:tblLook w:val="0000" w:firstRow="0" w:lastRow="0" w:firstColumn="0" w:lastColumn="0" '
           'w:noHBand="0" w:noVBand="0"/></w:tblPr><w:tblGrid>',
           f'<w:gridCol w:w="{LABEL_W}"/>', f'<w:gridCol w:w="{cell_w}"/>' * BAR_CELLS,
           f'<w:gridCol w:w="{value_w}"/></w:tblGrid>']
    for label, value, text in rows:
        n = bar_length(value, largest)
        cells = _cell(label, LABEL_W)
        if n:
            cells += _cell("", cell_w * n, n, FILL)
        if n < BAR_CELLS:
            cells += _cell("", cell_w * (BAR_CELLS - n), BAR_CELLS - n)
        cells += _cell(text, value_w)
        out.append(f'<w:tr><w:trPr><w:cantSplit/><w:trHeight w:val="{layout.cm(0.8)}" w:hRule="exact"/></w:trPr>'
                   f"{cells}</w:tr>")
    out.append("</w:tbl>")
    return "".join(out)
