"""OUT is the officer's folder too: nothing lands outside OUT, nothing we did not write is lost."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT, load_seed, write_unit

from toolkit.batch import soffice_path
from toolkit.cli import main
from toolkit.write import atomic

REPORT = "reports/江华瑶族自治县政务服务中心2023年度部门整体支出绩效自评报告.docx"


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def _invalid(data: dict) -> dict:
    data = dict(data)
    data.update(unit_name="江华瑶族自治县统计局", unit_code="412099", spend_basic=100)
    return data


# --------------------------------------------------------------------------- paths stay inside OUT
@pytest.mark.parametrize("rel", ["../x.docx", "reports/../../x.docx", "/etc/passwd", "C:\\x.docx", "\\\\srv\\x",
                                 "reports/a\nb.docx", "", ".", "reports/.."])
def test_inside_refuses_paths_leaving_out(tmp_path, rel):
    with pytest.raises(atomic.OutsideOut):
        atomic.inside(tmp_path, rel)


@pytest.mark.skipif(os.name != "posix", reason="符号链接测试只在 POSIX 系统上进行")
def test_inside_refuses_a_symlink_out_of_out(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "reports").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(atomic.OutsideOut):
        atomic.inside(tmp_path / "out", "reports/a.docx")
    assert atomic.inside(tmp_path / "out", "returned/子/a.xlsx") == tmp_path / "out" / "returned" / "子" / "a.xlsx"


HOSTILE_CODES = ["/../../../escaped/pwned", "..\\..\\evil", "CON", "a/b\\c:d*e?f\"g<h>i|j", ".hidden",
                 "x\x00y\nz", "长" * 300, "/../../../escaped/pwned/"]


def test_same_name_and_year_reports_stay_inside_out(tmp_path):
    """Units with one name and year but different codes each get a report, named inside OUT."""
    inbox, out = tmp_path / "in" / "deep", tmp_path / "out"
    inbox.mkdir(parents=True)
    write_unit(inbox / "a.xlsx", load_seed())
    for i, code in enumerate(HOSTILE_CODES):
        data = load_seed()
        data["unit_code"] = code
        write_unit(inbox / f"b{i}.xlsx", data)
    _run("run", str(inbox), "-o", str(out), "--jobs", "2")
    units = _results(out)["units"]
    reports = [u["report"] for u in units if u["report"]]
    assert len(reports) == len(HOSTILE_CODES) + 1 == len(set(reports)), [u["problems"] for u in units]
    docx = sorted(p for p in tmp_path.rglob("*.docx") if p.name != "汇总分析报告.docx")
    assert len(docx) == len(reports) and all(p.parent == out / "reports" for p in docx), docx
    assert all(len(p.name.encode()) <= 255 and not p.name.startswith(".") for p in docx)


# --------------------------------------------------------------------------- never delete / overwrite what is not ours
def test_foreign_files_in_out_survive(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    write_unit(inbox / "b.xlsx", _invalid(load_seed()))
    foreign = {out / "reports" / "科室笔记.docx": b"not ours", out / "returned" / "旧表.xlsx": b"old",
               out / REPORT: b"a report someone else put here", out / "资料" / ".草稿.docx.part": b"draft"}
    leftover = out / "reports" / ".半个报告.docx.part"  # what a killed run leaves: removed
    for p, data in [*foreign.items(), (leftover, b"half")]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    code, output = _run("run", str(inbox), "-o", str(out))
    assert code == 1, output
    assert {p: p.read_bytes() for p in foreign} == foreign
    assert not leftover.exists()
    res = _results(out)
    ok = next(u for u in res["units"] if u["status"] == "ok")
    assert ok["report"] == REPORT.replace(".docx", "（新）.docx")
    assert f"未覆盖 {REPORT}（不是本工具生成的）" in output
    assert {o["path"] for o in res["outputs"]} == {ok["report"], "returned/b.xlsx", "汇总表.xlsx", "汇总分析报告.docx"}
    for o in res["outputs"]:
        assert _sha(out / o["path"]) == o["sha256"]


def test_out_is_inbox_keeps_inputs_under_returned(tmp_path):
    inbox = tmp_path / "in"
    (inbox / "returned").mkdir(parents=True)
    write_unit(inbox / "a.xlsx", load_seed())
    write_unit(inbox / "b.xlsx", _invalid(load_seed()))
    other = load_seed()
    other.update(unit_name="江华瑶族自治县水利局", unit_code="412055")
    write_unit(inbox / "returned" / "b.xlsx", other)  # a clerk's workbook that happens to sit there
    write_unit(inbox / "returned" / "c.xlsx", other)
    before = {p: _sha(p) for p in (inbox / "returned").iterdir()}
    for _ in range(2):
        code, output = _run("run", str(inbox), "-o", str(inbox))
        assert code == 1, output
        assert {p: _sha(p) for p in before} == before
    units = {u["file"]: u for u in _results(inbox)["units"]}
    assert units["b.xlsx"]["returned"] == "returned/b（新）.xlsx"


def test_hand_edited_report_is_kept_and_the_new_one_written_beside(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    assert _run("run", str(inbox), "-o", str(out))[0] == 0
    edited = b"edited in Word"
    (out / REPORT).write_bytes(edited)
    code, output = _run("run", str(inbox), "-o", str(out))
    assert code == 0
    assert (out / REPORT).read_bytes() == edited
    new = REPORT.replace(".docx", "（新）.docx")
    assert f"未覆盖 {REPORT}（已被修改），新文件写为 {new}" in output
    assert "保留" not in output and "已删除" not in output  # said once, as what it is
    assert _results(out)["units"][0]["report"] == new
    # a third run keeps writing the new one in place (it is ours and unchanged)
    code, output = _run("run", str(inbox), "-o", str(out))
    assert (out / REPORT).read_bytes() == edited and "未覆盖" in output
    assert sorted(p.name for p in (out / "reports").iterdir()) == sorted([Path(REPORT).name, Path(new).name])
    # --overwrite: the officer says so
    code, output = _run("run", str(inbox), "-o", str(out), "--overwrite")
    assert code == 0 and (out / REPORT).read_bytes() != edited
    assert _results(out)["units"][0]["report"] == REPORT


def test_outputs_no_longer_needed_are_removed_and_named_unless_edited(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    data = load_seed()
    write_unit(inbox / "a.xlsx", data)
    other = load_seed()
    other.update(unit_name="江华瑶族自治县水利局", unit_code="412055")
    write_unit(inbox / "b.xlsx", other)
    assert _run("run", str(inbox), "-o", str(out))[0] == 0
    reports = {u["file"]: u["report"] for u in _results(out)["units"]}
    (out / reports["b.xlsx"]).write_bytes(b"edited")
    write_unit(inbox / "a.xlsx", _invalid(data))  # a is now invalid, b too (same edit below)
    write_unit(inbox / "b.xlsx", {**_invalid(other), "unit_name": "江华瑶族自治县水利局", "unit_code": "412055"})
    code, output = _run("run", str(inbox), "-o", str(out))
    assert code == 1
    assert not (out / reports["a.xlsx"]).exists()
    assert (out / reports["b.xlsx"]).read_bytes() == b"edited"
    assert f"已删除上次生成、本次不再需要的文件：{reports['a.xlsx']}" in output
    assert f"保留上次生成后被修改过的文件（本次不再需要，请自行处理）：{reports['b.xlsx']}" in output


def test_legacy_results_without_hashes_trust_named_reports(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    assert _run("run", str(inbox), "-o", str(out))[0] == 0
    res = _results(out)
    del res["outputs"]  # as an older version wrote it: no hashes, and no 汇总分析报告
    (out / "results.json").write_text(json.dumps(res, ensure_ascii=False), encoding="utf-8")
    (out / "汇总分析报告.docx").unlink()
    code, output = _run("run", str(inbox), "-o", str(out))
    assert code == 0 and "未覆盖" not in output and _results(out)["units"][0]["report"] == REPORT


# --------------------------------------------------------------------------- --pdf with a relative -o
def _pdf_run(tmp_path: Path, path_env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": path_env}
    r = subprocess.run([sys.executable, "-m", "toolkit", "run", str(inbox), "-o", "rel/out", "--pdf", "--jobs", "1"],
                       cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    return r, cwd / "rel" / "out"


def test_pdf_failing_soffice_keeps_main_outputs(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "soffice").write_text("#!/bin/sh\nexit 1\n")
    (fake / "soffice").chmod(0o755)
    r, out = _pdf_run(tmp_path, f"{fake}{os.pathsep}{os.environ['PATH']}")
    assert r.returncode == 0, r.stderr
    assert (out / "results.json").is_file() and (out / "汇总表.xlsx").is_file() and (out / REPORT).is_file()
    assert "PDF 生成失败" in r.stderr and "Traceback" not in r.stderr


def test_pdf_without_soffice_keeps_main_outputs(tmp_path):
    r, out = _pdf_run(tmp_path, str(tmp_path / "empty-bin"))
    assert r.returncode == 0, r.stderr
    assert (out / "results.json").is_file() and (out / "汇总表.xlsx").is_file()
    assert "未找到 LibreOffice" in r.stderr


@pytest.mark.skipif(soffice_path() is None, reason="LibreOffice (soffice) 未安装：跳过 PDF 生成测试")
def test_pdf_with_relative_out(tmp_path):
    r, out = _pdf_run(tmp_path, os.environ["PATH"])
    assert r.returncode == 0, r.stderr
    pdf = out / REPORT.replace(".docx", ".pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert {o["path"] for o in _results(out)["outputs"]} >= {REPORT, REPORT.replace(".docx", ".pdf")}


# --------------------------------------------------------------------------- one run at a time on OUT
def test_a_held_lock_stops_a_second_run(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = {"pid": holder.pid, "host": socket.gethostname(), "command": "run", "started": "2024-04-30 09:00:00"}
        (out / ".jixiao.lock").write_text(json.dumps(lock), encoding="utf-8")
        for args in (["run", str(inbox), "-o", str(out)],
                     ["mail", str(out), "--smtp-host", "localhost", "--sender", "a@example.com", "--dry-run"]):
            code, output = _run(*args)
            assert code == 2, output
            assert f"输出文件夹 {out} 正被另一次 jixiao run 使用" in output and f"进程 {holder.pid}" in output
        assert not (out / "results.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder is dead now: its lock is stale and taken over
    code, output = _run("run", str(inbox), "-o", str(out))
    assert code == 0, output
    assert not (out / ".jixiao.lock").exists()


def test_two_concurrent_runs_one_waits_out(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JIXIAO_FAULT_INJECT": "a.xlsx=sleep3"}
    cmd = [sys.executable, "-m", "toolkit", "run", str(inbox), "-o", str(out), "--jobs", "1"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time

    deadline = time.time() + 20
    while not (out / ".jixiao.lock").exists() and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 2 and "正被另一次 jixiao run 使用" in second.stderr
    assert first.wait(60) == 0
    assert _results(out)["units"][0]["status"] == "ok"
