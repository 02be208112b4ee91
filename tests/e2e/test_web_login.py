"""The daemon's web logins over real HTTP (issue 22 phase 2a): a notification's incident link
lands on the login and then the page; the session key is made once in the state directory
(0600) and survives a restart; a reload that changes `settings.web.session_secret` logs
everyone out at once."""

from __future__ import annotations

import stat

import httpx
import pytest

from router.config.passwords import hash_password
from tests.e2e.conftest import CONFIG, Daemon, StartDaemon, incident_ids

USERS = """
users:
  - {{name: ann, role: respond, password_hash: "{ann}"}}
"""
HTML = {"accept": "text/html"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _login(daemon: Daemon, next_page: str) -> httpx.Response:
    with httpx.Client(base_url=daemon.base_url, trust_env=False, timeout=10) as client:
        return client.post("/ui/login", headers=FORM,
                           content=f"user=ann&password=ann-password&next={next_page}")


def _get(daemon: Daemon, path: str, cookie: str) -> httpx.Response:
    with httpx.Client(base_url=daemon.base_url, trust_env=False, timeout=10) as client:
        return client.get(path, headers={"cookie": cookie, **HTML})


# sqlite_only: it reads session.key in the state directory; on PostgreSQL the key is the
# store's (tests/e2e/test_ha_shared_keys.py: a login on one node holds on another)
@pytest.mark.sqlite_only
def test_a_link_lands_on_the_login_then_the_page_across_restart_and_reload(
        start_daemon: StartDaemon) -> None:
    daemon = start_daemon(CONFIG + USERS.format(ann=hash_password("ann-password")))
    with daemon.client() as client:
        [incident] = incident_ids(client.post("/v1/alerts", json={"summary": "Disk full"}))
    page = f"/ui/incidents/{incident}"  # links.incident_page: "View Details"
    with httpx.Client(base_url=daemon.base_url, trust_env=False, timeout=10) as browser:
        first = browser.get(page, headers=HTML)
    assert (first.status_code, first.headers["location"]) == (
        303, f"/ui/login?next=/ui/incidents/{incident}")
    login = _login(daemon, page)
    assert (login.status_code, login.headers["location"]) == (303, page)
    cookie = login.headers["set-cookie"].partition(";")[0]
    assert _get(daemon, page, cookie).status_code == 200
    key = daemon.state_dir / "session.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

    daemon.restart()  # the same key: still logged in
    assert _get(daemon, page, cookie).status_code == 200

    (daemon.config_dir / "session.secret").write_text("c0ffee" * 8 + "\n")
    config = daemon.config_dir / "router.yaml"
    config.write_text(config.read_text().replace(
        "settings:\n", 'settings:\n  web: {session_secret: "${file:session.secret}"}\n', 1))
    with daemon.client() as client:
        reloaded = client.post("/-/reload")
        assert reloaded.status_code == 200, reloaded.text
    after = _get(daemon, page, cookie)
    assert (after.status_code, after.headers["location"]) == (
        303, f"/ui/login?next=/ui/incidents/{incident}")
    again = _login(daemon, page).headers["set-cookie"].partition(";")[0]
    assert _get(daemon, page, again).status_code == 200
