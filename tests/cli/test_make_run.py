"""`make run` as the README's quick start runs it: the Makefile's own command over a copy of
the checkout's Makefile and example config, with this test run's virtualenv, as a real
subprocess reached over loopback HTTP.

`PORT=0` lets the kernel pick the port; the daemon's `listening on` line names it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import LISTENING, STOP_TIMEOUT, wait_until

CHECKOUT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0  # seconds: make itself, then the daemon's cold start


class MakeRun:
    """`make run VARIABLE=...` in a copy of the checkout; stop() ends make and the daemon."""

    def __init__(self, directory: Path, *variables: str) -> None:
        self.directory = directory
        self.log_path = directory / "make-run.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ["make", "--no-print-directory", "run", f"VENV={sys.prefix}", *variables],
                cwd=directory, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)  # a group of its own: SIGTERM reaches make's child
        found = wait_until(self._listening, timeout=START_TIMEOUT,
                           what=lambda: f"make run to log 'listening on'; its log:\n{self.log()}")
        self.host, self.port = found["host"], int(found["port"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _listening(self) -> re.Match[str] | None:
        found = LISTENING.search(self.log())
        if found is None and self.process.poll() is not None:
            raise AssertionError(f"make run exited {self.process.returncode} before "
                                 f"listening; its log:\n{self.log()}")
        return found

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"http://{self.host}:{self.port}", timeout=10.0,
                            trust_env=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise AssertionError(f"make run did not stop; its log:\n{self.log()}") from None


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The Makefile, pyproject.toml and config/ of this checkout, with pyproject.toml older
    than the virtualenv's stamp so make does not reinstall."""
    copy = tmp_path / "checkout"
    copy.mkdir()
    shutil.copy2(CHECKOUT / "Makefile", copy / "Makefile")
    shutil.copy2(CHECKOUT / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(CHECKOUT / "config", copy / "config")
    stamp = Path(sys.prefix) / ".installed"
    assert stamp.exists(), f"run the tests from the virtualenv make creates (no {stamp})"
    older = stamp.stat().st_mtime - 60
    os.utime(copy / "pyproject.toml", (older, older))
    return copy


@pytest.fixture
def make_run(checkout: Path) -> Iterator[list[MakeRun]]:
    runs: list[MakeRun] = []
    yield runs
    for run in runs:
        run.stop()


def test_make_run_port_listens_there_and_args_reach_router_run(
        checkout: Path, make_run: list[MakeRun]) -> None:
    run = MakeRun(checkout, "PORT=0", "ARGS=--log-format text --log-level debug")
    make_run.append(run)
    assert run.host == "127.0.0.1"
    with run.client() as client:
        assert client.get("/healthz").status_code == 200
    listening = next(line for line in run.log().splitlines() if "listening on" in line)
    # text, not the default JSON: ARGS reached router run
    assert re.match(r"\S+Z INFO router\.daemon\.root: listening on http://127\.0\.0\.1:", listening)
    assert "--listen 127.0.0.1:0 --log-format text --log-level debug" in run.log()


def test_make_run_without_port_keeps_the_config_listener(checkout: Path) -> None:
    dry_run = subprocess.run(["make", "--no-print-directory", "-n", "run", f"VENV={sys.prefix}"],
                             cwd=checkout, capture_output=True, text=True, check=True)
    assert "--listen" not in dry_run.stdout
    assert "router run --config config/ --state state/" in dry_run.stdout


def deliveries(checkout: Path) -> list[dict[str, object]]:
    """The delivery log of the daemon's store, through `router deliveries` (oldest first)."""
    done = subprocess.run([str(Path(sys.prefix) / "bin" / "router"), "deliveries", "--state",
                           "state", "--format", "json"], cwd=checkout, capture_output=True,
                          text=True, check=True)
    found: list[dict[str, object]] = json.loads(done.stdout)["deliveries"]
    return list(reversed(found))


def test_make_run_on_the_example_config_pages_only_through_the_log(
        checkout: Path, make_run: list[MakeRun]) -> None:
    """The outside channels are `enabled: false`: nothing leaves the host, nothing retries."""
    run = MakeRun(checkout, "PORT=0")
    make_run.append(run)
    readme = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    [try_it] = re.findall(r"Try it:\n\n```sh\n(.*?)```", readme, re.DOTALL)
    assert "localhost:9080" in try_it
    done = subprocess.run(["bash", "-euc", try_it.replace("localhost:9080",
                                                          f"localhost:{run.port}")],
                          cwd=checkout, capture_output=True, text=True, timeout=30,
                          check=True)
    assert done.stdout.startswith('{"status":"accepted","incidents":[{"incident_id":"INC1",'
                                  ), done.stdout
    assert '"platform-primary"' in done.stdout  # curl localhost:9080/v1/oncall
    outside = {"pagerduty-production", "slack-oncall"}  # the route's and the service's
    attempts = wait_until(
        lambda: (found := deliveries(checkout)) and {"log", *outside} <= {
            str(item["channel"]) for item in found} and found,
        timeout=START_TIMEOUT, what=lambda: f"log, PagerDuty and Slack attempts; its log:\n"
                                            f"{run.log()}")
    for item in attempts:
        if item["channel"] == "log":
            assert item["outcome"] == "delivered"
        else:
            assert (item["outcome"], item["status_code"], item["error"]) == (
                "skipped", None,
                f"channel {item['channel']!r} is disabled (enabled: false): nothing sent")
    assert "retrying" not in run.log()
    page = next(line for line in run.log().splitlines() if "router.notify.log" in line)
    assert 'trigger INC1 critical \\"[CRITICAL] INC1: Disk full\\" to channel:log' in page
