"""One SMTP session with smtplib: connect, secure, log in, send; every failure one scrubbed line.

The password is scrubbed (plain and in every AUTH encoding) from each text that leaves here.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from maillog_cli.resend.plan import Outgoing
from maillog_cli.resend.settings import SmtpSettings, tls_context

TIMEOUT_S = 30.0


class ConnectFailure(Exception):
    """The server could not be reached, secured or logged in to: the rest of a batch stops."""

    def __init__(
        self, diagnostic: str, message: str, hint: str | None = None, code: int | None = None
    ) -> None:
        super().__init__(message)
        self.diagnostic, self.message, self.hint, self.code = diagnostic, message, hint, code


@dataclass
class Reply:
    """What the server answered for one recipient."""

    recipient: str
    status: str  # sent | failed
    code: int | None
    text: str


class Connection:
    """One SMTP session, opened on first use and reused across a batch; smtplib only."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def scrub(self, text: str) -> str:
        """The text with the password (plain or in any AUTH encoding) replaced by ***."""
        return scrub(text, self.settings.user, self.settings.password)

    def open(self) -> smtplib.SMTP:
        s = self.settings
        host = s.host or ""
        try:
            if s.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, s.port, timeout=TIMEOUT_S, context=tls_context(s)
                )
            else:
                smtp = smtplib.SMTP(host, s.port, timeout=TIMEOUT_S)
            try:
                smtp.ehlo()
                if s.tls == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise ConnectFailure(
                            f"ETLS: {s.server} does not offer STARTTLS",
                            f"{s.server} does not offer STARTTLS",
                            "use --tls ssl (port 465), or --tls none only on a network you trust",
                        )
                    smtp.starttls(context=tls_context(s))
                    smtp.ehlo()
                if s.user:
                    smtp.login(s.user, s.password or "")
            except BaseException:
                _close_quietly(smtp)
                raise
        except ConnectFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes one scrubbed line
            raise self._failure(exc) from None
        self.smtp = smtp
        return smtp

    def _failure(self, exc: BaseException) -> ConnectFailure:
        s = self.settings
        server = s.server
        if isinstance(exc, ConnectionRefusedError):
            return ConnectFailure(
                f"ECONNREFUSED: connection refused by {server}",
                f"cannot connect to {server}: connection refused",
                "is the server running? check --smtp-host and --smtp-port",
            )
        if isinstance(exc, OSError) and exc.__class__.__name__ == "gaierror":
            return ConnectFailure(
                f"ENOTFOUND: cannot resolve {s.host}",
                f"cannot resolve SMTP host {s.host}",
                "check --smtp-host",
            )
        if isinstance(exc, TimeoutError):
            return ConnectFailure(
                f"ETIMEDOUT: no answer from {server} within {TIMEOUT_S:g} s",
                f"no answer from {server} within {TIMEOUT_S:g} s",
                "check the host, the port and any firewall",
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            why = self.scrub(exc.verify_message or str(exc))
            return ConnectFailure(
                f"SSLCertVerificationError: certificate of {s.host} not trusted: {why}",
                f"the TLS certificate of {server} is not trusted: {why}",
                "for a private CA give --cafile (or $MAILLOG_SMTP_CAFILE)",
            )
        if isinstance(exc, ssl.SSLError):
            why = self.scrub(exc.reason or str(exc))
            return ConnectFailure(
                f"SSLError: TLS with {server} failed: {why}",
                f"TLS with {server} failed: {why}",
                "check --tls: ssl for port 465, starttls for 587",
            )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            reply = self.scrub(_reply_text(exc.smtp_error))
            return ConnectFailure(
                f"SMTPAuthenticationError: {exc.smtp_code} {reply}",
                f"{server} refused the login of {s.user}: {exc.smtp_code} {reply}",
                "check --smtp-user and $MAILLOG_SMTP_PASSWORD",
                exc.smtp_code,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return ConnectFailure(
                f"EAUTH: {server} offers no AUTH to log in with",
                f"{server} offers no login (AUTH)",
                "drop --smtp-user, or use the submission port with TLS",
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            reply = self.scrub(_reply_text(exc.smtp_error))
            return ConnectFailure(
                f"{exc.smtp_code} {reply}",
                f"{server} answered {exc.smtp_code} {reply}",
                None,
                exc.smtp_code,
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return ConnectFailure(
                f"SMTPServerDisconnected: {server} closed the connection",
                f"{server} closed the connection",
                "check --tls and --smtp-port",
            )
        if isinstance(exc, UnicodeEncodeError):
            return ConnectFailure(
                "EAUTH: the SMTP user or password is not ASCII",
                "the SMTP user or password is not ASCII, which SMTP AUTH cannot send",
            )
        name = exc.__class__.__name__
        why = self.scrub(getattr(exc, "strerror", None) or str(exc) or name)
        return ConnectFailure(f"{name}: {why} ({server})", f"cannot talk to {server}: {why}")

    def send(self, out: Outgoing, envelope_from: str, recipients: Sequence[str]) -> list[Reply]:
        """One transaction (MAIL, RCPT each, DATA): a reply per recipient.

        Raises ConnectFailure only when no session can be opened; a session that
        breaks mid-message fails this message, and the next one reconnects.
        """
        smtp = self.smtp or self.open()
        try:
            return self._transaction(smtp, out, envelope_from, recipients)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            if isinstance(exc, smtplib.SMTPResponseException):
                code, text = (
                    exc.smtp_code,
                    f"{exc.smtp_code} {self.scrub(_reply_text(exc.smtp_error))}",
                )
            else:
                code, text = (
                    None,
                    f"{exc.__class__.__name__}: {self.scrub(str(exc) or 'connection lost')}",
                )
            return [Reply(r, "failed", code, text) for r in recipients]

    def _transaction(
        self, smtp: smtplib.SMTP, out: Outgoing, envelope_from: str, recipients: Sequence[str]
    ) -> list[Reply]:
        options: list[str] = []
        if any(b > 127 for b in out.data) and smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if not all(a.isascii() for a in (envelope_from, *recipients)) and smtp.has_extn("smtputf8"):
            options.append("SMTPUTF8")
        code, resp = smtp.mail(envelope_from, options)
        if code != 250:
            smtp.rset()
            return [
                Reply(r, "failed", code, f"{code} {self.scrub(_reply_text(resp))}")
                for r in recipients
            ]
        replies: dict[str, Reply] = {}
        accepted: list[str] = []
        for r in recipients:
            code, resp = smtp.rcpt(r)
            if code in (250, 251):
                accepted.append(r)
            else:
                replies[r] = Reply(r, "failed", code, f"{code} {self.scrub(_reply_text(resp))}")
        if not accepted:
            smtp.rset()
        else:
            data_reply: bytes | str
            try:
                code, data_reply = smtp.data(out.data)
            except smtplib.SMTPDataError as exc:
                code, data_reply = exc.smtp_code, exc.smtp_error
            for r in accepted:
                replies[r] = Reply(
                    r,
                    "sent" if code == 250 else "failed",
                    code,
                    f"{code} {self.scrub(_reply_text(data_reply))}",
                )
        return [replies[r] for r in recipients]

    def close(self) -> None:
        if self.smtp is not None:
            _close_quietly(self.smtp)
            self.smtp = None


def _close_quietly(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except Exception:  # noqa: BLE001 - closing a broken session must not mask the real error
        smtp.close()


def _reply_text(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())


def scrub(text: str, user: str | None, password: str | None) -> str:
    """Replace the password and its AUTH PLAIN / LOGIN / base64 forms with ***."""
    if not password or not text:
        return text
    import base64

    def b64(s: str) -> str:
        return base64.b64encode(s.encode("utf-8", "surrogatepass")).decode()

    forms = {password, b64(password)}
    if user:
        forms |= {b64(f"\0{user}\0{password}"), b64(f"{user}\0{user}\0{password}")}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
