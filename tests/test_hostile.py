"""Files that are not what they claim, or are built to hurt: each gets a clear answer, quickly.

Every case goes through ``validate.check_file`` (what a batch does) and asserts the problem code
and message, that it took < 2 s, that memory stayed bounded, and that the input file is
byte-identical afterwards. Hostile files are crafted in code.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import resource
import shutil
import struct
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import builders as B
from toolkit.check import validate
from toolkit.read.discover import discover

MB = 1024 * 1024
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.fixture(scope="module")
def seed_bytes(tmp_path_factory) -> bytes:
    return B.build(tmp_path_factory.mktemp("seed") / "seed.xlsx").read_bytes()


def guarded_check(path: Path) -> validate.FileCheck:
    """check_file with time, memory and no-modification guarantees asserted."""
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracemalloc.start()
    t = time.perf_counter()
    try:
        check = validate.check_file(path, path.name)
    finally:
        elapsed = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert peak < 64 * MB, f"python peak {peak // MB} MB"
    assert (rss_after - rss_before) * 1024 < 128 * MB, "process memory grew by more than 128 MB"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "input file was modified"
    return check


def unreadable(path: Path, code: str, *words: str) -> validate.FileCheck:
    c = guarded_check(path)
    assert c.status == "unreadable" and c.submission is None and c.raw is None
    assert [p.code for p in c.problems] == [code], [(p.code, p.message) for p in c.problems]
    p = c.problems[0]
    assert p.severity == "error" and p.message.startswith(("无法读取", "不是本工具", "填报表模板版本"))
    for w in words:
        assert w in p.message, p.message
    return c


def repack(data: bytes, edit: Callable[[str, bytes], bytes | None] | None = None,
           add: dict[str, bytes] | None = None, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(buf, "w", compression) as zout:
        for info in zin.infolist():
            data_in = zin.read(info.filename)
            part = edit(info.filename, data_in) if edit else data_in
            if part is not None:
                zout.writestr(info.filename, part)
        for name, part in (add or {}).items():
            zout.writestr(name, part)
    return buf.getvalue()


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size an entry declares (local header and central directory)."""
    raw = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    struct.pack_into("<I", raw, info.header_offset + 22, size)
    i = raw.find(b"PK\x01\x02")
    while i != -1:
        n = struct.unpack_from("<H", raw, i + 28)[0]
        if bytes(raw[i + 46:i + 46 + n]) == name.encode():
            struct.pack_into("<I", raw, i + 24, size)
        i = raw.find(b"PK\x01\x02", i + 46)
    return bytes(raw)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# --------------------------------------------------------------------------- not a workbook at all
def test_empty_file(tmp_path):
    unreadable(write(tmp_path, "空.xlsx", b""), "not_xlsx", "不是有效的 Excel 文件", "为空")


def test_truncated_zip(tmp_path, seed_bytes):
    unreadable(write(tmp_path, "半截.xlsx", seed_bytes[: len(seed_bytes) // 2]), "not_xlsx", "不是有效的 Excel 文件",
               "不完整")


def test_truncated_just_the_end(tmp_path, seed_bytes):
    unreadable(write(tmp_path, "尾部缺失.xlsx", seed_bytes[:-30]), "not_xlsx", "不是有效的 Excel 文件")


def test_random_bytes(tmp_path):
    unreadable(write(tmp_path, "乱码.xlsx", bytes(range(256)) * 10), "not_xlsx", "不是有效的 Excel 文件")


def test_web_page_named_xlsx(tmp_path):
    unreadable(write(tmp_path, "导出.xlsx", "<html><body><table><tr><td>单位</td></tr></table></body></html>".encode()),
               "not_xlsx", "网页")


def test_word_document_named_xlsx(tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                   'officeDocument" Target="word/document.xml"/></Relationships>')
        z.writestr("word/document.xml", "<document/>")
    unreadable(write(tmp_path, "报告.xlsx", data.getvalue()), "not_xlsx", "不是有效的 Excel 文件")


# --------------------------------------------------------------------------- encrypted and legacy formats
def test_ole_named_xlsx_is_encrypted(tmp_path):
    data = OLE_MAGIC + b"\x00" * 504 + "EncryptionInfo".encode("utf-16-le") + b"\x00" * 1000
    unreadable(write(tmp_path, "加密.xlsx", data), "encrypted", "文件已加密，请取消密码后重新报送")


def test_any_ole_named_xlsx_is_encrypted(tmp_path):
    unreadable(write(tmp_path, "加密2.xlsx", OLE_MAGIC + b"\x00" * 2000), "encrypted", "取消密码")


@pytest.mark.parametrize("name", ["旧格式.xls", "金山.et"])
def test_legacy_ole_formats(tmp_path, name):
    c = unreadable(write(tmp_path, name, OLE_MAGIC + b"\x00" * 2000), "legacy_format", "另存为", ".xlsx 后重新报送")
    assert Path(name).suffix in c.problems[0].message


def test_csv(tmp_path):
    unreadable(write(tmp_path, "数据.csv", "单位名称,年度\n县政务服务中心,2023\n".encode("gbk")), "legacy_format",
               "CSV", "另存为")


def test_html_saved_as_xls(tmp_path):
    unreadable(write(tmp_path, "系统导出.xls", b"<html><table></table></html>"), "legacy_format", ".xls", "另存为")


def test_ods(tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<office:document-content/>")
    unreadable(write(tmp_path, "开源.ods", data.getvalue()), "legacy_format", ".ods", "另存为")
    # the same file named .xlsx is still recognised
    unreadable(write(tmp_path, "开源.xlsx", data.getvalue()), "legacy_format", ".ods")


def test_xlsb(tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.bin", b"\x83\x01\x00")
    unreadable(write(tmp_path, "二进制.xlsb", data.getvalue()), "legacy_format", ".xlsb")


# --------------------------------------------------------------------------- macros: read, never run, warn
def test_xlsm_is_read_with_a_warning(tmp_path, seed_bytes):
    c = guarded_check(write(tmp_path, "带宏.xlsm", seed_bytes))
    assert c.status == "ok"
    assert [p.code for p in c.problems] == ["macro_workbook"]
    assert c.problems[0].severity == "warning" and "未运行任何宏" in c.problems[0].message
    assert c.submission is not None and c.submission.unit_name == "江华瑶族自治县政务服务中心"


def test_vba_project_inside_xlsx_warns(tmp_path, seed_bytes):
    data = repack(seed_bytes, add={"xl/vbaProject.bin": OLE_MAGIC + b"\x00" * 512})
    c = guarded_check(write(tmp_path, "宏.xlsx", data))
    assert [p.code for p in c.problems] == ["macro_workbook"]


# --------------------------------------------------------------------------- zip bombs
def test_entry_declaring_more_than_a_gigabyte(tmp_path, seed_bytes):
    data = repack(seed_bytes, add={"xl/media/image1.png": b"\x89PNG" + b"\x00" * 4000})
    data = declare_size(data, "xl/media/image1.png", 1536 * MB)
    unreadable(write(tmp_path, "炸弹.xlsx", data), "zip_bomb", "为安全起见已拒绝")


def test_highly_compressed_shared_strings(tmp_path, seed_bytes):
    """30 MB of padding that packs into ~30 KB: refused from the central directory, never inflated."""
    pad = b" " * (30 * MB)
    data = repack(seed_bytes, lambda n, b: b.replace(b"<sst ", pad + b"<sst ", 1) if n == "xl/sharedStrings.xml" else b)
    assert len(data) < 1 * MB
    unreadable(write(tmp_path, "压缩比.xlsx", data), "zip_bomb", "压缩比")


def test_too_many_entries(tmp_path, seed_bytes):
    data = repack(seed_bytes, add={f"xl/media/x{i}.bin": b"" for i in range(2100)})
    unreadable(write(tmp_path, "条目.xlsx", data), "zip_bomb", "个文件")


def test_total_too_large(tmp_path, seed_bytes):
    extra = {f"xl/media/m{i}.bin": os.urandom(470 * 1024) for i in range(3)}
    data = repack(seed_bytes, add=extra, compression=zipfile.ZIP_STORED)
    for name in extra:  # 3 × 90 MB declared: each under the per-entry limit and ratio < 200
        data = declare_size(data, name, 90 * MB)
    unreadable(write(tmp_path, "总量.xlsx", data), "zip_bomb", "共 270 MB")


def test_declared_size_smaller_than_content_is_caught_by_the_reader(tmp_path, seed_bytes):
    """A part that inflates beyond what it declares is refused by the zip readers, not expanded."""
    data = repack(seed_bytes, lambda n, b: b.replace(b"<sheetData>", b"<sheetData>" + b" " * (800 * 1024), 1)
                  if n == "xl/worksheets/sheet2.xml" else b)
    data = declare_size(data, "xl/worksheets/sheet2.xml", 2000)
    c = guarded_check(write(tmp_path, "谎报.xlsx", data))
    assert c.status == "unreadable" and c.problems[0].code == "not_xlsx", c.problems
    assert "损坏" in c.problems[0].message


# --------------------------------------------------------------------------- XML bombs and entities
BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE sst [\n <!ENTITY lol "lol">\n'
                  + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b']>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
                    b'uniqueCount="1"><si><t>&lol9;</t></si></sst>')


def test_billion_laughs_in_shared_strings(tmp_path, seed_bytes):
    data = repack(seed_bytes, lambda n, b: BILLION_LAUGHS if n == "xl/sharedStrings.xml" else b)
    unreadable(write(tmp_path, "笑.xlsx", data), "xml_bomb", "DTD")


def test_external_entity_in_a_sheet(tmp_path, seed_bytes):
    def edit(n: str, b: bytes) -> bytes:
        if n == "xl/worksheets/sheet2.xml":
            return b.replace(b"?>", b'?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1)
        return b
    unreadable(write(tmp_path, "外部实体.xlsx", repack(seed_bytes, edit)), "xml_bomb")


def test_dtd_hidden_after_a_long_comment(tmp_path, seed_bytes):
    def edit(n: str, b: bytes) -> bytes:
        if n == "xl/workbook.xml":
            return b.replace(b"?>", b"?><!--" + b"x" * 20000 + b'--><!DOCTYPE workbook [<!ENTITY a "b">]>', 1)
        return b
    unreadable(write(tmp_path, "注释.xlsx", repack(seed_bytes, edit)), "xml_bomb")


def test_dtd_in_utf16_part(tmp_path, seed_bytes):
    def edit(n: str, b: bytes) -> bytes:
        if n == "xl/styles.xml":
            text = b.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
            text = text.replace("?>", '?><!DOCTYPE s [<!ENTITY a "b">]>', 1)
            return b"\xff\xfe" + text.encode("utf-16-le")
        return b
    unreadable(write(tmp_path, "十六位.xlsx", repack(seed_bytes, edit)), "xml_bomb")


def test_endless_prolog(tmp_path, seed_bytes):
    def edit(n: str, b: bytes) -> bytes:
        if n == "xl/sharedStrings.xml":
            return b.replace(b"?>", b"?>" + b"<?pi x?>" * 20000, 1)
        return b
    unreadable(write(tmp_path, "前言.xlsx", repack(seed_bytes, edit)), "xml_bomb")


# --------------------------------------------------------------------------- the batch goes on
def test_a_folder_of_hostile_files_is_processed_file_by_file(tmp_path, seed_bytes):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(inbox, "a_好.xlsx", seed_bytes)
    write(inbox, "b_空.xlsx", b"")
    write(inbox, "c_旧.xls", OLE_MAGIC + b"\x00" * 600)
    write(inbox, "d_笑.xlsx", repack(seed_bytes, lambda n, b: BILLION_LAUGHS if n == "xl/sharedStrings.xml" else b))
    write(inbox, "e_好.xlsx", seed_bytes)
    old = time.time() - 60
    for p in inbox.iterdir():
        os.utime(p, (old, old))
    checks = [validate.check_file(p, rel) for p, rel in discover([inbox])]
    assert [c.status for c in checks] == ["ok", "unreadable", "unreadable", "unreadable", "ok"]
    dups = validate.find_duplicates(checks)
    assert set(dups) == {"a_好.xlsx", "e_好.xlsx"}


def test_inputs_are_byte_identical_after_a_run(tmp_path, seed_bytes):
    p = write(tmp_path, "x.xlsx", seed_bytes)
    shutil.copy(p, tmp_path / "copy.xlsx")
    guarded_check(p)
    assert p.read_bytes() == (tmp_path / "copy.xlsx").read_bytes()


# --------------------------------------------------------------------------- a value far away
def _put_far_value(data: bytes, cell: str, value: bytes = b"<v>1</v>", styled_only: bool = False) -> bytes:
    """Add a cell far below/right on 基本信息 (sheet2), as a stray keystroke or an attacker would."""
    row = re.sub(r"\D", "", cell)
    c = f'<c r="{cell}" s="1"/>'.encode() if styled_only else f'<c r="{cell}">'.encode() + value + b"</c>"

    def edit(n: str, b: bytes) -> bytes:
        if n == "xl/worksheets/sheet2.xml":
            return b.replace(b"</sheetData>", f'<row r="{row}">'.encode() + c + b"</row></sheetData>", 1)
        return b
    return repack(data, edit)


@pytest.mark.parametrize("cell", ["Z5000", "XFD1048576"])
def test_stray_values_and_far_formatting_are_fine(tmp_path, seed_bytes, cell):
    """Values far outside the form are not read (see test_reader_limits for the memory guard)."""
    data = _put_far_value(seed_bytes, cell, b"<v>7</v>")
    c = guarded_check(write(tmp_path, "稍远.xlsx", data))
    assert c.status == "ok", [p.message for p in c.problems]
    data = _put_far_value(seed_bytes, "XFD1048576", styled_only=True)  # formatting only: no value
    c = guarded_check(write(tmp_path, "格式.xlsx", data))
    assert c.status == "ok", [p.message for p in c.problems]


def test_huge_workbook_part_is_not_parsed(tmp_path, seed_bytes):
    """A 6 MB workbook.xml (within the zip limits, ratio ~2) is refused before it is parsed into a tree."""
    pad = b"<!--" + os.urandom(3 * MB).hex().encode() + b"-->"
    data = repack(seed_bytes, lambda n, b: b.replace(b"</workbook>", pad + b"</workbook>") if n == "xl/workbook.xml"
                  else b)
    unreadable(write(tmp_path, "大.xlsx", data), "zip_bomb", "xl/workbook.xml", "远超正常大小")
