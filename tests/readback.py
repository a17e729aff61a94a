"""A generated report read back as a reader sees it: ``style<TAB>text`` rows for paragraphs and
``| cell | cell |`` rows for table rows, in document order (python-docx). Golden files and tests
compare these rows, never zip bytes."""

from __future__ import annotations

import io

from docx import Document
from docx.text.paragraph import Paragraph

MERGED = "〃"  # a cell merged with the one above


def rows(data: bytes) -> list[str]:
    doc = Document(io.BytesIO(data))
    out: list[str] = []
    for block in doc.iter_inner_content():
        if isinstance(block, Paragraph):
            style = block.style.name if block.style is not None else ""
            out.append(f"{style}\t{block.text}".replace("\n", "\\n"))
            continue
        for tr in block._tbl.tr_lst:
            cells = []
            for tc in tr.tc_lst:
                if tc.vMerge == "continue":
                    cells.append(MERGED)
                else:
                    cells.append("\\n".join(p.xpath("string(.)") for p in tc.p_lst))
            out.append("| " + " | ".join(cells) + " |")
    return out


def text(data: bytes) -> str:
    """All paragraph and cell text, one row a line (for ``in`` checks)."""
    return "\n".join(r.split("\t", 1)[-1] for r in rows(data))
