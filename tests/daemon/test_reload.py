"""Reloads one at a time, and the watcher over real files: edits, rename-replace, git-style
bursts, editors' leftovers, and the ..data symlink swap of git-sync and ConfigMaps.

The watcher tests run watchfiles for real (inotify, worker threads, the real clock): they poll
with a deadline for what must happen, and wait a short fixed time only to show that something
does not.
"""

from __future__ import annotations

import logging
import os
import shutil
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from router.cli.reload import reload_url
from router.clock import FixedClock
from router.config import ConfigInvalid, load_config
from router.config.model import Config
from router.daemon.logs import Redactor
from router.daemon.reload import (
    Reloader,
    WatchPlan,
    WatchTiming,
    plan_watch,
    resolve_links,
    watch_config,
)
from router.engine import Engine
from router.errors import Problem, Where
from router.store import Store

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CONFIG = """
channels:
  - {id: log, type: log}
services:
  - {id: api, channels: [log]}
"""
TWO_SERVICES = CONFIG + "  - {id: database, channels: [log]}\n"
INVALID = """
channels:
  - {id: log, type: log}
services:
  - {id: api, channels: [lgo]}
  - {id: database, channels: [log], escalation_policy: nightly}
"""
FAST = WatchTiming(quiet=timedelta(milliseconds=50), settle=timedelta(milliseconds=300))
QUIET_TIME = 0.8  # seconds with nothing happening that show nothing more will
DEADLINE = 10.0


async def load(paths: Sequence[Path]) -> Config:
    return await trio.to_thread.run_sync(lambda: load_config(list(paths)))


async def eventually(condition: Callable[[], object], what: str) -> None:
    with trio.move_on_after(DEADLINE):
        while not condition():  # noqa: ASYNC110 (files change outside trio: poll them)
            await trio.sleep(0.02)
        return
    raise AssertionError(f"{what}: not within {DEADLINE} s")


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text(CONFIG)
    store = await Store.open(tmp_path / "state.db")
    try:
        yield Engine(load_config([tmp_path / "config"]), store, FixedClock(START))
    finally:
        await store.close()


def reloader_of(engine: Engine, tmp_path: Path, **options: object) -> Reloader:
    clock = FixedClock(START)
    return Reloader(engine, [tmp_path / "config"], clock,
                    load=options.pop("load", load), **options)  # type: ignore[arg-type]


async def test_a_valid_config_is_swapped_in(engine: Engine, tmp_path: Path) -> None:
    reloader = reloader_of(engine, tmp_path)
    assert reloader.status.last_success == START and reloader.status.successes == 0
    (tmp_path / "config" / "router.yaml").write_text(TWO_SERVICES)
    reloader.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    outcome = await reloader.reload("signal")
    assert outcome.ok
    assert outcome.summary == ("0 people, 1 channel, 0 rotas, 0 escalation policies, "
                               "2 services, 0 routes, 0 suppressions from 1 file")
    assert sorted(engine.snapshot.config.services) == ["api", "database"]
    status = reloader.status
    assert (status.successes, status.failures, status.last_ok) == (1, 0, True)
    assert status.last_success == START + timedelta(minutes=5)


async def test_an_invalid_config_keeps_the_old_one_and_logs_every_problem(
        engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    reloader = reloader_of(engine, tmp_path)
    running = engine.snapshot.config
    (tmp_path / "config" / "router.yaml").write_text(INVALID)
    with caplog.at_level(logging.INFO, logger="router.daemon.reload"):
        outcome = await reloader.reload("api")
    assert engine.snapshot.config is running
    file = str(tmp_path / "config" / "router.yaml")
    assert [str(problem) for problem in outcome.problems] == [
        f"{file}:5:26: services[0].channels[0]: no channel with id 'lgo' (did you mean "
        "'log'?)",
        f"{file}:6:56: services[1].escalation_policy: no escalation policy with id 'nightly'"]
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        *(f"config reload rejected: {problem}" for problem in outcome.problems),
        "config reload rejected with 2 problems; the running config stays in force"]
    assert [(record.file, record.line, record.trigger) for record in errors[:2]] == [  # type: ignore[attr-defined]
        (file, 5, "api"), (file, 6, "api")]
    status = reloader.status
    assert (status.successes, status.failures, status.last_ok) == (0, 1, False)
    assert status.last_failure == START and status.last_problems == outcome.problems
    (tmp_path / "config" / "router.yaml").write_text(TWO_SERVICES)
    assert (await reloader.reload("api")).ok
    assert reloader.status.last_ok and reloader.status.last_problems == ()


async def test_the_prepare_hook_swaps_with_the_config_or_rejects_the_reload(
        engine: Engine, tmp_path: Path) -> None:
    """The TLS certificate's hook: its swap runs only with a config swapped in, and its
    ConfigInvalid rejects the reload, keeping the config in force."""
    swapped: list[Config] = []
    broken = Problem(Where("/etc/router/tls.pem"), "tls", "the certificate does not load")

    async def prepare(config: Config) -> Callable[[], None]:
        if "database" not in config.services:
            raise ConfigInvalid([broken])
        return lambda: swapped.append(engine.snapshot.config)

    reloader = reloader_of(engine, tmp_path, prepare=prepare)
    running = engine.snapshot.config
    outcome = await reloader.reload("signal")
    assert (outcome.problems, engine.snapshot.config, swapped) == ((broken,), running, [])
    (tmp_path / "config" / "router.yaml").write_text(TWO_SERVICES)
    assert (await reloader.reload("signal")).ok
    assert swapped == [engine.snapshot.config] and engine.snapshot.config is not running


async def test_a_failing_load_is_a_failed_reload_not_a_crash(
        engine: Engine, tmp_path: Path) -> None:
    async def broken(paths: Sequence[Path]) -> Config:
        raise PermissionError(13, "Permission denied")
    reloader = reloader_of(engine, tmp_path, load=broken)
    outcome = await reloader.reload("watch")
    assert [problem.message for problem in outcome.problems] == [
        "reload failed: [Errno 13] Permission denied"]
    assert reloader.status.failures == 1


async def test_requests_during_a_reload_make_exactly_one_more(
        engine: Engine, tmp_path: Path, nursery: trio.Nursery) -> None:
    gate = trio.Event()
    loads: list[str] = []

    async def slow(paths: Sequence[Path]) -> Config:
        loads.append((tmp_path / "config" / "router.yaml").read_text())
        config = await load(paths)
        if len(loads) == 1:
            await gate.wait()
        return config

    reloader = reloader_of(engine, tmp_path, load=slow)
    outcomes: list[str] = []

    async def ask(trigger: str) -> None:
        outcomes.append((await reloader.reload(trigger)).summary)

    nursery.start_soon(ask, "signal")
    await eventually(lambda: loads, "the first load to start")
    (tmp_path / "config" / "router.yaml").write_text(TWO_SERVICES)
    for trigger in ("api", "watch", "api", "signal"):
        nursery.start_soon(ask, trigger)
    await trio.testing.wait_all_tasks_blocked()
    gate.set()
    await eventually(lambda: len(outcomes) == 5, "every request to be answered")
    assert loads == [CONFIG, TWO_SERVICES]
    assert [summary.split(", ")[4] for summary in outcomes] == ["1 service"] + ["2 services"] * 4
    assert reloader.status.successes == 2


async def test_a_reload_teaches_the_redactor_the_new_secrets(
        engine: Engine, tmp_path: Path) -> None:
    redactor = Redactor()
    reloader = reloader_of(engine, tmp_path, redactor=redactor)
    (tmp_path / "config" / "router.yaml").write_text(CONFIG + textwrap.dedent("""
        settings:
          ingest_tokens: [{name: ci, token: "${file:../token}"}]
        """))
    (tmp_path / "token").write_text("t0ken-from-a-file")
    assert (await reloader.reload("signal")).ok
    assert redactor("Bearer t0ken-from-a-file") == "Bearer <secret ${file:../token}>"


# The watch plan: where to look so that every way the config can change is seen.

def configmap(root: Path, version: str, text: str) -> None:
    """What the kubelet (and git-sync) do: files in a fresh ..<version> directory, a new
    ..data_tmp link to it renamed over ..data, the top-level names linked through ..data."""
    (root / f"..{version}").mkdir(parents=True)
    (root / f"..{version}" / "router.yaml").write_text(text)
    os.symlink(f"..{version}", root / "..data_tmp")
    os.replace(root / "..data_tmp", root / "..data")
    if not (root / "router.yaml").is_symlink():
        os.symlink("..data/router.yaml", root / "router.yaml")


def test_links_on_the_way_are_named_where_they_sit(tmp_path: Path) -> None:
    configmap(tmp_path / "mount", "2026_03_02_v1", CONFIG)
    links, real = resolve_links(tmp_path / "mount" / "router.yaml")
    assert links == [tmp_path / "mount" / "router.yaml", tmp_path / "mount" / "..data"]
    assert real == tmp_path / "mount" / "..2026_03_02_v1" / "router.yaml"
    (tmp_path / "loop").symlink_to("loop")
    links, _ = resolve_links(tmp_path / "loop")
    assert len(links) == 40


def test_a_file_behind_the_data_link_is_watched_through_every_link(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    configmap(mount, "v1", CONFIG)
    plan = plan_watch([mount / "router.yaml"])
    assert (plan.trees, plan.parents) == (frozenset(), {mount, mount / "..v1"})
    assert plan.names == {mount / "router.yaml", mount / "..data", mount / "..v1" / "router.yaml"}
    configmap(mount, "v2", TWO_SERVICES)
    assert plan_watch([mount / "router.yaml"]).parents == {mount, mount / "..v2"}


def test_a_directory_is_watched_whole_and_from_its_parent(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "extra.yaml").write_text(CONFIG)
    plan = plan_watch([tmp_path / "config", tmp_path / "config" / "extra.yaml"])
    assert plan.trees == {tmp_path / "config"}
    assert plan.parents == {tmp_path}  # not config itself: the tree watch covers it
    (tmp_path / "new").mkdir()
    os.rename(tmp_path / "config", tmp_path / "old")
    os.rename(tmp_path / "new", tmp_path / "config")  # the same name, another directory
    assert plan_watch([tmp_path / "config", tmp_path / "config" / "extra.yaml"]) != plan


def test_a_missing_path_is_watched_from_the_nearest_directory_there(tmp_path: Path) -> None:
    status = tmp_path.stat()
    assert plan_watch([tmp_path / "later.yaml"]) == WatchPlan(
        frozenset(), frozenset({tmp_path}), frozenset({tmp_path / "later.yaml"}),
        frozenset({(status.st_dev, status.st_ino)}))
    assert plan_watch([tmp_path / "gone" / "deeper" / "router.yaml"]).names == {
        tmp_path / "gone"}


# The watcher, on real files.

class Calls:
    """What the watcher asked for, in order; `hold` makes the next reload wait."""

    def __init__(self) -> None:
        self.triggers: list[str] = []
        self.release: trio.Event | None = None
        self.read: Path | None = None
        self.contents: list[str] = []  # of `read` at each reload

    async def __call__(self, trigger: str) -> None:
        self.triggers.append(trigger)
        if self.read is not None:
            self.contents.append(self.read.read_text())
        if self.release is not None:
            await self.release.wait()


Watch = Callable[..., Awaitable[Calls]]


@pytest.fixture
def watch(nursery: trio.Nursery) -> Watch:
    async def start(paths: Sequence[Path], timing: WatchTiming = FAST,
                    ignore: Sequence[Path] = ()) -> Calls:
        calls = Calls()
        await nursery.start(lambda task_status: watch_config(
            paths, calls, ignore=ignore, timing=timing, task_status=task_status))
        await trio.sleep(0.3)  # the first watch is in place once its thread waits
        return calls
    return start


async def settled(calls: Calls, count: int) -> None:
    await eventually(lambda: len(calls.triggers) >= count, f"{count} reload(s)")
    await trio.sleep(QUIET_TIME)
    assert calls.triggers == ["watch"] * count


async def test_an_edit_in_place_reloads(watch: Watch, tmp_path: Path) -> None:
    (tmp_path / "router.yaml").write_text(CONFIG)
    calls = await watch([tmp_path])
    with (tmp_path / "router.yaml").open("a") as file:
        file.write("# edited\n")
    await settled(calls, 1)


async def test_write_and_rename_reloads_and_editor_leftovers_do_not(
        watch: Watch, tmp_path: Path) -> None:
    (tmp_path / "router.yaml").write_text(CONFIG)
    calls = await watch([tmp_path])
    for name in (".router.yaml.swp", "router.yaml~", "4913", "#router.yaml#", ".#router.yaml"):
        (tmp_path / name).write_text("scratch")
        (tmp_path / name).unlink()
    (tmp_path / ".git" / "objects").mkdir(parents=True)
    (tmp_path / ".git" / "objects" / "ab").write_text("blob")
    await trio.sleep(QUIET_TIME)
    assert calls.triggers == []
    (tmp_path / "router.yaml.tmp").write_text(TWO_SERVICES)
    os.replace(tmp_path / "router.yaml.tmp", tmp_path / "router.yaml")
    await settled(calls, 1)


async def test_a_git_checkout_of_many_files_reloads_once(watch: Watch, tmp_path: Path) -> None:
    for number in range(30):
        (tmp_path / f"team-{number}.yaml").write_text(CONFIG)
    calls = await watch([tmp_path])
    for number in range(30):  # git: unlink, then create and write
        (tmp_path / f"team-{number}.yaml").unlink()
        (tmp_path / f"team-{number}.yaml").write_text(TWO_SERVICES)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "new.yaml").write_text(CONFIG)
    await settled(calls, 1)


async def test_changes_during_a_reload_make_exactly_one_more(
        watch: Watch, tmp_path: Path) -> None:
    (tmp_path / "router.yaml").write_text(CONFIG)
    calls = await watch([tmp_path])
    calls.release = trio.Event()
    (tmp_path / "router.yaml").write_text(TWO_SERVICES)
    await eventually(lambda: calls.triggers, "the first reload")
    for number in range(5):
        (tmp_path / f"more-{number}.yaml").write_text(CONFIG)
        await trio.sleep(0.1)
    await trio.sleep(QUIET_TIME)  # all of them while the first reload still runs
    calls.release.set()
    await settled(calls, 2)


async def test_the_state_directory_never_triggers(watch: Watch, tmp_path: Path) -> None:
    (tmp_path / "router.yaml").write_text(CONFIG)
    (tmp_path / "state").mkdir()
    calls = await watch([tmp_path], ignore=[tmp_path / "state"])
    (tmp_path / "state" / "router.db-wal").write_bytes(b"\0" * 100)
    await trio.sleep(QUIET_TIME)
    assert calls.triggers == []


@pytest.mark.parametrize("given", ["directory", "file"])
async def test_the_data_symlink_swap_reloads_and_the_watch_follows_it(
        watch: Watch, tmp_path: Path, given: str) -> None:
    mount = tmp_path / "mount"
    configmap(mount, "v1", CONFIG)
    calls = await watch([mount if given == "directory" else mount / "router.yaml"])
    configmap(mount, "v2", TWO_SERVICES)
    shutil.rmtree(mount / "..v1")  # the kubelet removes the old version
    await settled(calls, 1)
    configmap(mount, "v3", CONFIG)
    shutil.rmtree(mount / "..v2")
    await settled(calls, 2)


async def test_a_swap_right_after_a_reload_is_in_force(watch: Watch, tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    configmap(mount, "v1", CONFIG)
    calls = await watch([mount / "router.yaml"])
    calls.read = mount / "router.yaml"
    configmap(mount, "v2", TWO_SERVICES)
    await eventually(lambda: calls.contents[-1:] == [TWO_SERVICES], "v2 loaded")
    configmap(mount, "v3", CONFIG)  # while the watch moves from ..v1 to ..v2
    await eventually(lambda: calls.contents[-1:] == [CONFIG], "v3 loaded")


async def test_a_directory_replaced_whole_is_followed(watch: Watch, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text(CONFIG)
    calls = await watch([tmp_path / "config"])
    (tmp_path / "next").mkdir()
    (tmp_path / "next" / "router.yaml").write_text(TWO_SERVICES)
    os.rename(tmp_path / "config", tmp_path / "previous")
    os.rename(tmp_path / "next", tmp_path / "config")
    await settled(calls, 1)
    await trio.sleep(0.3)  # the new watch is in place once its thread waits
    (tmp_path / "config" / "router.yaml").write_text(CONFIG)  # the new directory
    await settled(calls, 2)


async def test_a_directory_that_goes_and_comes_back_is_watched_again(
        watch: Watch, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text(CONFIG)
    calls = await watch([tmp_path / "config" / "router.yaml"])
    shutil.rmtree(tmp_path / "config")
    await settled(calls, 1)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "router.yaml").write_text(TWO_SERVICES)
    await settled(calls, 2)
    await trio.sleep(0.3)  # the new watch is in place once its thread waits
    (tmp_path / "config" / "router.yaml").write_text(CONFIG)
    await settled(calls, 3)


async def test_cancelling_the_watch_returns_at_once(tmp_path: Path) -> None:
    calls = Calls()
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status: watch_config(
            [tmp_path], calls, task_status=task_status))
        await trio.sleep(0.3)
        started = trio.current_time()
        nursery.cancel_scope.cancel()
    assert trio.current_time() - started < 1.0  # not watchfiles' 5 s timeout


@pytest.mark.parametrize(("listen", "url"), [
    ("127.0.0.1:9080", "http://127.0.0.1:9080/-/reload"),
    (":9080", "http://127.0.0.1:9080/-/reload"),
    ("0.0.0.0:9080", "http://127.0.0.1:9080/-/reload"),
    ("[::]:9080", "http://[::1]:9080/-/reload"),
    ("[fd00::7]:80", "http://[fd00::7]:80/-/reload"),
    ("router.internal:9080", "http://router.internal:9080/-/reload")])
def test_router_reload_reaches_a_wildcard_listener_over_loopback(listen: str, url: str) -> None:
    assert reload_url(listen) == url
