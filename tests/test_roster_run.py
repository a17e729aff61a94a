"""`run --roster` / `--prefer newest` / `--previous` (spec 07): the officer's season, end to end, with
the whole console text asserted exactly; and rosters as people keep them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import load_seed, write_unit

from toolkit.cli import main
from toolkit.read.roster import RosterError, read_roster, region_of

NAMES = ["教育局", "财政局", "统计局", "林业局", "水利局", "民政局", "司法局", "审计局", "商务局", "文旅局"]
PREFIX = "江华瑶族自治县"


def _roster_rows() -> list[list[str]]:
    return [["单位名称", "单位编码", "联系人", "联系电话", "联系邮箱"]] + [
        [PREFIX + n, f"5{i:05d}", f"联系人{i}", f"0746-12345{i:02d}", f"u{i}@example.com"] for i, n in enumerate(NAMES)]


def _write_xlsx(path: Path, rows: list[list[str]], title: str | None = None) -> Path:
    wb = openpyxl.Workbook()
    if title:
        wb.active.append([title])
        wb.active.append([])
    for r in rows:
        wb.active.append(r)
    wb.save(path)
    return path


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10-unit roster; 7 units submitted, 教育局 twice, 水利局's file broken, 林业局's budget unbalanced,
    统计局 left its e-mail blank; and a .zip."""
    root = tmp_path_factory.mktemp("season")
    inbox = root / "收件箱"
    inbox.mkdir()
    seed = load_seed()
    for i, n in enumerate(NAMES[:7]):
        if n == "水利局":
            (inbox / f"{PREFIX}{n}.xlsx").write_bytes(b"not a workbook")
            continue
        data = dict(seed, unit_name=PREFIX + n, unit_code=f"5{i:05d}")
        if n == "统计局":
            data["contact_email"] = None
        if n == "林业局":  # the budget does not balance: one error, a returned workbook
            data["spend_basic"] = 100
        write_unit(inbox / f"{PREFIX}{n}.xlsx", data)
    write_unit(inbox / f"{PREFIX}教育局（改）.xlsx", dict(seed, unit_name=PREFIX + "教育局", unit_code="500000"))
    os.utime(inbox / f"{PREFIX}教育局.xlsx", (1_700_000_000, 1_700_000_000))
    (inbox / "打包.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    _write_xlsx(root / "名册.xlsx", _roster_rows(), title="2023年度部门整体支出绩效自评单位名册")
    return root


def _run(*args: str, root: Path) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), prog_name="jixiao")
    return r.exit_code, r.stdout.replace(str(root), "<R>"), r.stderr.replace(str(root), "<R>")


ROSTER_STDOUT = f"""\
处理 8 份：合格 4 份，退回 3 份，无法读取 1 份；平均分 99.00
重复报送：{PREFIX}教育局.xlsx 与 {PREFIX}教育局（改）.xlsx 是同一单位同一年度，请删除过期的一份后重新运行
重复报送：{PREFIX}教育局（改）.xlsx 与 {PREFIX}教育局.xlsx 是同一单位同一年度，请删除过期的一份后重新运行
退回：{PREFIX}林业局.xlsx（1 个错误）
无法读取：{PREFIX}水利局.xlsx（{{unreadable}}）
未报送：{PREFIX}审计局（联系人7 u7@example.com）
未报送：{PREFIX}商务局（联系人8 u8@example.com）
未报送：{PREFIX}文旅局（联系人9 u9@example.com）
结果在 <R>/out/：报告 4 份，退回 1 份，汇总表.xlsx，汇总分析报告.docx
"""


def test_roster_run_console_and_results(season: Path) -> None:
    code, out, err = _run("run", str(season / "收件箱"), "-o", str(season / "out"), "--roster",
                          str(season / "名册.xlsx"), "--jobs", "2", root=season)
    results = json.loads((season / "out" / "results.json").read_text(encoding="utf-8"))
    unreadable = next(u for u in results["units"] if u["status"] == "unreadable")["problems"][0]["message"]
    assert (code, err) == (1, "跳过 打包.zip：压缩包，请先解压\n")
    assert out == ROSTER_STDOUT.format(unreadable=unreadable)
    assert results["missing"] == [
        {"unit_name": PREFIX + n, "unit_code": f"5{i:05d}", "contact_name": f"联系人{i}",
         "contact_email": f"u{i}@example.com"} for i, n in enumerate(NAMES) if i >= 7]
    stats = next(u for u in results["units"] if u["unit_name"] == PREFIX + "统计局")
    assert stats["contact_email"] == "u2@example.com"  # the roster's e-mail fills the blank
    wb = openpyxl.load_workbook(season / "out" / "汇总表.xlsx", read_only=True)
    rows = list(wb["未报送"].iter_rows(values_only=True))
    assert rows[0][0] == "未报送单位（3 个）"
    assert [r[1] for r in rows[2:]] == [PREFIX + n for n in NAMES[7:]]


def test_prefer_newest_processes_the_newer_copy(season: Path, tmp_path: Path) -> None:
    code, out, _ = _run("run", str(season / "收件箱"), "-o", str(tmp_path / "o"), "--roster",
                        str(season / "名册.xlsx"), "--prefer", "newest", root=season)
    lines = out.splitlines()
    assert lines[0] == "处理 8 份：合格 5 份，退回 2 份，无法读取 1 份；平均分 99.00"
    assert lines[1:3] == [f"未处理：{PREFIX}教育局.xlsx（较新的一份是 {PREFIX}教育局（改）.xlsx）",
                          f"按较新的一份处理：{PREFIX}教育局（改）.xlsx（另有 {PREFIX}教育局.xlsx 未处理）"]
    results = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    older = next(u for u in results["units"] if u["file"] == f"{PREFIX}教育局.xlsx")
    codes = [p["code"] for p in older["problems"]]
    assert "duplicate_older" in codes and "duplicate_unit" not in codes and older["report"] is None


def test_not_in_roster_is_a_warning(season: Path, tmp_path: Path) -> None:
    roster = _write_xlsx(tmp_path / "小名册.csv.xlsx", [["单位名称", "单位编码"], [PREFIX + "财政局", "500001"]])
    inbox = tmp_path / "in"
    inbox.mkdir()
    for n in ("财政局", "统计局"):
        (inbox / f"{n}.xlsx").write_bytes((season / "收件箱" / f"{PREFIX}{n}.xlsx").read_bytes())
    code, out, _ = _run("run", str(inbox), "-o", str(tmp_path / "o"), "--roster", str(roster), root=tmp_path)
    assert code == 0
    assert f"不在名册中：统计局.xlsx（{PREFIX}统计局）" in out.splitlines()
    results = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    assert results["missing"] == []
    stats = next(u for u in results["units"] if u["file"] == "统计局.xlsx")
    assert stats["status"] == "ok" and "not_in_roster" in [p["code"] for p in stats["problems"]]


def test_previous_adds_previous_total_and_the_sheet(season: Path, tmp_path: Path) -> None:
    last = {"scheme": "jianghua-2023", "units": [
        {"file": "a.xlsx", "status": "ok", "unit_name": PREFIX + "财政局", "unit_code": "500001", "total": 90.5},
        {"file": "b.xlsx", "status": "ok", "unit_name": PREFIX + "统计局", "unit_code": "x", "total": 99.5},
    ]}
    (tmp_path / "last.json").write_text(json.dumps(last, ensure_ascii=False), encoding="utf-8")
    inbox = tmp_path / "in"
    inbox.mkdir()
    for n in ("财政局", "统计局", "民政局"):
        (inbox / f"{n}.xlsx").write_bytes((season / "收件箱" / f"{PREFIX}{n}.xlsx").read_bytes())
    code, _, _ = _run("run", str(inbox), "-o", str(tmp_path / "o"), "--previous", str(tmp_path / "last.json"),
                      root=tmp_path)
    assert code == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))
    prev = {u["file"]: u["previous_total"] for u in results["units"]}
    assert prev == {"财政局.xlsx": 90.5, "统计局.xlsx": 99.5, "民政局.xlsx": None}  # code first, then name
    wb = openpyxl.load_workbook(tmp_path / "o" / "汇总表.xlsx", read_only=True)
    rows = {r[1]: r for r in list(wb["比上年"].iter_rows(values_only=True))[2:]}
    assert rows[PREFIX + "财政局"][3:] == (99, 90.5, 8.5, 2, 1)
    assert rows[PREFIX + "统计局"][3:] == (99, 99.5, -0.5, 1, 0)
    assert rows[PREFIX + "民政局"][4:] == (None, None, None, None)


# --------------------------------------------------------------------------- inbox edge cases
def test_empty_inbox_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "打包.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    assert _run("run", str(tmp_path / "in"), "-o", str(tmp_path / "o"), root=tmp_path) == (
        2, "", "跳过 打包.zip：压缩包，请先解压\n没有找到填报表（.xlsx）：<R>/in\n")
    assert not (tmp_path / "o").exists()


def test_run_accepts_single_files_and_debug_anywhere(season: Path, tmp_path: Path) -> None:
    one = season / "收件箱" / f"{PREFIX}财政局.xlsx"
    code, out, _ = _run("run", str(one), "-o", str(tmp_path / "o"), "--debug", root=season)
    assert code == 0 and out.splitlines()[0].startswith("处理 1 份：合格 1 份")


# --------------------------------------------------------------------------- rosters as people keep them
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_roster(encoding: str, tmp_path: Path) -> None:
    text = "单位名册\n单位名称,单位编码,联系电话\n江华瑶族自治县教育局,500000,0746-1\n江华瑶族自治县林业局,,\n"
    (tmp_path / "r.csv").write_bytes(text.encode(encoding))
    assert read_roster(tmp_path / "r.csv") == [
        {"unit_name": "江华瑶族自治县教育局", "unit_code": "500000", "contact_phone": "0746-1", "region": "江华瑶族自治县"},
        {"unit_name": "江华瑶族自治县林业局", "unit_code": "", "contact_phone": "", "region": "江华瑶族自治县"},
    ]


def test_xlsx_roster_with_title_rows_and_region_column(tmp_path: Path) -> None:
    path = _write_xlsx(tmp_path / "r.xlsx", [["单位名称", "所属地区"], ["教育局", "某县"]], title="名册")
    assert read_roster(path) == [{"unit_name": "教育局", "region": "某县"}]


def test_roster_without_header_names_the_column(tmp_path: Path) -> None:
    path = _write_xlsx(tmp_path / "r.xlsx", [["名称"], ["教育局"]])
    with pytest.raises(RosterError, match="缺少“单位名称”列"):
        read_roster(path)


@pytest.mark.parametrize(("names", "region"), [
    (["江华瑶族自治县教育局", "江华瑶族自治县林业局"], "江华瑶族自治县"),
    (["江华瑶族自治县林业局", "江华瑶族自治县林草局"], "江华瑶族自治县"),  # a prefix past the county is cut back
    (["永州市江华县教育局", "永州市冷水滩区教育局"], "永州市"),
    (["教育局", "林业局"], ""),
    (["江华瑶族自治县教育局"], ""),  # one name: no common prefix to speak of
])
def test_region_from_common_prefix(names: list[str], region: str) -> None:
    assert region_of(names) == region


def test_prefer_newest_goes_by_report_date_before_file_time(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    data = load_seed()
    data["report_date"] = "2024-05-20"  # the later 报告日期 …
    write_unit(inbox / "b.xlsx", data)
    data["report_date"] = "2024-04-30"
    write_unit(inbox / "a.xlsx", data)
    os.utime(inbox / "b.xlsx", (1_000_000_000, 1_000_000_000))  # … in the file with the older time
    code, out, _ = _run("run", str(inbox), "-o", str(tmp_path / "o"), "--prefer", "newest", root=tmp_path)
    results = {u["file"]: u for u in json.loads((tmp_path / "o" / "results.json").read_text("utf-8"))["units"]}
    assert "duplicate_older" in [p["code"] for p in results["a.xlsx"]["problems"]]
    assert results["b.xlsx"]["status"] == "ok" and results["b.xlsx"]["report"]
