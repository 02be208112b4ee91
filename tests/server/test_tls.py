"""server/tls.py and the HTTPS side of server/http.py, over real loopback sockets with
certificates from throwaway trustme CAs: the client's check stays on in every test."""

from __future__ import annotations

import logging
import ssl
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
import trustme

from router.server.http import Limits, Request, Response, Routes, open_listeners, serve_listeners
from router.server.tls import (
    PLAIN_HTTP_ANSWER,
    Certificates,
    TlsFiles,
    TlsFilesInvalid,
    build_context,
)
from tests.server.support import trusting

LIMITS = Limits(header_timeout=timedelta(seconds=10), grace=timedelta(seconds=1))


def routes() -> Routes:
    async def echo(request: Request) -> Response:
        return Response.json(202, {"body": request.body.decode()})

    table = Routes()
    table.add("POST", "/echo", echo)
    return table


def write_pair(ca: trustme.CA, directory: Path, name: str = "server") -> TlsFiles:
    """A certificate for 127.0.0.1 and localhost from `ca`, and its key, as PEM files."""
    issued = ca.issue_cert("127.0.0.1", "localhost")
    directory.mkdir(parents=True, exist_ok=True)
    certificate, key = directory / f"{name}.pem", directory / f"{name}.key"
    issued.private_key_pem.write_to_path(str(key))
    for blob in issued.cert_chain_pems:
        blob.write_to_path(str(certificate), append=True)
    return TlsFiles(certificate=certificate, key=key)


async def serve(nursery: trio.Nursery, certificates: Certificates,
                limits: Limits = LIMITS) -> int:
    listeners = await open_listeners("127.0.0.1", 0)
    await nursery.start(partial(serve_listeners, routes(), listeners, limits=limits,
                                tls=certificates.current))
    port: int = listeners[0].socket.getsockname()[1]
    return port


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def files(ca: trustme.CA, tmp_path: Path) -> TlsFiles:
    return write_pair(ca, tmp_path)


def reasons(error: BaseException | None) -> str:
    """Every message down an exception's chain of causes (httpx's own is often empty)."""
    found = []
    while error is not None:
        found.append(str(error))
        error = error.__cause__ or error.__context__
    return " / ".join(found)


async def post(port: int, verify: ssl.SSLContext) -> httpx.Response:
    """POST /echo with no body: a request that fails mid-body leaves httpx's body iterator
    unfinished, which warns (and warnings are errors here)."""
    async with httpx.AsyncClient(verify=verify, trust_env=False, timeout=10) as client:
        return await client.post(f"https://127.0.0.1:{port}/echo")


async def test_a_client_trusting_the_ca_is_answered_over_https(
        nursery: trio.Nursery, ca: trustme.CA, files: TlsFiles) -> None:
    port = await serve(nursery, Certificates(build_context(files), files))
    response = await post(port, trusting(ca))
    assert (response.status_code, response.json()) == (202, {"body": ""})
    assert response.http_version == "HTTP/1.1"


async def test_a_client_that_does_not_trust_the_ca_fails_and_the_server_goes_on(
        nursery: trio.Nursery, ca: trustme.CA, files: TlsFiles,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "router.server")
    port = await serve(nursery, Certificates(build_context(files), files))
    with pytest.raises(httpx.ConnectError) as refused:
        await post(port, trusting(trustme.CA()))
    assert "CERTIFICATE_VERIFY_FAILED" in reasons(refused.value)
    assert (await post(port, trusting(ca))).status_code == 202
    failures = [record for record in caplog.records if "handshake" in record.message]
    assert failures and all(record.exc_info is None for record in failures), failures
    assert all(record.levelno <= logging.INFO for record in failures)


async def test_plain_http_to_the_tls_port_is_refused_in_plain_http(
        nursery: trio.Nursery, ca: trustme.CA, files: TlsFiles,
        caplog: pytest.LogCaptureFixture) -> None:
    statuses: list[int] = []
    listeners = await open_listeners("127.0.0.1", 0)
    certificates = Certificates(build_context(files), files)
    await nursery.start(partial(serve_listeners, routes(), listeners, limits=LIMITS,
                                tls=certificates.current, on_response=statuses.append))
    port = listeners[0].socket.getsockname()[1]
    caplog.set_level(logging.INFO, "router.server")
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        plain = await client.post(f"http://127.0.0.1:{port}/echo", content="ping")
    assert plain.status_code == 400
    assert plain.json() == {
        "error": "this port speaks HTTPS: send the request to https:// instead"}
    assert statuses == [400]
    assert "TLS handshake failed: the client spoke plain HTTP (answered 400)" in caplog.messages
    assert not any(record.exc_info for record in caplog.records)
    assert (await post(port, trusting(ca))).status_code == 202  # the server is unharmed


async def test_garbage_and_silence_end_only_their_own_connection(
        nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, ca: trustme.CA,
        files: TlsFiles, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "router.server")
    port = await serve(nursery, Certificates(build_context(files), files))
    async with await trio.open_tcp_stream("127.0.0.1", port) as garbage:
        await garbage.send_all(b"\x16\x03\x01\x00\x05hello" * 3)
        assert await garbage.receive_some() == b""  # closed, not answered
    await (await trio.open_tcp_stream("127.0.0.1", port)).aclose()  # a health check
    await trio.sleep(1)
    assert [(record.levelname, record.message) for record in caplog.records] == [
        ("INFO", "TLS handshake failed: unexpected message"),
        ("DEBUG", "TLS handshake failed: the client closed the connection")]
    async with await trio.open_tcp_stream("127.0.0.1", port) as silent:
        started = trio.current_time()
        assert await silent.receive_some() == b""  # dropped at header_timeout
        assert trio.current_time() - started == pytest.approx(10, abs=1)
    assert PLAIN_HTTP_ANSWER.startswith(b"HTTP/1.1 400 ")


async def test_a_reload_serves_new_connections_with_the_new_certificate(
        nursery: trio.Nursery, ca: trustme.CA, files: TlsFiles, tmp_path: Path) -> None:
    certificates = Certificates(build_context(files), files)
    port = await serve(nursery, certificates)
    old_client = httpx.AsyncClient(verify=trusting(ca), trust_env=False, timeout=10)
    async with old_client:
        assert (await old_client.post(f"https://127.0.0.1:{port}/echo")).status_code == 202
        new_ca = trustme.CA()
        new_files = write_pair(new_ca, tmp_path / "new")
        certificates.use(build_context(new_files), new_files)
        # The open keep-alive connection keeps the certificate it began with ...
        assert (await old_client.post(f"https://127.0.0.1:{port}/echo")).status_code == 202
    # ... and a new one gets the new certificate: only its CA is trusted now.
    assert (await post(port, trusting(new_ca))).status_code == 202
    with pytest.raises(httpx.ConnectError) as refused:
        await post(port, trusting(ca))
    assert "CERTIFICATE_VERIFY_FAILED" in reasons(refused.value)


async def test_a_required_client_certificate(
        nursery: trio.Nursery, ca: trustme.CA, files: TlsFiles, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    senders = trustme.CA()
    senders.cert_pem.write_to_path(str(tmp_path / "senders.pem"))
    required = TlsFiles(certificate=files.certificate, key=files.key,
                        client_ca=tmp_path / "senders.pem", client_certificates="required")
    context = build_context(required)
    # Only client_ca vouches for senders, never the system's CAs.
    assert context.cert_store_stats() == {"x509": 1, "crl": 0, "x509_ca": 1}
    port = await serve(nursery, Certificates(context, required))
    caplog.set_level(logging.INFO, "router.server")
    with pytest.raises(httpx.TransportError):
        await post(port, trusting(ca))  # no certificate
    assert any("TLS handshake failed: peer did not return a certificate" in message
               for message in caplog.messages), caplog.messages
    with pytest.raises(httpx.TransportError):  # one from another CA
        await post(port, trusting(ca, trustme.CA().issue_cert("prometheus")))
    response = await post(port, trusting(ca, senders.issue_cert("prometheus")))
    assert response.status_code == 202


async def test_an_optional_client_certificate(
        nursery: trio.Nursery, ca: trustme.CA, files: TlsFiles, tmp_path: Path) -> None:
    senders = trustme.CA()
    senders.cert_pem.write_to_path(str(tmp_path / "senders.pem"))
    optional = TlsFiles(certificate=files.certificate, key=files.key,
                        client_ca=tmp_path / "senders.pem", client_certificates="optional")
    port = await serve(nursery, Certificates(build_context(optional), optional))
    assert (await post(port, trusting(ca))).status_code == 202
    assert (await post(port, trusting(ca, senders.issue_cert("grafana")))).status_code == 202
    with pytest.raises(httpx.TransportError):  # one that is sent must be valid
        await post(port, trusting(ca, trustme.CA().issue_cert("grafana")))


async def test_shutdown_closes_an_idle_tls_connection_at_once(
        ca: trustme.CA, files: TlsFiles) -> None:
    shutdown = trio.Event()
    certificates = Certificates(build_context(files), files)
    listeners = await open_listeners("127.0.0.1", 0)
    port = listeners[0].socket.getsockname()[1]
    limits = Limits(grace=timedelta(seconds=30))
    async with httpx.AsyncClient(verify=trusting(ca), trust_env=False) as client:
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(serve_listeners, routes(), listeners, limits=limits,
                                        tls=certificates.current, shutdown=shutdown))
            assert (await client.post(f"https://127.0.0.1:{port}/echo")).status_code == 202
            shutdown.set()  # the client's idle keep-alive connection must not hold it open
            started = trio.current_time()
        assert trio.current_time() - started < 5  # the server returned, well within grace


def test_broken_files_are_named(ca: trustme.CA, files: TlsFiles, tmp_path: Path) -> None:
    other = write_pair(trustme.CA(), tmp_path / "other")
    (tmp_path / "junk.pem").write_text("not a certificate")
    cases = {
        TlsFiles(certificate=files.certificate, key=other.key):
            f"{files.certificate}: tls: the certificate and key ({files.certificate}, "
            f"{other.key}) do not load: key values mismatch",
        TlsFiles(certificate=tmp_path / "gone.pem", key=files.key):
            f"{tmp_path / 'gone.pem'}: tls: the certificate and key ({tmp_path / 'gone.pem'}, "
            f"{files.key}) do not load: No such file or directory",
        TlsFiles(certificate=files.certificate, key=files.key,
                 client_ca=tmp_path / "junk.pem", client_certificates="required"):
            f"{tmp_path / 'junk.pem'}: tls.client_ca: the client CA does not load: "
            "no certificate or crl found",
    }
    for broken, message in cases.items():
        with pytest.raises(TlsFilesInvalid) as raised:
            build_context(broken)
        assert str(raised.value) == message


async def test_an_oversized_body_gets_its_413_over_tls(
        nursery: trio.Nursery, ca: trustme.CA, files: TlsFiles,
        caplog: pytest.LogCaptureFixture) -> None:
    """The lingering close after a 413 half-closes TCP under TLS, without an error."""
    limits = Limits(max_body_bytes=1000, header_timeout=timedelta(seconds=10))
    port = await serve(nursery, Certificates(build_context(files), files), limits)
    tcp = await trio.open_tcp_stream("127.0.0.1", port)
    # https_compatible: a known-length answer needs no close_notify (RFC 9110 9.8).
    stream = trio.SSLStream(tcp, trusting(ca), server_hostname="127.0.0.1",
                            https_compatible=True)
    async with stream:
        await stream.send_all(b"POST /echo HTTP/1.1\r\nHost: test\r\n"
                              b"Content-Length: 5000\r\n\r\n" + b"x" * 5000)
        answer = b""
        with trio.fail_after(10):
            while b"\r\n\r\n" not in answer:
                answer += await stream.receive_some()
        assert await stream.receive_some() == b""  # closed once the linger ended
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert [record.message for record in caplog.records if record.levelno >= logging.ERROR
            ] == []
