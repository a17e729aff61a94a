"""The safety of a workbook package: refuse what is not a safe .xlsx before any parser sees it.

Encrypted and legacy formats (content wins over the extension: an OLE file is encrypted when it has
an EncryptionInfo stream or is named .xlsx/.xlsm, else a legacy format; a real .xlsx named .xls is
read; .xlsb and .ods, even renamed, are legacy formats; .csv is legacy by its extension), zip bombs
(``Limits``: entries, declared sizes, ratio, total, the size of the parts parsed) and XML bombs (a
DTD in the prolog of any part a parser reads). Counts a part declares are never trusted.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from toolkit.errors import JixiaoError
from toolkit.problems import Problem, problem

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a real workbook never exceeds (a filled template is < 1 MB, < 10 MB unpacked)."""

    max_file_size: int = 100 * MB  # on disk
    max_entries: int = 2000
    max_entry_size: int = 100 * MB  # declared uncompressed size of one part
    max_total_size: int = 200 * MB  # sum of declared uncompressed sizes
    max_ratio: float = 200  # uncompressed / compressed, for parts larger than ratio_min_size
    ratio_min_size: int = 1 * MB
    max_prolog: int = 64 * 1024  # bytes before the root element of an XML part
    max_tree_part: int = 5 * MB  # workbook.xml, relationships, tables (parsed into a tree here)
    max_cell_part: int = 20 * MB  # a sheet, sharedStrings.xml, styles.xml (streamed)


LIMITS = Limits()

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
# Formats a clerk must "save as .xlsx": suffix → name shown in the message.
LEGACY_FORMATS: dict[str, str] = {
    ".xls": "Excel 97-2003 工作簿（.xls）",
    ".et": "WPS 表格（.et）",
    ".ett": "WPS 表格模板（.ett）",
    ".ods": "OpenDocument 电子表格（.ods）",
    ".csv": "CSV 文本（.csv）",
    ".xlsb": "Excel 二进制工作簿（.xlsb）",
}
CANDIDATE_SUFFIXES = frozenset(WORKBOOK_SUFFIXES) | frozenset(LEGACY_FORMATS)
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
# What reading a damaged zip part may raise.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError)


class IntakeError(JixiaoError):
    """The file cannot be read at all; ``problem`` says why (unreadable)."""

    def __init__(self, prob: Problem):
        super().__init__(prob.message)
        self.problem = prob


def fail(code: str, **params: Any) -> IntakeError:
    return IntakeError(problem(code, **params))


def sniff(data: bytes, suffix: str) -> zipfile.ZipFile:
    """Refuse what is not a safe .xlsx package; return the opened zip (central directory only)."""
    suffix = suffix.lower()
    if not data:
        raise fail("not_xlsx", detail="文件为空（0 字节），可能未保存完整")
    if data.startswith(OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data or suffix in WORKBOOK_SUFFIXES:
            raise fail("encrypted")
        raise fail("legacy_format", fmt=LEGACY_FORMATS.get(suffix, LEGACY_FORMATS[".xls"]))
    if suffix == ".csv":
        raise fail("legacy_format", fmt=LEGACY_FORMATS[".csv"])
    if not data.startswith(ZIP_MAGICS):
        if suffix in LEGACY_FORMATS:
            raise fail("legacy_format", fmt=LEGACY_FORMATS[suffix])
        head = data[:512].lstrip().lower()
        if head.startswith((b"<html", b"<!doctype html", b"<?xml", b"<table")) or b"<html" in head:
            raise fail("not_xlsx", detail="文件内容是网页或 XML 文本，不是 .xlsx 工作簿")
        raise fail("not_xlsx", detail="文件内容不是 Excel 工作簿")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise fail("not_xlsx", detail="文件不完整或已损坏") from None
    _check_zip(infos)
    names = {i.filename for i in infos}
    if "mimetype" in names and (read_part(zf, "mimetype") or b"").startswith(_ODS_MIME):
        raise fail("legacy_format", fmt=LEGACY_FORMATS[".ods"])
    if "xl/workbook.bin" in names:
        raise fail("legacy_format", fmt=LEGACY_FORMATS[".xlsb"])
    if suffix in (".ods", ".xls", ".et", ".ett", ".xlsb") and "[Content_Types].xml" not in names:
        raise fail("legacy_format", fmt=LEGACY_FORMATS[suffix])
    return zf


def _check_zip(infos: list[zipfile.ZipInfo]) -> None:
    lim = LIMITS
    if len(infos) > lim.max_entries:
        raise fail("zip_bomb", detail=f"压缩包内有 {len(infos)} 个文件")
    total = 0
    for i in infos:
        if i.file_size > lim.max_entry_size:
            raise fail("zip_bomb", detail=f"{i.filename} 解压后声称 {i.file_size // MB} MB")
        if i.file_size > lim.ratio_min_size and (
                i.compress_size == 0 or i.file_size / i.compress_size > lim.max_ratio):
            raise fail("zip_bomb", detail=f"{i.filename} 压缩比异常")
        if i.flag_bits & 0x1:
            raise fail("encrypted")
        total += i.file_size
    if total > lim.max_total_size:
        raise fail("zip_bomb", detail=f"解压后共 {total // MB} MB")


# Parts no parser of ours ever reads: their prologs need no check.
_UNPARSED_PREFIXES = ("docprops/", "xl/theme/", "xl/drawings/", "xl/printersettings/", "xl/media/",
                      "xl/comments", "customxml/")


def check_prologs(zf: zipfile.ZipFile) -> None:
    """Refuse any XML part that a parser will read if it has a DTD (entity definitions)."""
    for info in zf.infolist():
        name = info.filename.lower()
        if info.is_dir() or not (name.endswith((".xml", ".rels", ".vml"))) or name.startswith(_UNPARSED_PREFIXES):
            continue
        if not _prolog_ok(zf, info):
            raise fail("xml_bomb")


def _prolog_ok(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    try:
        fh = zf.open(info)
    except ZIP_ERRORS:
        raise fail("not_xlsx", detail="文件不完整或已损坏") from None
    with fh:
        raw = b""
        for size in (2048, LIMITS.max_prolog):  # almost always decided by the first 2 KB
            try:
                chunk = fh.read(size - len(raw))
            except ZIP_ERRORS:
                raise fail("not_xlsx", detail="文件不完整或已损坏") from None
            raw += chunk
            verdict = _scan_prolog(_decode_head(raw), done=len(raw) < size)
            if verdict is not None:
                return verdict
        return False  # no root element within max_prolog bytes


def _decode_head(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="ignore")
    if raw[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        return raw.decode("utf-16-le" if raw[0] == 0x3C else "utf-16-be", errors="ignore")
    return raw.decode("utf-8", errors="ignore").lstrip("\ufeff")


def _scan_prolog(s: str, done: bool) -> bool | None:
    """True: root element reached without a DTD; False: a DTD or other declaration; None: need more."""
    pos, n = 0, len(s)
    while True:
        while pos < n and s[pos] in " \t\r\n":
            pos += 1
        rest = s[pos:pos + 4]
        if not rest:
            return True if done else None
        if rest.startswith("<?") or rest.startswith("<!--"):
            close = "?>" if rest.startswith("<?") else "-->"
            end = s.find(close, pos + 2)
            if end < 0:
                return True if done else None
            pos = end + len(close)
        elif not done and len(rest) < 4 and "<!--".startswith(rest):
            return None
        elif rest.startswith("<!"):
            return False
        else:
            return True  # root element (or not XML at all: the parser will say so)



def read_part(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """A part's bytes (None when absent); a damaged part (bad CRC, bad deflate data) is not_xlsx."""
    try:
        return zf.read(name)
    except KeyError:
        return None
    except ZIP_ERRORS:
        raise fail("not_xlsx", detail="文件不完整或已损坏") from None


def check_size(zf: zipfile.ZipFile, name: str, limit: int) -> None:
    info = zf.NameToInfo.get(name)
    if info is not None and info.file_size > limit:
        raise fail("zip_bomb", detail=f"{name} 解压后 {info.file_size // MB} MB，远超正常大小")


def parse_part(zf: zipfile.ZipFile, name: str) -> Element | None:
    check_size(zf, name, LIMITS.max_tree_part)
    data = read_part(zf, name)
    if data is None:
        return None
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True)
        return root
    except DefusedXmlException:
        raise fail("xml_bomb") from None
    except SafeET.ParseError:
        raise fail("unreadable", detail=f"{name} 的内容已损坏") from None

