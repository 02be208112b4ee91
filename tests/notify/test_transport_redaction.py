"""The transport's error texts and the webhook's target show no URL secret (issue 13,
item 4), through a real httpx client: the reason goes to the log, the delivery log,
`router deliveries` and `/v1/deliveries`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from router.notify import webhook
from router.notify.transport import Transport
from router.notify.wire import HttpRequest


@pytest.mark.parametrize(("url", "reason"), [
    ("htp//ops:hunter2@example.com/hook?key=hunter2",
     "htp//example.com/hook: UnsupportedProtocol: Request URL is missing an 'http://' or "
     "'https://' protocol."),
    ("htp://ops:hunter2@example.com/x?key=hunter2",
     "htp://example.com/x: UnsupportedProtocol: Request URL has an unsupported protocol "
     "'htp://'."),
    ("http://ops:hunter2@127.0.0.1:1/x?key=hunter2",
     "http://127.0.0.1:1/x: cannot connect: all attempts to connect to 127.0.0.1:1 failed"),
])
async def test_a_failed_send_names_the_url_without_its_secrets(url: str, reason: str) -> None:
    transport = Transport()
    try:
        sent = await transport.send(HttpRequest(
            method="POST", url=url, body=b"{}", target=webhook.display_url(url), headers={},
            timeout=timedelta(seconds=5)))
    finally:
        await transport.aclose()
    assert sent.outcome is not None
    assert (sent.outcome.kind, sent.outcome.reason) == ("retry", reason)
