"""The live 自评得分 sheet (issue 17): LibreOffice's recalculation equals the Python scorer leaf by leaf.

Workbooks: every sample (dept and project form), every built-in scheme (filled with a sample's
values), tests/schemes/live-types.yaml (every rule type incl. per_item, deductions, lookup, bonus and
penalty, total_cap, zero-denominator outcomes, a stepped cap and all indicator_table options) and a
generated set of GENERATED workbooks per dept scheme and GENERATED_PROJECT per project scheme
(tests/live_gen.py). All are recalculated by one soffice call.
"""

from __future__ import annotations

import os
import random
import re
import zipfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from live_gen import (
    NA_CASES,
    PROJECT_NA_CASES,
    PROJECT_ROW_CASES,
    ROW_CASES,
    SOFFICE,
    generate,
    generate_project,
    recalculate,
)

from toolkit import fields as F
from toolkit.check import validate
from toolkit.forms import live_sheet
from toolkit.forms.template import build_workbook_bytes
from toolkit.process import process_file
from toolkit.rules.excel import EXCEL_2010, NA_TEXT, functions_in
from toolkit.rules.loader import builtin_ids, load_scheme
from toolkit.rules.model import Node, Scheme
from toolkit.rules.types.adjust import AdjustedScorecard

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SCHEMES = ROOT / "tests" / "schemes"
GENERATED = 34  # per scheme; 6 schemes → 204 workbooks
GENERATED_PROJECT = 32  # per project scheme; 2 schemes → 64 workbooks
EXCEL_MAX_FORMULA = 8192  # characters (Excel 2010's limit)

# Every leaf of every built-in and test scheme has a live formula; what a formula cannot read is a
# cell's content, shown as 提交后由财政局计算 (NA_TEXT) by the guards (toolkit/rules/excel.py):
# numbers typed as text in single cells, values validation refuses (negative, out of range,
# non-integer counts, percents typed as 95), choices spelled another way, and on 绩效指标: numbers
# with units or signs typed as text (≥3000, 95%, 3,000), direction aliases (>=, 不低于), 定性
# words the scheme does not list, % rows holding fractions (0.95 beside 98).
NOT_EXPRESSIBLE: dict[str, list[tuple[str, str]]] = {
    "sum-rule": [("投入 › 预算配置 › 在职人员控制率", "“sum(staff_items.n)”不是填报表中的单项（如列表合计），公式无法引用")],
}

pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")


def _sample_args() -> dict[str, tuple[Scheme, dict[str, Any], str]]:
    import make_samples  # scripts/ (tests.live_gen puts it on sys.path)

    out = {}
    for src in sorted((SAMPLES / "data").glob("*.yaml")):
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
        scheme = load_scheme(data.get("scheme") or "jianghua-2023")
        name = data.get("sample_file") or f"{data['unit_name']}.xlsx"
        out[src.stem] = (scheme, make_samples.workbook_args(data), name)
    return out


def _spelling_rows() -> list[dict[str, Any]]:
    return [{"level1": "产出指标", "level2": "数量指标", "name": f"写法{i}", "target": target, "actual": actual,
             "unit": unit, "points": 10, "self_score": self_score}
            for i, (target, actual, unit, self_score) in enumerate(PROJECT_ROW_CASES, start=1)]


@dataclass
class Case:
    scheme: Scheme
    source: Path  # the workbook as written (what the tool reads)
    live: Path  # the same after LibreOffice's recalculation
    kind: str  # sample | builtin | generated


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    tmp = tmp_path_factory.mktemp("live")
    src_dir = tmp / "in"
    src_dir.mkdir()
    made: list[tuple[Scheme, Path, str]] = []
    samples = _sample_args()
    for scheme, _args, name in samples.values():
        p = src_dir / f"sample-{name}"
        p.write_bytes((SAMPLES / name).read_bytes())
        made.append((scheme, p, "sample"))
    seed_args = samples["seed-unit"][1]
    bases = {sid: seed_args for sid in builtin_ids("dept")}
    bases["chongqing-2021"] = samples["chongqing"][1]
    bases["hunan-prefecture-2018"] = samples["hunan-prefecture"][1]
    bases["mof-project-2020"] = samples["project-fire"][1]
    bases["sichuan-project-2022"] = samples["project-sichuan"][1]
    assert set(builtin_ids("project")) == {"mof-project-2020", "sichuan-project-2022"}
    schemes = {sid: load_scheme(sid) for sid in bases}
    for path in ("live-types.yaml", "county-demo.yaml"):
        sc = load_scheme(str(SCHEMES / path))
        schemes[sc.id], bases[sc.id] = sc, seed_args
    jobs: list[tuple[str, dict[str, Any], Path]] = []  # (scheme ref, build_workbook_bytes args, path)
    for sid, sc in schemes.items():
        p = src_dir / f"builtin-{sid}.xlsx"
        jobs.append((sc.ref, bases[sid], p))
        made.append((sc, p, "builtin"))
        rng = random.Random(f"live-{sid}")
        gen, count = (generate_project, GENERATED_PROJECT) if sc.form == "project" else (generate, GENERATED)
        for i in range(count):
            p = src_dir / f"gen-{sid}-{i:03d}.xlsx"
            jobs.append((sc.ref, gen(sc, bases[sid], rng), p))
            made.append((sc, p, "generated"))
    # one project workbook holding every PROJECT_ROW_CASES spelling, one row each
    sc = load_scheme("mof-project-2020")
    p = src_dir / "spellings-mof-project-2020.xlsx"
    jobs.append((sc.ref, {**bases[sc.id], "tables": {"project_indicators": _spelling_rows()}}, p))
    made.append((sc, p, "spellings"))
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as ex:  # the writer is pure: build in parallel
        list(ex.map(_build, jobs, chunksize=8))
    recalculate([p for _, p, _ in made], tmp / "out", tmp / "profile")
    return [Case(sc, p, tmp / "out" / p.name, kind) for sc, p, kind in made]


def _build(job: tuple[str, dict[str, Any], Path]) -> None:
    ref, args, path = job
    path.write_bytes(build_workbook_bytes(load_scheme(ref), **args))


def _nodes(scheme: Scheme) -> list[Node]:
    """Nodes in the order the 自评得分 sheet lists them."""
    return [n for lv in scheme.levels for n in lv.walk()]


def _live_column(path: Path) -> list[Any]:
    wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    ws = wb[live_sheet.SHEET]
    return [row[4] for row in ws.iter_rows(min_row=live_sheet.FIRST + 1, max_col=5, values_only=True)]


def _compare(case: Case) -> tuple[list[str], Counter[str], Counter[str]]:
    """(mismatches, numeric comparisons per rule type, NA_TEXT leaves per rule type)."""
    chk = validate.check_file(case.source, case.source.name, case.scheme)
    assert chk.submission is not None, chk.problems
    from toolkit.rules import scoring

    card = scoring.score(case.scheme, chk.submission)
    py = {n.id: n for lv in card.levels for n in lv.walk()}
    live = _live_column(case.live)
    nodes = _nodes(case.scheme)
    bad: list[str] = []
    compared: Counter[str] = Counter()
    na: Counter[str] = Counter()

    def same(label: str, got: Any, want: Decimal, rule: str) -> None:
        if got == NA_TEXT:
            na[rule] += 1
        elif not isinstance(got, (int, float)) or abs(Decimal(repr(got)) - want) > Decimal("0.000001"):
            bad.append(f"{case.source.name} {label}: live {got!r}, Python {want}")
        else:
            compared[rule] += 1

    for i, n in enumerate(nodes):
        same(" › ".join(n.path), live[i], py[n.id].score, n.rule.type if n.rule else "subtotal")
    r = len(nodes)
    same("指标得分合计", live[r], card.base if isinstance(card, AdjustedScorecard) else card.total, "base")
    r += 1
    if isinstance(card, AdjustedScorecard):
        for a in card.adjustments:
            same(a.name, live[r], a.score, f"{a.facts['kind']}:{a.rule}")
            r += 1
    same("总分", live[r], card.total, "total")
    if live[r] != NA_TEXT and live[r + 1] != card.grade:
        bad.append(f"{case.source.name} 等级: live {live[r + 1]!r}, Python {card.grade}")
    return bad, compared, na


def test_live_scores_equal_python_leaf_by_leaf(cases: list[Case]) -> None:
    assert sum(c.kind == "generated" for c in cases) >= 200
    bad: list[str] = []
    compared: Counter[str] = Counter()
    na: Counter[str] = Counter()
    na_by_kind: Counter[str] = Counter()
    for case in cases:
        b, c, n = _compare(case)
        bad += b
        compared += c
        na += n
        na_by_kind[case.kind] += sum(n.values())
    assert not bad, "\n".join(bad[:30])
    # samples and built-in fills are read by every formula: no 提交后由财政局计算 anywhere
    assert na_by_kind["sample"] == 0 and na_by_kind["builtin"] == 0, na
    # every rule type was compared many times, and the guards stayed the exception
    for rule in ("ratio_cap", "ratio_floor", "bands", "proportional", "not_applicable_full", "checklist",
                 "tiers", "first_given", "indicator_table", "per_item", "deductions", "bonus:lookup",
                 "penalty:per_item", "total"):
        assert compared[rule] >= 20, (rule, compared, na)
    assert sum(na.values()) < sum(compared.values()) / 4, (compared, na)


def test_reference_unit_live_sheet(cases: list[Case]) -> None:
    """A clerk's view: the reference unit's 自评得分 shows 99 优 and 投入 10 / 过程 49 / 产出及效率 40."""
    case = next(c for c in cases if c.source.name == "sample-江华瑶族自治县政务服务中心.xlsx")
    wb = openpyxl.load_workbook(case.live, data_only=True)
    rows = {r[0]: r[4] for r in wb[live_sheet.SHEET].iter_rows(min_row=4, values_only=True) if r[0]}
    assert (rows["投入"], rows["过程"], rows["产出及效率"], rows["总分"], rows["等级"]) == (10, 49, 40, 99, "优")
    names = wb.defined_names
    assert "live_total" in names and "live_grade" in names


def test_formulas_use_only_excel_2010_functions() -> None:
    """Every formula of every built-in dept template and the test schemes' templates: Excel 2010 only."""
    books = {p.name: p.read_bytes() for p in (ROOT / "workbook_templates").glob("*.xlsx")}
    for path in SCHEMES.glob("*.yaml"):
        sc = load_scheme(str(path))
        if sc.form == "dept":
            books[path.name] = build_workbook_bytes(sc)
    assert len(books) >= 6
    assert {"项目支出绩效自评表.xlsx", "项目支出绩效自评表_sichuan-project-2022.xlsx"} <= set(books)
    seen: set[str] = set()
    for name, data in books.items():
        with zipfile.ZipFile(__import__("io").BytesIO(data)) as zf:
            for part in zf.namelist():
                if not part.startswith("xl/worksheets/sheet"):
                    continue
                xml = zf.read(part).decode("utf-8")
                for f in re.findall(r"<f>(.*?)</f>", xml, flags=re.S):
                    assert len(f) < EXCEL_MAX_FORMULA, (name, part, len(f))
                    fns = functions_in(f.replace("&quot;", '"').replace("&amp;", "&"))
                    assert fns <= EXCEL_2010, (name, fns - EXCEL_2010)
                    seen |= fns
    assert {"SUMIF", "ROUND", "IFERROR", "VALUE", "COUNTIF"} <= seen


def test_not_expressible_list_is_documented(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The rules without a live formula, printed with their reasons: none in the built-in and test
    schemes; a rule over a list table's total (sum(表名.列名)) is one."""
    found: dict[str, list[tuple[str, str]]] = {}
    for sid in (*builtin_ids("dept"), *builtin_ids("project")):
        found[sid] = live_sheet.not_expressible(load_scheme(sid))
    for path in sorted(SCHEMES.glob("*.yaml")):
        sc = load_scheme(str(path))
        found[sc.id] = live_sheet.not_expressible(sc)
    p = tmp_path / "sum-rule.yaml"
    p.write_text("extends: jianghua-2023\nid: sum-rule\ntables:\n  - name: staff_items\n    sheet: 收支情况\n"
                 "    title: 人员明细\n    columns:\n      - {key: n, label: 人数, kind: int}\n"
                 "indicators:\n  - id: staff_control\n    rule: {type: ratio_cap, value: sum(staff_items.n) / 10,"
                 " cap: 100, deduct: 0.5}\n", encoding="utf-8")
    found["sum-rule"] = live_sheet.not_expressible(load_scheme(str(p)))
    for sid, items in found.items():
        for path, reason in items:
            print(f"{sid}: {path}: {reason}")
    assert {k: v for k, v in found.items() if v} == NOT_EXPRESSIBLE
    assert "sum-rule" in capsys.readouterr().out


def _with_cached_total(src: Path, dst: Path, value: str) -> None:
    """Copy a recalculated workbook, changing the cached value of its live_total cell."""
    with zipfile.ZipFile(src) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    wb_xml = parts["xl/workbook.xml"].decode("utf-8")
    ref = re.search(r'<definedName[^>]*name="live_total"[^>]*>([^<]+)</definedName>', wb_xml)
    assert ref is not None
    cell = ref.group(1).split("!")[1].replace("$", "")
    sheets = re.findall(r'<sheet name="([^"]+)"[^>]*r:id="(rId\d+)"', wb_xml)
    rels = parts["xl/_rels/workbook.xml.rels"].decode("utf-8")
    rid = next(r for name, r in sheets if name == live_sheet.SHEET)
    target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
    assert target is not None
    part = "xl/" + (target.group(1) or target.group(2)).lstrip("/").removeprefix("xl/")
    xml = parts[part].decode("utf-8")
    new, n = re.subn(rf'(<c r="{cell}"[^>]*>.*?<v>)[^<]*(</v>)', rf"\g<1>{value}\g<2>", xml, count=1, flags=re.S)
    assert n == 1
    parts[part] = new.encode("utf-8")
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def test_live_total_mismatch_is_a_warning(cases: list[Case], tmp_path: Path) -> None:
    case = next(c for c in cases if c.source.name == "sample-江华瑶族自治县政务服务中心.xlsx")
    same = process_file(str(case.live), case.live.name, None, None, 0).unit
    assert same.status == "ok" and not [p for p in same.problems if p.code == "live_total_mismatch"]
    edited = tmp_path / "edited.xlsx"
    _with_cached_total(case.live, edited, "95.5")
    unit = process_file(str(edited), edited.name, None, None, 0).unit
    found = [p for p in unit.problems if p.code == "live_total_mismatch"]
    assert unit.status == "ok" and unit.total == 99  # a warning only: the Python total stands
    assert len(found) == 1 and found[0].severity == "warning"
    assert "95.5" in found[0].message and "99" in found[0].message and found[0].sheet == live_sheet.SHEET
    assert found[0].message.startswith("《自评得分》表中的总分 95.5 分（自评得分!")
    # a written workbook nobody recalculated caches no number: nothing to compare, no warning
    plain = process_file(str(case.source), case.source.name, None, None, 0).unit
    assert not [p for p in plain.problems if p.code == "live_total_mismatch"]


def test_generated_rows_cover_every_direction() -> None:
    directions = Counter(c[0] for c in ROW_CASES[:-NA_CASES])
    assert {d: directions[d] >= 3 for d in ("≥", "≤", "=", "区间", "定性")} == dict.fromkeys(("≥", "≤", "=", "区间", "定性"), True)


def test_rows_typed_below_the_table_turn_the_indicator_leaves_to_na(tmp_path: Path) -> None:
    """A row typed under the template's 绩效指标 table has no live row score: the 产出/效益 leaves (and the
    total) say 提交后由财政局计算 rather than a sum without it."""
    wb = openpyxl.load_workbook(SAMPLES / "江华瑶族自治县政务服务中心.xlsx")
    wb["绩效指标"]["C40"] = "表格下方另填的指标"
    src = tmp_path / "below.xlsx"
    wb.save(src)
    recalculate([src], tmp_path / "out", tmp_path / "profile", jobs=1)
    rows = {r[2] or r[1] or r[0]: r[4] for r in openpyxl.load_workbook(tmp_path / "out" / "below.xlsx", data_only=True)[
        live_sheet.SHEET].iter_rows(min_row=4, values_only=True) if any(r[:3])}
    assert (rows["产出指标"], rows["效益指标"], rows["总分"]) == (NA_TEXT, NA_TEXT, NA_TEXT)
    assert rows["投入"] == 10 and rows["社会公众或服务对象满意度"] == 10


# --------------------------------------------------------------------------- the project form
def _project_live_rows(case: Case) -> list[Any]:
    """The live 得分（自动计算） column beside project_indicators, data rows in order."""
    from toolkit.forms.project_layout import ROW_TABLE, TABLE, TABLE_COL0

    ws = openpyxl.load_workbook(case.live, data_only=True)[F.SHEET_PROJECT]
    col = TABLE_COL0 + len(TABLE.columns) + 1
    assert ws.cell(ROW_TABLE + 1, col).value == live_sheet.LIVE_HEADER
    return [ws.cell(ROW_TABLE + 2 + i, col).value for i in range(100)]  # ≥ any test workbook's rows


def test_project_rows_and_footer_equal_python(cases: list[Case]) -> None:
    """Every project workbook: each row's live score is the Python RowScore (or 提交后由财政局计算),
    the footer's 自评得分 / 自评等级 are live_total / live_grade, the fund block's 得分 is the
    预算执行率 leaf; NA rows: none in the samples, a minority of the generated ones."""
    from toolkit.rules import scoring

    project = [c for c in cases if c.scheme.form == "project"]
    kinds = Counter(c.kind for c in project)
    assert kinds["sample"] == 4 and kinds["builtin"] == 2 and kinds["generated"] >= 60, kinds
    bad: list[str] = []
    rows: Counter[str] = Counter()
    na: Counter[str] = Counter()
    directions: Counter[str] = Counter()
    for case in project:
        chk = validate.check_file(case.source, case.source.name, case.scheme)
        assert chk.submission is not None, chk.problems
        card = scoring.score(case.scheme, chk.submission)
        py = {rs.row.index: rs for leaf in card.leaves() for rs in leaf.rows}
        live = _project_live_rows(case)
        typed = len(chk.submission.tables.get(F.PROJECT_INDICATORS.name, ()))
        for i, got in enumerate(live[:typed], start=1):
            want = py[i].score if i in py else Decimal(0)  # a row of no group scores nothing
            directions[str(py[i].row.values.get("direction")) if i in py else "-"] += 1
            if got == NA_TEXT:
                na[case.kind] += 1
            elif not isinstance(got, (int, float)) or abs(Decimal(repr(got)) - want) > Decimal("0.000001"):
                bad.append(f"{case.source.name} 第{i}行: live {got!r}, Python {want}")
            else:
                rows[case.kind] += 1
        assert all(v in (None, "") for v in live[typed:]), (case.source.name, live[typed:])
        wb = openpyxl.load_workbook(case.live, data_only=True)
        ws = wb[F.SHEET_PROJECT]
        foot = next(r for r in range(20, 200) if ws.cell(r, 1).value == "总分")
        total, grade = ws.cell(foot, 5).value, ws.cell(foot, 9).value
        if total != NA_TEXT:
            if abs(Decimal(repr(total)) - card.total) > Decimal("0.000001") or grade != card.grade:
                bad.append(f"{case.source.name} 页脚: live {total!r} {grade!r}, Python {card.total} {card.grade}")
        else:
            na["footer"] += 1
        ex = card.node("execution")
        got = ws["J8"].value
        if got != NA_TEXT and got not in ("", None) and abs(Decimal(repr(got)) - ex.score) > Decimal("0.000001"):
            bad.append(f"{case.source.name} 预算执行率得分: live {got!r}, Python {ex.score}")
    assert not bad, "\n".join(bad[:30])
    print(f"project rows compared {dict(rows)}, NA {dict(na)}, directions {dict(directions)}")
    assert na["sample"] == 0 and na["builtin"] == 0 and rows["sample"] >= 20
    assert na["generated"] < rows["generated"] / 5, (na, rows)  # the guards stay the exception
    assert all(directions[d] >= 20 for d in ("≥", "≤", "=", "区间", "定性")), directions


def test_project_footer_shows_the_live_total(cases: list[Case]) -> None:
    """A clerk's view of the 森林防火 sample: 自评得分 95.65 优 in the footer, 9.42 in the fund block."""
    case = next(c for c in cases if c.source.name == "sample-江华瑶族自治县林业局_森林防火项目.xlsx")
    wb = openpyxl.load_workbook(case.live, data_only=True)
    ws = wb[F.SHEET_PROJECT]
    foot = next(r for r in range(20, 200) if ws.cell(r, 1).value == "总分")
    assert (ws.cell(foot, 4).value, ws.cell(foot, 5).value, ws.cell(foot, 9).value) == ("自评得分", 95.65, "优")
    assert ws["J8"].value == 9.42
    assert wb.sheetnames == [F.SHEET_HELP, F.SHEET_PROJECT, live_sheet.SHEET, F.SHEET_META]
    rows = {r[0]: r[4] for r in wb[live_sheet.SHEET].iter_rows(min_row=4, values_only=True) if r[0]}
    assert (rows["预算执行率"], rows["产出指标"], rows["效益指标"], rows["满意度指标"], rows["总分"]) == (
        9.42, 47.73, 28.5, 10, 95.65)
    checks = {r[0]: r[3] for r in wb[live_sheet.SHEET].iter_rows(min_row=4, values_only=True) if r[0]}
    assert [v for k, v in checks.items() if "各来源之和" in k] == ["平衡", "平衡", "平衡"]
    assert checks["绩效指标“产出指标”分值合计"] == "相符：50分"


def test_project_generated_rows_cover_every_spelling() -> None:
    readable = PROJECT_ROW_CASES[:-PROJECT_NA_CASES]
    assert sum(isinstance(c[0], str) and c[0][:1] in "≥>" for c in readable) >= 8
    assert sum(isinstance(c[0], str) and c[0][:1] in "≤<" for c in readable) >= 8
    assert sum(isinstance(c[0], str) and c[0][:1] in "=＝" for c in readable) >= 6
    assert sum(isinstance(c[0], str) and any(s in c[0] for s in "～-至") for c in readable) >= 8


def test_project_spellings_are_na_exactly_where_a_formula_cannot_read_them(cases: list[Case]) -> None:
    """One row per PROJECT_ROW_CASES spelling: the readable ones score as Python does, the last
    PROJECT_NA_CASES (3,000 / 不低于 / a fraction in a % row / % on one side / 以上 / other 定性 words /
    ㎡, which the reader reads as m2 / 个以上) say 提交后由财政局计算."""
    case = next(c for c in cases if c.kind == "spellings")
    chk = validate.check_file(case.source, case.source.name, case.scheme)
    assert chk.submission is not None
    from toolkit.rules import scoring

    card = scoring.score(case.scheme, chk.submission)
    py = {rs.row.index: rs.score for leaf in card.leaves() for rs in leaf.rows}
    live = _project_live_rows(case)
    n = len(PROJECT_ROW_CASES)
    readable = n - PROJECT_NA_CASES
    got = [(PROJECT_ROW_CASES[i][:2], live[i]) for i in range(n)]
    assert [g for g in got[:readable] if g[1] == NA_TEXT] == []
    assert [g for g in got[readable:] if g[1] != NA_TEXT] == []
    assert [(g, py[i + 1]) for i, g in enumerate(got[:readable])
            if abs(Decimal(repr(g[1])) - py[i + 1]) > Decimal("0.000001")] == []
