"""汇总分析报告 and its DataFrames (toolkit.analysis): numbers to the cent, recomputed from results.json
with plain json; year over year matched by code else name; no empty headings; same bytes on rerun;
rendered by LibreOffice to A4 pages carrying every heading (skipped without soffice/poppler)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import readback
from toolkit import analysis as an
from toolkit.results import Results
from toolkit.rules.loader import load_scheme
from toolkit.write.analysis_report import ANALYSIS_FILE, build_analysis, compose, write_analysis
from toolkit.write.report.bar_chart import BAR_CELLS, bar_length
from toolkit.write.report.narrative import Para

SCHEME = load_scheme("jianghua-2023")
HEADINGS = SCHEME.report["analysis"]["headings"]
LEVELS = [(lv.name, [(n2.name, [leaf for leaf in n2.walk() if leaf.is_leaf]) for n2 in lv.children])
          for lv in SCHEME.levels]


def _unit(name: str, code: str | None, scores: dict[str, float], status: str = "ok") -> dict[str, Any]:
    """A results.json unit: every leaf at full points unless ``scores`` (leaf id → score) says otherwise."""
    if status != "ok":
        return {"file": f"{name}.xlsx", "status": status, "unit_name": name, "unit_code": code, "total": None,
                "grade": None, "levels": None, "indicators": None, "problems": []}
    inds, levels = [], {}
    for l1, kids in LEVELS:
        lv = Decimal(0)
        for l2, leaves in kids:
            for leaf in leaves:
                s = scores.get(leaf.id, float(leaf.points))
                lv += Decimal(str(s))
                inds.append({"id": leaf.id, "path": [l1, l2, leaf.name], "points": float(leaf.points),
                             "value": None, "score": s})
        levels[l1] = float(lv)
    total = float(sum(Decimal(str(v)) for v in levels.values()))
    return {"file": f"{name}.xlsx", "status": "ok", "unit_name": name, "unit_code": code, "fiscal_year": 2024,
            "total": total,
            "grade": SCHEME.grade_for(Decimal(str(total))), "levels": levels, "indicators": inds, "problems": []}


LEAF = [leaf.id for _, kids in LEVELS for _, leaves in kids for leaf in leaves]
# literal cases: a tie for 2nd, a 差, a 良 on the boundary 80, one returned, one unreadable
THIS_YEAR = {"scheme": "jianghua-2023", "units": [
    _unit("甲单位", "101", {}),
    _unit("乙单位", "102", {LEAF[0]: 0.0, LEAF[2]: 2.5}),
    _unit("丙单位", None, {LEAF[0]: 0.0, LEAF[2]: 2.5}),
    _unit("丁单位", "104", {LEAF[2]: 0.0, LEAF[3]: 0.0, LEAF[4]: 0.0, LEAF[5]: 0.0}),
    _unit("戊单位", "105", {LEAF[6]: 0.0, LEAF[7]: 0.0, LEAF[8]: 0.0, LEAF[9]: 0.0, LEAF[10]: 0.0}),
    _unit("己单位", None, {}, status="invalid"),
    _unit("庚单位", None, {}, status="unreadable"),
], "missing": [{"unit_name": "辛单位"}, {"unit_name": "壬单位"}]}
LAST_YEAR = {"scheme": "jianghua-2023", "units": [
    _unit("甲单位（旧名）", "101", {LEAF[0]: 0.0}),        # matched by code, improved
    _unit("丙单位", None, {}),                             # matched by name, declined
    _unit("丁单位", "104", {LEAF[2]: 0.0, LEAF[3]: 0.0, LEAF[4]: 0.0, LEAF[5]: 0.0}),  # unchanged
    _unit("癸单位", "109", {}),                             # gone this year
    _unit("戊单位", "105", {}),                             # 优 → 中
]}


def _results(d: dict[str, Any]) -> Results:
    return Results.from_json(json.loads(json.dumps(d)))


def _c(x: Decimal) -> str:
    return str(x.quantize(Decimal("0.01"), ROUND_HALF_UP))


def _independent(d: dict[str, Any]) -> dict[str, Any]:
    """The report's numbers straight from results.json: plain json, Decimal, no pandas."""
    ok = [u for u in d["units"] if u["status"] == "ok"]
    totals = [Decimal(str(u["total"])) for u in ok]
    out: dict[str, Any] = {"average": _c(sum(totals) / len(totals)), "highest": _c(max(totals)),
                           "lowest": _c(min(totals)), "levels": {}}
    for name in ok[0]["levels"]:
        vals = [Decimal(str(u["levels"][name])) for u in ok]
        pts = sum(Decimal(str(i["points"])) for i in ok[0]["indicators"] if i["path"][0] == name)
        out["levels"][name] = (_c(sum(vals) / len(vals)), _c(100 * sum(vals) / len(vals) / pts))
    return out


def _text(data: bytes) -> str:
    return readback.text(data)


def test_units_and_indicators_frames() -> None:
    r = _results(THIS_YEAR)
    u = an.units(r)
    assert list(u["unit_name"]) == ["甲单位", "乙单位", "丙单位", "丁单位", "戊单位", "己单位", "庚单位"]
    assert list(u.columns[-3:]) == [lv for lv, _ in LEVELS]
    ind = an.indicators(r)
    assert len(ind) == 5 * len(LEAF)  # ok units only
    assert set(ind["share"].dropna()) <= {0.0, 0.5, 1.0}


@pytest.mark.parametrize(("grade", "count"), [("优", 3), ("良", 1), ("中", 1), ("差", 0)])
def test_grade_distribution(grade: str, count: int) -> None:
    dist = an.grade_distribution(_results(THIS_YEAR), [g.name for g in SCHEME.grades]).set_index("grade")
    expected = {u["grade"] for u in THIS_YEAR["units"]}
    assert dist.loc[grade, "count"] == count, expected


def test_ranking_ties_share_a_rank() -> None:
    r = an.ranking(_results(THIS_YEAR))
    assert list(r["rank"]) == [1, 2, 2, 4, 5]
    assert list(r["unit_name"])[:3] == ["甲单位", "丙单位", "乙单位"]  # ties: by name


def test_year_over_year_matches_code_then_name() -> None:
    r = an.ranking(_results(THIS_YEAR), _results(LAST_YEAR)).set_index("unit_name")
    assert r.loc["甲单位", "previous_total"] == 95.0 and r.loc["甲单位", "change"] == 5.0
    assert r.loc["丙单位", "change"] == -7.5
    assert r.loc["丁单位", "change"] == 0.0
    assert set(r[r["previous_total"].isna()].index) == {"乙单位"}
    assert r.loc["丙单位", "rank_change"] == -1  # 1st of three at 100 last year → 2nd
    assert r.loc["甲单位", "rank_change"] == 3  # 4th → 1st
    yoy = an.year_over_year(_results(THIS_YEAR), _results(LAST_YEAR))
    assert yoy == {"matched": 4, "improved": 1, "declined": 2, "unchanged": 1, "average_change": -10.625}
    moves = an.grade_moves(_results(THIS_YEAR), _results(LAST_YEAR))
    assert moves.to_dict("records") == [{"previous_grade": "优", "grade": "中", "count": 1, "units": ["戊单位"]}]


def test_weakest_level2_is_lowest_mean_share() -> None:
    weak = an.weakest_level2(_results(THIS_YEAR), n=10)
    shares = list(weak["share"])
    assert shares == sorted(shares) and all(s < 1 for s in shares)
    lv2 = an.level2(_results(THIS_YEAR))
    assert set(weak["level2"]) == set(lv2[lv2["below"] > 0]["level2"])


@pytest.mark.parametrize(("texts", "expected"), [
    ({}, []),
    ({"甲单位": ["预算编制不够科学"], "乙单位": ["年中追加较多", "固定资产账实不符"]}, [("预算编制", 2), ("资产管理", 1)]),
    ({"甲单位": ["信息公开不及时"]}, [("信息公开", 1)]),
    ({"甲单位": ["无关的话"]}, []),
])
def test_problem_themes(texts: dict[str, list[str]], expected: list[tuple[str, int]]) -> None:
    df = an.problem_themes(texts, SCHEME.report["analysis"]["themes"])
    assert list(zip(df["theme"], df["count"], strict=True)) == expected


def test_report_numbers_agree_with_frames_and_plain_json() -> None:
    data = build_analysis(_results(THIS_YEAR), SCHEME, _results(LAST_YEAR))
    text, readback_rows = _text(data), "\n".join(readback.rows(data))
    ind = _independent(THIS_YEAR)
    assert f"平均得分{ind['average']}分，最高{ind['highest']}分" in text
    assert f"最低{ind['lowest']}分" in text
    rank = an.ranking(_results(THIS_YEAR))
    assert str(an.cents(rank["total"].mean())) == ind["average"]
    for row in rank.itertuples():  # 附表: every unit's rank and total, to the cent
        assert f"| {row.rank} | {row.unit_name} | {an.cents(row.total)} | {row.grade} |" in readback_rows
    lv = an.level_averages(_results(THIS_YEAR)).set_index("level")
    for name, (avg, rate) in ind["levels"].items():
        assert str(an.cents(lv.loc[name, "average"])) == avg
        assert f"{name}指标" in text and f"平均得分{avg}分，得分率{rate}%" in text
    assert "2024年度部门整体支出绩效自评" in text and "附表：2024年度" in text
    assert "本次共收到自评表7份，审核合格5份，退回修改1份，无法读取1份" in text
    assert "未报送2家：辛单位、壬单位" in text
    assert "可比单位4家，得分提高的1家，下降的2家，持平的1家，平均得分下降10.63分" in text  # 10.625 half up
    assert "优→中：1家（戊单位）" in text
    assert "中（1家）：压减一定比例的下年度预算，督促整改。涉及单位：戊单位" in text
    assert "良（1家）：合理安排下年度预算。涉及单位：丁单位" in text  # 80 is 良 (boundary)


def test_no_empty_headings() -> None:
    only_returned = {"scheme": "jianghua-2023", "units": [_unit("己单位", None, {}, status="invalid")]}
    blocks = compose(_results(only_returned), SCHEME)
    kinds = [b.text for b in blocks if isinstance(b, Para) and b.kind in ("h1", "h2")]
    assert kinds == [HEADINGS["basic"]]
    full = [b for b in compose(_results(THIS_YEAR), SCHEME, _results(LAST_YEAR)) if isinstance(b, Para)]
    for i, b in enumerate(full):
        if b.kind in ("h1", "h2"):
            assert i + 1 < len(full) and full[i + 1].kind in ("body", "h2"), b.text
    no_prev = [b.text for b in compose(_results(THIS_YEAR), SCHEME) if isinstance(b, Para)]
    assert HEADINGS["previous"] not in no_prev and HEADINGS["themes"] not in no_prev


def test_same_input_same_bytes(tmp_path: Path) -> None:
    a = build_analysis(_results(THIS_YEAR), SCHEME, _results(LAST_YEAR), {"甲单位": ["预算编制"]})
    assert write_analysis(_results(THIS_YEAR), SCHEME, tmp_path, _results(LAST_YEAR), {"甲单位": ["预算编制"]}) \
        == ANALYSIS_FILE
    assert (tmp_path / ANALYSIS_FILE).read_bytes() == a


@pytest.mark.parametrize(("value", "largest", "cells"), [(0, 5, 0), (5, 5, BAR_CELLS), (1, 100, 1), (1, 2, 10), (0, 0, 0)])
def test_bar_length(value: float, largest: float, cells: int) -> None:
    assert bar_length(value, largest) == cells


def test_every_builtin_scheme_has_the_wording() -> None:
    for sid in ("jianghua-2023", "mof-2020"):
        w = load_scheme(sid).report["analysis"]
        assert set(w["application"]) == {g.name for g in load_scheme(sid).grades}


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.slow
@pytest.mark.skipif(SOFFICE is None or not shutil.which("pdftotext"), reason="LibreOffice or poppler missing")
def test_renders_to_a4_with_every_heading(tmp_path: Path) -> None:
    write_analysis(_results(THIS_YEAR), SCHEME, tmp_path, _results(LAST_YEAR), {"甲单位": ["预算编制不够科学"]})
    subprocess.run([str(SOFFICE), f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
                    "--norestore", "--convert-to", "pdf", "--outdir", str(tmp_path), str(tmp_path / ANALYSIS_FILE)],
                   check=True, capture_output=True, timeout=120)
    pdf = tmp_path / "汇总分析报告.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+", info)
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                             check=True).stdout)
    for h in HEADINGS.values():
        assert h in text, h
    assert "附表：" in text


def test_a_real_run_writes_the_analysis_with_the_clerks_problem_themes(sample_run: Path) -> None:
    # `jixiao run` writes 汇总分析报告.docx itself, records it among the outputs, and groups the
    # clerks' 存在的问题 rows (carried from the workers, not through results.json) by theme.
    from tests import readback

    doc = sample_run / "汇总分析报告.docx"
    rows = readback.rows(doc.read_bytes())
    text = "\n".join(rows)
    assert "四、主要问题" in text and "（一）单位反映的问题" in text
    assert "绩效目标方面：1家单位（江华瑶族自治县政务服务中心）" in text
    outputs = json.loads((sample_run / "results.json").read_text(encoding="utf-8"))["outputs"]
    assert "汇总分析报告.docx" in {o["path"] for o in outputs}


def test_the_analysis_agrees_with_the_summary_workbook_to_the_cent(sample_run: Path) -> None:
    # The same run's 汇总表 (统计 sheet, openpyxl) and 汇总分析报告 (.docx text) state the same numbers.
    import re

    import openpyxl

    from tests import readback

    ws = openpyxl.load_workbook(sample_run / "汇总表.xlsx")["统计"]
    stats = {row[0]: row[1:] for row in ws.iter_rows(values_only=True) if row and row[0] is not None}
    text = "\n".join(readback.rows((sample_run / "汇总分析报告.docx").read_bytes()))
    for label in ("平均分", "最高分", "最低分"):
        assert f"{stats[label][0]:.2f}" in text, label
    for level in ("投入", "过程", "产出及效率"):
        points, mean, share = stats[level][:3]
        m = re.search(rf"{level}指标（{points:.2f} ?分）平均得分 ?([\d.]+) ?分，得分率 ?([\d.]+)%", text)
        assert m, level
        assert m.group(1) == f"{mean:.2f}" and m.group(2) == f"{share * 100:.2f}", level
    grades = {row[0]: row[2] for row in ws.iter_rows(values_only=True) if row and row[0] in ("优", "良", "中", "差")}
    for grade, n in grades.items():
        assert f"评价等级为“{grade}”的{n}家" in text or n == 0, grade


def test_a_mixed_inbox_keeps_other_schemes_out_of_the_level_averages(tmp_path: Path) -> None:
    # The samples mix jianghua-2023 with chongqing-2021 and hunan-prefecture-2018 units: the run's
    # scheme is jianghua-2023, and its 一级 averages (汇总表 and 汇总分析报告 alike) use only its units.
    import openpyxl
    from click.testing import CliRunner

    from tests import readback
    from toolkit.cli import main

    samples = Path(__file__).resolve().parent.parent / "samples"  # all of them, as the README's first command runs
    CliRunner().invoke(main, ["run", str(samples), "-o", str(tmp_path / "out"), "--jobs", "2"])
    units = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["units"]
    assert len({u["scheme"] for u in units if u["status"] == "ok" and u.get("form") == "dept"}) == 3
    assert {u["scheme"] for u in units if u.get("form") == "project"} == {"mof-project-2020", "sichuan-project-2022"}
    ws = openpyxl.load_workbook(tmp_path / "out" / "汇总表.xlsx")["统计"]
    stats = {row[0]: row[1:] for row in ws.iter_rows(values_only=True) if row and row[0] is not None}
    ours = [u for u in units if u["status"] == "ok" and u["scheme"] == "jianghua-2023"]
    mean = sum(u["levels"]["投入"] for u in ours) / len(ours)
    assert f"{stats['投入'][1]:.2f}" == f"{mean:.2f}"
    text = "\n".join(readback.rows((tmp_path / "out" / "汇总分析报告.docx").read_bytes()))
    assert f"投入指标（10.00分）平均得分{mean:.2f}分" in text and "指标指标" not in text
