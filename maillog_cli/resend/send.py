"""Send a batch of resend plans at a set rate, and record each attempt as a new message.

Every attempt becomes a new message (its id is the Resent-Message-ID) linked to the
original through `messages.resent_from`, with one `sent` or `failed` event per
recipient carrying the server's reply, classified by the import pipeline.
Core code only: nothing here prints; the command renders what these functions return.
The parts: settings (where and how), plan (what and to whom), smtp (the session).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from maillog_cli.errors import MaillogError
from maillog_cli.model import AuditEntry, Event
from maillog_cli.resend.plan import Outgoing, Plan, build_message
from maillog_cli.resend.settings import SmtpSettings
from maillog_cli.resend.smtp import ConnectFailure, Connection, Reply
from maillog_cli.store.db import Store, now_iso

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
    from maillog_cli.ingest.pipeline import FileResult, Ingest
    from maillog_cli.model import StoredMessage

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
            ingest.add(_reply_event(r, plan, new_id, at, settings))
        ingest.finish()
        store.conn.execute(
            "UPDATE messages SET resent_from = ?, send_method = 'smtp' WHERE message_id = ?",
            (plan.original_id, new_id),
        )
        store.insert_audit([_audit_entry(plan, new_id, at, replies, settings)], None)


def _reply_event(r: Reply, plan: Plan, new_id: str, at: str, settings: SmtpSettings) -> Event:
    """The server's answer for one recipient as a `sent` or `failed` event of the new message."""
    from maillog_cli.normalize import enhanced_code

    return Event(
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


def _audit_entry(
    plan: Plan, new_id: str, at: str, replies: Sequence[Reply], settings: SmtpSettings
) -> AuditEntry:
    """Who resent what, through which server, with what outcome (never the password)."""
    import getpass

    from maillog_cli import __version__

    try:
        actor = getpass.getuser()
    except (KeyError, OSError):
        actor = None
    return AuditEntry(
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


def _record_or_why(
    store: Store, plan: Plan, out: Outgoing, replies: Sequence[Reply], settings: SmtpSettings
) -> MaillogError | None:
    """Record the attempt; the store's error instead of raising it, since the email has
    already gone out (or been tried) and that must be said first."""
    try:
        record(store, plan, out, replies, settings)
    except MaillogError as exc:
        return exc
    return None


def _not_recorded(plan: Plan, out: Outgoing, status: str, exc: MaillogError) -> ConnectFailure:
    """The batch stops: the store cannot take the record of what went out, and the error
    must not read as "nothing happened, run it again" (that would send it twice)."""
    return ConnectFailure(
        f"not recorded: {exc.message}",
        f"{plan.original_id} was {status} as {out.message_id} but could not be recorded:"
        f" {exc.message}",
        "do not resend it (it went out); the rest of the batch was not attempted — once the"
        " store can be written, resend those",
    )


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
                status = _overall([r.status for r in replies])
                detail = next(
                    (r.text for r in replies if r.status == "failed"),
                    replies[0].text if replies else "",
                )
                unrecorded = _record_or_why(store, plan, out, replies, settings)
                if unrecorded is not None:
                    result.stopped = _not_recorded(plan, out, status, unrecorded)
                    detail = result.stopped.diagnostic
                outcome = Outcome(plan.original_id, status, plan.recipients, out.message_id, detail)
            result.outcomes.append(outcome)
            report(outcome)
    finally:
        conn.close()
    return result
