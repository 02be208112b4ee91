"""The only I/O of delivery (room: notify.transport; imports notify.wire, notify.smtp, errors).

Performs one Request and reports what came back: a Response for the channel module to
classify, or, when no answer came at all, an Outcome saying why. Every way a send can fail
without an answer (refused connection, a name that does not resolve, a timeout, a dropped
connection, a TLS failure) is worth trying again: the receiver may be back before the
notification's deadline, and giving up early loses a page.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from dataclasses import dataclass

import httpx
import trio

from router.errors import Outcome
from router.notify import smtp
from router.notify.wire import (
    HttpRequest,
    HttpResponse,
    LogLine,
    Request,
    Response,
    SmtpMessage,
    SmtpReply,
)
from router.redaction import redact_urls

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

    async def aclose(self) -> None:
        await self._client.aclose()

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
        except _NoAnswer as no_answer:
            return Sent(None, Outcome.retry(str(no_answer)), _since(started))
        return Sent(response, None, _since(started))

    async def _http(self, request: HttpRequest) -> HttpResponse:
        seconds = request.timeout.total_seconds()
        try:
            answer = await self._client.request(
                request.method, request.url, content=request.body,
                headers=dict(request.headers), timeout=seconds)
        except httpx.TimeoutException:
            raise _NoAnswer(f"{request.target}: no answer within {seconds:g}s") from None
        except httpx.ConnectError as error:
            raise _NoAnswer(f"{request.target}: cannot connect: {_words(error)}") from None
        except (httpx.TransportError, httpx.InvalidURL) as error:
            raise _NoAnswer(f"{request.target}: {type(error).__name__}: {_words(error)}"
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
            raise _NoAnswer(f"{request.target}: no answer within {seconds:g}s") from None
        except ssl.SSLError as error:
            raise _NoAnswer(f"{request.target}: TLS failed: {_words(error)}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise _NoAnswer(f"{request.target}: {type(error).__name__}: {_words(error)}"
                            ) from None

    def _log(self, request: LogLine) -> None:
        channel_logger.log(_LOG_LEVELS[request.level], "%s", request.text)


class _NoAnswer(Exception):
    """No response came back; the message says why, with any URL in it shown without its
    user info and query (an exception's text may quote the URL it failed on)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact_urls(message))


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _words(error: BaseException) -> str:
    return str(error) or type(error).__name__
