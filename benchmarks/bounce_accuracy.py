"""Bounce classifier accuracy on the shared corpus, and classify() speed.

    python benchmarks/bounce_accuracy.py [--events 1000000]

Prints class / reason agreement with corpus/dsn/expected.tsv twice: from the tsv's own
status / smtp_code / diagnostic fields, and from what maillog_cli.importers.email.dsn.parse_dsn extracts
from the .eml files. Then times classify() over synthetic events shaped like a real log:
mostly non-bounce statuses, bounce texts with unique addresses, IPs and queue ids.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from maillog_cli.bounce import classify as bounces  # noqa: E402
from maillog_cli.importers.email.dsn import parse_dsn  # noqa: E402

SHARED = Path(os.environ.get("MAILLOG_SHARED") or Path(__file__).resolve().parents[2] / "shared")
CORPUS = SHARED / "corpus" / "dsn"


def agreement(rows, verdicts, label):
    cls = sum(v.bounce_class == r["bounce_class"] for r, v in zip(rows, verdicts, strict=True))
    rsn = sum(v.bounce_reason == r["bounce_reason"] for r, v in zip(rows, verdicts, strict=True))
    n = len(rows)
    print(f"{label:<28} class {cls}/{n} ({cls / n:.1%})   reason {rsn}/{n} ({rsn / n:.1%})")
    for r, v in zip(rows, verdicts, strict=True):
        if v.bounce_reason != r["bounce_reason"]:
            print(f"    miss {r['file']}: {r['bounce_reason']} -> {v.bounce_reason} ({v.rule})")


def corpus_report():
    with (CORPUS / "expected.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    from_tsv = [
        bounces.classify(
            "bounced",
            int(r["smtp_code"]) if r["smtp_code"] else None,
            r["status"] or None,
            r["diagnostic"] or None,
        )
        for r in rows
    ]
    agreement(rows, from_tsv, "tsv fields")
    t0 = time.perf_counter()
    parsed = [parse_dsn((CORPUS / r["file"]).read_bytes()) for r in rows]
    parse_s = time.perf_counter() - t0
    first = [p[0] if p else None for p in parsed]
    from_eml = [
        bounces.classify("bounced", p and p.smtp_code, p and p.status, p and p.diagnostic)
        for p in first
    ]
    agreement(rows, from_eml, "parse_dsn(.eml) fields")
    with_rcpt = sum(1 for p in first if p and p.recipient)
    st_rows = [(r, p) for r, p in zip(rows, first, strict=True) if r["status"]]
    st_ok = sum(1 for r, p in st_rows if p and p.status == r["status"])
    dg_rows = [(r, p) for r, p in zip(rows, first, strict=True) if r["diagnostic"]]
    dg_ok = sum(1 for r, p in dg_rows if p and p.diagnostic == r["diagnostic"])
    print(
        f"parse_dsn: recipient {with_rcpt}/{len(rows)}, status {st_ok}/{len(st_rows)}, "
        f"diagnostic identical to tsv {dg_ok}/{len(dg_rows)}, "
        f"{parse_s / len(rows) * 1000:.2f} ms per message"
    )
    return [r["diagnostic"] for r in rows if r["diagnostic"]]


def synthetic(n, texts, seed=7):
    rnd = random.Random(seed)
    statuses = ["delivered"] * 70 + ["opened"] * 10 + ["sent"] * 8 + ["bounced"] * 6
    statuses += ["deferred"] * 4 + ["dropped", "failed"]
    for i in range(n):
        status = rnd.choice(statuses)
        if status in bounces.BOUNCE_STATUSES:
            # A corpus text with a fresh address / IP / id, as every real bounce has.
            text = rnd.choice(texts)
            if rnd.random() < 0.5:
                text = f"{text} <u{rnd.randrange(10**6)}@example.com> id={i:x}"
            yield status, None, None, text, None
        else:
            yield status, None, None, None, None


def speed_report(n, texts):
    events = list(synthetic(n, texts))
    bounces._classify.cache_clear()
    t0 = time.perf_counter()
    for e in events:
        bounces.classify(*e)
    elapsed = time.perf_counter() - t0
    unique = len({e[3] for e in events if e[3]})
    print(
        f"classify: {n:,} events ({unique:,} distinct bounce texts) in {elapsed:.2f} s "
        f"= {elapsed / n * 1e6:.2f} us/event"
    )
    bounces._classify.cache_clear()
    sample = [f"{t} <u{i}@example.com> id={i:x}" for i, t in enumerate(texts * 50)]
    t0 = time.perf_counter()
    for t in sample:
        bounces.classify("bounced", None, None, t)
    per = (time.perf_counter() - t0) / len(sample) * 1e6
    print(f"classify, all texts distinct (no cache hits): {per:.1f} us/event")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    args = ap.parse_args()
    texts = corpus_report()
    speed_report(args.events, texts)


if __name__ == "__main__":
    main()
