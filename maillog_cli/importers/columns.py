"""Column and key names, matched in one way by every importer that maps them by name.

A CSV header cell or a JSON key is compared in `norm_key` form, so `Sent time`,
`sentTime`, `sent-time` and `SENT_TIME` are one name, and a table of synonyms lists each
name once, in snake case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_KEY_JUNK = re.compile(r"[\s\-]+")


def norm_key(key: str) -> str:
    """`createdAt`, `Created At`, `created-at` → `created_at`."""
    return _KEY_JUNK.sub("_", _CAMEL.sub("_", key.strip())).lower()


def find_columns(
    keys: Iterable[str], synonyms: Mapping[str, Iterable[str]], pinned: Mapping[str, str]
) -> dict[str, str]:
    """field → the key holding it: `pinned` (key → field, the user's --map) first, then
    for each field in the table's order the first of its synonyms present that no earlier
    field took (so a `type` column is the status when there is no `status` column, and the
    message type when there is one)."""
    keys = [k for k in keys if isinstance(k, str)]
    by_norm: dict[str, str] = {}
    for k in keys:
        by_norm.setdefault(norm_key(k), k)
    found: dict[str, str] = {}
    for col, target in pinned.items():
        if col in keys:
            found[target] = col
    taken = set(found.values())
    for target, names in synonyms.items():
        if target in found:
            continue
        for name in names:
            hit = by_norm.get(norm_key(name))
            if hit is not None and hit not in taken:
                found[target] = hit
                taken.add(hit)
                break
    return found
