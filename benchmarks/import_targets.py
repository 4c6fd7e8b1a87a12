"""Issue 17's import targets, each a ratio to a peer measured in the same run.

    python benchmarks/import_targets.py [--events N]      # default $BENCH_EVENTS or 1,000,000
    BENCH_GROWTH=1 python benchmarks/import_targets.py    # adds the N → 5N growth series
    python benchmarks/import_targets.py --growth-only      # that series alone

The machine is noisy, so every target is a ratio of two runs made back to back (the bare
loop of `bare_loop.py` and `maillog import`), never an absolute time:

- our JSONL, N/2 and N events, into an empty store: ≥ 2× the bare loop into an empty table;
- a second file of the same size into that loaded store: ≥ 1.5× the bare loop into its own
  loaded table;
- a SendGrid JSONL dump of N events: ≥ 1.5× the bare loop over the same file;
- time to first answer on that dump (import + one count of bounces): within 3× of lnav
  with a JSON format definition running the same SQL count (jq shown beside; a peer that is
  not installed is skipped, saying so);
- peak RSS of every maillog run ≤ 150 MB (the largest single process: the importer or its
  forked parser).

With BENCH_GROWTH=1 the store grows by N-event files up to 5N, and each file's rate is
printed against the events already stored (the bare loop does the same beside it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT / "benchmarks"))
import bare_loop  # noqa: E402
from generate import NOW, write  # noqa: E402

MAILLOG = [sys.executable, "-m", "maillog_cli"]
RSS_LIMIT_MB = 150
BOUNCES_SQL = "SELECT count(*) FROM events WHERE status = 'bounced'"
LNAV_SQL = "SELECT count(*) FROM sendgrid_log WHERE event = 'bounce'"
JQ_COUNT = 'reduce (inputs | select(.event == "bounce")) as $e (0; . + 1)'
# lnav's JSON format definition of a SendGrid webhook event per line (the fields asked).
LNAV_FORMAT = """{
  "$schema": "https://lnav.org/schemas/format-v1.schema.json",
  "sendgrid_log": {
    "title": "SendGrid webhook events (JSONL)",
    "description": "One SendGrid event webhook object per line.",
    "json": true,
    "file-pattern": ".*sendgrid.*\\\\.jsonl$",
    "timestamp-field": "timestamp",
    "level-field": "event",
    "level": {"error": "bounce|dropped", "warning": "deferred"},
    "body-field": "reason",
    "line-format": [
      {"field": "__timestamp__"}, " ", {"field": "event"}, " ", {"field": "email"}
    ],
    "value": {
      "event": {"kind": "string", "identifier": true},
      "email": {"kind": "string", "identifier": true},
      "sg_event_id": {"kind": "string"},
      "sg_message_id": {"kind": "string", "identifier": true},
      "smtp-id": {"kind": "string"},
      "reason": {"kind": "string"},
      "response": {"kind": "string"},
      "category": {"kind": "json"}
    }
  }
}
"""


@dataclass
class Target:
    name: str
    ours: float  # seconds, or MB for memory
    peer: float
    goal: float  # the ratio peer/ours must reach (or, for memory, the limit in MB)
    peer_name: str = "bare loop"
    memory: bool = False
    cpu: tuple[float, float] | None = None  # (maillog, peer) CPU seconds, shown beside

    @property
    def ratio(self) -> float:
        return self.peer / self.ours if self.ours else float("inf")

    @property
    def cpu_ratio(self) -> str:
        return f"{self.cpu[1] / self.cpu[0]:.2f}×" if self.cpu and self.cpu[0] else ""

    @property
    def passed(self) -> bool:
        return self.ours <= self.goal if self.memory else self.ratio >= self.goal


def remove(db: Path) -> Path:
    bare_loop.remove(db)
    bare_loop.remove(db.with_name(f"before-{db.name}"))
    return db


def maillog(args: list[str], db: Path, root: Path = ROOT) -> tuple[float, float, str, float]:
    """Wall seconds, peak RSS in MB (the largest process: it, or the parser it forked and
    waited for), stdout, and CPU seconds (user + system, the forked parser included) of
    one maillog command."""
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(root)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # cwd: `python -m` puts the working directory first on sys.path, before PYTHONPATH
        proc = subprocess.Popen([*MAILLOG, *args], env=env, stdout=out, stderr=err, cwd=root)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"maillog {' '.join(args)} failed: {err.read().decode()[-500:]}")
        cpu = usage.ru_utime + usage.ru_stime
        return wall, usage.ru_maxrss / 1024, out.read().decode(), cpu


@dataclass
class Run:
    wall: float
    cpu: float
    rss: float = 0.0


# --before TREE: another checkout (e.g. the main branch) imported beside this one, same run.
BEFORE: Path | None = None


def import_file(path: Path, db: Path) -> Run:
    if BEFORE is not None:
        old = db.with_name(f"before-{db.name}")  # its own store, loaded like ours
        wall, rss, _, cpu = maillog(["import", "-q", str(path)], old, BEFORE)
        say(f"  (before: {BEFORE} {wall:.2f} s, CPU {cpu:.2f} s, peak {rss:.0f} MB)")
    wall, rss, _, cpu = maillog(["import", "-q", str(path)], db)
    return Run(wall, cpu, rss)


def bare(path: Path, db: Path, shape: str = "maillog", keep: bool = False) -> Run:
    """The bare loop in this process; its CPU is this process's CPU time over the load."""
    start = time.process_time()
    wall, _ = bare_loop.load(path, db, shape, keep)
    return Run(wall, time.process_time() - start)


def side_by_side(label: str, n: int, b: Run, m: Run) -> None:
    say(
        f"  {label:<30} bare {b.wall:6.2f} s ({rate(n, b.wall)}, CPU {b.cpu / n * 1e6:4.1f} µs/ev)"
        f"   maillog {m.wall:6.2f} s ({rate(n, m.wall)}, CPU {m.cpu / n * 1e6:4.1f} µs/ev)"
        f"   {b.wall / m.wall:.2f}× wall, {b.cpu / m.cpu:.2f}× CPU  peak {m.rss:.0f} MB"
    )


def dataset(name: str, events: int, fmt: str, seed: int, days_back: int = 0) -> Path:
    """A generated file, made once and kept in benchmarks/out (same bytes every run)."""
    path = OUT / f"{name}-{events}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write(tmp, events, fmt, seed=seed, now=NOW - timedelta(days=days_back))
        tmp.rename(path)
    return path


def rate(events: int, seconds: float) -> str:
    return f"{events / seconds / 1000:,.1f}k ev/s"


def say(text: str) -> None:
    print(text, flush=True)


def own_jsonl(n: int, targets: list[Target]) -> None:
    """Empty store, then a second file of the same size into it, each beside the bare loop."""
    first = dataset("maillog", n, "maillog", seed=42)
    second = dataset("maillog-b", n, "maillog", seed=4242, days_back=31)
    db, table_db = remove(OUT / "targets.db"), OUT / "targets-bare.db"
    b1 = bare(first, table_db)
    m1 = import_file(first, db)
    side_by_side(f"{n:,} our JSONL, empty", n, b1, m1)
    b2 = bare(second, table_db, keep=True)
    m2 = import_file(second, db)
    side_by_side(f"{n:,} more into {n:,}", n, b2, m2)
    targets.append(
        Target(f"our JSONL {n:,}, empty store", m1.wall, b1.wall, 2.0, cpu=(m1.cpu, b1.cpu))
    )
    targets.append(
        Target(f"our JSONL {n:,} into a loaded store", m2.wall, b2.wall, 1.5, cpu=(m2.cpu, b2.cpu))
    )
    rss = max(m1.rss, m2.rss)
    targets.append(Target(f"peak RSS, our JSONL {n:,}", rss, 0, RSS_LIMIT_MB, "", True))


def growth(n: int, steps: int = 5) -> None:
    """N-event files into one store up to steps×N: rate per file against events stored."""
    db, table_db = remove(OUT / "growth.db"), remove(OUT / "growth-bare.db")
    say(f"# growth: {n:,}-event files into one store, up to {steps * n:,}")
    say("  stored before | bare loop     | maillog       | ratio (wall)")
    for k in range(steps):
        path = dataset(f"maillog-g{k}", n, "maillog", seed=9000 + k, days_back=61 * k)
        b = bare(path, table_db, keep=True)
        m = import_file(path, db)
        say(
            f"  {k * n:>13,} | {rate(n, b.wall):>13} | {rate(n, m.wall):>13} | "
            f"{b.wall / m.wall:.2f}×  (CPU {b.cpu / m.cpu:.2f}×)  peak {m.rss:.0f} MB"
        )
        path.unlink()  # 5 files of 1M would hold 1.5 GB of disk for nothing


def sendgrid(n: int, targets: list[Target]) -> None:
    """A SendGrid dump: import speed beside the bare loop, then time to the first answer."""
    dump = dataset("sendgrid", n, "sendgrid", seed=42)
    b = bare(dump, OUT / "targets-bare.db", shape="sendgrid")
    db = remove(OUT / "targets-sg.db")
    m = import_file(dump, db)
    q, _, answer, _ = maillog(["sql", BOUNCES_SQL, "--format", "csv"], db)
    ours = answer.strip().splitlines()[-1]
    side_by_side(f"{n:,} SendGrid JSONL", n, b, m)
    targets.append(Target(f"SendGrid JSONL {n:,}", m.wall, b.wall, 1.5, cpu=(m.cpu, b.cpu)))
    targets.append(Target(f"peak RSS, SendGrid {n:,}", m.rss, 0, RSS_LIMIT_MB, "", True))
    first = m.wall + q
    say(
        f"  first answer (bounces): maillog import {m.wall:.2f} s + query {q:.2f} s = {first:.2f} s → {ours}"
    )
    lnav = first_answer_lnav(dump)
    if lnav is not None:
        seconds, count = lnav
        say(
            f"  first answer (bounces): lnav {seconds:.2f} s → {count}  (maillog {first / seconds:.1f}× lnav)"
        )
        targets.append(
            Target(f"first answer, SendGrid {n:,} (within 3× lnav)", first, seconds, 1 / 3, "lnav")
        )
    jq = first_answer_jq(dump)
    if jq is not None:
        seconds, count = jq
        say(
            f"  first answer (bounces): jq {seconds:.2f} s → {count}  (maillog {first / seconds:.1f}× jq)"
        )


def first_answer_jq(dump: Path) -> tuple[float, str] | None:
    if shutil.which("jq") is None:
        say("  jq: not installed, skipped (apt-get install -y jq)")
        return None
    start = time.perf_counter()
    out = subprocess.run(
        ["jq", "-n", JQ_COUNT, str(dump)], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, out.stdout.strip()


def first_answer_lnav(dump: Path) -> tuple[float, str] | None:
    """lnav, headless, with the format installed in a throw-away HOME, running the count."""
    if shutil.which("lnav") is None:
        say("  lnav: not installed, skipped (apt-get install -y lnav)")
        return None
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": str(Path(home) / ".config")}
        fmt = Path(home) / "sendgrid_log.json"
        fmt.write_text(LNAV_FORMAT)
        subprocess.run(["lnav", "-i", str(fmt)], env=env, capture_output=True, check=True)
        start = time.perf_counter()
        out = subprocess.run(
            ["lnav", "-n", "-c", f";{LNAV_SQL}", str(dump)], env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0 or not lines:
        say(f"  lnav: failed, skipped: {(out.stderr or out.stdout).strip()[-300:]}")
        return None
    return seconds, lines[-1]


def table(targets: list[Target]) -> bool:
    say("# targets (ratio = peer wall time / maillog wall time, both from this run;")
    say("#   CPU ratio: the same comparison in CPU seconds, steadier when the machine is loaded;")
    say("#   maillog's wall time can beat it by parsing on a second core)")
    say(f"  {'target':<52} {'maillog':>9} {'peer':>9} {'ratio':>7} {'goal':>7}  verdict  CPU ratio")
    for t in targets:
        if t.memory:
            say(
                f"  {t.name:<52} {t.ours:>6.0f} MB {'':>9} {'':>7} {'≤' + str(int(t.goal)):>7}  {'PASS' if t.passed else 'MISS'}"
            )
        else:
            say(
                f"  {t.name:<52} {t.ours:>7.2f} s {t.peer:>7.2f} s {t.ratio:>6.2f}× {'≥' + format(t.goal, '.2g') + '×':>7}  {'PASS' if t.passed else 'MISS'}    {t.cpu_ratio}"
            )
    return all(t.passed for t in targets)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=int(os.environ.get("BENCH_EVENTS", 1_000_000)))
    ap.add_argument("--before", type=Path, help="another checkout to import with, beside this one")
    ap.add_argument(
        "--growth-only", action="store_true", help="only the N → 5N growth series (BENCH_GROWTH)"
    )
    args = ap.parse_args()
    global BEFORE
    BEFORE = args.before
    OUT.mkdir(parents=True, exist_ok=True)
    n = args.events
    load = os.getloadavg()[0]
    say(
        f"# issue 17 import targets, {n:,} events, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs, load average {load:.1f}"
    )
    if args.growth_only:
        growth(n)
        return
    targets: list[Target] = []
    for size in sorted({max(n // 2, 1), n}):
        own_jsonl(size, targets)
    sendgrid(n, targets)
    if os.environ.get("BENCH_GROWTH"):
        growth(n)
    else:
        say("# growth N → 5N: skipped (BENCH_GROWTH=1 to run it)")
    table(targets)  # a MISS is a finding, not a failure of the benchmark run


if __name__ == "__main__":
    main()
