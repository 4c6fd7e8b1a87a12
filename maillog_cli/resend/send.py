"""Send a stored email again over SMTP, safely, and record the attempt as a new message.

The stored original goes out byte for byte, with one RFC 5322 §3.6.6 resent block
(Resent-Date, Resent-From, Resent-To, a fresh Resent-Message-ID) prepended, so the
recipient's client threads it with the original while the receiver sees a new message.
Every attempt becomes a new message (its id is the Resent-Message-ID) linked to the
original through `messages.resent_from`, with one `sent` or `failed` event per
recipient carrying the server's reply, classified by the import pipeline.

The SMTP password comes from $MAILLOG_SMTP_PASSWORD or the keyring only, never from a
flag or the config file, and is scrubbed from every text that leaves this module.
Core code only: nothing here prints; the command renders what these functions return.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from maillog_cli.bounce.suppress import suppression_reason
from maillog_cli.errors import MaillogError
from maillog_cli.normalize import address, domain_of
from maillog_cli.store.db import Store, now_iso
from maillog_cli.store.query import Filters, where

TLS_MODES: tuple[str, ...] = ("starttls", "ssl", "none")
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
KEYRING_SERVICE = "maillog-smtp"
TIMEOUT_S = 30.0
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# Something an SMTP server accepts in MAIL FROM / RCPT TO, and that cannot break a header.
_ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@]+@[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@]+")
_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*", re.I)
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
SHOWN_HEADERS = ("from", "to", "cc", "subject", "date", "message-id")


# --- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send; the password is kept out of repr() and describe()."""

    host: str | None
    port: int
    tls: str = "starttls"
    user: str | None = None
    cafile: str | None = None
    sender: str | None = None  # [smtp] from: Resent-From and envelope sender
    password: str | None = field(default=None, repr=False)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}" if self.host else "(no SMTP server configured)"

    def describe(self) -> str:
        """The server for a person: host, port, TLS mode and login name."""
        if not self.host:
            return "no SMTP server configured (--smtp-host, $MAILLOG_SMTP_HOST or [smtp] host)"
        mode = {"starttls": "STARTTLS", "ssl": "implicit TLS", "none": "no TLS"}[self.tls]
        if self.tls != "none":
            mode += ", certificate verified" + (f" against {self.cafile}" if self.cafile else "")
        login = f", login {self.user}" if self.user else ""
        return f"{self.server} ({mode}{login})"


def resolve_settings(
    flags: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> SmtpSettings:
    """Flags, then $MAILLOG_SMTP_*, then the config file's [smtp]; MaillogError for bad values.

    `flags` keys: host, port, user, tls, cafile, from (None = not given).
    """
    from maillog_cli.config import load_config, smtp_section

    env = os.environ if env is None else env
    section = smtp_section(load_config() if config is None else dict(config))

    def pick(key: str) -> tuple[Any, str]:
        if flags.get(key) not in (None, ""):
            return flags[key], f"--smtp-{key}" if key not in ("tls", "cafile") else f"--{key}"
        name = f"MAILLOG_SMTP_{key.upper()}"
        if env.get(name):
            return env[name], f"${name}"
        if section.get(key) not in (None, ""):
            return section[key], f"[smtp] {key} in the config file"
        return None, ""

    tls, where_tls = pick("tls")
    tls = str(tls or "starttls").strip().lower()
    if tls not in TLS_MODES:
        raise MaillogError(
            f"unknown TLS mode {tls!r} from {where_tls}", f"use one of: {', '.join(TLS_MODES)}"
        )
    port_value, where_port = pick("port")
    if port_value is None:
        port = DEFAULT_PORTS[tls]
    else:
        try:
            port = int(str(port_value).strip())
        except ValueError:
            port = 0
        if not 1 <= port <= 65535:
            raise MaillogError(
                f"bad SMTP port {port_value!r} from {where_port}",
                "a number from 1 to 65535, e.g. 587",
            )
    host, _ = pick("host")
    user, _ = pick("user")
    cafile, _ = pick("cafile")
    sender, where_from = pick("from")
    if sender is not None:
        sender_addr = address(str(sender))
        if not sender_addr or not _ADDRESS.fullmatch(sender_addr):
            raise MaillogError(
                f"not a usable sender address {sender!r} from {where_from}", "e.g. ops@example.com"
            )
        sender = sender_addr
    return SmtpSettings(
        host=str(host).strip() if host else None,
        port=port,
        tls=tls,
        user=str(user) if user else None,
        cafile=os.path.expanduser(str(cafile)) if cafile else None,
        sender=sender,
        password=env.get("MAILLOG_SMTP_PASSWORD") or None,
    )


def ready_to_send(settings: SmtpSettings) -> SmtpSettings:
    """Check what only matters when sending (server, password, CA file); fill the password.

    Raised before anything is sent, so a bad setting never half-sends a batch.
    """
    if not settings.host:
        raise MaillogError(
            "no SMTP server to send through",
            "give --smtp-host, set $MAILLOG_SMTP_HOST, or add [smtp] host to the config file",
        )
    password = settings.password
    if settings.user and not password:
        password = _keyring_password(settings.user)
        if not password:
            raise MaillogError(
                f"no password for SMTP user {settings.user}",
                f"set $MAILLOG_SMTP_PASSWORD, or store it with: keyring set {KEYRING_SERVICE} {settings.user}",
            )
    if password and not settings.user:
        raise MaillogError(
            "$MAILLOG_SMTP_PASSWORD is set but no SMTP user",
            "give --smtp-user or $MAILLOG_SMTP_USER",
        )
    if password and settings.tls == "none" and settings.host.lower() not in LOOPBACK:
        raise MaillogError(
            f"refusing to send the SMTP password unencrypted to {settings.host}",
            "use --tls starttls (the default) or --tls ssl",
        )
    if settings.tls != "none":
        tls_context(settings)  # a missing or unreadable CA file fails here, not mid-batch
    return SmtpSettings(
        host=settings.host,
        port=settings.port,
        tls=settings.tls,
        user=settings.user,
        cafile=settings.cafile,
        sender=settings.sender,
        password=password,
    )


def _keyring_password(user: str) -> str | None:
    """The password stored with `keyring set maillog-smtp USER`, when keyring is installed."""
    try:
        import keyring  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, user)
    except Exception:  # noqa: BLE001 - any backend failure means "no password from the keyring"
        return None


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Certificate and host name verification on, with the system CAs or --cafile's."""
    try:
        return ssl.create_default_context(cafile=settings.cafile)
    except FileNotFoundError:
        raise MaillogError(
            f"CA file {settings.cafile} not found",
            "give a PEM file with --cafile or $MAILLOG_SMTP_CAFILE",
        ) from None
    except (ssl.SSLError, OSError) as exc:
        raise MaillogError(
            f"cannot load CA file {settings.cafile}: {getattr(exc, 'reason', None) or exc}",
            "give a PEM file of CA certificates",
        ) from None


def parse_rate(text: str) -> float:
    """`5/s`, `120/m`, `1000/h` or a bare `5` (per second) → messages per second."""
    m = _RATE.fullmatch(text or "")
    per_second = float(m.group(1)) / _PER[(m.group(2) or "s").lower()] if m else 0.0
    if per_second <= 0:
        raise MaillogError(f"bad --rate {text!r}", "a positive rate such as 5/s, 120/m or 1000/h")
    return per_second


# --- selection and refusal ------------------------------------------------------------------


@dataclass
class Selection:
    ids: list[str]
    without_content: int = 0  # filter matches left out because nothing is stored to send


def no_content_error(message_id: str) -> MaillogError:
    return MaillogError(
        f"no stored content for {message_id}: import the original (.eml, mbox) first"
    )


def select(store: Store, idents: Sequence[str], filters: Filters | None) -> Selection:
    """The messages to resend, each once: the named ones, then those the filters match.

    Filters apply to each message's latest status (like `search --messages`), so
    `--status deferred` never picks a message that was delivered since.
    """
    ids: list[str] = []
    for ident in idents:
        mid = store.resolve_message_id(ident)
        if mid is None:
            raise MaillogError(
                f"no message {ident!r} in {store.path}",
                "check the id with: maillog search --message-id ID",
            )
        if not _has_content(store, mid):
            raise no_content_error(mid)
        ids.append(mid)
    without = 0
    if filters is not None and not filters.is_empty():
        clause, params = where(filters, "e")
        cur = store.conn.execute(
            "SELECT m.message_id, EXISTS (SELECT 1 FROM message_content c WHERE c.message_id = m.message_id)"
            f" FROM messages m JOIN events e ON e.seq = m.last_seq WHERE {clause}"
            " ORDER BY m.first_seen, m.message_id",
            params,
        )
        for mid, has in cur:
            if has:
                ids.append(mid)
            else:
                without += 1
    return Selection(list(dict.fromkeys(ids)), without)


def _has_content(store: Store, message_id: str) -> bool:
    row = store.conn.execute(
        "SELECT 1 FROM message_content WHERE message_id = ?", (message_id,)
    ).fetchone()
    return row is not None


def refusal_reason(store: Store, address_: str) -> str | None:
    """Why `address_` must not be mailed (None: fine): the suppression list's one rule."""
    return suppression_reason(store, address_)


# --- the plan -------------------------------------------------------------------------------


@dataclass
class Plan:
    """One message to resend, as decided before anything is sent."""

    original_id: str
    raw: bytes
    subject: str | None
    envelope_from: str | None
    recipients: tuple[str, ...]
    refusal: str | None = None  # suppressed recipient: not sent unless --force
    problem: str | None = None  # cannot be sent at all (no recipient, bad address)
    forced: str | None = None  # a refusal that --force overrode

    @property
    def ready(self) -> bool:
        return self.refusal is None and self.problem is None


def make_plans(
    store: Store,
    ids: Sequence[str],
    to: Sequence[str] = (),
    sender: str | None = None,
    force: bool = False,
) -> list[Plan]:
    """Content, envelope and refusal for each selected message."""
    override = tuple(dict.fromkeys(a for t in to if (a := address(t) or t.strip())))
    plans: list[Plan] = []
    for mid in ids:
        row = store.conn.execute(
            "SELECT m.sender, m.recipient, m.subject, c.raw FROM message_content c"
            " LEFT JOIN messages m ON m.message_id = c.message_id WHERE c.message_id = ?",
            (mid,),
        ).fetchone()
        if row is None:
            raise no_content_error(mid)
        original_sender, recipient, subject, raw = row
        recipients = override or ((recipient,) if recipient else ())
        plan = Plan(mid, bytes(raw), subject, sender or original_sender, recipients)
        bad = [a for a in (plan.envelope_from, *recipients) if a and not _ADDRESS.fullmatch(a)]
        if not recipients:
            plan.problem = "no recipient known: give --to ADDRESS"
        elif not plan.envelope_from:
            plan.problem = "no sender known: set [smtp] from, $MAILLOG_SMTP_FROM or --smtp-from"
        elif bad:
            plan.problem = f"not a usable address: {bad[0]}"
        else:
            reasons = [f"{a}: {r}" for a in recipients if (r := refusal_reason(store, a))]
            if reasons:
                if force:
                    plan.forced = "; ".join(reasons)
                else:
                    plan.refusal = "; ".join(reasons)
        plans.append(plan)
    return plans


# --- the message ----------------------------------------------------------------------------


@dataclass
class Outgoing:
    """The bytes to send: a resent block, then the original unchanged."""

    message_id: str  # the new message's id (the Resent-Message-ID without <>)
    resent_headers: list[tuple[str, str]]
    data: bytes


def build_message(plan: Plan, now: datetime | None = None) -> Outgoing:
    """Prepend RFC 5322 §3.6.6 Resent-* fields to the stored original, in its line endings."""
    from email.utils import format_datetime, make_msgid

    raw = _without_mbox_line(plan.raw)
    first_eol = raw.find(b"\n")
    eol = b"\r\n" if first_eol > 0 and raw[first_eol - 1 : first_eol] == b"\r" else b"\n"
    resent_from = plan.envelope_from or ""
    msgid = make_msgid(domain=domain_of(resent_from) or "maillog.invalid")
    headers = [
        ("Resent-Date", format_datetime(now or datetime.now(UTC))),
        ("Resent-From", resent_from),
        ("Resent-To", ", ".join(plan.recipients)),
        ("Resent-Message-ID", msgid),
    ]
    block = b"".join(f"{name}: {value}".encode() + eol for name, value in headers)
    return Outgoing(msgid.strip("<>"), headers, block + raw)


def _without_mbox_line(raw: bytes) -> bytes:
    """An mbox `From ` separator line is not part of the message."""
    if raw.startswith(b"From "):
        end = raw.find(b"\n")
        return raw[end + 1 :] if end >= 0 else b""
    return raw


def original_headers(raw: bytes) -> tuple[list[tuple[str, str]], int, int]:
    """(the headers a person checks, how many other header fields, body size) of an email."""
    from email.parser import HeaderParser
    from email.policy import compat32

    raw = _without_mbox_line(raw)
    cut = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: cut.start()] if cut else raw
    # Shown, not parsed for meaning: undecodable bytes become U+FFFD, never surrogates.
    msg = HeaderParser(policy=compat32).parsestr(head.decode("utf-8", "replace"))
    items = msg.items()
    shown = [(k, " ".join(str(v).split())) for k, v in items if k.lower() in SHOWN_HEADERS]
    body = len(raw) - cut.end() if cut else 0
    return shown, len(items) - len(shown), body


# --- sending --------------------------------------------------------------------------------


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
            try:
                code, resp = smtp.data(out.data)
            except smtplib.SMTPDataError as exc:
                code, resp = exc.smtp_code, exc.smtp_error
            for r in accepted:
                replies[r] = Reply(
                    r,
                    "sent" if code == 250 else "failed",
                    code,
                    f"{code} {self.scrub(_reply_text(resp))}",
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


# --- recording ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one selected message, for the summary."""

    original_id: str
    status: str  # sent | partly sent | failed | refused | skipped | not attempted
    recipients: tuple[str, ...]
    resent_as: str | None = None
    detail: str = ""


def record(
    store: Store, plan: Plan, out: Outgoing, replies: Sequence[Reply], settings: SmtpSettings
) -> None:
    """The attempt as a new message (content, one event per recipient), linked to the original.

    Goes through the import pipeline's Ingest, so the events are classified and the
    messages row is built exactly as for imported data; plus one audit entry.
    """
    import getpass

    from maillog_cli import __version__
    from maillog_cli.ingest.pipeline import FileResult, Ingest
    from maillog_cli.model import AuditEntry, Event, StoredMessage
    from maillog_cli.normalize import enhanced_code

    at = now_iso()
    new_id = out.message_id
    with store.write():
        ingest = Ingest(store, FileResult(source="maillog resend"), None)
        ingest.add(
            StoredMessage(
                new_id,
                at,
                plan.envelope_from,
                tuple(plan.recipients),
                plan.subject,
                len(out.data),
                out.data,
            )
        )
        for r in replies:
            ingest.add(
                Event(
                    timestamp=at,
                    status=r.status,
                    raw_status=r.status,
                    provider="smtp",
                    event_id=f"smtp:{new_id}:{r.recipient}",
                    message_id=new_id,
                    sender=plan.envelope_from,
                    recipient=r.recipient,
                    subject=plan.subject,
                    smtp_code=r.code,
                    enhanced_code=enhanced_code(None, r.text),
                    diagnostic=r.text or None,
                    send_method="smtp",
                    extra={"server": settings.server, "resent_from": plan.original_id},
                )
            )
        ingest.finish()
        store.conn.execute(
            "UPDATE messages SET resent_from = ?, send_method = 'smtp' WHERE message_id = ?",
            (plan.original_id, new_id),
        )
        try:
            actor = getpass.getuser()
        except (KeyError, OSError):
            actor = None
        store.insert_audit(
            [
                AuditEntry(
                    id=f"resend:{new_id}",
                    created_at=at,
                    action="message.resend",
                    actor_id=actor,
                    target_type="message",
                    target_id=plan.original_id,
                    metadata={
                        "resent_as": new_id,
                        "recipients": list(plan.recipients),
                        "server": settings.server,
                        "tls": settings.tls,
                        "smtp_user": settings.user,
                        "outcome": _overall([r.status for r in replies]),
                        "forced": plan.forced,
                    },
                    user_agent=f"maillog/{__version__}",
                )
            ],
            None,
        )


def _overall(statuses: Sequence[str]) -> str:
    if statuses and all(s == "sent" for s in statuses):
        return "sent"
    return "partly sent" if "sent" in statuses else "failed"


# --- the batch ------------------------------------------------------------------------------


class Pace:
    """At most `per_second` sends per second: waits between sends, never before the first."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self.next: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self.next is not None and now < self.next:
            self.sleep(self.next - now)
            now = self.next
        self.next = now + self.interval


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    stopped: ConnectFailure | None = None  # why the batch stopped early

    @property
    def all_sent(self) -> bool:
        return all(o.status == "sent" for o in self.outcomes)


def send_batch(
    store: Store,
    plans: Sequence[Plan],
    settings: SmtpSettings,
    per_second: float,
    report: Callable[[Outcome], None] = lambda o: None,
) -> BatchResult:
    """Send every ready plan at the given rate, record each attempt, report each outcome.

    One message's failure does not stop the batch; a server that cannot be reached,
    secured or logged in to does (the rest are reported as not attempted).
    """
    conn = Connection(settings)
    pace = Pace(per_second)
    result = BatchResult([])
    try:
        for plan in plans:
            if plan.problem:
                outcome = Outcome(plan.original_id, "skipped", plan.recipients, detail=plan.problem)
            elif plan.refusal:
                outcome = Outcome(
                    plan.original_id,
                    "refused",
                    plan.recipients,
                    detail=f"{plan.refusal} (--force sends anyway)",
                )
            elif result.stopped is not None:
                outcome = Outcome(
                    plan.original_id,
                    "not attempted",
                    plan.recipients,
                    detail=f"stopped after: {result.stopped.diagnostic}",
                )
            else:
                pace.wait()
                out = build_message(plan)
                try:
                    replies = conn.send(out, plan.envelope_from or "", plan.recipients)
                except ConnectFailure as exc:
                    result.stopped = exc
                    replies = [
                        Reply(r, "failed", exc.code, exc.diagnostic) for r in plan.recipients
                    ]
                record(store, plan, out, replies, settings)
                status = _overall([r.status for r in replies])
                detail = next(
                    (r.text for r in replies if r.status == "failed"),
                    replies[0].text if replies else "",
                )
                outcome = Outcome(plan.original_id, status, plan.recipients, out.message_id, detail)
            result.outcomes.append(outcome)
            report(outcome)
    finally:
        conn.close()
    return result
