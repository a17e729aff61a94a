"""Reports as PDF through LibreOffice (``jixiao run --pdf``), made repeatable."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from toolkit.write.outputs import Outputs

# --------------------------------------------------------------------------- PDF (LibreOffice)
SOFFICE_HINT = ("未找到 LibreOffice（soffice），未生成 PDF。安装方法：Windows/macOS 从 libreoffice.org 下载安装；"
                "Debian/Ubuntu：sudo apt-get install libreoffice-writer-nogui fonts-noto-cjk")


def soffice_path() -> str | None:
    """LibreOffice's soffice: on PATH, or where the Windows/macOS installers put it."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    candidates = [Path(os.environ.get(v, "")) / "LibreOffice" / "program" / "soffice.exe"
                  for v in ("ProgramFiles", "ProgramFiles(x86)") if os.environ.get(v)]
    candidates.append(Path("/Applications/LibreOffice.app/Contents/MacOS/soffice"))
    return next((str(c) for c in candidates if c.is_file()), None)


def make_pdfs(out: Path, reports: list[str], outputs: Outputs) -> list[str]:
    """``reports/….pdf`` beside each report; returns console notices. Never raises: a PDF is
    optional and must not cost the run its main outputs."""
    exe = soffice_path()
    if exe is None:
        return [SOFFICE_HINT]
    if not reports:
        return []
    try:
        return _convert(exe, Path(out).resolve(), reports, outputs)
    except Exception as e:  # noqa: BLE001 - optional step: any failure is a warning
        return [f"PDF 生成失败（{type(e).__name__}: {str(e)[:200]}），报告 .docx 和汇总表不受影响"]


def _convert(exe: str, out: Path, reports: list[str], outputs: Outputs) -> list[str]:
    with tempfile.TemporaryDirectory(prefix=".pdf-", dir=out) as tmp:
        profile = Path(tmp) / "profile"
        conv = Path(tmp) / "pdf"
        conv.mkdir()
        # convert in chunks: one soffice start is the expensive part
        for i in range(0, len(reports), 200):
            chunk = [str(out / r) for r in reports[i:i + 200]]
            subprocess.run([exe, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                            "--convert-to", "pdf", "--outdir", str(conv), *chunk],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600, check=False)
        missing = []
        for r in reports:
            produced = conv / (Path(r).stem + ".pdf")
            if not produced.exists():
                missing.append(r)
                continue
            outputs.write(r[: -len(".docx")] + ".pdf", normalize_pdf(produced.read_bytes()))
    if missing:
        return [f"PDF 生成失败（LibreOffice 未能转换），报告 .docx 不受影响：{'、'.join(missing)}"]
    return []


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate)\s*\(D:[^)]*\)")
_PDF_ID = re.compile(rb"/ID\s*\[\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*\]")
_PDF_CHECKSUM = re.compile(rb"/DocChecksum\s*/([0-9A-Fa-f]+)")
_XMP_DATE = re.compile(rb"<(xmp:CreateDate|xmp:ModifyDate|xmp:MetadataDate)>[^<]*</\1>")


def normalize_pdf(data: bytes) -> bytes:
    """Make LibreOffice's PDF repeatable: fixed dates and document ID, same byte lengths (xref stays valid)."""

    def same_len_date(m: re.Match[bytes]) -> bytes:
        whole = m.group(0)
        start = whole.index(b"(D:") + 3
        inner = whole[start:-1]
        fixed = (b"20000101000000" + b"Z" * len(inner))[: len(inner)]
        return whole[:start] + fixed + b")"

    data = _PDF_DATE.sub(same_len_date, data)
    data = _PDF_CHECKSUM.sub(lambda m: m.group(0).replace(m.group(1), b"0" * len(m.group(1))), data)
    data = _PDF_ID.sub(lambda m: m.group(0).replace(m.group(1), b"0" * len(m.group(1)))
                       .replace(m.group(2), b"0" * len(m.group(2))), data)

    def xmp(m: re.Match[bytes]) -> bytes:
        tag = m.group(1)
        inner_len = len(m.group(0)) - 2 * len(tag) - 5
        return b"<" + tag + b">" + (b"2000-01-01T00:00:00" + b" " * inner_len)[:inner_len] + b"</" + tag + b">"

    return _XMP_DATE.sub(xmp, data)
