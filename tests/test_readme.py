"""The README's quick start is what CI runs: the two commands, character for character."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## 快速开始.*?```bash\n(.*?)```", text, re.S)
    assert block, "README has no quick-start bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands() -> None:
    lines = _quick_start()
    assert len(lines) == 2
    assert lines[0].startswith("pip install -e . && jixiao run samples")
    assert lines[1] == 'pip install -e ".[test]" && pytest'


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    # each part of `A && B` as a line of its own, in order, under `set -e` (which makes it `&&`)
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    lines = [line.strip() for line in text.splitlines()]
    parts = [part.strip() for part in _quick_start()[1].split("&&")]
    at = [lines.index(part) for part in parts]
    assert at == sorted(at) and at[-1] == at[0] + len(parts) - 1


def test_plain_pytest_finds_the_tests_package() -> None:
    # `pytest` (not `python -m pytest`) must import `tests.*` helpers: pythonpath is set in pyproject.
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^pythonpath\s*=\s*\["\."\]', text, re.M)


def test_the_readme_scheme_example_loads_and_differs_as_it_says(tmp_path) -> None:
    from toolkit.rules.loader import load_scheme

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## 评分方案是数据.*?```yaml\n(.*?)```", text, re.S)
    assert block, "README has no scheme example"
    path = tmp_path / "本县方案.yaml"
    path.write_text(block.group(1), encoding="utf-8")
    s = load_scheme(str(path))
    leaves = {n.id: n for n in s.leaves()}
    assert s.id == "mouxian-2024" and "building_invest" not in leaves
    assert leaves["staff_control"].points == 4 and leaves["disclosure"].rule.type == "per_item"
    assert [a.node.id for a in s.adjustments] == ["award"]


def test_the_readme_county_guide_is_the_tested_scheme_file() -> None:
    import yaml

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### 本县的填报表和报告.*?```yaml\n(.*?)```", text, re.S)
    assert block, "README has no county guide example"
    shipped = (ROOT / "tests" / "schemes" / "county-guide.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(block.group(1)) == yaml.safe_load(shipped)
