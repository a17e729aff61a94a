"""The sample workbooks: up to date with their YAML data, holding exactly that data, and plausible."""

from __future__ import annotations

import importlib.util
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from toolkit import fields as F
from toolkit.forms import template as T
from toolkit.rules import inputs
from toolkit.rules.excel import LIVE_GRADE, LIVE_TOTAL
from toolkit.rules.loader import DEFAULT_SCHEME, load_scheme
from toolkit.rules.types.table import perf_table

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "samples" / "data"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_samples", ROOT / "scripts" / "make_samples.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MS = _script()
SOURCES = sorted(DATA.glob("*.yaml"))


def _data(src: Path) -> dict[str, Any]:
    return yaml.safe_load(src.read_text(encoding="utf-8"))


def _xlsx(src: Path) -> Path:
    d = _data(src)
    return ROOT / "samples" / (d.get("sample_file") or f"{d['unit_name']}.xlsx")


def test_expected_samples_exist():  # type: ignore[no-untyped-def]
    names = {p.name for p in (ROOT / "samples").glob("*.xlsx")}
    assert {"江华瑶族自治县政务服务中心.xlsx", "江华瑶族自治县教育局.xlsx", "江华瑶族自治县林业局.xlsx",
            "江华瑶族自治县示例单位（含错误）.xlsx"} <= names
    assert names == {_xlsx(s).name for s in SOURCES}, "every sample .xlsx comes from a YAML file"


def test_samples_are_up_to_date():  # type: ignore[no-untyped-def]
    wanted = MS.sample_files()
    stale = [p.name for p, data in wanted.items() if not p.exists() or p.read_bytes() != data]
    assert not stale, f"过期的样例：{stale}；运行 python scripts/make_samples.py 重新生成"


def test_script_is_rerunnable_and_check_passes(capsys):  # type: ignore[no-untyped-def]
    assert MS.sample_files() == MS.sample_files()
    assert MS.main(["--check"]) == 0


def _tables(scheme: Any) -> tuple[F.Table, ...]:
    """The scheme's list tables as its template has them (perf_indicators with its option columns)."""
    return tuple(perf_table(scheme) if t.name == "perf_indicators" else t for t in F.form(scheme.form).tables)


def _indicator_table(scheme: Any) -> str:
    return F.form(scheme.form).indicator_table.name


def _read(path: Path, scheme_id: str) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Values by defined name and table rows by table name (the reader's view, via openpyxl)."""
    wb = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    values = {}
    for name, d in wb.defined_names.items():
        if name.startswith("_xlnm") or name in (LIVE_TOTAL, LIVE_GRADE):  # live 自评得分 cells, not inputs
            continue
        (sheet, ref), = list(d.destinations)
        values[name] = wb[sheet][ref.replace("$", "")].value
    tables: dict[str, list[dict[str, Any]]] = {}
    for t in _tables(load_scheme(scheme_id)):
        ws = wb[t.sheet]
        rows = list(ws[ws.tables[t.name].ref])
        keys = [c.key for c in t.columns]
        tables[t.name] = [dict(zip(keys, (c.value for c in r), strict=True)) for r in rows[1:]
                          if any(c.value not in (None, "") for c in r)]
    meta = {r[0]: r[1] for r in wb["_meta"].iter_rows(values_only=True)}
    assert meta["scheme_id"] == scheme_id
    return values, tables


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_sample_holds_its_yaml_data_as_typed(src):  # type: ignore[no-untyped-def]
    data = _data(src)
    scheme = load_scheme(data.get("scheme") or DEFAULT_SCHEME)
    kw = MS.workbook_args(data)
    values, tables = _read(_xlsx(src), scheme.id)
    for k, v in kw["values"].items():
        got = values[k]
        if isinstance(v, date):
            assert got == datetime(v.year, v.month, v.day), k
        elif v in (None, ""):
            assert got is None, k
        else:
            assert got == v and type(got) is type(v) or (isinstance(v, float) and got == v), k
    assert set(values) == {f.key for f in inputs.all_fields(scheme)}
    for name, rows in kw["tables"].items():
        table = next(t for t in _tables(scheme) if t.name == name)
        want = [{k: r.get(k) for k in (c.key for c in table.columns)} for r in rows]
        assert tables[name] == want, name
    # text-formatted indicator columns hold what the clerk typed, as text
    for r in tables[_indicator_table(scheme)]:
        assert all(r.get(k) is None or isinstance(r[k], str) for k in ("target", "target_max", "actual"))


def test_seed_sample_is_the_seed_data():  # type: ignore[no-untyped-def]
    seed = _data(DATA / "seed-unit.yaml")
    values, tables = _read(ROOT / "samples" / "江华瑶族自治县政务服务中心.xlsx", "jianghua-2023")
    assert values["unit_name"] == seed["unit_name"] and values["budget_added"] == seed["budget_added"]
    assert [r["name"] for r in tables["perf_indicators"]] == [r[2] for r in seed["perf_indicators"]]
    assert tables["perf_indicators"][0]["target"] == "3000" and tables["perf_indicators"][2]["target_max"] == "7"
    assert [r["plans"] for r in tables["plans"]] == seed["plans"]


def _d(v: Any) -> Decimal:
    return Decimal(str(v or 0))


def _identity_gap(d: dict[str, Any]) -> Decimal:
    return (_d(d["carryover_start"]) + _d(d["income_fiscal"]) + _d(d.get("income_other")) - _d(d["spend_basic"])
            - _d(d["spend_project"]) - _d(d["balance_basic"]) - _d(d["balance_project"]))


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_sample_data_is_plausible(src):  # type: ignore[no-untyped-def]
    """Valid samples keep the budget identity and the scheme's group points; the error sample breaks it."""
    d = _data(src)
    scheme = load_scheme(d.get("scheme") or DEFAULT_SCHEME)
    known = set(inputs.field_map(scheme))
    keys = set(MS.workbook_args(d)["values"])
    assert keys <= known, keys - known
    invalid = d.get("expected", {}).get("status") == "invalid"
    if scheme.form == "project":
        _project_plausible(d, scheme, invalid)
        return
    sums: dict[str, Decimal] = {}
    for r in d["perf_indicators"]:
        assert r[0] in scheme.indicator_groups and r[1] in F.LEVEL2_BY_LEVEL1[r[0]] and r[3] in F.DIRECTIONS
        sums[r[0]] = sums.get(r[0], Decimal(0)) + _d(r[8])
    assert sums == dict(scheme.indicator_groups)
    if invalid:
        assert abs(_identity_gap(d)) > Decimal("0.005")
        assert any(f.required and d.get(f.key) in (None, "") for f in F.STATIC_FIELDS)
    else:
        assert _identity_gap(d) == 0
        assert all(d.get(f.key) not in (None, "") for f in F.STATIC_FIELDS if f.required)


def _project_plausible(d: dict[str, Any], scheme: Any, invalid: bool) -> None:
    """A valid project sample keeps the three fund identities and its points; the error one breaks both."""
    gaps = [_d(d.get(F.fund_key("total", c))) - sum(_d(d.get(F.fund_key(r, c))) for r in F.FUND_PARTS)
            for c, _ in F.FUND_COLS]
    sums: dict[str, Decimal] = {}
    for r in d["project_indicators"]:
        group = r[0] if F.ALL_GROUPS not in scheme.indicator_groups else F.ALL_GROUPS
        sums[group] = sums.get(group, Decimal(0)) + _d(r[6])
    if invalid:
        assert any(abs(g) > Decimal("0.005") for g in gaps) and sums != dict(scheme.indicator_groups)
    else:
        assert gaps == [0, 0, 0] and sums == dict(scheme.indicator_groups)
        assert all(r[1] in F.LEVEL2_BY_LEVEL1[r[0]] for r in d["project_indicators"])
        assert all(d.get(f.key) not in (None, "") for f in inputs.all_fields(scheme) if f.required)


def test_samples_cover_the_variety_other_tests_rely_on():  # type: ignore[no-untyped-def]
    rows = [r for s in SOURCES for r in _data(s).get("perf_indicators", ())]
    assert {r[3] for r in rows} >= {"≥", "≤", "=", "区间", "定性"}
    datas = [_data(s) for s in SOURCES]
    assert any(d.get("satisfaction_rate") is not None for d in datas)
    assert any(d.get("assessment_grade") for d in datas)
    assert any("否" in d.get("chk_mgmt_system", []) for d in datas)
    assert any(d.get("new_building") == "有" for d in datas)
    assert T.template_file_name(load_scheme(DEFAULT_SCHEME)) == F.TEMPLATE_FILE_NAME
    projects = [d for d in datas if d.get("project_indicators")]
    assert {d["scheme"] for d in projects} == {"mof-project-2020", "sichuan-project-2022"}
    assert any(d.get("expected", {}).get("status") == "invalid" for d in projects)
    low = [d for d in projects if _d(d["fund_total_spent"]) < Decimal("0.9") * _d(d["fund_total_full"])]
    assert low and all(d.get("problems_text") for d in low)  # a low execution rate, explained
    assert any(r[4] in F.QUAL_TIERS for d in projects for r in d["project_indicators"])  # a 定性 row
