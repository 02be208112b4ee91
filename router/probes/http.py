"""An HTTP GET (room: probes) through the notify transport's client, the one HTTP client
router has: no second HTTP stack. It awaits, so it runs on the event loop, not a thread;
the transport holds it to the check's timeout."""

from __future__ import annotations

from router.config.model import Check
from router.core.checks import CheckStatus, Reading
from router.notify.transport import Transport
from router.notify.wire import HttpRequest
from router.redaction import display_url


async def fetch(check: Check, transport: Transport) -> Reading:
    """Critical when no answer comes or its status is not the expected one; else the time
    to answer in milliseconds, graded by the thresholds."""
    target = display_url(check.url)
    sent = await transport.send(HttpRequest(method="GET", url=check.url, body=b"",
                                            target=target, timeout=check.timeout))
    if sent.outcome is not None or sent.status_code is None:
        reason = sent.outcome.reason if sent.outcome is not None else "no answer"
        return Reading(status=CheckStatus.CRITICAL, message=reason)
    metrics = {"status_code": float(sent.status_code),
               "response_ms": round(sent.latency_ms, 2)}
    if sent.status_code != check.expected_status:
        return Reading(metrics=metrics, status=CheckStatus.CRITICAL,
                       message=f"{target} answered {sent.status_code}, expected "
                               f"{check.expected_status}")
    return Reading(metrics=metrics, message=f"{target} answered {sent.status_code} in "
                                            f"{sent.latency_ms:.1f} ms")
