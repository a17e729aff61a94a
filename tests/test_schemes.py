"""Scheme files: built-ins load, user-written files are refused with precise messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import scheme_text

from toolkit.cli import main
from toolkit.rules.loader import SchemeError, builtin_dir, builtin_ids, load_scheme, parse_scheme

BUILTIN = (builtin_dir() / "jianghua-2023.yaml").read_text(encoding="utf-8")


def test_builtins_load_and_total_100():
    assert builtin_ids() == ["chongqing-2021", "hunan-prefecture-2018", "jianghua-2023", "mof-2020",
                             "mof-project-2020", "sichuan-project-2022"]
    assert builtin_ids("project") == ["mof-project-2020", "sichuan-project-2022"]
    for sid in builtin_ids():
        s = load_scheme(sid)
        assert s.total == 100
        assert sum(lv.points for lv in s.levels) == 100
        assert s.grade_for(s.total) == "优"


def test_jianghua_inputs_match_the_workbook_spec():
    keys = {f.key for f in load_scheme("jianghua-2023").input_fields}
    expected = ({f"chk_mgmt_system_{i}" for i in range(1, 4)} | {f"chk_fund_compliance_{i}" for i in range(1, 6)}
                | {f"chk_disclosure_{i}" for i in range(1, 4)}
                | {"note_mgmt_system", "note_fund_compliance", "note_disclosure", "tier_duty", "score_duty",
                   "note_duty", "assessment_grade", "satisfaction_rate", "note_satisfaction"})
    assert keys == expected


def test_grades():
    s = load_scheme("jianghua-2023")
    from decimal import Decimal as D
    assert [s.grade_for(D(x)) for x in ("100", "90", "89.99", "80", "79.99", "60", "59.99", "0")] == \
        ["优", "优", "良", "良", "中", "中", "差", "差"]


def _broken(old: str, new: str) -> str:
    assert old in BUILTIN
    return BUILTIN.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_typo_in_rule_type_names_indicator_and_line():
    text = _broken("type: ratio_floor", "type: ratio_flor")
    with pytest.raises(SchemeError) as ei:
        parse_scheme(text, "my.yaml")
    msg = str(ei.value)
    assert "my.yaml" in msg and "ratio_flor" in msg and "budget_completion" in msg
    assert f"第{_line_of(text, 'id: budget_completion')}行" in msg
    assert "ratio_floor" in msg  # lists the known types


def test_points_not_adding_up():
    text = _broken("          - id: staff_control\n            name: 在职人员控制率\n            points: 5",
                   "          - id: staff_control\n            name: 在职人员控制率\n            points: 6")
    with pytest.raises(SchemeError) as ei:
        parse_scheme(text, "my.yaml")
    msg = str(ei.value)
    assert "budget_allocation" in msg and "11" in msg and "10" in msg
    assert f"第{_line_of(text, 'id: budget_allocation')}行" in msg


def test_unknown_input_and_bad_grades_and_checklist_sum_all_reported_at_once():
    text = _broken("numerator: staff_actual,", "numerator: staff_actuall,")
    text = text.replace("{name: 差, min: 0}", "{name: 差, min: 10}")
    text = text.replace("- {text: 制度得到有效执行, points: 2}", "- {text: 制度得到有效执行, points: 3}")
    with pytest.raises(SchemeError) as ei:
        parse_scheme(text, "my.yaml")
    probs = ei.value.problems
    assert any("staff_actuall" in p for p in probs)
    assert any("0" in p and "等级" in p for p in probs)
    assert any("checklist" in p and "mgmt_system" in p for p in probs)
    assert len(probs) >= 3


def test_yaml_syntax_error_names_line():
    with pytest.raises(SchemeError) as ei:
        parse_scheme("id: x\ntitle: [unclosed\n", "bad.yaml")
    assert "YAML" in str(ei.value) and "bad.yaml" in str(ei.value)


def test_user_copy_with_other_weights_is_accepted(tmp_path: Path):
    text = scheme_text(new_id="my-county", staff_control=3, sangong_change=7)
    p = tmp_path / "我的方案.yaml"
    p.write_text(text, encoding="utf-8")
    s = load_scheme(str(p))
    assert s.id == "my-county" and s.node("staff_control").points == 3


def test_unknown_scheme_name():
    with pytest.raises(SchemeError) as ei:
        load_scheme("no-such")
    assert "jianghua-2023" in str(ei.value)


def test_schemes_command_lists_builtins():
    r = CliRunner().invoke(main, ["schemes"])
    assert r.exit_code == 0
    assert "jianghua-2023" in r.output and "mof-2020" in r.output and "100分" in r.output


def test_every_command_has_help_with_an_example():
    for name, cmd in main.commands.items():
        assert cmd.help and "示例" in cmd.help, name
