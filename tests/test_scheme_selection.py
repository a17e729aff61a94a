"""Which scheme scores a workbook (spec 01), mof-2020 end to end, and user-written schemes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from helpers import load_seed, scheme_text, write_unit

from toolkit.cli import main
from toolkit.rules.loader import builtin_dir

MOF_ROWS = [
    ["产出指标", "数量指标", "受理办理业务", "≥", 3000, None, "人次", 3600, 20],
    ["产出指标", "数量指标", "发布政府信息", "≥", 200, None, "条", 180, 15],  # 90% → 13.5
    ["产出指标", "时效指标", "审批时间", "区间", 1, 7, "天", 5, 15],
    ["效益指标", "社会效益", "政务公开完成率", "≥", 99, None, "%", 100, 15],
    ["效益指标", "可持续影响", "政务服务持续优化", "定性", "持续优化", None, None, "达成", 15],
    ["满意度指标", "服务对象满意度", "群众满意度", "≥", 90, None, "%", 95, 10],
]


def _mof_unit() -> dict:
    data = load_seed()
    data["perf_indicators"] = [list(r) for r in MOF_ROWS]
    data["perf_indicators"][1] += [None, "信息发布量受疫情后机构调整影响，下年度加强统筹。"]
    return data


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_mof_2020_workbook_scores_under_its_own_scheme(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_unit(inbox / "mof.xlsx", _mof_unit(), scheme_id="mof-2020")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out)])
    assert r.exit_code == 0, r.output
    res = _results(out)
    u = res["units"][0]
    assert res["scheme"] == "mof-2020"
    assert u["status"] == "ok"
    # 预算执行率 = 169.92 / (0 + 160 + 9.92) = 100% → 10; 产出 20 + 13.5 + 15; 效益 15 + 15; 满意度 10
    assert u["levels"] == {"预算执行": 10.0, "产出指标": 48.5, "效益指标": 30.0, "满意度指标": 10.0}
    assert u["total"] == 98.5 and u["grade"] == "优"
    assert Path(out / u["report"]).exists()


def test_meta_scheme_is_used_unless_overridden_and_mismatch_warns(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_unit(inbox / "jh.xlsx", load_seed())  # made from the jianghua-2023 template
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out), "--scheme", "mof-2020"])
    u = _results(out)["units"][0]
    # scored by mof-2020 as asked; its indicator groups do not add up → invalid, and a mismatch warning
    assert any(p["code"] == "scheme_mismatch" and p["severity"] == "warning" for p in u["problems"]), r.output
    assert u["status"] == "invalid"
    assert any(p["code"] in ("indicator_points", "indicator_group_missing") for p in u["problems"])


def test_user_written_scheme_with_other_weights(tmp_path):
    text = scheme_text(new_id="my-county", staff_control=2, sangong_change=8)
    scheme = tmp_path / "我的方案.yaml"
    scheme.write_text(text, encoding="utf-8")
    inbox = tmp_path / "in"
    inbox.mkdir()
    data = load_seed()
    data["staff_actual"] = 11  # 110% → 2 − 0.5 × 10 → 0
    write_unit(inbox / "u.xlsx", data)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out), "--scheme", str(scheme)])
    res = _results(out)
    assert res["scheme"] == "my-county", r.output
    u = res["units"][0]
    staff = next(i for i in u["indicators"] if i["id"] == "staff_control")
    assert staff["points"] == 2.0 and staff["score"] == 0.0 and staff["value"] == 1.1
    assert u["levels"]["投入"] == 8.0


def test_broken_user_scheme_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((builtin_dir() / "jianghua-2023.yaml").read_text(encoding="utf-8")
                   .replace("type: bands", "type: bandz"), encoding="utf-8")
    r = CliRunner().invoke(main, ["run", str(tmp_path), "--scheme", str(bad)])
    assert r.exit_code == 2
    assert "bandz" in r.output and "budget_control" in r.output


def test_scheme_dividing_by_a_field_that_is_zero_blames_the_cells_not_the_file(tmp_path):
    """Issue 11.8: a zero denominator at run time is a message naming the cells, never "unreadable"."""
    text = scheme_text(new_id="zero-den").replace(
        "numerator: staff_actual, denominator: staff_quota,", "value: staff_actual / (staff_quota - staff_quota),", 1)
    scheme = tmp_path / "zero.yaml"
    scheme.write_text(text, encoding="utf-8")
    inbox = tmp_path / "in"
    inbox.mkdir()
    write_unit(inbox / "u.xlsx", load_seed())
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out), "--scheme", str(scheme)])
    u = _results(out)["units"][0]
    assert u["status"] == "invalid", r.output
    zero = [p for p in u["problems"] if p["code"] == "zero_denominator"]
    assert len(zero) == 1 and "分母为 0" in zero[0]["message"] and zero[0]["cells"] == ["基本信息!C11"]
    assert not any(p["code"] == "worker_crash" for p in u["problems"])


def test_scheme_with_a_literal_division_by_zero_is_refused_with_its_line(tmp_path):
    text = scheme_text().replace("denominator: staff_quota,", "denominator: staff_quota / 0,", 1)
    bad = tmp_path / "div0.yaml"
    bad.write_text(text, encoding="utf-8")
    r = CliRunner().invoke(main, ["run", str(tmp_path), "--scheme", str(bad)])
    assert r.exit_code == 2
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "id: staff_control" in s)
    assert "div0.yaml" in r.output and f"第{line}行" in r.output and "除以 0" in r.output


def test_county_scheme_holding_only_changed_weights_extends_a_builtin(tmp_path):
    scheme = tmp_path / "县方案.yaml"
    scheme.write_text("extends: jianghua-2023\nid: county-extends\ntitle: 某县指标体系\nindicators:\n"
                      "  - {id: staff_control, points: 2}\n  - {id: sangong_change, points: 8}\n", encoding="utf-8")
    inbox = tmp_path / "in"
    inbox.mkdir()
    data = load_seed()
    data["staff_actual"] = 11  # 110% → 2 − 0.5 × 10 → 0
    write_unit(inbox / "u.xlsx", data, scheme_id=str(scheme))  # the template made from the county scheme
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(out), "--scheme", str(scheme)])
    res = _results(out)
    assert res["scheme"] == "county-extends", r.output
    u = res["units"][0]
    assert u["status"] == "ok", u["problems"]
    staff = next(i for i in u["indicators"] if i["id"] == "staff_control")
    assert staff["points"] == 2.0 and staff["score"] == 0.0
    assert u["levels"]["投入"] == 8.0
