"""Finding workbooks in an inbox: candidates sorted, noise, files being written, special files, depth."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from toolkit.read import discover


def test_discover_finds_candidates_sorted_and_skips_noise(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ["b/2.xlsx", "b/1.xlsm", "a.xlsx", "c.xls", "d.et", "e.ods", "f.csv", "Z.XLSX",
                 "~$a.xlsx", ".secret.xlsx", ".hidden/x.xlsx", "notes.txt", "report.docx", ".a.xlsx.part"]:
        (tmp_path / name).write_bytes(b"x")
    old = time.time() - 60
    for p in tmp_path.rglob("*"):
        os.utime(p, (old, old))
    found = discover.discover([tmp_path])
    assert [rel for _, rel in found] == ["Z.XLSX", "a.xlsx", "b/1.xlsm", "b/2.xlsx", "c.xls", "d.et", "e.ods",
                                         "f.csv"]
    assert all(p.exists() for p, _ in found)
    # stable: same answer twice; a file given directly is named by its file name
    assert discover.discover([tmp_path]) == found
    assert discover.discover([tmp_path / "b" / "2.xlsx"]) == [(tmp_path / "b" / "2.xlsx", "2.xlsx")]
    assert discover.discover([tmp_path / "~$a.xlsx"]) == []


def test_discover_skips_files_being_written(tmp_path):
    (tmp_path / "done.xlsx").write_bytes(b"PK" * 10)
    old = time.time() - 60
    os.utime(tmp_path / "done.xlsx", (old, old))
    (tmp_path / "empty_new.xlsx").write_bytes(b"")  # just created, nothing in it yet
    growing = tmp_path / "copying.xlsx"
    growing.write_bytes(b"PK")
    stop = threading.Event()

    def grow() -> None:
        with open(growing, "ab") as fh:
            while not stop.is_set():
                fh.write(b"x" * 100)
                fh.flush()
                time.sleep(0.002)

    t = threading.Thread(target=grow)
    t.start()
    try:
        time.sleep(0.01)
        found = [rel for _, rel in discover.discover([tmp_path])]
    finally:
        stop.set()
        t.join()
    assert found == ["done.xlsx"]


def test_old_empty_file_is_reported_not_skipped(tmp_path):
    p = tmp_path / "空.xlsx"
    p.write_bytes(b"")
    old = time.time() - 60
    os.utime(p, (old, old))
    assert [rel for _, rel in discover.discover([tmp_path])] == ["空.xlsx"]



posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs, /dev/zero and symlinks: POSIX only")


def _timed_discover(root: Path) -> list[str]:
    t = time.perf_counter()
    found = [rel for _, rel in discover.discover([root])]
    assert time.perf_counter() - t < 5
    return found


@posix_only
@pytest.mark.parametrize("make, found", [
    (lambda d, out: os.symlink("/dev/zero", d / "零.xlsx"), []),
    (lambda d, out: os.mkfifo(d / "管道.xlsx"), []),
    (lambda d, out: os.symlink(out / "外面.xlsx", d / "外链.xlsx"), []),  # leads out of INBOX
    (lambda d, out: os.symlink(d / "a" / "真.xlsx", d / "内链.xlsx"), ["a/真.xlsx"]),  # inside: read once
    (lambda d, out: os.symlink(d, d / "a" / "环"), ["a/真.xlsx"]),  # a folder link is not entered
    (lambda d, out: os.symlink("nowhere.xlsx", d / "断链.xlsx"), []),
])
def test_discover_special_files(tmp_path, make, found):
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    (inbox / "a").mkdir(parents=True)
    outside.mkdir()
    (outside / "外面.xlsx").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    if "真" in "".join(found):
        (inbox / "a" / "真.xlsx").write_bytes(b"x")
        os.utime(inbox / "a" / "真.xlsx", (time.time() - 60, time.time() - 60))
    make(inbox, outside)
    assert _timed_discover(inbox) == found


def test_discover_deep_nesting_is_bounded(tmp_path, monkeypatch):
    """No recursion (checked with a low recursion limit; a tree deeper than pytest's own cleanup
    can remove would break every later pytest run on the machine), depth capped at MAX_DEPTH."""
    d = tmp_path
    for i in range(1, 301):
        d = d / "d"
        d.mkdir()
        if i in (3, discover.MAX_DEPTH, discover.MAX_DEPTH + 1, 300):
            (d / f"{i}.xlsx").write_bytes(b"x")
            os.utime(d / f"{i}.xlsx", (time.time() - 60, time.time() - 60))
    monkeypatch.setattr(discover, "MAX_DEPTH", 400)
    with_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        deep = _timed_discover(tmp_path)
    finally:
        sys.setrecursionlimit(with_limit)
    assert len(deep) == 4
    monkeypatch.undo()
    found = _timed_discover(tmp_path)
    assert [rel.rsplit("/", 1)[1] for rel in found] == ["3.xlsx", f"{discover.MAX_DEPTH}.xlsx"]
