"""`maillog serve`: receive providers' webhooks, verify them, store their events."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from maillog_cli.commands import survive_closed_peers
from maillog_cli.errors import MaillogError
from maillog_cli.options import DbOption

if TYPE_CHECKING:
    from maillog_cli.alerts.rules import RuleFile
    from maillog_cli.alerts.watch import Background


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def _log(line: str) -> None:
    """One line on stderr (the request log and the minute summary); the caller made any
    untrusted text visible, and no line ever holds a secret."""
    sys.stderr.write(f"maillog serve: {line}\n")
    sys.stderr.flush()


def serve(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on (0.0.0.0: every interface; put TLS in front, see docs/serve.md).",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8787,
    save_raw: Annotated[
        Path | None,
        typer.Option(
            "--save-raw",
            metavar="DIR",
            help="Also keep every verified body as a webhook dump file in DIR (maillog import reads them back).",
            show_default=False,
        ),
    ] = None,
    no_verify: Annotated[
        list[str] | None,
        typer.Option(
            "--no-verify",
            metavar="PROVIDER",
            help="Accept this provider's webhooks WITHOUT checking who sent them (repeatable; warned on every start).",
            show_default=False,
        ),
    ] = None,
    max_body_mb: Annotated[
        float,
        typer.Option(
            "--max-body-mb",
            min=0.001,
            max=1024,
            help="Refuse bodies bigger than this (413), compressed or not.",
        ),
    ] = 5.0,
    confirm_subscriptions: Annotated[
        bool,
        typer.Option(
            "--confirm-subscriptions",
            help="Confirm SNS subscriptions (SES) by visiting their SubscribeURL; without it the URL is printed for you to visit.",
        ),
    ] = False,
    summary_every: Annotated[
        float,
        typer.Option(
            "--summary-every",
            min=1,
            metavar="SECONDS",
            help="How often to print the one-line summary on stderr.",
        ),
    ] = 60.0,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Also evaluate the [[alert]] rules of the config file as events are stored"
            " (as `maillog watch` does, on a thread of its own: never delays a 2xx).",
        ),
    ] = False,
    watch_interval: Annotated[
        float,
        typer.Option(
            "--watch-interval",
            metavar="SECONDS",
            min=0.1,
            max=3600,
            help="With --watch: evaluate at most this often while events arrive (and at least every minute).",
        ),
    ] = 5.0,
    db: DbOption = None,
) -> None:
    """Receive providers' webhooks on POST /hooks/PROVIDER: verify, store, then answer 2xx.

    Secrets come from the config file (a serve.PROVIDER table, mode 600) or
    $MAILLOG_SERVE_PROVIDER_KEY, never from the command line. GET /healthz, GET /metrics.
    SIGTERM finishes the requests in flight and exits 0.
    --watch also runs the alert rules (docs/alerts.md), reloaded when the file changes.
    """
    survive_closed_peers()
    import asyncio

    from maillog_cli.config import load_config
    from maillog_cli.context import open_store
    from maillog_cli.paths import config_path
    from maillog_cli.serve.app import Options, Receiver, run
    from maillog_cli.serve.settings import provider_settings

    if (
        not host.strip()
    ):  # aiohttp would listen on EVERY interface (an unset variable: --host "$HOST")
        raise MaillogError(
            "--host is empty",
            "give an address: 127.0.0.1 (the default), or 0.0.0.0 for every interface",
        )
    names = [n.strip().lower() for n in no_verify or []]
    providers = provider_settings(load_config(), str(config_path()), names)
    if save_raw is not None:
        try:
            save_raw.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MaillogError(f"--save-raw {save_raw}: {exc.strerror or exc}") from None
    for name in sorted(n for n, p in providers.items() if not p.verify):
        _log(f"WARNING: /hooks/{name} accepts events from anyone (--no-verify {name})")
    ses = providers.get("ses")
    if ses is not None and ses.verify and "*" in ses.secrets.get("topic_arn", "").split(","):
        # SNS signs messages for anyone's topics: "*" lets any AWS account post events
        _log('WARNING: /hooks/ses accepts SNS messages of ANY topic (topic_arn "*")')
    opts = Options(
        host=host,
        port=port,
        max_body=int(max_body_mb * (1 << 20)),
        save_raw=save_raw,
        confirm_subscriptions=confirm_subscriptions,
        summary_every=summary_every,
    )
    rule_file = _rules_for_watch() if watch else None  # a bad rule refuses the start
    store = open_store(ctx, db)
    watcher = _start_watcher(store.path, rule_file, watch_interval) if rule_file else None
    receiver = Receiver(store, providers, opts, _log, watcher.wake if watcher else None)

    def listening(url: str) -> None:
        _log(f"listening on {url}/hooks/{{{','.join(sorted(providers))}}} (store {store.path})")

    try:
        asyncio.run(run(receiver, listening))
    finally:
        if watcher is not None:
            watcher.stop()
        store.close()


def _rules_for_watch() -> RuleFile:
    from maillog_cli.alerts.rules import RuleFile

    return RuleFile()


def _start_watcher(path: Path, rule_file: RuleFile, interval: float) -> Background:
    """The alert rules evaluated on their own thread and connection, woken by commits."""
    from maillog_cli.alerts.watch import Background
    from maillog_cli.commands.check import line_writer
    from maillog_cli.render.output import visible

    watcher = Background(path, rule_file, line_writer(), lambda line: _log(visible(line)), interval)
    n = len(rule_file.rules)
    _log(f"watching {n} alert rule{'s' if n != 1 else ''} from {visible(str(rule_file.path))}")
    watcher.start()
    return watcher
