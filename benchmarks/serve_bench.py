"""`maillog serve` under load: concurrent clients on loopback post signed SendGrid batches
of 1, 10 and 100 events (verification on), against the same events imported from a file.

    python benchmarks/serve_bench.py [--seconds 30] [--clients 32] [--sizes 1,10,100]

Each run starts the real server (a subprocess, fresh store, a generated ECDSA key in a
mode-600 config), pre-signs unique requests (the signing is the provider's cost, not
ours), then posts them from `--clients` concurrent aiohttp connections for `--seconds`:
requests/s, events/s, p50/p99 latency (request sent → 2xx, i.e. committed). Then the same
number of events goes into a fresh store with `maillog import FILE` for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]


def events(start: int, n: int) -> list[dict[str, object]]:
    return [
        {
            "email": f"r{i}@example.com",
            "timestamp": 1764000000 + i,
            "event": "delivered" if i % 10 else "bounce",
            "reason": "550 5.1.1 user unknown" if i % 10 == 0 else "",
            "sg_event_id": f"ev-{i}",
            "sg_message_id": f"m{i}.filter001",
        }
        for i in range(start, start + n)
    ]


def start_server(home: Path, key: ec.EllipticCurvePrivateKey) -> tuple[subprocess.Popen[str], str]:
    pub = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    config = home / "config.toml"
    config.write_text(f'[serve.sendgrid]\npublic_key = "{pub}"\n')
    config.chmod(0o600)
    env = {
        **os.environ,
        "MAILLOG_CONFIG": str(config),
        "MAILLOG_DB": str(home / "serve.db"),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "maillog_cli", "serve", "--port", "0", "--summary-every", "3600"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "listening on " in line:
            return proc, line.split("listening on ", 1)[1].split("/hooks/")[0]
    raise SystemExit("the server did not start")


def presign(
    key: ec.EllipticCurvePrivateKey, size: int, count: int, start: int
) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    stamp = str(int(time.time()))
    for r in range(count):
        body = json.dumps(events(start + r * size, size)).encode()
        sig = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
        out.append(
            (
                body,
                {
                    "Content-Type": "application/json",
                    "X-Twilio-Email-Event-Webhook-Signature": sig,
                    "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                },
            )
        )
    return out


async def load(
    url: str, requests: list[tuple[bytes, dict[str, str]]], clients: int, seconds: float
) -> tuple[int, int, list[float], float]:
    import aiohttp

    latencies: list[float] = []
    failures = 0
    it = iter(requests)
    end = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal failures
            for body, headers in it:
                if time.perf_counter() >= end:
                    return
                t = time.perf_counter()
                async with session.post(
                    url + "/hooks/sendgrid", data=body, headers=headers
                ) as resp:
                    await resp.read()
                    if resp.status != 200:
                        failures += 1
                        continue
                latencies.append(time.perf_counter() - t)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return len(latencies), failures, latencies, elapsed


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far: the server's cost per request
    whatever else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000 if values else float("nan")


def file_import(home: Path, n: int) -> float:
    """Seconds `maillog import` takes for n SendGrid events (one JSON array per line of 100)."""
    path = home / "same-events.jsonl"
    with path.open("w") as fh:
        for start in range(0, n, 100):
            fh.write(json.dumps(events(start, min(100, n - start))) + "\n")
    env = {
        **os.environ,
        "MAILLOG_DB": str(home / "import.db"),
        "MAILLOG_CONFIG": str(home / "none.toml"),
        "PYTHONPATH": str(ROOT),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "maillog_cli", "import", str(path)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"file import CPU: {cpu:.1f} s for {n} events = {n / cpu:.0f} events per CPU-s")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--sizes", default="1,10,100")
    ap.add_argument("--import-events", type=int, default=100_000, help="events of the file import")
    args = ap.parse_args()
    key = ec.generate_private_key(ec.SECP256R1())
    print(
        f"{'batch':>5} {'requests/s':>11} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7}"
    )
    rates: dict[int, float] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            proc, url = start_server(home, key)
            try:
                # Enough pre-signed requests for a generous rate; unused ones are dropped.
                count = int(args.seconds * {1: 4000, 10: 1500}.get(size, 250))
                reqs = presign(key, size, count, 0)
                cpu = cpu_seconds(proc.pid)
                done, failures, lat, elapsed = asyncio.run(
                    load(url, reqs, args.clients, args.seconds)
                )
                cpu = cpu_seconds(proc.pid) - cpu
            finally:
                proc.terminate()
                proc.wait(60)
            rates[size] = done * size / elapsed
            print(
                f"{size:>5} {done / elapsed:>11.0f} {done * size / elapsed:>9.0f}"
                f" {pct(lat, 0.5):>7.1f} {pct(lat, 0.99):>7.1f} {failures:>7}"
                f" {cpu / max(done, 1) * 1000:>17.2f} {done / max(cpu, 1e-9):>15.0f}"
            )
    with tempfile.TemporaryDirectory() as tmp:
        n = args.import_events
        seconds = file_import(Path(tmp), n)
        print(
            f"file import of {n} of the same events: {n / seconds:.0f} events/s ({seconds:.1f} s)"
        )
        if 100 in rates:
            print(
                f"serve in batches of 100 = {rates[100] / (n / seconds):.0%} of the file-import rate"
            )


if __name__ == "__main__":
    main()
