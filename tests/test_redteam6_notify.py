"""Red team 6: a notifier URL read from the environment is checked as a written one is.

`webhook:$NAME` reads its URL when the alert is sent. A value that is not an http(s) URL
(a Slack path pasted without its scheme, a typo) was handed to urllib unchecked: its
ValueError was a traceback that ended `check` (and `watch`) and printed the value — the
secret the variable exists to keep out of the config file.
"""

from __future__ import annotations

import pytest

from tests.test_alerts import HOUR, NOW, group, load, rule, rules, run_check

SECRET = "T000/B000/SECRETXYZ"


@pytest.mark.parametrize(
    "value",
    [
        f"hooks.slack.com/services/{SECRET}",  # no scheme
        f"ftp://hooks.slack.com/services/{SECRET}",  # not http(s)
        f"https://[hooks.slack.com/services/{SECRET}",  # unreadable
        f"https://hooks.slack.com:{SECRET}/x",  # a port that is no number
    ],
)
def test_a_bad_url_in_the_environment_is_a_failed_channel_not_a_traceback(
    cli, tmp_path, db_path, monkeypatch, value
):
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    notify = ["webhook:$MAILLOG_TEST_HOOK", "json"]
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=notify))
    monkeypatch.setenv("MAILLOG_TEST_HOOK", value)
    r = run_check(db_path, NOW)
    assert r.returncode == 3, r.stderr  # firing, evaluated to the end
    assert "Traceback" not in r.stderr
    assert "SECRETXYZ" not in r.stdout + r.stderr
    assert (
        "notification failed: webhook $MAILLOG_TEST_HOOK: the environment variable does not"
        " hold an http:// or https:// URL" in r.stderr
    )
    assert '"state":"firing"' in r.stdout.replace(" ", "")  # the other channel still went


def test_a_written_url_with_a_bad_port_is_refused_when_the_rules_load(cli, tmp_path):
    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    notify = [f"webhook:https://hooks.slack.com:{SECRET}/x"]
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=notify))
    r = cli("check", "--now", NOW)
    assert r.exit_code == 1
    assert "notify: webhook: needs an http:// or https:// URL" in r.stderr
    assert "SECRETXYZ" not in r.stdout + r.stderr
