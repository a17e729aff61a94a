"""The report as printed: LibreOffice renders it to PDF; the pages are A4, numbered, and every
heading is on them. Skipped (with the reason) where LibreOffice or poppler is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import seed_submission

from toolkit.report import build_report, readback, report_file_name
from toolkit.schemes import load_scheme
from toolkit.scoring import score

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-writer"),
    pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo) is not installed"),
]


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    tmp = tmp_path_factory.mktemp("render")
    sch = load_scheme("jianghua-2023")
    sub = seed_submission()
    data = build_report(sch, sub, score(sch, sub))
    docx = tmp / report_file_name(sub)
    docx.write_bytes(data)
    profile = (tmp / "profile").as_uri()
    subprocess.run([str(SOFFICE), f"-env:UserInstallation={profile}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(tmp), str(docx)],
                   check=True, capture_output=True, timeout=120)
    pdf = docx.with_suffix(".pdf")
    assert pdf.exists(), "LibreOffice produced no PDF"
    return data, pdf


def _pdftotext(pdf: Path, page: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    return subprocess.run([*args, str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def test_pages_are_a4(rendered: tuple[bytes, Path]) -> None:
    info = subprocess.run(["pdfinfo", str(rendered[1])], check=True, capture_output=True, text=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert size, info
    assert (float(size.group(1)), float(size.group(2))) == pytest.approx((595.3, 841.9), abs=1)
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert 4 <= pages <= 12


def test_every_page_is_numbered(rendered: tuple[bytes, Path]) -> None:
    info = subprocess.run(["pdfinfo", str(rendered[1])], check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    for n in range(1, pages + 1):
        assert f"—{n}—" in _squash(_pdftotext(rendered[1], n)), f"page {n} has no “— {n} —”"


def test_every_heading_and_the_appendix_is_on_the_pages(rendered: tuple[bytes, Path]) -> None:
    data, pdf = rendered
    text = _squash(_pdftotext(pdf))
    rows = readback.rows(data)
    wanted = [r.split("\t", 1)[1] for r in rows if r.startswith(("Title", "Heading"))]
    wanted += ["附件：部门整体支出绩效自评表", "一级指标", "总分", "江华瑶族自治县政务服务中心", "2024年4月30日"]
    for w in wanted:
        assert _squash(w.replace("\\n", "")) in text, w
