"""A route's or service's `analysis` -> Analysis (room: config).

Shape is the schema's (provider, types, bounds of the counts); here is what needs more than
one value or a parser: a provider's URL, an `api_key` written only as `${env:}` or
`${file:}`, absolute `paths`, and durations within bounds, so `router validate` finds each
at its place.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from router.config.build.context import Context
from router.config.load import Source
from router.config.model import ANALYSIS_KINDS, Analysis, frozen_mapping
from router.config.values import parse_positive_duration

LONGEST_TIMEOUT = timedelta(minutes=10)
"""An analysis holds a worker of a small pool: one that takes longer is not worth waiting."""
LONGEST_SCAN = timedelta(minutes=1)


def analysis(context: Context, data: dict[str, Any], source: Source) -> Analysis:
    """The `analysis` mapping at `source`, its problems reported at their places."""
    values: dict[str, Any] = {key: data[key] for key in (
        "base_url", "model", "max_tokens", "top_processes", "max_files") if key in data}
    if "base_url" in data:
        _check_url(context, data["base_url"], source.at("base_url"))
    if "api_key" in data:
        secret = context.secret(data["api_key"])
        # a reference that did not resolve (a missing file) is reported by the resolver
        if not secret.reference and "${" not in data["api_key"]:
            context.error(source.at("api_key"), "write the key as ${file:PATH} or "
                                                "${env:NAME}, never in the config itself")
        values["api_key"] = secret
    for key, longest in (("timeout", LONGEST_TIMEOUT), ("scan_time", LONGEST_SCAN)):
        duration = context.parse(parse_positive_duration, data, source, key)
        if duration is not None and duration > longest:
            context.error(source.at(key), f"at most {_words(longest)}, got {data[key]!r}")
        elif duration is not None:
            values[key] = duration
    scan = values.get("scan_time")
    whole = values.get("timeout", Analysis(provider="local").timeout)  # the default: the model's
    if scan is not None and scan >= whole:
        context.error(source.at("scan_time"), f"{data['scan_time']!r} leaves no time of the "
                                              f"analysis's timeout ({_seconds(whole)}) for "
                                              "the rest: make it shorter")
    if "keywords" in data:
        values["keywords"] = frozen_mapping({
            **ANALYSIS_KINDS,
            **{kind: tuple(word.lower() for word in words)
               for kind, words in data["keywords"].items()}})
    if "paths" in data:
        values["paths"] = tuple(data["paths"])
        for index, path in enumerate(values["paths"]):
            if not os.path.isabs(path):  # else scanned from wherever the daemon started
                context.error(source.at("paths").at(index), "expected an absolute path such "
                                                            f"as /var/log, got {path!r}")
    return Analysis(provider=data["provider"], where=context.place(source), **values)


def _check_url(context: Context, text: str, source: Source) -> None:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        context.error(source, f"expected an http:// or https:// URL, got {text!r}")
    elif parts.username or parts.password:
        context.error(source, "no user or password in the URL: give the key as api_key")


def _seconds(duration: timedelta) -> str:
    return f"{duration.total_seconds():g}s"


def _words(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
