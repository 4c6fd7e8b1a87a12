"""Every query command as a whole process on a big store, beside its target (issues 17, 19).

    python benchmarks/query_times.py [--events 1000000] [--runs 3] [--mta-lines N]
    BENCH_BIG=1 python benchmarks/query_times.py          # the 5,000,000-event store

Builds (once; reused while its event count matches) a store of `--events` events written
by benchmarks/generate.py, plus one audit entry per 10 events (maillog_cli.demo's audit
page), under benchmarks/out/. Then runs each query command in a fresh process (Python
start-up included, bytecode cached by a first run), its stdout on a pseudo-terminal as a
person sees it, and prints the best wall and CPU time of --runs runs beside the target:
0.3 s on a store of up to 1M events, 0.5 s above (issue 17); `--help` 0.2 s.

The generator's data end on 2026-11-01, so a relative `--since 7d` would match nothing
today: it is given as the same window before the store's newest event (the same query).

`--before TREE` times another checkout's maillog (e.g. main), each command just before
this tree's, on the same data: `--before-db` / `--before-mta-db` give its copies of the
stores when it cannot open this tree's (an older maillog refuses a newer schema).

`--mta-lines N` also builds a Postfix log of N lines with benchmarks/mta_bench.py's
generator, imports it into its own store and times issue 19's questions (≤ 0.3 s each).

Exit status 1 when a target is missed, unless --report-only (the verdict is on wall time; on a shared machine
compare the CPU column, which other jobs move less).
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
# -P: the maillog_cli of PYTHONPATH, never one in the current directory
MAILLOG = [sys.executable, "-P", "-m", "maillog_cli"]
BIG = 5_000_000


@dataclass
class Case:
    label: str
    args: list[str]
    target: float


@dataclass
class Timing:
    wall: float
    cpu: float


# --- building the stores --------------------------------------------------------------------


def _env(db: Path, config: Path | None = None, tree: Path = ROOT) -> dict[str, str]:
    """The commands' environment: this tree's (or `tree`'s) maillog, bytecode cached as
    in an installed copy (PYTHONDONTWRITEBYTECODE would recompile every module each run)."""
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(tree), "COLUMNS": "100"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if config is not None:
        env["MAILLOG_CONFIG"] = str(config)
    return env


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return -1
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return -1
    finally:
        conn.close()


def _remove(db: Path) -> None:
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        p.unlink(missing_ok=True)


def build_events(events: int, db: Path) -> None:
    """The generated events and audit entries in `db`, unless it holds them already."""
    if _count(db, "events") == events:
        print(f"reusing {db} ({events:,} events)", file=sys.stderr)
        return
    import generate
    import orjson

    from maillog_cli.demo import audit_page

    _remove(db)
    OUT.mkdir(parents=True, exist_ok=True)
    data, audit = OUT / f"queries-{events}.jsonl", OUT / f"queries-{events}-audit.json"
    t = time.perf_counter()
    written = generate.write(data, events, "maillog")
    audit.write_bytes(orjson.dumps(audit_page(events // 10, 5, generate.NOW, days=60)))
    print(f"generate: {written:,} events in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    t = time.perf_counter()
    subprocess.run([*MAILLOG, "import", "-q", str(data), str(audit)], env=_env(db), check=True)
    print(f"import: {time.perf_counter() - t:.0f} s", file=sys.stderr)
    data.unlink()
    audit.unlink()
    got = _count(db, "events")
    if got != events:  # a reused store is recognised by its count
        raise SystemExit(f"{db} holds {got:,} events, not {events:,}")


def build_mta(lines: int, db: Path) -> str:
    """The generated Postfix log imported into `db` (unless done); returns a queue id in it."""
    import mta_bench

    log = OUT / f"queries-mail-{lines}.log"
    mark = Path(f"{db}.lines")
    if not (mark.exists() and mark.read_text().split()[0] == str(lines) and db.exists()):
        _remove(db)
        OUT.mkdir(parents=True, exist_ok=True)
        probe = mta_bench.generate(log, lines)
        os.utime(log, (datetime(2026, 3, 31, tzinfo=UTC).timestamp(),) * 2)
        t = time.perf_counter()
        subprocess.run([*MAILLOG, "import", "-q", str(log)], env=_env(db), check=True)
        print(f"import {lines:,} Postfix lines: {time.perf_counter() - t:.0f} s", file=sys.stderr)
        log.unlink()
        mark.write_text(f"{lines} {probe}\n")
    return mark.read_text().split()[1]


# --- what to ask ----------------------------------------------------------------------------


def _one(db: Path, sql: str) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(sql).fetchone()
        return str(row[0]) if row else ""
    finally:
        conn.close()


def _before_end(db: Path, delta: timedelta) -> str:
    """`--since` for the last `delta` of the store's data (what `--since 7d` means on a live store)."""
    end = datetime.fromisoformat(
        _one(db, "SELECT max(timestamp) FROM events").replace("Z", "+00:00")
    )
    return (end - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_cases(db: Path, target: float, config: Path) -> list[Case]:
    """Every query command of issue 17 over the generated store."""
    from maillog_cli.stats import GROUPS

    domain = _one(
        db, "SELECT recipient_domain FROM messages GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    )
    to = _one(
        db,
        "SELECT recipient FROM messages ORDER BY rowid LIMIT 1 OFFSET (SELECT count(*) / 2 FROM messages)",
    )
    bounced = _one(
        db,
        "SELECT message_id FROM messages ORDER BY last_status = 'bounced' DESC, rowid LIMIT 1 OFFSET 10",
    )
    week, month = _before_end(db, timedelta(days=7)), _before_end(db, timedelta(days=30))
    end = _one(db, "SELECT max(timestamp) FROM events")
    cases = [
        Case("--help", ["--help"], 0.2),
        Case("search", ["search"], target),
        Case("search --status bounced", ["search", "--status", "bounced"], target),
        Case("search --to ADDRESS", ["search", "--to", to], target),
        Case(
            "search --domain D --since 7d", ["search", "--domain", domain, "--since", week], target
        ),
        Case("search mailbox (free text)", ["search", "mailbox"], target),
        Case("search --messages", ["search", "--messages"], target),
        Case("show MSGID (bounced)", ["show", bounced], target),
        Case("tail", ["tail"], target),
        Case("stats", ["stats"], target),
        Case("stats --since 30d", ["stats", "--since", month], target),
        *(Case(f"stats --by {by}", ["stats", "--by", by], target) for by in GROUPS),
        Case("bounces", ["bounces"], target),
        Case("bounces --since 7d", ["bounces", "--since", week], target),
        Case("bounces --list", ["bounces", "--list"], target),
        Case("audit", ["audit"], target),
        Case("check (20 rules)", ["check", "--now", end, "--no-notify"], target),
    ]
    return cases


def mta_cases(db: Path, probe: str) -> list[Case]:
    """Issue 19's questions of a mail-server log, each ≤ 0.3 s."""
    day, week = _before_end(db, timedelta(days=1)), _before_end(db, timedelta(days=7))
    return [
        Case("mta: stats --by hour --since 1d", ["stats", "--by", "hour", "--since", day], 0.3),
        Case("mta: stats --by relay", ["stats", "--by", "relay"], 0.3),
        Case("mta: bounces --since 7d", ["bounces", "--since", week], 0.3),
        Case("mta: show QUEUEID", ["show", probe], 0.3),
        Case("mta: search --status deferred", ["search", "--status", "deferred"], 0.3),
    ]


# --- timing ---------------------------------------------------------------------------------


def run_on_tty(args: list[str], env: dict[str, str]) -> Timing:
    """Wall and CPU time (user + system) of one command whose stdout is a terminal."""
    master, slave = pty.openpty()

    def drain() -> None:
        while True:
            try:
                if not os.read(master, 65536):
                    return
            except OSError:
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(args, stdout=slave, stderr=subprocess.PIPE, env=env, check=False)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.close(slave)
    reader.join(timeout=5)
    os.close(master)
    if proc.returncode not in (0, 3):  # check exits 3 when an alert fires
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode(errors='replace')[-600:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def _best(args: list[str], env: dict[str, str], runs: int) -> Timing:
    run_on_tty(args, env)  # bytecode and page cache warm, as for an installed copy
    times = [run_on_tty(args, env) for _ in range(runs)]
    return Timing(min(t.wall for t in times), min(t.cpu for t in times))


def time_cases(
    cases: list[Case], env: dict[str, str], runs: int, before: dict[str, str] | None
) -> int:
    """Print one table row per case (with `before`: the other tree's times first, run
    just before ours); returns how many missed their target."""
    missed = 0
    for case in cases:
        args = [*MAILLOG, *case.args]
        if before:
            was = _best(args, before, runs)
            old = f"{was.wall:.3f} | {was.cpu:.3f} | "
        else:
            old = ""
        t = _best(args, env, runs)
        verdict = "PASS" if t.wall <= case.target else "MISS"
        missed += verdict == "MISS"
        print(
            f"| {case.label} | {old}{t.wall:.3f} | {t.cpu:.3f} | ≤ {case.target} | {verdict} |",
            flush=True,
        )
    return missed


def _header(before: Path | None) -> str:
    old = "before wall s | before cpu s | " if before else ""
    dash = "---|---|" if before else ""
    return f"| command | {old}wall s | cpu s | target s | verdict |\n|---|{dash}---|---|---|---|"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default = BIG if os.environ.get("BENCH_BIG") else int(os.environ.get("BENCH_EVENTS", 1_000_000))
    ap.add_argument("--events", type=int, default=default)
    ap.add_argument("--db", type=Path, help="the store (default benchmarks/out/queries-N.db)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mta-lines", type=int, default=0, help="also issue 19's questions")
    ap.add_argument("--before", type=Path, help="another checkout, timed just before ours")
    ap.add_argument("--before-db", type=Path, help="with --before: its copy of the store")
    ap.add_argument("--before-mta-db", type=Path, help="with --before: its copy of the MTA store")
    ap.add_argument(
        "--report-only", action="store_true", help="exit 0 even when a target is missed"
    )
    args = ap.parse_args()
    db = args.db or OUT / f"queries-{args.events}.db"
    build_events(args.events, db)
    import check_bench

    config = OUT / "queries-rules.toml"
    config.write_text(check_bench.RULES)
    target = 0.3 if args.events <= 1_000_000 else 0.5
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; best of {args.runs}")
    print(f"\n{args.events:,} events ({db})\n")
    before = _env(args.before_db or db, config, args.before) if args.before else None
    print(_header(args.before))
    missed = time_cases(event_cases(db, target, config), _env(db, config), args.runs, before)
    if args.mta_lines:
        mta_db = OUT / f"queries-mta-{args.mta_lines}.db"
        probe = build_mta(args.mta_lines, mta_db)
        print(f"\n{args.mta_lines:,} Postfix lines ({mta_db})\n")
        print(_header(args.before))
        old = _env(args.before_mta_db or mta_db, tree=args.before) if args.before else None
        missed += time_cases(mta_cases(mta_db, probe), _env(mta_db), args.runs, old)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}; {missed} missed")
    return 1 if missed and not args.report_only else 0


if __name__ == "__main__":
    raise SystemExit(main())
