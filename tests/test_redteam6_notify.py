"""Red team 6: a notifier URL read from the environment is checked as a written one is.

`webhook:$NAME` reads its URL when the alert is sent. A value that is not an http(s) URL
(a Slack path pasted without its scheme, a typo) was handed to urllib unchecked: its
ValueError was a traceback that ended `check` (and `watch`) and printed the value — the
secret the variable exists to keep out of the config file.
"""

from __future__ import annotations

import socket

import pytest

from tests.loopback import LoopbackServer
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


class _NotHttp(LoopbackServer):
    """A TCP server that is not an HTTP server: it greets like a mail server, or answers
    with a redirect to a URL urllib cannot follow."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            if self.answer.startswith(b"HTTP/"):
                conn.recv(65536)
                conn.sendall(self.answer)
            else:  # a mail server greets first, then reads what the client sends
                conn.sendall(self.answer)
                # closing with the request unread would reset the connection (RST), a
                # different failure than the one this test is about
                conn.recv(65536)


@pytest.mark.parametrize(
    "answer",
    [
        b"220 mail.example ESMTP ready\r\n",  # the webhook URL names a mail port
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:SECRETXYZ/x\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["mail-port", "bad-redirect"],
)
def test_an_endpoint_that_does_not_answer_http_is_a_failed_channel(cli, tmp_path, db_path, answer):
    """http.client's own errors (BadStatusLine, InvalidURL on a redirect) were not caught:
    a traceback ended check, and watch with it."""
    server = _NotHttp(answer)
    try:
        load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
        notify = [f"webhook:http://127.0.0.1:{server.port}/hooks/SECRETXYZ", "json"]
        rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=notify))
        r = run_check(db_path, NOW)
    finally:
        server.close()
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr and "SECRETXYZ" not in r.stdout + r.stderr
    # The greeting is read as a bad status line, or (when the server has already closed)
    # writing the body fails first: either way one line for the channel, and on it goes.
    said = f"notification failed: webhook http://127.0.0.1:{server.port}/…: "
    assert f"{said}not a usable HTTP answer" in r.stderr or f"{said}Broken pipe" in r.stderr
    assert '"state":"firing"' in r.stdout.replace(" ", "")


def test_a_failing_command_s_complaint_never_shows_its_arguments(cli, tmp_path, db_path):
    """The channel's label hides a command's arguments (they may hold a token), but the
    last line of its stderr was shown as it came, and programs repeat what they were
    given."""
    import sys

    load(cli, tmp_path, group("c", HOUR, 10, "bounced", domain="c.com"))
    program = "import sys; sys.stderr.write('rejected token ' + sys.argv[1] + chr(10)); sys.exit(2)"
    notify = [f'command:{sys.executable} -c "{program}" SECRETXYZ-123']
    rules(tmp_path, rule(metric="bounce_rate", above="5%", window="1h", notify=notify))
    r = run_check(db_path, NOW)
    assert r.returncode == 3, r.stderr
    assert "SECRETXYZ" not in r.stdout + r.stderr
    assert "exited with 2: rejected token …" in r.stderr
