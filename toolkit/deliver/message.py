"""One unit's message: its draft from results.json (subject, body, attachments) and its MIME bytes.

Everything that ends up in a header comes from clerks' workbooks, so it is untrusted: one-line
text is stripped of control characters, the names shown are stripped of specials, and attachment
parts are built from pre-encoded ASCII header lines (RFC 2047/2231, see ``_attachment_part``).
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import quote

from toolkit.problems import Problem
from toolkit.results import RESULTS_FILE, UnitResult
from toolkit.text import emails, names
from toolkit.text.numbers import num, to_decimal

MAX_ATTACHMENTS_BYTES = 20 * 1024 * 1024  # most mail servers refuse messages over 20–25 MB

_CONTENT_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
}

# Headers built by assignment fold themselves (RFC 2047 for non-ASCII). refold_source="none" keeps
# the pre-folded ASCII lines of attachment parts exactly as written (the stdlib folder would encode
# a long MIME type such as the .docx one as an encoded word, which clients don't recognise).
_POLICY = policy.SMTP.clone(refold_source="none")


class UnitFailure(Exception):
    """This unit cannot be mailed; the message (Chinese) says why. The run goes on."""


# ---------------------------------------------------------------------------------------------
# Untrusted text


def one_line(value: object, limit: int = 200) -> str:
    """Text safe for a header or a terminal line: no control/format/separator characters."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") else c
                   for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def display_name(value: object) -> str:
    """A display name for a header: one line, without the characters that need quoting."""
    # Address() quotes specials itself; dropping them as well keeps the header plain.
    return re.sub(r"[\"<>,;:@\\()\[\]]", "", one_line(value, 60)).strip()


def safe_file_stem(name: str, limit: int = 80) -> str:
    """A file name stem for Windows and Unix: no / \\ : * ? " < > |, control chars, leading dots."""
    return names.safe_file_stem(one_line(name, 1000), limit, fallback="未命名")


# ---------------------------------------------------------------------------------------------
# results.json → drafts


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Draft:
    """One message, before it gets Date/Message-ID."""

    key: str
    file: str
    status: str
    label: str
    year: str
    to: tuple[Address, ...]  # every valid address of the 联系邮箱 cell
    subject: str
    body: str
    attachments: tuple[Attachment, ...]

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


def _out_file(out_dir: Path, rel: object, what: str) -> Path:
    """The file ``rel`` (relative to OUT) names, refusing anything that leaves OUT."""
    if not isinstance(rel, str) or not rel.strip():
        raise UnitFailure(f"{RESULTS_FILE} 中没有{what}的文件路径，请重新运行 jixiao run")
    shown = one_line(rel, 120)
    pure = PurePosixPath(rel.replace("\\", "/"))
    if (pure.is_absolute() or PureWindowsPath(rel).drive or ".." in pure.parts
            or any(unicodedata.category(c) == "Cc" for c in rel)):
        raise UnitFailure(f"{RESULTS_FILE} 中的{what}路径“{shown}”不在输出文件夹内，已拒绝发送")
    root = out_dir.resolve()
    path = (root / pure).resolve()
    if not path.is_relative_to(root):
        raise UnitFailure(f"{RESULTS_FILE} 中的{what}路径“{shown}”指向输出文件夹以外，已拒绝发送")
    if not path.is_file():
        raise UnitFailure(f"找不到{what} {shown}，请重新运行 jixiao run")
    return path


def _attachment(path: Path, display: str) -> Attachment:
    suffix = path.suffix.lower()
    name = safe_file_stem(Path(display).stem, 120) + suffix
    return Attachment(name, _CONTENT_TYPES.get(suffix, "application/octet-stream"), path.read_bytes())


def _score(value: object) -> str:
    """A score as results.json holds it (already rounded to cents): 99.0 → 99; text shown as is."""
    d = to_decimal(value)
    return num(d) if d is not None else one_line(value, 20)


def _problem_lines(problems: Iterable[Problem], start: int) -> list[str]:
    lines: list[str] = []
    for p in problems:
        sheet, cell = one_line(p.sheet, 40), one_line(p.cell, 20)
        where = f"{sheet}!{cell}" if sheet and cell else sheet
        message = one_line(p.message, 500)
        lines.append(f"  {start + len(lines)}. {where}：{message}" if where else f"  {start + len(lines)}. {message}")
    return lines


def _greeting(unit: UnitResult, name: str) -> str:
    contact = display_name(unit.contact_name)
    return f"{name}{contact}同志：" if contact else f"{name}："


def _ok_body(unit: UnitResult, name: str, year: str, signature: str, has_pdf: bool) -> str:
    levels = unit.levels if isinstance(unit.levels, Mapping) else {}
    level_lines = [f"  {one_line(k, 40)}：{_score(v)} 分" for k, v in levels.items()]
    warnings = _problem_lines(unit.warnings, 1)
    lines = [
        _greeting(unit, name), "",
        f"　　您好！贵单位报送的{year}年度部门整体支出绩效自评填报表（{one_line(unit.file, 120)}）"
        "已审核通过，现将自评结果反馈如下：", "",
        f"  自评总分：{_score(unit.total)} 分",
        f"  评价等级：{one_line(unit.grade, 20)}",
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


def _invalid_body(unit: UnitResult, name: str, year: str, signature: str) -> str:
    errors = _problem_lines(unit.errors, 1)
    warnings = _problem_lines(unit.warnings, len(errors) + 1)
    lines = [
        _greeting(unit, name), "",
        f"　　您好！贵单位报送的{year}年度部门整体支出绩效自评填报表（{one_line(unit.file, 120)}）"
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


def recipients(unit: UnitResult) -> tuple[Address, ...]:
    """Every valid address of the unit's 联系邮箱; UnitFailure when it cannot be mailed at all."""
    if unit.status == "unreadable":
        raise UnitFailure("填报表无法读取，没有单位名称和联系邮箱，无法发送；请另行通知该单位重新报送")
    raw_email = unit.contact_email
    if raw_email is None or (isinstance(raw_email, str) and not raw_email.strip()):
        where = "项目自评表" if unit.is_project else "填报表“基本信息”"
        raise UnitFailure(f"{where}中没有填写联系邮箱，无法发送")
    parsed = emails.parse(raw_email)
    if not parsed.good:
        raise UnitFailure(f"联系邮箱“{one_line(raw_email, 80)}”中没有有效的邮箱地址，无法发送；请与该单位核实邮箱")
    display = display_name(unit.contact_name)
    return tuple(Address(display_name=display, username=a.split("@")[0], domain=a.split("@")[1]) for a in parsed.good)


def unit_key(unit: UnitResult) -> str:
    """The unit in the send log: "<unit_code or name>/<year>"."""
    return f"{one_line(unit.unit_code, 40) or unit_label(unit)}/{one_line(unit.fiscal_year, 8)}"


def unit_label(unit: UnitResult) -> str:
    return one_line(unit.unit_name, 100) or safe_file_stem(PurePosixPath(one_line(unit.file, 200)).stem)


def report_files(out_dir: Path, unit: UnitResult) -> list[Path]:
    """The report of a valid unit, and its PDF when ``jixiao run --pdf`` wrote one."""
    files = [_out_file(out_dir, unit.report, "报告")]
    pdf_rel = str(PurePosixPath(str(unit.report).replace("\\", "/")).with_suffix(".pdf"))
    try:
        files.append(_out_file(out_dir, pdf_rel, "PDF 报告"))  # written by `jixiao run --pdf`
    except UnitFailure:
        pass
    return files


def draft_for(out_dir: Path, unit: UnitResult, signature: str) -> Draft:
    """The message for one unit of results.json; UnitFailure (or OSError) when it cannot be mailed."""
    file, status = one_line(unit.file, 200), unit.status
    to = recipients(unit)
    name = unit_label(unit)
    year = one_line(unit.fiscal_year, 8)
    key = unit_key(unit)

    if status == "ok":
        files = report_files(out_dir, unit)
        has_pdf = len(files) == 2
        subject = f"【绩效自评结果】{name}{year}年度部门整体支出绩效自评报告"
        body = _ok_body(unit, name, year, signature, has_pdf)
    else:
        returned = _out_file(out_dir, unit.returned, "退回的填报表")
        files = [returned]
        subject = f"【请修改后重新报送】{name}{year}年度绩效自评填报表"
        body = _invalid_body(unit, name, year, signature)

    if sum(p.stat().st_size for p in files) > MAX_ATTACHMENTS_BYTES:
        raise UnitFailure(f"附件超过 {MAX_ATTACHMENTS_BYTES // 1024 // 1024} MB，邮件服务器会拒收，请另行发送")
    attachments = tuple(_attachment(p, p.name) for p in files)
    return Draft(key=key, file=file, status=str(status), label=name, year=year, to=to,
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


def _attachment_part(att: Attachment) -> EmailMessage:
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


def render(draft: Draft, sender: Address, cc: Sequence[Address], *, dry_run: bool) -> tuple[bytes, str | None]:
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
