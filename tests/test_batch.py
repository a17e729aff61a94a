"""End-to-end: `jixiao run` / `jixiao check` over folders of real workbooks."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from docx import Document
from helpers import ROOT, distinct_units, load_seed, write_unit

from tests.conftest import default_scheme_samples
from toolkit.batch import normalize_pdf, soffice_path
from toolkit.cli import main

SAMPLES = ROOT / "samples"
REF_FILE = "江华瑶族自治县政务服务中心.xlsx"


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _distinct_units(inbox: Path, n: int, code_prefix: str) -> None:
    distinct_units(inbox, n, code_prefix)


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int, str]:
    inbox = tmp_path_factory.mktemp("inbox")
    for p in default_scheme_samples():
        shutil.copy(p, inbox / p.name)
    out = tmp_path_factory.mktemp("out")
    before = _hashes(inbox)
    code, output = _run("run", str(inbox), "-o", str(out), "--jobs", "2")
    assert _hashes(inbox) == before, "inputs must never be modified"
    return inbox, out, code, output


def test_samples_run_outputs(sample_run):
    inbox, out, code, output = sample_run
    assert code == 1, output  # one sample has errors
    assert "处理 4 份：合格 3 份，退回 1 份，无法读取 0 份；平均分" in output
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["scheme"] == "jianghua-2023"
    units = {u["file"]: u for u in results["units"]}
    ref = units[REF_FILE]
    assert list(ref) == ["file", "status", "unit_name", "unit_code", "fiscal_year", "contact_name", "contact_email",
                         "total", "grade", "levels", "indicators", "problems", "report", "returned", "scheme", "form"]
    assert ref["form"] == "dept"
    assert ref["scheme"] == "jianghua-2023"
    assert ref["status"] == "ok" and ref["total"] == 99.0 and ref["grade"] == "优"
    assert ref["levels"] == {"投入": 10.0, "过程": 49.0, "产出及效率": 40.0}
    assert ref["unit_code"] == "412001" and ref["fiscal_year"] == 2023
    assert ref["contact_email"] == "zwfwzx@example.com"
    staff = next(i for i in ref["indicators"] if i["id"] == "staff_control")
    assert staff == {"id": "staff_control", "path": ["投入", "预算配置", "在职人员控制率"], "points": 5.0,
                     "value": 1.0, "score": 5.0}
    assert next(i for i in ref["indicators"] if i["id"] == "budget_control")["value"] == pytest.approx(0.062)
    assert ref["report"] == "reports/江华瑶族自治县政务服务中心2023年度部门整体支出绩效自评报告.docx"
    assert ref["returned"] is None
    assert all(p["severity"] == "warning" for p in ref["problems"])

    bad = [u for u in results["units"] if u["status"] == "invalid"]
    assert len(bad) == 1
    bad_u = bad[0]
    assert bad_u["total"] is None and bad_u["levels"] is None and bad_u["report"] is None
    codes = {p["code"] for p in bad_u["problems"]}
    assert "budget_identity" in codes and "required" in codes
    ident = next(p for p in bad_u["problems"] if p["code"] == "budget_identity")
    assert ident["sheet"] == "收支情况" and len(ident["cells"]) >= 5 and ident["cell"]
    assert bad_u["returned"] == "returned/" + bad_u["file"]

    # the files exist and hold what they should
    doc = Document(str(out / ref["report"]))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "评价得分为99分" in text
    wb = openpyxl.load_workbook(out / bad_u["returned"])
    assert wb.sheetnames[0] == "问题清单"
    listed = " ".join(str(c.value) for row in wb["问题清单"].iter_rows() for c in row if c.value)
    assert "收支不平衡" in listed
    summary = openpyxl.load_workbook(out / "汇总表.xlsx")
    assert "汇总" in summary.sheetnames
    names = [c.value for c in summary["汇总"]["B"]]
    assert "江华瑶族自治县政务服务中心" in names
    for p in out.rglob("*"):
        assert not p.name.endswith(".part")
    assert not (out / ".staging").exists()


def test_rerun_is_byte_identical_wherever_out_is(sample_run, tmp_path):
    inbox, out, _, _ = sample_run
    other = tmp_path / "另一个 目录" / "结果"
    code, _ = _run("run", str(inbox), "-o", str(other), "--jobs", "1")
    assert code == 1
    assert _hashes(other) == _hashes(out)
    assert str(tmp_path) not in (other / "results.json").read_text(encoding="utf-8")


def test_check_prints_problem_lines_and_writes_nothing(sample_run, tmp_path):
    inbox, _, _, _ = sample_run
    before = _hashes(inbox)
    r = CliRunner().invoke(main, ["check", str(inbox)])
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if "收支不平衡" in ln]
    assert lines and lines[0].split(": ")[1].startswith("收支情况!")
    assert _hashes(inbox) == before
    r = CliRunner().invoke(main, ["check", str(inbox / REF_FILE), "--json"])
    assert r.exit_code == 0
    data = json.loads(r.output[r.output.index("{"):])
    assert data["units"][0]["status"] == "ok"


def test_mixed_folder_valid_invalid_unreadable_and_nested(tmp_path):
    inbox = tmp_path / "收件箱"
    (inbox / "乡镇").mkdir(parents=True)
    data = load_seed()
    write_unit(inbox / "政务.xlsx", data)
    other = load_seed()
    other.update(unit_name="江华瑶族自治县统计局", unit_code="412099", staff_actual=11, spend_basic=100)
    write_unit(inbox / "乡镇" / "统计局.xlsx", other)  # budget identity broken, overstaffed
    (inbox / "坏文件.xlsx").write_bytes(b"not a workbook at all")
    (inbox / "旧格式.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    (inbox / "~$政务.xlsx").write_bytes(b"lock")
    out = tmp_path / "out"
    code, output = _run("run", str(inbox), "-o", str(out))
    assert code == 1, output
    units = {u["file"]: u for u in json.loads((out / "results.json").read_text(encoding="utf-8"))["units"]}
    assert set(units) == {"政务.xlsx", "乡镇/统计局.xlsx", "坏文件.xlsx", "旧格式.xls"}
    assert units["政务.xlsx"]["status"] == "ok"
    assert units["乡镇/统计局.xlsx"]["status"] == "invalid"
    assert units["乡镇/统计局.xlsx"]["returned"] == "returned/乡镇/统计局.xlsx"
    assert (out / "returned" / "乡镇" / "统计局.xlsx").exists()
    for f in ("坏文件.xlsx", "旧格式.xls"):
        u = units[f]
        assert u["status"] == "unreadable" and u["unit_name"] is None and u["total"] is None
        assert u["problems"] and u["problems"][0]["severity"] == "error"
    assert "另存为" in units["旧格式.xls"]["problems"][0]["message"]
    assert "不是有效的 Excel 文件" in units["坏文件.xlsx"]["problems"][0]["message"]


def test_duplicates_are_both_refused(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    data = load_seed()
    write_unit(inbox / "a.xlsx", data)
    write_unit(inbox / "b.xlsx", data)
    out = tmp_path / "out"
    code, _ = _run("run", str(inbox), "-o", str(out))
    assert code == 1
    units = json.loads((out / "results.json").read_text(encoding="utf-8"))["units"]
    assert [u["status"] for u in units] == ["invalid", "invalid"]
    for u, other in zip(units, ("b.xlsx", "a.xlsx"), strict=True):
        dup = [p for p in u["problems"] if p["code"] == "duplicate_unit"]
        assert dup and "重复" in dup[0]["message"] and other in dup[0]["message"]
        assert u["report"] is None and u["returned"] is None  # the officer's to resolve, not the clerk's
    assert not list((out / "reports").glob("*.docx")) if (out / "reports").exists() else True


def test_hostile_unit_name_stays_inside_out(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    data = load_seed()
    data["unit_name"] = '../../..\\CON:*?"<>|=HYPERLINK("http://x")'
    write_unit(inbox / "x.xlsx", data)
    out = tmp_path / "out"
    _run("run", str(inbox), "-o", str(out))
    produced = [p for p in tmp_path.rglob("*.docx") if p.name != "汇总分析报告.docx"]
    assert produced and all(out / "reports" in p.parents for p in produced)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL 与进程组只在 POSIX 系统上可用")
def test_sigkill_leaves_no_half_file_and_rerun_completes(tmp_path):
    inbox = tmp_path / "in"
    _distinct_units(inbox, 40, "5")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "run", str(inbox), "-o", str(out), "--jobs", "1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if (out / ".staging").exists() and len(list((out / ".staging").glob("*.docx"))) >= 5:
            break
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.json").exists()
    # every file under a final name is complete
    for p in out.rglob("*"):
        if p.is_file() and p.suffix in (".docx", ".xlsx") and not p.name.endswith(".part"):
            with zipfile.ZipFile(p) as z:
                assert z.testzip() is None
    code, _ = _run("run", str(inbox), "-o", str(out))
    assert code == 0
    assert not [p for p in out.rglob("*.part")]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert len(results["units"]) == 40 and all(u["status"] == "ok" for u in results["units"])
    clean = tmp_path / "clean"
    _run("run", str(inbox), "-o", str(clean))
    assert _hashes(clean) == _hashes(out)


def test_pdf_without_soffice_says_how_to_install(tmp_path, monkeypatch):
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(tmp_path / "out"), "--pdf"])
    assert r.exit_code == 0
    assert "LibreOffice" in r.output and "apt-get install" in r.output


@pytest.mark.skipif(soffice_path() is None, reason="LibreOffice (soffice) 未安装：跳过 PDF 生成测试")
def test_pdf_with_soffice_is_repeatable(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_unit(inbox / "a.xlsx", load_seed())
    outs = []
    for name in ("o1", "o2"):
        r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(tmp_path / name), "--pdf"])
        assert r.exit_code == 0, r.output
        pdfs = list((tmp_path / name / "reports").glob("*.pdf"))
        assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF")
        outs.append(pdfs[0].read_bytes())
    assert outs[0] == outs[1]


def test_normalize_pdf_keeps_length():
    raw = b"%PDF-1.7\n<< /CreationDate (D:20261129103000+00'00') >>\ntrailer << /ID [ <ABCDEF> <123456> ] >>"
    fixed = normalize_pdf(raw)
    assert len(fixed) == len(raw) and b"2026" not in fixed and b"ABCDEF" not in fixed


def test_usage_errors_exit_2(tmp_path):
    assert _run("run", str(tmp_path / "missing"))[0] == 2
    assert _run("run", str(tmp_path), "--scheme", "no-such-scheme")[0] == 2
    assert _run("check")[0] == 2


def test_unit_store_and_streamed_results_json(tmp_path):
    from toolkit.batch import RunResult
    from toolkit.process import RunRecord
    from toolkit.results import UnitResult
    from toolkit.store import UnitStore

    units = [UnitResult.from_json({"file": f"单位{i}.xlsx", "status": "ok", "total": 90.5 + i, "levels": {"投入": 10.0},
                                   "problems": [{"code": "x", "severity": "warning", "message": "“引号”\n换行"}]})
             for i in range(3)]
    store = UnitStore((u, RunRecord(key=("a", 2023), scheme="jianghua-2023")) for u in units)
    assert len(store) == 3 and store[1].file == "单位1.xlsx" and store[-1].total == 92.5 and store[0] == units[0]
    assert store.record(2) == RunRecord(key=("a", 2023), scheme="jianghua-2023")
    for us in (store, UnitStore()):
        res = RunResult(units=us, scheme_id="jianghua-2023")
        res.write_json(tmp_path / "r.json")
        expected = json.dumps(res.as_dict(), ensure_ascii=False, indent=2) + "\n"
        assert (tmp_path / "r.json").read_text(encoding="utf-8") == expected


def test_out_inside_inbox_does_not_read_its_own_outputs(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    other = load_seed()
    other.update(unit_name="江华瑶族自治县统计局", unit_code="412099", spend_basic=100)
    write_unit(inbox / "a.xlsx", load_seed())
    write_unit(inbox / "b.xlsx", other)  # invalid: its returned workbook lands in inbox/returned
    for _ in range(2):  # the second run must not pick up the first run's outputs
        code, _ = _run("run", str(inbox), "-o", str(inbox))
        assert code == 1
        units = json.loads((inbox / "results.json").read_text(encoding="utf-8"))["units"]
        assert [u["file"] for u in units] == ["a.xlsx", "b.xlsx"]


def test_a_worker_that_dies_marks_only_its_workbook_unreadable(tmp_path, monkeypatch):
    inbox = tmp_path / "in"
    _distinct_units(inbox, 4, "7")
    monkeypatch.setenv("JIXIAO_FAULT_INJECT", "u02.xlsx")  # that worker process dies abruptly
    out = tmp_path / "out"
    code, output = _run("run", str(inbox), "-o", str(out), "--jobs", "2")
    assert code == 1, output
    units = {u["file"]: u for u in json.loads((out / "results.json").read_text(encoding="utf-8"))["units"]}
    assert units["u02.xlsx"]["status"] == "unreadable"
    assert units["u02.xlsx"]["problems"][0]["code"] == "worker_crash"
    assert all(units[f"u{i:02d}.xlsx"]["status"] == "ok" for i in (0, 1, 3))
    assert len(list((out / "reports").glob("*.docx"))) == 3


def test_a_panic_in_the_reader_marks_only_its_workbook(tmp_path, monkeypatch):
    """process_file (what a worker runs) turns a pyo3 PanicException (a BaseException) into unreadable."""
    from toolkit import process
    from toolkit.check import validate

    class PanicLike(BaseException):  # what pyo3 raises for a Rust panic in python-calamine
        pass

    def check_file(path, rel, scheme=None):  # type: ignore[no-untyped-def]
        raise PanicLike("index out of bounds")

    monkeypatch.setattr(validate, "check_file", check_file)
    write_unit(tmp_path / "bad.xlsx", load_seed())
    o = process.process_file(str(tmp_path / "bad.xlsx"), "bad.xlsx", None, str(tmp_path / "out"), 0)
    assert o.unit.status == "unreadable" and o.unit.problems[0].code == "worker_crash"
    assert "PanicLike" in o.unit.problems[0].message
