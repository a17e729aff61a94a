"""What the user sees: the whole console text of the commands, asserted exactly (tmp paths as <TMP>)."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import load_seed, write_unit

from toolkit import batch
from toolkit.cli import main

HINT = "实际完成值 {} 超过年度指标值 {} 的150%，指标值设定可能偏低（请核实完成值；如无误，下年度请合理提高指标值）"
CHECK_STDOUT = "".join(f"{f}.xlsx: {line}\n" for f in "abc" for line in [
    *(["收支情况!C5: 收支不平衡：年初结转结余 + 本年收到财政资金 + 本年其他收入 − 本年基本支出 − 本年项目支出 = 69.92万元，"
       "而年末基本支出结余 + 年末项目支出结余 = 0.00万元，相差 69.92万元（请核对 收支情况!C5、收支情况!C8、收支情况!C9、"
       "收支情况!C13、收支情况!C14、收支情况!C15、收支情况!C16 的金额）"] if f == "c" else []),
    "绩效指标!H4: ［提示］“受理办理业务”" + HINT.format(360000, 3000),
    "绩效指标!H7: ［提示］“窗口进驻单位”" + HINT.format(47, 26),
])
CHECK_STDERR = "检查 3 份：合格 2 份，需修改 1 份，无法读取 0 份；错误 1 个，提示 6 个\n"
RUN_STDOUT = """\
处理 3 份：合格 2 份，退回 1 份，无法读取 0 份；平均分 99.00
退回：c.xlsx（1 个错误）
结果在 <TMP>/out/：报告 2 份，退回 1 份，汇总表.xlsx，汇总分析报告.docx
"""
RUN_STDERR = ""

SCHEME_ERROR = """\
用法：jixiao {cmd} [选项]{args}
运行 jixiao {cmd} --help 查看帮助。

错误：方案文件 no-such-scheme 有 1 处错误：
  - 找不到方案“no-such-scheme”：内置方案有 chongqing-2021、hunan-prefecture-2018、jianghua-2023、mof-2020、mof-project-2020、sichuan-project-2022，或给出 .yaml 文件路径
"""


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three workbooks: two valid units and one whose budget does not balance."""
    folder = tmp_path_factory.mktemp("inbox")
    seed = load_seed()
    write_unit(folder / "a.xlsx", seed)
    other = dict(seed, unit_name="江华瑶族自治县统计局", unit_code="412099")
    write_unit(folder / "b.xlsx", other)
    write_unit(folder / "c.xlsx", dict(seed, unit_name="江华瑶族自治县林业局", unit_code="412098", spend_basic=100))
    return folder


def _invoke(*args: str, tmp: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r: Result = CliRunner().invoke(main, list(args), env=env, prog_name="jixiao")
    out, err = r.stdout, r.stderr
    if tmp is not None:
        out, err = out.replace(str(tmp), "<TMP>"), err.replace(str(tmp), "<TMP>")
    return r.exit_code, out, err


def test_check_console_text(inbox: Path) -> None:
    assert _invoke("check", str(inbox), tmp=inbox) == (1, CHECK_STDOUT, CHECK_STDERR)


def test_run_console_text(inbox: Path, tmp_path: Path) -> None:
    assert _invoke("run", str(inbox), "-o", str(tmp_path / "out"), "--jobs", "2", tmp=tmp_path) == (
        1, RUN_STDOUT, RUN_STDERR)


def test_check_json_is_the_library_result(inbox: Path) -> None:
    code, out, err = _invoke("check", str(inbox), "--json")
    assert code == 1 and err == ""
    assert json.loads(out) == batch.check_paths([inbox], None).as_dict()
    assert out == json.dumps(batch.check_paths([inbox], None).as_dict(), ensure_ascii=False, indent=2) + "\n"


# --------------------------------------------------------------------------- usage errors (exit 2)
@pytest.mark.parametrize(("cmd", "args"), [("check", " PATHS..."), ("run", " INBOX..."), ("template", "")])
def test_unknown_scheme(cmd: str, args: str, inbox: Path, tmp_path: Path) -> None:
    argv = {"check": [str(inbox)], "run": [str(inbox), "-o", str(tmp_path / "o")], "template": ["-o", str(tmp_path)]}
    assert _invoke(cmd, *argv[cmd], "--scheme", "no-such-scheme") == (
        2, "", SCHEME_ERROR.format(cmd=cmd, args=args))


def test_run_out_locked(inbox: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": "run", "started": "2024-04-30 09:00:00"}
    (out / ".jixiao.lock").write_text(json.dumps(holder), encoding="utf-8")
    assert _invoke("run", str(inbox), "-o", str(out), tmp=tmp_path) == (2, "", (
        f"错误：输出文件夹 <TMP>/out 正被另一次 jixiao run 使用（主机 {holder['host']}，进程 {holder['pid']}，"
        "开始于 2024-04-30 09:00:00）。请等它结束后再运行；若确认没有其他程序在运行，删除 <TMP>/out/.jixiao.lock 后重试。\n"))


TEMPLATE_USAGE = "用法：jixiao template [选项]\n运行 jixiao template --help 查看帮助。\n\n错误："


@pytest.mark.parametrize(("rows", "message"), [
    ([["单位编码"], ["412001"]],
     "单位名册 名册.xlsx 缺少“单位名称”列（第1行应为表头：单位名称、单位编码、所属地区、联系人、联系邮箱）"),
    ([["单位名称", "单位编码"], [None, "412001"], ["教育局", "2"]], "单位名册 名册.xlsx 第2行的“单位名称”为空"),
    ([["单位名称"], ["教育局"], ["教育局"]], "单位名册 名册.xlsx 第3行的单位“教育局”与第2行重复"),
    ([["单位名称"]], "单位名册 名册.xlsx 中没有任何单位"),
])
def test_template_roster_errors(rows: list[list[str | None]], message: str, tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(tmp_path / "名册.xlsx")
    assert _invoke("template", "-o", str(tmp_path / "t"), "--roster", str(tmp_path / "名册.xlsx")) == (
        2, "", TEMPLATE_USAGE + message + "\n")


def test_template_roster_not_xlsx(tmp_path: Path) -> None:
    (tmp_path / "名册.xlsx").write_bytes(b"not a workbook")
    assert _invoke("template", "-o", str(tmp_path / "t"), "--roster", str(tmp_path / "名册.xlsx")) == (
        2, "", TEMPLATE_USAGE + "无法读取单位名册 名册.xlsx：Cannot detect file format（请提供 .xlsx 格式的名册）\n")


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--sender", "bad"], {}, "发件人地址 --sender “bad”不是有效的邮箱地址"),
    (["--sender", "a@x.cn, b@x.cn"], {}, "发件人地址 --sender “a@x.cn, b@x.cn”无效：只能填一个邮箱地址"),
    (["--sender", "jxg@example.com"], {}, "<TMP> 中没有 results.json，请先运行 jixiao run 生成结果"),
    (["--sender", "jxg@example.com", "--user", "jxg"], {"JIXIAO_SMTP_PASSWORD": ""}, "使用 --user 登录时，请先在环境变量 JIXIAO_SMTP_PASSWORD 中设置密码"),
])
def test_mail_usage_errors(args: list[str], env: dict[str, str], message: str, tmp_path: Path) -> None:
    assert _invoke("mail", str(tmp_path), "--smtp-host", "smtp.example.com", *args, env=env, tmp=tmp_path) == (
        2, "", f"错误：{message}\n")


# --------------------------------------------------------------------------- help
def test_every_command_help_has_an_example() -> None:
    assert main.commands
    for name in [None, *main.commands]:
        code, out, _ = _invoke(*([name] if name else []), "--help")
        assert code == 0 and re.search(r"示例：\n +jixiao ", out), name


# --------------------------------------------------------------------------- click's own strings, in Chinese
RUN_USAGE = "用法：jixiao run [选项] INBOX...\n运行 jixiao run --help 查看帮助。\n\n"


@pytest.mark.parametrize(("argv", "stderr"), [
    (["run"], RUN_USAGE + "错误：缺少参数 INBOX...。\n"),
    (["run", "<TMP>/没有"], RUN_USAGE + "错误：'INBOX...' 的值无效：路径“<TMP>/没有”不存在。\n"),
    (["run", "<TMP>", "--jobs", "x"], RUN_USAGE + "错误：'--jobs' / '-j' 的值无效：“x”不是有效的整数。\n"),
    (["run", "<TMP>", "--jobs", "0"], RUN_USAGE + "错误：'--jobs' / '-j' 的值无效：0 不在 1<=x<=64 范围内。\n"),
    (["run", "<TMP>", "--prefer", "oldest"],
     RUN_USAGE + "错误：'--prefer' 的值无效：“oldest”无效，只能是 'newest'。\n"),
    (["run", "<TMP>", "-o"], "错误：选项 -o 后面需要一个值。\n"),
    (["run", "<TMP>", "--jbos", "2"], RUN_USAGE + "错误：没有选项 --jbos。 是不是 '--jobs'？\n"),
    (["rn"], "用法：jixiao [选项] 命令 [参数]...\n运行 jixiao --help 查看帮助。\n\n错误：没有命令 rn。 是不是 'run'？\n"),
    (["mail", "<TMP>", "--sender", "a@b.cn"], "用法：jixiao mail [选项] OUT_DIR\n运行 jixiao mail --help 查看帮助。\n\n"
     "错误：缺少选项 --smtp-host。\n"),
    (["template", "--roster", "<TMP>"], "用法：jixiao template [选项]\n运行 jixiao template --help 查看帮助。\n\n"
     "错误：'--roster' 的值无效：“<TMP>”是文件夹，这里需要文件。\n"),
])
def test_usage_errors_are_chinese(argv: list[str], stderr: str, tmp_path: Path) -> None:
    argv = [a.replace("<TMP>", str(tmp_path)) for a in argv]
    assert _invoke(*argv, tmp=tmp_path) == (2, "", stderr)


def test_help_is_chinese() -> None:
    code, out, _ = _invoke("run", "--help")
    assert code == 0 and out.startswith("用法：jixiao run [选项] INBOX...\n")
    assert "\n选项：\n" in out and "显示本帮助并退出。" in out and "[默认：out]" in out
    assert not re.search(r"Usage|Options|Show this|default:", out)
    code, out, _ = _invoke("--help")
    assert "\n命令：\n" in out and "用法：jixiao [选项] 命令 [参数]...\n" in out


@pytest.mark.parametrize("argv", [["--debug", "run"], ["run", "--debug"], ["run", "-o", "x", "--debug"]])
def test_debug_is_accepted_anywhere(argv: list[str], tmp_path: Path) -> None:
    from toolkit.cli import main as cli_main

    ctx = cli_main.make_context("jixiao", [*argv, str(tmp_path)])
    assert ctx.params == {"debug": True}
