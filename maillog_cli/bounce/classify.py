"""Bounce classification: (status, reply code, enhanced code, text, provider label) -> verdict.

The procedure of ``docs/bounces.md`` ("The decision procedure"), applied to the tables in
``bounce/rules.py``. Nothing here does I/O, looks at the clock or at other events: the
same inputs always give the same verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from maillog_cli.bounce.rules import (  # noqa: F401  (re-exported: callers import them from here)
    BLOCK,
    BOUNCE_STATUSES,
    CLIENT_EMBEDDED_REPLY,
    CLIENT_ERROR_NAMES,
    CLIENT_ERRORS,
    CONNECT_STAGE,
    CONTENT_TEXT_DECIDES,
    ENHANCED_CODE_TEXT,
    ENHANCED_CODES,
    HARD,
    MAIL_FROM_STAGE,
    PROVIDER_FALLBACK,
    PROVIDER_HINTS,
    REASONS,
    REPLY_CODES,
    SOFT,
    SOFT_OTHER,
    TEXT_PATTERNS,
    TLS_TEXT,
    UNDETERMINED,
    WRAPPERS,
    ReasonInfo,
)


@dataclass(frozen=True)
class Verdict:
    bounce_class: str  # hard | soft | block | undetermined
    bounce_reason: str  # a key of REASONS
    rule: str  # which step / table entry decided, for `bounces explain`


def _split_top(src: str, sep: str = "|") -> list[str]:
    """Split a regex source at top-level `sep`, respecting escapes, groups and classes."""
    parts, depth, in_class, i, last = [], 0, False, 0, 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if src[i + 1 : i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(src[last:i])
            last = i + 1
        i += 1
    parts.append(src[last:])
    return parts


def _group_end(src: str, start: int) -> int:
    """Index of the parenthesis closing the group that opens at src[start]."""
    depth, i = 0, start
    while i < len(src):
        if src[i] == "\\":
            i += 2
            continue
        depth += {"(": 1, ")": -1}.get(src[i], 0)
        if depth == 0:
            return i
        i += 1
    raise ValueError(f"unbalanced pattern: {src!r}")


_SPECIAL = frozenset(".^$*+?{}[]()|\\")


def _leaf_parts(leaf: str) -> tuple[str, str]:
    """(literal prefix, rest) of one alternative, its leading assertions moved into rest.

    A leading `\b` (before a word character), `^` or lookbehind becomes a lookbehind
    placed after the literal prefix, so every alternative starts with a literal and the
    alternatives can share a trie of prefixes.
    """
    guards: list[tuple[str, str]] = []  # (operator "!" or "=", what precedes)
    while True:
        if leaf.startswith("\\b"):
            guards.append(("!", r"\w"))
            leaf = leaf[2:]
        elif leaf.startswith("^"):
            guards.append(("!", "."))
            leaf = leaf[1:]
        elif leaf.startswith(("(?<!", "(?<=")):
            end = _group_end(leaf, 0)
            guards.append((leaf[3], leaf[4:end]))
            leaf = leaf[end + 1 :]
        else:
            break
    prefix, i = "", 0
    while i < len(leaf):
        if leaf[i] == "\\" and i + 1 < len(leaf) and not leaf[i + 1].isalnum():
            char, step = leaf[i + 1], 2
        elif leaf[i] not in _SPECIAL:
            char, step = leaf[i], 1
        else:
            break
        if leaf[i + step : i + step + 1] in ("?", "*", "+", "{"):
            break
        prefix, i = prefix + char, i + step
    if not prefix:
        raise ValueError(f"text pattern alternative must start with a literal: {leaf!r}")
    width = "." * len(prefix)
    return prefix, "".join(f"(?<{op}{before}{width})" for op, before in guards) + leaf[i:]


def _trie_regex(leaves: list[tuple[str, str]]) -> str:
    """A regex matching any of the (literal prefix, rest) alternatives, prefixes shared."""
    trie: dict = {}
    for prefix, rest in leaves:
        node = trie
        for char in prefix:
            node = node.setdefault(char, {})
        node.setdefault("", []).append(rest)

    def emit(node: dict) -> str:
        alts = [re.escape(c) + emit(child) for c, child in node.items() if c]
        alts += node.get("", [])
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(trie)


def _leaves(src: str) -> list[tuple[str, str]]:
    return [_leaf_parts(x) for top in _split_top(src) for x in _expand(top)]


def _expand(leaf: str) -> list[str]:
    """Expand a leading `(?:a|b)` / `(?:a|b)?` group into separate alternatives."""
    i = 0
    while leaf.startswith(("\\b", "^", "(?<!", "(?<="), i):
        i = i + 1 if leaf[i] == "^" else i + 2 if leaf[i] == "\\" else _group_end(leaf, i) + 1
    if not leaf.startswith("(?:", i):
        return [leaf]
    end = _group_end(leaf, i)
    head, inner, tail = leaf[:i], leaf[i + 3 : end], leaf[end + 1 :]
    optional = tail.startswith("?")
    tail = tail[1:] if optional else tail
    alts = [head + a + tail for a in _split_top(inner)] + ([head + tail] if optional else [])
    return [x for a in alts for x in _expand(a)]


def _build_scan(
    patterns: list[tuple[str, str, str]],
) -> tuple[re.Pattern[str], dict[str, tuple[re.Pattern[str], dict[str, int]]]]:
    """One regex for all phrases, plus per-first-character regexes that name the phrase.

    Python's re tries alternatives one after another at every position; sharing literal
    prefixes in a trie lets it reject most positions with a comparison or two. The scan
    has no capturing groups (hundreds of them would make every backtrack copy the group
    marks); where it matches, the small regex for that first character, whose named
    groups map back to entries of `patterns` in order, tells which phrase it was.
    """
    all_leaves: list[tuple[str, str]] = []
    by_first: dict[str, list[tuple[int, str]]] = {}
    for index, (_, _, src) in enumerate(patterns):
        for prefix, rest in _leaves(src):
            all_leaves.append((prefix, rest))
            by_first.setdefault(prefix[0], []).append((index, re.escape(prefix[1:]) + rest))
    which = {}
    for c, alts in by_first.items():
        groups = "|".join(f"(?P<g{n}>{alt})" for n, (_, alt) in enumerate(alts))
        which[c] = (
            re.compile(f"{re.escape(c)}(?:{groups})"),
            {f"g{n}": index for n, (index, _) in enumerate(alts)},
        )
    return re.compile(_trie_regex(all_leaves)), which


def _compile_fast(src: str) -> re.Pattern[str]:
    """Compile an alternation as a trie of literal prefixes (see _build_scan)."""
    return re.compile(_trie_regex(_leaves(src)))


_EMBEDDED_REPLY = _compile_fast(CLIENT_EMBEDDED_REPLY)
_CLIENT_NAMES = _compile_fast(CLIENT_ERROR_NAMES)

# Every phrase in one regex (see _build_scan); match_text finds each position where some
# phrase starts and keeps the entry with the lowest index in TEXT_PATTERNS.
_TEXT_SCAN, _SCAN_WHICH = _build_scan(TEXT_PATTERNS)


# --------------------------------------------------------------------------------------
# Step 0 / step 6: normalisation, code extraction, SMTP stage
# --------------------------------------------------------------------------------------

# A reply code: 2xx/4xx/5xx, not part of a longer or dotted number, followed by space,
# "-", ":" or the end.
_REPLY_CODE = re.compile(r"(?<![\w.:])([245]\d\d)(?=[ \-:]|$)")
# An enhanced code class.subject.detail, not part of a longer dotted number (so IP
# addresses and Yahoo's 4.16.55.1 do not count); "#5.1.1" and "(#4.4.1)" do.
_ENHANCED_CODE = re.compile(r"(?<![\w.])([245])\.([0-7])\.(\d{1,3})(?!\d|\.\d)")

# Addresses name no cause: "<nospam@x>" or "mailbox-full@x" must not match a phrase.
_ADDRESS = re.compile(r"[\w.+'=/%-]+@[\w-]+(?:\.[\w-]+)+")
# Hard-address results that the stage turns into a statement about us.
_STAGE_AFFECTED = frozenset({"user_unknown", "domain_not_found"})


def normalise_text(text: str | None) -> str:
    """Lowercase, collapse whitespace, plain apostrophes, continuation prefixes gone (step 0.1)."""
    if not text:
        return ""
    return strip_continuations(" ".join(text.lower().replace("\u2019", "'").split()))


# A multi-line reply's continuation prefix: "550-" or "550-5.1.1 " (RFC 5321 4.2.1).
_CONTINUATION = re.compile(r"(?<![\w.:-])([245]\d\d)-(?:[245]\.\d{1,3}\.\d{1,3}(?= ))?")


def strip_continuations(text: str) -> str:
    """A multi-line reply without the repeated "550-5.1.1 " prefixes after the first one.

    The prefixes split phrases that run over a line break ("does not 550-5.1.1 exist"),
    so they go; the first stays, because it carries the codes.
    """
    first = _CONTINUATION.search(text)
    if first is None:
        return text
    again = re.compile(r" " + first.group(1) + r"[ -](?:[245]\.\d{1,3}\.\d{1,3}(?= |$))?")
    rest = " ".join(again.sub(" ", text[first.end() :]).split())
    return text[: first.end()] + (" " if text[first.end() : first.end() + 1] == " " else "") + rest


def extract_codes(text: str | None) -> tuple[int | None, str | None]:
    """The first reply code and the first enhanced code in a normalised text (step 0)."""
    if not text:
        return None, None
    m = _REPLY_CODE.search(text)
    e = _ENHANCED_CODE.search(text)
    return (int(m.group(1)) if m else None), (".".join(e.groups()) if e else None)


def _clean_enhanced(code: str | None) -> str | None:
    if not code:
        return None
    code = code.strip().lstrip("#(").rstrip(")")
    m = _ENHANCED_CODE.fullmatch(code)
    return ".".join(m.groups()) if m else None


def reason_class(reason: str, smtp_code: int | None, enhanced_code: str | None) -> str:
    """The class of a reason; for `other`, soft when the failure is transient."""
    cls = REASONS[reason].bounce_class
    if cls is not None:
        return cls
    first = enhanced_code[0] if enhanced_code else (str(smtp_code)[0] if smtp_code else "")
    return SOFT if first == "4" else UNDETERMINED


def match_text(text: str) -> tuple[str, str] | None:
    """Step 3 on a normalised text: (reason, label) of the highest-precedence phrase.

    TEXT_PATTERNS is in precedence order, so the matching entry with the lowest index
    wins (a reason listed twice, such as network_error, has two precedence slots).
    """
    best = len(TEXT_PATTERNS)
    pos = 0
    while (m := _TEXT_SCAN.search(text, pos)) is not None:
        pos = m.start()
        rx, names = _SCAN_WHICH[text[pos]]
        which = rx.match(text, pos)
        if which is not None and which.lastgroup is not None:
            best = min(best, names[which.lastgroup])
        if best == 0:
            break
        pos += 1
    if best == len(TEXT_PATTERNS):
        return None
    reason, label, _ = TEXT_PATTERNS[best]
    return reason, label


def lookup_enhanced(code: str | None, text: str = "") -> str | None:
    """Step 4: the reason of an enhanced code, exact code first, then the X. row."""
    if not code:
        return None
    generic = "X." + code.split(".", 1)[1]
    for key, rx, reason in ENHANCED_CODE_TEXT:
        if key in (code, generic) and rx.search(text):
            return reason
    return ENHANCED_CODES.get(code) or ENHANCED_CODES.get(generic)


def _client_error(text: str) -> tuple[str, str] | None:
    """Step 1: (reason, name) for a client library error that embeds no server reply."""
    if _EMBEDDED_REPLY.search(text):
        return None
    names = {m.group() for m in _CLIENT_NAMES.finditer(text)}
    if not names:
        return None
    for name, reason in CLIENT_ERRORS.items():
        if name in names:
            if name in ("esocket", "etls") and TLS_TEXT.search(text):
                return "tls_error", name
            return reason, name
    return None


def _hint_reason(hint: str | None, text: str) -> tuple[str, str] | None:
    """Step 2: (reason, rule) for a trusted provider label."""
    if not hint:
        return None
    key = hint.strip().lower()
    reason = PROVIDER_HINTS.get(key)
    if reason is None:
        return None
    if reason == CONTENT_TEXT_DECIDES:
        found = match_text(text)
        reason = found[0] if found and found[0] == "content_rejected" else "spam_content"
    provider, _, label = hint.strip().partition(":")
    return reason, f"provider: {provider} {label}"


def _provider_fallback(hint: str | None) -> tuple[str, str | None, str] | None:
    """Step 5b: (reason, class or None, rule) from the provider's coarse verdict."""
    if not hint:
        return None
    key = hint.strip().lower()
    provider, _, label = key.partition(":")
    kind, _, sub = label.partition("/")
    for candidate in (key, f"{provider}:{sub}" if sub else "", f"{provider}:{kind}"):
        value = PROVIDER_FALLBACK.get(candidate)
        if value is not None:
            rule = f"provider: {hint.strip().partition(':')[0]} {hint.strip().partition(':')[2]}"
            rule += " (the text names no cause)"
            if value == SOFT_OTHER:
                return "other", SOFT, rule
            return value, None, rule
    return None


@lru_cache(maxsize=65536)
def _classify(
    smtp_code: int | None, enhanced_code: str | None, diagnostic: str | None, hint: str | None
) -> Verdict:
    text = normalise_text(diagnostic)
    code_in_text, enhanced_in_text = extract_codes(text)
    if smtp_code is None:
        smtp_code = code_in_text
    enhanced = _clean_enhanced(enhanced_code)
    if enhanced is None or enhanced.endswith(".0.0"):
        enhanced = enhanced_in_text or enhanced

    def verdict(reason: str, rule: str) -> Verdict:
        return Verdict(reason_class(reason, smtp_code, enhanced), reason, rule)

    # Step 0.4: note the stage, then drop wrappers that name no cause.
    stage = None
    if text:
        if CONNECT_STAGE.search(text):
            stage = "connection/HELO", "auth_policy"
        elif MAIL_FROM_STAGE.search(text):
            stage = "MAIL FROM", "sender_rejected"
        text = _ADDRESS.sub("_addr_", WRAPPERS.sub(" ", text))

    # Step 1: client-side failures.
    client = _client_error(text) if text else None
    if client:
        return verdict(client[0], f"client error {client[1].upper()}")

    # Step 2: the provider's own specific label.
    provided = _hint_reason(hint, text)
    if provided:
        return verdict(*provided)

    # Steps 3-5: text, enhanced code, reply code.
    found = match_text(text) if text else None
    by_code = None if found else lookup_enhanced(enhanced, text)
    if found:
        reason, rule = found[0], f"text: {found[1]}"
    elif by_code is not None:
        reason, rule = by_code, f"enhanced code {enhanced}"
    elif smtp_code in REPLY_CODES:
        reason, rule = REPLY_CODES[smtp_code], f"reply code {smtp_code}"
    elif (fallback := _provider_fallback(hint)) is not None:
        # Step 5b: the provider's coarse verdict, before "undetermined".
        reason, cls, rule = fallback
        return Verdict(cls, reason, rule) if cls else verdict(reason, rule)
    else:
        # Step 7.
        return verdict("other", "nothing matched")

    # Step 6: a hard-address verdict given at connection / MAIL FROM is about us.
    if stage and reason in _STAGE_AFFECTED:
        rule = f"{rule}; refused at {stage[0]} -> {stage[1]}"
        reason = stage[1]
    return verdict(reason, rule)


def classify(
    status: str | None,
    smtp_code: int | None,
    enhanced_code: str | None,
    diagnostic: str | None,
    hint: str | None = None,
) -> Verdict | None:
    """Classify one event; None when status is not a bounce status.

    A status of None means "classify anyway" (used by `bounces explain`).
    """
    if status is not None and status not in BOUNCE_STATUSES:
        return None
    return _classify(smtp_code or None, enhanced_code or None, diagnostic or None, hint or None)
