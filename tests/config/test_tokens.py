"""API tokens and allowed hosts in settings (config/build/settings.py): the scopes a token gets with
and without `scopes`, and the problems of a wrong one, with file:line:col."""

from __future__ import annotations

from pathlib import Path

from router.config import load_config
from tests.config.support import problems, write

SETTINGS = """
settings:
  ingest_tokens:
    - {name: old-full, token: a}
    - {name: old-sender, token: b, sources: [grafana]}
    - {name: reader, token: c, scopes: [read]}
    - {name: pager, token: d, scopes: [ingest, respond], sources: [alertmanager]}
  allowed_hosts: [Router.Example.com, "10.0.0.5:9080", "[::2]:9080", "*"]
"""


def test_a_token_without_scopes_keeps_what_it_had(tmp_path: Path) -> None:
    config = load_config([write(tmp_path, "settings.yaml", SETTINGS)])
    scopes = {token.name: (sorted(token.scopes), sorted(token.sources))
              for token in config.settings.ingest_tokens}
    assert scopes == {
        "old-full": (["admin", "ingest", "read", "respond"], []),  # as before scopes: all
        "old-sender": (["ingest"], ["grafana"]),  # a sender's token: ingest only
        "reader": (["read"], []),
        "pager": (["ingest", "respond"], ["alertmanager"]),
    }
    assert config.settings.allowed_hosts == (
        "router.example.com", "10.0.0.5:9080", "[::2]:9080", "*")


def test_an_unknown_scope_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", """
        settings:
          ingest_tokens: [{name: typo, token: d, scopes: [reed]}]
    """)
    assert problems([path]) == [
        f"{path}:2:51: settings.ingest_tokens[0].scopes[0]: expected one of ingest, read, "
        "respond, admin, got 'reed' (did you mean 'read'?)"]


def test_sources_without_ingest_and_bad_hosts_are_refused_at_their_place(
        tmp_path: Path) -> None:
    path = write(tmp_path, "settings.yaml", """
        settings:
          ingest_tokens:
            - {name: reader, token: c, scopes: [read], sources: [grafana]}
          allowed_hosts: ["http://router.example.com", "a b"]
    """)
    assert problems([path]) == [
        f"{path}:3:57: settings.ingest_tokens[0].sources: sources limit the ingest scope, "
        "which this token's scopes do not include; add ingest or remove sources",
        f"{path}:4:19: settings.allowed_hosts[0]: expected a host name or address, "
        "optionally with :PORT (IPv6 in brackets), or *; got 'http://router.example.com'",
        f"{path}:4:48: settings.allowed_hosts[1]: expected a host name or address, "
        "optionally with :PORT (IPv6 in brackets), or *; got 'a b'",
    ]
