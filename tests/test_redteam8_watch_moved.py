"""Red team 8: `maillog watch` whose store is moved away and replaced while it runs.

watch kept evaluating (and recording alert state into) the file it had opened: after a
restore moved a backup over the store, or `mv` put a new one in its place, the alerts were
judged on a dead file forever, while the mail arriving in the live one never fired.
Like `tail --import` and `serve`, it must notice: one line naming the store, exit 1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from maillog_cli.dates import now_utc
from tests.conftest import default_signals, wait_until

ROOT = Path(__file__).resolve().parents[1]
RULE = '[[alert]]\nname = "b"\nmetric = "bounce_rate"\nabove = "5%"\nwindow = "1h"\nnotify = ["stdout"]\n'


def _import(db: Path, tmp_path: Path, name: str, status: str = "delivered") -> None:
    events = tmp_path / f"{name}.jsonl"
    events.write_text(
        json.dumps({
            "event_id": name, "message_id": f"{name}@example.com", "provider": "ses",
            "timestamp": now_utc().strftime("%Y-%m-%dT%H:%M:%SZ"), "status": status,
            "recipient": "a@example.org",
        }) + "\n"
    )  # fmt: skip
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "maillog_cli", "import", str(events)],
        env=env, check=True, capture_output=True,
    )  # fmt: skip


def test_watch_stops_with_an_error_when_its_store_is_replaced(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    _import(db, tmp_path, "old")
    _import(tmp_path / "new.db", tmp_path, "new")
    Path(os.environ["MAILLOG_CONFIG"]).write_text(RULE)
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "watch", "--interval", "0.1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_signals,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        assert "watching 1 rule" in proc.stderr.readline()
        os.rename(db, tmp_path / "moved-away.db")
        os.rename(tmp_path / "new.db", db)
        wait_until(lambda: proc.poll() is not None, what="watch to notice", timeout=30)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert f"{db} was removed or replaced" in err, err
    assert "restart maillog watch" in err, err


def test_serve_s_background_watch_stops_and_says_so_when_its_store_is_replaced(
    tmp_path: Path,
) -> None:
    """`serve --watch` evaluates on a connection of its own beside serve's: it must not
    reopen the file now at the path while serve holds the old one (the journal files
    there are still the old store's), so it stops and says to restart, as serve does."""
    from maillog_cli.alerts.rules import RuleFile
    from maillog_cli.alerts.watch import Background
    from maillog_cli.store.db import Store

    db = tmp_path / "m.db"
    _import(db, tmp_path, "old", "bounced")
    _import(tmp_path / "new.db", tmp_path, "new", "bounced")
    config = Path(os.environ["MAILLOG_CONFIG"])
    config.write_text(RULE)
    said: list[str] = []
    sent: list[str] = []
    serve_s = Store.open(db, create=False)  # serve's own connection, open all along
    bg = Background(db, RuleFile(config), lambda _, line: sent.append(line), said.append, 0.1)
    bg.start()
    try:
        wait_until(lambda: sent, what="the alert on the first store")
        os.rename(db, tmp_path / "moved-away.db")
        os.rename(tmp_path / "new.db", db)
        bg.wake()
        wait_until(lambda: not bg.thread.is_alive(), what="the watcher to stop")
    finally:
        bg.stop()
        serve_s.close()
    assert said == [
        f"{db} was removed or replaced while maillog had it open;"
        " alerts are no longer evaluated: restart maillog serve"
    ], said


def test_tail_follow_stops_with_an_error_when_its_store_is_replaced(tmp_path: Path) -> None:
    """The reader's case: `tail --follow` on a dead file would show nothing new, forever."""
    db = tmp_path / "m.db"
    _import(db, tmp_path, "old")
    _import(tmp_path / "new.db", tmp_path, "new")
    env = {**os.environ, "MAILLOG_DB": str(db), "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "tail", "--follow", "--format", "jsonl"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_signals,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert '"old"' in proc.stdout.readline()
        os.rename(db, tmp_path / "moved-away.db")
        os.rename(tmp_path / "new.db", db)
        wait_until(lambda: proc.poll() is not None, what="tail to notice", timeout=30)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert f"{db} was removed or replaced" in err and "tail --follow" in err, err
