"""The job page's alert targets in a real browser (issue 22: "add and delete a job alert
target"): Debian's headless chromium, driven by Selenium, against the daemon started as a
subprocess. An admin adds a webhook target on the job's page (a bad URL first, refused
beside its field), sees it listed and in the JSON API as theirs, and deletes it.

`ROUTER_SCREENSHOTS=docs/ui` also saves the responder pages (a rota's week, a job, the
fatigue report) into that directory (docs/ui.md shows them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from router.config.passwords import hash_password
from tests.e2e.conftest import CONFIG, Daemon, StartDaemon, wait_until
from tests.e2e.test_browser import _chromium, pytestmark  # noqa: F401 (skip mark)
from tests.e2e.test_browser_flow import _alert, _log_in, _main, _screenshots

HOOK = "http://127.0.0.1:9/hooks"
"""The config's webhook channel, for webhook targets; and an email channel (to nowhere:
port 9) so that incidents page the on-call engineer and the fatigue report counts them."""
JOBS = """
jobs:
  - {id: backup, service: database, timeout: 2h, description: the nightly dump}
users:
  - {name: ann, role: admin, password_hash: "%s"}
"""


@pytest.fixture
def job_daemon(start_daemon: StartDaemon) -> Daemon:
    config = CONFIG.replace("  - {id: log, type: log}\n", "  - {id: log, type: log}\n"
                            f'  - {{id: hooks, type: webhook, url: "{HOOK}"}}\n'
                            "  - {id: mail, type: email, host: 127.0.0.1, port: 9, "
                            "from: router@example.com}\n", 1)
    daemon = start_daemon(config + JOBS % hash_password("ann-password"))
    with daemon.client() as client:
        answer = client.post("/v1/jobs/backup/runs", json={
            "run_id": "r1", "status": "succeeded", "exit_code": 0, "output": "dumped 3 GB"})
    assert answer.status_code < 300, answer.text
    return daemon


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = _chromium(tmp_path / "chromium")
    try:
        yield driver
    finally:
        driver.quit()


def _targets(daemon: Daemon) -> list[dict[str, Any]]:
    with daemon.client() as client:
        answer = client.get("/v1/jobs/backup/alerts")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["alerts"]
    return found


def _add(browser: Any, target: str) -> None:
    field = browser.find_element(By.NAME, "target")
    field.clear()
    field.send_keys(target)
    browser.find_element(By.CSS_SELECTOR, "form[action='/ui/jobs/backup/alerts'] button"
                         ).click()


def test_add_and_delete_a_job_alert_target(browser: Any, job_daemon: Daemon) -> None:
    daemon = job_daemon
    _log_in(browser, daemon, "ann", "/ui/jobs/backup")
    assert "No alert targets" in _main(browser)
    _add(browser, "ftp://nowhere")
    wait_until(lambda: browser.find_elements(By.ID, "error-target"), timeout=10,
               what=lambda: f"the error beside the URL; the page says {_main(browser)[:300]}")
    assert "expected an http:// or https:// URL" in browser.find_element(
        By.ID, "error-target").text
    assert _targets(daemon) == []

    _add(browser, "https://hooks.example.com/backup?token=s3cret")
    wait_until(lambda: "Alert target https://hooks.example.com/backup added." in
               _main(browser), timeout=10,
               what=lambda: f"the target added; the page says {_main(browser)[:300]}")
    [target] = _targets(daemon)
    assert (target["created_by"], target["on_failure"], target["on_timeout"]) == (
        "web:ann", True, True)
    row = browser.find_element(By.ID, f"target-{target['id']}")
    assert "https://hooks.example.com/backup" in row.text and "s3cret" not in row.text
    _screenshots(browser, "job")

    row.find_element(By.TAG_NAME, "button").click()
    wait_until(lambda: "Alert target https://hooks.example.com/backup deleted." in
               _main(browser), timeout=10,
               what=lambda: f"the target deleted; the page says {_main(browser)[:300]}")
    assert "No alert targets" in _main(browser)
    assert _targets(daemon) == []


def test_the_responder_pages_in_a_browser(browser: Any, job_daemon: Daemon) -> None:
    """The week, jobs and fatigue pages open and read (their screenshots for docs/ui.md)."""
    for name in ("CheckoutDown", "QueueStuck", "DiskFull"):
        _alert(job_daemon, name)
    _log_in(browser, job_daemon, "ann", "/ui/oncall/primary")
    assert "On-call Engineer" in _main(browser) or "on-call-engineer" in _main(browser)
    _screenshots(browser, "oncall-week")
    browser.get(f"{job_daemon.base_url}/ui/jobs")
    assert "backup" in _main(browser) and "r1" in _main(browser)

    def charted() -> bool:
        browser.get(f"{job_daemon.base_url}/ui/fatigue")
        return bool(browser.find_elements(By.CSS_SELECTOR, "main svg"))
    wait_until(charted, timeout=15, what=lambda: f"the pages chart; {_main(browser)[:300]}")
    assert "on-call-engineer" in _main(browser)
    _screenshots(browser, "fatigue")
