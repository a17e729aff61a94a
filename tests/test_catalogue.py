"""The problem catalogue is complete both ways: every code the code raises is in it, with a message
and a fix in Chinese; every entry is raised somewhere (no dead wording)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from toolkit.problems import CATALOGUE, problem

PKG = Path(__file__).resolve().parent.parent / "toolkit"
MAKERS = {"problem", "add", "_fail", "Invalid", "fail"}  # the calls that take a catalogue code first
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _calls() -> list[tuple[str, str]]:
    found = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in MAKERS and re.fullmatch(r"[a-z][a-z0-9_]*", node.args[0].value):
                    found.append((f"{path.relative_to(PKG)}:{node.lineno}", node.args[0].value))
    return found


def test_every_code_raised_is_in_the_catalogue() -> None:
    unknown = [(where, code) for where, code in _calls() if code not in CATALOGUE
               and code not in ("title", "h1", "h2", "h3", "body", "signature")]  # report paragraph styles
    assert unknown == []


def test_every_catalogue_code_is_raised_somewhere() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in PKG.rglob("*.py") if p.name != "problems.py")
    dead = [code for code in CATALOGUE if f'"{code}"' not in text]
    assert dead == []


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_entry_has_a_chinese_message_and_fix(code: str) -> None:
    entry = CATALOGUE[code]
    assert entry.severity in ("error", "warning")
    assert _CJK.search(entry.message) and _CJK.search(entry.fix), code
    fields = set(re.findall(r"{(\w+)}", entry.message + entry.fix))
    params = dict.fromkeys(fields - {"sheet", "cell", "cells"}, "X")  # sheet/cell come from the location
    p = problem(code, sheet="基本信息", cell="C7", **params)
    assert "{" not in p.message and p.message.endswith("）") and "（" in p.message
