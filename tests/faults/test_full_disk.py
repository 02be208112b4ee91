"""The fault suite's full disk (issue 13): `router run` as a subprocess with its state
directory on a small tmpfs, a webhook receiver on loopback counting POSTs. Fill the
filesystem: alerts get 503 with Retry-After, /readyz is 503, the receiver sees no flood and the
log no torrent; free the space: /readyz is 200 again, new alerts are accepted and delivered,
and every alert accepted before is delivered too. (Once, a full disk made router POST one
notification 10,238 times in 40 s, with 500 tracebacks a second in its log.)

Needs root for `mount -t tmpfs` (CI runs as root); skipped with the reason otherwise.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Daemon, wait_until
from tests.fakes import Answer, serve_in_thread
from tests.fakes.webhook import FakeWebhook, serve_fake_webhook

SIZE = "6m"
"""The tmpfs: room for the store and its WAL, filled by a file of zeros."""
CONFIG = """
settings: {{timezone: UTC}}
channels:
  - {{id: hook, type: webhook, url: "{url}", retry_for: 1h}}
services:
  - {{id: api, channels: [hook]}}
routes:
  - service: api
"""
PADDING = "x" * 8000
"""Each alert's annotation, so the WAL outgrows what is left of the disk in a few alerts."""
OUTAGE = 12.0
"""Seconds the disk stays full while the test watches the receiver and the log."""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of SIZE mounted on a fresh directory; unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (CI runs the fault suite as root)")
    mount_point = tmp_path / "state"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0750",
                              "tmpfs", str(mount_point)], capture_output=True, text=True,
                             check=False)
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs was refused: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write zeros into `directory` until its filesystem has no byte left."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            with contextlib.suppress(OSError):
                while os.write(descriptor, b"\0" * size):
                    pass
    finally:
        os.close(descriptor)
    assert shutil.disk_usage(directory).free < 1 << 12
    return filler


def alert(name: str) -> dict[str, object]:
    return {"summary": f"{name} failed", "severity": "critical",
            "labels": {"alertname": name}, "annotations": {"padding": PADDING}}


def delivered(receiver: FakeWebhook) -> set[str]:
    """The summaries of the incidents the receiver was sent a trigger for."""
    return {request.json()["incident"]["summary"] for request in receiver.accepted
            if request.json()["event"] == "trigger"}


def test_a_full_disk_is_503_not_ready_no_flood_and_nothing_lost(
        small_disk: Path, tmp_path: Path) -> None:
    socket_dir = Path(tempfile.mkdtemp(prefix="router-faults-"))
    with serve_in_thread(serve_fake_webhook) as receiver:
        config_dir = tmp_path / "config"
        config_dir.mkdir()
        (config_dir / "router.yaml").write_text(textwrap.dedent(CONFIG.format(url=receiver.url)))
        daemon = Daemon(config_dir=config_dir, state_dir=small_disk,
                        socket_path=socket_dir / "router.sock",
                        log_path=tmp_path / "router.log", env={})
        try:
            daemon.start()
            with daemon.client() as client:
                run_outage(daemon, client, receiver, small_disk)
            daemon.stop()
        finally:
            daemon.kill()
            shutil.rmtree(socket_dir, ignore_errors=True)
            print(f"--- router log:\n{daemon.log()[-20000:]}")


def run_outage(daemon: Daemon, client: httpx.Client, receiver: FakeWebhook,
               disk: Path) -> None:
    # The receiver is down for the first sends: their retries come during the outage, are
    # accepted, and their results cannot be committed (the old flood).
    receiver.answer_next(*[Answer(status=503, headers={"Retry-After": "3"})] * 5)
    accepted = [f"before{number}" for number in range(5)]
    for name in accepted:
        assert client.post("/v1/alerts", json=alert(name)).status_code == 202
    wait_until(lambda: len(receiver.requests) >= 5, timeout=10,
               what="the first sends before the outage")
    filler = fill(disk)
    log_before = len(daemon.log().splitlines())
    refused = None
    for number in range(300):  # the WAL may still have room for a few
        answer = client.post("/v1/alerts", json=alert(f"during{number}"))
        if answer.status_code == 202:
            accepted.append(f"during{number}")
            continue
        refused = answer
        break
    assert refused is not None, "the disk never filled"
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "10"
    # SQLite's words: "database or disk is full" (or, should the WAL index fail to grow
    # first, "disk I/O error")
    assert refused.json()["error"] in ("the store cannot write: database or disk is full",
                                       "the store cannot write: disk I/O error")
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()["status"]) == (503, "not ready"), ready.text
    assert client.get("/healthz").status_code == 200

    started = time.monotonic()
    while time.monotonic() - started < OUTAGE:  # senders keep trying
        assert client.post("/v1/alerts", json=alert("refused")).status_code == 503
        assert client.get("/readyz").status_code == 503
        time.sleep(0.05)
    sends = Counter(request.headers["x-router-notification"] for request in receiver.requests)
    assert len(receiver.accepted) >= 5  # the retries went out during the outage
    assert max(sends.values()) <= 2, f"a notification was POSTed {max(sends.values())} times"
    outage_log = daemon.log().splitlines()[log_before:]
    assert not [line for line in outage_log if "Traceback" in line]
    errors = [line for line in outage_log if '"level": "ERROR"' in line]
    assert len(errors) <= 2 * (OUTAGE / 10 + 2), "\n".join(errors)

    filler.unlink()
    wait_until(lambda: client.get("/readyz").status_code == 200, timeout=10,
               what="/readyz to be 200 once the space is free")
    for number in range(3):
        answer = client.post("/v1/alerts", json=alert(f"after{number}"))
        assert answer.status_code == 202, answer.text
        accepted.append(f"after{number}")
    wait_until(lambda: delivered(receiver) >= {f"{name} failed" for name in accepted},
               timeout=20, what=lambda: f"every accepted alert to be delivered; missing "
               f"{sorted({f'{name} failed' for name in accepted} - delivered(receiver))}")
    assert "refused failed" not in delivered(receiver)
