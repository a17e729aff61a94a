"""Build an offline install bundle for an officer's PC that has Python but no network (or no pip skills).

    python scripts/make_offline_bundle.py                       # Windows x64, CPython 3.10–3.12
    python scripts/make_offline_bundle.py --platform manylinux  # Linux x86_64, the same versions
    python scripts/make_offline_bundle.py --python 3.11 -o dist/bundle

The bundle is a folder (and a .zip of it) holding the project's wheel, a wheel of every runtime
dependency for every chosen Python version, ``安装.bat`` (offline ``pip install --no-index``),
``运行.bat`` (drag the inbox folder onto it), ``install.sh``/``run.sh`` for Linux and a one-page
``使用说明.txt``. After downloading, the script proves that the wheels alone satisfy the project for
every version (``pip install --dry-run --no-index``) and fails loudly, naming what is missing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = {
    "win_amd64": ["win_amd64"],
    "manylinux": ["manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "linux_x86_64"],
}
DEFAULT_PYTHONS = ("3.10", "3.11", "3.12")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

INSTALL_BAT = r"""@echo off
rem 离线安装 jixiao：在本文件夹内建立 venv，只从 wheels 文件夹安装，不连网。
cd /d "%~dp0"
set "PY="
where py >nul 2>nul && set "PY=py -3"
if not defined PY where python >nul 2>nul && set "PY=python"
if not defined PY (
  echo 未找到 Python。请先安装 Python 3.10、3.11 或 3.12（python.org，安装时勾选 Add python.exe to PATH）。
  pause
  exit /b 2
)
%PY% -m venv "%~dp0venv" || goto :fail
"%~dp0venv\Scripts\python.exe" -m pip install --no-index --find-links "%~dp0wheels" jixiao || goto :fail
echo.
echo 安装完成。把收件箱文件夹拖到“运行.bat”上即可处理。
pause
exit /b 0
:fail
echo 安装失败，请把本窗口的内容截图发给技术支持人员。
pause
exit /b 1
"""

RUN_BAT = r"""@echo off
rem 把装有填报表的文件夹拖到本文件上：结果写到它旁边的“<文件夹名>-结果”文件夹。
if "%~1"=="" (
  echo 请把装有填报表的文件夹拖到“运行.bat”上。
  pause
  exit /b 2
)
if not exist "%~dp0venv\Scripts\jixiao.exe" (
  echo 尚未安装，请先双击“安装.bat”。
  pause
  exit /b 2
)
"%~dp0venv\Scripts\jixiao.exe" run "%~f1" -o "%~f1-结果"
echo.
echo 结果在：%~f1-结果
start "" "%~f1-结果"
pause
"""

INSTALL_SH = """#!/bin/sh
# 离线安装 jixiao：在本文件夹内建立 venv，只从 wheels 文件夹安装，不连网。
set -e
cd "$(dirname "$0")"
python3 -m venv venv
venv/bin/python -m pip install --no-index --find-links wheels jixiao
echo "安装完成：./run.sh 收件箱文件夹"
"""

RUN_SH = """#!/bin/sh
# 用法：./run.sh 收件箱文件夹   结果写到“<文件夹>-结果”
here="$(cd "$(dirname "$0")" && pwd)"
[ -n "$1" ] || { echo "用法：./run.sh 收件箱文件夹"; exit 2; }
inbox="${1%/}"
exec "$here/venv/bin/jixiao" run "$inbox" -o "$inbox-结果"
"""

GUIDE = """jixiao 绩效自评工具箱 · 离线安装包使用说明
==========================================

本安装包不需要连网。需要电脑上已安装 Python {pythons} 中的一个版本
（没有时到 python.org 下载安装，安装第一页勾选“Add python.exe to PATH”）。

一、安装（只需一次）
  Windows：双击“安装.bat”，看到“安装完成”即可。
  Linux：在终端运行 sh install.sh。
  安装只在本文件夹内进行（venv 子文件夹），不影响电脑上的其他程序；
  换电脑时把整个文件夹复制过去重新安装即可。

二、每年的工作
  1. 生成填报表：在本文件夹打开命令行，运行
       venv\\Scripts\\jixiao template -o 填报表            （Windows）
     或 venv/bin/jixiao template -o 填报表                 （Linux）
     有单位名册时加 --roster 名册.xlsx，为每个单位生成一份预填表。
  2. 把填报表发给各单位；收回的文件放进一个文件夹（如“收件箱”）。
  3. 处理：把“收件箱”文件夹拖到“运行.bat”上（Linux：sh run.sh 收件箱）。
     结果在“收件箱-结果”文件夹：reports 自评报告，returned 退回的填报表，
     汇总表.xlsx，results.json。
  4. 有退回的单位，把 returned 中对应的文件发回，改好后放回收件箱，再运行一次。

三、常见问题
  · 窗口一闪而过：请在命令行中运行，或查看是否已先运行“安装.bat”。
  · 提示文件被占用：请先在 Excel/WPS 中关闭汇总表或报告，再运行。
  · 生成 PDF 需要另装 LibreOffice（libreoffice.org），然后在命令后加 --pdf。
  · 完整说明见项目 README；命令帮助：jixiao --help。

本包内容：jixiao {version}；适用平台 {platform}；Python {pythons}。
"""


class BundleError(Exception):
    pass


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-8:])
        raise BundleError(f"pip {' '.join(args[:2])} failed:\n{tail}")


def _version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise BundleError("no version in pyproject.toml")


def _platform_args(platform: str) -> list[str]:
    return [a for tag in PLATFORMS[platform] for a in ("--platform", tag)]


def build(out: Path, platform: str, pythons: tuple[str, ...]) -> Path:
    """Write the bundle folder ``out`` and ``out.zip``; return the folder."""
    if out.exists():
        shutil.rmtree(out)
    wheels = out / "wheels"
    wheels.mkdir(parents=True)
    _pip("wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT))
    project = sorted(wheels.glob("jixiao-*.whl"))
    if len(project) != 1:
        raise BundleError(f"expected one jixiao wheel, found {[p.name for p in project]}")
    for py in pythons:
        try:
            _pip("download", "-q", "--only-binary=:all:", "--implementation", "cp", "--python-version", py,
                 *_platform_args(platform), "-d", str(wheels), str(project[0]))
        except BundleError as e:
            raise BundleError(f"a dependency has no wheel for CPython {py} on {platform}:\n{e}") from None
    for py in pythons:
        prove(wheels, platform, py)
    _write(out / "安装.bat", INSTALL_BAT, bat=True)
    _write(out / "运行.bat", RUN_BAT, bat=True)
    _write(out / "install.sh", INSTALL_SH)
    _write(out / "run.sh", RUN_SH)
    guide = GUIDE.format(pythons="、".join(pythons), version=_version(), platform=platform)
    (out / "使用说明.txt").write_bytes(b"\xef\xbb\xbf" + guide.replace("\n", "\r\n").encode("utf-8"))
    for name in ("README.md",):
        shutil.copy2(ROOT / name, out / name)
    _zip(out)
    return out


def prove(wheels: Path, platform: str, py: str) -> None:
    """Raise BundleError unless the wheels folder alone installs jixiao on CPython ``py``.

    pip checks Requires-Python against the running interpreter here, not --python-version; the
    wheel tags do the real work.
    """
    with tempfile.TemporaryDirectory() as target:
        try:
            _pip("install", "-q", "--dry-run", "--no-index", "--find-links", str(wheels), "--only-binary=:all:",
                 "--implementation", "cp", "--python-version", py, *_platform_args(platform),
                 "--ignore-requires-python", "--target", target, "jixiao")
        except BundleError as e:
            raise BundleError(f"the bundle cannot install offline on CPython {py} ({platform}):\n{e}") from None


def _write(path: Path, text: str, bat: bool = False) -> None:
    if bat:  # cmd.exe reads .bat files in the console code page: GBK on Chinese Windows, CRLF lines
        path.write_bytes(text.replace("\n", "\r\n").encode("gbk"))
    else:
        path.write_text(text, encoding="utf-8", newline="\n")
        path.chmod(0o755)


def _zip(folder: Path) -> Path:
    dest = folder.with_suffix(".zip")
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                info = zipfile.ZipInfo(f"{folder.name}/{p.relative_to(folder).as_posix()}", ZIP_DATE)
                info.external_attr = (0o755 if p.suffix == ".sh" else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, p.read_bytes())
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platform", choices=sorted(PLATFORMS), default="win_amd64")
    ap.add_argument("--python", nargs="+", default=list(DEFAULT_PYTHONS), metavar="X.Y")
    ap.add_argument("-o", "--out", type=Path, default=None, help="bundle folder (default dist/jixiao-offline-PLATFORM)")
    args = ap.parse_args(argv)
    out = args.out or ROOT / "dist" / f"jixiao-offline-{args.platform}"
    try:
        folder = build(out.resolve(), args.platform, tuple(args.python))
    except BundleError as e:
        print(f"bundle FAILED: {e}", file=sys.stderr)
        return 1
    n = len(list((folder / "wheels").glob("*.whl")))
    print(f"bundle: {folder} ({n} wheels) and {folder.with_suffix('.zip')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
