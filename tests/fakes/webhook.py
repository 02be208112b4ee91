"""A webhook receiver: real HTTP on 127.0.0.1 (tests.fakes), answering 200 `ok` to every
request at its path, like the SMS gateways and chat bridges a webhook channel feeds.

    receiver = await nursery.start(serve_fake_webhook)
    receiver.url                 # http://127.0.0.1:PORT/hook
    receiver.accepted            # requests answered 200, in order
    receiver.requests            # every request (tests.fakes.Received)
    receiver.answer_next(Answer(status=503, headers={"Retry-After": "7"}))
    receiver.answer_next(Answer(delay=30))     # hang 30 s, then answer

    # a receiver that checks signatures, answering 401 to a request that fails:
    receiver = await nursery.start(partial(serve_fake_webhook, verify=check))

`verify(request)` returns True for a request the receiver believes; the tests pass it the
check docs/channels.md gives receivers.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from tests.fakes import Answer, FakeService, Received, Reply, serve_fake

__all__ = ["Answer", "FakeWebhook", "serve_fake_webhook"]

Verify = Callable[[Received], bool]


class FakeWebhook(FakeService):
    path = "/hook"

    def __init__(self, verify: Verify | None = None) -> None:
        super().__init__()
        self.verify = verify
        self.accepted: list[Received] = []
        self.unverified: list[Received] = []

    def process(self, request: Received) -> Reply:
        if request.path.partition("?")[0] != self.path:
            return Reply.text(404, "not found")
        if request.method not in ("POST", "PUT"):
            return Reply.text(405, "method not allowed")
        if self.verify is not None and not self.verify(request):
            self.unverified.append(request)
            return Reply.text(401, "signature does not match")
        self.accepted.append(request)
        return Reply.text(200, "ok")


async def serve_fake_webhook(
        *, verify: Verify | None = None,
        task_status: trio.TaskStatus[FakeWebhook] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve a new FakeWebhook until cancelled; `nursery.start` returns it."""
    await serve_fake(FakeWebhook(verify), task_status=task_status)
