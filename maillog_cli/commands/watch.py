"""`maillog watch`: evaluate the `[[alert]]` rules continuously as events arrive.

Thin: the loop is maillog_cli.alerts.watch.watch (what `serve --watch` will call too).
Ctrl-C or SIGTERM ends it with exit 0.
"""

from __future__ import annotations

from typing import Annotated

import typer

from maillog_cli.options import DbOption


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)


def watch(
    ctx: typer.Context,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            metavar="SECONDS",
            help="Evaluate at most this often while events arrive (and at least every minute).",
            min=0.1,
            max=3600,
        ),
    ] = 5.0,
    db: DbOption = None,
) -> None:
    """Evaluate the alert rules as new events arrive: notify, repeat, resolve.

    Runs until Ctrl-C or SIGTERM (exit 0). Alert state is kept in the store,
    so a restarted watch (or `maillog check` from cron) does not notify twice.
    An edit of the config file is picked up at the next look (a bad edit is
    reported with its FILE:LINE and the rules before it stay in force).

      maillog watch
      maillog watch --interval 30
    """
    import signal

    from maillog_cli.alerts import watch as loop
    from maillog_cli.alerts.rules import RuleFile
    from maillog_cli.commands import survive_closed_peers
    from maillog_cli.commands.check import line_writer
    from maillog_cli.context import error, format_error, open_store
    from maillog_cli.errors import MaillogError
    from maillog_cli.render.output import visible

    survive_closed_peers()

    rule_file = RuleFile()
    rules = rule_file.rules
    store = open_store(ctx, db, create=False)
    stopping: list[int] = []

    def on_term(signum: int, frame: object) -> None:
        stopping.append(signum)

    previous = signal.signal(signal.SIGTERM, on_term)

    def report(result: loop.Pass) -> None:
        for failure in result.failures:
            error(f"notification failed: {failure}")

    error(
        f"watching {len(rules)} rule{'s' if len(rules) != 1 else ''} on {visible(store.path)}"
        " (Ctrl-C to stop)"
    )
    try:
        loop.watch(
            store,
            rules,
            line_writer(),
            stop=lambda: bool(stopping),
            report=report,
            interval=interval,
            on_error=lambda exc: error(
                f"this evaluation failed, trying again: {format_error(exc)}"
            ),
            reload=loop.reloader(rule_file, error),
        )
    except loop.StoreReplaced as exc:
        raise MaillogError(
            exc.message, "restart maillog watch to watch the file now there"
        ) from None
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()
