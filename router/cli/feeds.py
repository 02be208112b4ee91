"""`router oncall feeds [rotate [FEED]]` (room: cli; imports cli_support, config, store).

Lists the secret URL of every rota's and person's calendar feed, making the tokens that do
not exist yet, or replaces them: a calendar app subscribes to such a URL without an API
token, and rotating a feed's token revokes its old URL alone (store/feeds.py,
docs/security.md). On SQLite the tokens live in the state directory, so this runs where
`router run` runs (or with `--state DIR`); on PostgreSQL (`settings.store`) they live in the
store, shared by every node (store/secrets.py), so this runs on any host that reaches it.
Either way with or without the daemon running.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

from router.cli.support import EXIT_OK, Failure, Usage, chosen_store, print_json, with_engine
from router.config.model import Config
from router.engine import Engine
from router.errors import NotFound
from router.store import DEFAULT_STATE_DIR
from router.store.feeds import ensure_feed_tokens, rotate_feed_tokens

PATHS = {"rota": "/v1/rotas/{id}.ics", "person": "/v1/people/{id}.ics"}
"""Each kind of feed's route (server/api.py)."""


def every_feed(config: Config) -> list[str]:
    """`rota:ID` for each rota, then `person:ID` for each person, in config order."""
    return ([f"rota:{rota}" for rota in config.rotas] +
            [f"person:{person}" for person in config.people])


def run_feeds(arguments: argparse.Namespace, config: Config, out: TextIO) -> int:
    """`words` are what follows `feeds`: nothing, `rotate`, or `rotate FEED`."""
    words: Sequence[str] = arguments.words
    _check(words)
    feeds = _rotated(config, words) if words else every_feed(config)
    if not isinstance(chosen_store(arguments, config), str):  # PostgreSQL: the store's
        return _listed(arguments, config, out, feeds,
                       _in_store(arguments, config, feeds, rotate=bool(words)))
    directory: Path = arguments.state or DEFAULT_STATE_DIR
    if not directory.is_dir():
        raise Failure(f"no state directory {str(directory)!r} (router run creates it; give "
                      "the one it uses with --state)")
    try:
        if not words:
            tokens = ensure_feed_tokens(directory, feeds)
        else:
            tokens = rotate_feed_tokens(directory, feeds)
    except (OSError, ValueError) as error:
        raise Failure(f"cannot use the feed tokens in {str(directory)!r}: {error}") from None
    return _listed(arguments, config, out, feeds, tokens)


def _check(words: Sequence[str]) -> None:
    if words and not (words[0] == "rotate" and len(words) <= 2):
        raise Usage(f"unexpected {' '.join(words)!r}: expected `router oncall feeds` or "
                    "`router oncall feeds rotate [FEED]`")


def _rotated(config: Config, words: Sequence[str]) -> list[str]:
    """The feeds `rotate [FEED]` names: every one, or FEED."""
    return every_feed(config) if len(words) == 1 else [_feed(config, words[1])]


def _in_store(arguments: argparse.Namespace, config: Config, feeds: list[str], *,
              rotate: bool) -> dict[str, str]:
    """The tokens of a shared store, made or rotated in one transaction: every node
    takes them at its next fetch."""
    async def work(engine: Engine) -> dict[str, str]:
        return await engine.secrets.feed_tokens(feeds, rotate=rotate)
    return with_engine(arguments, config, work)


def _listed(arguments: argparse.Namespace, config: Config, out: TextIO, feeds: list[str],
            tokens: dict[str, str]) -> int:
    listed = [{"feed": feed, "url": _url(config, feed, tokens[feed])} for feed in feeds]
    if arguments.format == "json":
        print_json({"feeds": listed}, out)
    else:
        width = max((len(item["feed"]) for item in listed), default=0)
        for item in listed:
            print(f"{item['feed']:<{width}}  {item['url']}", file=out)
    return EXIT_OK


def _feed(config: Config, text: str) -> str:
    """`rota:web`, `person:ann`, or a bare id that names exactly one rota or person."""
    feeds = every_feed(config)
    if text in feeds:
        return text
    matches = [feed for feed in feeds if feed.partition(":")[2] == text]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise Usage(f"{text!r} is both a rota and a person: say {' or '.join(matches)}")
    raise NotFound(f"no rota or person with id {text!r} (feeds: rota:ID or person:ID)")


def _url(config: Config, feed: str, token: str) -> str:
    kind, _, identifier = feed.partition(":")
    path = PATHS[kind].format(id=quote(identifier, safe=""))
    return f"{config.settings.public_url.rstrip('/')}{path}?token={token}"
