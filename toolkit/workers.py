"""Worker processes that read workbooks, so that no file can take the run down.

Every workbook read happens in a child process (even with one job): a reader abort (a Rust panic
turned into SIGABRT, an allocation failure) kills only that child. The pool hands out one task at
a time per worker and knows which task each worker holds, so when a worker dies only its task is
retried once in a fresh worker, and then marked as crashed; the other tasks go on.

Workers exit when the main process dies (even by kill -9): each holds the read end of a pipe whose
only writer is the main process, and a watchdog thread exits the worker when that pipe closes.
Workers ignore Ctrl-C: the main process decides (it stops them when it exits).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from toolkit.errors import JixiaoError

RETRIES = 1  # a task whose worker died is tried once more, in a fresh worker
READY = "ready"  # a worker's first message: it started (a death before it is not a file's fault)


class WorkerStartError(JixiaoError, RuntimeError):
    """A worker process died before it could take any work (a broken installation, not a file)."""


@dataclass(frozen=True)
class Crashed:
    """The worker died while running this task (twice)."""

    exitcode: int | None


def _watch_parent(alive: Connection) -> None:
    try:
        alive.recv()  # nothing is ever sent: returns only by EOF, when the parent is gone
    except (EOFError, OSError):
        pass
    os._exit(3)


def _worker_main(tasks: Connection, alive: Connection) -> None:
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # pragma: no cover
        pass
    threading.Thread(target=_watch_parent, args=(alive,), daemon=True).start()
    tasks.send(READY)
    while True:
        try:
            msg = tasks.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        key, fn, args = msg
        try:
            result = fn(*args)
        except Exception as e:  # the task's own error is its result (the caller decides)
            result = e if isinstance(e, OSError) else RuntimeError(f"{type(e).__name__}: {e}")
        tasks.send((key, result))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child_conn = ctx.Pipe(duplex=True)
        alive_r, self._alive_w = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_worker_main, args=(child_conn, alive_r), daemon=True)
        self.proc.start()
        child_conn.close()
        alive_r.close()
        self.task: tuple[Any, Callable[..., Any], tuple[Any, ...]] | None = None
        self.ready = False

    def stop(self, wait_s: float = 2.0) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.proc.join(wait_s)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(1)
        self.conn.close()
        self._alive_w.close()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(1)
        self.conn.close()
        self._alive_w.close()


class Pool:
    """``with Pool(jobs) as pool: for key, result in pool.map(tasks): …`` (completion order).

    A task is ``(key, fn, args)``; ``fn`` must be importable by name (spawn). The result of a task
    whose worker died twice is a :class:`Crashed`; an exception ``fn`` raised is returned as its
    result (OSError as is, anything else as RuntimeError).
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self._ctx = mp.get_context("spawn")
        self._idle: list[_Worker] = []

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        for w in self._idle:
            (w.kill if exc_type is not None else w.stop)()
        self._idle.clear()

    def map(self, tasks: Iterable[tuple[Any, Callable[..., Any], tuple[Any, ...]]]) -> Iterator[tuple[Any, Any]]:
        queue = deque((t, 0) for t in tasks)
        busy: dict[Any, tuple[_Worker, int]] = {}  # conn → (worker, attempt)
        try:
            while queue or busy:
                while queue and len(busy) < self.jobs:
                    task, attempt = queue.popleft()
                    w = self._idle.pop() if self._idle else _Worker(self._ctx)
                    w.task = task
                    try:
                        w.conn.send(task)
                    except (OSError, ValueError):  # an idle worker that died meanwhile
                        w.kill()
                        queue.appendleft((task, attempt))
                        continue
                    busy[w.conn] = (w, attempt)
                ready = wait([*busy, *(w.proc.sentinel for w, _ in busy.values())])
                for conn in [c for c in busy if c in ready or busy[c][0].proc.sentinel in ready]:
                    w, attempt = busy[conn]
                    held = w.task
                    assert held is not None
                    try:
                        if not conn.poll():
                            raise EOFError
                        msg = conn.recv()
                    except (EOFError, OSError):
                        del busy[conn]
                        w.kill()
                        if not w.ready:
                            raise WorkerStartError(
                                f"无法启动处理进程（退出码 {w.proc.exitcode}），请检查 Python 环境；"
                                "加 --debug 可查看详细信息") from None
                        if attempt < RETRIES:
                            queue.append((held, attempt + 1))
                        else:
                            yield held[0], Crashed(w.proc.exitcode)
                        continue
                    if msg == READY:
                        w.ready = True
                        continue
                    del busy[conn]
                    key, result = msg
                    w.task = None
                    self._idle.append(w)
                    yield key, result
        except BaseException:
            for w, _ in busy.values():
                w.kill()
            raise
