"""The optional config file (TOML at paths.config_path()): SMTP settings and retention.

```toml
retention = "180d"          # used by `maillog prune` when --older-than is not given

[smtp]
host = "smtp.example.com"
port = 587
user = "bob@example.com"
tls = "starttls"            # starttls | ssl | none
from = "ops@example.com"    # Resent-From and envelope sender of `maillog resend`
cafile = "/etc/ssl/private-ca.pem"
```

The file never holds a password: a key that names one (password, smtp_password, a
secret or token: redaction.is_secret_key), in any table but `[serve.<provider>]`, is refused (a config file is copied, synced and shown far
more often than an environment variable or a keyring entry). The webhook secrets of
`maillog serve` are the exception: they may live under `[serve.<provider>]`, and then the
file must be readable by its owner only (mode 600), else it is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from maillog_cli.errors import MaillogError


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file, {} when there is none; MaillogError when unusable."""
    import tomllib

    from maillog_cli.paths import config_path

    p = path or config_path()
    text = read_config_text(p)
    if text is None:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message names a line and column, never the text itself.
        raise MaillogError(
            f"config file {p} is not valid TOML: {exc}", "fix the line it names"
        ) from None
    smtp = data.get("smtp", {})
    if not isinstance(smtp, dict):
        raise MaillogError(f"config file {p}: smtp must be a table ([smtp])")
    found = next(secret_keys({k: v for k, v in data.items() if k != "serve"}), None)
    if found is not None:
        raise MaillogError(
            f"config file {p} holds an SMTP password ({found}); remove it",
            "give the password in $MAILLOG_SMTP_PASSWORD or the system keyring (keyring set maillog-smtp USER)",
        )
    _check_serve_secrets(p, data.get("serve"))
    return data


def read_config_text(p: Path) -> str | None:
    """The config file's text, None when there is none. The one place that reads it, so
    that every command refuses a file it cannot read (a directory, a FIFO that would block,
    UTF-16 from a Windows editor, latin-1, binary) in the same one line. A UTF-8
    byte-order mark (Notepad writes one) is read as the UTF-8 it announces."""
    import stat

    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MaillogError(f"cannot read config file {p}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise MaillogError(
            f"config file {p} is a directory", "point $MAILLOG_CONFIG at a TOML file"
        )
    if not stat.S_ISREG(mode):
        raise MaillogError(
            f"config file {p} is not a regular file", "point $MAILLOG_CONFIG at a TOML file"
        )
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise MaillogError(f"cannot read config file {p}: {exc.strerror}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MaillogError(
            f"config file {p} is UTF-16 text", "save it as UTF-8 (TOML files are UTF-8)"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise MaillogError(
            f"{p}:{line}: config file is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
            "save it as UTF-8 (TOML files are UTF-8)",
        ) from None


# The keys of `[serve.<provider>]` that hold a secret (public keys, URLs, topic ARNs and
# user names do not).
WEBHOOK_SECRET_KEYS = frozenset({"signing_key", "secret", "key", "password", "token"})


def _check_serve_secrets(path: Path, serve: Any) -> None:
    """`[serve.<provider>]` may hold webhook secrets (`maillog serve` needs them at hand
    while it runs), but then only the file's owner may read the file."""
    if serve is None:
        return
    if not isinstance(serve, dict):
        raise MaillogError(f"config file {path}: serve must be a table ([serve.PROVIDER])")
    tables = [v for v in serve.values() if isinstance(v, dict)]
    if not any(t.get(k) for t in tables for k in WEBHOOK_SECRET_KEYS):
        return
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise MaillogError(
            f"config file {path} holds webhook secrets ([serve.…]) but is readable by others"
            f" (mode {mode:03o})",
            f"chmod 600 {path}",
        )


def secret_keys(table: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[str]:
    """Where the config names a secret, as `[smtp.auth] password` (or `password` at the top),
    in every table and array of tables, in file order. A secret key is what the store's
    redaction calls one (password, smtp_password, api-secret, token …): one rule for both."""
    from maillog_cli.redaction import is_secret_key

    for key, value in table.items():
        tables = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)]
        if tables:  # a table ([smtp.auth]) is judged by its keys, not by its name
            for sub in tables:
                yield from secret_keys(sub, (*path, str(key)))
        elif is_secret_key(key):
            yield f"[{'.'.join(path)}] {key}" if path else str(key)


def smtp_section(config: dict[str, Any]) -> dict[str, Any]:
    """The [smtp] table of a loaded config ({} when absent)."""
    section = config.get("smtp") or {}
    return section if isinstance(section, dict) else {}
