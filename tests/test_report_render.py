"""The report as printed: LibreOffice renders it to PDF; the pages are A4, numbered, and every
heading is on them. Skipped (with the reason) where LibreOffice or poppler is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, seed_submission, submission_from_data

from tests import readback
from toolkit.model import Submission
from toolkit.rules.loader import load_scheme
from toolkit.rules.scoring import score
from toolkit.write.report import build_report, report_file_name

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
POPPLER = shutil.which("pdftotext") and shutil.which("pdfinfo")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-writer"),
    pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdfinfo) is not installed"),
]


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _render(tmp: Path, sub: Submission) -> tuple[bytes, Path]:
    sch = load_scheme("jianghua-2023")
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


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    return _render(tmp_path_factory.mktemp("render"), seed_submission())


# text pasted the way clerks paste it: hard breaks mid-word and after ，, numbered lists, full-width
# indentation and punctuation; the 林业局 sample has 本年其他收入 35万元
PASTED = {
    "functions": "贯彻执行国家有关林业工作的方针政策，\n负责全县林业及其生态建设的监督管\n理，组织造林绿化工作。\n"
                 "\u3000\u3000负责森林资源的监督管理；\n负责森林防火工作",
    "duty_analysis": "一是推进国土绿化，全年完成人工造林７６００亩，\n造林成活率８８％。\n"
                     "二是加强森林防灭火，保障了民生支出，\n资金使用效益有待提\n高。",
    "admin_efficiency": "1.建立项目资金使用台账，\n项目资金实行专账核算；\n2.严格“三公”经费审批，\n"
                        "按时完成县本级部门预算编\n制",
    "benefit_social": "选聘生态护林员312名，\n优先从脱贫户中选聘，",
    "problems": ["预算编制不够科学，\n年中追加预算比例较大，", "1、项目管理有待加\n强"],
    "plans": ["加强预算编制的前瞻性：\n减少年中追加；"],
}


@pytest.fixture(scope="module")
def rendered_paste(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    data = yaml.safe_load((ROOT / "samples" / "data" / "linyeju.yaml").read_text(encoding="utf-8"))
    data.update(PASTED)
    return _render(tmp_path_factory.mktemp("render_paste"), submission_from_data(data))


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


def test_pasted_clerk_text_prints_without_stray_full_stops(rendered_paste: tuple[bytes, Path]) -> None:
    text = _squash(_pdftotext(rendered_paste[1]))
    for bad in ("，。", "、。", "；。", "：。", "提。高", "编。制", "管。理"):
        assert bad not in text, bad
    assert "资金使用效益有待提高。" in text
    assert "全年完成人工造林7600亩，造林成活率88%。" in text  # typed full-width
    assert "2.严格“三公”经费审批，按时完成县本级部门预算编制。" in text


def test_the_printed_money_sentence_adds_up(rendered_paste: tuple[bytes, Path]) -> None:
    text = _squash(_pdftotext(rendered_paste[1]))
    m = re.search(r"我单位\d{4}年收到财政资金.*?项目支出结余[\d.]+万?元。", text)
    assert m, "the money paragraph is not on the pages"
    p = m.group(0)

    def amount(label: str) -> Decimal:
        a = re.search(re.escape(label) + r"([\d.]+)(万元|元)", p)
        assert a, (label, p)
        return Decimal(a.group(1)) if a.group(2) == "万元" else Decimal(0)

    total = amount("合计")
    assert amount("收到财政资金") + amount("其他收入") + amount("年初结转结余") == total == Decimal("1753.9")
    spent = amount("实际支出")
    assert amount("基本支出") + amount("项目支出") == spent
    balance = amount("结余资金")
    assert amount("基本支出结余") + amount("项目支出结余") == balance
    assert total - spent == balance


def test_the_appendix_total_score_is_not_wrapped(rendered_paste: tuple[bytes, Path]) -> None:
    # the 得分 column was 10 mm wide and printed “76.4” over “3”
    assert re.search(r"总分\s+100\s+76\.43\s+评价等级", _pdftotext(rendered_paste[1]))
