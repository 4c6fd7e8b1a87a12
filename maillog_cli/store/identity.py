"""One email, one message: joining the ids that name the same email, in any import order.

Every source names an email by its own id (SES's `mail.messageId`, SendGrid's send id, an
.eml's Message-ID …) and often by others too (`Event.aliases`: the RFC Message-ID, a
second provider id, an `anymail_id` the sender attached). A message is a group of ids: its
`message_id` and the `message_aliases` rows that point at it. When an import brings ids
that meet a stored group under another id, or meet two groups, they become one message:
events, stored email, message facts and aliases move under one id, and every other id
stays an alias — so `show`, `resend` and `--message-id` find it by any of them.

The id a group is stored under depends only on the group, never on which part came first:
- ids from one provider only: that provider's own message id (docs/providers.md names the field);
  if one provider gave two ids for one email, its kind of id first (SES, SendGrid,
  Postmark … ids without @; Mailgun, Postal, Brevo … the Message-ID), then the smallest;
- from two or more sources (providers, or a provider and a raw email): the RFC Message-ID
  (an id with @; the smallest if several), else a source's own id, the smallest.
Ids that cannot name one email never join anything: blank, `<>`, placeholders such as
`null` or `0`, and ids under MIN_LENGTH characters (a small counter is reused by others).

Called once per batch from the import's write path (ingest/batches.py); the common case
costs two indexed lookups per batch and rewrites nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

MIN_LENGTH = 8
PLACEHOLDERS = frozenset({"null", "none", "nil", "undefined", "unknown", "n/a", "na", "-"})
_LONGEST_PLACEHOLDER = max(map(len, PLACEHOLDERS))
# The providers whose own message id is not the RFC Message-ID (docs/providers.md, "Message id").
OWN_ID_PROVIDERS = frozenset(
    {"ses", "sendgrid", "postmark", "resend", "sparkpost", "mandrill", "mailjet"}
)
RAW_EMAIL = "email"  # the source of events without a provider: .eml, mbox, Maildir
_MID = 1  # the message_id position in a row made by store.db.event_row
_PROVIDER = 3

Row = tuple[Any, ...]


def joinable(ident: str | None) -> bool:
    """Whether an id may join two records: one that only one email can carry."""
    if not ident or len(ident) < MIN_LENGTH:
        return False
    s = ident.strip("<> \t")
    if len(s) < MIN_LENGTH or (len(s) <= _LONGEST_PLACEHOLDER and s.lower() in PLACEHOLDERS):
        return False
    return s.count(s[0]) != len(s)


def is_rfc(ident: str) -> bool:
    """An RFC 5322 Message-ID (`local@domain`), as opposed to a provider's own id."""
    return "@" in ident


def canonical(ids: Iterable[str], providers: set[str], primaries: set[str]) -> str:
    """The id a group is stored under (see the module docstring); a function of the group."""
    if len(providers) >= 2:
        return min(ids, key=lambda i: (not is_rfc(i), i not in primaries, i))
    if len(primaries) == 1:
        return next(iter(primaries))
    prefer_rfc = not (providers & OWN_ID_PROVIDERS)
    return min(primaries, key=lambda i: (is_rfc(i) != prefer_rfc, i))


class _Groups:
    """Union-find over ids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb

    def components(self) -> list[set[str]]:
        out: dict[str, set[str]] = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), set()).add(x)
        return list(out.values())


def _json(values: Iterable[str]) -> str:
    return orjson.dumps(list(values)).decode()


def _stored_ids(conn: sqlite3.Connection, wanted: set[str]) -> tuple[dict[str, str], set[str]]:
    """Which of `wanted` the store knows: alias → its message, and ids that are messages
    (stored rows, or written earlier in this import: the `touched` table). An alias is never
    a message's own id, so an id that is an alias is not looked for as a message.

    One statement for the whole batch: each id is looked up in the three indexes once."""
    if not wanted:
        return {}, set()
    aliases: dict[str, str] = {}
    messages: set[str] = set()
    for ident, alias_of, is_message in conn.execute(
        "SELECT * FROM (SELECT j.value, a.message_id AS alias_of, a.message_id IS NULL AND ("
        "   EXISTS (SELECT 1 FROM main.messages m WHERE m.message_id = j.value)"
        "   OR EXISTS (SELECT 1 FROM temp.touched t WHERE t.message_id = j.value)) AS is_message"
        " FROM json_each(?) AS j LEFT JOIN message_aliases a ON a.alias = j.value)"
        " WHERE alias_of IS NOT NULL OR is_message",
        (_json(wanted),),
    ):
        if alias_of is not None:
            aliases[ident] = alias_of
        elif is_message:
            messages.add(ident)
    return aliases, messages


def _group_facts(
    conn: sqlite3.Connection, mids: set[str]
) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """For the stored messages `mids`: each one's aliases, and the sources of its events (a
    message with a stored email and no events yet counts as a raw email). One query each
    for a whole batch: during a bulk load events may have no message_id index."""
    param = _json(mids)
    aliases: dict[str, set[str]] = {m: set() for m in mids}
    for alias, mid in conn.execute(
        "SELECT alias, message_id FROM message_aliases"
        " WHERE message_id IN (SELECT value FROM json_each(?))",
        (param,),
    ):
        aliases[mid].add(alias)
    sources: dict[str, set[str]] = {m: set() for m in mids}
    for mid, provider in conn.execute(
        "SELECT message_id, coalesce(provider, ?) FROM events"
        " WHERE message_id IN (SELECT value FROM json_each(?)) GROUP BY 1, 2",
        (RAW_EMAIL, param),
    ):
        sources[mid].add(provider)
    for found in sources.values():
        if not found:
            found.add(RAW_EMAIL)
    return aliases, sources


def _one_source_twice(units: Iterable[set[str]]) -> bool:
    """Whether two of the emails about to join come from one source: a provider names one
    email by one id, so two of its ids are two emails that share an alias (a transmission,
    a reused custom id) and must stay apart."""
    seen: set[str] = set()
    for unit in units:
        if seen & unit:
            return True
        seen |= unit
    return False


def merge(conn: sqlite3.Connection, moves: dict[str, str]) -> None:
    """Move everything stored under each old id to its new one; the old id becomes an alias.

    Events keep their ids (so re-importing either source still adds nothing) and move in
    one statement for the batch; the stored email, the message's own facts (headers, auth
    results, size …) and the resend link move; the event aggregates are recomputed by the
    refresh that ends the import.
    """
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS id_moves (old TEXT PRIMARY KEY, new TEXT)")
    conn.execute("DELETE FROM temp.id_moves")
    conn.executemany("INSERT INTO temp.id_moves VALUES (?, ?)", moves.items())
    conn.execute(
        "UPDATE events SET message_id = (SELECT new FROM temp.id_moves WHERE old = message_id)"
        " WHERE message_id IN (SELECT old FROM temp.id_moves)"
    )
    for old, new in moves.items():
        conn.execute(
            "INSERT OR IGNORE INTO message_content(message_id, raw)"
            " SELECT ?, raw FROM message_content WHERE message_id = ?",
            (new, old),
        )
        conn.execute("DELETE FROM message_content WHERE message_id = ?", (old,))
        _merge_message_row(conn, old, new)
        conn.execute("UPDATE messages SET resent_from = ? WHERE resent_from = ?", (new, old))
        conn.execute("UPDATE message_aliases SET message_id = ? WHERE message_id = ?", (new, old))
        conn.execute(
            "INSERT OR REPLACE INTO message_aliases(alias, message_id) VALUES (?, ?)", (old, new)
        )
        conn.execute("DELETE FROM message_aliases WHERE alias = ?", (new,))
        conn.execute("INSERT OR IGNORE INTO temp.touched VALUES (?)", (new,))


def _merge_message_row(conn: sqlite3.Connection, old: str, new: str) -> None:
    """The messages row of `old` folded into `new`'s: what `new` lacks is taken from `old`."""
    if not conn.execute("SELECT 1 FROM messages WHERE message_id = ?", (old,)).fetchone():
        return
    if not conn.execute("SELECT 1 FROM messages WHERE message_id = ?", (new,)).fetchone():
        conn.execute("UPDATE messages SET message_id = ? WHERE message_id = ?", (new, old))
        return
    cols = [r[1] for r in conn.execute("PRAGMA main.table_info(messages)") if r[1] != "message_id"]
    sets = []
    for c in cols:
        other = f"(SELECT o.{c} FROM messages o WHERE o.message_id = :old)"
        if c == "first_seen":
            sets.append(f"{c} = min(coalesce({c}, {other}), coalesce({other}, {c}))")
        elif c == "has_content":
            sets.append(f"{c} = max({c}, {other})")
        else:
            sets.append(f"{c} = coalesce({c}, {other})")
    conn.execute(
        f"UPDATE messages SET {', '.join(sets)} WHERE message_id = :new", {"old": old, "new": new}
    )
    conn.execute("DELETE FROM messages WHERE message_id = ?", (old,))


def join(
    conn: sqlite3.Connection,
    primaries: dict[str, set[str]],
    providers: dict[str, set[str]],
) -> dict[str, str]:
    """Join a batch's ids with the store's; returns {id: the id to store it under} for the
    batch ids that move, after merging the stored messages that are now one.

    `primaries` maps each message id of the batch to its joinable aliases; `providers`
    the sources that named it.
    """
    links = {p: al for p, al in primaries.items() if joinable(p)}  # the rest joins nothing
    wanted = set(links).union(*links.values())
    stored_alias, stored_msg = _stored_ids(conn, wanted)
    hard = _to_join(links, stored_alias, stored_msg)
    if not hard:
        return {}
    groups = _Groups()
    for p in hard:
        groups.find(p)
        for a in links[p]:
            groups.union(p, a)
    for a, mid in stored_alias.items():
        if a in groups.parent:
            groups.union(a, mid)
    known = set(stored_alias) | stored_msg
    todo: list[tuple[set[str], set[str], set[str]]] = []
    for comp in groups.components():
        batch = {p for p in comp if p in primaries}
        stored = (stored_msg & comp) | {stored_alias[a] for a in comp if a in stored_alias}
        if not stored and len(batch) == 1:
            continue  # a new email, under its own id
        if stored == batch and len(batch) == 1 and all(i in known or i in batch for i in comp):
            continue  # an email already stored under this id, nothing new about it
        todo.append((comp, batch, stored))
    every_stored = set().union(*(stored for _, _, stored in todo))
    aliases_of, sources_of = _group_facts(conn, every_stored) if every_stored else ({}, {})
    moves: dict[str, str] = {}
    merges: dict[str, str] = {}
    for comp, batch, stored in todo:
        units = [sources_of[m] for m in stored]
        units += [providers.get(p) or {RAW_EMAIL} for p in batch - known]
        if _one_source_twice(units):
            continue
        sources = set().union(*units)
        for p in batch & known:
            sources |= providers.get(p, set())
        ids = comp.union(stored, *(aliases_of[m] for m in stored))
        target = canonical(ids, sources, stored | batch)
        merges.update({old: target for old in stored if old != target})
        moves.update({p: target for p in batch | stored if p != target})
    if merges:
        merge(conn, merges)
    return moves


def _to_join(
    links: dict[str, set[str]], stored_alias: dict[str, str], stored_msg: set[str]
) -> set[str]:
    """The batch ids that may join something: those that meet another batch id, a stored
    message under another id, or bring a stored message new ids. Plain dict work, so that
    the common batch (new emails, or more events of stored ones) costs nothing more."""
    hard: set[str] = set()
    owner: dict[str, str] = {}
    for p, aliases in links.items():
        for a in aliases:
            first = owner.setdefault(a, p)
            if first != p or a in links:
                hard.update((first, p, a) if a in links else (first, p))
    for p, aliases in links.items():
        if p in hard:
            continue
        ids = (p, *aliases)
        targets = {stored_alias[i] for i in ids if i in stored_alias}
        targets.update(i for i in ids if i in stored_msg)
        if not targets:
            continue
        if targets == {p} and all(a in stored_alias or a in stored_msg for a in aliases):
            continue
        hard.add(p)
    return hard & set(links)


def join_rows(
    conn: sqlite3.Connection, rows: Sequence[Row], aliases: set[tuple[str, str]]
) -> tuple[list[Row], set[tuple[str]], set[tuple[str, str]]]:
    """A batch of event rows joined with the store: the rows (moved where their email is
    stored under another id), the message ids they touch and the alias rows to add."""
    primaries: dict[str, set[str]] = {}
    providers: dict[str, set[str]] = {}
    for row in rows:
        mid = row[_MID]
        if mid:
            primaries.setdefault(mid, set())
            providers.setdefault(mid, set()).add(row[_PROVIDER] or RAW_EMAIL)
    for a, mid in aliases:
        if a != mid and joinable(a):
            primaries.setdefault(mid, set()).add(a)
    moves = join(conn, primaries, providers)
    out = list(rows)
    if moves:
        out = [r[:_MID] + (moves[r[_MID]],) + r[_MID + 1 :] if r[_MID] in moves else r for r in out]
    pairs = {(a, moves.get(p, p)) for p, al in primaries.items() if al and joinable(p) for a in al}
    if moves:
        pairs |= set(moves.items())
        pairs = {(a, m) for a, m in pairs if a != m}
    ids = {(moves.get(p, p),) for p in primaries}
    return out, ids, pairs


def join_content(conn: sqlite3.Connection, message_id: str) -> str:
    """The id a stored email goes under: its Message-ID, or the id of the message it joins."""
    moves = join(conn, {message_id: set()}, {message_id: {RAW_EMAIL}})
    return moves.get(message_id, message_id)


def join_restored_aliases(conn: sqlite3.Connection, pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Alias rows of our export form joined like an import's ids (an export of one store
    may name, as an alias, an email another store holds under its own id); returns the
    moved message ids."""
    primaries: dict[str, set[str]] = {}
    for alias, mid in pairs:
        if alias != mid and joinable(alias):
            primaries.setdefault(mid, set()).add(alias)
    return join(conn, primaries, {}) if primaries else {}


def current_id(conn: sqlite3.Connection, mid: str) -> str:
    """The id a message is stored under now (it may have been joined into another)."""
    row = conn.execute("SELECT message_id FROM message_aliases WHERE alias = ?", (mid,)).fetchone()
    return str(row[0]) if row else mid
