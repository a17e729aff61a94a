"""Shared fixtures: the samples as an inbox, and one real run over them for tests that only read.

Fixtures that build workbooks live in tests/builders.py (through the real template) and
tests/helpers.py (Submissions from readable mappings); this file holds what several modules share.
"""
from __future__ import annotations

import importlib.util

import pytest

# Without the project and its test tools installed, every module would fail with its own ImportError:
# say once what to run instead (the README's test command).
_NEEDED = ("toolkit", "click", "defusedxml", "xlsxwriter", "yaml", "openpyxl", "docx", "lxml", "jsonschema",
           "aiosmtpd", "hypothesis")
_missing = [m for m in _NEEDED if importlib.util.find_spec(m) is None]
if _missing:
    pytest.exit(f"缺少 {', '.join(_missing)}：请先在项目目录运行 pip install -e \".[test]\"（README 的测试命令）", returncode=4)

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from toolkit.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def default_scheme_samples() -> list[Path]:
    """The committed sample workbooks of the default scheme (their YAML names no ``scheme``): one county's
    batch. The samples of the other built-in schemes are run by tests/test_builtin_schemes.py."""
    out = []
    for src in sorted((SAMPLES / "data").glob("*.yaml")):
        d = yaml.safe_load(src.read_text(encoding="utf-8"))
        if not d.get("scheme"):
            out.append(SAMPLES / (d.get("sample_file") or f"{d['unit_name']}.xlsx"))
    return out


def copy_samples(dest: Path) -> Path:
    """The default scheme's sample workbooks (not their YAML sources) as an inbox folder."""
    dest.mkdir(parents=True)
    for p in default_scheme_samples():
        shutil.copy(p, dest / p.name)
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
