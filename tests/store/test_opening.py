"""One opener for every store (issue 18 item 1): SQLite in the state directory, or
PostgreSQL at a URL through a module imported only then; its failures are one line that
names the store without its password."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.config.database_url import parse_database_url
from router.config.model import DatabaseUrl
from router.config.secrets import SecretResolver
from router.errors import StoreError
from router.store import DATABASE_NAME
from router.store.opening import BackendMissing, describe, open_store

SECRET = "p@ss/w0rd"
STAND_IN = "tests.fakes.postgres_backend"


def url(text: str, **environ: str) -> DatabaseUrl:
    return parse_database_url(text, SecretResolver(environ=environ), Path.cwd())


async def test_sqlite_is_router_db_in_the_state_directory(tmp_path: Path) -> None:
    store = await open_store("sqlite", tmp_path)
    try:
        assert await store.read(lambda reader: reader.outbox.pending_channels()) == []
    finally:
        await store.close()
    assert (tmp_path / DATABASE_NAME).is_file()
    assert describe("sqlite", tmp_path) == str(tmp_path / DATABASE_NAME)


async def test_a_url_without_its_backend_is_one_clear_line(tmp_path: Path) -> None:
    setting = url("postgresql://router:${env:PGPW}@db1/router", PGPW=SECRET)
    with pytest.raises(BackendMissing) as missing:
        await open_store(setting, tmp_path, backend="router.store.no_such_backend")
    assert str(missing.value) == ("cannot open the store postgresql://db1/router: this "
                                  "router has no PostgreSQL support")
    assert not (tmp_path / DATABASE_NAME).exists()


async def test_a_foreign_error_of_the_backend_loses_the_url_and_its_password(
        tmp_path: Path) -> None:
    setting = url("postgresql://router:${env:PGPW}@db1/router", PGPW=SECRET)
    assert setting.url is not None and "p%40ss%2Fw0rd" in setting.url.reveal()
    with pytest.raises(StoreError) as failed:
        await open_store(setting, tmp_path, backend=STAND_IN)
    assert str(failed.value) == ('cannot open the store postgresql://db1/router: missing "=" '
                                 'after "postgresql://db1/router" in connection info string')
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


async def test_an_unreachable_server_is_a_store_error_naming_it(tmp_path: Path) -> None:
    setting = url("postgresql://router:${env:PGPW}@127.0.0.1:1/router", PGPW=SECRET)
    with pytest.raises(StoreError) as failed:
        await open_store(setting, tmp_path, backend=STAND_IN)
    assert str(failed.value) == ("cannot open the store postgresql://127.0.0.1:1/router: "
                                 "connection refused")


async def test_a_password_repeated_alone_is_redacted_too(tmp_path: Path) -> None:
    setting = url("${env:URL}", URL="postgresql://router:s3cret@db1/router?sslmode=require")
    with pytest.raises(StoreError) as failed:
        await open_store(setting, tmp_path, backend=STAND_IN)
    assert "s3cret" not in str(failed.value)
    assert str(failed.value).startswith("cannot open the store postgresql://db1/router: ")


async def test_a_url_whose_references_were_not_resolved_is_refused(tmp_path: Path) -> None:
    setting = parse_database_url("postgresql://router:${env:PGPW}@db1/router",
                                 SecretResolver(resolve=False), Path.cwd())
    with pytest.raises(StoreError, match="references were not resolved"):
        await open_store(setting, tmp_path, backend=STAND_IN)
