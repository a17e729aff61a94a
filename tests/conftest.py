"""Shared fixtures: the samples as an inbox, and one real run over them for tests that only read.

Fixtures that build workbooks live in tests/builders.py (through the real template) and
tests/helpers.py (Submissions from readable mappings); this file holds what several modules share.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolkit.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def copy_samples(dest: Path) -> Path:
    """The committed sample workbooks (not their YAML sources) as an inbox folder."""
    shutil.copytree(SAMPLES, dest, ignore=shutil.ignore_patterns("data"))
    return dest


@pytest.fixture
def samples_inbox(tmp_path: Path) -> Path:
    return copy_samples(tmp_path / "收件箱")


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT of one `jixiao run` over the samples plus an unreadable file in a subfolder, so that
    every status occurs (ok, invalid, unreadable). Read-only: do not write into it."""
    d = tmp_path_factory.mktemp("sample_run")
    inbox = copy_samples(d / "inbox")
    (inbox / "子目录").mkdir()
    (inbox / "子目录" / "坏文件.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    r = CliRunner().invoke(main, ["run", str(inbox), "-o", str(d / "out"), "--jobs", "1"])
    assert r.exit_code == 1, r.output
    return d / "out"
