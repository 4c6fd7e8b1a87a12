"""Where and how `maillog resend` sends: flags, then $MAILLOG_SMTP_*, then the config file.

The SMTP password comes from $MAILLOG_SMTP_PASSWORD or the keyring only, never from a
flag or the config file. Everything here is checked before a batch starts, so a bad
setting never half-sends one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from maillog_cli.errors import MaillogError
from maillog_cli.normalize import address

if TYPE_CHECKING:
    import ssl

TLS_MODES: tuple[str, ...] = ("starttls", "ssl", "none")
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}
KEYRING_SERVICE = "maillog-smtp"
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# Something an SMTP server accepts in MAIL FROM / RCPT TO, and that cannot break a header.
ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@]+@[^\s\x00-\x1f\x7f<>()\[\],;:\\\"@]+")
_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*", re.I)
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


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
        sender_addr = one_address(str(sender))
        if not sender_addr or not ADDRESS.fullmatch(sender_addr):
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


def one_address(text: str) -> str | None:
    """The address in `Name <a@b>` or `a@b`, lowercased. A list (`a@x, b@y`,
    `Evil <e@x>, b@y`, `a@x; b@y`, a group) is kept whole, so the ADDRESS check refuses it
    instead of sending to one of its names: one address per --to, repeat it for several."""
    from email.utils import getaddresses

    if len([a for _, a in getaddresses([text]) if a]) > 1:
        return text.strip().lower() or None
    return address(text)


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
    return replace(settings, password=password)


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
    import ssl  # here, not at load: `--help` and the TLS mode choices need no ssl

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
