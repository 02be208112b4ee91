"""The dead-letters page and its Retry handler (room: web).

`GET /ui/dead-letters` lists the notifications the deliverer gave up on, the latest first:
where each was going, how many attempts it had and why the last failed, with a Retry form
posting to `/ui/dead-letters/{id}/retry`, whose handler is `retry_dead_letter` below
(engine/dead_letters.py says what a retry does).
"""

from __future__ import annotations

from router.engine import Engine, dead_letters
from router.engine.dead_letters import DeadLetter
from router.server.routes import Handler, Request, Response
from router.web.fields import Refused, attempt
from router.web.render import Renderer

SHOWN = 100
"""The page shows at most this many (the latest), so it stays under 100 KB (issue 22 item
5); `router deliveries --failed` has all."""


async def retry_dead_letter(engine: Engine, user_name: str, notification_id: str
                            ) -> DeadLetter | Refused:
    """The Retry form of one dead letter: pending again, due now, retried by `user_name`."""
    return await attempt(dead_letters.retry(engine, notification_id.strip(), user_name))


class DeadLetterPages:
    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/ui/dead-letters", self.listing)]

    async def listing(self, request: Request) -> Response:
        found = await dead_letters.dead_letters(self.engine, SHOWN + 1)
        return self.renderer.page("deadletters.html", letters=found[:SHOWN],
                                  more=len(found) > SHOWN, shown=SHOWN)
