"""Realistic, deterministic demo data: what `maillog demo` writes and the benchmarks load.

Messages go through believable lifecycles (queued → sent → delivered → opened → clicked;
deferrals that later deliver; hard, soft and block bounces with the wording real
receivers use; complaints, drops and client-side failures), spread over the last weeks,
over several providers. Output is in real input formats, so the demo exercises import.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import orjson

from maillog_cli.dates import format_dt

PROVIDERS = ("sendgrid", "ses", "mailgun", "postmark", "resend", "postfix")
DOMAINS = (
    ("gmail.com", 30),
    ("outlook.com", 12),
    ("yahoo.com", 9),
    ("icloud.com", 6),
    ("hotmail.com", 6),
    ("gmx.de", 4),
    ("web.de", 3),
    ("example.com", 8),
    ("example.org", 6),
    ("acme-corp.example", 5),
    ("mail.ru", 2),
    ("protonmail.com", 2),
    ("fastmail.com", 2),
    ("gmial.com", 1),
)
FIRST = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yuki",
    "zoe",
    "amir",
    "bea",
    "chen",
    "dario",
    "elif",
    "femi",
    "gosia",
    "hana",
    "ines",
    "jonas",
    "kiri",
    "lea",
    "mateo",
)
SUBJECTS = (
    "Your receipt #{n}",
    "Reset your password",
    "Welcome to Acme, {name}!",
    "Your order #{n} has shipped",
    "Weekly digest — {n} new updates",
    "Invoice {n} is due",
    "Confirm your email address",
    "Security alert: new sign-in",
    "Your trial ends in 3 days",
    "Daily report {n}",
    "Ünïcödé newsletter ✉️ {n}",
)
SENDERS = (
    "noreply@acme.example",
    "billing@acme.example",
    "news@mail.acme.example",
    "security@acme.example",
)
# (status, smtp reply text) — wording as the big receivers send it.
BOUNCES = (
    (
        "bounced",
        "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos. https://support.google.com/mail/?p=NoSuchUser",
    ),
    ("bounced", "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)."),
    (
        "bounced",
        "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7",
    ),
    ("bounced", "552 5.2.2 The email account that you tried to reach is over quota."),
    (
        "bounced",
        "550 5.7.26 Unauthenticated email from acme.example is not accepted due to domain's DMARC policy.",
    ),
    (
        "bounced",
        "554 5.7.9 Message not accepted for policy reasons. See https://help.yahoo.com/kb/postmaster/SLN7253.html",
    ),
    (
        "bounced",
        "550 5.4.1 Recipient address rejected: Access denied. [DM6NAM11FT012.eop-nam11.prod.protection.outlook.com]",
    ),
    (
        "bounced",
        "553 5.7.1 [BL21] Connections will not be accepted from 198.51.100.7, because the ip is in Spamhaus's list",
    ),
    ("bounced", "550 5.2.1 The email account that you tried to reach is disabled."),
    ("bounced", "552 5.3.4 Message size exceeds fixed limit"),
    ("bounced", "550 5.7.1 Our system has detected that this message is likely unsolicited mail."),
    (
        "bounced",
        "Host or domain name not found. Name service error for name=gmial.com type=MX: Host not found",
    ),
    (
        "deferred",
        "421-4.7.0 This message is suspicious due to the very low reputation of the sending IP address.",
    ),
    ("deferred", "451 4.7.1 Greylisting in action, please come back later"),
    (
        "deferred",
        "421 4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address.",
    ),
    ("deferred", "452 4.2.2 The email account that you tried to reach is over quota."),
    ("deferred", "450 4.2.1 The user you are trying to contact is receiving mail too quickly."),
    ("dropped", "Bounced Address"),
    ("failed", "connect ECONNREFUSED 127.0.0.1:587"),
    ("failed", "Invalid login: 535-5.7.8 Username and Password not accepted."),
)
AUDIT_ACTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("smtp.update", "smtp_settings", {"field": "password", "password": "hunter2"}),
    (
        "smtp.update",
        "smtp_settings",
        {"field": "host", "from": "smtp.old.example", "to": "smtp.acme.example"},
    ),
    ("api_key.create", "api_key", {"name": "ci-deploy", "scopes": ["send"]}),
    ("api_key.revoke", "api_key", {"name": "old-laptop"}),
    (
        "webhook.update",
        "webhook",
        {"url": "https://hooks.acme.example/mail", "events": ["bounce", "spamreport"]},
    ),
    ("suppression.delete", "suppression", {"email": "bob@example.org"}),
    ("project.update", "project", {"name": "Acme transactional"}),
    ("bounce_token.rotate", "bounce_token", {}),
    ("workspace.member_invite", "member", {"email": "new.hire@acme.example", "role": "developer"}),
    ("broadcast.send", "broadcast", {"name": "November newsletter", "recipients": 1200}),
)
ACTORS = (
    ("usr_01", "alice@acme.example"),
    ("usr_02", "bob@acme.example"),
    ("usr_03", "carol@acme.example"),
    ("svc_ci", None),
)


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([i for i, _ in items], [w for _, w in items])[0]


def iter_events(
    messages: int, seed: int = 7, now: datetime | None = None, days: int = 21
) -> Iterator[dict[str, Any]]:
    """Our own format's rows (the 15 output keys), message by message, deterministic per seed."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    start = now - timedelta(days=days)
    span = (now - start).total_seconds()
    for n in range(messages):
        t = start + timedelta(seconds=span * n / max(messages, 1) + rng.random() * 60)
        provider = rng.choice(PROVIDERS)
        name = rng.choice(FIRST)
        domain = _weighted(rng, DOMAINS)
        rcpt = f"{name}{rng.randint(1, 999) if rng.random() < 0.6 else ''}@{domain}"
        mid = f"{t:%Y%m%d%H%M%S}.{seed}.{n}@mail.acme.example"
        subject = rng.choice(SUBJECTS).format(n=rng.randint(1000, 99999), name=name.title())
        base = {
            "message_id": mid,
            "provider": provider,
            "sender": rng.choice(SENDERS),
            "recipient": rcpt,
            "subject": subject,
        }

        def ev(
            i: int,
            when: datetime,
            status: str,
            raw: str,
            diag: str | None = None,
            # Providers' event ids look random (base64/hex), which is what indexes see.
            _id: str = f"{rng.getrandbits(64):016x}",
            _base: dict[str, Any] = base,
        ) -> dict[str, Any]:
            return {
                "event_id": f"{_id}-{i}",
                **_base,
                "timestamp": format_dt(min(when, now)),  # late retries never land in the future
                "status": status,
                "raw_status": raw,
                "diagnostic": diag,
            }

        yield ev(0, t, "queued", "processed")
        roll = rng.random()
        t1 = t + timedelta(seconds=rng.randint(1, 20))
        if roll < 0.08 or (domain == "gmial.com"):
            status, diag = rng.choice(BOUNCES[:12]) if domain != "gmial.com" else BOUNCES[11]
            if rng.random() < 0.3:
                yield ev(1, t1, "deferred", "deferred", rng.choice(BOUNCES[12:17])[1])
                t1 += timedelta(hours=rng.randint(1, 30))
            yield ev(2, t1, status, status, diag)
            continue
        if roll < 0.10:
            status, diag = rng.choice(BOUNCES[17:])
            yield ev(1, t1, status, status, diag)
            continue
        if roll < 0.16:
            yield ev(1, t1, "deferred", "deferred", rng.choice(BOUNCES[12:17])[1])
            t1 += timedelta(minutes=rng.randint(5, 240))
        yield ev(
            3, t1, "delivered", "delivered", f"250 2.0.0 OK {rng.randint(10**9, 10**10)} - gsmtp"
        )
        if rng.random() < 0.45:
            t2 = t1 + timedelta(minutes=rng.randint(1, 3000))
            yield ev(4, t2, "opened", "open")
            if rng.random() < 0.35:
                yield ev(5, t2 + timedelta(seconds=rng.randint(5, 900)), "clicked", "click")
        if rng.random() < 0.004:
            yield ev(6, t1 + timedelta(hours=rng.randint(1, 48)), "complained", "spamreport")
        elif rng.random() < 0.01:
            yield ev(7, t1 + timedelta(hours=rng.randint(1, 48)), "unsubscribed", "unsubscribe")


def sendgrid_batch(messages: int, seed: int, now: datetime) -> list[dict[str, Any]]:
    """A SendGrid Event Webhook batch, built from the same lifecycles (auto-detection demo)."""
    words = {
        "queued": "processed",
        "delivered": "delivered",
        "deferred": "deferred",
        "bounced": "bounce",
        "dropped": "dropped",
        "opened": "open",
        "clicked": "click",
        "complained": "spamreport",
        "unsubscribed": "unsubscribe",
    }
    out = []
    for row in iter_events(messages, seed=seed, now=now):
        if row["status"] not in words:
            continue
        ts = int(datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).timestamp())
        local = row["message_id"].split("@")[0].replace(".", "")
        e: dict[str, Any] = {
            "email": row["recipient"],
            "timestamp": ts,
            "event": words[row["status"]],
            "sg_event_id": row["event_id"],
            "sg_message_id": f"{local}.filter0417p1las1-1234-5F4C-1.0",
            "category": ["demo"],
        }
        if row["status"] not in ("opened", "clicked", "complained", "unsubscribed"):
            e["smtp-id"] = f"<{row['message_id']}>"
        if row["status"] in ("delivered", "deferred"):
            e["response"] = row["diagnostic"]
        if row["status"] in ("bounced", "dropped"):
            e["reason"] = row["diagnostic"]
        out.append(e)
    return out


def audit_page(entries: int, seed: int, now: datetime) -> dict[str, Any]:
    rng = random.Random(seed)
    rows = []
    for i in range(entries):
        action, target, meta = rng.choice(AUDIT_ACTIONS)
        actor_id, actor_email = rng.choice(ACTORS)
        when = now - timedelta(days=21) + timedelta(seconds=21 * 86400 * i / entries)
        rows.append(
            {
                "id": f"01HAUD{i:04d}",
                "created_at": format_dt(when),
                "actor_id": actor_id,
                "actor_email": actor_email,
                "action": action,
                "target_type": target,
                "target_id": f"{target[:3]}_{rng.randint(100, 999)}",
                "metadata": meta,
                "ip": f"203.0.113.{rng.randint(1, 254)}",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            }
        )
    rows.reverse()
    return {"entries": rows, "next_cursor": None}


def sent_mbox(count: int, seed: int, now: datetime) -> bytes:
    """An mbox of sent mail whose ids match demo events, so `show` and `resend` have content."""
    chunks = []
    for row in iter_events(count, seed=seed, now=now):
        if row["status"] != "queued":
            continue
        msg = EmailMessage()
        msg["From"] = f"Acme <{row['sender']}>"
        msg["To"] = row["recipient"]
        msg["Subject"] = row["subject"]
        when = datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = f"<{row['message_id']}>"
        msg["Authentication-Results"] = (
            "mx.acme.example; spf=pass smtp.mailfrom=acme.example; dkim=pass header.d=acme.example; dmarc=pass header.from=acme.example"
        )
        msg.set_content(f"Hello,\n\nthis is the demo message {row['subject']}.\n\n-- \nAcme\n")
        body = msg.as_bytes().replace(b"\nFrom ", b"\n>From ")
        chunks.append(
            b"From "
            + row["sender"].encode()
            + b" "
            + when.strftime("%a %b %d %H:%M:%S %Y").encode()
            + b"\n"
            + body
            + b"\n"
        )
    return b"".join(chunks)


DEMO_FILES = ("events.jsonl", "sendgrid-webhook.json", "audit-log.json", "sent-mail.mbox")


def write_demo(
    out: Path,
    messages: int = 2500,
    seed: int = 7,
    now: datetime | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the demo files; returns their paths (to hand to `maillog import`).

    Files already there are never overwritten unless `force`: refused before anything
    is written."""
    _refuse_overwrite(out, force)
    now = now or datetime.now(UTC)
    out.mkdir(parents=True, exist_ok=True)
    events, sg, audit, mbox = (out / name for name in DEMO_FILES)
    with events.open("wb") as f:
        for row in iter_events(messages, seed=seed, now=now):
            f.write(orjson.dumps(row) + b"\n")
    sg.write_bytes(
        orjson.dumps(
            sendgrid_batch(max(messages // 10, 10), seed + 1, now), option=orjson.OPT_INDENT_2
        )
    )
    audit.write_bytes(orjson.dumps(audit_page(120, seed, now), option=orjson.OPT_INDENT_2))
    mbox.write_bytes(sent_mbox(40, seed, now))
    return [events, sg, audit, mbox]


def _refuse_overwrite(out: Path, force: bool) -> None:
    from maillog_cli.errors import MaillogError

    if out.exists() and not out.is_dir():
        raise MaillogError(f"--out {out} is a file, not a folder; nothing written")
    there = [n for n in DEMO_FILES if (out / n).exists() or (out / n).is_symlink()]
    if there and not force:
        raise MaillogError(
            f"{out} already holds {', '.join(there)}; nothing written",
            "choose another --out folder, or add --force to overwrite them",
        )
