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

The file never holds a password: one found there is refused (a config file is copied,
synced and shown far more often than an environment variable or a keyring entry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maillog_cli.errors import MaillogError

SECRET_KEYS = frozenset({"password", "pass", "passwd", "secret"})


def load_config(path: Path | None = None) -> dict[str, Any]:
    """The parsed config file, {} when there is none; MaillogError when unusable."""
    import tomllib

    from maillog_cli.paths import config_path

    p = path or config_path()
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise MaillogError(
            f"config file {p} is a directory", "point $MAILLOG_CONFIG at a TOML file"
        ) from None
    except OSError as exc:
        raise MaillogError(f"cannot read config file {p}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message names a line and column, never the text itself.
        raise MaillogError(
            f"config file {p} is not valid TOML: {exc}", "fix the line it names"
        ) from None
    smtp = data.get("smtp", {})
    if not isinstance(smtp, dict):
        raise MaillogError(f"config file {p}: smtp must be a table ([smtp])")
    found = sorted(k for k in smtp if str(k).lower() in SECRET_KEYS)
    if found:
        raise MaillogError(
            f"config file {p} holds an SMTP password ([smtp] {found[0]}); remove it",
            "give the password in $MAILLOG_SMTP_PASSWORD or the system keyring (keyring set maillog-smtp USER)",
        )
    return data


def smtp_section(config: dict[str, Any]) -> dict[str, Any]:
    """The [smtp] table of a loaded config ({} when absent)."""
    section = config.get("smtp") or {}
    return section if isinstance(section, dict) else {}
