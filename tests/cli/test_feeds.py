"""`router oncall feeds [rotate [FEED]]`: the calendar feeds' secret URLs, kept in the state
directory's feeds.json (issue 16 item 6). The daemon honouring them is tested in
tests/server/test_api_access.py and, end to end, tests/e2e/test_feeds.py."""

from __future__ import annotations

import json
import stat
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import run

CONFIG = """
settings: {timezone: UTC, public_url: "https://router.example.com/"}
people:
  - {id: ann}
  - {id: web}
rotas:
  - id: web
    layers: [{members: [ann], every: 1d, start: 2026-11-01}]
  - id: db
    layers: [{members: [ann], every: 1d, start: 2026-11-01}]
"""


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text(textwrap.dedent(CONFIG))
    (tmp_path / "state").mkdir()
    return tmp_path


def feeds(*words: str) -> dict[str, str]:
    code, out, err = run("oncall", "feeds", *words, "--format", "json")
    assert (code, err) == (0, ""), err
    return {item["feed"]: item["url"] for item in json.loads(out)["feeds"]}


def test_feeds_lists_every_rota_and_person_with_a_secret_url_kept_0600(where: Path) -> None:
    urls = feeds()
    assert list(urls) == ["rota:web", "rota:db", "person:ann", "person:web"]
    assert urls["rota:web"].startswith("https://router.example.com/v1/rotas/web.ics?token=")
    assert urls["person:ann"].startswith("https://router.example.com/v1/people/ann.ics?token=")
    tokens = {url.partition("?token=")[2] for url in urls.values()}
    assert len(tokens) == 4 and all(len(token) >= 32 for token in tokens)
    assert feeds() == urls  # made once, then kept
    path = where / "state" / "feeds.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out, _ = run("oncall", "feeds")
    assert code == 0
    assert out.splitlines()[0] == f"rota:web    {urls['rota:web']}"


def test_rotate_replaces_one_feed_or_all(where: Path) -> None:
    before = feeds()
    rotated = feeds("rotate", "rota:web")
    assert list(rotated) == ["rota:web"] and rotated["rota:web"] != before["rota:web"]
    assert feeds() == {**before, "rota:web": rotated["rota:web"]}
    assert list(feeds("rotate", "db")) == ["rota:db"]  # a bare id naming one feed
    everything = feeds("rotate")
    assert list(everything) == list(before)
    assert not set(everything.values()) & set(feeds("rotate").values())


@pytest.mark.parametrize(("words", "code", "message"), [
    (("rotate", "web"), 2, "router oncall: 'web' is both a rota and a person: say rota:web "
                           "or person:web\n"),
    (("rotate", "nope"), 1, "router oncall: no rota or person with id 'nope' (feeds: rota:ID "
                            "or person:ID)\n"),
    (("list",), 2, "router oncall: unexpected 'list': expected `router oncall feeds` or "
                   "`router oncall feeds rotate [FEED]`\n"),
])
def test_bad_feed_arguments_get_a_clear_message(where: Path, words: tuple[str, ...],
                                                code: int, message: str) -> None:
    assert run("oncall", "feeds", *words) == (code, "", message)


def test_feeds_needs_the_state_directory(where: Path) -> None:
    assert run("oncall", "feeds", "--state", str(where / "elsewhere")) == (
        1, "", f"router oncall: no state directory {str(where / 'elsewhere')!r} (router run "
               "creates it; give the one it uses with --state)\n")
