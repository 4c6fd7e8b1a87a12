"""Every script in benchmarks/ runs to its end at its smallest size, so a change to the
store or the CLI cannot silently break one (reclassify_bench.py failed for a day with
"24 bindings, 20 supplied" when the store grew columns).

Each script runs as a user runs it (`python benchmarks/X.py …`, a separate process),
from a copy of benchmarks/ in a temporary folder whose maillog_cli is this tree's: the
scripts write their data next to themselves (benchmarks/out/), so the repository and
its cached data stay untouched and a stale cache cannot hide a break. A benchmark's
figures are not judged here (a missed target at 200 events says nothing); a traceback
or a failing exit status is. Peers a script compares with (lnav, jq) it skips itself
when absent; the shared bounce corpus is passed when present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SHARED

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
EVENTS = "200"

# The smallest run of each script (its own argparse flags); {tmp} is a scratch folder.
SMALLEST: dict[str, list[str]] = {
    "generate": ["--events", EVENTS, "--out", "{tmp}/gen.jsonl"],
    "bare_loop": ["{tmp}/gen.jsonl", "--db", "{tmp}/bare.db"],  # after generate
    "bounce_accuracy": ["--events", "2000"],
    "import_bench": ["--events", EVENTS],
    "import_targets": ["--events", EVENTS],
    "import_floor": ["--events", EVENTS, "--runs", "1"],
    "reclassify_bench": ["--events", EVENTS, "--db", "{tmp}/reclassify.db"],
    "stats_bench": ["--events", EVENTS, "--db", "{tmp}/stats.db", "--runs", "1"],
    "prune_bench": ["--events", EVENTS, "--baseline", "0.2"],
    "tail_latency": ["--store-events", EVENTS, "--rounds", "2", "--idle", "0.5"],
    "tui_bench": ["--db", "{tmp}/tui.db", "--events", EVENTS, "--presses", "3"],
    "check_bench": [
        "--events",
        EVENTS,
        "--db",
        "{tmp}/check.db",
        "--runs",
        "1",
        "--watch-seconds",
        "0",
    ],
    "mta_bench": ["--lines", "2000"],
    "query_times": ["--events", EVENTS, "--runs", "1", "--mta-lines", "2000", "--report-only"],
    "serve_bench": [
        "--seconds",
        "1",
        "--clients",
        "2",
        "--sizes",
        "1,100",
        "--import-events",
        EVENTS,
    ],
}
FAST = {"generate", "bare_loop", "reclassify_bench"}  # under a second; the others are slow
# run_all runs every script above at full size (`make bench`): checked by what it runs.
NOT_RUN = {"run_all"}


def test_every_benchmark_script_is_smoke_tested() -> None:
    scripts = {p.stem for p in BENCHMARKS.glob("*.py")}
    assert scripts - NOT_RUN == set(SMALLEST), "add the new script's smallest run to SMALLEST"


def test_run_all_runs_every_benchmark_script() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCHMARKS))
    helpers = {"run_all", "generate", "bare_loop"}
    assert set(run_all.ORDER) == {p.stem for p in BENCHMARKS.glob("*.py")} - helpers


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a copy of benchmarks/ and this tree's maillog_cli beside it."""
    root = tmp_path_factory.mktemp("bench")
    shutil.copytree(BENCHMARKS, root / "benchmarks", ignore=shutil.ignore_patterns("out"))
    (root / "maillog_cli").symlink_to(REPO / "maillog_cli")
    (root / "scratch").mkdir()
    return root


def _run(sandbox: Path, name: str) -> subprocess.CompletedProcess[str]:
    args = [a.replace("{tmp}", str(sandbox / "scratch")) for a in SMALLEST[name]]
    env = {
        **os.environ,
        "PYTHONPATH": str(sandbox),
        "MAILLOG_SHARED": str(SHARED),
        "MAILLOG_DB": str(sandbox / "scratch" / "default.db"),
        "BENCH_EVENTS": EVENTS,
        "COLUMNS": "120",
    }
    env.pop("BENCH_GROWTH", None)
    env.pop("BENCH_BIG", None)
    return subprocess.run(
        [sys.executable, str(sandbox / "benchmarks" / f"{name}.py"), *args],
        cwd=sandbox,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in SMALLEST]
)
def test_benchmark_runs_at_its_smallest_size(sandbox: Path, name: str) -> None:
    if name == "bounce_accuracy" and not (SHARED / "corpus" / "dsn").is_dir():
        pytest.skip(f"needs the shared bounce corpus ({SHARED} not found)")
    if name == "bare_loop" and not (sandbox / "scratch" / "gen.jsonl").exists():
        assert _run(sandbox, "generate").returncode == 0
    r = _run(sandbox, name)
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
    assert r.stdout.strip() or (sandbox / "scratch" / "gen.jsonl").exists()
