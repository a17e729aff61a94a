"""The ``jixiao`` command line: a thin click layer over the library.

Each command parses options, calls one library function, renders the result and sets the exit code
(spec 01): check/run 0 = all valid, 1 = some invalid/unreadable, 2 = usage error.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime
from pathlib import Path

import click

from toolkit.errors import JixiaoError
from toolkit.rules.loader import SchemeError, builtin_ids, load_scheme
from toolkit.text.numbers import exact

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
INTERRUPTED = "已中断（Ctrl-C）：未写完的文件已丢弃，已有的结果未改动；重新运行同一命令即可完成。"

_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def one_line(text: str) -> str:
    """One console line per problem: pasted line breaks and control characters become a space."""
    return _BREAKS.sub(" ", text)


# --------------------------------------------------------------------------- click's own strings in Chinese
_ZH = {  # click's message ids (gettext) → what the officer reads
    "Usage:": "用法：", "Options": "选项", "Commands": "命令", "Positional arguments": "参数",
    "Error: {message}": "错误：{message}", "Try '{command} {option}' for help.": "运行 {command} {option} 查看帮助。",
    "Show this message and exit.": "显示本帮助并退出。", "Show the version and exit.": "显示版本号并退出。",
    "Missing argument": "缺少参数", "Missing option": "缺少选项", "Missing parameter": "缺少参数",
    "Missing command.": "缺少命令。", "No such option {name!r}.": "没有选项 {name}。",
    "No such command {name!r}.": "没有命令 {name}。",
    "Did you mean {possibility}?": "是不是 {possibility}？", "(Did you mean one of: {possibilities}?)": "（是不是以下之一：{possibilities}？）",
    "Got unexpected extra argument ({args})": "多余的参数（{args}）",
    "Got unexpected extra arguments ({args})": "多余的参数（{args}）",
    "Option {name!r} requires an argument.": "选项 {name} 后面需要一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name} 后面需要 {nargs} 个值。",
    "Option {name!r} does not take a value.": "选项 {name} 不需要值。",
    "Invalid value: {message}": "值无效：{message}", "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "file": "文件", "directory": "文件夹", "path": "路径",
    "{name} {filename!r} does not exist.": "{name}“{filename}”不存在。",
    "{name} {filename!r} is a file.": "“{filename}”是文件，这里需要文件夹。",
    "{name} {filename!r} is a directory.": "“{filename}”是文件夹，这里需要文件。",
    "{name} {filename!r} is not readable.": "{name}“{filename}”无法读取。",
    "{name} {filename!r} is not writable.": "{name}“{filename}”无法写入。",
    "{value!r} is not a valid {number_type}.": "“{value}”不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在 {range} 范围内。",
    "default: {default}": "默认：{default}", "required": "必填", "Aborted!": "已中止。",
    "{value!r} is not {choice}.": "“{value}”无效，只能是 {choice}。",
    "{value!r} is not one of {choices}.": "“{value}”无效，只能是以下之一：{choices}。",
    "{value!r} does not match the format {format}.": "“{value}”格式不对，应为 {format}。",
    "{value!r} does not match the formats {formats}.": "“{value}”格式不对，应为 {formats} 之一。",
}
_NUMBER_TYPES = {"integer": "整数", "integer range": "整数", "float": "数字", "float range": "数字"}


def _gettext(message: str) -> str:
    return _ZH.get(message, message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return _gettext(singular if n == 1 else plural)


def _missing_message(self: click.MissingParameter) -> str:
    """click's “Missing argument 'X'.” in Chinese: 缺少参数 INBOX（收件箱文件夹）。"""
    hint = self.param_hint if self.param_hint is not None else (
        self.param.get_error_hint(self.ctx) if self.param is not None and self.ctx is not None else "")
    kind = self.param_type or (self.param.param_type_name if self.param is not None else "parameter")
    what = {"argument": "参数", "option": "选项"}.get(kind, "参数")
    return f"缺少{what} {str(hint).strip(chr(39))}。{self.message or ''}"


def _speak_chinese() -> None:
    """Every click module looks its strings up through ``_``/``ngettext`` at call time: point them here."""
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.types

    for mod in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.types):
        if hasattr(mod, "_"):
            mod._ = _gettext  # type: ignore[attr-defined]
        if hasattr(mod, "ngettext"):
            mod.ngettext = _ngettext  # type: ignore[attr-defined]
    for t, zh in ((click.types.INT, "整数"), (click.types.FLOAT, "数字")):
        t.name = zh
    click.types.STRING.name = "文字"
    click.IntRange.name = _NUMBER_TYPES["integer range"]
    click.exceptions.MissingParameter.format_message = _missing_message  # type: ignore[method-assign]


_speak_chinese()


class _Formatter(click.HelpFormatter):
    """Headings and the usage line with Chinese punctuation (用法：…, 选项：)."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, "用法：" if prefix is None else prefix)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")


class _Context(click.Context):
    formatter_class = _Formatter


class _Command(click.Command):
    """A command whose usage line reads 用法：jixiao run [选项] INBOX."""

    context_class = _Context

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("options_metavar", "[选项]")
        super().__init__(*args, **kwargs)


class _Group(click.Group):
    """Unexpected errors become one Chinese line (exit 2); the traceback only with --debug.
    ``--debug`` is accepted anywhere on the line (it is moved in front of the subcommand)."""

    command_class = _Command
    context_class = _Context

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("options_metavar", "[选项]")
        kwargs.setdefault("subcommand_metavar", "命令 [参数]...")
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug", *(a for i, a in enumerate(args) if i >= end or a != "--debug")]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        from toolkit.write.atomic import DiskFull, is_disk_full  # lazy (toolkit/__init__.py)

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except (KeyboardInterrupt, click.Abort):
            click.echo(INTERRUPTED, err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except JixiaoError as e:  # the package's own errors carry a Chinese message: one line, exit 2
            click.echo(f"错误：{str(e).rstrip('。')}。", err=True)
            ctx.exit(EXIT_USAGE)
        except Exception as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            if is_disk_full(e):
                folder = Path(getattr(e, "filename", None) or ".").parent
                msg = str(DiskFull(folder))
            elif isinstance(e, PermissionError):
                msg = f"没有权限写入或文件正被其他程序（如 Excel、WPS）打开：{e.filename or e}，请关闭后重试"
            elif isinstance(e, OSError):
                msg = f"无法读写文件：{e.strerror or e}（{e.filename or ''}）"
            else:
                msg = f"程序出错：{type(e).__name__}: {e}"
            click.echo(f"错误：{msg}。加 --debug 可查看详细信息。", err=True)
            ctx.exit(EXIT_USAGE)


def _scheme_or_usage(name: str | None):  # type: ignore[no-untyped-def]
    try:
        return load_scheme(name) if name else None
    except SchemeError as e:
        raise click.UsageError(str(e)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="出错时显示完整的错误堆栈（供技术人员排查）。")
@click.version_option(package_name="jixiao", message="jixiao %(version)s")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """部门整体支出绩效自评工具箱：下发填报表、校验、评分、生成自评报告、汇总、发送结果。

    \b
    示例：
      jixiao template -o 下发/             生成空白填报表
      jixiao check 收件箱/                 只校验，不生成文件
      jixiao run 收件箱/ -o 结果/          校验、评分并生成报告和汇总表
      jixiao mail 结果/ --smtp-host smtp.example.com --sender jxg@example.com --dry-run
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        os.environ["JIXIAO_DEBUG"] = "1"  # worker processes print their tracebacks too


@main.command("schemes")
def schemes_cmd() -> None:
    """列出内置评分方案（编号、名称、总分）。

    \b
    示例：
      jixiao schemes
    """
    for sid in builtin_ids():
        s = load_scheme(sid)
        click.echo(f"{s.id}\t{s.title}\t{exact(s.total)}分")


@main.command("template")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="输出文件夹。")
@click.option("--form", "form_name", type=click.Choice(["dept", "project"]), default=None,
              help="表样：dept 部门整体支出绩效自评填报表（默认），project 项目支出绩效自评表。")
@click.option("--scheme", "scheme_name", default=None,
              help="评分方案编号或 .yaml 文件（默认 jianghua-2023；--form project 时默认 mof-project-2020）。")
@click.option("--year", type=click.IntRange(2000, 2100), default=None, help="评价年度，预填到填报表中。")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="单位名册 .xlsx（列：单位名称、单位编码、所属地区、联系人、联系邮箱），每个单位生成一份预填的填报表。")
@click.option("--deadline", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="日期",
              help="报送截止日期（如 2024-04-30），写入填表说明。")
@click.option("--method", default=None, help="报送方式（如“电子邮件发送至 jxg@example.com”），写入填表说明。")
@click.option("--contact", default=None, help="联系人及电话（如“绩效股 张三 0746-1234567”），写入填表说明。")
@click.pass_context
def template_cmd(ctx: click.Context, out_dir: Path, form_name: str | None, scheme_name: str | None,
                 year: int | None, roster: Path | None, deadline: datetime | None, method: str | None,
                 contact: str | None) -> None:
    """生成标准填报表（空白，或按名册每个单位一份）。

    \b
    示例：
      jixiao template -o 下发/ --year 2023
      jixiao template -o 下发/ --roster 单位名册.xlsx --year 2023
      jixiao template -o 下发/ --deadline 2024-04-30 --contact "绩效股 张三 0746-1234567"
      jixiao template --form project -o 下发/ --roster 单位名册.xlsx --year 2023
    """
    from toolkit import fields  # lazy (toolkit/__init__.py)
    from toolkit.forms import template  # lazy (toolkit/__init__.py)
    from toolkit.read.roster import RosterError, read_roster  # lazy (toolkit/__init__.py)

    scheme = _scheme_or_usage(scheme_name)
    form = fields.form(form_name or (scheme.form if scheme is not None else fields.DEPT.name))
    if scheme is None:
        scheme = load_scheme(form.default_scheme)
    elif scheme.form != form.name:
        raise click.UsageError(f"评分方案 {scheme.id} 用于{fields.form(scheme.form).title}表，不能生成"
                               f"{form.title}表（--form {form.name}）；请换用 --form {scheme.form} 或另选评分方案。")
    try:
        units = read_roster(roster) if roster is not None else None
    except RosterError as e:
        raise click.UsageError(str(e)) from None
    notice = template.notice_values(deadline.date() if deadline else None, method, contact)
    paths = template.write_templates(scheme, out_dir, year=year, units=units, notice=notice)
    for p in paths:
        click.echo(str(p))
    click.echo(f"已生成 {len(paths)} 份填报表。", err=True)


@main.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--scheme", "scheme_name", default=None, help="评分方案编号或 .yaml 文件（默认按填报表中的方案）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出问题清单。")
@click.pass_context
def check_cmd(ctx: click.Context, paths: tuple[Path, ...], scheme_name: str | None, as_json: bool) -> None:
    """校验填报表（文件或文件夹），不写任何文件。

    每个问题一行：文件名: 工作表!单元格: 说明（修改建议）。

    \b
    示例：
      jixiao check 收件箱/
      jixiao check 县教育局.xlsx --json
    """
    from toolkit import batch  # lazy (toolkit/__init__.py)

    scheme = _scheme_or_usage(scheme_name)
    result = batch.check_paths(list(paths), scheme)
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        for line in result.lines():
            click.echo(one_line(line))
        click.echo(result.check_tally(), err=True)
    ctx.exit(EXIT_OK if result.all_valid else EXIT_INVALID)


@main.command("run")
@click.argument("inbox", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out"),
              show_default=True, help="输出文件夹。")
@click.option("--scheme", "scheme_name", default=None, help="评分方案编号或 .yaml 文件（默认按填报表中的方案）。")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="并行进程数（默认 CPU 核数）。")
@click.option("--pdf", is_flag=True, help="同时用 LibreOffice 生成 PDF 版报告（用于结果公开）。")
@click.option("--overwrite", is_flag=True,
              help="覆盖输出文件夹中被手工修改过的报告和退回表（默认不覆盖，新文件另存为“…（新）”）。")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="单位名册（.xlsx/.xls/.csv，与 template --roster 相同）：列出未报送的单位，名册中的邮箱补充填报表中空缺的邮箱。")
@click.option("--prefer", type=click.Choice(["newest"]), default=None,
              help="同一单位同一年度报送了两份时，按较新的一份（报告日期，其次文件修改时间）处理，另一份列出待核。")
@click.option("--previous", type=click.Path(exists=True, path_type=Path), default=None,
              help="上年的 results.json（或其所在文件夹）：汇总表增加与上年比较。")
@click.pass_context
def run_cmd(ctx: click.Context, inbox: tuple[Path, ...], out_dir: Path, scheme_name: str | None,
            jobs: int | None, pdf: bool, overwrite: bool, roster: Path | None, prefer: str | None,
            previous: Path | None) -> None:
    """处理一个文件夹（或几个文件）内的全部填报表：校验、评分、生成报告、退回表和汇总表。

    \b
    输出（在 -o 指定的文件夹下）：
      reports/    合格单位的自评报告 .docx（--pdf 时另有 .pdf）
      returned/   有错误的填报表，错误单元格已标出
      汇总表.xlsx  全部单位的得分、等级、排名、问题清单（--roster 时另有“未报送”）
      汇总分析报告.docx  财政局向上报送的汇总分析（等级分布、薄弱指标、主要问题、结果应用建议；--previous 时比上年）
    results.json 以上全部结果（供其他程序读取）

    \b
    示例：
      jixiao run 收件箱/ -o 结果/
      jixiao run 收件箱/ -o 结果/ --roster 单位名册.xlsx --previous 上年结果/results.json
      jixiao run 收件箱/ -o 结果/ --jobs 2 --pdf
    """
    from toolkit import batch  # lazy (toolkit/__init__.py)
    from toolkit.read.roster import RosterError, read_roster  # lazy (toolkit/__init__.py)
    from toolkit.results import Results, ResultsError  # lazy (toolkit/__init__.py)

    scheme = _scheme_or_usage(scheme_name)
    try:
        units = read_roster(roster) if roster is not None else None
        last = None
        if previous is not None:
            last = Results.load(previous / "results.json" if previous.is_dir() else previous)
    except (RosterError, ResultsError) as e:
        raise click.UsageError(str(e)) from None
    officer = batch.Officer(roster=units, prefer=prefer, previous=last)
    try:
        result = batch.run(list(inbox), out_dir, scheme=scheme, jobs=jobs, pdf=pdf, overwrite=overwrite,
                           progress=sys.stderr.isatty(), officer=officer)
    except batch.NoWorkbooks as e:
        for line in batch.skipped_lines(e.skipped):
            click.echo(one_line(line), err=True)
        click.echo(f"{e}：{'、'.join(str(p) for p in inbox)}", err=True)
        ctx.exit(EXIT_USAGE)
        return
    for line in batch.skipped_lines(result.skipped):
        click.echo(one_line(line), err=True)
    for msg in result.notices:
        click.echo(one_line(msg), err=True)
    for line in result.run_lines(f"{out_dir.as_posix().rstrip('/')}/"):
        click.echo(one_line(line))
    ctx.exit(EXIT_OK if result.all_valid else EXIT_INVALID)


@main.command("mail")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--smtp-host", required=True, help="SMTP 服务器地址。")
@click.option("--smtp-port", type=click.IntRange(1, 65535), default=None, help="端口（默认 SSL 465，否则 25 / STARTTLS 587）。")
@click.option("--ssl", "security", flag_value="ssl", help="使用 SSL 连接。")
@click.option("--starttls", "security", flag_value="starttls", help="使用 STARTTLS。")
@click.option("--user", default=None, help="登录用户名；密码从环境变量 JIXIAO_SMTP_PASSWORD 读取。")
@click.option("--sender", required=True, help="发件人地址，可写作“名称 <地址>”，名称用于邮件落款。")
@click.option("--cc", multiple=True, help="抄送地址（可多次使用）。")
@click.option("--dry-run", is_flag=True, help="不发送，只在 OUT/mail/ 下生成 .eml 文件。")
@click.option("--resend", is_flag=True, help="重新发送已发送过的邮件。")
@click.pass_context
def mail_cmd(ctx: click.Context, out_dir: Path, smtp_host: str, smtp_port: int | None, security: str | None,
             user: str | None, sender: str, cc: tuple[str, ...], dry_run: bool, resend: bool) -> None:
    """把结果发给各单位联系邮箱：合格单位发报告，退回单位发退回表和问题清单。

    只读取 OUT/results.json 及其中列出的文件；已发送的不会重复发送（除非 --resend）。

    \b
    示例：
      jixiao mail 结果/ --smtp-host smtp.example.com --ssl --user jxg@example.com --sender jxg@example.com
      jixiao mail 结果/ --smtp-host localhost --sender jxg@example.com --dry-run
    """
    from toolkit.deliver import mail  # lazy (toolkit/__init__.py)
    from toolkit.write.atomic import OutputError  # lazy (toolkit/__init__.py)

    try:
        options = mail.MailOptions(host=smtp_host, port=smtp_port, security=security, user=user, sender=sender,
                                   cc=cc, dry_run=dry_run, resend=resend)
        result = mail.send_all(out_dir, options)
    except (mail.MailUsageError, OutputError) as e:
        click.echo(f"错误：{e}", err=True)
        ctx.exit(EXIT_USAGE)
        return
    for line in result.lines():
        click.echo(one_line(line))
    click.echo(result.tally(), err=True)
    ctx.exit(EXIT_OK if result.all_sent else EXIT_INVALID)


def run_main() -> None:  # pragma: no cover - console entry with --debug handling
    main()
