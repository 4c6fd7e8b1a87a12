"""The importer registry: detection order and lookup by --format name.

Detection follows docs/providers.md#detection *in order*; the first importer whose
`detect` accepts a record wins. Adding a provider means adding its module here.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import Any

# Order matters (docs/providers.md#detection): more specific signatures first, our own
# format and the generic column mapper last.
DETECTION_ORDER: tuple[str, ...] = (
    "ses",
    "mailgun",
    "postmark",
    "sparkpost",
    "cloudflare",
    "resend",
    "mandrill",
    "postal",
    "sendgrid",
    "mailjet",
    "brevo",
    "audit",
    "journald",
    "maillog",
    "generic",
)
# Mail servers' own logs: text lines, told apart by sniffing (importers/mta/lines.py).
TEXT_LOGS: tuple[str, ...] = ("mta.postfix", "mta.exim")
# CSV flavours are told apart by their header, in this order.
CSV_ORDER: tuple[str, ...] = ("sendgrid_csv", "audit", "maillog", "generic")


@cache
def load(name: str) -> ModuleType:
    """The importer module called `name` (a name of DETECTION_ORDER, CSV_ORDER, TEXT_LOGS
    or EMAIL)."""
    if name == "journald":
        name = "mta.journald"
    return importlib.import_module(f"{__name__}.{name}")


@cache
def json_importers() -> tuple[ModuleType, ...]:
    """The JSON detectors in order (computed once: detection runs for every record)."""
    return tuple(m for n in DETECTION_ORDER if hasattr(m := load(n), "detect"))


def csv_importers() -> list[ModuleType]:
    return [m for n in CSV_ORDER if hasattr(m := load(n), "detect_header")]


def all_importers() -> list[ModuleType]:
    seen: dict[str, ModuleType] = {}
    for n in (*DETECTION_ORDER, *CSV_ORDER, *TEXT_LOGS, "email.files"):
        m = load(n)
        seen.setdefault(m.NAME, m)
    return list(seen.values())


def by_format(name: str) -> ModuleType | None:
    """The importer for `--format NAME` (its NAME, or the module name)."""
    wanted = name.strip().lower().replace("_", "-")
    for m in all_importers():
        if m.NAME == wanted or m.__name__.rsplit(".", 1)[1].replace("_", "-") == wanted:
            return m
    return None


def detect(obj: Any) -> ModuleType | None:
    """The first importer that recognises a JSON record.

    Detection runs for every record, so the detectors worth asking are looked up by the
    record's keys: one whose DETECT_KEYS it has none of would say no anyway. The rest are
    asked in order, so the first match still wins.
    """
    if not isinstance(obj, dict):
        return None
    keys = tuple(obj)
    candidates = _CANDIDATES.get(keys)
    if candidates is None:
        if len(_CANDIDATES) >= 4096:  # records with ever-changing keys: keep it bounded
            _CANDIDATES.clear()
        candidates = _CANDIDATES[keys] = tuple(
            m
            for m in json_importers()
            if getattr(m, "DETECT_KEYS", None) is None or not m.DETECT_KEYS.isdisjoint(keys)
        )
    for m in candidates:
        if m.detect(obj):
            return m
    return None


_CANDIDATES: dict[tuple[Any, ...], tuple[ModuleType, ...]] = {}


def detect_csv(columns: list[str]) -> ModuleType | None:
    for m in csv_importers():
        if m.detect_header(columns):
            return m
    return None
