"""Atomic, repeatable output files: write ``.<name>.part`` in the same folder, then rename."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from toolkit.errors import JixiaoError

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


# --------------------------------------------------------------------------- OUT: paths, space, lock
class OutputError(JixiaoError):
    """OUT cannot take this run's outputs (path outside OUT, full disk, locked). Message in Chinese."""


class OutsideOut(OutputError):
    pass


class DiskFull(OutputError):
    def __init__(self, folder: Path, needed: int | None = None, free: int | None = None) -> None:
        self.folder, self.needed, self.free = folder, needed, free
        if free is None:
            free = _free_bytes(folder)
        need = f"，本次运行约需 {_mb(needed)}" if needed else ""
        have = f"剩余 {_mb(free)}" if free is not None else "空间已满"
        super().__init__(f"磁盘空间不足：输出文件夹 {folder} 所在磁盘{have}{need}。"
                         "请清理磁盘或用 -o 指定其他磁盘上的文件夹后重新运行；已有的文件没有改动")


class OutLocked(OutputError):
    pass


def _mb(n: int | None) -> str:
    return "未知" if n is None else f"{n / 1024 / 1024:.1f} MB"


def _free_bytes(folder: Path) -> int | None:
    p = Path(folder)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def ensure_space(folder: Path, needed: int) -> None:
    """Refuse to start when the disk holding ``folder`` has less than ``needed`` bytes free."""
    free = _free_bytes(folder)
    if free is not None and free < needed:
        raise DiskFull(folder, needed, free)


def inside(out: Path, rel: str) -> Path:
    """``out / rel``, refusing any ``rel`` that would land outside ``out`` (absolute, .., drive, link)."""
    pure = PurePosixPath(str(rel).replace("\\", "/"))
    if (not str(rel) or pure.is_absolute() or PureWindowsPath(str(rel)).drive or ".." in pure.parts
            or any(ord(c) < 32 for c in str(rel))):
        raise OutsideOut(f"输出路径“{rel!s:.120}”不在输出文件夹内，已拒绝写入")
    root = Path(out).resolve()
    path = (root / pure).resolve()
    if path == root or not path.is_relative_to(root):
        raise OutsideOut(f"输出路径“{rel!s:.120}”指向输出文件夹以外，已拒绝写入")
    return Path(out) / pure


LOCK_FILE = ".jixiao.lock"


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":
        return _pid_alive_windows(pid)
    if os.name != "posix":  # no probe: assume the holder is alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_alive_windows(pid: int) -> bool:
    """OpenProcess + GetExitCodeProcess (STILL_ACTIVE = 259); unsure → alive (the lock stays)."""
    import ctypes  # lazy: Windows only

    try:
        k32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
        handle = k32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = k32.GetExitCodeProcess(handle, ctypes.byref(code))
        k32.CloseHandle(handle)
        return not ok or code.value == 259
    except (AttributeError, OSError):
        return True


class OutLock:
    """``OUT/.jixiao.lock`` for the length of a run (O_CREAT|O_EXCL; stale when its pid is dead here)."""

    def __init__(self, out: Path, what: str = "run") -> None:
        self.path = Path(out) / LOCK_FILE
        self.what = what
        self._held = False

    def __enter__(self) -> OutLock:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.what,
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is not None and not self._stale(holder):
                    raise OutLocked(
                        f"输出文件夹 {self.path.parent} 正被另一次 jixiao {holder.get('command', 'run')} 使用"
                        f"（主机 {holder.get('host', '?')}，进程 {holder.get('pid', '?')}，"
                        f"开始于 {holder.get('started', '?')}）。请等它结束后再运行；"
                        f"若确认没有其他程序在运行，删除 {self.path} 后重试") from None
                self.path.unlink(missing_ok=True)  # stale (or unreadable): take it over
                continue
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(info, fh, ensure_ascii=False)
            except BaseException:  # e.g. a full disk: leave no empty lock behind
                self.path.unlink(missing_ok=True)
                raise
            self._held = True
            return self
        raise OutLocked(f"无法锁定输出文件夹 {self.path.parent}，请稍后重试")

    def _holder(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # being written this instant, or garbage: give a writer a moment, then treat as stale
            time.sleep(0.2)
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def _stale(holder: dict[str, Any]) -> bool:
        pid = holder.get("pid")
        return holder.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid)

    def __exit__(self, *_: object) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False
