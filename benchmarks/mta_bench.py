"""A mail server's own log: maillog's import beside pflogsumm and grep (issue 19).

    python benchmarks/mta_bench.py [--lines 1000000] [--rounds 1] [--keep] [--exim]

Generates a realistic Postfix syslog (smtpd connect/client/disconnect, cleanup, qmgr,
one smtp line per recipient with sent/deferred/bounced and the remote reply, retries hours
later, expiries with their non-delivery notice, NOQUEUE rejects, other daemons' noise), then
times on the same file: `maillog import`; `pflogsumm` (Debian package pflogsumm; skipped
with a message when it is not installed); `grep` for one queue id; and maillog's answers to
pflogsumm's questions from the store (each must be ≤ 0.3 s where pflogsumm re-reads the log).
The import and pflogsumm alternate (--rounds), each figure the best round; the verdict
lines say PASS or MISS for the goal "import at least as fast as pflogsumm reads the log",
by wall time (the user's wait) and by CPU time (the work, parent + parsing child).
With --exim, an Exim mainlog of as many lines in the same traffic (`generate_exim`) is
imported too.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
MAILLOG = [sys.executable, "-m", "maillog_cli"]
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DOMAINS = ["example.org", "example.net", "example.com", "mail.example", "corp.example"]
RELAYS = {d: f"mx{i}.{d}[192.0.2.{10 + i}]:25" for i, d in enumerate(DOMAINS)}
BOUNCE = "host {mx} said: 550 5.1.1 <{to}>: Recipient address rejected: User unknown (in reply to RCPT TO command)"
DEFER = "host {mx} said: 451 4.7.1 Greylisted, please try again later (in reply to RCPT TO command)"


def stamp(t: datetime) -> str:
    return f"{MONTHS[t.month - 1]} {t.day:2d} {t:%H:%M:%S}"


def generate(path: Path, lines: int, seed: int = 19) -> str:
    """Write about `lines` lines; returns one queue id that appears in it (for grep)."""
    rnd = random.Random(seed)
    t = datetime(2026, 3, 1, tzinfo=UTC)
    written, n, probe = 0, 0, ""
    later: list[tuple[datetime, str]] = []  # retries, written when their time comes
    with path.open("w") as f:
        while written < lines:
            n += 1
            t += timedelta(seconds=rnd.random() * 4)
            while later and later[0][0] <= t:
                f.write(later.pop(0)[1])
                written += 1
            qid = f"{rnd.getrandbits(40):010X}"
            probe = probe or (qid if n >= 10 and n % 25 else "")  # not a reject
            pid = 1000 + n % 5000
            s = stamp(t)
            if n % 25 == 0:
                f.write(
                    f"{s} mx postfix/smtpd[{pid}]: NOQUEUE: reject: RCPT from unknown[203.0.113.{n % 250}]: "
                    f"554 5.7.1 <u{n}@example.com>: Relay access denied; from=<x{n}@spam.test> "
                    f"to=<u{n}@example.com> proto=ESMTP helo=<spam.test>\n"
                )
                written += 1
                continue
            if n % 7 == 0:
                f.write(f"{s} mx CRON[{pid}]: (root) CMD (run-parts /etc/cron.hourly)\n")
                f.write(
                    f"{s} mx dovecot: imap-login: Login: user=<u{n % 300}>, method=PLAIN, rip=198.51.100.9\n"
                )
                written += 2
            rcpts = [
                f"r{n}x{i}@{rnd.choice(DOMAINS)}" for i in range(1 + (n % 3 == 0) + (n % 11 == 0))
            ]
            out = [
                f"{s} mx postfix/smtpd[{pid}]: connect from app.example.com[198.51.100.7]",
                f"{s} mx postfix/smtpd[{pid}]: {qid}: client=app.example.com[198.51.100.7], sasl_method=PLAIN, sasl_username=app",
                f"{s} mx postfix/cleanup[{pid + 1}]: {qid}: message-id=<{n}.{qid}@app.example.com>",
                f"{s} mx postfix/qmgr[900]: {qid}: from=<news{n % 40}@app.example.com>, size={2000 + n % 9000}, nrcpt={len(rcpts)} (queue active)",
                f"{s} mx postfix/smtpd[{pid}]: disconnect from app.example.com[198.51.100.7] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
            ]
            pending = False
            for to in rcpts:
                dom = to.split("@")[1]
                mx = RELAYS[dom]
                roll = rnd.random()
                if roll < 0.05:
                    word, reply = "bounced", BOUNCE.format(mx=mx.split(":")[0], to=to)
                elif roll < 0.12:
                    word, reply = "deferred", DEFER.format(mx=mx.split(":")[0])
                    pending = True
                    retry = t + timedelta(hours=rnd.choice((1, 2, 4)))
                    later.append(
                        (
                            retry,
                            _delivery(stamp(retry), pid, qid, to, mx, "sent", "250 2.0.0 Ok", 3600),
                        )
                    )
                else:
                    word, reply = "sent", f"250 2.0.0 Ok: queued as {rnd.getrandbits(32):08X}"
                out.append(_delivery(s, pid + 2, qid, to, mx, word, reply, 1.2).rstrip("\n"))
            if pending:
                end = t + timedelta(hours=4, seconds=5)
                later.append((end, f"{stamp(end)} mx postfix/qmgr[900]: {qid}: removed\n"))
                later.sort(key=lambda x: x[0])
            else:
                out.append(f"{s} mx postfix/qmgr[900]: {qid}: removed")
            f.write("\n".join(out) + "\n")
            written += len(out)
        for _, line in later:
            f.write(line)
    return probe


EXIM_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
EXIM_TLS = "X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes"


def generate_exim(path: Path, lines: int, seed: int = 19) -> str:
    """An Exim mainlog of about `lines` lines in the same traffic as `generate` (arrivals,
    deliveries with `=>`/`->`, `**` failures, `==` deferrals retried hours later,
    `Completed`, bounce messages with R=, rejected RCPT lines, connection and queue-run
    noise); returns one message id that appears in it."""
    rnd = random.Random(seed)
    t = datetime(2026, 3, 1, tzinfo=UTC)
    written, n, probe = 0, 0, ""
    later: list[tuple[datetime, str]] = []

    def ex_id() -> str:
        pick = rnd.choices
        return "-".join("".join(pick(EXIM_ALPHABET, k=k)) for k in (6, 6, 2))

    def at(when: datetime) -> str:
        return f"{when:%Y-%m-%d %H:%M:%S}"

    with path.open("w") as f:
        while written < lines:
            n += 1
            t += timedelta(seconds=rnd.random() * 4)
            while later and later[0][0] <= t:
                f.write(later.pop(0)[1])
                written += 1
            s, mid = at(t), ex_id()
            probe = probe or (mid if n >= 10 and n % 25 else "")
            if n % 25 == 0:
                f.write(
                    f"{s} H=unknown [203.0.113.{n % 250}] F=<x{n}@spam.test> rejected RCPT "
                    f"<u{n}@example.com>: relay not permitted\n"
                )
                written += 1
                continue
            out = [f"{s} SMTP connection from app.example.com [198.51.100.7]:{40000 + n % 20000}"]
            if n % 7 == 0:
                out.append(f"{s} Start queue run: pid={1000 + n % 5000}")
            rcpts = [
                f"r{n}x{i}@{rnd.choice(DOMAINS)}" for i in range(1 + (n % 3 == 0) + (n % 11 == 0))
            ]
            out.append(
                f"{s} {mid} <= news{n % 40}@app.example.com H=app.example.com [198.51.100.7] "
                f"P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=plain:app "
                f"S={2000 + n % 9000} id={n}.{mid}@app.example.com"
            )
            pending, bounced = False, False
            for i, to in enumerate(rcpts):
                dom = to.split("@")[1]
                host, ip = RELAYS[dom].split(":")[0].rstrip("]").split("[")
                where = f"R=dnslookup T=remote_smtp H={host} [{ip}]"
                roll = rnd.random()
                if roll < 0.05:
                    bounced = True
                    out.append(
                        f"{s} {mid} ** {to} {where} {EXIM_TLS}: SMTP error from remote mail server"
                        f" after RCPT TO:<{to}>: 550 5.1.1 <{to}>: Recipient address rejected:"
                        " User unknown"
                    )
                elif roll < 0.12:
                    pending = True
                    out.append(
                        f"{s} {mid} == {to} R=dnslookup T=remote_smtp defer (-44) H={host} [{ip}]:"
                        f" SMTP error from remote mail server after RCPT TO:<{to}>: 451 4.7.1"
                        " Greylisted, please try again later"
                    )
                    retry = t + timedelta(hours=rnd.choice((1, 2, 4)))
                    later.append(
                        (retry, f'{at(retry)} {mid} => {to} {where} {EXIM_TLS} C="250 2.0.0 Ok"\n')
                    )
                else:
                    flag = "=>" if i == 0 else "->"
                    queued = f"{rnd.getrandbits(32):08X}"
                    out.append(
                        f'{s} {mid} {flag} {to} {where} {EXIM_TLS} C="250 2.0.0 Ok: queued as'
                        f' {queued}" DT=1s'
                    )
            if bounced:  # the bounce message to the sender, a message of its own
                notice = ex_id()
                out += [
                    f"{s} {notice} <= <> R={mid} U=Debian-exim P=local S=4120",
                    f"{s} {notice} => news{n % 40}@app.example.com R=dnslookup T=remote_smtp"
                    ' H=app.example.com [198.51.100.7] C="250 OK"',
                    f"{s} {notice} Completed",
                ]
            if pending:
                end = t + timedelta(hours=4, seconds=5)
                later.append((end, f"{at(end)} {mid} Completed\n"))
                later.sort(key=lambda x: x[0])
            else:
                out.append(f"{s} {mid} Completed")
            out.append(f"{s} SMTP connection from app.example.com [198.51.100.7] closed by QUIT")
            f.write("\n".join(out) + "\n")
            written += len(out)
        for _, line in later:
            f.write(line)
    return probe


def _delivery(
    s: str, pid: int, qid: str, to: str, mx: str, word: str, reply: str, delay: float
) -> str:
    dsn = {"sent": "2.0.0", "bounced": "5.1.1", "deferred": "4.7.1"}[word]
    return (
        f"{s} mx postfix/smtp[{pid}]: {qid}: to=<{to}>, relay={mx}, delay={delay}, "
        f"delays=0.1/0/0.5/{delay}, dsn={dsn}, status={word} ({reply})\n"
    )


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, its child processes included): on a
    shared machine the CPU figure is the one to compare."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-400:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=1, help="import/pflogsumm rounds (best kept)")
    ap.add_argument("--keep", action="store_true", help="keep the log and the store")
    ap.add_argument(
        "--exim", action="store_true", help="also import an Exim mainlog of as many lines"
    )
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    log, db = OUT / "mail.log", OUT / "mta.db"
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    probe = generate(log, args.lines)
    os.utime(log, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    size = log.stat().st_size
    print(f"{args.lines:,} lines, {size / 1e6:.0f} MB: {log}")
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT)}
    rows: list[tuple[str, tuple[float, float]]] = []
    imports: list[tuple[float, float]] = []
    reports: list[tuple[float, float]] = []
    has_pflogsumm = shutil.which("pflogsumm") is not None
    if not has_pflogsumm:
        print("pflogsumm is not installed (apt-get install pflogsumm): its figure is skipped")
    for _ in range(max(1, args.rounds)):  # alternated: the shared machine's load hits both
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
        imports.append(timed([*MAILLOG, "import", "-q", str(log)], env))
        if has_pflogsumm:
            reports.append(timed(["pflogsumm", str(log)]))
    best_import = (min(w for w, _ in imports), min(c for _, c in imports))
    rows.append(("maillog import (whole log, correlated)", best_import))
    if reports:
        best_report = (min(w for w, _ in reports), min(c for _, c in reports))
        rows.append(("pflogsumm (one report, reads the whole log)", best_report))
    if args.exim:
        rows.append(("maillog import (Exim mainlog, as many lines)", _exim_import(args.lines)))
    rows.append(
        (
            f"grep -c {probe} (one queue id, whole file)",
            timed(["grep", "-c", "-F", probe, str(log)]),
        )
    )
    for label, q in (
        ("stats --by hour", ["stats", "--by", "hour", "--format", "csv"]),
        ("stats --by relay", ["stats", "--by", "relay", "--format", "csv"]),
        ("stats --by domain", ["stats", "--by", "domain", "--format", "csv"]),
        ("bounces (reasons with remote replies)", ["bounces", "--format", "json"]),
        (
            "bounces --status rejected (rejects by reason)",
            ["bounces", "--status", "rejected", "--format", "json"],
        ),
        (f"show {probe}", ["show", probe, "--format", "json"]),
    ):
        rows.append((f"maillog {label}", _best(lambda q=q: timed([*MAILLOG, *q], env))))
    startup = _best(lambda: timed([*MAILLOG, "--version"], env))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| step | wall s | cpu s |\n|---|---|---|")
    for label, (wall, cpu) in rows:
        print(f"| {label} | {wall:.2f} | {cpu:.2f} |")
    print(
        f"| (python start-up: `maillog --version`, included above) | {startup[0]:.2f} | {startup[1]:.2f} |"
    )
    if reports:
        for what, i in (("wall", 0), ("cpu", 1)):
            ours, theirs = best_import[i], best_report[i]
            verdict = "PASS" if ours <= theirs else "MISS"
            print(
                f"goal (import at least as fast as pflogsumm reads the log), {what}: {verdict}"
                f" ({ours:.2f} s vs {theirs:.2f} s, {ours / theirs:.2f}x)"
            )
    slow = [
        label
        for label, (wall, _) in rows
        if label.startswith("maillog ") and "import" not in label and wall > 0.3
    ]
    print(f"goal (every question <= 0.3 s): {'PASS' if not slow else 'MISS: ' + ', '.join(slow)}")
    if not args.keep:
        for p in (log, db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
    return 0


def _exim_import(lines: int) -> tuple[float, float]:
    """The import of an Exim mainlog of `lines` lines into its own store (no pflogsumm
    beside it: it reads Postfix logs only)."""
    log, db = OUT / "exim_mainlog", OUT / "exim.db"
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)
    generate_exim(log, lines)
    os.utime(log, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT)}
    try:
        return timed([*MAILLOG, "import", "-q", str(log)], env)
    finally:
        for p in (log, db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)


def _best(step: Callable[[], tuple[float, float]], n: int = 3) -> tuple[float, float]:
    """The fastest of n runs (by wall time)."""
    return min((step() for _ in range(n)), key=lambda r: r[0])


if __name__ == "__main__":
    raise SystemExit(main())
