"""results.json, as `jixiao run` really writes it, satisfies the contract in docs/results.schema.json."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "results.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def _errors(doc: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.fixture(scope="module")
def results(sample_run: Path) -> dict:
    return json.loads((sample_run / "results.json").read_text(encoding="utf-8"))


def test_real_results_satisfy_the_schema(results: dict) -> None:
    assert {u["status"] for u in results["units"]} == {"ok", "invalid", "unreadable"}
    assert _errors(results) == []


@pytest.mark.parametrize("breakage", [
    ("status", "done"),              # not one of ok | invalid | unreadable
    ("file", "/etc/passwd"),         # absolute
    ("report", "../outside.docx"),   # leaves OUT
    ("total", -1),                   # scores are never negative
    ("problems", None),              # always a list
])
def test_schema_rejects_what_breaks_the_contract(results: dict, breakage: tuple[str, object]) -> None:
    key, value = breakage
    doc = json.loads(json.dumps(results))
    ok = next(u for u in doc["units"] if u["status"] == "ok")
    ok[key] = value
    assert _errors(doc), f"schema accepted {key}={value!r}"


def test_every_documented_key_is_in_the_schema() -> None:
    doc = (ROOT / "docs" / "results-json.md").read_text(encoding="utf-8")
    unit_keys = set(SCHEMA["$defs"]["unit"]["properties"])
    for key in unit_keys | set(SCHEMA["properties"]):
        assert f"`{key}`" in doc, f"docs/results-json.md does not describe {key}"
