"""results.json, as `jixiao run` really writes it, satisfies the contract in docs/results.schema.json."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from toolkit.cli import main

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "results.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def _errors(doc: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A real run over the samples plus a broken file and a nested folder: every status occurs."""
    d = tmp_path_factory.mktemp("schema")
    inbox = d / "inbox"
    shutil.copytree(ROOT / "samples", inbox, ignore=shutil.ignore_patterns("data"))
    (inbox / "子目录").mkdir()
    (inbox / "子目录" / "坏文件.xlsx").write_bytes(b"not a workbook")
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(d / "out"), "--jobs", "1"])
    assert r.exit_code == 1, r.output
    return json.loads((d / "out" / "results.json").read_text(encoding="utf-8"))


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
