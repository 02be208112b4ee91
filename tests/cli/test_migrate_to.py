"""`router store migrate-to URL`: a real SQLite state directory copied into the session's
throwaway PostgreSQL through the CLI; what it prints, what it refuses, and that the URL's
password is never printed."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import trio

from router.store import migrations
from tests.cli.conftest import run
from tests.store.histories import make_history

SECRET = "s3cr3t-pass/word"  # a `/`: percent-encoded in the URL, never shown either way


@pytest.fixture
def with_password(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test's database URL with its password as `${env:ROUTER_PG_PASSWORD}` (the
    throwaway cluster trusts loopback and ignores it)."""
    monkeypatch.setenv("ROUTER_PG_PASSWORD", SECRET)
    return postgres_url.replace("://router@", "://router:${env:ROUTER_PG_PASSWORD}@")


def shown(url: str) -> str:
    return "postgresql://" + url.split("@", 1)[1]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text and "s3cr3t" not in text


async def test_copies_verifies_and_prints_counts(tmp_path: Path, with_password: str) -> None:
    await make_history(tmp_path / "state")
    code, out, err = run("store", "migrate-to", with_password, "--state-dir",
                         str(tmp_path / "state"))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (f"copied {tmp_path / 'state' / 'router.db'} to "
                        f"{shown(with_password)} in one transaction:")
    assert "  incidents " in out and lines[lines.index(next(
        line for line in lines if line.startswith("  incidents ")))].endswith(" 6")
    assert lines[-2].startswith("verified: the rows of ") and lines[-2].endswith(
        " tables counted, 6 incidents read back equal")
    assert lines[-1].startswith("the next incident is INC7; ")
    assert_no_secret(out, err)


async def test_a_second_run_is_refused_in_one_line(tmp_path: Path, with_password: str) -> None:
    await make_history(tmp_path / "state")
    assert run("store", "migrate-to", with_password, "--state", str(tmp_path / "state"))[0] == 0
    code, out, err = run("store", "migrate-to", with_password, "--state",
                         str(tmp_path / "state"))
    assert (code, out) == (2, "")
    assert err == (f"router store migrate-to: {shown(with_password)}: the database is not "
                   "empty: its alerts table holds 12 rows (a router has used it, or a copy was "
                   "made before): copy into an empty database\n")


async def test_a_database_at_another_version_is_refused(tmp_path: Path,
                                                        with_password: str) -> None:
    import psycopg

    await make_history(tmp_path / "state")
    with psycopg.connect(with_password.replace(":${env:ROUTER_PG_PASSWORD}", ""),
                         autocommit=True) as database:
        database.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        database.execute("INSERT INTO schema_version VALUES (1)")
    code, _, err = run("store", "migrate-to", with_password, "--state", str(tmp_path / "state"))
    assert code == 2
    assert err.endswith(f"the database holds router's schema at version 1, this router's is "
                        f"{len(migrations.MIGRATIONS)}: copy into an empty database\n")
    assert err.count("\n") == 1


async def test_refused_while_a_daemon_answers_on_the_socket(tmp_path: Path,
                                                            with_password: str) -> None:
    state = tmp_path / "state"
    await make_history(state)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as daemon:
        daemon.bind(str(state / "router.sock"))
        daemon.listen()
        code, out, err = run("store", "migrate-to", with_password, "--state", str(state))
    assert (code, out) == (2, "")
    assert err == (f"router store migrate-to: a router daemon is running on this store "
                   f"({state / 'router.sock'} answers): stop it first; what it accepts after "
                   "the copy would never reach PostgreSQL\n")
    # a socket left behind by a daemon that stopped: nobody answers, the copy goes ahead
    assert run("store", "migrate-to", with_password, "--state", str(state))[0] == 0


def test_a_password_written_in_the_url_is_refused_unprinted(tmp_path: Path) -> None:
    code, out, err = run("store", "migrate-to", f"postgresql://router:{SECRET}@db/router",
                         "--state", str(tmp_path))
    assert (code, out) == (2, "")
    assert err == ("router store migrate-to: a password is written in the URL: write it as "
                   "${file:PATH} or ${env:NAME} (postgresql://USER:${file:PATH}@HOST/DATABASE; "
                   "the file holds only the password), never in the config or on a command "
                   "line\n")
    assert_no_secret(out, err)


def test_not_a_postgresql_url_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("store", "migrate-to", "mysql://router@db/router", "--state",
                       str(tmp_path))
    assert code == 2
    assert err == ("router store migrate-to: expected sqlite or a PostgreSQL URL such as "
                   "postgresql://USER:${file:PATH}@HOST/DATABASE (or postgres://), got a "
                   "'mysql' URL\n")


def test_a_password_file_that_is_missing_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("store", "migrate-to",
                       "postgresql://router:${file:/nonexistent/pg}@db/router",
                       "--state", str(tmp_path))
    assert code == 2
    assert err == ("router store migrate-to: URL: secret file '/nonexistent/pg' does not "
                   "exist\n")


async def test_a_server_that_cannot_be_reached_fails_fast_unprinted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await make_history(tmp_path / "state")
    (tmp_path / "password").write_text(SECRET + "\n")
    started = time.monotonic()
    code, out, err = run("store", "migrate-to",
                         f"postgresql://router:${{file:{tmp_path / 'password'}}}"
                         "@127.0.0.1:1/router", "--state", str(tmp_path / "state"))
    assert time.monotonic() - started < 15
    assert (code, out) == (1, "")
    assert err.startswith("router store migrate-to: postgresql://127.0.0.1:1/router: cannot "
                          "connect: ")
    assert err.count("\n") == 1
    assert_no_secret(out, err)


def test_no_store_in_the_state_directory(tmp_path: Path, with_password: str) -> None:
    code, _, err = run("store", "migrate-to", with_password, "--state", str(tmp_path))
    assert code == 1
    assert err == (f"router store migrate-to: {shown(with_password)}: no store "
                   f"{tmp_path / 'router.db'}\n")


async def test_a_copy_that_fails_half_way_is_one_line_and_exit_1(tmp_path: Path,
                                                                  with_password: str) -> None:
    path = await make_history(tmp_path / "state")
    with sqlite3.connect(path) as lite:  # text with a NUL: SQLite keeps it, PostgreSQL not
        lite.execute("UPDATE alerts SET summary = ? WHERE id = 3", ("a\x00b",))
    code, out, err = run("store", "migrate-to", with_password, "--state", str(tmp_path / "state"))
    assert (code, out) == (1, "")
    assert err == (f"router store migrate-to: {shown(with_password)}: PostgreSQL text "
                   "fields cannot contain NUL (0x00) bytes (nothing was written)\n")


async def test_the_whole_url_from_one_reference(tmp_path: Path, postgres_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    await make_history(tmp_path / "state")
    whole = postgres_url.replace("://router@", f"://router:{quote(SECRET, safe='')}@")
    monkeypatch.setenv("ROUTER_STORE_URL", whole)
    code, out, err = run("store", "migrate-to", "${env:ROUTER_STORE_URL}", "--state",
                         str(tmp_path / "state"))
    assert (code, err) == (0, "")
    assert out.startswith(f"copied {tmp_path / 'state' / 'router.db'} to {shown(whole)} ")
    assert_no_secret(out, err)


def test_a_password_with_a_slash_in_a_url_that_breaks_is_never_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The URL (from one reference) holds its password unencoded, `/` and all: libpq would
    read it as another user at another host, and no message shows a piece of it."""
    monkeypatch.setenv("ROUTER_STORE_URL", f"postgresql://router:{SECRET}@127.0.0.1:1/db")
    code, out, err = run("store", "migrate-to", "${env:ROUTER_STORE_URL}", "--state",
                         str(tmp_path))
    assert code == 2
    assert err == ("router store migrate-to: the URL in ${env:ROUTER_STORE_URL}: the URL's "
                   "user info holds '/', '?', '#' or '@' as it is, which breaks the URL apart: "
                   "percent-encode them (%2F, %3F, %23, %40)\n")
    assert_no_secret(out, err)


@pytest.mark.parametrize("url", [
    "mysql://router@db/router", "postgresql:/db/router", "postgresql://db:port/router",
    f"postgresql://router:{SECRET}@db/router", "postgresql://router@db/r?password=x",
    "postgresql://router:${env:ROUTER_UNSET_PG}@db/router", "${env:ROUTER_STORE_URL}",
    "postgresql://router:${file:/nonexistent/pg}@db/router"])
def test_the_url_is_read_by_the_one_rule_of_settings_store(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """migrate-to reads its URL as `--store` and settings.store do (config.database_url):
    what one refuses the other refuses, in the same words."""
    monkeypatch.setenv("ROUTER_STORE_URL", f"postgresql://ops:{SECRET}@127.0.0.1:1/db")
    code, out, err = run("store", "migrate-to", url, "--state", str(tmp_path))
    flag_code, _, flag_err = run("incidents", "--store", url)
    assert (code, flag_code) == (2, 2)
    reason = flag_err.splitlines()[-1].removeprefix("router incidents: error: argument --store: ")
    assert err.removeprefix("router store migrate-to: ").removeprefix("URL: ") == reason + "\n"
    assert_no_secret(out, err)


def test_the_cli_shows_the_same_history_before_and_after_the_copy(
        tmp_path: Path, postgres_url: str, with_password: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The round trip an operator makes: what `router incidents` and `router incident show`
    print from the SQLite state directory, they print from PostgreSQL after migrate-to, the
    same to the byte. Sync: the CLI's with_engine calls trio.run itself."""
    state, empty = tmp_path / "state", tmp_path / "empty"
    trio.run(make_history, state)
    empty.mkdir()
    monkeypatch.chdir(tmp_path)  # no config/ here: these commands need only the store

    def shown_from(*where: str) -> list[str]:
        code, listed, err = run("incidents", *where, "--format", "json")
        assert (code, err) == (0, ""), err
        numbers = [incident["id"] for incident in json.loads(listed)["incidents"]]
        assert len(numbers) == 6
        pages = [listed]
        for number in numbers:
            code, page, err = run("incident", "show", number, *where, "--format", "json")
            assert (code, err) == (0, ""), err
            pages.append(page)
        return pages

    before = shown_from("--state", str(state))
    assert run("store", "migrate-to", with_password, "--state", str(state))[0] == 0
    after = shown_from("--store", with_password, "--state", str(empty))
    assert after == before
