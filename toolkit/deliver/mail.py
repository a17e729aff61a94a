"""E-mail each unit its results: the reports (status ok) or the returned workbooks and problem lists.

One message per unit and address set carries all the unit's workbooks, its department form and
every project form (``bundle``); a unit with only a department workbook gets the message it
always had.

Reads only ``OUT/results.json`` (``Results.load``) and the files it names. Every send is logged in
``OUT/mail/sent.jsonl`` at once (``sentlog``), so a re-run — after a crash, or after some units
corrected their workbooks — sends only what has not been sent yet (``resend`` overrides). With
``dry_run`` each message is written to ``OUT/mail/*.eml`` instead, and nothing connects. The
messages are built by ``message``, the connection is ``smtp``; this module holds the options,
the per-unit outcome rules and the result lines.
"""

from __future__ import annotations

import os
import re
import ssl
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from pathlib import Path
from typing import Literal

from toolkit.deliver.bundle import Group, group_draft, group_units
from toolkit.deliver.message import UnitFailure, display_name, one_line, recipients, render, safe_file_stem
from toolkit.deliver.sentlog import MAIL_DIR, SENT_LOG, SentLog
from toolkit.deliver.smtp import (
    DEFAULT_PORTS,
    PASSWORD_ENV,
    UNKNOWN_HINT,
    Refused,
    Smtp,
    SmtpUnavailable,
    Unknown,
)
from toolkit.errors import JixiaoError
from toolkit.problems import OFFICER_ONLY
from toolkit.results import RESULTS_FILE, Results, ResultsError, UnitResult
from toolkit.text import emails
from toolkit.write.atomic import OutLock, inside, write_bytes

DEFAULT_SIGNATURE = "财政局"

State = Literal["sent", "dry_run", "skipped", "failed", "unknown", "officer"]


class MailUsageError(JixiaoError):
    """Bad options, unreadable results.json, or no connection/login: nothing (more) can be sent."""


@dataclass(frozen=True)
class MailOptions:
    host: str
    sender: str  # "jxg@example.com" or "江华县财政局绩效股 <jxg@example.com>"
    port: int | None = None  # None → 465 for ssl, 587 for starttls, else 25
    security: str | None = None  # None | "ssl" | "starttls"
    user: str | None = None  # login name; the password comes only from $JIXIAO_SMTP_PASSWORD
    cc: Sequence[str] = ()
    dry_run: bool = False
    resend: bool = False
    timeout: float = 60.0
    # None → ssl.create_default_context(), which verifies the server's certificate. Pass one that
    # trusts a private CA for an in-house server (the tests use a self-signed certificate).
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False, repr=False)

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS.get(self.security, 25)


@dataclass(frozen=True)
class UnitMail:
    """What happened to one unit of results.json."""

    label: str  # unit name, or the file name when there is none
    file: str
    state: State
    to: str | None = None
    detail: str = ""  # failure reason; .eml path for dry runs; a note for sent ones

    def line(self) -> str:
        who = f"{self.label}（{self.file}）" if self.file and self.file != self.label else self.label
        if self.state == "sent":
            return f"已发送：{who} → {self.to}" + (f"（{self.detail}）" if self.detail else "")
        if self.state == "dry_run":
            return f"已生成（试运行）：{who} → {self.to}：{self.detail}"
        if self.state == "skipped":
            return f"跳过（已发送过）：{who} → {self.to}"
        if self.state == "unknown":
            return f"结果未知：{who} → {self.to}：{self.detail}"
        if self.state == "officer":
            return f"未发送（留给财政局处理）：{who}：{self.detail}"
        return f"失败：{who}：{self.detail}"


@dataclass(frozen=True)
class MailResult:
    units: tuple[UnitMail, ...]
    dry_run: bool = False
    notices: tuple[str, ...] = ()

    def count(self, state: State) -> int:
        return sum(1 for u in self.units if u.state == state)

    @property
    def all_sent(self) -> bool:
        return self.count("failed") == 0 and self.count("unknown") == 0

    def lines(self) -> list[str]:
        return [f"提示：{n}" for n in self.notices] + [u.line() for u in self.units]

    def tally(self) -> str:
        skipped, failed = self.count("skipped"), self.count("failed")
        if self.dry_run:
            held = self.count("officer")
            return (f"邮件（试运行）：生成 {self.count('dry_run')} 封，跳过 {skipped} 封，失败 {failed} 封"
                    + (f"，留给财政局处理 {held} 份" if held else ""))
        unknown, held = self.count("unknown"), self.count("officer")
        return (f"邮件：发送 {self.count('sent')} 封，跳过 {skipped} 封，失败 {failed} 封"
                + (f"，结果未知 {unknown} 封（{UNKNOWN_HINT}）" if unknown else "")
                + (f"，留给财政局处理 {held} 份" if held else ""))


def valid_address(value: object) -> str | None:
    """The bare address if ``value`` is exactly one valid address (emails.address, the rule ``check``
    uses too), else None. A 联系邮箱 with several addresses: use ``emails.addresses``."""
    return emails.address(value)


_NAMED_RE = re.compile(r'\s*(?:"([^"]*)"|([^"<>]*?))\s*<([^<>]*)>\s*')


def _option_address(value: str, what: str, allow_name: bool) -> Address:
    """One address from an option: "a@b.cn" or (``allow_name``) "名称 <a@b.cn>"; else MailUsageError."""
    shown = one_line(value, 80)
    if any(unicodedata.category(c) == "Cc" for c in value) or "," in value or ";" in value:
        raise MailUsageError(f"{what}“{shown}”无效：只能填一个邮箱地址")
    named = _NAMED_RE.fullmatch(value)
    if named and not allow_name:
        raise MailUsageError(f"{what}只填邮箱地址，不要带名称：{shown}")
    name, bare = (named.group(1) or named.group(2) or "", valid_address(named.group(3))) if named else ("", valid_address(value))
    if bare is None:
        raise MailUsageError(f"{what}“{shown}”不是有效的邮箱地址")
    user, domain = bare.split("@")
    return Address(display_name=display_name(name), username=user, domain=domain)


def send_all(out_dir: Path, options: MailOptions) -> MailResult:
    """Mail every unit of ``OUT/results.json``; one result line per unit, failures don't stop the run.

    Raises MailUsageError for bad options, a missing/broken results.json, or when the server cannot
    be reached or refuses the login (CLI exit 2).
    """
    out_dir = Path(out_dir)
    if options.security not in (None, "ssl", "starttls"):
        raise MailUsageError(f"不支持的加密方式：{one_line(options.security, 20)}")
    host = options.host.strip()
    if not host or any(c.isspace() or unicodedata.category(c) == "Cc" for c in host):
        raise MailUsageError(f"SMTP 服务器地址“{one_line(options.host, 80)}”无效")
    sender = _option_address(options.sender, "发件人地址 --sender ", allow_name=True)
    cc = [_option_address(c, "抄送地址 --cc ", allow_name=False) for c in options.cc]
    if options.user is not None and (not options.user or any(unicodedata.category(c) == "Cc" for c in options.user)):
        raise MailUsageError("登录用户名 --user 无效")
    password = None
    if options.user and not options.dry_run:
        password = os.environ.get(PASSWORD_ENV)
        if not password:
            raise MailUsageError(f"使用 --user 登录时，请先在环境变量 {PASSWORD_ENV} 中设置密码")
    with OutLock(out_dir, "mail"):  # a run rewriting OUT, or another mail, must finish first
        return _send_units(out_dir, _load_results(out_dir), options, sender, cc, password)


def _load_results(out_dir: Path) -> tuple[UnitResult, ...]:
    path = out_dir / RESULTS_FILE
    if not path.is_file():  # the usual slip (mail before run): the message it has always had
        raise MailUsageError(f"{out_dir} 中没有 {RESULTS_FILE}，请先运行 jixiao run 生成结果")
    try:
        return tuple(Results.load(path).units)
    except ResultsError as e:
        raise MailUsageError(str(e)) from None


def _send_units(out_dir: Path, units: Sequence[UnitResult], options: MailOptions, sender: Address,
                cc: list[Address], password: str | None) -> MailResult:
    notices: list[str] = []
    if options.user and options.security is None and not options.dry_run:
        notices.append("未使用 --ssl 或 --starttls，登录密码将以明文传输；建议加密连接")
    signature = sender.display_name or DEFAULT_SIGNATURE
    mail_dir = out_dir / MAIL_DIR
    log = SentLog(mail_dir / SENT_LOG)
    smtp = Smtp(host=options.host, port=options.effective_port, security=options.security, user=options.user,
                password=password, timeout=options.timeout, ssl_context=options.ssl_context)
    used_names: set[str] = set()
    outcomes: list[UnitMail | None] = []
    mailable: list[tuple[UnitResult, tuple[Address, ...]]] = []
    line_of: dict[int, int] = {}  # id(unit) → its place among the result lines
    for unit in units:  # units that cannot be mailed at all fail alone, in results.json's order
        outcome, to = _screen(unit)
        line_of[id(unit)] = len(outcomes)
        outcomes.append(outcome)
        if to:
            mailable.append((unit, to))
    try:
        for group in group_units(mailable):  # one line per message, where its first unit was
            at = min(line_of[id(u)] for u in group.units)
            outcomes[at] = _one(out_dir, group, options, sender, cc, signature, log, smtp, used_names)
    finally:
        smtp.close()
    return MailResult(units=tuple(o for o in outcomes if o is not None), dry_run=options.dry_run,
                      notices=tuple(notices))


def _who(unit: UnitResult) -> tuple[str, str]:
    file = one_line(unit.file, 200)
    return one_line(unit.unit_name, 100) or file or "（未知单位）", file


def _screen(unit: UnitResult) -> tuple[UnitMail | None, tuple[Address, ...]]:
    """(its outcome, no recipients) for a unit that cannot be mailed; else (None, its recipients)."""
    label, file = _who(unit)
    officer = [p for p in unit.problems if p.code in OFFICER_ONLY]
    if officer:  # e.g. a duplicate: the clerk cannot fix it, the officer removes the stale copy
        return UnitMail(label, file, "officer", detail=one_line(officer[0].message, 200)), ()
    try:
        return None, recipients(unit)
    except UnitFailure as e:
        return UnitMail(label, file, "failed", detail=str(e)), ()


def _one(out_dir: Path, group: Group, options: MailOptions, sender: Address, cc: list[Address],
         signature: str, log: SentLog, smtp: Smtp, used_names: set[str]) -> UnitMail:
    label, file = _who(group.units[0])
    if len(group.units) > 1:
        file = f"{file} 等 {len(group.units)} 份"
    try:
        draft = group_draft(out_dir, group, signature)
    except (UnitFailure, OSError) as e:
        reason = str(e) if isinstance(e, UnitFailure) else f"读取附件失败（{one_line(e, 120)}）"
        return UnitMail(label, file, "failed", detail=reason)
    to = draft.to_text
    if not options.resend and log.has(draft):
        return UnitMail(label, file, "skipped", to=to)
    if not options.resend and log.pending(draft):
        return UnitMail(label, file, "unknown", to=to, detail=f"上次发送时连接中断，{UNKNOWN_HINT}")
    data, message_id = render(draft, sender, cc, dry_run=options.dry_run)
    if options.dry_run:
        kind = {"ok": "报告", "invalid": "退回"}.get(draft.status, "结果")
        stem = f"{safe_file_stem(draft.label + draft.year, 80)}_{kind}"
        name, n = f"{stem}.eml", 1
        while name in used_names:
            n += 1
            name = f"{stem}_{n}.eml"
        used_names.add(name)
        write_bytes(inside(out_dir, f"{MAIL_DIR}/{name}"), data)
        return UnitMail(label, file, "dry_run", to=to, detail=f"{MAIL_DIR}/{name}")
    attempted: list[bool] = []

    def before() -> None:  # logged before sending: a crash or a drop leaves "unknown", never "unsent"
        log.add(draft, message_id, "attempt")
        attempted.append(True)

    try:
        rcpts = [a.addr_spec for a in draft.to]
        refused = smtp.send(sender.addr_spec, list(dict.fromkeys([*rcpts, *(c.addr_spec for c in cc)])), data, before)
    except Refused as e:
        log.add(draft, message_id, "failed")
        return UnitMail(label, file, "failed", to=to, detail=str(e))
    except Unknown as e:
        log.add(draft, message_id, "unknown")
        return UnitMail(label, file, "unknown", to=to, detail=str(e))
    except SmtpUnavailable as e:
        if attempted:
            log.add(draft, message_id, "failed")  # the line dropped before the message: not sent
        raise MailUsageError(str(e)) from None
    if all(r in refused for r in rcpts):  # only possible when a Cc was accepted
        log.add(draft, message_id, "failed")
        return UnitMail(label, file, "failed", to=to, detail="邮件服务器拒收该单位的联系邮箱（抄送已送达），请核对联系邮箱")
    log.add(draft, message_id)
    note = f"被拒收：{'、'.join(refused)}" if refused else ""
    return UnitMail(label, file, "sent", to=to, detail=note)

