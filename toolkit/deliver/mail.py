"""E-mail each unit its result: the report (status ok) or the returned workbook and problem list.

Reads only ``OUT/results.json`` and the files it names. Every successful send is appended to
``OUT/mail/sent.jsonl`` at once (flushed and fsync'd), so a re-run — after a crash, or after some
units corrected their workbooks — sends only what has not been sent yet (``resend`` overrides).
With ``dry_run`` each message is written to ``OUT/mail/*.eml`` instead, and nothing connects.

Everything that ends up in a header comes from clerks' workbooks, so it is untrusted: one-line
text is stripped of control characters, addresses must pass a strict check, and attachment parts
are built from pre-encoded ASCII header lines (see ``_attachment_part``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import smtplib
import ssl
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal
from urllib.parse import quote

from toolkit.text import emails
from toolkit.write import names
from toolkit.write.atomic import OutLock, inside, write_bytes

PASSWORD_ENV = "JIXIAO_SMTP_PASSWORD"
MAIL_DIR = "mail"
SENT_LOG = "sent.jsonl"
RESULTS = "results.json"
MAX_ATTACHMENTS_BYTES = 20 * 1024 * 1024  # most mail servers refuse messages over 20–25 MB
DEFAULT_SIGNATURE = "财政局"
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, None: 25}

_CONTENT_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
}

# Headers built by assignment fold themselves (RFC 2047 for non-ASCII). refold_source="none" keeps
# the pre-folded ASCII lines of attachment parts exactly as written (the stdlib folder would encode
# a long MIME type such as the .docx one as an encoded word, which clients don't recognise).
_POLICY = policy.SMTP.clone(refold_source="none")

State = Literal["sent", "dry_run", "skipped", "failed", "unknown"]
UNKNOWN_HINT = "可能已发送，请向收件人核实；确认未收到后用 --resend 重发"


class MailUsageError(Exception):
    """Bad options, unreadable results.json, or no connection/login: nothing (more) can be sent."""


class _UnitFailure(Exception):
    """This unit cannot be mailed; the message (Chinese) says why. The run goes on."""


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
            return f"邮件（试运行）：生成 {self.count('dry_run')} 封，跳过 {skipped} 封，失败 {failed} 封"
        unknown = self.count("unknown")
        return (f"邮件：发送 {self.count('sent')} 封，跳过 {skipped} 封，失败 {failed} 封"
                + (f"，结果未知 {unknown} 封（{UNKNOWN_HINT}）" if unknown else ""))


@dataclass(frozen=True)
class _Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class _Draft:
    """One message, before it gets Date/Message-ID."""

    key: str
    file: str
    status: str
    label: str
    year: str
    to: tuple[Address, ...]  # every valid address of the 联系邮箱 cell
    subject: str
    body: str
    attachments: tuple[_Attachment, ...]

    @property
    def to_text(self) -> str:
        return "; ".join(a.addr_spec for a in self.to)

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256(self.subject.encode("utf-8"))
        for a in self.attachments:
            h.update(b"\0" + a.filename.encode("utf-8") + b"\0" + str(len(a.data)).encode() + b"\0")
            h.update(a.data)
        return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Untrusted text


def one_line(value: object, limit: int = 200) -> str:
    """Text safe for a header or a terminal line: no control/format/separator characters."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") else c
                   for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    return Address(display_name=_display_name(name), username=user, domain=domain)


def _display_name(value: object) -> str:
    # Address() quotes specials itself; dropping them as well keeps the header plain.
    return re.sub(r"[\"<>,;:@\\()\[\]]", "", one_line(value, 60)).strip()


def safe_file_stem(name: str, limit: int = 80) -> str:
    """A file name stem for Windows and Unix: no / \\ : * ? " < > |, control chars, leading dots."""
    return names.safe_file_stem(one_line(name, 1000), limit, fallback="未命名")


# ---------------------------------------------------------------------------------------------
# results.json → drafts


def _load_results(out_dir: Path) -> list[Any]:
    path = out_dir / RESULTS
    if not path.is_file():
        raise MailUsageError(f"{out_dir} 中没有 {RESULTS}，请先运行 jixiao run 生成结果")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MailUsageError(f"{RESULTS} 无法读取（{one_line(e, 120)}），请重新运行 jixiao run") from None
    units = data.get("units") if isinstance(data, dict) else None
    if not isinstance(units, list):
        raise MailUsageError(f"{RESULTS} 格式不对（缺少 units 列表），请重新运行 jixiao run")
    return units


def _inside(out_dir: Path, rel: object, what: str) -> Path:
    """The file ``rel`` (relative to OUT) names, refusing anything that leaves OUT."""
    if not isinstance(rel, str) or not rel.strip():
        raise _UnitFailure(f"{RESULTS} 中没有{what}的文件路径，请重新运行 jixiao run")
    shown = one_line(rel, 120)
    pure = PurePosixPath(rel.replace("\\", "/"))
    if (pure.is_absolute() or PureWindowsPath(rel).drive or ".." in pure.parts
            or any(unicodedata.category(c) == "Cc" for c in rel)):
        raise _UnitFailure(f"{RESULTS} 中的{what}路径“{shown}”不在输出文件夹内，已拒绝发送")
    root = out_dir.resolve()
    path = (root / pure).resolve()
    if not path.is_relative_to(root):
        raise _UnitFailure(f"{RESULTS} 中的{what}路径“{shown}”指向输出文件夹以外，已拒绝发送")
    if not path.is_file():
        raise _UnitFailure(f"找不到{what} {shown}，请重新运行 jixiao run")
    return path


def _attachment(path: Path, display: str) -> _Attachment:
    suffix = path.suffix.lower()
    name = safe_file_stem(Path(display).stem, 120) + suffix
    return _Attachment(name, _CONTENT_TYPES.get(suffix, "application/octet-stream"), path.read_bytes())


def _num(value: object) -> str:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return one_line(value, 20)
    text = f"{d:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _problem_lines(problems: object, severity: str, start: int) -> list[str]:
    lines: list[str] = []
    for p in problems if isinstance(problems, list) else []:
        if not isinstance(p, dict) or p.get("severity") != severity:
            continue
        sheet, cell = one_line(p.get("sheet"), 40), one_line(p.get("cell"), 20)
        where = f"{sheet}!{cell}" if sheet and cell else sheet
        message = one_line(p.get("message"), 500)
        lines.append(f"  {start + len(lines)}. {where}：{message}" if where else f"  {start + len(lines)}. {message}")
    return lines


def _greeting(unit: dict[str, Any], name: str) -> str:
    contact = _display_name(unit.get("contact_name"))
    return f"{name}{contact}同志：" if contact else f"{name}："


def _ok_body(unit: dict[str, Any], name: str, year: str, signature: str, has_pdf: bool) -> str:
    levels = unit.get("levels")
    levels = levels if isinstance(levels, dict) else {}
    level_lines = [f"  {one_line(k, 40)}：{_num(v)} 分" for k, v in levels.items()]
    warnings = _problem_lines(unit.get("problems"), "warning", 1)
    lines = [
        _greeting(unit, name), "",
        f"　　您好！贵单位报送的{year}年度部门整体支出绩效自评填报表（{one_line(unit.get('file'), 120)}）"
        "已审核通过，现将自评结果反馈如下：", "",
        f"  自评总分：{_num(unit.get('total'))} 分",
        f"  评价等级：{one_line(unit.get('grade'), 20)}",
    ]
    if level_lines:
        lines += ["  各级指标得分：", *["  " + s for s in level_lines]]
    if warnings:
        lines += ["", "  以下提示不影响评分，请核对，今后填报时注意：", *warnings]
    attached = "自评报告（Word 版，另附 PDF 版）" if has_pdf else "自评报告（Word 版）"
    lines += [
        "",
        f"　　附件为贵单位{year}年度部门整体支出绩效{attached}，请查收并核对。"
        "如有疑问，请回复本邮件或与我们联系。",
        "", "　　此致", "敬礼！", "", signature,
    ]
    return "\n".join(lines) + "\n"


def _invalid_body(unit: dict[str, Any], name: str, year: str, signature: str) -> str:
    errors = _problem_lines(unit.get("problems"), "error", 1)
    warnings = _problem_lines(unit.get("problems"), "warning", len(errors) + 1)
    lines = [
        _greeting(unit, name), "",
        f"　　您好！贵单位报送的{year}年度部门整体支出绩效自评填报表（{one_line(unit.get('file'), 120)}）"
        "经审核存在以下问题，暂不能生成自评报告，请修改后重新报送。", "",
    ]
    if errors:
        lines += ["  一、必须修改的错误：", *errors]
    if warnings:
        lines += ["", "  二、请核对的提示（不影响评分）：" if errors else "  请核对的提示（不影响评分）：", *warnings]
    lines += [
        "",
        "　　附件为退回的填报表，有问题的单元格已标出。请直接在该表上修改"
        "（不要增删工作表、行或列），保存为 .xlsx 后重新报送。",
        "", "　　此致", "敬礼！", "", signature,
    ]
    return "\n".join(lines) + "\n"


def _draft(out_dir: Path, unit: object, signature: str) -> _Draft:
    if not isinstance(unit, dict):
        raise _UnitFailure(f"{RESULTS} 中有一项格式不对，已跳过")
    file, status = one_line(unit.get("file"), 200), unit.get("status")
    if status == "unreadable":
        raise _UnitFailure("填报表无法读取，没有单位名称和联系邮箱，无法发送；请另行通知该单位重新报送")
    if status not in ("ok", "invalid"):
        raise _UnitFailure(f"{RESULTS} 中的状态“{one_line(status, 20)}”无法识别")
    raw_email = unit.get("contact_email")
    if raw_email is None or (isinstance(raw_email, str) and not raw_email.strip()):
        raise _UnitFailure("填报表“基本信息”中没有填写联系邮箱，无法发送")
    parsed = emails.parse(raw_email)
    if not parsed.good:
        raise _UnitFailure(f"联系邮箱“{one_line(raw_email, 80)}”中没有有效的邮箱地址，无法发送；请与该单位核实邮箱")

    name = one_line(unit.get("unit_name"), 100) or safe_file_stem(PurePosixPath(file).stem)
    year = one_line(unit.get("fiscal_year"), 8)
    code = one_line(unit.get("unit_code"), 40)
    key = f"{code or name}/{year}"
    display = _display_name(unit.get("contact_name"))
    to = tuple(Address(display_name=display, username=a.split("@")[0], domain=a.split("@")[1]) for a in parsed.good)

    if status == "ok":
        files = [_inside(out_dir, unit.get("report"), "报告")]
        pdf_rel = str(PurePosixPath(str(unit["report"]).replace("\\", "/")).with_suffix(".pdf"))
        try:
            files.append(_inside(out_dir, pdf_rel, "PDF 报告"))  # written by `jixiao run --pdf`
        except _UnitFailure:
            pass
        has_pdf = len(files) == 2
        subject = f"【绩效自评结果】{name}{year}年度部门整体支出绩效自评报告"
        body = _ok_body(unit, name, year, signature, has_pdf)
    else:
        returned = _inside(out_dir, unit.get("returned"), "退回的填报表")
        files = [returned]
        subject = f"【请修改后重新报送】{name}{year}年度绩效自评填报表"
        body = _invalid_body(unit, name, year, signature)

    if sum(p.stat().st_size for p in files) > MAX_ATTACHMENTS_BYTES:
        raise _UnitFailure(f"附件超过 {MAX_ATTACHMENTS_BYTES // 1024 // 1024} MB，邮件服务器会拒收，请另行发送")
    attachments = tuple(_attachment(p, p.name) for p in files)
    return _Draft(key=key, file=file, status=str(status), label=name, year=year, to=to,
                  subject=one_line(subject, 250), body=body, attachments=attachments)


# ---------------------------------------------------------------------------------------------
# MIME


def _encoded_words(text: str, max_len: int = 64) -> list[str]:
    """RFC 2047 'B' encoded words of at most ``max_len`` chars, never splitting a character."""
    words: list[str] = []
    chunk = ""
    for ch in text:
        if chunk and len(base64.b64encode((chunk + ch).encode("utf-8"))) + 12 > max_len:
            words.append(chunk)
            chunk = ch
        else:
            chunk += ch
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words]


def _rfc2231(param: str, text: str) -> list[str]:
    """``param*=utf-8''…`` on one line when short enough, else RFC 2231 continuations."""
    value = quote(text.encode("utf-8"), safe="")
    single = f"{param}*=utf-8''{value}"
    if len(single) < 900:  # a header line may be up to 998 characters (RFC 5322)
        return [single]
    pieces, rest, i = [], value, 0
    while rest:
        cut = min(60, len(rest))
        while "%" in rest[max(0, cut - 2):cut]:  # never split a %XX escape
            cut -= 1
        head = f"{param}*{i}*=utf-8''" if i == 0 else f"{param}*{i}*="
        pieces.append(head + rest[:cut])
        rest, i = rest[cut:], i + 1
    return pieces


def _attachment_part(att: _Attachment) -> EmailMessage:
    """A MIME part whose headers are written out by hand, in plain ASCII.

    Attachment names are Chinese. Encoding chosen for what Outlook, Foxmail, QQ mail and webmail
    actually display (the same as Thunderbird and MimeKit's compatibility mode):
      - Content-Disposition ``filename*=utf-8''…`` (RFC 2231), the standard form, used by every
        client that implements RFC 2231;
      - Content-Type ``name="=?utf-8?b?…?="`` (RFC 2047 encoded words), formally not allowed in a
        parameter but what Outlook and older Chinese clients fall back to when they ignore RFC
        2231 (otherwise they show "untitled attachment" / ATT00001.bin / tcmime.*.bin).
    Each parameter appears once (repeating ``filename`` in both forms makes strict parsers keep
    whichever comes first). Plain ASCII names are a simple quoted ``filename``.
    """
    name = att.filename
    if name.isascii():
        ctype = [f"Content-Type: {att.content_type};", f' name="{name}"']
        disp = ["Content-Disposition: attachment;", f' filename="{name}"']
    else:
        words = _encoded_words(name)
        ctype = [f"Content-Type: {att.content_type};", ' name="' + words[0]] + [" " + w for w in words[1:]]
        ctype[-1] += '"'
        params = _rfc2231("filename", name)
        disp = ["Content-Disposition: attachment;"] + [f" {p};" for p in params]
        disp[-1] = disp[-1].rstrip(";")
    body = base64.encodebytes(att.data).decode("ascii").replace("\n", "\r\n")
    raw = "\r\n".join([*ctype, *disp, "Content-Transfer-Encoding: base64", "", body])
    part = BytesParser(policy=_POLICY).parsebytes(raw.encode("ascii"))
    assert isinstance(part, EmailMessage)
    return part


def _message(draft: _Draft, sender: Address, cc: Sequence[Address], *, dry_run: bool) -> tuple[bytes, str | None]:
    """The message as sent (CRLF line ends, pure ASCII) and its Message-ID (None for dry runs).

    Dry-run .eml files have no Date and no Message-ID so that re-running gives identical files;
    the MIME boundary is derived from the content hash for the same reason (it cannot occur in
    the parts, which are all base64, whose alphabet has no "_").
    """
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = sender
    msg["To"] = list(draft.to)
    if cc:
        msg["Cc"] = list(cc)
    msg["Subject"] = draft.subject
    message_id = None
    if not dry_run:
        message_id = make_msgid(domain=sender.domain)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = message_id
    msg.set_content(draft.body, cte="base64")
    msg.make_mixed()
    for att in draft.attachments:
        msg.attach(_attachment_part(att))
    msg.set_boundary(f"=_jixiao_{draft.content_hash[:32]}")
    return msg.as_bytes(policy=_POLICY), message_id


# ---------------------------------------------------------------------------------------------
# Send log


class _SentLog:
    """``mail/sent.jsonl``: an "attempt" line is written (and fsync'd) before a message goes out, then
    "sent" or "failed" after; an attempt with no outcome (a crash, a line dropped after DATA) is an
    unknown outcome, never retried blindly. Lines without "state" (older logs) are "sent"."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state: dict[tuple[str, str, str], str] = {}
        self._cut = False  # the last line was cut short by a crash: start a new line
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            self._cut = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                try:
                    e = json.loads(line)
                    self.state[(str(e["unit"]), str(e["hash"]), str(e["to"]))] = str(e.get("state", "sent"))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash: that send is simply not known

    @staticmethod
    def _key(draft: _Draft) -> tuple[str, str, str]:
        return (draft.key, draft.content_hash, draft.to_text)

    def last(self, draft: _Draft) -> str | None:
        return self.state.get(self._key(draft))

    def has(self, draft: _Draft) -> bool:
        return self.last(draft) == "sent"

    def pending(self, draft: _Draft) -> bool:
        """A previous attempt whose outcome is unknown."""
        return self.last(draft) in ("attempt", "unknown")

    def add(self, draft: _Draft, message_id: str | None, state: str = "sent") -> None:
        entry = {"unit": draft.key, "file": draft.file, "status": draft.status, "to": draft.to_text,
                 "subject": draft.subject, "hash": draft.content_hash, "message_id": message_id,
                 "state": state, "at": datetime.now().astimezone().isoformat(timespec="seconds")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(("\n" if self._cut else "") + json.dumps(entry, ensure_ascii=False) + "\n")
            self._cut = False
            fh.flush()
            os.fsync(fh.fileno())
        self.state[self._key(draft)] = state


# ---------------------------------------------------------------------------------------------
# SMTP


class _Refused(Exception):
    """The server refused this one message (recipient, size, content)."""


class _Unknown(Exception):
    """The line dropped after the message was handed over: it may or may not have been delivered."""


class _Dropped(Exception):
    """The line dropped before the message was handed over: safe to send again."""


def _transmit(conn: smtplib.SMTP, sender: str, recipients: list[str], data: bytes) -> dict[str, tuple[int, bytes]]:
    """``SMTP.sendmail`` in steps, so that a drop before the message text (safe to retry) is told
    apart from a drop after it (the server may have it)."""
    conn.ehlo_or_helo_if_needed()
    opts = [f"size={len(data)}"] if conn.does_esmtp and conn.has_extn("size") else []
    code, resp = conn.mail(sender, opts)
    if code == 421:
        raise _Dropped(f"{code} {resp!r}")
    if code != 250:
        conn.rset()
        raise smtplib.SMTPSenderRefused(code, resp, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for rcpt in recipients:
        code, resp = conn.rcpt(rcpt)
        if code == 421:
            raise _Dropped(f"{code} {resp!r}")
        if code not in (250, 251):
            refused[rcpt] = (code, resp)
    if len(refused) == len(recipients):
        conn.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    code, resp = conn.docmd("data")
    if code == 421:
        raise _Dropped(f"{code} {resp!r}")
    if code != 354:
        conn.rset()
        raise smtplib.SMTPDataError(code, resp)
    try:  # from here on the server may have the message
        q = smtplib._quote_periods(data)  # type: ignore[attr-defined]
        if q[-2:] != b"\r\n":
            q += b"\r\n"
        conn.send(q + b".\r\n")
        code, resp = conn.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        raise _Unknown(str(e)) from None
    if code == 421:
        raise _Unknown(f"{code} {resp!r}")
    if code != 250:
        raise smtplib.SMTPDataError(code, resp)
    return refused


class _Smtp:
    """One connection for the whole run, opened on first use, reconnected once if dropped."""

    def __init__(self, options: MailOptions, password: str | None) -> None:
        self.options = options
        self._password = password
        self._conn: smtplib.SMTP | None = None
        self.sent = 0

    def _where(self) -> str:
        return f"{self.options.host}:{self.options.effective_port}"

    def _hide(self, text: object) -> str:
        text = str(text)
        return one_line(text.replace(self._password, "***") if self._password else text, 200)

    def _open(self) -> smtplib.SMTP:
        o = self.options
        context = o.ssl_context or ssl.create_default_context()
        conn: smtplib.SMTP | None = None
        try:
            if o.security == "ssl":
                conn = smtplib.SMTP_SSL(o.host, o.effective_port, timeout=o.timeout, context=context)
            else:
                conn = smtplib.SMTP(o.host, o.effective_port, timeout=o.timeout)
            conn.ehlo()
            if o.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if o.user:
                conn.login(o.user, self._password or "")
        except smtplib.SMTPAuthenticationError as e:
            self._discard(conn)
            raise MailUsageError(f"登录邮件服务器 {self._where()} 失败：用户名或密码不对"
                                 f"（服务器返回 {e.smtp_code}）。密码请放在环境变量 {PASSWORD_ENV} 中") from None
        except UnicodeEncodeError:  # smtplib sends AUTH data as ASCII; never echo the offending text
            self._discard(conn)
            raise MailUsageError("登录用户名或密码中含有中文等非 ASCII 字符，SMTP 登录不支持，"
                                 "请改用只含字母、数字和符号的密码（授权码）") from None
        except smtplib.SMTPNotSupportedError:
            self._discard(conn)
            what = "STARTTLS" if o.security == "starttls" and o.user is None else "STARTTLS 或登录（AUTH）"
            raise MailUsageError(f"邮件服务器 {self._where()} 不支持{what}，请检查 --ssl/--starttls/--user") from None
        except ssl.SSLError as e:
            self._discard(conn)
            raise MailUsageError(f"与邮件服务器 {self._where()} 建立加密连接失败（{self._hide(e)}），"
                                 "请检查端口和 --ssl/--starttls") from None
        except (smtplib.SMTPException, OSError) as e:
            self._discard(conn)
            raise MailUsageError(f"无法连接邮件服务器 {self._where()}（{self._hide(e)}），"
                                 "请检查 --smtp-host、--smtp-port 和网络") from None
        return conn

    @staticmethod
    def _discard(conn: smtplib.SMTP | None) -> None:
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def send(self, sender: str, recipients: list[str], data: bytes,
             before: Callable[[], None] = lambda: None) -> dict[str, tuple[int, bytes]]:
        """Send one message; returns the refused Cc recipients. Raises _Refused, _Unknown or
        MailUsageError. ``before`` runs once, connected, before anything of the message is sent."""
        for attempt in (1, 2):
            if self._conn is None:
                try:
                    self._conn = self._open()
                except MailUsageError as e:
                    if self.sent == 0 and attempt == 1:
                        raise
                    raise MailUsageError(f"{e}。{self._progress()}") from None
            if attempt == 1:
                before()
            try:
                refused = _transmit(self._conn, sender, recipients, data)
            except smtplib.SMTPRecipientsRefused as e:
                raise _Refused(self._refusal(e)) from None
            except _Unknown as e:
                self._discard(self._conn)
                self._conn = None
                raise _Unknown(f"与邮件服务器 {self._where()} 的连接在邮件内容发出后中断（{self._hide(e)}），"
                               f"{UNKNOWN_HINT}") from None
            except _Dropped as e:
                dropped: Exception = e
            except smtplib.SMTPResponseException as e:
                if e.smtp_code != 421:  # 421 = the server is closing the connection
                    raise _Refused(self._refusal(e)) from None
                dropped = e
            except smtplib.SMTPServerDisconnected as e:
                dropped = e
            except smtplib.SMTPException as e:
                raise _Refused(self._refusal(e)) from None
            except OSError as e:  # socket errors, timeouts before the message text was sent
                dropped = e
            else:
                self.sent += 1
                return refused
            self._discard(self._conn)
            self._conn = None
            if attempt == 2:
                raise MailUsageError(f"与邮件服务器 {self._where()} 的连接中断（{self._hide(dropped)}）。"
                                     f"{self._progress()}") from None
        raise AssertionError("unreachable")

    def _progress(self) -> str:
        return (f"本次已发送 {self.sent} 封（已记入 {MAIL_DIR}/{SENT_LOG}），"
                "重新运行本命令会接着发送其余邮件，不会重复")

    def _refusal(self, e: Exception) -> str:
        if isinstance(e, smtplib.SMTPRecipientsRefused):
            codes = "；".join(f"{addr} {code} {self._hide(resp.decode('utf-8', 'replace'))}"
                             for addr, (code, resp) in e.recipients.items())
            return f"邮件服务器拒收（{codes}），请核对联系邮箱"
        if isinstance(e, smtplib.SMTPResponseException):
            resp = e.smtp_error.decode("utf-8", "replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
            return f"邮件服务器拒收（{e.smtp_code} {self._hide(resp)}）"
        return f"邮件服务器拒收（{self._hide(e)}）"

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._discard(self._conn)
            self._conn = None


# ---------------------------------------------------------------------------------------------
# The job


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


def _send_units(out_dir: Path, units: list[Any], options: MailOptions, sender: Address, cc: list[Address],
                password: str | None) -> MailResult:
    notices: list[str] = []
    if options.user and options.security is None and not options.dry_run:
        notices.append("未使用 --ssl 或 --starttls，登录密码将以明文传输；建议加密连接")
    signature = sender.display_name or DEFAULT_SIGNATURE
    mail_dir = out_dir / MAIL_DIR
    log = _SentLog(mail_dir / SENT_LOG)
    smtp = _Smtp(options, password)
    used_names: set[str] = set()
    outcomes: list[UnitMail] = []
    try:
        for unit in units:
            outcomes.append(_one(out_dir, unit, options, sender, cc, signature, log, smtp, used_names))
    finally:
        smtp.close()
    return MailResult(units=tuple(outcomes), dry_run=options.dry_run, notices=tuple(notices))


def _label(unit: object) -> tuple[str, str]:
    if not isinstance(unit, dict):
        return "（无法识别的条目）", ""
    file = one_line(unit.get("file"), 200)
    return one_line(unit.get("unit_name"), 100) or file or "（未知单位）", file


def _one(out_dir: Path, unit: object, options: MailOptions, sender: Address, cc: list[Address], signature: str,
         log: _SentLog, smtp: _Smtp, used_names: set[str]) -> UnitMail:
    label, file = _label(unit)
    try:
        draft = _draft(out_dir, unit, signature)
    except (_UnitFailure, OSError) as e:
        reason = str(e) if isinstance(e, _UnitFailure) else f"读取附件失败（{one_line(e, 120)}）"
        return UnitMail(label, file, "failed", detail=reason)
    to = draft.to_text
    if not options.resend and log.has(draft):
        return UnitMail(label, file, "skipped", to=to)
    if not options.resend and log.pending(draft):
        return UnitMail(label, file, "unknown", to=to, detail=f"上次发送时连接中断，{UNKNOWN_HINT}")
    data, message_id = _message(draft, sender, cc, dry_run=options.dry_run)
    if options.dry_run:
        kind = "报告" if draft.status == "ok" else "退回"
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
    except _Refused as e:
        log.add(draft, message_id, "failed")
        return UnitMail(label, file, "failed", to=to, detail=str(e))
    except _Unknown as e:
        log.add(draft, message_id, "unknown")
        return UnitMail(label, file, "unknown", to=to, detail=str(e))
    except MailUsageError:
        if attempted:
            log.add(draft, message_id, "failed")  # the line dropped before the message: not sent
        raise
    if all(r in refused for r in rcpts):  # only possible when a Cc was accepted
        log.add(draft, message_id, "failed")
        return UnitMail(label, file, "failed", to=to, detail="邮件服务器拒收该单位的联系邮箱（抄送已送达），请核对联系邮箱")
    log.add(draft, message_id)
    note = f"被拒收：{'、'.join(refused)}" if refused else ""
    return UnitMail(label, file, "sent", to=to, detail=note)

