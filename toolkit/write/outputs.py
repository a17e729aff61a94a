"""OUT is the officer's folder too (spec 07): write only where we may, remove only what we wrote.

``results.json`` lists every output with its sha256. A run

- writes an output under its name only if nothing is there, or what is there is the previous run's
  output with the recorded bytes (or ``overwrite``); otherwise beside it as ``…（新）.docx``;
- removes only files the previous run recorded, that this run did not rewrite, and whose bytes
  still match the record (a hand-edited one is kept and named).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from toolkit.write import atomic

NEW_MARK = "新"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def previous_outputs(results_path: Path) -> dict[str, str | None]:
    """Outputs recorded by the previous run: rel path → sha256 (None: an older results.json
    without hashes, whose 汇总表 and named reports and returned workbooks are trusted as ours)."""
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    recorded = data.get("outputs")
    if isinstance(recorded, list):
        return {o["path"]: o["sha256"] for o in recorded
                if isinstance(o, dict) and isinstance(o.get("path"), str) and isinstance(o.get("sha256"), str)}
    legacy: dict[str, str | None] = {"汇总表.xlsx": None}  # every older run wrote it
    for u in data.get("units") or ():
        if isinstance(u, dict):
            for k in ("report", "returned"):
                if isinstance(u.get(k), str):
                    legacy[u[k]] = None
    return legacy


def _marked(rel: str, n: int) -> str:
    p = PurePosixPath(rel)
    mark = NEW_MARK if n == 1 else f"{NEW_MARK}{n}"
    return p.with_name(f"{p.stem}（{mark}）{p.suffix}").as_posix()


class Outputs:
    """The outputs of one run under ``out``."""

    def __init__(self, out: Path, previous: dict[str, str | None], overwrite: bool = False) -> None:
        self.out = Path(out)
        self.previous = previous
        self.overwrite = overwrite
        self.written: dict[str, str] = {}
        self.kept_beside: set[str] = set()  # outputs left alone, their new version written beside
        self.notices: list[str] = []

    def _free(self, rel: str) -> bool:
        """May this run write ``rel``?"""
        if rel in self.written:
            return False
        path = atomic.inside(self.out, rel)
        if not os.path.lexists(path) or self.overwrite:
            return not path.is_dir()
        if path.is_symlink() or not path.is_file() or rel not in self.previous:
            return False  # not ours
        recorded = self.previous[rel]
        return recorded is None or sha256_file(path) == recorded

    def claim(self, rel: str) -> str:
        """Where the output meant for ``rel`` (relative to OUT) goes."""
        candidate, n = rel, 0
        while not self._free(candidate):
            n += 1
            candidate = _marked(rel, n)
        if candidate != rel:
            self.kept_beside.add(rel)
            why = "已被修改" if rel in self.previous else "不是本工具生成的"
            self.notices.append(f"未覆盖 {rel}（{why}），新文件写为 {candidate}；用 --overwrite 可直接覆盖")
        return candidate

    def place(self, src: Path, rel: str) -> str:
        """Move the finished file ``src`` to its claimed place; returns that path relative to OUT."""
        final = self.claim(rel)
        dest = atomic.inside(self.out, final)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
        self.record(final)
        return final

    def write(self, rel: str, data: bytes) -> str:
        final = self.claim(rel)
        atomic.write_bytes(atomic.inside(self.out, final), data)
        self.record(final)
        return final

    def record(self, rel: str) -> None:
        self.written[rel] = sha256_file(atomic.inside(self.out, rel))

    def remove_stale(self) -> None:
        """Remove the previous run's outputs this run did not rewrite, if unchanged since."""
        removed, kept = [], []
        for rel, recorded in sorted(self.previous.items()):
            if rel in self.written or rel in self.kept_beside:
                continue
            try:
                path = atomic.inside(self.out, rel)
            except atomic.OutsideOut:
                continue
            if path.is_symlink() or not path.is_file():
                continue
            if recorded is not None and sha256_file(path) != recorded:
                kept.append(rel)
                continue
            path.unlink()
            removed.append(rel)
        if removed:
            self.notices.append(f"已删除上次生成、本次不再需要的文件：{'、'.join(removed)}")
        if kept:
            self.notices.append(f"保留上次生成后被修改过的文件（本次不再需要，请自行处理）：{'、'.join(kept)}")

    def as_list(self) -> list[dict[str, Any]]:
        return [{"path": p, "sha256": h} for p, h in sorted(self.written.items())]

    def names(self) -> Iterable[str]:
        return self.written.keys()
