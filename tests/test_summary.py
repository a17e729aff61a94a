"""汇总表.xlsx: built from results.json-shaped dicts, reopened with openpyxl and checked."""

from __future__ import annotations

import json
import re
import sys
import time
import tracemalloc
import weakref
import zipfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, overload

import openpyxl
import pytest

from toolkit.results import UnitResult, units_of
from toolkit.rules.loader import load_scheme
from toolkit.rules.model import Scheme
from toolkit.write.summary import build_summary_bytes, write_summary
from toolkit.write.summary_data import rank_units, status_label
from toolkit.write.summary_sheets import SHEETS

HOSTILE = '=HYPERLINK("http://evil","x")'


@pytest.fixture(scope="module")
def jianghua() -> Scheme:
    return load_scheme("jianghua-2023")


@pytest.fixture(scope="module")
def mof() -> Scheme:
    return load_scheme("mof-2020")


def ok_unit(scheme: Scheme, name: str, code: Any, total: float, grade: str,
            levels: dict[str, float] | None = None, problems: list[dict[str, Any]] | None = None,
            file: str | None = None) -> dict[str, Any]:
    """A valid unit; leaf scores are full points except the first leaf, which absorbs the deficit."""
    leaves = scheme.leaves()
    deficit = float(scheme.total) - total
    indicators = []
    for i, leaf in enumerate(leaves):
        score = float(leaf.points) - (deficit if i == 0 else 0)
        indicators.append({"id": leaf.id, "path": list(leaf.path), "points": float(leaf.points),
                           "value": None, "score": score})
    if levels is None:
        levels = {lv.name: float(lv.points) for lv in scheme.levels}
        levels[scheme.levels[0].name] -= deficit
    file = file or f"{name}.xlsx"
    return {
        "file": file, "status": "ok", "unit_name": name, "unit_code": code, "fiscal_year": 2023,
        "contact_name": "李华", "contact_email": "a@example.com",
        "total": total, "grade": grade, "levels": levels, "indicators": indicators,
        "problems": problems or [],
        "report": f"reports/{name}2023年度部门整体支出绩效自评报告.docx", "returned": None,
    }


def bad_unit(name: str, file: str, problems: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "file": file, "status": "invalid", "unit_name": name, "unit_code": "419999", "fiscal_year": 2023,
        "contact_name": None, "contact_email": None,
        "total": None, "grade": None, "levels": None, "indicators": None,
        "problems": problems, "report": None, "returned": "returned/" + file,
    }


def unreadable_unit(file: str) -> dict[str, Any]:
    return {
        "file": file, "status": "unreadable", "unit_name": None, "unit_code": None, "fiscal_year": None,
        "contact_name": None, "contact_email": None,
        "total": None, "grade": None, "levels": None, "indicators": None,
        "problems": [{"severity": "error", "code": "not_xlsx", "sheet": None, "cell": None, "cells": [],
                      "field": None, "message": "无法读取：不是有效的 Excel 文件（文件为空）"}],
        "report": None, "returned": None,
    }


def sample_results(scheme: Scheme) -> tuple[UnitResult, ...]:
    warn = {"severity": "warning", "code": "perf_target_low", "sheet": "绩效指标", "cell": "F5",
            "cells": ["绩效指标!F5"], "field": None, "message": "指标值设定可能偏低"}
    err_budget = {"severity": "error", "code": "budget_identity", "sheet": "收支情况", "cell": "C7",
                  "cells": ["收支情况!C5", "收支情况!C7", "收支情况!C8"], "field": "spend_basic",
                  "message": "收支不平衡"}
    err_required = {"severity": "error", "code": "required", "sheet": "基本信息", "cell": "C3",
                    "cells": ["基本信息!C3"], "field": "unit_name", "message": "“联系人”未填写"}
    units = [
        unreadable_unit("坏文件.xlsx"),
        ok_unit(scheme, "乙单位", "412002", 95.0, "优"),
        bad_unit("丙单位", "子目录/丙单位 #1.xlsx", [warn, err_budget, err_required]),
        ok_unit(scheme, "甲单位", "412001", 99.0, "优", problems=[warn]),
        ok_unit(scheme, "丁单位", "412000", 95.0, "优"),
        ok_unit(scheme, HOSTILE, "+1", 72.5, "中", file="-1.xlsx"),
        ok_unit(scheme, "@SUM(A1)", "412010", 55.25, "差"),
        ok_unit(scheme, "戊单位", "412005", 85.0, "良"),
    ]
    return units_of(units)


@pytest.fixture(scope="module")
def built(jianghua: Scheme, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("out") / "汇总表.xlsx"
    write_summary(sample_results(jianghua), jianghua, path)
    return path


def rows_of(ws: Any, header_row: int) -> tuple[list[Any], list[list[Any]]]:
    values = [list(r) for r in ws.iter_rows(min_row=header_row, values_only=True)]
    return values[0], values[1:]


# --------------------------------------------------------------------------- tests
def test_sheets_in_order(built: Path) -> None:
    wb = openpyxl.load_workbook(built)
    assert wb.sheetnames == list(SHEETS) == ["汇总", "得分明细", "问题清单", "统计"]
    assert not list(built.parent.glob("*.part"))


def test_summary_rows_ranked_with_ties(built: Path, jianghua: Scheme) -> None:
    ws = openpyxl.load_workbook(built)["汇总"]
    assert ws["A1"].value == "2023年度部门整体支出绩效自评汇总表"
    assert "共 8 份：合格 6 份，退回修改 1 份，无法读取 1 份" in ws["A2"].value
    header, rows = rows_of(ws, 3)
    assert header == ["序号", "单位", "编码", "年度", "状态", "总分", "等级", "排名",
                      "投入（10分）", "过程（50分）", "产出及效率（40分）",
                      "错误数", "提示数", "报告", "文件"]
    got = [(r[1], r[4], r[5], r[6], r[7]) for r in rows]
    assert got == [
        ("甲单位", "合格", 99.0, "优", 1),
        ("丁单位", "合格", 95.0, "优", 2),  # tie: code 412000 before 412002
        ("乙单位", "合格", 95.0, "优", 2),
        ("戊单位", "合格", 85.0, "良", 4),
        (HOSTILE, "合格", 72.5, "中", 5),
        ("@SUM(A1)", "合格", 55.25, "差", 6),
        ("丙单位", "退回修改", None, None, None),
        (None, "无法读取", None, None, None),
    ]
    assert [r[0] for r in rows] == list(range(1, 9))
    jia = rows[0]
    assert jia[2] == "412001" and jia[3] == 2023
    assert jia[8:11] == [9.0, 50.0, 40.0]
    assert jia[11:13] == [0, 1]  # errors, warnings
    assert rows[6][11:13] == [2, 1]
    assert rows[7][14] == "坏文件.xlsx"
    assert ws.cell(4, 6).number_format == "0.00"
    assert ws.freeze_panes == "C4"
    assert ws.auto_filter.ref == "A3:O11"
    assert ws.print_title_rows == "$3:$3"
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToHeight == 0  # 1 page wide


def test_links_are_relative(built: Path) -> None:
    ws = openpyxl.load_workbook(built)["汇总"]
    jia, bing, bad = ws["N4"], ws["N10"], ws["N11"]
    assert jia.value == "打开报告"
    assert jia.hyperlink.target.replace("\\", "/") == "reports/甲单位2023年度部门整体支出绩效自评报告.docx"
    assert bing.value == "打开退回表"
    # spaces and # are escaped so the whole name stays the file name, not an anchor
    assert bing.hyperlink.target.replace("\\", "/") == "returned/子目录/丙单位%20%231.xlsx"
    assert bad.value is None and bad.hyperlink is None
    rels = zipfile.ZipFile(built).read("xl/worksheets/_rels/sheet1.xml.rels").decode()
    assert "file:///" not in rels and str(built.parent) not in rels


def test_formula_injection_stays_text(built: Path) -> None:
    with zipfile.ZipFile(built) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    # constant_memory mode: strings are inline in the sheet, not in xl/sharedStrings.xml
    for s in ("=HYPERLINK(&quot;http://evil&quot;,&quot;x&quot;)", "@SUM(A1)", "+1", "-1.xlsx"):
        assert f">{s}<" in sheet or f'>{s.replace("&quot;", chr(34))}<' in sheet
    ws = openpyxl.load_workbook(built)["汇总"]
    hostile = [r for r in ws.iter_rows(min_row=4) if r[1].value == HOSTILE][0]
    assert hostile[1].data_type == "s" and hostile[2].value == "+1" and hostile[2].data_type == "s"


def test_detail_sheet(built: Path, jianghua: Scheme) -> None:
    ws = openpyxl.load_workbook(built)["得分明细"]
    leaves = jianghua.leaves()
    groups = [c.value for c in ws[2]][5:]
    names = [c.value for c in ws[3]][5:]
    assert groups[0] == "投入 / 预算配置" and groups[1] is None  # merged over both 预算配置 leaves
    assert names == [f"{lf.name}（{lf.points.normalize():f}分）" for lf in leaves]
    assert names[0] == "在职人员控制率（5分）"
    assert [c.value for c in ws[3]][:5] == [None] * 5 and ws["B2"].value == "单位"
    rows = [list(r) for r in ws.iter_rows(min_row=4, values_only=True)]
    assert [r[1] for r in rows] == ["甲单位", "丁单位", "乙单位", "戊单位", HOSTILE, "@SUM(A1)"]
    jia = rows[0]
    assert jia[3] == 99.0 and jia[5] == 4.0 and jia[6] == 5.0
    assert sum(jia[5:]) == pytest.approx(99.0)


def test_problem_list(built: Path) -> None:
    ws = openpyxl.load_workbook(built)["问题清单"]
    header, rows = rows_of(ws, 2)
    assert header == ["序号", "单位", "文件", "严重程度", "工作表", "单元格", "涉及单元格", "问题代码", "说明"]
    assert len(rows) == 5
    by_file = [(r[2], r[3], r[4], r[5], r[7]) for r in rows]
    assert by_file == [
        ("甲单位.xlsx", "提示", "绩效指标", "F5", "perf_target_low"),
        ("子目录/丙单位 #1.xlsx", "错误", "收支情况", "C7", "budget_identity"),  # errors first
        ("子目录/丙单位 #1.xlsx", "错误", "基本信息", "C3", "required"),
        ("子目录/丙单位 #1.xlsx", "提示", "绩效指标", "F5", "perf_target_low"),
        ("坏文件.xlsx", "错误", None, None, "not_xlsx"),
    ]
    assert rows[1][6] == "收支情况!C5、收支情况!C7、收支情况!C8" and rows[1][8] == "收支不平衡"
    assert rows[2][6] is None
    assert ws.auto_filter.ref == "A2:I7"


def _stats(ws: Any) -> dict[str, list[Any]]:
    """Section title → its rows (header included), read from the 统计 sheet."""
    out: dict[str, list[Any]] = {}
    cur: list[Any] | None = None
    for r in ws.iter_rows(min_row=2, max_col=4, values_only=True):
        if r[0] and re.match(r"^[一二三四五六]、", str(r[0])):
            cur = out.setdefault(str(r[0]), [])
        elif r[0] is not None and cur is not None:
            cur.append(list(r))
    return out


def test_statistics_and_chart(built: Path) -> None:
    st = _stats(openpyxl.load_workbook(built)["统计"])
    status = {r[0]: r[1] for r in st["一、审核结果"][1:]}
    assert status == {"合格": 6, "退回修改": 1, "无法读取": 1, "合计": 8}
    grades = {r[0]: (r[1], r[2]) for r in st["二、等级分布（合格单位）"][1:]}
    assert grades == {"优": ("≥90", 3), "良": ("80≤总分<90", 1), "中": ("60≤总分<80", 1), "差": ("<60", 1)}
    totals = {r[0]: r[1] for r in st["三、总分统计（合格单位）"][1:]}
    scores = [99, 95, 95, 85, 72.5, 55.25]
    assert totals["单位数"] == 6
    assert sum(scores) / 6 == 83.625 and totals["平均分"] == 83.63  # rounded half-up
    assert totals["中位数"] == 90 and totals["最高分"] == 99 and totals["最低分"] == 55.25
    levels = {r[0]: r[1:4] for r in st["四、一级指标平均得分（合格单位）"][1:]}
    assert levels["过程"] == [50, 50, 1]
    bands = {r[0]: r[1] for r in st["五、总分分数段分布（合格单位）"][1:]}
    assert bands == {"60分以下": 1, "60～70分": 0, "70～80分": 1, "80～90分": 1, "90分及以上": 3}
    with zipfile.ZipFile(built) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert "<c:barChart>" in chart and '<c:barDir val="col"/>' in chart
    assert "合格单位总分分布" in chart and "分数段" in chart and "单位数" in chart
    assert "统计!$A$" in chart and "统计!$B$" in chart


def test_deterministic_bytes(jianghua: Scheme, tmp_path: Path) -> None:
    res = sample_results(jianghua)
    a = build_summary_bytes(res, jianghua)
    assert a == build_summary_bytes(sample_results(jianghua), jianghua)
    write_summary(res, jianghua, tmp_path / "x" / "汇总表.xlsx")
    assert (tmp_path / "x" / "汇总表.xlsx").read_bytes() == a
    core = zipfile.ZipFile(tmp_path / "x" / "汇总表.xlsx").read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core
    assert str(tmp_path) not in a.decode("latin-1")


@pytest.mark.parametrize("scheme_id", ["jianghua-2023", "mof-2020"])
def test_empty_results(scheme_id: str, tmp_path: Path) -> None:
    scheme = load_scheme(scheme_id)
    path = tmp_path / "汇总表.xlsx"
    write_summary([], scheme, path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == list(SHEETS)
    assert wb["汇总"]["A3"].value == "序号" and wb["汇总"].max_row == 3
    assert wb["问题清单"]["I2"].value == "说明"
    st = _stats(wb["统计"])
    assert {r[0]: r[1] for r in st["一、审核结果"][1:]}["合计"] == 0
    assert {r[0]: r[1] for r in st["三、总分统计（合格单位）"][1:]}["平均分"] is None
    assert "xl/charts/chart1.xml" in zipfile.ZipFile(path).namelist()


def test_mof_scheme_columns(mof: Scheme) -> None:
    import io

    res = units_of([ok_unit(mof, "甲单位", "1", 98.0, "优")])
    wb = openpyxl.load_workbook(io.BytesIO(build_summary_bytes(res, mof)))
    header = [c.value for c in wb["汇总"][3]]
    assert header[8:12] == ["预算执行（10分）", "产出指标（50分）", "效益指标（30分）", "满意度指标（10分）"]
    detail = wb["得分明细"]
    assert [c.value for c in detail[2]][5:] == ["预算执行 / 预算执行率", "产出指标", "效益指标", "满意度指标"]
    assert [c.value for c in detail[3]][5:] == ["预算执行率（10分）", "产出指标（50分）", "效益指标（30分）",
                                                "服务对象满意度（10分）"]
    assert [c.value for c in detail[4]][3:9] == [98.0, "优", 8.0, 50.0, 30.0, 10.0]


def test_rank_units_and_labels() -> None:
    units = [{"file": f, "status": "ok", "unit_code": c, "unit_name": f, "total": t}
             for f, c, t in [("a", "3", 80.0), ("b", "2", 90.0), ("c", "1", 80.0), ("d", "4", 79.999999999)]]
    units.append({"file": "e", "status": "ok", "total": None})
    ranked = rank_units(units_of(units))
    assert [(r.file, r.rank) for r in ranked] == [("b", 1), ("c", 2), ("a", 2), ("d", 2), ("e", None)]
    assert [r.index for r in ranked] == [1, 2, 0, 3, 4]  # light records: the unit is units[index]
    assert ranked[0].total == Decimal("90.00") and ranked[3].total == Decimal("80.00")
    assert [status_label(s) for s in ("ok", "invalid", "unreadable", "x")] == ["合格", "退回修改", "无法读取", "x"]


def test_odd_values_do_not_break_the_workbook(jianghua: Scheme) -> None:
    import io

    long_name = "很长的单位名称" * 40
    u = ok_unit(jianghua, "控制\x07字符\x00单位", 412001, 90.0, "优")  # a numeric code, control characters
    u["report"] = f"reports/{long_name}.docx"  # longer than Excel's 255-character link limit
    u["problems"] = [{"severity": "warning", "code": "x", "message": None}]  # fields missing
    odd = UnitResult(file="odd.xlsx", status="weird")  # type: ignore[arg-type]
    wb = openpyxl.load_workbook(io.BytesIO(build_summary_bytes([odd, *units_of([u])], jianghua)))
    rows = [list(r) for r in wb["汇总"].iter_rows(min_row=4, values_only=True)]
    assert rows[0][2] == "412001" and rows[0][7] == 1
    assert rows[0][13] == f"reports/{long_name}.docx" and wb["汇总"]["N4"].hyperlink is None
    assert rows[1][4] == "weird" and rows[1][14] == "odd.xlsx"
    assert wb["问题清单"]["D3"].value == "提示"


def test_rich_string_lookalike_stays_plain_text(jianghua: Scheme) -> None:
    """XlsxWriter copies "<r>…</r>" strings into the XML as they are; they must stay text."""
    import io

    name = "<r>&x </r>"
    u = ok_unit(jianghua, name, "<r>1</r>", 90.0, "优", problems=[
        {"severity": "error", "code": "x", "sheet": "<r>s</r>", "cell": "A1", "cells": [], "message": "<r></r>"}])
    wb = openpyxl.load_workbook(io.BytesIO(build_summary_bytes(units_of([u]), jianghua)))
    row = [c.value for c in wb["汇总"][4]]
    assert row[1] == name and row[2] == "<r>1</r>"
    assert wb["汇总"]["B4"].font.name == "宋体"
    assert [c.value for c in wb["得分明细"][4]][1] == name
    assert [c.value for c in wb["问题清单"][3]][1:9] == [name, u["file"], "错误", "<r>s</r>", "A1", None, "x",
                                                      "<r></r>"]


# --------------------------------------------------------------------------- streaming
def many_units(scheme: Scheme, n: int) -> list[dict[str, Any]]:
    """``n`` units like a province's: mostly valid with spread totals, some invalid, a few unreadable."""
    warn = {"severity": "warning", "code": "perf_target_low", "sheet": "绩效指标", "cell": "F5",
            "cells": ["绩效指标!F5"], "field": None, "message": "指标值设定可能偏低"}
    err = {"severity": "error", "code": "budget_identity", "sheet": "收支情况", "cell": "C7",
           "cells": ["收支情况!C5", "收支情况!C7", "收支情况!C8"], "field": "spend_basic", "message": "收支不平衡"}
    grades = [(g.name, g.min) for g in scheme.grades]
    units: list[dict[str, Any]] = []
    for i in range(n):
        if i % 20 == 7:
            units.append(bad_unit(f"第{i}号单位", f"县{i % 9}/第{i}号单位.xlsx", [warn, err]))
        elif i % 50 == 13:
            units.append(unreadable_unit(f"县{i % 9}/坏{i}.xlsx"))
        else:
            total = 50 + (i * 37 % 5000) / 100  # 50.00 … 99.99
            grade = next(name for name, low in grades if total >= low)
            units.append(ok_unit(scheme, f"第{i}号单位", f"{412000 + i}", total, grade,
                                 problems=[warn] if i % 11 == 0 else None, file=f"县{i % 9}/第{i}号单位.xlsx"))
    return units


class LazyUnits(Sequence[UnitResult]):
    """Units kept as JSON bytes and decoded to a fresh UnitResult on every access, like the batch's store.

    Counts how many decoded units are alive at once.
    """

    def __init__(self, units: list[dict[str, Any]]):
        self._blobs = [json.dumps(u, ensure_ascii=False).encode() for u in units]
        self.alive = self.peak = self.fetches = 0

    def __len__(self) -> int:
        return len(self._blobs)

    @overload
    def __getitem__(self, i: int) -> UnitResult: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[UnitResult]: ...
    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            raise TypeError("no slices: one unit at a time")
        u = UnitResult.from_json(json.loads(self._blobs[i]))
        self.fetches += 1
        self.alive += 1
        self.peak = max(self.peak, self.alive)
        weakref.finalize(u, self._gone)
        return u

    def _gone(self) -> None:
        self.alive -= 1


def test_lazy_units_are_fetched_one_at_a_time(jianghua: Scheme, tmp_path: Path) -> None:
    units = many_units(jianghua, 500)
    lazy = LazyUnits(units)
    path = tmp_path / "汇总表.xlsx"
    write_summary(lazy, jianghua, path)
    assert lazy.peak <= 2, f"{lazy.peak} decoded units alive at once"
    assert lazy.alive == 0
    # one pass for the records and statistics, then one fetch per row written
    n_ok = sum(u["status"] == "ok" for u in units)
    n_problems = sum(bool(u["problems"]) for u in units)
    assert lazy.fetches == 2 * len(units) + n_ok + n_problems
    # the same workbook as from a list of dicts
    assert path.read_bytes() == build_summary_bytes(units_of(units), jianghua)
    wb = openpyxl.load_workbook(path)
    assert wb["汇总"].max_row == 3 + 500
    assert [r[7] for r in wb["汇总"].iter_rows(min_row=4, max_row=6, values_only=True)] == [1, 2, 3]



def test_failure_leaves_no_files(jianghua: Scheme, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    import toolkit.write.summary_sheets as summary_sheets

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def boom(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(summary_sheets, "problems_sheet", boom)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        write_summary(sample_results(jianghua), jianghua, out / "汇总表.xlsx")
    assert list(out.iterdir()) == [] and list(scratch.iterdir()) == []

# --------------------------------------------------------------------------- measurement (not a test)
def measure(n: int, scheme_id: str = "jianghua-2023") -> dict[str, float]:
    """Peak traced memory (MB) and time of write_summary for ``n`` generated units.

    ``python -m tests.test_summary 1000 10000`` from the project root prints it; nothing asserts it.
    """
    import tempfile

    scheme = load_scheme(scheme_id)
    units = many_units(scheme, n)
    out: dict[str, float] = {}
    for kind, seq in (("list", units_of(units)), ("lazy", LazyUnits(units))):
        with tempfile.TemporaryDirectory() as d:
            tracemalloc.start()
            t = time.perf_counter()
            write_summary(seq, scheme, Path(d) / "汇总表.xlsx")
            out[f"{kind}_s"] = time.perf_counter() - t
            out[f"{kind}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            out["size_mb"] = (Path(d) / "汇总表.xlsx").stat().st_size / 2**20
    return out


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["1000", "10000"]:
        m = measure(int(arg))
        print(f"{int(arg):>6} units: peak {m['list_peak_mb']:.2f} MB (list of dicts), {m['lazy_peak_mb']:.2f} MB "
              f"(lazy JSON store); {m['list_s']:.1f} s; file {m['size_mb']:.2f} MB")
