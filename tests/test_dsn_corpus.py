"""The classifier and the DSN parser against the shared bounce corpus (corpus/dsn/)."""

import csv

import pytest

from maillog_cli.bounce.classify import classify
from maillog_cli.importers.email.dsn import DsnRecipient, parse_dsn

from .conftest import CORPUS, CORPUS_MISSING

EXPECTED = CORPUS / "expected.tsv"

pytestmark = pytest.mark.skipif(
    not EXPECTED.is_file(),
    reason=CORPUS_MISSING,
)


def load_rows() -> list[dict[str, str]]:
    if not EXPECTED.is_file():
        return []
    with EXPECTED.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = load_rows()


def verdict_for_row(row):
    code = int(row["smtp_code"]) if row["smtp_code"] else None
    return classify("bounced", code, row["status"] or None, row["diagnostic"] or None)


def verdict_for_parsed(rec: DsnRecipient | None):
    if rec is None:
        return classify("bounced", None, None, None)
    return classify("bounced", rec.smtp_code, rec.status, rec.diagnostic)


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_class_from_tsv_fields(row):
    verdict = verdict_for_row(row)
    assert verdict.bounce_class == row["bounce_class"], (row["diagnostic"], verdict.rule)


def test_reason_agreement_from_tsv_fields():
    misses = [
        f"{r['file']}: expected {r['bounce_reason']}, got {v.bounce_reason} ({v.rule})"
        for r in ROWS
        if (v := verdict_for_row(r)).bounce_reason != r["bounce_reason"]
    ]
    rate = 1 - len(misses) / len(ROWS)
    assert rate >= 0.95, "\n".join(misses)


@pytest.fixture(scope="module")
def parsed():
    return {row["file"]: parse_dsn((CORPUS / row["file"]).read_bytes()) for row in ROWS}


def test_every_file_is_a_bounce_with_a_recipient(parsed):
    missing = [name for name, recs in parsed.items() if not recs or not recs[0].recipient]
    assert not missing


def test_status_agreement(parsed):
    rows = [r for r in ROWS if r["status"]]
    misses = [
        f"{r['file']}: {r['status']} vs {parsed[r['file']][0].status}"
        for r in rows
        if parsed[r["file"]][0].status != r["status"]
    ]
    # Measured: 96 of 97 (the one miss has a status only in a malformed DSN part).
    assert len(misses) <= 2, "\n".join(misses)


def test_diagnostic_of_standard_dsns_is_exact(parsed):
    """For RFC 3464 DSNs with a Diagnostic-Code the field comes back as the tsv shows it."""
    rows = [
        r
        for r in ROWS
        if r["diagnostic"] and b"Diagnostic-Code:" in (CORPUS / r["file"]).read_bytes()
    ]
    misses = [
        f"{r['file']}: {parsed[r['file']][0].diagnostic!r}"
        for r in rows
        if parsed[r["file"]][0].diagnostic != r["diagnostic"]
    ]
    assert len(misses) <= 0.1 * len(rows), "\n".join(misses)


def test_classification_from_parsed_messages(parsed):
    """Classifying what parse_dsn extracts agrees with the expected labels."""
    class_misses, reason_misses = [], []
    for row in ROWS:
        recs = parsed[row["file"]]
        v = verdict_for_parsed(recs[0] if recs else None)
        line = f"{row['file']}: {row['bounce_reason']} vs {v.bounce_reason} ({v.rule})"
        if v.bounce_class != row["bounce_class"]:
            class_misses.append(line)
        if v.bounce_reason != row["bounce_reason"]:
            reason_misses.append(line)
    # Measured: 186/186 for both; allow a little room for the heuristics.
    assert len(class_misses) <= 0.03 * len(ROWS), "\n".join(class_misses)
    assert len(reason_misses) <= 0.05 * len(ROWS), "\n".join(reason_misses)


def test_original_message_ids_are_bare(parsed):
    ids = [r.original_message_id for recs in parsed.values() for r in recs if r.original_message_id]
    assert len(ids) > 100
    assert all("<" not in i and ">" not in i and " " not in i for i in ids)


def test_not_a_bounce_and_hostile_input():
    plain = b"From: a@example.com\nTo: b@example.com\nSubject: lunch\n\nSee you at noon.\n"
    assert parse_dsn(plain) == []
    for raw in [
        b"",
        b"\x00\xff" * 100,
        b"Content-Type: multipart/report\n\n--x",
        b"From: x\n" * 5000,
    ]:
        assert isinstance(parse_dsn(raw), list)
    # A truncated DSN still yields what it has.
    cut = (CORPUS / "rfc3464-42.eml").read_bytes()
    for n in (100, 1000, len(cut) // 2):
        assert isinstance(parse_dsn(cut[:n]), list)


def test_plain_text_bounce_with_inline_delivery_status_fields() -> None:
    """Postfix without MIME pastes the RFC 3464 fields into the body: they are read as such."""
    path = CORPUS / "rfc3464-34.eml"
    if not path.exists():
        pytest.skip(CORPUS_MISSING)
    (r,) = parse_dsn(path.read_bytes())
    assert (r.recipient, r.action, r.status) == ("kijitora@example.com", "delayed", "4.4.1")
