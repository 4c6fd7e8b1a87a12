"""Which providers `maillog serve` listens for, and the secrets that verify each.

Secrets come from `$MAILLOG_SERVE_<PROVIDER>_<KEY>` or the config file's
`[serve.<provider>]` table (which config.load_config refuses unless it is mode 600),
never from the command line. A provider with no secret is refused at start-up unless the
user names it in `--no-verify`. Only the providers configured (or named in --no-verify)
get an endpoint; a `[serve.<provider>]` table with an incomplete secret is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from maillog_cli.errors import MaillogError

# The keys each provider's secret is given by, named as the provider names them; any one
# complete group of keys is enough.
SIGNED: dict[str, tuple[tuple[str, ...], ...]] = {
    "sendgrid": (("public_key",),),
    "mailgun": (("signing_key",),),
    "resend": (("secret",),),
    "mandrill": (("key", "url"),),
    "postal": (("public_key",),),
    "ses": (("topic_arn",),),
}
# Providers that sign nothing: HTTP basic auth in the URL, or a token.
SHARED: dict[str, tuple[tuple[str, ...], ...]] = {
    name: (("username", "password"), ("token",))
    for name in ("postmark", "sparkpost", "mailjet", "brevo")
}
KEYS = {**SIGNED, **SHARED}
PROVIDERS: tuple[str, ...] = tuple(KEYS)


def env_name(provider: str, key: str) -> str:
    return f"MAILLOG_SERVE_{provider.upper()}_{key.upper()}"


@dataclass
class Provider:
    """One endpoint's settings: its secrets (never shown), or verify=False (--no-verify)."""

    name: str
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    verify: bool = True
    where: str = ""  # where the secrets came from, for messages (never the values)


def _value(provider: str, key: str, table: dict[str, Any], origin: str) -> tuple[str, str] | None:
    env = os.environ.get(env_name(provider, key), "").strip()
    if env:
        return env, f"${env_name(provider, key)}"
    value = table.get(key)
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):  # topic_arn = ["arn:…", "arn:…"]
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str):
        raise MaillogError(f"{origin} [serve.{provider}] {key} must be a string")
    return value.strip(), f"{origin} [serve.{provider}] {key}"


def provider_settings(
    config: dict[str, Any], origin: str, no_verify: list[str]
) -> dict[str, Provider]:
    """Every provider's settings; MaillogError naming what is missing, for each provider
    that has no complete secret and is not in `no_verify`."""
    serve = config.get("serve") or {}
    unknown = sorted(set(serve) - set(PROVIDERS))
    if unknown:
        raise MaillogError(
            f"{origin}: unknown provider [serve.{unknown[0]}]",
            f"use one of: {', '.join(PROVIDERS)}",
        )
    bad = sorted(set(no_verify) - set(PROVIDERS))
    if bad:
        raise MaillogError(
            f"--no-verify {bad[0]}: unknown provider", f"use one of: {', '.join(PROVIDERS)}"
        )
    out: dict[str, Provider] = {}
    for name, groups in KEYS.items():
        table = serve.get(name)
        if table is not None and not isinstance(table, dict):
            raise MaillogError(f"{origin}: serve.{name} must be a table ([serve.{name}])")
        table = table or {}
        names = sorted({k for g in groups for k in g})
        extra = sorted(set(table) - set(names))
        if extra:
            raise MaillogError(
                f"{origin} [serve.{name}]: unknown key {extra[0]!r}", f"use {', '.join(names)}"
            )
        found = {k: v for k in names if (v := _value(name, k, table, origin))}
        complete = next((g for g in groups if all(k in found for k in g)), None)
        if name in no_verify:
            out[name] = Provider(name, verify=False)
        elif complete is not None:
            out[name] = Provider(
                name,
                {k: found[k][0] for k in complete},
                where=", ".join(found[k][1] for k in complete),
            )
        elif found or name in serve:  # asked for, but its secret is incomplete
            need = " or ".join(" + ".join(g) for g in groups)
            raise MaillogError(
                f"{origin} [serve.{name}]: no complete webhook secret for {name} (needs {need});"
                " refusing to accept unverified events",
                f"add it to [serve.{name}] or ${env_name(name, groups[0][0])}, or accept"
                f" {name} unverified with --no-verify {name}",
            )
    if not out:
        raise MaillogError(
            "no webhook secret configured: maillog serve would refuse every request",
            "put a provider's secret in the config file under [serve.PROVIDER] (chmod 600) or"
            " $MAILLOG_SERVE_PROVIDER_KEY, see docs/serve.md; or --no-verify PROVIDER",
        )
    return out
