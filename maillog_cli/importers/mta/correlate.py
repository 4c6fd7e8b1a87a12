"""Mail-log facts → events, joined by queue id through the state kept in the store.

smtpd `client=` → cleanup `message-id=` (the `queued` event; the RFC Message-ID becomes an
alias) → qmgr `from=, size=, nrcpt=` → one event per recipient per delivery attempt
(`status=sent|deferred|bounced`, Exim `=>`/`->`/`**`/`==`) with relay, delay, delays and
dsn kept in `extra` → `expired` (one bounce per recipient still deferred) → the
non-delivery notice → `removed`. `NOQUEUE: reject:` / Exim `rejected RCPT` lines are
inbound `rejected` events, each the message of the house's synthetic id (importers/base.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from maillog_cli.bounce.classify import classify
from maillog_cli.dates import format_dt
from maillog_cli.importers.base import map_status, synthetic_message_id
from maillog_cli.importers.mta import exim, postfix
from maillog_cli.importers.mta.lines import MtaLine
from maillog_cli.model import Event
from maillog_cli.normalize import address, message_id, reply_fields
from maillog_cli.redaction import scrub
from maillog_cli.store import mta_state
from maillog_cli.store.mta_state import Lifecycle, QueueState

# How long a queue id stays in memory after its `removed`, or without a line (Postfix's
# maximal_queue_lifetime is 5 days): a later line of it reads its state from the store.
ENDED_KEPT = timedelta(hours=1)
IDLE_KEPT = timedelta(days=7)
IDLE_SCAN = 50  # batches between looks at every queue id in memory for idle ones
# Delivery agents that hand mail to a mailbox on this server (inbound), by Postfix daemon.
LOCAL_AGENTS = frozenset({"local", "virtual", "lmtp", "pipe"})
# A delivery line's facts kept as they are in the event's extra data.
DELIVERY_EXTRA = ("relay", "delay", "delays", "dsn", "router", "transport", "mailbox")
STATUS_MAPS: dict[str, dict[str, str | None]] = {
    "postfix": dict(postfix.STATUS_MAP),
    "exim": dict(exim.STATUS_MAP),
}


class Correlator:
    """Turns a file's MtaLines into Events, one batch at a time, inside its transaction.

    It never writes the store itself: events go to `write` (Ingest's classify + insert)
    and every other change goes to `apply` as compact op tuples (store/mta_state.py), in
    order. So the same correlation runs in-process (ops applied at once) and in the forked
    parser (ops sent down the pipe, applied by the parent): both give the same store.
    """

    def __init__(
        self,
        rows: mta_state.Rows,
        write: Callable[[list[Event]], None],
        apply: Callable[[list[mta_state.Op]], None],
    ) -> None:
        self.state = QueueState(rows)
        self.write = write
        self.apply = apply
        self.pending: list[Event] = []
        self.first_host: str | None = None  # the usual host of this log (not repeated)
        self.by_message: dict[str, list[Event]] = {}
        self.evented: set[str] = set()  # the message ids that had an event in this import
        self.early_clients: list[Lifecycle] = []  # client= lines reaching back (see flush)
        # Of the messages only this import wrote ("own", see `_own`): the ids of written
        # events a later line may still change (no sender/size yet; bounces, for the
        # notice), so that change is an UPDATE by event id, not a scan by message id (the
        # events indexes are dropped during a bulk load).
        self.written: dict[str, list[tuple[str, str]]] = {}
        self.foreign: set[str] = set()  # message ids whose events were also written elsewhere
        self.flushed: set[str] = set()  # message ids (with a lifecycle) with written events
        # Own messages' deferred recipients: {recipient: (last reply as stored, its time)},
        # and the recipients delivered or bounced since: an expiry is decided here.
        self.deferrals: dict[str, dict[str, tuple[str | None, str]]] = {}
        self.settled: dict[str, set[str]] = {}
        self.newest: str | None = None  # the latest time read (when to forget, `_forget`)
        self.batches = 0

    def feed(self, facts: list[MtaLine]) -> None:
        self.state.prefetch({f.qid for f in facts if f.qid is not None})
        for fact in facts:
            self._one(fact)
        if facts:
            latest = max(f.timestamp for f in facts)
            if self.newest is None or latest > self.newest:
                self.newest = latest
        self.flush()

    def flush(self) -> None:
        self.flush_events()
        self._lend_clients()
        save = self.state.flush(self.evented)
        if save is not None:
            self.apply([save])
        self._forget()

    def _forget(self) -> None:
        """Let go of the queue ids done with (an hour after their `removed`, or a week
        without a line) and of what was kept about their messages."""
        if self.newest is None:
            return
        newest = datetime.fromisoformat(self.newest.replace("Z", "+00:00"))
        ended, idle = (format_dt(newest - gap) for gap in (ENDED_KEPT, IDLE_KEPT))
        state = self.state
        self.batches += 1
        for life in state.evict(ended, idle, everything=self.batches % IDLE_SCAN == 0):
            mid = life.message_id
            if mid in state.by_message:  # another queue id of it is still in memory
                self.foreign.add(mid)  # (its events are not all known here any more)
                continue
            self.evented.discard(mid)
            self.flushed.discard(mid)
            self.written.pop(mid, None)
            self.deferrals.pop(mid, None)
            self.settled.pop(mid, None)
            self.foreign.discard(mid)

    def _lend_clients(self) -> None:
        """A `client=` read after the arrival it belongs to (the older file read second):
        the arrival's client and direction. Read before the lifecycle its message began
        under, it is that lifecycle's, unless its row split off meanwhile (a reused queue
        id's earlier message): decided at the batch's end, when the earlier message's
        `removed` has had its chance to come."""
        early, self.early_clients = self.early_clients, []
        for row in early:
            life = self.state.reaches_back(row) or row
            if life is not row:
                if life.client is not None or not row.client:
                    continue
                life.client, life.authenticated = row.client, row.authenticated
                self.state.mark(life)
            if life.client and self._arrived(life):
                direction = _direction(life, "client", None)
                self._op(("arrival", life.message_id, direction, life.client))

    def _arrived(self, life: Lifecycle) -> bool:
        """Its message's arrival may be stored already (an earlier batch or import)."""
        return life.stored or life.message_id in self.evented

    def _op(self, op: mta_state.Op) -> None:
        """A change to stored events or queue rows: after the events emitted before it."""
        self.flush_events()
        self.apply([op])

    # --- one line ----------------------------------------------------------------------
    def _one(self, fact: MtaLine) -> None:
        # the fact's parts as locals: a named field is a descriptor call, and `kind` was
        # read up to nine times a line
        _, kind, when, host, qid, _, _, f = fact
        if self.first_host is None:
            self.first_host = host
        if qid is None:
            if kind in ("reject", "discard"):  # refused before it had a queue id: its own
                event = self._reject(fact, None)  # message, one per client refused
                client = f.get("client")
                event.message_id = synthetic_message_id(event, *([client] if client else []))
                self._emit(event)
            return
        life = self.state.find(host, qid, when, kind)
        if kind == "client":
            known = life.client
            life.client = life.client or f.get("client")
            life.authenticated = life.authenticated or int(bool(f.get("sasl")))
            if (
                known is None
                and life.client
                and (self._arrived(life) or self.state.reaches_back(life))
            ):
                self.early_clients.append(life)  # read after the arrival it belongs to
        elif kind in ("qmgr", "pickup", "arrival"):
            self._learn(life, f.get("sender"), f.get("size"), f.get("nrcpt"))
            if kind == "arrival":
                self._header_id(life, f.get("header_id"))
                life.client = life.client or f.get("client")
                life.authenticated = life.authenticated or int(bool(f.get("sasl")))
                event = self._queued(fact, life)
                event.subject = f.get("subject") or None
                self._emit(event)
                if f.get("notice_of"):
                    self._notice_of(fact, f["notice_of"], life)
        elif kind == "msgid":
            self._header_id(life, f.get("header_id"))
            self._emit(self._queued(fact, life))
        elif kind == "delivery" and f.get("requeued_as"):
            self._emit(self._filter_hop(fact, life))
            self._link(fact, life, f["requeued_as"])
        elif kind == "delivery":
            self._emit(self._delivery(fact, life))
            relay = relay_host(f.get("relay"))
            if relay and when >= life.last_at:
                life.relay = relay
        elif kind == "expired":
            self._learn(life, f.get("sender"), None, None)
            self._expired(fact, life)
        elif kind == "notice":
            life.notice = f.get("notice")
            self._notice(life.message_id, f["notice"])
        elif kind in ("reject", "discard"):
            self._header_id(life, f.get("header_id"))  # Exim's rejectlog dumps it
            self._emit(self._reject(fact, life))
            if f.get("ends"):  # the message ends here, as at a `removed`
                self._ended(self.state.find(host, qid, when, "removed"))
        elif kind == "hold":
            self._emit(self._held(fact, life))
        elif kind == "removed":
            self._ended(life)

    def _ended(self, life: Lifecycle) -> None:
        """A `removed` inside a reach-back row: its lines were an earlier message under the
        same (reused) queue id, not the later one's start; give them their own message."""
        later = self.state.reaches_back(life)
        if later is None:
            return
        old, _ = self.state.split_off(life)
        self.foreign.update((old, life.message_id))
        if old in self.evented:  # its events (moved with it) may be among them: keep its row
            self.evented.add(life.message_id)
        self._op(mta_state.move_op(life, old, later))

    def flush_events(self) -> None:
        """Write what is pending before a statement that reads or changes stored events."""
        events, self.pending, self.by_message = self.pending, [], {}
        if not events:
            return
        self.write(events)
        by_message = self.state.by_message
        for e in events:
            mid = e.message_id
            if mid is not None and e.event_id and mid in by_message:
                self.flushed.add(mid)
                if e.sender is None or e.size is None or e.status == "bounced":
                    self.written.setdefault(mid, []).append((e.event_id, e.status))

    def _own(self, message_id: str) -> bool:
        """Every stored event of the message was written by this import, and is known to
        `written`: its only lifecycle began here, and no store-side op made events for it."""
        lives = self.state.by_message.get(message_id, ())
        return len(lives) == 1 and lives[0].fresh and message_id not in self.foreign

    def _notice(self, message_id: str, notice: str) -> None:
        """The non-delivery notice's queue id on the message's bounces: in memory for the
        pending ones, by event id (own message) or message id for the stored ones."""
        for event in self.by_message.get(message_id, ()):
            if event.status == "bounced":
                event.extra["notice"] = notice
        if not self._own(message_id):
            self._op(("notice", message_id, notice))
            return
        ids = [i for i, status in self.written.get(message_id, ()) if status == "bounced"]
        if ids:
            self._op(("notice_ids", ids, notice))

    def _emit(self, event: Event) -> None:
        self.pending.append(event)
        mid = event.message_id
        if mid:
            self.by_message.setdefault(mid, []).append(event)
            self.evented.add(mid)
            if event.recipient is not None and event.status in ("deferred", "delivered", "bounced"):
                self._note_outcome(mid, event)

    def _note_outcome(self, mid: str, event: Event) -> None:
        """Keep what `mta_state.still_deferred` would read of the message's events."""
        recipient = event.recipient
        assert recipient is not None
        if event.status == "deferred":
            seen = self.deferrals.setdefault(mid, {})
            last = seen.get(recipient)
            if last is None or event.timestamp > last[1]:
                seen[recipient] = (scrub(event.diagnostic), event.timestamp)
        elif mid in self.deferrals and event.raw_status != "expired":
            self.settled.setdefault(mid, set()).add(recipient)

    def _learn(self, life: Lifecycle, sender: Any, size: Any, nrcpt: Any) -> None:
        """Facts about the message from qmgr/pickup/arrival; earlier events get them too."""
        new_sender = sender is not None and life.sender is None
        new_size = size is not None and life.size is None
        if sender is not None and life.sender is None:
            life.sender = address(sender) or ""
        if size is not None and life.size is None:
            life.size = size
        if nrcpt is not None:
            life.nrcpt = nrcpt
        if not (new_sender or new_size):
            return
        for event in self.by_message.get(life.message_id, ()):
            event.sender = event.sender or life.sender or None
            event.size = event.size if event.size is not None else life.size
        if life.stored or life.message_id in self.flushed:  # events written already
            self._backfill(life)

    def _backfill(self, life: Lifecycle) -> None:
        """Stored events of the message get the sender/size learned now."""
        mid = life.message_id
        if not self._own(mid):
            self._op(("backfill", mid, life.sender or None, life.size))
            return
        written = self.written.get(mid)
        if written:
            ids = [i for i, _ in written]
            self._op(("backfill_ids", mid, life.sender or None, life.size, ids))
            if life.sender is not None and life.size is not None:
                kept = [(i, status) for i, status in written if status == "bounced"]
                if kept:
                    self.written[mid] = kept
                else:
                    del self.written[mid]

    def _header_id(self, life: Lifecycle, raw: Any) -> None:
        mid = message_id(raw)
        if mid and life.header_id is None:
            life.header_id = mid  # an alias of the message, through its events' aliases

    def _link(self, fact: MtaLine, life: Lifecycle, qid: str) -> None:
        """A content filter's re-injection is the same message under a new queue id: that
        queue id's lifecycle (seen already, or still to come) joins this message."""
        other = self.state.find(fact.host, qid, fact.timestamp, "requeue")
        if life.client:  # the filter's client (localhost) is not where the mail came from
            other.client, other.authenticated = life.client, life.authenticated
        if other.message_id == life.message_id:
            return
        old, new = other.message_id, life.message_id
        direction = _arrival_direction(life, fact)
        if self._own(old) and old not in self.flushed:
            self.state.rename(old, new)  # its rows are not stored yet either: no op
            self._merge_pending(old, new, qid, direction)
            return
        self.foreign.update((old, new))
        self._op(self.state.rename(old, new))
        self._op(("merge", old, new, qid, direction))

    def _merge_pending(self, old: str, new: str, qid: str, direction: str) -> None:
        """`mta_state.merge_message` of a message none of whose events is stored yet, done
        on the pending events (a content filter's re-queue in the same batch, the usual
        case: one UPDATE per message scanned the whole table during a bulk load)."""
        moved = self.by_message.pop(old, [])
        for event in moved:
            event.message_id = new
            if event.status == "queued" and event.recipient is None:
                event.direction = direction
            event.extra["queue_id"] = qid
        if moved and old not in moved[0].aliases:
            moved[0].aliases += (old,)  # the old id stays a way to find the message
        self.by_message.setdefault(new, []).extend(moved)
        self.evented.discard(old)
        self.evented.add(new)
        self.foreign.add(new)  # two lifecycles now: by message id from here on

    def _notice_of(self, fact: MtaLine, original: str, life: Lifecycle) -> None:
        """Exim's bounce arrives as a new message with R=the original's id."""
        first = self.state.lifecycles(fact.host, original)
        if first:
            self._notice(first[-1].message_id, life.qid)

    # --- events ------------------------------------------------------------------------
    def _base(self, fact: MtaLine, life: Lifecycle | None, status: str, raw: str) -> Event:
        aliases: tuple[str, ...] = ()
        sender = size = None
        if life is not None:
            # the queue id finds its message, unless the id was reused: then the bare queue
            # id is the other message's id, and as an alias it would join the two
            aliases = () if life.message_id.startswith(life.qid + "~") else (life.qid,)
            if life.header_id:
                aliases += (life.header_id,)
            sender, size = self._envelope(life)
        return Event(
            timestamp=fact.timestamp,
            status=status,
            raw_status=raw,
            provider=fact.provider,
            event_id=fact.key,
            message_id=life.message_id if life else None,
            sender=sender or None,
            size=size,
            aliases=aliases,
            extra=self._where(fact, life),
        )

    def _envelope(self, life: Lifecycle) -> tuple[str | None, int | None]:
        """The message's sender and size: its lifecycle's, else those its reach-back rows
        learned (qmgr's line in the older file, read after the newer file's `removed`)."""
        sender, size = life.sender, life.size
        if sender is None or size is None:
            for row in self.state.by_message.get(life.message_id, ()):
                if row is not life and row.qid == life.qid and row.last_at < life.first_at:
                    sender = sender if sender is not None else row.sender
                    size = size if size is not None else row.size
        return sender, size

    def _where(self, fact: MtaLine, life: Lifecycle | None) -> dict[str, Any]:
        """The queue id where the message id is not it (a reused id, a content filter's
        re-queue); the host when the log is a central one of several servers."""
        extra: dict[str, Any] = {}
        if life is not None and life.qid != life.message_id:
            extra["queue_id"] = life.qid
        if fact.host and fact.host != self.first_host:
            extra["host"] = fact.host
        return extra

    def _queued(self, fact: MtaLine, life: Lifecycle) -> Event:
        event = self._base(fact, life, "queued", "queued")
        event.direction = _arrival_direction(life, fact)
        event.extra.update(_clean({"client": life.client}))
        return event

    def _delivery(self, fact: MtaLine, life: Lifecycle) -> Event:
        f = fact.fields
        status = STATUS_MAPS[fact.provider].get(f["status"])
        if status is None:  # a word the table does not know: map_status's error
            status = map_status(STATUS_MAPS[fact.provider], f["status"], f"{fact.provider} status")
        assert status is not None
        event = self._base(fact, life, status, f["status"])
        event.recipient = address(f.get("to"))
        code, enhanced, diag = reply_fields(status, f.get("reply"), None, _dsn(f.get("dsn")))
        event.smtp_code, event.enhanced_code, event.diagnostic = code, enhanced, diag
        event.direction = _delivery_direction(fact) or _arrival_direction(life, fact)
        extra = event.extra
        orig_to = address(f.get("orig_to")) if f.get("orig_to") else None
        if orig_to:
            extra["orig_to"] = orig_to
        for key in DELIVERY_EXTRA:
            value = f.get(key)
            if value is not None and value != "":
                extra[key] = value
        if fact.program not in ("smtp", "exim"):  # the agent, where direction does not say it
            extra["program"] = fact.program
        return event

    def _held(self, fact: MtaLine, life: Lifecycle) -> Event:
        """Held or frozen (Postfix `hold:`, Exim `Frozen`): a message-wide step, kept in the
        queue until someone releases it; `released`/`unfrozen` put it back in the queue."""
        f = fact.fields
        status = STATUS_MAPS[fact.provider][f["status"]]
        assert status is not None
        event = self._base(fact, life, status, f["status"])
        event.direction = _arrival_direction(life, fact)
        event.diagnostic = f.get("reply") or None
        event.extra.update(_refused_where(f))
        return event

    def _filter_hop(self, fact: MtaLine, life: Lifecycle) -> Event:
        """The hand-off to a content filter on this host that re-queues the message: a
        `queued` step (raw status `sent`, `requeued_as` the new queue id), not a delivery to
        the recipient; the deliveries are the new queue id's, in the same message."""
        event = self._delivery(fact, life)
        event.status = "queued"
        event.direction = _arrival_direction(life, fact)  # an internal step of its arrival
        event.extra["requeued_as"] = fact.fields["requeued_as"]
        return event

    def _expired(self, fact: MtaLine, life: Lifecycle) -> None:
        """`status=expired, returned to sender`: the bounces of the recipients still
        deferred are made where the store is (mta_state.expired_events), from this
        template; they are stored from then on, so later facts backfill them."""
        event = self._base(fact, life, "bounced", "expired")
        event.bounce_class = "soft"
        mid = life.message_id
        if self._own(mid):  # every deferral of it is known here: no query of the store
            settled = self.settled.get(mid, set())
            waiting = sorted(
                (rcpt, reply, at)
                for rcpt, (reply, at) in self.deferrals.get(mid, {}).items()
                if rcpt not in settled
            )
            for bounce in mta_state.expired_from(event, waiting):
                self._emit(bounce)
            return
        self._op(("expire", event))
        self.evented.add(mid)
        self.foreign.add(mid)  # its bounces were made in the store
        life.stored = True

    def _reject(self, fact: MtaLine, life: Lifecycle | None) -> Event:
        f = fact.fields
        status = "dropped" if fact.kind == "discard" else "rejected"
        event = self._base(fact, life, status, f.get("what") or "reject")
        event.direction = "inbound"
        event.sender = address(f.get("from")) or event.sender
        event.recipient = address(f.get("to"))
        code, enhanced, diag = reply_fields(status, f.get("reply"))
        event.smtp_code, event.enhanced_code, event.diagnostic = code, enhanced, diag
        # A refusal is classified like a bounce, so `bounces --status rejected` gives
        # pflogsumm's "rejects by reason".
        verdict = classify(None, code, enhanced, diag)
        if verdict is not None:
            event.bounce_class, event.bounce_reason = verdict.bounce_class, verdict.bounce_reason
        event.extra.update(_refused_where(f))
        return event


def _refused_where(f: dict[str, Any]) -> dict[str, Any]:
    """Where a refusal, discard or hold happened: the client, the SMTP stage (or the
    header/body check), its HELO and protocol, the header or body line a check matched,
    and every recipient when an Exim rejectlog's `Envelope-to:` named more than one."""
    keys = ("client", "stage", "helo", "proto", "matched", "recipients")
    return _clean({key: f.get(key) for key in keys})


def relay_host(relay: Any) -> str | None:
    """`mx.example.org[192.0.2.1]:25` (Exim: `mx.example.org [192.0.2.1]`) → the host."""
    if not isinstance(relay, str) or not relay:
        return None
    return relay.split("[", 1)[0].strip() or relay


def _dsn(value: Any) -> str | None:
    return (
        value if isinstance(value, str) and value[:1] in "245" and value.count(".") == 2 else None
    )


def _delivery_direction(fact: MtaLine) -> str | None:
    """Into a mailbox here (local/virtual/lmtp/pipe; an Exim non-SMTP transport) is inbound.
    None for an Exim line naming no transport (a router's failure, a blackhole) and for a
    content filter's verdict: the message's own direction then."""
    if fact.provider == "postfix":
        if fact.fields.get("filtered"):  # kept back by a content filter here: no hop out
            return None
        return "inbound" if fact.program in LOCAL_AGENTS else "outbound"
    transport = (fact.fields.get("transport") or "").lower()
    if not transport:
        return None
    return "outbound" if "smtp" in transport and "lmtp" not in transport else "inbound"


def _arrival_direction(life: Lifecycle, fact: MtaLine) -> str:
    return _direction(life, fact.kind, fact.fields.get("proto"))


def _direction(life: Lifecycle, kind: str, proto: str | None) -> str:
    """Mail from another server (an unauthenticated client that is not this host) is
    inbound; a local submission or one from this host is outbound."""
    client = (life.client or "").lower()
    if (
        life.authenticated
        or kind == "pickup"
        or not client
        or "127.0.0.1" in client
        or "[::1]" in client
        or client.startswith("localhost")
    ):
        return "outbound"
    return "outbound" if (proto or "").lower().startswith("local") else "inbound"


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "")}
