"""The same body gives the same stored rows in every process: a webhook stored by
`maillog serve` and its dump imported later by `maillog import` run under different hash
seeds, so nothing in a row may follow set or hash order (SendGrid's `extra` once did)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.serve.hooks import ROOT

SCRIPT = """
import json, pathlib
from maillog_cli.serve.body import parse
from maillog_cli.store.db import event_row
from maillog_cli.model import Event
folder = pathlib.Path("tests/data/providers")
out = []
for provider, name in [("sendgrid", "sendgrid.json"), ("mailjet", "mailjet.json"),
                       ("sparkpost", "sparkpost.json"), ("mandrill", "mandrill.txt")]:
    out += [event_row(e, None) for e in parse(provider, (folder / name).read_bytes()).items if isinstance(e, Event)]
for provider in ("postmark", "brevo", "postal", "resend", "mailgun", "ses"):
    for line in (folder / f"{provider}.jsonl").read_bytes().splitlines():
        try:
            items = parse(provider, line).items
        except Exception:
            continue
        out += [event_row(e, None) for e in items if isinstance(e, Event)]
print(json.dumps(out, default=str))
"""


@pytest.mark.slow
def test_rows_do_not_depend_on_the_hash_seed() -> None:
    runs = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        r = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.add(r.stdout)
    assert len(runs) == 1
