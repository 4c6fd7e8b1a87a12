"""`maillog serve --watch`: the alert rules evaluated as webhooks are committed, over real
HTTP, with a real command notifier; rules refused at start-up like `maillog check`."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.serve.hooks import Keys, Server, sign


def _bounce(u: str) -> bytes:
    """A Brevo hard bounce, happening now (so a 1h window holds it)."""
    return json.dumps(
        {
            "event": "hard_bounce",
            "email": f"{u}@example.com",
            "id": 1,
            "message-id": f"<br-{u}@x.example>",
            "ts_event": int(time.time()),
            "reason": "unknown user",
        }
    ).encode()


def _config(home: Path, keys: Keys, rules: str) -> Path:
    path = home / "config.toml"
    path.write_text(keys.config() + "\n" + rules)
    path.chmod(0o600)
    keys.seed_cert_cache(home / "cache")
    return path


@pytest.mark.slow
def test_serve_watch_notifies_once_when_posts_cross_the_threshold(tmp_path: Path) -> None:
    keys = Keys()
    out = tmp_path / "alerts.jsonl"
    script = tmp_path / "append.py"
    script.write_text(
        "import sys\nwith open(sys.argv[1], 'a') as f:\n    f.write(sys.stdin.read())\n"
    )
    notify = json.dumps([f"command:{sys.executable} {script} '{out}'"])
    _config(
        tmp_path,
        keys,
        f'[[alert]]\nname = "hard"\nmetric = "hard_bounces"\nabove = "2"\nwindow = "1h"\n'
        f'every = "1h"\nnotify = {notify}\n',
    )
    srv = Server(tmp_path, keys, ("--watch", "--watch-interval", "0.2")).start()
    try:
        assert any("watching 1 alert rule" in x for x in srv.lines), srv.lines
        for u in ("b1", "b2"):  # at the threshold: not above it
            assert srv.post(sign(keys, "brevo", _bounce(u)))[0] == 200
        time.sleep(1.5)  # several evaluations' worth
        assert not out.exists()
        assert srv.post(sign(keys, "brevo", _bounce("b3")))[0] == 200
        wait_until(lambda: out.exists() and out.read_text().strip(), what="the alert")
        assert srv.post(sign(keys, "brevo", _bounce("b4")))[0] == 200
        time.sleep(1.5)  # still firing, within `every`: no second notice
    finally:
        assert srv.stop() == 0
    sent = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(a["rule"], a["state"], a["repeat"]) for a in sent] == [("hard", "firing", False)]
    assert sent[0]["count"] >= 3
    assert srv.events() == 4
    assert not any("Traceback" in x for x in srv.lines)


def test_serve_watch_refuses_a_bad_rule_at_start_with_its_line(cli, tmp_path: Path) -> None:
    keys = Keys()
    path = Path(os.environ["MAILLOG_CONFIG"])
    text = keys.config() + '\n[[alert]]\nname = "x"\nmetric = "bounce_rate"\nabove = "lots"\n'
    path.write_text(text)
    path.chmod(0o600)
    line = text.splitlines().index('above = "lots"') + 1
    r = cli("serve", "--watch", "--port", "0")
    assert r.exit_code == 1
    assert f"{path}:{line}:" in r.stderr and "above" in r.stderr
    assert "listening" not in r.stderr


def test_serve_watch_with_no_rules_is_refused(cli, tmp_path: Path) -> None:
    """A watch with nothing to watch would stay silent forever: refused, as by check."""
    path = Path(os.environ["MAILLOG_CONFIG"])
    path.write_text('[serve.brevo]\ntoken = "t-0123456789"\n')
    path.chmod(0o600)
    r = cli("serve", "--watch", "--port", "0")
    assert r.exit_code == 1 and "no [[alert]] rules" in r.stderr
