"""The web interface's static files, served under content-hashed names (room: web).

A file's URL carries the first 12 hex digits of its SHA-256 (`/ui/static/style.3f2a....css`),
so a browser may keep it for a year (`immutable`): a changed file is a new URL. The files
are package data read once at start; there is no build step and nothing is fetched from
another host.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from router.server.routes import Request, Response

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"
PREFIX = "/ui/static/"


@dataclass(frozen=True, slots=True)
class _Asset:
    url: str
    body: bytes
    media_type: str


class Assets:
    """The static files by plain name (`style.css`) and by hashed URL."""

    def __init__(self) -> None:
        self._by_name: dict[str, _Asset] = {}
        self._by_url: dict[str, _Asset] = {}
        folder = resources.files(__package__ or "router.web") / "static"
        for entry in sorted(folder.iterdir(), key=lambda item: item.name):
            stem, dot, extension = entry.name.rpartition(".")
            if not dot or f".{extension}" not in _TYPES:
                continue  # the licence notes and the like are not served
            body = entry.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            asset = _Asset(f"{PREFIX}{stem}.{digest}.{extension}", body,
                           _TYPES[f".{extension}"])
            self._by_name[entry.name] = asset
            self._by_url[asset.url] = asset

    def url_for_static(self, name: str) -> str:
        """The hashed URL of `name` (templates call it); KeyError for an unknown file."""
        return self._by_name[name].url

    async def serve(self, request: Request) -> Response:
        asset = self._by_url.get(PREFIX + request.params["name"])
        if asset is None:
            return Response(404, b"no such file\n",
                            (("content-type", "text/plain; charset=utf-8"),))
        return Response(200, asset.body, (("content-type", asset.media_type),
                                          ("cache-control", IMMUTABLE),
                                          ("x-content-type-options", "nosniff")))
