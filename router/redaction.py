"""URLs as they may be shown (room: redaction; the standard library only).

A URL in the config can carry a credential in its user name and password
(`https://ops:hunter2@hooks.example.com/x`) or its query (`?token=...`), and a URL someone
mistyped (`htp//ops:hunter2@...`) does not parse, so code that takes the user info out of
the parsed parts shows it whole. These functions work on the text instead: whatever the
URL's shape, the user info and everything from `?` or `#` on are removed. The log's
formatter, the transport's error texts, the delivery log's views and `router validate`
pass every URL they show through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*:?//[^\s"'<>]*""")
"""Something URL-shaped: a scheme (even without its colon) and `//`."""
_USER_INFO = re.compile(r"""[^\s"'<>/@:]+:[^\s"'<>/@]*@""")
"""`user:password@` anywhere, as in a URL without a scheme."""


def display_url(url: str) -> str:
    """`url` without user name, password, query and fragment, whether or not it parses:
    `https://ops:pw@example.com/x?token=t` -> `https://example.com/x`.

    A password may hold any character a URL uses to end a part (`/`, `?`, `#`, `@`, `:`), and
    then nothing tells the user info from the path: `https://ops:12/34@db/x` is `ops` port 12
    and a path, or a password `12/34`. So everything between the scheme's `//` (or the start,
    without one) and the LAST `@` is dropped, and only then the query and fragment: no part
    of a password is ever shown. A URL with `@` in its path or query is shown from that `@`
    on: less than it holds, never a secret."""
    scheme, separator, rest = url.partition("//")
    if not separator:
        scheme, rest = "", url
    rest = rest.rpartition("@")[2]
    return scheme + separator + re.split(r"[?#]", rest, maxsplit=1)[0]


_SEPARATORS = re.compile(r"""([\s"'<>]+)""")
"""What neither pattern above can match across: the words between are redacted one by one."""


def redact_urls(text: str) -> str:
    """`text` with every URL in it shown as `display_url` shows it, and any other
    `user:password@` removed; the rest unchanged.

    Only the words that hold `//` or `@` meet the patterns, which backtrack over every
    letter of a long word: run over a whole JSON log line (ids, trace ids), they cost
    hundreds of microseconds a line (issue 15)."""
    if "//" not in text and "@" not in text:
        return text
    parts = _SEPARATORS.split(text)  # words at even indices, separators between
    for index in range(0, len(parts), 2):
        word = parts[index]
        if "//" in word:
            word = _URL.sub(_display_match, word)
        if "@" in word:
            word = _USER_INFO.sub("", word)
        parts[index] = word
    return "".join(parts)


def _display_match(found: re.Match[str]) -> str:
    """A URL found in text; punctuation that ends a sentence or a clause stays outside it."""
    url = found.group()
    stripped = url.rstrip(".,:;)")
    return display_url(stripped) + url[len(stripped):]


SECRET_WORDS = ("key", "secret", "token", "password", "api")
"""A setting whose name holds any of these (any case) is never shown or stored as it is."""
REDACTED = "<redacted>"


def redact_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """`settings` as they may be stored or shown: the value of every key holding one of
    SECRET_WORDS replaced by REDACTED (nested mappings too), and text values with their URLs
    as `display_url` shows them (a key in a URL's user info or query goes as well)."""
    shown: dict[str, Any] = {}
    for name, value in settings.items():
        if any(word in name.lower() for word in SECRET_WORDS):
            shown[name] = REDACTED
        elif isinstance(value, Mapping):
            shown[name] = redact_settings(value)
        elif isinstance(value, str):
            shown[name] = redact_urls(value)
        else:
            shown[name] = value
    return shown
