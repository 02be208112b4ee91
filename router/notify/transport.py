"""The I/O of delivery (room: notify.transport; imports notify.wire, notify.smtp,
notify.http_client, errors).

Performs one Request and reports what came back: a Response for the channel module to
classify, or, when no answer came at all, an Outcome saying why. Every way a send can fail
without an answer (refused connection, a name that does not resolve, a timeout, a dropped
connection, a TLS failure) is worth trying again: the receiver may be back before the
notification's deadline, and giving up early loses a page.

HTTPS goes through httpx. A plain `http://` URL without user info, when no proxy is set in
the environment, goes over notify/http_client.py's `PlainClient` (HTTP/1.1 on kept-alive
trio streams, answers parsed by httptools), a fraction of httpx's CPU per request (issue
15: at 1.8 ms of CPU a page, httpx alone let router page at most a few hundred alerts a
second on one core, its receivers usually being a relay or a webhook on the local network).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import trio

from router.errors import Outcome
from router.notify import smtp
from router.notify.http_client import NoAnswer, PlainClient, words
from router.notify.wire import (
    HttpRequest,
    HttpResponse,
    LogLine,
    Request,
    Response,
    SmtpMessage,
    SmtpReply,
)

_LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
               "error": logging.ERROR}
channel_logger = logging.getLogger("router.notify.log")


@dataclass(frozen=True, slots=True)
class Sent:
    """What one send came to: an answer to classify, or an outcome when there was none."""

    response: Response
    outcome: Outcome | None
    latency_ms: float

    @property
    def status_code(self) -> int | None:
        """The HTTP status, or the SMTP server's final reply code (250 when accepted)."""
        if isinstance(self.response, HttpResponse):
            return self.response.status
        if isinstance(self.response, SmtpReply):
            return self.response.code
        return None


class Transport:
    """Sends requests; one shared httpx client so connections to a receiver are reused."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        proxied = {"http", "all"} & set(urllib.request.getproxies())
        self._plain = None if client is not None or proxied else PlainClient()

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._plain is not None:
            await self._plain.aclose()

    async def send(self, request: Request) -> Sent:
        started = time.perf_counter()
        try:
            if isinstance(request, HttpRequest):
                response: Response = await self._http(request)
            elif isinstance(request, SmtpMessage):
                response = await self._smtp(request)
            else:
                self._log(request)
                response = None
        except NoAnswer as no_answer:
            return Sent(None, Outcome.retry(str(no_answer)), _since(started))
        return Sent(response, None, _since(started))

    async def _http(self, request: HttpRequest) -> HttpResponse:
        seconds = request.timeout.total_seconds()
        url = urlsplit(request.url)
        if self._plain is not None and self._plain.serves(url):
            with trio.move_on_after(seconds):
                return await self._plain.request(request, url)
            raise NoAnswer(f"{request.target}: no answer within {seconds:g}s")
        try:
            answer = await self._client.request(
                request.method, request.url, content=request.body,
                headers=dict(request.headers), timeout=seconds)
        except httpx.TimeoutException:
            raise NoAnswer(f"{request.target}: no answer within {seconds:g}s") from None
        except httpx.ConnectError as error:
            raise NoAnswer(f"{request.target}: cannot connect: {words(error)}") from None
        except (httpx.TransportError, httpx.InvalidURL) as error:
            raise NoAnswer(f"{request.target}: {type(error).__name__}: {words(error)}"
                            ) from None
        return HttpResponse(status=answer.status_code,
                            headers={name.lower(): value for name, value in answer.headers.items()},
                            body=answer.content)

    async def _smtp(self, request: SmtpMessage) -> Response:
        seconds = request.timeout.total_seconds()
        try:
            # smtplib blocks; the thread is abandoned on cancel so shutdown is never held up
            # by a hung mail server (its socket timeout ends the thread soon after).
            with trio.fail_after(seconds + 5):
                return await trio.to_thread.run_sync(smtp.send, request,
                                                     abandon_on_cancel=True)
        except trio.TooSlowError:
            raise NoAnswer(f"{request.target}: no answer within {seconds:g}s") from None
        except ssl.SSLError as error:
            raise NoAnswer(f"{request.target}: TLS failed: {words(error)}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise NoAnswer(f"{request.target}: {type(error).__name__}: {words(error)}"
                            ) from None

    def _log(self, request: LogLine) -> None:
        channel_logger.log(_LOG_LEVELS[request.level], "%s", request.text)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
