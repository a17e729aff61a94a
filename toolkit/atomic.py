"""Atomic, repeatable output files: write ``.<name>.part`` in the same folder, then rename."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PART_SUFFIX = ".part"
_FSYNC = os.environ.get("JIXIAO_FSYNC") == "1"


def part_path(path: Path) -> Path:
    return path.with_name(f".{path.name}{PART_SUFFIX}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place when the block succeeds.

    The rename is what makes a killed run safe (a final name only ever holds a complete file).
    No fsync per file: it guards only against power loss, and costs more than writing the file
    on slow disks; set JIXIAO_FSYNC=1 to have it anyway.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = part_path(path)
    try:
        yield tmp
        if _FSYNC:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def remove_leftover_parts(root: Path) -> int:
    """Delete ``*.part`` files a killed run left under ``root``; returns how many."""
    n = 0
    if root.is_dir():
        for p in root.rglob(f"*{PART_SUFFIX}"):
            if p.is_file() and p.name.startswith("."):
                p.unlink()
                n += 1
    return n
