"""The web interface in a real browser: Debian's chromium, headless, driven by Selenium
through Debian's /usr/bin/chromedriver (nothing is downloaded at run time), against the
daemon started as a subprocess (conftest.py).

Until logins come (issue 22's second phase) the pages need a read token as the JSON API
does; the browser sends the daemon's admin token as a header set through the DevTools
protocol, as a reverse proxy adding `Authorization` would.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from router.redaction import display_url
from tests.e2e.conftest import Daemon, incident_ids, wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
MISSING = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]

if MISSING and os.environ.get("CI"):  # .ci/run installs them: never skip there
    raise RuntimeError(f"{' and '.join(MISSING)} missing in CI (.ci/run installs them)")
pytestmark = pytest.mark.skipif(
    bool(MISSING), reason=f"{' and '.join(MISSING)} missing: apt-get install chromium "
                          "chromium-driver (.ci/run installs them)")


def _chromium(profile: Path, size: str = "1280,900", *, javascript: bool = True) -> Any:
    """Headless chromium through the system's chromedriver."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--disable-gpu", f"--window-size={size}",
                     f"--user-data-dir={profile}", "--no-first-run"):
        options.add_argument(argument)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # chromium refuses to run as root without it
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    driver = _chromium(tmp_path / "chromium")
    try:
        yield driver
    finally:
        driver.quit()


def _send_token(browser: Any, daemon: Daemon) -> None:
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {
        "headers": {"Authorization": f"Bearer {daemon.admin_token}"}})


def _rows(browser: Any) -> list[str]:
    return [row.get_attribute("id") for row in
            browser.find_elements(By.CSS_SELECTOR, "table.incidents tbody tr[id]")]


def test_a_new_incident_appears_without_a_reload_and_opens(browser: Any, daemon: Daemon
                                                           ) -> None:
    _send_token(browser, daemon)
    browser.get(f"{daemon.base_url}/")
    assert browser.current_url == f"{daemon.base_url}/ui/incidents"
    assert _rows(browser) == []
    browser.execute_script("window.notReloaded = true")  # gone if the page loads again
    with daemon.client() as client:
        answer = client.post("/v1/alerts", json={
            "summary": "Checkout <b>down</b>", "severity": "critical",
            "labels": {"alertname": "CheckoutDown"}, "service": "api"})
        [incident] = incident_ids(answer)
    wait_until(lambda: _rows(browser) == [incident], timeout=15,
               what=lambda: f"{incident} on the page; it shows {_rows(browser)}")
    assert browser.execute_script("return window.notReloaded") is True
    browser.find_element(By.LINK_TEXT, incident).click()
    wait_until(lambda: browser.current_url.endswith(f"/ui/incidents/{incident}"), timeout=10,
               what="the incident's page")
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == f"{incident}: Checkout <b>down</b>"  # shown as text, not markup
    assert "alertname=CheckoutDown" in browser.find_element(By.TAG_NAME, "main").text


def test_the_pages_read_fine_with_javascript_off(tmp_path: Path, daemon: Daemon) -> None:
    driver = _chromium(tmp_path / "chromium", "390,844", javascript=False)  # a phone
    try:
        _send_token(driver, daemon)
        with daemon.client() as client:
            answer = client.post("/v1/alerts", json={"summary": "Disk full",
                                                     "labels": {"alertname": "DiskFull"}})
            [incident] = incident_ids(answer)
        driver.get(f"{daemon.base_url}/ui/incidents")
        assert _rows(driver) == [incident]
        driver.find_element(By.NAME, "state").send_keys("all")
        driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
        wait_until(lambda: "state=all" in driver.current_url, timeout=10,
                   what="the filter form's plain GET")
        assert _rows(driver) == [incident]
        driver.get(f"{daemon.base_url}/ui/status")
        status = driver.find_element(By.TAG_NAME, "main").text
        store = (str(daemon.state_dir / "router.db") if daemon.store_url is None
                 else display_url(daemon.store_url))  # a URL without its user
        for shown in ("Config revision", str(daemon.config_dir / "router.yaml"), store,
                      daemon.base_url,
                      f"unix:{daemon.socket_path}"):
            assert shown in status, status
    finally:
        driver.quit()
