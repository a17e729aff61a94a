"""scripts/make_offline_bundle.py: an officer's offline install, proven by installing it with no index."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import copy_samples

ROOT = Path(__file__).resolve().parent.parent
PY = f"{sys.version_info.major}.{sys.version_info.minor}"

_spec = importlib.util.spec_from_file_location("make_offline_bundle", ROOT / "scripts" / "make_offline_bundle.py")
assert _spec and _spec.loader
bundle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bundle)


def _index_or_skip(tmp: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "-d", str(tmp), "six"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("no package index reachable: the bundle script downloads wheels")


@pytest.fixture(scope="module")
def linux_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bundle")
    _index_or_skip(d / "probe")
    return bundle.build(d / "jixiao-offline-manylinux", "manylinux", (PY,))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux" or not sys.maxsize > 2**32, reason="the manylinux bundle is for Linux x86_64")
def test_linux_bundle_installs_offline_and_runs_the_samples(linux_bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "装在这里"  # a Chinese path, as on an officer's PC
    with zipfile.ZipFile(linux_bundle.with_suffix(".zip")) as zf:
        zf.extractall(folder)
    root = folder / linux_bundle.name
    (root / "install.sh").chmod(0o755)
    (root / "run.sh").chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": "/dev/null", "HOME": str(tmp_path)}
    py_dir = str(Path(sys.executable).resolve().parent)  # the same Python version the bundle was built for
    env["PATH"] = f"{py_dir}:{env['PATH']}"
    r = subprocess.run(["sh", str(root / "install.sh")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    inbox = copy_samples(tmp_path / "收件箱")
    r = subprocess.run(["sh", str(root / "run.sh"), str(inbox)], capture_output=True, text=True, env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # one sample has errors on purpose
    results = json.loads((tmp_path / "收件箱-结果" / "results.json").read_text(encoding="utf-8"))
    assert sorted(u["status"] for u in results["units"]) == ["invalid", "ok", "ok", "ok"]


@pytest.mark.slow
def test_windows_bundle_has_a_wheel_for_every_dependency_and_version(tmp_path: Path) -> None:
    _index_or_skip(tmp_path / "probe")
    out = bundle.build(tmp_path / "jixiao-offline-win_amd64", "win_amd64", bundle.DEFAULT_PYTHONS)
    names = [p.name for p in (out / "wheels").glob("*.whl")]
    for py in ("cp310", "cp311", "cp312"):
        for dep in ("numpy", "pandas", "python_calamine", "pyyaml"):
            assert any(n.startswith(dep + "-") and f"-{py}-" in n and n.endswith("win_amd64.whl") for n in names), (dep, py)
    for bat in ("安装.bat", "运行.bat"):
        text = (out / bat).read_bytes().decode("gbk")  # cmd.exe on Chinese Windows reads the OEM code page
        assert "\r\n" in text
    assert "--no-index" in (out / "安装.bat").read_bytes().decode("gbk")
    guide = (out / "使用说明.txt").read_bytes()
    assert guide.startswith(b"\xef\xbb\xbf") and "运行.bat" in guide.decode("utf-8-sig")

    # The script's own proof fails loudly when a wheel is missing.
    for w in (out / "wheels").glob("numpy-*cp312*"):
        w.unlink()
    with pytest.raises(bundle.BundleError, match="numpy"):
        bundle.prove(out / "wheels", "win_amd64", "3.12")
