"""`settings.store`: sqlite, or a PostgreSQL URL whose password is never written in the
config and never shown (issue 18 item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config import load_config
from router.config.database_url import resolve_later
from router.config.model import DatabaseUrl
from router.errors import Where
from tests.config.support import problems, write

CHANNELS = "channels: [{id: log, type: log}]\n"
SECRET = "hunter2"
WRITTEN_PASSWORD = ("a password is written in the URL: write it as ${file:PATH} or ${env:NAME} "
                    "(postgresql://USER:${file:PATH}@HOST/DATABASE; the file holds only the "
                    "password), never in the config or on a command line")


def store_of(directory: Path, url: str, **environ: str) -> DatabaseUrl:
    write(directory, "router.yaml", CHANNELS + f"settings:\n  store:\n    url: '{url}'\n")
    store = load_config([directory], environ=environ).settings.store
    assert isinstance(store, DatabaseUrl)
    return store


def problems_of(directory: Path, store: str, **environ: str) -> list[str]:
    write(directory, "router.yaml", CHANNELS + f"settings:\n  store: {store}\n")
    return problems([directory], environ=environ)


def test_the_store_is_sqlite_unless_told(tmp_path: Path) -> None:
    write(tmp_path, "router.yaml", CHANNELS)
    assert load_config([tmp_path]).settings.store == "sqlite"
    write(tmp_path, "router.yaml", CHANNELS + "settings: {store: sqlite}\n")
    config = load_config([tmp_path])
    assert config.settings.store == "sqlite"
    assert config.summary().endswith("from 1 file")


def test_a_password_from_a_file_is_put_in_the_url_percent_encoded(tmp_path: Path) -> None:
    write(tmp_path, "secrets/pg-password", "p@ss/w:rd %x\n")
    store = store_of(tmp_path, "postgresql://router:${file:secrets/pg-password}"
                               "@db.example.com:5432/router?sslmode=verify-full")
    assert store.url is not None and store.password is not None
    assert store.url.reveal() == ("postgresql://router:p%40ss%2Fw%3Ard%20%25x@db.example.com"
                                  ":5432/router?sslmode=verify-full")
    assert store.password.reveal() == "p@ss/w:rd %x"
    assert store.password.reference == "${file:secrets/pg-password}"
    assert store.shown == "postgresql://db.example.com:5432/router"
    assert store.where == Where(str(tmp_path / "router.yaml"), 4, 10)
    config = load_config([tmp_path])
    assert config.summary().endswith("from 1 file; store postgresql://db.example.com:5432/router")
    assert "p@ss" not in repr(config.settings)


def test_a_password_from_the_environment_and_postgres_scheme(tmp_path: Path) -> None:
    store = store_of(tmp_path, "postgres://router:${env:PGPW}@${env:PGHOST}/router",
                     PGPW=SECRET, PGHOST="db1")
    assert store.url is not None and store.url.reveal() == f"postgres://router:{SECRET}@db1/router"
    assert store.shown == "postgres://db1/router"


def test_a_url_without_a_password_leaves_it_to_libpq(tmp_path: Path) -> None:
    store = store_of(tmp_path, "postgresql:///router?host=/run/postgresql")
    assert store.url is not None and store.url.reveal() == "postgresql:///router?host=/run/postgresql"
    assert store.password is None and store.shown == "postgresql:///router"


def test_a_whole_url_from_a_reference_may_hold_its_password(tmp_path: Path) -> None:
    store = store_of(tmp_path, "${env:ROUTER_STORE}",
                     ROUTER_STORE=f"postgresql://router:{SECRET}@db1/router")
    assert store.url is not None and store.url.reveal() == f"postgresql://router:{SECRET}@db1/router"
    assert store.password is not None and store.password.reveal() == SECRET
    assert store.shown == "postgresql://db1/router"


@pytest.mark.parametrize(("url", "message"), [
    (f"postgresql://router:{SECRET}@db1/router", WRITTEN_PASSWORD),
    ("postgresql://router:x${env:PGPW}@db1/router", WRITTEN_PASSWORD),
    (f"postgresql://router@db1/router?sslmode=require&password={SECRET}",
     "a password is written in the URL (?password=): give it in the user info as "
     "${file:PATH} or ${env:NAME}, postgresql://USER:${file:PATH}@HOST/DATABASE"),
    (f"mysql://router:{SECRET}@db1/router",
     "expected sqlite or a PostgreSQL URL such as postgresql://USER:${file:PATH}@HOST/DATABASE "
     "(or postgres://), got a 'mysql' URL"),
    (f"postgresql:/router:{SECRET}@db1/router",  # malformed, with a password
     "expected sqlite or a PostgreSQL URL such as postgresql://USER:${file:PATH}@HOST/DATABASE "
     "(or postgres://): write // after 'postgresql:'"),
    (f"router:{SECRET}@db1/router",
     "expected sqlite or a PostgreSQL URL such as postgresql://USER:${file:PATH}@HOST/DATABASE "
     "(or postgres://), got a 'router' URL"),
    ("postgresql://router:${env:PGPW}@db1:54x2/router",
     "the URL's host and port do not parse: expected HOST, HOST:PORT or [IPv6]:PORT, the "
     "port a number up to 65535"),
])
def test_a_bad_url_is_refused_at_its_place_without_its_password(
        tmp_path: Path, url: str, message: str) -> None:
    found = problems_of(tmp_path, f"{{url: '{url}'}}", PGPW=SECRET)
    assert found == [f"{tmp_path / 'router.yaml'}:3:16: settings.store.url: {message}"]


def test_a_store_that_is_neither_says_what_is_expected(tmp_path: Path) -> None:
    assert problems_of(tmp_path, f"postgresql://router:{SECRET}@db1/router") == [
        f"{tmp_path / 'router.yaml'}:3:10: settings.store: expected sqlite, or a mapping "
        "{url: postgresql://...} for PostgreSQL, got 'postgresql://db1/router'"]
    assert problems_of(tmp_path, "{uri: x}") == [
        f"{tmp_path / 'router.yaml'}:3:10: settings.store: missing required key 'url'",
        f"{tmp_path / 'router.yaml'}:3:11: settings.store.uri: unknown key 'uri' (did you "
        "mean 'url'?); expected one of: url"]


@pytest.mark.parametrize("store", [
    f"postgresql://router:{SECRET}@db1/router",  # a URL, not a mapping with url
    f"'postgresql:/router:{SECRET}@db1'",
    f"{{uri: 'postgresql://router:{SECRET}@db1/router'}}",
])
def test_a_store_of_the_wrong_shape_does_not_repeat_a_password(tmp_path: Path,
                                                               store: str) -> None:
    found = problems_of(tmp_path, store)
    assert found and all(problem.startswith(f"{tmp_path / 'router.yaml'}:3:1")
                         for problem in found)
    assert SECRET not in "\n".join(found)


def test_a_whole_reference_that_is_not_a_url_says_where_without_its_content(
        tmp_path: Path) -> None:
    found = problems_of(tmp_path, "{url: '${env:ROUTER_STORE}'}", ROUTER_STORE=SECRET)
    assert found == [
        f"{tmp_path / 'router.yaml'}:3:16: settings.store.url: the URL in ${{env:ROUTER_STORE}}: "
        "expected sqlite or a PostgreSQL URL such as postgresql://USER:${file:PATH}@HOST/"
        "DATABASE (or postgres://)"]


def test_a_missing_password_variable_is_one_problem(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "{url: 'postgresql://router:${env:PGPW}@db1/router'}")
    assert found == [f"{tmp_path / 'router.yaml'}:3:16: environment variable 'PGPW' is not set"]


def test_without_secrets_the_url_is_checked_and_resolved_when_the_store_opens(
        tmp_path: Path) -> None:
    url = "postgresql://router:${file:pg-password}@db1/router"
    write(tmp_path, "router.yaml", CHANNELS + f"settings:\n  store: {{url: '{url}'}}\n")
    store = load_config([tmp_path], resolve_secrets=False).settings.store
    assert isinstance(store, DatabaseUrl)
    assert (store.written, store.url, store.shown) == (url, None, "postgresql://db1/router")
    write(tmp_path, "pg-password", f"{SECRET}\n")
    resolved = resolve_later(store)
    assert resolved.url is not None
    assert resolved.url.reveal() == f"postgresql://router:{SECRET}@db1/router"
    assert resolved.where == store.where
    write(tmp_path, "router.yaml", CHANNELS + "settings:\n  store: {url: 'postgresql://r:pw@db1'}\n")
    assert problems([tmp_path], resolve_secrets=False) == [
        f"{tmp_path / 'router.yaml'}:3:16: settings.store.url: {WRITTEN_PASSWORD}"]
