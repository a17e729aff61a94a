"""toolkit.results: the typed form of results.json survives a real run's file unchanged."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolkit.results import Results, ResultsError, UnitResult

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def results_path(sample_run: Path) -> Path:
    return sample_run / "results.json"


def test_round_trip_is_exact(results_path: Path) -> None:
    raw = json.loads(results_path.read_text(encoding="utf-8"))
    typed = Results.load(results_path)
    assert typed.to_json() == raw
    assert {u.status for u in typed.units} == {"ok", "invalid", "unreadable"}


def test_typed_fields(results_path: Path) -> None:
    typed = Results.load(results_path)
    ref = next(u for u in typed.units if u.unit_code == "412001")
    assert ref.ok and ref.total == 99.0 and ref.grade == "优" and ref.levels == {"投入": 10.0, "过程": 49.0, "产出及效率": 40.0}
    assert ref.indicators and ref.indicators[0].path[0] == "投入"
    bad = next(u for u in typed.units if u.status == "invalid")
    assert bad.errors and all(p.severity == "error" for p in bad.errors) and bad.returned


@pytest.mark.parametrize("text", ["", "{", "[]", '{"units": 3}', '{"units": [{"file": "a.xlsx", "status": "done"}]}'])
def test_bad_results_json_is_a_chinese_error(tmp_path: Path, text: str) -> None:
    p = tmp_path / "results.json"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ResultsError) as e:
        Results.load(p)
    assert "results.json" in str(e.value)
    with pytest.raises(ResultsError, match="没有找到"):
        Results.load(tmp_path / "none.json")


def test_unknown_keys_are_kept_in_order() -> None:
    u = UnitResult.from_json({"file": "a.xlsx", "status": "ok", "problems": [], "form": "dept", "_key": [1]})
    assert u.extra == {"form": "dept"} and list(u.to_json())[-1] == "form" and "_key" not in u.to_json()
