"""The HTTP side of `maillog serve` (aiohttp): `POST /hooks/<provider>`, `GET /healthz`,
`GET /metrics`, and the run loop (SIGTERM drains in-flight requests, then exits 0).

A request goes: size cap (413) → gzip → verify (401/403) → parse with the route's
importer (400) → the writer's group commit → 200 only once committed (503 if the store
cannot be written, so the provider retries).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from maillog_cli.errors import MaillogError
from maillog_cli.normalize import json_kind
from maillog_cli.render.output import visible
from maillog_cli.serve import body as bodies
from maillog_cli.serve import sns, verify
from maillog_cli.serve.metrics import Metrics
from maillog_cli.serve.settings import PROVIDERS, Provider
from maillog_cli.serve.writer import Job, Writer
from maillog_cli.store.db import Store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
DEFAULT_MAX_BODY_MB = 5.0
PARSE_INLINE = 256 << 10  # bigger bodies are parsed off the event loop
DRAIN_SECONDS = 30.0
# A client that stalls holds a connection (a file descriptor) for as long as it is allowed
# to: a body must arrive within BODY_SECONDS (5 MB at 100 kB/s is 50 s), and a connection
# that has sent no whole request for IDLE_SECONDS is closed (aiohttp's default is an hour).
BODY_SECONDS = 60.0
IDLE_SECONDS = 75.0

Log = Callable[[str], None]
OnCommit = Callable[[list[Job]], None]


@dataclass
class Options:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body: int = int(DEFAULT_MAX_BODY_MB * (1 << 20))
    save_raw: Path | None = None
    confirm_subscriptions: bool = False
    summary_every: float = 60.0
    body_seconds: float = BODY_SECONDS
    idle_seconds: float = IDLE_SECONDS


def text(status: int, line: str) -> web.Response:
    return web.Response(status=status, text=line + "\n")


class Receiver:
    """The routes' state: providers' verifiers, the writer, the counters."""

    def __init__(
        self,
        store: Store,
        providers: dict[str, Provider],
        opts: Options,
        log: Log,
        on_commit: OnCommit | None = None,
    ) -> None:
        self.providers, self.opts, self.log = providers, opts, log
        self.metrics = Metrics()
        self.replays = {name: verify.Replays() for name in providers}
        self.checks = {name: self._verifier(p) for name, p in providers.items() if p.verify}
        self.certs = sns.Certs()
        self.raw_seq = itertools.count(1)
        self.writer = Writer(store, on_commit)

    # --- start-up: each provider's secret read once, so a bad key fails before listening ---
    def _verifier(self, p: Provider) -> Callable[[verify.Incoming], Any]:
        s, seen = p.secrets, self.replays[p.name]
        where = f"the {p.name} secret ({p.where})"
        if p.name == "sendgrid":
            key = verify.load_public_key(s["public_key"], where)
            if not isinstance(key, verify.ec.EllipticCurvePublicKey):
                raise MaillogError(
                    f"{where} is not an ECDSA public key",
                    "copy the verification key of the signed event webhook",
                )
            return lambda req: verify.sendgrid(req, key, seen)
        if p.name == "postal":
            rsa_key = verify.load_public_key(s["public_key"], where)
            if not isinstance(rsa_key, verify.rsa.RSAPublicKey):
                raise MaillogError(
                    f"{where} is not an RSA public key", "copy the server's webhook public key"
                )
            return lambda req: verify.postal(req, rsa_key, lambda: _json(req.body))
        if p.name == "mailgun":
            signing_key = s["signing_key"].encode()
            return lambda req: verify.mailgun(req, signing_key, seen, _json(req.body))
        if p.name == "resend":
            from standardwebhooks.webhooks import Webhook

            try:
                hook = Webhook(s["secret"])
            except Exception:  # noqa: BLE001 - the library raises several kinds
                raise MaillogError(
                    f"{where} is not a webhook secret", "copy it whole: whsec_…"
                ) from None
            return lambda req: verify.resend(req, hook, seen)
        if p.name == "mandrill":
            key_text, url = s["key"], s["url"]
            return lambda req: verify.mandrill(req, key_text, url)
        if p.name == "ses":
            topics = frozenset(t.strip() for t in s["topic_arn"].split(",") if t.strip())
            return lambda req: sns.verify(_json(req.body), self.certs, topics)
        secrets = dict(s)
        return lambda req: verify.shared_secret(req, secrets)

    # --- routes ------------------------------------------------------------------------
    async def hook(self, request: web.Request) -> web.Response:
        name = request.match_info["provider"]
        if name not in PROVIDERS:
            return text(
                404,
                f"no such endpoint: /hooks/{visible(name)[:40]} (one of: {', '.join(PROVIDERS)})",
            )
        if name not in self.providers:
            return text(
                404,
                f"/hooks/{name} is not enabled: give its secret in [serve.{name}] (docs/serve.md)",
            )
        self.metrics.add("requests_received", name)
        try:
            async with asyncio.timeout(self.opts.body_seconds):
                data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(
                request, name, 413, "too_large", f"body over {self.opts.max_body} bytes"
            )
        except TimeoutError:  # answered, then the connection closes: the rest is never read
            late = self._refuse(
                request,
                name,
                408,
                "slow_body",
                f"body not received within {self.opts.body_seconds:g} s",
            )
            late.force_close()
            return late
        try:
            data = bodies.gunzip(data, self.opts.max_body)
            incoming = verify.Incoming(
                data, {k.lower(): v for k, v in request.headers.items()}, dict(request.query)
            )
            token = await self._verify(name, incoming)
        except verify.Refused as exc:
            return self._refuse(request, name, exc.status, exc.reason, exc.detail)
        except bodies.Malformed as exc:
            return self._refuse(request, name, 400, "malformed", str(exc))
        if name == "ses":
            early = await self._sns_control(data)
            if early is not None:
                return early
        return await self._store(request, name, data, token)

    async def probe(self, request: web.Request) -> web.Response:
        """HEAD: does the endpoint exist? Mandrill asks so before it adds a webhook, and
        without a 200 falls back to a POST signed with a generic key, which verification
        refuses: the webhook could not be added at all."""
        name = request.match_info["provider"]
        return web.Response(status=200 if name in self.providers else 404)

    async def _verify(self, name: str, incoming: verify.Incoming) -> str | None:
        check = self.checks.get(name)
        if check is None:  # --no-verify
            return None
        token = check(incoming)
        if asyncio.iscoroutine(token):
            token = await token
        return token if isinstance(token, str) else None

    async def _store(
        self, request: web.Request, name: str, data: bytes, token: str | None
    ) -> web.Response:
        try:
            if len(data) > PARSE_INLINE:
                parsed = await asyncio.get_running_loop().run_in_executor(
                    None, bodies.parse, name, data
                )
            else:
                parsed = bodies.parse(name, data)
        except bodies.Malformed as exc:
            return self._refuse(request, name, 400, "malformed", str(exc))
        if parsed.errors:
            self.metrics.add("records_rejected", name, len(parsed.errors))
            self.log(
                f"/hooks/{name}: {len(parsed.errors)} bad record(s) skipped, first: {visible(parsed.errors[0])[:200]}"
            )
        if self.opts.save_raw is not None:
            self._save_raw(name, data)
        try:
            new, dup = await asyncio.wrap_future(self.writer.submit(Job(name, parsed.items)))
        except Exception as exc:  # noqa: BLE001 - any store failure: the provider retries
            problem = self.writer.problem or type(exc).__name__
            return self._refuse(
                request, name, 503, "store_unavailable", f"not stored, retry later: {problem}"
            )
        if token is not None:  # committed: the same signature again is a replay
            self.replays[name].remember(token)
        self.metrics.add("requests_stored", name)
        self.metrics.add("events_stored", name, new)
        self.metrics.add("events_duplicate", name, dup)
        return text(200, f"ok: {new} stored, {dup} already stored")

    async def _sns_control(self, data: bytes) -> web.Response | None:
        """SNS subscription messages (verified already): confirm or print the URL."""
        msg = _json(data)
        kind = msg.get("Type")
        if kind == "SubscriptionConfirmation":
            topic, url = visible(msg.get("TopicArn")), msg.get("SubscribeURL")
            if self.opts.confirm_subscriptions:
                self.log(f"SNS subscription to {topic}: {await sns.confirm(url)}")
            else:
                self.log(
                    f"SNS subscription to {topic}: confirm it by visiting {visible(url)} (or run with --confirm-subscriptions)"
                )
            return text(200, "subscription noted")
        if kind == "UnsubscribeConfirmation":
            self.log(f"SNS: unsubscribed from {visible(msg.get('TopicArn'))}")
            return text(200, "unsubscription noted")
        return None

    def _refuse(
        self, request: web.Request, name: str, status: int, reason: str, detail: str
    ) -> web.Response:
        self.metrics.reject(name, reason)
        line = visible(detail)[:300]
        self.log(f"/hooks/{name}: {status} {reason} from {request.remote}: {line}")
        return text(status, line)

    def _save_raw(self, name: str, data: bytes) -> None:
        """The verified body as a dump file `maillog import` reads back (written before the
        reply; an error here is logged, never fails the request)."""
        assert self.opts.save_raw is not None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = (
            self.opts.save_raw
            / f"{name}-{stamp}-{os.getpid()}-{next(self.raw_seq):06d}.{'form' if name == 'mandrill' else 'json'}"
        )
        try:
            with open(path, "xb") as fh:
                fh.write(data)
        except OSError as exc:
            self.log(f"--save-raw: cannot write {path}: {exc.strerror or exc}")

    async def healthz(self, request: web.Request) -> web.Response:
        problem = self.writer.writable()
        return text(503, f"store not writable: {problem}") if problem else text(200, "ok")

    async def metrics_page(self, request: web.Request) -> web.Response:
        body = self.metrics.prometheus(sorted(self.providers))
        return web.Response(
            text=body,
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Version": "0.0.4"},
        )

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self.opts.max_body)
        app.router.add_post("/hooks/{provider}", self.hook)
        app.router.add_route("HEAD", "/hooks/{provider}", self.probe)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics_page)
        return app


def _json(data: bytes) -> Any:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise bodies.Malformed(f"not JSON: {str(exc).splitlines()[0][:120]}") from None
    if not isinstance(value, dict):
        raise bodies.Malformed(f"expected a JSON object, got {json_kind(value)}")
    return value


class _OneLineLog(logging.Handler):
    """aiohttp's own complaints (a malformed request line or header, a body encoding it
    cannot decode, an exception in a handler) as one visible line of the serve log: it
    logged each with a traceback, so anyone who could reach the port filled the log with
    tracebacks and text of their choosing."""

    def __init__(self, log: Log) -> None:
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        where = visible(record.getMessage().removeprefix("Error handling request "))[:120]
        if isinstance(exc, HttpProcessingError):
            said = " ".join(str(exc.message).split()) or type(exc).__name__
            self.log(f"{exc.code or 400} bad HTTP request {where}: {visible(said)[:200]}")
        elif isinstance(exc, ConnectionError):  # the client reset or closed mid-request
            self.log(f"client gone before the answer {where}: {type(exc).__name__}")
        elif exc is not None:
            said = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            self.log(f"500 internal error (a maillog bug): {where}: {visible(said)[:200]}")
        else:
            self.log(f"HTTP: {where}")


def http_logger(log: Log) -> logging.Logger:
    """The logger aiohttp's request handlers report to: one line each, through `log`."""
    logger = logging.getLogger("maillog.serve.http")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    logger.handlers[:] = [_OneLineLog(log)]
    return logger


def app_runner(receiver: Receiver) -> web.AppRunner:
    """The server of the routes, with the limits a client cannot stretch."""
    return web.AppRunner(
        receiver.application(),
        access_log=None,
        shutdown_timeout=DRAIN_SECONDS,
        keepalive_timeout=receiver.opts.idle_seconds,
        logger=http_logger(receiver.log),
    )


async def run(receiver: Receiver, on_listen: Callable[[str], None]) -> None:
    """Listen until SIGTERM or SIGINT, then finish the requests in flight and stop."""
    opts = receiver.opts
    runner = app_runner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, opts.host, opts.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        receiver.writer.close()
        raise MaillogError(
            f"cannot listen on {opts.host}:{opts.port}: {exc.strerror or exc}",
            "choose another --host or --port, or stop what uses it",
        ) from None
    host, port = runner.addresses[0][:2]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Said only once SIGTERM drains: a supervisor that stops us as soon as we say we
    # listen gets the clean exit 0, not a death by the signal.
    on_listen(f"http://{f'[{host}]' if ':' in host else host}:{port}")  # IPv6 in brackets
    summary = asyncio.create_task(_summaries(receiver))
    try:
        await stop.wait()
    finally:
        summary.cancel()
        await runner.cleanup()  # stop listening; requests in flight finish (their commits too)
        await loop.run_in_executor(None, receiver.writer.close)


async def _summaries(receiver: Receiver) -> None:
    every = receiver.opts.summary_every
    while True:
        await asyncio.sleep(every)
        receiver.log(receiver.metrics.summary(every))
