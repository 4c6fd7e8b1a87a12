"""Where an alert goes: a line on stdout/stderr, a JSON line, a program, a webhook.

- `stdout` / `stderr`: the alert's one-line text (the caller's writer makes it visible()).
- `json`: the alert as one JSON line on stdout.
- `command:PATH ARGS`: the program run directly (no shell; ARGS split like a shell would,
  shlex), the alert JSON on its stdin, killed after COMMAND_TIMEOUT seconds.
- `webhook:URL`: an HTTP POST of Slack-compatible JSON, `{"text": …}` plus the alert's
  fields, given up after WEBHOOK_TIMEOUT seconds. `webhook:$NAME` reads the URL from the
  environment variable NAME, so a token need not sit in the config file.

A failure is returned as words (never raised): one bad channel must not stop the others,
nor `watch`. Words about a channel never show a URL's path, query or user info (Slack's
path *is* its token), nor a program's arguments.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

COMMAND_TIMEOUT = 10.0
WEBHOOK_TIMEOUT = 5.0
LINE_KINDS = ("stdout", "stderr", "json")

# (stream name "stdout" | "stderr", line) -> None: the command layer's writer.
Write = Callable[[str, str], None]


@dataclass(frozen=True)
class Channel:
    kind: str  # stdout | stderr | json | command | webhook
    target: str = ""  # the URL, $NAME, or the command line

    @property
    def label(self) -> str:
        """How the channel is named in messages: nothing secret."""
        if self.kind == "webhook":
            return f"webhook {safe_url(self.target)}"
        if self.kind == "command":
            argv = shlex.split(self.target)
            return f"command {Path(argv[0]).name}"
        return self.kind


def parse_channel(text: str) -> Channel:
    """A `notify` entry as a Channel; ValueError saying what is wrong."""
    s = text.strip()
    if s.lower() in LINE_KINDS:
        return Channel(s.lower())
    kind, sep, rest = s.partition(":")
    kind = kind.strip().lower()
    if sep and kind == "command":
        try:
            argv = shlex.split(rest)
        except ValueError as exc:
            raise ValueError(f"cannot split the command line: {exc}") from None
        if not argv:
            raise ValueError("command: names no program")
        return Channel("command", rest.strip())
    if sep and kind == "webhook":
        url = rest.strip()
        if url.startswith("$"):
            if not url[1:].replace("_", "").isalnum():
                raise ValueError(f"{url!r} is not an environment variable name")
            return Channel("webhook", url)
        problem = url_problem(url)
        if problem:
            raise ValueError(problem)
        return Channel("webhook", url)
    shown = s.split(":", 1)[0]
    raise ValueError(f"{shown!r} is not a notification channel")


def url_problem(url: str) -> str | None:
    """Why `url` is not one a webhook can be POSTed to, in words that never show its path,
    query or user info; None when it is. The one check for a URL written in the rules and
    for one read from the environment at send time."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        ok = False
    if ok:
        return None
    return f"webhook: needs an http:// or https:// URL, not {safe_url(url)!r}"


def safe_url(url: str) -> str:
    """`https://hooks.slack.com/…`: the scheme and host only (path, query and user info
    may hold a token)."""
    if url.startswith("$"):
        return url
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unreadable URL)"
    rest = "/…" if (parts.path not in ("", "/") or parts.query or parts.fragment) else ""
    return f"{parts.scheme or '?'}://{host}{port}{rest}"


def slack_escape(text: str) -> str:
    """Slack reads <…> as links and mentions (<!channel>): untrusted text must not."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def send(channel: Channel, alert: dict[str, Any], write: Write) -> str | None:
    """Deliver one alert on one channel; None when it went, else why it did not."""
    from maillog_cli.render.output import json_line

    if channel.kind in ("stdout", "stderr"):
        write(channel.kind, alert["text"])
        return None
    if channel.kind == "json":
        write("stdout", json_line(alert))
        return None
    if channel.kind == "command":
        return _run_command(channel, json_line(alert))
    return _post(channel, alert)


def _run_command(channel: Channel, payload: str) -> str | None:
    argv = shlex.split(channel.target)
    try:
        done = subprocess.run(
            argv,
            input=(payload + "\n").encode(),
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        return f"{channel.label}: no such program"
    except PermissionError:
        return f"{channel.label}: not executable"
    except subprocess.TimeoutExpired:
        return f"{channel.label}: still running after {COMMAND_TIMEOUT:g} s, stopped"
    except OSError as exc:
        return f"{channel.label}: {exc.strerror or exc}"
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = f": {_without_args(said[-1], argv[1:])[:200]}" if said else ""
        return f"{channel.label} exited with {done.returncode}{tail}"
    return None


def _without_args(line: str, args: list[str]) -> str:
    """A program's complaint without its arguments: they may hold a token (`--token X`),
    and a program that fails often says what it was given ("invalid token X")."""
    for arg in sorted(args, key=len, reverse=True):
        if len(arg) >= 4:
            line = line.replace(arg, "…")
    return line


def _post(channel: Channel, alert: dict[str, Any]) -> str | None:
    import http.client
    import urllib.error
    import urllib.request

    from maillog_cli.render.output import json_line

    url = channel.target
    if url.startswith("$"):
        url = os.environ.get(url[1:], "")
        if not url:
            return f"{channel.label}: the environment variable is not set"
        if url_problem(url):  # its value may be a secret: never shown, nor in a traceback
            return f"{channel.label}: the environment variable does not hold an http:// or https:// URL"
    body = {**alert, "text": slack_escape(alert["text"])}
    request = urllib.request.Request(
        url,
        data=json_line(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "maillog"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
            response.read(65536)
    except urllib.error.HTTPError as exc:
        return f"{channel.label}: HTTP {exc.code}"
    except urllib.error.URLError as exc:
        reason = exc.reason
        return f"{channel.label}: {getattr(reason, 'strerror', None) or reason}"
    except TimeoutError:
        return f"{channel.label}: no answer within {WEBHOOK_TIMEOUT:g} s"
    except http.client.HTTPException as exc:  # not HTTP (a mail port), a bad redirect …
        return f"{channel.label}: not a usable HTTP answer ({type(exc).__name__})"
    except (OSError, ValueError) as exc:
        return f"{channel.label}: {type(exc).__name__}"
    return None
