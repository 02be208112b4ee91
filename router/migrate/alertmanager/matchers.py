"""Alertmanager's matchers as router's matcher texts (room: migrate; imports config.values).

Alertmanager reads `matchers: ['a="x", b=~"y"']` with its own parser (pkg/labels/parse.go:
a line may hold several matchers separated by commas, quotes and backslash escapes as Go
writes them), `match: {a: x}` as equality and `match_re: {a: y}` as a regular expression
anchored at both ends. This module follows that parser rule for rule, so a value means what
it meant to Alertmanager, and writes each matcher the way router reads it back
(`config.values.parse_matcher`): a value that needs it in JSON quotes, and `labels.NAME` for
the label names router reserves for fields of its own (`severity`, `source`, `service`).
"""

from __future__ import annotations

import json
import re
import warnings

from router.config.values import matcher_slip, parse_matcher
from router.errors import Where

_MATCHER = re.compile(r"[ \t\n\f\r]*([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t\n\f\r]*(=~|=|!=|!~)"
                      r"[ \t\n\f\r]*((?s:.*?))[ \t\n\f\r]*")
"""Alertmanager's pkg/labels matcher: name, operator, raw value (RE2's \\s is ASCII)."""
_SPACE = " \t\n\f\r\v"
"""Go's white space around a line's matchers (strings.TrimSpace on ASCII)."""
_ROUTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*")
RESERVED = ("severity", "source", "service")
"""Label names router reads as fields of its own: a matcher or `equal` names the label as
`labels.NAME`."""
# Go's RE2 syntax that Python's `re` reads differently or not at all.
_GO_ONLY = re.compile(r"\[\[:|\\[pPQEzC]|\(\?[a-zA-Z]*U")
_UNICODE_CLASSES = re.compile(r"(?<!\\)(?:\\\\)*\\[dDwWsSbB]")


class MatcherError(ValueError):
    """A matcher Alertmanager would refuse, or one router cannot express; the message says
    which and why."""


def parse_line(line: str) -> list[tuple[str, str, str]]:
    """One `matchers:` entry (Alertmanager's ParseMatchers): (name, operator, value) each."""
    text = line.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for character in text:
        if character == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if character == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif character == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(character)
    if (last := "".join(token).strip(_SPACE)) != "":
        tokens.append(last)
    return [parse_one(item) for item in tokens]


def parse_one(text: str) -> tuple[str, str, str]:
    """One matcher (Alertmanager's ParseMatcher), escapes and quotes resolved."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, operator, raw = found.groups()
    quoted = raw.startswith('"')
    raw = raw[1:] if quoted else raw
    value: list[str] = []
    escaped = False
    for position, character in enumerate(raw):
        if escaped:
            escaped = False
            value.append({"n": "\n", '"': '"', "\\": "\\"}.get(character, "\\" + character))
        elif character == "\\":
            if position < len(raw) - 1:
                escaped = True
            else:
                value.append("\\")
        elif character == '"':
            if not quoted or position < len(raw) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {text}")
            quoted = False
        else:
            value.append(character)
    if quoted:
        raise MatcherError(f"matcher value contains unescaped double quote: {text}")
    return name, operator, "".join(value)


def label(name: str) -> str:
    """The name router reads the label `name` by: `labels.NAME` for a reserved name."""
    return f"labels.{name}" if name in RESERVED else name


def router_matcher(name: str, operator: str, value: str) -> tuple[str, str, str]:
    """One matcher with Alertmanager's meaning as router's (name, operator, value).

    A regular expression with `\\d`, `\\w`, `\\s` or `\\b` gets `(?a)` in front: those are
    ASCII classes in Go and Unicode ones in Python.

    Raises:
        MatcherError: the label name or the regular expression has no equal in router.
    """
    if name not in RESERVED and _ROUTER_NAME.fullmatch(name) is None:
        raise MatcherError(f"label name {name!r} cannot be written as a router matcher")
    if operator in ("=~", "!~"):
        check_regex(value)
        if _UNICODE_CLASSES.search(value):
            value = "(?a)" + value  # Go's \d \w \s \b are ASCII; Python's Unicode
    return label(name), operator, value


def to_router(name: str, operator: str, value: str) -> str:
    """Router's text for one matcher with Alertmanager's meaning (`router_matcher`), its
    value in JSON quotes where router's reader needs them.

    Raises:
        MatcherError: the label name or the regular expression has no equal in router.
    """
    name, operator, value = router_matcher(name, operator, value)
    plain = value != "" and value == value.strip() and not value.startswith('"') \
        and "\n" not in value and "#" not in value \
        and matcher_slip(f"{name}{operator}{value}") is None  # `env=!x`: router warns
    text = f"{name}{operator}{value if plain else json.dumps(value, ensure_ascii=False)}"
    parse_matcher(text, Where("alertmanager"))  # what router reads back: the same matcher
    return text


def check_regex(pattern: str) -> None:
    """Refuses a Go regular expression that Python's `re` would read otherwise.

    Go's RE2 and Python agree on the syntax Alertmanager configs use (alternation, classes,
    repetition, groups, `(?i)`); POSIX classes (`[[:alpha:]]`), Unicode classes (`\\p{L}`),
    `\\Q...\\E`, `\\z`, `\\C` and the ungreedy flag `U` are Go's alone.
    """
    if _GO_ONLY.search(pattern):
        raise MatcherError(f"regular expression {pattern!r} uses Go syntax (POSIX or Unicode "
                           "classes, \\Q..\\E, \\z, \\C or the U flag) that router's Python "
                           "regular expressions do not read the same way")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            re.compile(pattern)
        except (re.error, FutureWarning) as error:
            raise MatcherError(f"regular expression {pattern!r} does not compile in "
                               f"Python: {error}") from None
