"""A responder's round in a real browser (issue 22 phase 2a): Debian's headless chromium,
driven by Selenium, against the daemon started as a subprocess, logging in as the users the
config declares. Log in, see an incident arrive without a reload, acknowledge it (and see
its escalation stop in the JSON API), silence it from its page, log out; a `read` user's
Acknowledge is disabled and refused by the server; a form without its CSRF token is
refused.

`ROUTER_SCREENSHOTS=docs/ui` saves the main pages at a phone's and a desktop's width into
that directory (docs/ui.md shows them); without it nothing is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By

from router.config.passwords import hash_password
from tests.e2e.conftest import CONFIG, Daemon, StartDaemon, incident_ids, wait_until
from tests.e2e.test_browser import _chromium, _rows, pytestmark  # noqa: F401 (skip mark)

ESCALATE_AFTER = 15  # seconds at level 1 before level 2 is paged: time to acknowledge
USERS = """
users:
  - {{name: ann, role: respond, password_hash: "{ann}"}}
  - {{name: rob, role: read, password_hash: "{rob}"}}
"""
SIZES = {"phone": "390,844", "desktop": "1280,900"}


@pytest.fixture(scope="module")
def users_config() -> str:
    hashes = {name: hash_password(f"{name}-password") for name in ("ann", "rob")}
    config = CONFIG.replace("delay: 15m}", f"delay: {ESCALATE_AFTER}s}}", 1)
    return config + USERS.format(**hashes)


@pytest.fixture
def web_daemon(start_daemon: StartDaemon, users_config: str) -> Daemon:
    return start_daemon(users_config)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = _chromium(tmp_path / "chromium")
    try:
        yield driver
    finally:
        driver.quit()


def _log_in(browser: Any, daemon: Daemon, user: str, page: str = "/ui/incidents") -> None:
    browser.get(f"{daemon.base_url}{page}")
    wait_until(lambda: "/ui/login?next=" in browser.current_url, timeout=10,
               what=lambda: f"the login page; at {browser.current_url}")
    browser.find_element(By.ID, "user").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(f"{user}-password")
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait_until(lambda: browser.current_url == f"{daemon.base_url}{page}", timeout=10,
               what=lambda: f"{page} after logging in; at {browser.current_url}")


def _alert(daemon: Daemon, name: str) -> str:
    with daemon.client() as client:
        [incident] = incident_ids(client.post("/v1/alerts", json={
            "summary": f"{name} failing", "severity": "critical", "service": "api",
            "labels": {"alertname": name, "instance": "db1"}}))
    assert incident is not None
    return incident


def _incident(daemon: Daemon, incident: str) -> dict[str, Any]:
    with daemon.client() as client:
        answer = client.get(f"/v1/incidents/{incident}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["incident"]
    found["actions"] = [entry["action"] for entry in answer.json()["timeline"]]
    return found


def _main(browser: Any) -> str:
    """The page's main text; "" while the browser is between pages."""
    try:
        text: str = browser.find_element(By.TAG_NAME, "main").text
    except (StaleElementReferenceException, NoSuchElementException):
        return ""
    return text


def _screenshots(browser: Any, name: str) -> None:
    """The page now at each width, when ROUTER_SCREENSHOTS names a directory."""
    folder = os.environ.get("ROUTER_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for size, dimensions in SIZES.items():
        width, height = (int(part) for part in dimensions.split(","))
        browser.set_window_size(width, height)
        time.sleep(0.2)  # the layout settles after a resize
        browser.save_screenshot(str(Path(folder) / f"{name}-{size}.png"))
    browser.set_window_size(*(int(part) for part in SIZES["desktop"].split(",")))


def test_log_in_acknowledge_silence_and_log_out(browser: Any, web_daemon: Daemon) -> None:
    daemon = web_daemon
    _log_in(browser, daemon, "ann")
    assert "ann (respond)" in browser.find_element(By.TAG_NAME, "header").text
    browser.execute_script("window.notReloaded = true")
    incident, control = _alert(daemon, "CheckoutDown"), _alert(daemon, "QueueStuck")
    wait_until(lambda: incident in _rows(browser), timeout=15,
               what=lambda: f"{incident} on the page; it shows {_rows(browser)}")
    assert browser.execute_script("return window.notReloaded") is True
    _screenshots(browser, "incidents")
    browser.find_element(By.LINK_TEXT, incident).click()
    wait_until(lambda: browser.current_url.endswith(f"/ui/incidents/{incident}"),
               timeout=10, what="the incident's page")
    browser.find_element(By.NAME, "acknowledge").click()
    wait_until(lambda: f"{incident} is acknowledged." in _main(browser), timeout=10,
               what=lambda: f"the acknowledgement; the page says {_main(browser)[:300]}")
    _screenshots(browser, "incident")
    acknowledged = _incident(daemon, incident)
    assert (acknowledged["state"], acknowledged["acknowledged_by"]) == (
        "acknowledged", "web:ann")
    # The unacknowledged control escalates to level 2; the acknowledged one stays put.
    wait_until(lambda: _incident(daemon, control)["level"] == 2, timeout=ESCALATE_AFTER + 15,
               what=f"{control} escalating")
    assert (_incident(daemon, incident)["level"], _incident(daemon, control)["level"]) == (
        1, 2)
    assert "escalated" not in _incident(daemon, incident)["actions"]

    browser.find_element(By.LINK_TEXT, "Silence…").click()
    matchers = browser.find_element(By.ID, "matchers").get_attribute("value")
    assert 'alertname="CheckoutDown"' in matchers and 'instance="db1"' in matchers
    browser.find_element(By.ID, "comment").send_keys("fixing checkout")
    browser.find_element(By.NAME, "preview").click()
    wait_until(lambda: "Would cover 1 open incident" in _main(browser), timeout=10,
               what=lambda: f"the preview; the page says {_main(browser)[:300]}")
    assert f"{incident} CheckoutDown failing" in _main(browser)
    _screenshots(browser, "silence-preview")
    browser.find_element(By.NAME, "confirm").click()
    wait_until(lambda: browser.current_url.endswith("/ui/silences"), timeout=10,
               what="the silences page")
    with daemon.client() as client:
        [silence] = client.get("/v1/silences").json()["silences"]
    assert (silence["created_by"], silence["reason"]) == ("ann", "fixing checkout")
    assert f"Silence {silence['id']} added." in _main(browser)

    browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
    wait_until(lambda: browser.current_url.endswith("/ui/login"), timeout=10,
               what="the login page after logging out")
    assert "Logged out." in _main(browser)
    browser.get(f"{daemon.base_url}/ui/incidents")
    assert "/ui/login?next=" in browser.current_url


def test_a_read_user_cannot_acknowledge(browser: Any, web_daemon: Daemon) -> None:
    incident = _alert(web_daemon, "DiskFull")
    _log_in(browser, web_daemon, "rob", f"/ui/incidents/{incident}")
    button = browser.find_element(By.NAME, "acknowledge")
    assert button.get_attribute("disabled") is not None
    browser.execute_script("arguments[0].disabled = false", button)  # as a crafted post
    button.click()
    wait_until(lambda: "Not allowed" in _main(browser), timeout=10,
               what=lambda: f"the refusal; the page says {_main(browser)[:300]}")
    assert "rob (read) may not do this" in _main(browser)
    assert _incident(web_daemon, incident)["state"] == "triggered"


def test_a_form_without_its_csrf_token_is_refused(browser: Any, web_daemon: Daemon) -> None:
    incident = _alert(web_daemon, "DiskFull")
    _log_in(browser, web_daemon, "ann", f"/ui/incidents/{incident}")
    browser.execute_script(
        "document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    browser.find_element(By.NAME, "acknowledge").click()
    wait_until(lambda: "Form refused" in _main(browser), timeout=10,
               what=lambda: f"the refusal; the page says {_main(browser)[:300]}")
    assert _incident(web_daemon, incident)["state"] == "triggered"
