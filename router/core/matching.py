"""One meaning of `name op value` for routes, suppressions and silences (room: core; imports
config.model and alerts.model only).

Pure: no I/O, no clock. The rules, as in Alertmanager:

- `name` is a reserved field (`severity`, `source`, `service`) or else a label, read through
  `Alert.field_value`; `labels.severity` (`labels.source`, `labels.service`) is the label of
  that name as the sender wrote it, which the reserved field shadows (an imported
  Alertmanager route compares the label); a missing label (or an alert with no service)
  compares as the empty string, so `env=""` matches an alert without `env` and
  `env!="prod"` matches it too.
- `=` and `!=` compare whole strings, case-sensitively.
- `=~` and `!~` match a regular expression against the WHOLE value (`re.fullmatch`):
  `team=~"db"` does not match `team=dbs`. Patterns are compiled once per distinct text and
  cached; a caller that accepts a matcher from a person (config build, the silence API)
  checks that it compiles before it gets here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from router.alerts.model import Alert

RESERVED = ("severity", "source", "service")
"""Matcher names that read a field of the alert instead of a label."""

RAW_LABELS = tuple(f"labels.{name}" for name in RESERVED)
"""Matcher names that read the label a reserved field shadows (`config.values` turns any
other `labels.NAME` into `NAME`)."""


class MatcherLike(Protocol):
    """A config `Matcher` or a run-time `SilenceMatcher`: anything with these three fields."""

    @property
    def name(self) -> str: ...

    @property
    def operator(self) -> str: ...

    @property
    def value(self) -> str: ...


@functools.lru_cache(maxsize=4096)
def pattern_of(regex: str) -> re.Pattern[str]:
    """The compiled pattern for `regex`; raises `re.error` when it is not valid."""
    return re.compile(regex)


def fields_of(alert: Alert) -> dict[str, str]:
    """Every value a matcher can read from `alert`, by matcher name.

    Labels first, then the reserved fields over them (a label called `severity` is shadowed
    by the alert's severity, as `Alert.field_value` does, and kept as `labels.severity`); a
    name not in the result reads "".
    """
    labels = alert.labels
    fields = dict(labels)
    for name, raw in zip(RESERVED, RAW_LABELS, strict=True):
        value = labels.get(name)
        if value is not None:
            fields[raw] = value
        elif raw in fields:  # a label literally called `labels.severity` is not the label
            del fields[raw]
    # RESERVED, read as `Alert.field_value` does, spelt out: this runs for every alert.
    service = alert.service if alert.service is not None else labels.get("service")
    fields["severity"] = alert.severity.value
    fields["source"] = alert.source
    if service is None:
        fields.pop("service", None)
    else:
        fields["service"] = service
    return fields


def compare(matcher: MatcherLike, value: str) -> bool:
    """Whether `value` (the alert's value for `matcher.name`, "" when missing) satisfies it.

    Raises:
        ValueError: when the operator is not one of = != =~ !~.
    """
    operator = matcher.operator
    if operator == "=":
        return value == matcher.value
    if operator == "!=":
        return value != matcher.value
    if operator == "=~":
        return pattern_of(matcher.value).fullmatch(value) is not None
    if operator == "!~":
        return pattern_of(matcher.value).fullmatch(value) is None
    raise ValueError(f"unknown match operator {operator!r}; expected one of = != =~ !~")


def matches(matcher: MatcherLike, alert: Alert) -> bool:
    """Whether one matcher matches `alert`."""
    return compare(matcher, alert.field_value(matcher.name) or "")


def first_mismatch(matchers: Iterable[MatcherLike], fields: Mapping[str, str]
                   ) -> MatcherLike | None:
    """The first matcher that `fields` (from `fields_of`) fails, or None when all match."""
    for matcher in matchers:
        if not compare(matcher, fields.get(matcher.name, "")):
            return matcher
    return None


def matches_all(matchers: Iterable[MatcherLike], alert: Alert) -> bool:
    """Whether every matcher matches `alert`; no matchers at all match every alert."""
    return all(matches(matcher, alert) for matcher in matchers)
