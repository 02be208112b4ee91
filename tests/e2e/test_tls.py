"""`router run --tls-cert/--tls-key` and `settings.tls` end to end: the daemon as a
subprocess serving HTTPS with certificates from throwaway trustme CAs, clients that check
them (httpx, and PagerDuty's own Python client, which refuses http:// URLs), the
certificate renewed on SIGHUP, and client certificates.

SQLite only (`sqlite_only`): these are about the listener's TLS, not about the store."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pagerduty
import pytest
import trustme

from tests.e2e.conftest import CONFIG, ROUTING_KEY, Daemon, StartDaemon, incident_ids, wait_until
from tests.server.support import trusting

pytestmark = pytest.mark.sqlite_only

ALERT = {"summary": "Disk full", "severity": "critical",
         "labels": {"alertname": "DiskFull", "instance": "db1"}}
EVENT = {"routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": "disk/db1",
         "payload": {"summary": "Disk full on db1", "source": "db1", "severity": "critical"}}


def write_pair(ca: trustme.CA, certificate: Path, key: Path) -> None:
    """Write a certificate for 127.0.0.1 from `ca` and its key, each by a rename, as a
    renewal tool does, so a reload never reads half a file."""
    issued = ca.issue_cert("127.0.0.1", "localhost")
    for path, blobs in ((key, [issued.private_key_pem]), (certificate, issued.cert_chain_pems)):
        partial = path.with_suffix(".new")
        partial.write_bytes(b"".join(blob.bytes() for blob in blobs))
        os.replace(partial, path)


def https(daemon: Daemon, verify: ssl.SSLContext) -> httpx.Client:
    """A client over https with the daemon's admin token, as `Daemon.client` sends it."""
    return httpx.Client(base_url=f"https://127.0.0.1:{daemon.port}", verify=verify,
                        headers={"authorization": f"Bearer {daemon.admin_token}"},
                        timeout=10.0, trust_env=False)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_daemon(start_daemon: StartDaemon, ca: trustme.CA, tmp_path: Path) -> Daemon:
    """A daemon on the e2e CONFIG, started with --tls-cert/--tls-key from `ca`."""
    certificate, key = tmp_path / "router.pem", tmp_path / "router.key"
    write_pair(ca, certificate, key)
    return start_daemon(arguments=["--tls-cert", str(certificate), "--tls-key", str(key)])


def test_alerts_and_events_over_https(tls_daemon: Daemon, ca: trustme.CA) -> None:
    assert f"listening on https://127.0.0.1:{tls_daemon.port}" in tls_daemon.log()
    assert "TLS is on but settings.public_url is http://127.0.0.1:9080" in tls_daemon.log()
    with https(tls_daemon, trusting(ca)) as client:
        assert len(incident_ids(client.post("/v1/alerts", json=ALERT))) == 1
        event = client.post("/v2/enqueue", json=EVENT)
        assert (event.status_code, event.json()["dedup_key"]) == (202, "disk/db1")
        keys = {item["dedup_key"] for item in client.get("/v1/incidents").json()["incidents"]}
        assert "disk/db1" in keys


def test_plain_http_to_the_tls_port_is_refused_and_the_daemon_goes_on(
        tls_daemon: Daemon, ca: trustme.CA) -> None:
    with tls_daemon.client() as plain:  # http://
        refused = plain.post("/v1/alerts", json=ALERT)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "this port speaks HTTPS: send the request to https:// instead"}
    with https(tls_daemon, trusting(ca)) as client:
        assert client.get("/healthz").status_code == 200
    assert "Traceback" not in tls_daemon.log()


def test_pagerdutys_own_client_sends_an_event_over_https(
        tls_daemon: Daemon, ca: trustme.CA) -> None:
    with pytest.raises(pagerduty.UrlError):  # why router must speak HTTPS for it
        pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=tls_daemon.base_url)
    with pagerduty.EventsApiV2Client(ROUTING_KEY, verify=trusting(ca),
                                     base_url=f"https://127.0.0.1:{tls_daemon.port}") as events:
        assert events.trigger("Replication lag on db2", "db2", dedup_key="lag/db2") == "lag/db2"
        assert events.acknowledge("lag/db2") == "lag/db2"
    with https(tls_daemon, trusting(ca)) as client:
        incidents = client.get("/v1/incidents").json()["incidents"]
    assert [(item["dedup_key"], item["state"]) for item in incidents] == [
        ("lag/db2", "acknowledged")]


def test_sighup_switches_to_a_renewed_certificate_and_keeps_it_over_a_broken_one(
        tls_daemon: Daemon, ca: trustme.CA, tmp_path: Path) -> None:
    renewed = trustme.CA()
    write_pair(renewed, tmp_path / "router.pem", tmp_path / "router.key")
    tls_daemon.send_signal(signal.SIGHUP)
    wait_until(lambda: "TLS certificate loaded" in tls_daemon.log(), timeout=10,
               what=lambda: f"the reload to load the new certificate; log:\n{tls_daemon.log()}")
    with https(tls_daemon, trusting(renewed)) as client:
        assert client.get("/healthz").status_code == 200
    with pytest.raises(httpx.ConnectError), https(tls_daemon, trusting(ca)) as client:
        client.get("/healthz")

    (tmp_path / "router.pem").write_text("half a certificate")
    tls_daemon.send_signal(signal.SIGHUP)
    wait_until(lambda: "config reload rejected" in tls_daemon.log(), timeout=10,
               what=lambda: f"the reload to be rejected; log:\n{tls_daemon.log()}")
    assert f"{tmp_path / 'router.pem'}: tls: the certificate and key" in tls_daemon.log()
    with https(tls_daemon, trusting(renewed)) as client:  # the renewed one stays in force
        assert client.get("/healthz").status_code == 200


def test_a_client_certificate_required_by_the_config(
        start_daemon: StartDaemon, ca: trustme.CA, tmp_path: Path) -> None:
    senders = trustme.CA()
    directory = tmp_path / "pems"
    directory.mkdir()
    write_pair(ca, directory / "router.pem", directory / "router.key")
    senders.cert_pem.write_to_path(str(directory / "senders.pem"))
    config = (f"settings:\n  public_url: https://127.0.0.1:9080\n  tls: {{cert: "
              f"{directory}/router.pem, key: {directory}/router.key, client_ca: "
              f"{directory}/senders.pem, client_certificates: required}}\n")
    daemon = start_daemon(config + CONFIG.replace("settings:\n  timezone: UTC\n", ""))
    assert "public_url" not in daemon.log()  # https public_url with TLS: no warning
    with pytest.raises(httpx.TransportError), https(daemon, trusting(ca)) as anonymous:
        anonymous.post("/v1/alerts", json=ALERT)
    with https(daemon, trusting(ca, senders.issue_cert("prometheus"))) as sender:
        assert len(incident_ids(sender.post("/v1/alerts", json=ALERT))) == 1


def run_router(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", "run", *arguments],
                          capture_output=True, text=True, timeout=30, check=False)


def test_the_flags_go_together_and_a_broken_pair_stops_the_start(
        ca: trustme.CA, tmp_path: Path) -> None:
    certificate, key = tmp_path / "router.pem", tmp_path / "router.key"
    write_pair(ca, certificate, key)
    alone = run_router("--tls-cert", str(certificate))
    assert (alone.returncode, alone.stderr) == (
        2, "router run: --tls-cert and --tls-key go together: give both or neither\n")
    write_pair(trustme.CA(), tmp_path / "other.pem", tmp_path / "other.key")
    config = tmp_path / "router.yaml"
    config.write_text("settings: {timezone: UTC}\n")
    mismatched = run_router("--config", str(config), "--state", str(tmp_path / "state"),
                            "--listen", "127.0.0.1:0", "--tls-cert", str(certificate),
                            "--tls-key", str(tmp_path / "other.key"))
    assert mismatched.returncode == 1
    assert mismatched.stderr.endswith(
        f"{certificate}: tls: the certificate and key ({certificate}, {tmp_path / 'other.key'})"
        " do not load: key values mismatch\nconfig invalid: 1 problem\n")


def test_an_https_public_url_without_tls_is_warned(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(CONFIG.replace(
        "timezone: UTC\n", "timezone: UTC\n  public_url: https://router.example.com\n", 1))
    assert ("settings.public_url is https://router.example.com but router serves plain "
            "HTTP: right only behind a proxy that terminates TLS") in daemon.log()


def router_reload(daemon: Daemon, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "router", "reload", "--state",
                           str(daemon.state_dir), *arguments],
                          capture_output=True, text=True, timeout=60, check=False)


def test_router_reload_speaks_https_trusting_the_served_certificate(
        tls_daemon: Daemon, ca: trustme.CA, tmp_path: Path) -> None:
    """`--listen https://...` with `--cacert` the served certificate (trusted as itself: no
    CA is needed); another certificate is refused, and plain HTTP gets the TLS port's 400."""
    listen = f"https://127.0.0.1:{tls_daemon.port}"
    done = router_reload(tls_daemon, "--listen", listen, "--cacert",
                         str(tmp_path / "router.pem"))
    assert (done.returncode, done.stdout.startswith("reloaded: ")) == (0, True), done.stderr
    write_pair(trustme.CA(), tmp_path / "other.pem", tmp_path / "other.key")
    refused = router_reload(tls_daemon, "--listen", listen, "--cacert",
                            str(tmp_path / "other.pem"))
    assert refused.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    plain = router_reload(tls_daemon, "--listen", f"127.0.0.1:{tls_daemon.port}")
    assert plain.returncode == 1 and "answered 400" in plain.stderr


def test_router_reload_trusts_the_configs_certificate_by_default(
        start_daemon: StartDaemon, ca: trustme.CA, tmp_path: Path) -> None:
    write_pair(ca, tmp_path / "router.pem", tmp_path / "router.key")
    config = (f"settings:\n  public_url: https://127.0.0.1:9080\n  tls: {{cert: "
              f"{tmp_path}/router.pem, key: {tmp_path}/router.key}}\n")
    daemon = start_daemon(config + CONFIG.replace("settings:\n  timezone: UTC\n", ""))
    done = router_reload(daemon, "--config", str(daemon.config_dir), "--listen",
                         f"https://127.0.0.1:{daemon.port}")
    assert (done.returncode, done.stdout.startswith("reloaded: ")) == (0, True), done.stderr
