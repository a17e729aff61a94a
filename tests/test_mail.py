"""jixiao mail against a real SMTP server (aiosmtpd on 127.0.0.1), no mocks.

Each OUT folder is built in tmp_path: a results.json as spec 01 describes it and small real .docx /
.xlsx files. Messages the server receives are parsed back with the stdlib and compared with the
Chinese originals and the files' bytes.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import docx
import pytest
import xlsxwriter
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from toolkit.cli import main
from toolkit.deliver import mail, message

SENDER = "jxg@czj.example.com"
PASSWORD = "s3cret-Pa55-w0rd"  # a test password that must never show up anywhere
OK_NAME = "江华瑶族自治县政务服务中心"
OK_REPORT = f"reports/{OK_NAME}2023年度部门整体支出绩效自评报告.docx"
EDU_FILE = "县教育局（第二次报送）.xlsx"
EVIL_NAME = "县林业局\r\nBcc: evil@x.com"

# The login tests use AUTH without TLS on purpose (127.0.0.1 only).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


# ---------------------------------------------------------------------------------------------
# A real SMTP server


@dataclass
class Collector:
    """aiosmtpd handler: keeps every message; refuses listed recipients; can drop one connection."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    drops: int = 0  # close the connection after the next n messages' text (outcome unknown to the client)
    drops_at_mail: int = 0  # close the connection at the next n MAIL FROM (nothing handed over yet)
    connections: int = 0
    datas: int = 0  # message texts received, kept or not
    on_data: Any = None  # called with no argument when a message text arrives

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: Any) -> str:
        if self.drops_at_mail:
            self.drops_at_mail -= 1
            server.transport.close()
            return "421 bye"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.datas += 1
        if self.on_data:
            self.on_data()
        if self.drops:
            self.drops -= 1
            server.transport.close()
            return "421 bye"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK"

    def parsed(self) -> list[EmailMessage]:
        out = []
        for _, _, raw in self.messages:
            m = email.message_from_bytes(raw, policy=policy.default)
            assert isinstance(m, EmailMessage)
            out.append(m)
        return out

    def by_to(self) -> dict[str, EmailMessage]:
        return {m["To"].addresses[0].addr_spec: m for m in self.parsed()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    handler: Collector
    port: int


def _serve(**kwargs: Any) -> Any:
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller, Server(handler, controller.port)


@pytest.fixture
def smtp_server():  # type: ignore[no-untyped-def]
    controller, server = _serve()
    yield server
    controller.stop()


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"jxg" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_server():  # type: ignore[no-untyped-def]
    controller, server = _serve(authenticator=_authenticator, auth_require_tls=False, auth_required=True)
    yield server
    controller.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (EC key: fast) and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "cert.pem", d / "key.pem"


def _server_ctx(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*tls_files)
    return ctx


def _client_ctx(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    # Verifies the server against our self-signed certificate (hostname = IP SAN 127.0.0.1).
    return ssl.create_default_context(cafile=str(tls_files[0]))


# ---------------------------------------------------------------------------------------------
# OUT folders


def write_docx(path: Path, text: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    d = docx.Document()
    d.add_paragraph(text)
    d.save(str(path))
    return path.read_bytes()


def write_xlsx(path: Path, text: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("基本信息").write_string(0, 0, text)
    wb.close()
    return path.read_bytes()


def unit(file: str, status: str = "ok", **kw: Any) -> dict[str, Any]:
    """A results.json unit entry (spec 01), with unit fields unless unreadable."""
    u: dict[str, Any] = {"file": file, "status": status, "unit_name": None, "unit_code": None, "fiscal_year": None,
                         "contact_name": None, "contact_email": None, "total": None, "grade": None,
                         "levels": None, "indicators": None, "problems": [], "report": None, "returned": None}
    if status != "unreadable":
        u.update(unit_name=Path(file).stem, fiscal_year=2023)
    if status == "ok":
        u.update(total=99.0, grade="优", levels={"投入": 10.0, "过程": 49.0, "产出及效率": 40.0},
                 indicators=[{"id": "staff_control", "path": ["投入", "预算配置", "在职人员控制率"],
                              "points": 5.0, "value": 1.0, "score": 5.0}])
    u.update(kw)
    return u


def ok_unit() -> dict[str, Any]:
    return unit(f"{OK_NAME}.xlsx", unit_name=OK_NAME, unit_code="412001", contact_name="李华",
                contact_email="zwfwzx@example.com", report=OK_REPORT,
                problems=[{"severity": "warning", "code": "scheme_mismatch", "sheet": "填表说明", "cell": "B2",
                           "cells": ["填表说明!B2"], "field": None, "message": "填报表的评分方案与本次不一致"}])


def edu_unit() -> dict[str, Any]:
    return unit(EDU_FILE, "invalid", unit_name="县教育局", unit_code="412002", contact_email="jyj@example.com",
                returned=f"returned/{EDU_FILE}",
                problems=[
                    {"severity": "warning", "code": "w1", "sheet": "基本信息", "cell": "C12", "cells": ["基本信息!C12"],
                     "field": "contact_phone", "message": "联系电话位数不对"},
                    {"severity": "error", "code": "budget_identity", "sheet": "收支情况", "cell": "C7",
                     "cells": ["收支情况!C5", "收支情况!C7"], "field": "spend_basic",
                     "message": "收支不平衡：收入合计 ≠ 支出合计 + 结余"},
                    {"severity": "error", "code": "required", "sheet": "基本信息", "cell": "C4", "cells": ["基本信息!C4"],
                     "field": "region", "message": "所属地区未填写"},
                ])


def write_out(out: Path, units: list[dict[str, Any]]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for u in units:
        for key in ("report", "returned"):
            rel = u.get(key)
            if isinstance(rel, str) and not rel.startswith("..") and not Path(rel).is_absolute():
                p = out / rel
                if not p.exists():
                    (write_docx if p.suffix == ".docx" else write_xlsx)(p, f"{u.get('unit_name')} {key}")
    (out / "results.json").write_text(json.dumps({"scheme": "jianghua-2023", "units": units}, ensure_ascii=False,
                                                 indent=2), encoding="utf-8")
    return out


@pytest.fixture
def good_out(tmp_path: Path) -> Path:
    """Two units that can both be mailed: one ok (with a PDF), one invalid."""
    out = write_out(tmp_path / "out", [ok_unit(), edu_unit()])
    (out / OK_REPORT).with_suffix(".pdf").write_bytes(b"%PDF-1.4 fake pdf for the test\n")
    return out


@pytest.fixture
def mixed_out(tmp_path: Path) -> Path:
    """Every way a unit can fail, next to units that go out."""
    (tmp_path / "secret.docx").write_bytes(b"outside OUT")
    return write_out(tmp_path / "mixed", [
        ok_unit(),
        edu_unit(),
        unit("坏文件.xlsx", "unreadable", problems=[{"severity": "error", "code": "not_xlsx", "sheet": None,
                                                    "cell": None, "cells": [], "field": None,
                                                    "message": "无法读取：不是有效的 Excel 文件"}]),
        unit("县财政局.xlsx", report="reports/县财政局2023年度部门整体支出绩效自评报告.docx"),  # no e-mail
        unit("县林业局.xlsx", unit_name=EVIL_NAME, contact_email="lyj@example.com", contact_name="王五\nBcc: x@y.com",
             report="reports/县林业局2023年度部门整体支出绩效自评报告.docx"),
        unit("县水利局.xlsx", contact_email="slj@example.com； zhang@example.com",  # two addresses: both get it
             report="reports/县水利局2023年度部门整体支出绩效自评报告.docx"),
        unit("县交通局.xlsx", contact_email="jtj@example.com", report="../secret.docx"),
    ])


def opts(port: int, **kw: Any) -> mail.MailOptions:
    return mail.MailOptions(host="127.0.0.1", port=port, sender=kw.pop("sender", SENDER), timeout=5, **kw)


def attachments(m: EmailMessage) -> dict[str, bytes]:
    out = {}
    for a in m.iter_attachments():
        assert isinstance(a, EmailMessage)
        name = a.get_filename()
        assert name is not None
        payload = a.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out[name] = payload
    return out


def body(m: EmailMessage) -> str:
    part = m.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


# ---------------------------------------------------------------------------------------------
# Sending


def test_sends_report_and_returned_workbook(good_out: Path, smtp_server: Server) -> None:
    result = mail.send_all(good_out, opts(smtp_server.port, cc=("gk@czj.example.com",)))

    assert result.all_sent and result.tally() == "邮件：发送 2 封，跳过 0 封，失败 0 封"
    assert [ln.split("：")[0] for ln in result.lines()] == ["已发送", "已发送"]
    envelopes = {rcpts[0]: (frm, rcpts) for frm, rcpts, _ in smtp_server.handler.messages}
    assert envelopes == {"zwfwzx@example.com": (SENDER, ["zwfwzx@example.com", "gk@czj.example.com"]),
                         "jyj@example.com": (SENDER, ["jyj@example.com", "gk@czj.example.com"])}

    got = smtp_server.handler.by_to()
    ok = got["zwfwzx@example.com"]
    assert ok["Subject"] == f"【绩效自评结果】{OK_NAME}2023年度部门整体支出绩效自评报告"
    assert ok["To"].addresses[0].display_name == "李华"
    assert ok["From"].addresses[0].addr_spec == SENDER
    assert ok["Cc"].addresses[0].addr_spec == "gk@czj.example.com"
    assert ok["Message-ID"] and ok["Date"]
    report = good_out / OK_REPORT
    assert attachments(ok) == {report.name: report.read_bytes(),
                               report.with_suffix(".pdf").name: report.with_suffix(".pdf").read_bytes()}
    text = body(ok)
    for expected in ("李华同志", "99 分", "优", "投入：10 分", "过程：49 分", "产出及效率：40 分",
                     "1. 填表说明!B2：填报表的评分方案与本次不一致", "PDF"):
        assert expected in text

    bad = got["jyj@example.com"]
    assert bad["Subject"] == "【请修改后重新报送】县教育局2023年度绩效自评填报表"
    assert attachments(bad) == {EDU_FILE: (good_out / "returned" / EDU_FILE).read_bytes()}
    text = body(bad)
    # errors first, then warnings, numbered on
    i1 = text.index("1. 收支情况!C7：收支不平衡")
    i2 = text.index("2. 基本信息!C4：所属地区未填写")
    i3 = text.index("3. 基本信息!C12：联系电话位数不对")
    assert i1 < i2 < i3


def test_wire_format_is_ascii_and_names_use_both_encodings(good_out: Path, smtp_server: Server) -> None:
    mail.send_all(good_out, opts(smtp_server.port))
    for _, _, raw in smtp_server.handler.messages:
        assert raw.isascii()
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
        text = raw.decode("ascii")
        # RFC 2231 in Content-Disposition, RFC 2047 name= in Content-Type (for Outlook & co.)
        assert "filename*=utf-8''" in text and ' name="=?utf-8?b?' in text
        assert 'filename="=?' not in text  # each parameter once
    ok = smtp_server.handler.by_to()["zwfwzx@example.com"]
    docx_part = next(iter(ok.iter_attachments()))
    assert docx_part.get_content_type() == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert docx_part.get_param("name") == Path(OK_REPORT).name  # the RFC 2047 fallback decodes too
    # An RFC 2231-only reader (the stdlib's legacy parser) finds the same name
    for msg, (_, _, raw) in zip(smtp_server.handler.parsed(), smtp_server.handler.messages, strict=True):
        legacy = email.message_from_bytes(raw)
        assert [p.get_filename() for p in legacy.walk() if p.get_filename()] == list(attachments(msg))


def test_hostile_units_fail_alone_and_nothing_is_injected(mixed_out: Path, smtp_server: Server) -> None:
    result = mail.send_all(mixed_out, opts(smtp_server.port))

    assert not result.all_sent
    assert result.tally() == "邮件：发送 4 封，跳过 0 封，失败 3 封"
    lines = result.lines()
    failed = [ln for ln in lines if ln.startswith("失败")]
    assert len(failed) == 3
    assert any("坏文件.xlsx" in ln and "无法读取" in ln for ln in failed)
    assert any("县财政局" in ln and "没有填写联系邮箱" in ln for ln in failed)
    assert any("县水利局" in ln and "slj@example.com; zhang@example.com" in ln for ln in lines if ln.startswith("已发送"))
    assert any("县交通局" in ln and "不在输出文件夹内" in ln for ln in failed)
    assert all("\r" not in ln and "\n" not in ln for ln in lines)

    recipients = [r for _, rcpts, _ in smtp_server.handler.messages for r in rcpts]
    assert sorted(recipients) == ["jyj@example.com", "lyj@example.com", "slj@example.com", "zhang@example.com",
                                  "zwfwzx@example.com"]
    both = smtp_server.handler.by_to()["slj@example.com"]
    assert [a.addr_spec for a in both["To"].addresses] == ["slj@example.com", "zhang@example.com"]
    evil = smtp_server.handler.by_to()["lyj@example.com"]
    assert evil["Bcc"] is None and evil["Cc"] is None
    assert evil["Subject"] == "【绩效自评结果】县林业局 Bcc: evil@x.com2023年度部门整体支出绩效自评报告"
    assert [a.addr_spec for a in evil["To"].addresses] == ["lyj@example.com"]
    raw = next(r for _, rc, r in smtp_server.handler.messages if rc == ["lyj@example.com"])
    assert b"\r\nBcc:" not in raw and b"\nBcc:" not in raw
    assert b"outside OUT" not in b"".join(r for _, _, r in smtp_server.handler.messages)


def test_second_run_sends_nothing_resend_sends_again_and_changes_go_out(good_out: Path, smtp_server: Server) -> None:
    handler = smtp_server.handler
    mail.send_all(good_out, opts(smtp_server.port))
    assert len(handler.messages) == 2
    log = good_out / "mail" / "sent.jsonl"
    entries = [e for x in log.read_text(encoding="utf-8").splitlines() if (e := json.loads(x))["state"] == "sent"]
    assert [(e["unit"], e["to"], e["status"]) for e in entries] == [
        ("412001/2023", "zwfwzx@example.com", "ok"), ("412002/2023", "jyj@example.com", "invalid")]
    assert all(e["message_id"] and len(e["hash"]) == 64 and e["file"] for e in entries)

    again = mail.send_all(good_out, opts(smtp_server.port))
    assert len(handler.messages) == 2 and handler.connections == 1  # nothing to send: no connection either
    assert again.all_sent and again.tally() == "邮件：发送 0 封，跳过 2 封，失败 0 封"
    assert all(ln.startswith("跳过（已发送过）") for ln in again.lines())

    resent = mail.send_all(good_out, opts(smtp_server.port, resend=True))
    assert len(handler.messages) == 4 and resent.count("sent") == 2

    # The officer reruns `jixiao run` after the school bureau corrected its workbook: new report.
    results = json.loads((good_out / "results.json").read_text(encoding="utf-8"))
    edu = results["units"][1]
    edu.update(status="ok", total=88.5, grade="良", levels={"投入": 9.5, "过程": 40.0, "产出及效率": 39.0},
               problems=[], returned=None, report="reports/县教育局2023年度部门整体支出绩效自评报告.docx")
    write_out(good_out, results["units"])
    changed = mail.send_all(good_out, opts(smtp_server.port))
    assert changed.count("sent") == 1 and changed.count("skipped") == 1
    new = email.message_from_bytes(handler.messages[-1][2], policy=policy.default)
    assert new["Subject"] == "【绩效自评结果】县教育局2023年度部门整体支出绩效自评报告"
    assert isinstance(new, EmailMessage) and "88.5 分" in body(new)
    states = [json.loads(x)["state"] for x in log.read_text(encoding="utf-8").splitlines()]
    assert states == ["attempt", "sent"] * 5  # each message: its attempt logged first, then the outcome


def test_a_changed_report_file_is_sent_again(good_out: Path, smtp_server: Server) -> None:
    mail.send_all(good_out, opts(smtp_server.port))
    write_docx(good_out / OK_REPORT, "修改后的报告")
    result = mail.send_all(good_out, opts(smtp_server.port))
    assert result.count("sent") == 1 and result.count("skipped") == 1
    assert attachments(smtp_server.handler.parsed()[-1])[Path(OK_REPORT).name] == (good_out / OK_REPORT).read_bytes()


def test_a_refused_recipient_fails_only_that_unit(good_out: Path, smtp_server: Server) -> None:
    smtp_server.handler.refuse.add("jyj@example.com")
    result = mail.send_all(good_out, opts(smtp_server.port))
    assert not result.all_sent and result.count("sent") == 1
    assert any(ln.startswith("失败") and "jyj@example.com" in ln and "550" in ln for ln in result.lines())
    log = [json.loads(x) for x in (good_out / "mail" / "sent.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [e["state"] for e in log if e["to"] == "jyj@example.com"] == ["attempt", "failed"]
    # once the address works again, only the refused one is sent
    smtp_server.handler.refuse.clear()
    again = mail.send_all(good_out, opts(smtp_server.port))
    assert again.count("sent") == 1 and again.count("skipped") == 1


def test_reconnects_once_when_the_server_drops_the_connection(good_out: Path, smtp_server: Server) -> None:
    smtp_server.handler.drops_at_mail = 1  # before the message text: safe to send again
    result = mail.send_all(good_out, opts(smtp_server.port))
    assert result.all_sent and result.count("sent") == 2
    assert len(smtp_server.handler.messages) == 2 and smtp_server.handler.connections == 2


def test_a_connection_lost_twice_stops_the_run_and_a_rerun_resumes(good_out: Path, smtp_server: Server) -> None:
    mail.send_all(good_out, opts(smtp_server.port, resend=True))  # both sent and logged …
    (good_out / "mail" / "sent.jsonl").write_text(  # … then pretend only the first was (attempt + sent)
        "\n".join((good_out / "mail" / "sent.jsonl").read_text(encoding="utf-8").splitlines()[:2]) + "\n{\"unit\": \"cut",
        encoding="utf-8")
    smtp_server.handler.drops_at_mail = 2
    with pytest.raises(mail.MailUsageError, match="连接中断.*已发送 0 封"):
        mail.send_all(good_out, opts(smtp_server.port))
    result = mail.send_all(good_out, opts(smtp_server.port))
    assert result.count("skipped") == 1 and result.count("sent") == 1


def test_a_line_dropped_after_data_is_not_sent_twice(good_out: Path, smtp_server: Server) -> None:
    log = good_out / "mail" / "sent.jsonl"
    at_data: list[list[str]] = []
    smtp_server.handler.on_data = lambda: at_data.append(
        [json.loads(ln)["state"] for ln in log.read_text(encoding="utf-8").splitlines()])
    smtp_server.handler.drops = 1  # the server has the first message's text, then the line drops
    result = mail.send_all(good_out, opts(smtp_server.port))
    assert smtp_server.handler.datas == 2 and smtp_server.handler.connections == 2  # no blind resend
    assert at_data[0] == ["attempt"]  # recorded before the message went out
    assert [u.state for u in result.units] == ["unknown", "sent"] and not result.all_sent
    line = result.lines()[0]
    assert line.startswith("结果未知：") and "可能已发送，请向收件人核实；确认未收到后用 --resend 重发" in line
    assert "结果未知 1 封" in result.tally()
    assert [json.loads(ln)["state"] for ln in log.read_text(encoding="utf-8").splitlines()] == [
        "attempt", "unknown", "attempt", "sent"]
    # a rerun does not resend it either; --resend does, once
    again = mail.send_all(good_out, opts(smtp_server.port))
    assert [u.state for u in again.units] == ["unknown", "skipped"] and smtp_server.handler.datas == 2
    forced = mail.send_all(good_out, opts(smtp_server.port, resend=True))
    assert [u.state for u in forced.units] == ["sent", "sent"] and smtp_server.handler.datas == 4
    assert [u.state for u in mail.send_all(good_out, opts(smtp_server.port)).units] == ["skipped", "skipped"]


def test_cli_unknown_outcome_exits_1(good_out: Path, smtp_server: Server) -> None:
    smtp_server.handler.drops = 1
    r = _cli(good_out, smtp_server.port)
    assert r.exit_code == 1 and "结果未知" in r.output and "--resend 重发" in r.output


def test_dry_run_writes_eml_and_connects_to_nothing(good_out: Path, mixed_out: Path) -> None:
    closed_port = free_port()  # nothing listens here: any connection attempt would fail
    result = mail.send_all(good_out, opts(closed_port, dry_run=True, user="jxg"))  # no password needed
    assert result.all_sent and result.tally() == "邮件（试运行）：生成 2 封，跳过 0 封，失败 0 封"
    assert all(ln.startswith("已生成（试运行）") for ln in result.lines())
    mail_dir = good_out / "mail"
    emls = sorted(p.name for p in mail_dir.glob("*.eml"))
    assert emls == sorted([f"{OK_NAME}2023_报告.eml", "县教育局2023_退回.eml"])
    assert not (mail_dir / "sent.jsonl").exists()
    assert not list(mail_dir.glob(".*.part"))
    first = {p.name: p.read_bytes() for p in mail_dir.glob("*.eml")}
    m = email.message_from_bytes(first[f"{OK_NAME}2023_报告.eml"], policy=policy.default)
    assert m["Subject"] == f"【绩效自评结果】{OK_NAME}2023年度部门整体支出绩效自评报告"
    assert m["Date"] is None and m["Message-ID"] is None
    assert isinstance(m, EmailMessage)
    assert attachments(m)[Path(OK_REPORT).name] == (good_out / OK_REPORT).read_bytes()
    # deterministic: same bytes on a second dry run
    mail.send_all(good_out, opts(closed_port, dry_run=True))
    assert {p.name: p.read_bytes() for p in mail_dir.glob("*.eml")} == first

    # hostile names give safe file names inside OUT/mail
    res = mail.send_all(mixed_out, opts(closed_port, dry_run=True))
    assert res.count("dry_run") == 4 and res.count("failed") == 3
    names = sorted(p.name for p in (mixed_out / "mail").iterdir())
    assert "县林业局 Bcc evil@x.com2023_报告.eml" in names
    assert all("\r" not in n and "\n" not in n and "/" not in n for n in names)


def test_dry_run_skips_what_was_already_sent(good_out: Path, smtp_server: Server) -> None:
    mail.send_all(good_out, opts(smtp_server.port))
    result = mail.send_all(good_out, opts(smtp_server.port, dry_run=True))
    assert result.count("skipped") == 2 and not list((good_out / "mail").glob("*.eml"))


# ---------------------------------------------------------------------------------------------
# Login and TLS


def test_login_with_password_from_environment(good_out: Path, auth_server: Server,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIXIAO_SMTP_PASSWORD", PASSWORD)
    result = mail.send_all(good_out, opts(auth_server.port, user="jxg"))
    assert result.all_sent and len(auth_server.handler.messages) == 2
    assert any("明文" in ln for ln in result.lines())  # plain connection: warned

    monkeypatch.setenv("JIXIAO_SMTP_PASSWORD", "wrong")
    with pytest.raises(mail.MailUsageError, match="用户名或密码不对"):
        mail.send_all(good_out, opts(auth_server.port, user="jxg", resend=True))

    monkeypatch.delenv("JIXIAO_SMTP_PASSWORD")
    with pytest.raises(mail.MailUsageError, match="JIXIAO_SMTP_PASSWORD"):
        mail.send_all(good_out, opts(auth_server.port, user="jxg", resend=True))


def test_starttls_verified_with_given_context(good_out: Path, tls_files: tuple[Path, Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    controller, server = _serve(tls_context=_server_ctx(tls_files), require_starttls=True,
                                authenticator=_authenticator)
    try:
        monkeypatch.setenv("JIXIAO_SMTP_PASSWORD", PASSWORD)
        result = mail.send_all(good_out, opts(server.port, security="starttls", user="jxg",
                                              ssl_context=_client_ctx(tls_files)))
        assert result.all_sent and len(server.handler.messages) == 2
        assert not any("明文" in ln for ln in result.lines())
        # the default context verifies the certificate: a self-signed one is refused
        with pytest.raises(mail.MailUsageError, match="加密连接失败"):
            mail.send_all(good_out, opts(server.port, security="starttls", resend=True))
    finally:
        controller.stop()


def test_implicit_ssl(good_out: Path, tls_files: tuple[Path, Path]) -> None:
    controller, server = _serve(ssl_context=_server_ctx(tls_files))
    try:
        result = mail.send_all(good_out, opts(server.port, security="ssl", ssl_context=_client_ctx(tls_files)))
        assert result.all_sent and len(server.handler.messages) == 2
    finally:
        controller.stop()


def test_no_server_is_a_usage_error(good_out: Path) -> None:
    with pytest.raises(mail.MailUsageError, match="无法连接邮件服务器"):
        mail.send_all(good_out, opts(free_port()))
    assert not (good_out / "mail" / "sent.jsonl").exists()


# ---------------------------------------------------------------------------------------------
# Options and untrusted values


@pytest.mark.parametrize("bad", ["", "jxg", "a@b.com, c@d.com", "a@b.com;c@d.com", "a@b.com\r\nBcc: e@x.com",
                                 "<a@b.com>x", "a@localhost", "a b@c.com"])
def test_bad_sender_or_cc_is_a_usage_error(good_out: Path, bad: str) -> None:
    with pytest.raises(mail.MailUsageError):
        mail.send_all(good_out, opts(25, sender=bad, dry_run=True))
    with pytest.raises(mail.MailUsageError):
        mail.send_all(good_out, opts(25, cc=(bad,), dry_run=True))


def test_sender_may_carry_a_display_name_used_as_signature(good_out: Path, smtp_server: Server) -> None:
    mail.send_all(good_out, opts(smtp_server.port, sender="江华县财政局绩效股 <jxg@czj.example.com>"))
    m = smtp_server.handler.parsed()[0]
    assert m["From"].addresses[0].display_name == "江华县财政局绩效股"
    assert body(m).rstrip().endswith("江华县财政局绩效股")


def test_missing_or_broken_results_json(tmp_path: Path) -> None:
    with pytest.raises(mail.MailUsageError, match="jixiao run"):
        mail.send_all(tmp_path, opts(25, dry_run=True))
    (tmp_path / "results.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(mail.MailUsageError, match="无法读取"):
        mail.send_all(tmp_path, opts(25, dry_run=True))


@pytest.mark.parametrize("value,expected", [
    ("zwfwzx@example.com", "zwfwzx@example.com"),
    ("  li.hua+jx@mail.example.com.cn ", "li.hua+jx@mail.example.com.cn"),
    ("zwfwzx＠example．com", "zwfwzx@example.com"),  # typed with a Chinese IME
    ("ban@jh.xn--fiqs8s", "ban@jh.xn--fiqs8s"),  # .中国 in punycode
    ("a@b.com, c@d.com", None), ("a@b.com c@d.com", None), ("李华 <a@b.com>", None), ("a@b.com\nBcc: e@x.com", None),
    ("a@b", None), ("@b.com", None), ("a..b@c.com", None), ("a@-b.com", None), ("张@b.com", None),
    (None, None), (12, None), ("", None),
])
def test_valid_address(value: object, expected: str | None) -> None:
    assert mail.valid_address(value) == expected


def test_one_line_and_safe_file_stem() -> None:
    assert message.one_line("县林业局\r\nBcc: evil@x.com\u2028\x00x") == "县林业局 Bcc: evil@x.com x"
    assert message.safe_file_stem('..\\../a/b:c*d?"e<f>g|h') == "abcdefgh"
    assert message.safe_file_stem("CON") == "_CON"
    assert message.safe_file_stem("...") == "未命名"
    assert len(message.safe_file_stem("长" * 500)) == 80


# ---------------------------------------------------------------------------------------------
# Through the command line


def _cli(out: Path, port: int, *extra: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, ["mail", str(out), "--smtp-host", "127.0.0.1", "--smtp-port", str(port),
                                     "--sender", SENDER, *extra], env=env)


def test_cli_exit_codes(good_out: Path, mixed_out: Path, smtp_server: Server) -> None:
    r = _cli(good_out, smtp_server.port)
    assert r.exit_code == 0, r.output
    assert "已发送" in r.output and "邮件：发送 2 封，跳过 0 封，失败 0 封" in r.output

    r = _cli(good_out, smtp_server.port)
    assert r.exit_code == 0 and "跳过（已发送过）" in r.output

    r = _cli(mixed_out, smtp_server.port)
    assert r.exit_code == 1 and "失败 3 封" in r.output

    r = _cli(good_out, smtp_server.port, "--cc", "a@b.com, evil@x.com")
    assert r.exit_code == 2 and "错误：" in r.output and "Traceback" not in r.output

    r = _cli(good_out, free_port(), "--resend")
    assert r.exit_code == 2 and "无法连接邮件服务器" in r.output and "Traceback" not in r.output

    r = _cli(good_out, free_port(), "--dry-run", "--resend")
    assert r.exit_code == 0 and "已生成（试运行）" in r.output


def test_cli_password_never_shown_or_stored(good_out: Path, auth_server: Server) -> None:
    r = _cli(good_out, auth_server.port, "--user", "jxg", env={"JIXIAO_SMTP_PASSWORD": PASSWORD})
    assert r.exit_code == 0, r.output
    r2 = _cli(good_out, auth_server.port, "--user", "jxg", "--resend", env={"JIXIAO_SMTP_PASSWORD": PASSWORD + "x"})
    assert r2.exit_code == 2 and "用户名或密码不对" in r2.output
    r3 = _cli(good_out, auth_server.port, "--user", "jxg", env={"JIXIAO_SMTP_PASSWORD": ""})
    assert r3.exit_code == 2 and "JIXIAO_SMTP_PASSWORD" in r3.output
    for out in (r.output, r2.output, r3.output):
        assert PASSWORD not in out
    for p in good_out.rglob("*"):
        if p.is_file():
            assert PASSWORD.encode() not in p.read_bytes()
    assert all(PASSWORD.encode() not in raw for _, _, raw in auth_server.handler.messages)


def test_non_ascii_password_is_a_clear_usage_error(good_out: Path, auth_server: Server,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIXIAO_SMTP_PASSWORD", "绝xyz9")
    with pytest.raises(mail.MailUsageError, match="非 ASCII") as e:
        mail.send_all(good_out, opts(auth_server.port, user="jxg"))
    assert "绝" not in str(e.value) and "xyz9" not in str(e.value)


def test_duplicates_are_never_mailed_to_clerks(tmp_path: Path, smtp_server: Server) -> None:
    dup = {"severity": "error", "code": "duplicate_unit", "sheet": None, "cell": None, "cells": [], "field": None,
           "message": "与文件“县水利局（第二次）.xlsx”是同一单位同一年度的填报表，重复报送（请删除过期的一份后重新运行）"}
    out = write_out(tmp_path / "out", [
        ok_unit(),
        unit("县水利局.xlsx", "invalid", contact_email="slj@example.com", problems=[dup]),
        unit("县水利局（第二次）.xlsx", "invalid", contact_email="slj@example.com", problems=[dup]),
    ])
    r = _cli(out, smtp_server.port)
    assert r.exit_code == 0, r.output  # held back on purpose: not a failure
    held = [ln for ln in r.output.splitlines() if ln.startswith("未发送（留给财政局处理）：")]
    assert len(held) == 2 and all("重复报送" in ln for ln in held)
    assert r.output.rstrip().endswith("邮件：发送 1 封，跳过 0 封，失败 0 封，留给财政局处理 2 份")
    recipients = [rc for _, rcpts, _ in smtp_server.handler.messages for rc in rcpts]
    assert "slj@example.com" not in recipients
