"""Faults: a reader abort, a crashing worker, kill -9, Ctrl-C, a full disk, line breaks on the console.

The fault hook JIXIAO_FAULT_INJECT="a.xlsx=abort,b.xlsx=sleep5" makes the worker handling that
workbook abort (SIGABRT, what a calamine allocation failure does), exit, sleep, or hit ENOSPC.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT, distinct_units, load_seed, write_unit

from toolkit.cli import main

POSIX = pytest.mark.skipif(os.name != "posix", reason="信号与进程组只在 POSIX 系统上可用")


def _distinct(inbox: Path, n: int) -> None:
    distinct_units(inbox, n, "6", "故障单位")


def _cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- aborts happen in a child
@pytest.mark.parametrize("mode", ["abort", "exit"])
def test_reader_abort_in_a_one_file_inbox_still_writes_results(tmp_path, monkeypatch, mode):
    inbox, out = tmp_path / "in", tmp_path / "out"
    _distinct(inbox, 1)
    monkeypatch.setenv("JIXIAO_FAULT_INJECT", f"u00.xlsx={mode}")
    code, output = _cli("run", str(inbox), "-o", str(out), "--jobs", "1")
    assert code == 1, output
    unit = json.loads((out / "results.json").read_text(encoding="utf-8"))["units"][0]
    assert unit["status"] == "unreadable" and unit["problems"][0]["code"] == "worker_crash"
    assert "处理 1 份：合格 0 份，退回 0 份，无法读取 1 份" in output


def test_check_survives_a_reader_abort(tmp_path):
    inbox = tmp_path / "in"
    _distinct(inbox, 2)
    r = subprocess.run([sys.executable, "-m", "toolkit", "check", str(inbox / "u00.xlsx"), str(inbox / "u01.xlsx")],
                       env=_env(JIXIAO_FAULT_INJECT="u00.xlsx=abort"), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert r.stdout.startswith("u00.xlsx: （文件）: 处理该文件时出错（处理进程异常退出（被系统信号 6 终止）")
    assert "u01.xlsx" not in r.stdout.splitlines()[0]
    assert "检查 2 份：合格 1 份，需修改 0 份，无法读取 1 份" in r.stderr


def test_one_crashing_file_does_not_slow_the_batch(tmp_path, monkeypatch):
    inbox = tmp_path / "in"
    _distinct(inbox, 40)
    t0 = time.perf_counter()
    assert _cli("run", str(inbox), "-o", str(tmp_path / "clean"), "--jobs", "2")[0] == 0
    clean = time.perf_counter() - t0
    monkeypatch.setenv("JIXIAO_FAULT_INJECT", "u05.xlsx=abort")
    t0 = time.perf_counter()
    code, output = _cli("run", str(inbox), "-o", str(tmp_path / "out"), "--jobs", "2")
    faulty = time.perf_counter() - t0
    assert code == 1, output
    units = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["units"]
    assert [u["file"] for u in units if u["status"] != "ok"] == ["u05.xlsx"]
    assert faulty < 3 * clean + 5, (clean, faulty)


# --------------------------------------------------------------------------- no process outlives the run
def _group(pgid: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[2]) == pgid:
                pids.append(int(d.name))
    return pids


def _start_slow_run(tmp_path: Path, jobs: str) -> subprocess.Popen[str]:
    inbox = tmp_path / "in"
    _distinct(inbox, 3)
    env = _env(JIXIAO_FAULT_INJECT="u00.xlsx=sleep60,u01.xlsx=sleep60")
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "run", str(inbox), "-o", str(tmp_path / "out"),
                             "--jobs", jobs], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 30
    while len(_group(proc.pid)) < 1 + int(jobs) and time.time() < deadline:  # main + its workers
        time.sleep(0.05)
    time.sleep(0.5)
    return proc


def _gone(pgid: int, seconds: float = 5) -> list[int]:
    deadline = time.time() + seconds
    while (left := _group(pgid)) and time.time() < deadline:
        time.sleep(0.05)
    for pid in left:  # do not leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    return left


@POSIX
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="需要 /proc 来列出子进程")
def test_kill_9_of_the_main_process_leaves_no_process_behind(tmp_path):
    proc = _start_slow_run(tmp_path, "2")
    assert len(_group(proc.pid)) >= 3
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _gone(proc.pid) == []


@POSIX
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="需要 /proc 来列出子进程")
def test_ctrl_c_exits_130_with_a_chinese_line(tmp_path):
    proc = _start_slow_run(tmp_path, "1")
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "已中断（Ctrl-C）" in err and "Traceback" not in err
    assert _gone(proc.pid) == []
    assert not (tmp_path / "out" / "results.json").exists() and not (tmp_path / "out" / ".jixiao.lock").exists()


# --------------------------------------------------------------------------- full disk
def test_disk_full_while_writing_a_document(tmp_path, monkeypatch):
    inbox, out = tmp_path / "in", tmp_path / "out"
    _distinct(inbox, 3)
    assert _cli("run", str(inbox), "-o", str(out), "--jobs", "1")[0] == 0
    before = _hashes(out)
    monkeypatch.setenv("JIXIAO_FAULT_INJECT", "u01.xlsx=enospc")
    code, output = _cli("run", str(inbox), "-o", str(out), "--jobs", "1")
    assert code == 2, output
    assert f"错误：磁盘空间不足：输出文件夹 {out} 所在磁盘剩余" in output and "Traceback" not in output
    assert _hashes(out) == before  # nothing lost, nothing half-written


def test_duplicates_are_the_officers_no_file_is_read_twice(tmp_path, monkeypatch):
    # Two copies of one unit: both invalid with duplicate_unit, neither gets a report, and neither a
    # returned workbook (nothing in them for a clerk to fix), so phase 2 reads no file again.
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    write_unit(inbox / "b.xlsx", load_seed())
    code, output = _cli("run", str(inbox), "-o", str(out), "--jobs", "1")
    assert code == 1, output
    units = json.loads((out / "results.json").read_text(encoding="utf-8"))["units"]
    assert [u["status"] for u in units] == ["invalid", "invalid"]
    assert all(u["report"] is None and u["returned"] is None for u in units)
    assert all(u["problems"][0]["code"] == "duplicate_unit" for u in units)
    for folder in ("reports", "returned"):
        assert not (out / folder).exists() or not list((out / folder).iterdir())


@pytest.fixture
def small_tmpfs(tmp_path):
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("需要 root 权限挂载小容量 tmpfs 来模拟磁盘已满")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"无法挂载 tmpfs（{r.stderr.strip()}）")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(folder: Path) -> None:
    with open(folder / "filler.bin", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


@pytest.mark.parametrize("previous", [False, True])
def test_full_disk_on_a_real_small_tmpfs(tmp_path, small_tmpfs, previous):
    inbox = tmp_path / "in"
    _distinct(inbox, 2 if previous else 30)
    out = small_tmpfs / "out"
    if previous:  # a finished run first, then the disk fills up
        assert _cli("run", str(inbox), "-o", str(out), "--jobs", "1")[0] == 0
        _fill(small_tmpfs)
    before = _hashes(small_tmpfs)
    in_before = _hashes(inbox)
    code, output = _cli("run", str(inbox), "-o", str(out), "--jobs", "1")
    assert code == 2, output
    assert output.startswith(f"错误：磁盘空间不足：输出文件夹 {out} 所在磁盘剩余 "), output
    assert "本次运行约需" in output and "Traceback" not in output
    assert _hashes(small_tmpfs) == before and _hashes(inbox) == in_before
    assert not (out / ".jixiao.lock").exists()


# --------------------------------------------------------------------------- one console line per problem
def test_a_line_break_in_a_cell_does_not_split_a_check_line(tmp_path):
    data = load_seed()
    data["staff_quota"] = "约\n10\r\n人"
    data["staff_actual"] = "十\u2028个"
    write_unit(tmp_path / "a.xlsx", data)
    code, output = _cli("check", str(tmp_path / "a.xlsx"), "--json")
    problems = json.loads(output)["units"][0]["problems"]
    # the value shows its line breaks as ⏎ inside one line (messages.show)
    assert code == 1 and any("约⏎10⏎人" in p["message"] for p in problems), problems
    r = CliRunner().invoke(main, ["check", str(tmp_path / "a.xlsx")])
    lines = r.stdout.splitlines()
    assert len(lines) == len(problems) and all(line.startswith("a.xlsx: ") for line in lines), lines


def test_a_worker_that_cannot_start_is_not_blamed_on_the_files(tmp_path):
    # a main module read from stdin cannot be re-imported by a spawned worker: it dies at start
    code = ("from toolkit.workers import Pool, WorkerStartError\n"
            "import os\n"
            "try:\n"
            "    with Pool(1) as p:\n"
            "        print(list(p.map([(0, os.getpid, ())])))\n"
            "except WorkerStartError as e:\n"
            "    print('start error:', e)\n")
    r = subprocess.run([sys.executable, "-"], input=code, env=_env(), capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.stdout.startswith("start error: 无法启动处理进程"), (r.stdout, r.stderr[-500:])
