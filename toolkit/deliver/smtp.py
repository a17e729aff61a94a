"""The SMTP connection: one per run, and the stepwise send that tells a safe retry from an unknown outcome.

A drop before the message text was handed over is retried once on a new connection; a drop after
it is an unknown outcome (the server may have the message), never retried blindly.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable

from toolkit.deliver.message import one_line
from toolkit.deliver.sentlog import MAIL_DIR, SENT_LOG

PASSWORD_ENV = "JIXIAO_SMTP_PASSWORD"
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, None: 25}
UNKNOWN_HINT = "可能已发送，请向收件人核实；确认未收到后用 --resend 重发"


class SmtpUnavailable(Exception):
                      """No connection or login, or the line dropped twice: nothing more can be sent this run."""


class Refused(Exception):
    """The server refused this one message (recipient, size, content)."""


class Unknown(Exception):
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
        raise Unknown(str(e)) from None
    if code == 421:
        raise Unknown(f"{code} {resp!r}")
    if code != 250:
        raise smtplib.SMTPDataError(code, resp)
    return refused


class Smtp:
    """One connection for the whole run, opened on first use, reconnected once if dropped."""

    def __init__(self, host: str, port: int, security: str | None, user: str | None, password: str | None,
                 timeout: float, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.security, self.user = host, port, security, user
        self.timeout, self.ssl_context = timeout, ssl_context
        self._password = password
        self._conn: smtplib.SMTP | None = None
        self.sent = 0

    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _hide(self, text: object) -> str:
        text = str(text)
        return one_line(text.replace(self._password, "***") if self._password else text, 200)

    def _open(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        conn: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if self.user:
                conn.login(self.user, self._password or "")
        except smtplib.SMTPAuthenticationError as e:
            self._discard(conn)
            raise SmtpUnavailable(f"登录邮件服务器 {self._where()} 失败：用户名或密码不对"
                                  f"（服务器返回 {e.smtp_code}）。密码请放在环境变量 {PASSWORD_ENV} 中") from None
        except UnicodeEncodeError:  # smtplib sends AUTH data as ASCII; never echo the offending text
            self._discard(conn)
            raise SmtpUnavailable("登录用户名或密码中含有中文等非 ASCII 字符，SMTP 登录不支持，"
                                  "请改用只含字母、数字和符号的密码（授权码）") from None
        except smtplib.SMTPNotSupportedError:
            self._discard(conn)
            what = "STARTTLS" if self.security == "starttls" and self.user is None else "STARTTLS 或登录（AUTH）"
            raise SmtpUnavailable(f"邮件服务器 {self._where()} 不支持{what}，请检查 --ssl/--starttls/--user") from None
        except ssl.SSLError as e:
            self._discard(conn)
            raise SmtpUnavailable(f"与邮件服务器 {self._where()} 建立加密连接失败（{self._hide(e)}），"
                                  "请检查端口和 --ssl/--starttls") from None
        except (smtplib.SMTPException, OSError) as e:
            self._discard(conn)
            raise SmtpUnavailable(f"无法连接邮件服务器 {self._where()}（{self._hide(e)}），"
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
        """Send one message; returns the refused Cc recipients. Raises Refused, Unknown or
        SmtpUnavailable. ``before`` runs once, connected, before anything of the message is sent."""
        for attempt in (1, 2):
            if self._conn is None:
                try:
                    self._conn = self._open()
                except SmtpUnavailable as e:
                    if self.sent == 0 and attempt == 1:
                        raise
                    raise SmtpUnavailable(f"{e}。{self._progress()}") from None
            if attempt == 1:
                before()
            try:
                refused = _transmit(self._conn, sender, recipients, data)
            except smtplib.SMTPRecipientsRefused as e:
                raise Refused(self._refusal(e)) from None
            except Unknown as e:
                self._discard(self._conn)
                self._conn = None
                raise Unknown(f"与邮件服务器 {self._where()} 的连接在邮件内容发出后中断（{self._hide(e)}），"
                              f"{UNKNOWN_HINT}") from None
            except _Dropped as e:
                dropped: Exception = e
            except smtplib.SMTPResponseException as e:
                if e.smtp_code != 421:  # 421 = the server is closing the connection
                    raise Refused(self._refusal(e)) from None
                dropped = e
            except smtplib.SMTPServerDisconnected as e:
                dropped = e
            except smtplib.SMTPException as e:
                raise Refused(self._refusal(e)) from None
            except OSError as e:  # socket errors, timeouts before the message text was sent
                dropped = e
            else:
                self.sent += 1
                return refused
            self._discard(self._conn)
            self._conn = None
            if attempt == 2:
                raise SmtpUnavailable(f"与邮件服务器 {self._where()} 的连接中断（{self._hide(dropped)}）。"
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
