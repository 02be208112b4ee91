"""Job runs end to end (issue 19 item 2): `router run` as a subprocess, `router exec` and
`router job alerts` as subprocesses with real signals, a stand-in webhook receiver and a real
SMTP server (aiosmtpd) on loopback.

A failed run's webhook target receives the POST (run id, job, status, exit code) within
5 seconds and the job's service opens an incident; a run past its timeout is killed with its
whole process group, reported timed_out, and its email target gets a mail; a target that
answers 500 is retried through the delivery log and the run's status stays what it was.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Daemon, StartDaemon, wait_until
from tests.fakes import Answer, serve_in_thread
from tests.fakes.smtp import FakeSmtp, serve_smtp
from tests.fakes.webhook import FakeWebhook, serve_fake_webhook


def config(smtp: FakeSmtp) -> str:
    return f"""
settings:
  timezone: UTC
channels:
  - {{id: log, type: log}}
  - {{id: job-hooks, type: webhook, url: "http://127.0.0.1:9/unused"}}
  - {{id: mail, type: email, host: {smtp.host}, port: {smtp.port}, security: none,
     from: router@example.com}}
escalation_policies:
  - {{id: ops, levels: [{{targets: [{{channel: log}}], delay: 1h}}]}}
services:
  - {{id: database, escalation_policy: ops, channels: [log]}}
routes:
  - service: database
jobs:
  - {{id: backup, service: database, timeout: 1h}}
"""


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with serve_in_thread(serve_fake_webhook) as receiver:
        yield receiver


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with serve_smtp() as server:
        yield server


def router(daemon: Daemon, *arguments: str, timeout: float = 60,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", *arguments], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "ROUTER_URL": daemon.base_url, **(env or {})})


def store_options(daemon: Daemon) -> list[str]:
    return ["--config", str(daemon.config_dir), *daemon.store_options]


def runs(daemon: Daemon) -> list[dict[str, Any]]:
    with daemon.client(daemon.admin_token) as client:
        found: list[dict[str, Any]] = client.get("/v1/jobs/backup/runs").json()["runs"]
    return found


def test_a_failed_run_posts_to_its_webhook_target_and_opens_an_incident(
        start_daemon: StartDaemon, hook: FakeWebhook, smtp: FakeSmtp) -> None:
    daemon = start_daemon(config(smtp))
    added = router(daemon, "job", "alerts", "add", "backup", "--type", "webhook",
                   "--target", f"{hook.url}?token=s3cret", "--no-on-timeout",
                   *store_options(daemon))
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added ") and "s3cret" not in added.stdout
    hook.answer_next(Answer(status=500, body=b"busy"))  # the first attempt fails

    finished = router(daemon, "exec", "--job", "backup", "--run-id", "nightly-1", "--",
                      "sh", "-c", "echo dumping; echo 'pg_dump: disk full' >&2; exit 3")
    assert (finished.returncode, finished.stdout, finished.stderr) == (
        3, "dumping\npg_dump: disk full\n", "")
    # within 5 s of the run's end: the wait's bound (a request's `time` is the fake's own
    # trio clock, which no wall clock compares with)
    [first] = wait_until(lambda: hook.requests[:1], timeout=5,
                         what=lambda: f"the webhook target's POST; log:\n{daemon.log()}")
    body = first.json()
    assert (body["event"], body["incident"]["labels"]) == ("job", {
        "job": "backup", "run_id": "nightly-1", "status": "failed", "exit_code": "3",
        "duration": body["incident"]["labels"]["duration"]})
    assert body["incident"]["summary"] == "Job backup failed with exit code 3 (run nightly-1)"
    assert first.path == "/hook?token=s3cret"  # the target's own URL, token and all
    # retried after the 500, logged like every delivery; the run stays failed. The receiver
    # counts the retry before it answers, the daemon records it once the answer is back:
    # wait for the record, not for the receiver.
    def delivered() -> list[dict[str, Any]] | None:
        with daemon.client(daemon.admin_token) as client:
            found: list[dict[str, Any]] = client.get(
                "/v1/deliveries", params={"channel": "job-hooks"}).json()["deliveries"]
        return found if any(item["outcome"] == "delivered" for item in found) else None
    log = wait_until(delivered, timeout=15, what=lambda: f"the retry; log:\n{daemon.log()}")
    assert len(hook.accepted) == 1
    with daemon.client(daemon.admin_token) as client:
        incidents = client.get("/v1/incidents").json()["incidents"]
    assert [(item["attempt"], item["outcome"]) for item in log[::-1]] == [
        (1, "retry"), (2, "delivered")]
    [run] = runs(daemon)
    assert (run["status"], run["exit_code"], run["output"]) == (
        "failed", 3, "dumping\npg_dump: disk full\n")
    assert [(item["service"], item["state"]) for item in incidents] == [
        ("database", "triggered")]
    assert smtp.mails == []  # the email target wants timeouts only, and there is none

    # a success resolves the service's incident
    assert router(daemon, "exec", "--job", "backup", "--", "true").returncode == 0
    with daemon.client(daemon.admin_token) as client:
        assert [item["state"] for item in client.get("/v1/incidents").json()["incidents"]] \
            == ["resolved"]


def test_a_run_past_its_timeout_is_killed_with_its_group_and_mails_its_target(
        start_daemon: StartDaemon, smtp: FakeSmtp, tmp_path: Path) -> None:
    daemon = start_daemon(config(smtp))
    with daemon.client(daemon.admin_token) as client:
        added = client.post("/v1/jobs/backup/alerts", json={
            "alert_type": "email", "target": "ops@example.com", "on_failure": False})
        assert added.status_code == 201, added.text
    pid_file = tmp_path / "child.pid"
    began = time.monotonic()
    finished = router(daemon, "exec", "--job", "backup", "--timeout", "1s", "--", "sh", "-c",
                      f"sleep 60 & echo $! > {pid_file}; echo started; wait")
    assert time.monotonic() - began < 15
    assert (finished.returncode, finished.stdout) == (124, "started\n")
    child = int(pid_file.read_text())
    wait_until(lambda: gone_or_zombie(child), timeout=5,
               what="the command's background child killed with its group")
    [run] = runs(daemon)
    assert (run["status"], run["exit_code"], run["output"]) == ("timed_out", None,
                                                                 "started\n")
    [mail] = wait_until(lambda: smtp.mails[:1], timeout=10,
                        what=lambda: f"the timeout mail; log:\n{daemon.log()}")
    assert mail.recipients == ("ops@example.com",)
    # (a subject this long is folded before its first word: the parser keeps the space)
    assert str(mail.message["Subject"]).strip().startswith("Job backup timed out after 1.0")
    assert "run_id: " in mail.message.get_body(("plain",)).get_content()


def test_a_report_the_daemon_refuses_is_a_warning_and_the_job_runs(
        start_daemon: StartDaemon, smtp: FakeSmtp) -> None:
    daemon = start_daemon(config(smtp))
    finished = router(daemon, "exec", "--job", "nightly", "--", "sh", "-c", "echo ran")
    assert finished.returncode == 0 and finished.stdout == "ran\n"
    assert "router refused the started report (404)" in finished.stderr
    assert json.dumps({"error": "no job 'nightly'"}) in finished.stderr.replace('":"', '": "')


def gone_or_zombie(pid: int) -> bool:
    """Whether process `pid` has ended: reaped, or a zombie its parent has not reaped yet
    (it may be reaped between two reads of /proc, hence one read)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def dead_port() -> int:
    """A loopback port nothing listens on: the kernel's pick, closed again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_proxy_in_the_environment_does_not_carry_the_reports_away(
        start_daemon: StartDaemon, smtp: FakeSmtp) -> None:
    """cron may run with a proxy set for the internet; the reports go straight to router."""
    daemon = start_daemon(config(smtp))
    proxy = f"http://127.0.0.1:{dead_port()}"
    environment = {name: proxy for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY",
                                            "https_proxy", "ALL_PROXY", "all_proxy")}
    environment.update({"NO_PROXY": "", "no_proxy": ""})
    finished = router(daemon, "exec", "--job", "backup", "--run-id", "proxied", "--",
                      "sh", "-c", "echo ran", env=environment)
    assert (finished.returncode, finished.stdout, finished.stderr) == (0, "ran\n", "")
    [run] = runs(daemon)
    assert (run["run_id"], run["status"], run["output"]) == ("proxied", "succeeded", "ran\n")


IGNORES_TERM = """
import signal, time
signal.signal(signal.SIGTERM, lambda number, frame: print("ignoring TERM", flush=True))
print("started", flush=True)
time.sleep(60)
"""


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace(
        start_daemon: StartDaemon, smtp: FakeSmtp, tmp_path: Path) -> None:
    daemon = start_daemon(config(smtp))
    began = time.monotonic()
    finished = router(daemon, "exec", "--job", "backup", "--timeout", "1s", "--grace", "2s",
                      "--", sys.executable, "-c", IGNORES_TERM)
    took = time.monotonic() - began
    assert (finished.returncode, finished.stdout) == (124, "started\nignoring TERM\n")
    assert 3 <= took < 12  # 1 s timeout + 2 s grace, then SIGKILL
    [run] = runs(daemon)
    assert (run["status"], run["output"]) == ("timed_out", "started\nignoring TERM\n")


def test_sigterm_to_exec_reaches_the_command_and_the_run_is_reported(
        start_daemon: StartDaemon, smtp: FakeSmtp) -> None:
    daemon = start_daemon(config(smtp))
    with subprocess.Popen(
            [sys.executable, "-m", "router", "exec", "--job", "backup", "--", sys.executable,
             "-c", "import time; print('started', flush=True); time.sleep(60)"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "ROUTER_URL": daemon.base_url}) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 128 + signal.SIGTERM
    [run] = runs(daemon)
    assert (run["status"], run["exit_code"], run["output"]) == (
        "failed", -signal.SIGTERM, "started\n")
