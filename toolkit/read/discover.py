"""Finding workbooks in an inbox: candidate files under folders, safely and only once.

Skipped silently: Excel lock files ``~$*``, hidden files and folders, ``.part`` downloads, special
files (FIFOs, devices, sockets), symlinks leading out of the folder given, folders nested deeper
than MAX_DEPTH, and files being written: a file modified in the last 3 s is stat'ed again 50 ms
later and skipped if it changed or is empty. An older empty file is kept (reported not_xlsx by the
reader, as spec 05 asks).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path

from toolkit.read.package import CANDIDATE_SUFFIXES

# A file modified this recently is checked for growth (still being copied or saved).
_FRESH_SECONDS = 3.0
_SETTLE_SECONDS = 0.05


def _skipped_name(name: str) -> bool:
    return name.startswith((".", "~$")) or name.endswith(".part")


# Folders nested deeper than this under a given folder are not searched (a real inbox has 2–3 levels).
MAX_DEPTH = 32


def _regular(p: Path) -> os.stat_result | None:
    """The stat of a regular file (symlinks followed), else None: FIFOs, devices, sockets, folders."""
    try:
        st = os.stat(p)
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _inside(p: Path, root_real: str) -> bool:
    real = os.path.realpath(p)
    return os.path.normcase(real).startswith(os.path.normcase(root_real.rstrip(os.sep) + os.sep))


ARCHIVE_SUFFIXES = frozenset({".zip", ".rar", ".7z"})  # named to the officer (spec 07), never opened


def _walk(root: Path, suffixes: frozenset[str] | tuple[str, ...] = CANDIDATE_SUFFIXES) -> list[tuple[Path, str]]:
    """Candidate files under ``root`` without recursion: depth bounded, symlinked folders not entered,
    symlinked files kept only when they resolve inside ``root``."""
    root_real = os.path.realpath(root)
    out: list[tuple[Path, str]] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name.startswith("."):
                continue
            p = Path(e.path)
            try:
                is_link = e.is_symlink()
                is_dir = not is_link and e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if depth + 1 <= MAX_DEPTH:
                    stack.append((p, depth + 1))
                continue
            if _skipped_name(e.name) or p.suffix.lower() not in suffixes:
                continue
            if is_link and not _inside(p, root_real):
                continue
            out.append((p, p.relative_to(root).as_posix()))
    return out


def discover(paths: Iterable[Path | str]) -> list[tuple[Path, str]]:
    """Workbook candidates under ``paths`` (files or folders, recursively) → [(path, rel)].

    ``rel`` is the path relative to the folder given (with / separators), or the file's name for
    a file given directly. Sorted and stable. Skipped silently: Excel lock files ``~$*``, hidden
    files and folders, files still being written (size or time changing), anything that is not a
    regular file (FIFOs, devices, sockets), symlinks leading out of the folder given, and folders
    nested deeper than MAX_DEPTH. Legacy formats (.xls, .et, .ods, .csv) are included so that they
    get the "save as .xlsx" answer.
    """
    found: list[tuple[Path, str, os.stat_result]] = []
    seen: set[str] = set()
    rels: set[str] = set()

    def add(p: Path, rel: str) -> None:
        st = _regular(p)
        if st is None:
            return
        key = os.path.normcase(os.path.realpath(p))
        if key in seen:
            return
        seen.add(key)
        if rel in rels:  # two files given directly with the same name
            rel = p.as_posix()
        rels.add(rel)
        found.append((p, rel, st))

    for given in paths:
        root = Path(given)
        if root.is_dir():
            for p, rel in sorted(_walk(root), key=lambda x: x[1].split("/")):
                add(p, rel)
        elif not root.name.startswith("~$"):
            add(root, root.name)
    return [(p, rel) for p, rel, _ in _settled(found)]


def archives(paths: Iterable[Path | str]) -> list[str]:
    """The archives (.zip/.rar/.7z) under ``paths``, as paths relative to the folder given (sorted):
    a clerk who sent a packed folder is named, not silently ignored."""
    out: list[str] = []
    for given in paths:
        root = Path(given)
        if root.is_dir():
            out.extend(sorted((rel for _, rel in _walk(root, ARCHIVE_SUFFIXES)), key=lambda r: r.split("/")))
        elif root.suffix.lower() in ARCHIVE_SUFFIXES and root.is_file():
            out.append(root.name)
    return out


def _settled(found: list[tuple[Path, str, os.stat_result]]) -> list[tuple[Path, str, os.stat_result]]:
    """Drop files that are still growing: only recently modified files are stat'ed twice."""
    now = time.time()
    fresh = [i for i, (_, _, st) in enumerate(found) if now - st.st_mtime < _FRESH_SECONDS]
    if not fresh:
        return found
    time.sleep(_SETTLE_SECONDS)
    drop: set[int] = set()
    for i in fresh:
        p, _, st = found[i]
        try:
            st2 = p.stat()
        except OSError:
            drop.add(i)
            continue
        if st2.st_size != st.st_size or st2.st_mtime_ns != st.st_mtime_ns or st.st_size == 0:
            drop.add(i)
    return [f for i, f in enumerate(found) if i not in drop]

