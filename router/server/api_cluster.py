"""`GET /v1/cluster` (room: server; imports engine): the routers that share this one's store,
each with its host, pid, start, config revision, last beat, state (up or down) and the work
it holds, and which of them answered (issue 18 D5; engine/cluster.py). Read scope: it shows
host names and process ids, no secret.
"""

from __future__ import annotations

from router.engine import Engine
from router.engine.cluster import cluster_json
from router.server.routes import Request, Response


class ClusterApi:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def show(self, request: Request) -> Response:
        return Response.json(200, cluster_json(await self.engine.cluster.view()))
