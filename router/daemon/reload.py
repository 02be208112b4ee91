"""Config reload: one reload at a time, and the watcher that asks for one after the config
changed on disk (room: daemon; imports config, engine, errors, logs, clock).

A reload loads and validates the whole config off the event loop and swaps it into the engine
only if it is valid; an invalid config leaves the running one in force, every problem logged
at ERROR with its file and line. Three triggers ask for one, all through `daemon.reload`:
SIGHUP, `POST /-/reload`, and `watch_config` after a burst of file changes. `Reloader` runs
them one at a time, and a request that arrives while a reload runs is answered by exactly one
more reload (not one per request), which reads the files as they are after it.

What the watcher copes with (protocols.md §6.3):
- editors that write a temporary file and rename it over the config, and their swap and
  backup files (never a trigger);
- `git checkout`/`git pull`, which unlink and re-create many files in a burst: changes are
  gathered until the burst has been quiet for `WatchTiming.settle`, then one reload runs;
- the symlink swap of git-sync and Kubernetes ConfigMaps (`..data -> ..2026_...`, replaced by
  a rename): a path given with `--config` is watched through the directories holding every
  link on the way to it, not only where it leads today, and the watch is planned again after
  each reload, so it follows the swap.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import trio
import watchfiles

from router.clock import Clock
from router.config import ConfigInvalid
from router.config.model import Config, StoreSetting
from router.daemon.logs import Redactor, secrets_in
from router.engine import Engine
from router.errors import Problem, Where

logger = logging.getLogger(__name__)

Load = Callable[[Sequence[Path]], Awaitable[Config]]
Reload = Callable[[str], Awaitable[object]]
"""What the watcher calls with its trigger name ("watch"): the daemon's one entry point."""
Prepare = Callable[[Config], Awaitable[Callable[[], None]]]
"""What a reload does beside the config (the TLS certificate): given the new config, all
the fallible work, returning the swap to make together with the config's; raises
ConfigInvalid to reject the reload, which then keeps the old config and everything else."""

_EDITOR_LEFTOVERS = (*watchfiles.DefaultFilter.ignore_entity_patterns,
                     r"^4913$",  # vim's probe that the directory is writable
                     r"^#.*#$",  # emacs auto-save
                     r"\.kate-swp$")
_MAX_LINKS = 40  # as the kernel's ELOOP limit: a link loop is not followed forever


@dataclass(frozen=True, slots=True, kw_only=True)
class ReloadStatus:
    """What the reloads since start came to; `/metrics` reads it. The config loaded at
    start counts as the first success (as Prometheus and Alertmanager count it)."""

    successes: int = 0
    failures: int = 0
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_ok: bool = True
    last_problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """One reload's result: the new config's summary, or every problem that kept it out."""

    summary: str = ""
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


class Reloader:
    """Loads the config again on request, swaps it in if valid, one reload at a time."""

    def __init__(self, engine: Engine, paths: Sequence[Path], clock: Clock, *,
                 load: Load, redactor: Redactor | None = None,
                 prepare: Prepare | None = None, store_given: bool = False) -> None:
        """`store_given`: the store was named by `router run --store`, which wins over
        settings.store, so a change of the setting changes nothing even at a restart."""
        self.engine = engine
        self.store_given = store_given
        self.prepare = prepare
        self.paths = tuple(paths)
        self.clock = clock
        self.redactor = redactor
        self.status = ReloadStatus(last_success=clock.now())
        self._load = load
        self._lock = trio.Lock()  # FIFO: waiters run in the order they asked
        self._requested = 0  # requests so far
        self._covered = 0  # requests made before the last finished reload began
        self._last = ReloadOutcome()

    async def reload(self, trigger: str) -> ReloadOutcome:
        """Reload (trigger: "signal", "api", "watch"), or, when a reload that began after
        this request already finished, answer with its outcome."""
        self._requested += 1
        ticket = self._requested
        async with self._lock:
            if ticket <= self._covered:
                return self._last
            covering = self._requested
            outcome = await self._load_and_swap(trigger)
            self._covered, self._last = covering, outcome
            return outcome

    async def _load_and_swap(self, trigger: str) -> ReloadOutcome:
        started = trio.current_time()
        try:
            config = await self._load(self.paths)
            swap = None if self.prepare is None else await self.prepare(config)
            if self.redactor is not None:
                self.redactor.learn(secrets_in(config))
            before = self.engine.config.settings.store
            self.engine.use_config(config)  # the one write; readers take it per use case
            if swap is not None:
                swap()
            await self.engine.schedule_handoffs()  # rotas may have changed
            await self.engine.schedule_heartbeats()  # and heartbeats
        except ConfigInvalid as invalid:
            return self._rejected(trigger, tuple(invalid.problems))
        except Exception as error:  # a bug or an I/O failure must never stop paging
            logger.exception("config reload failed", extra={"trigger": trigger})
            return self._rejected(trigger, (Problem(Where(""), "", f"reload failed: {error}"),))
        for warning in config.warnings:
            logger.warning("config warning: %s", warning, extra=_place(warning))
        _warn_store_change(before, config.settings.store, given=self.store_given)
        logger.info("config reloaded: %s", config.summary(), extra={
            "trigger": trigger,
            "duration_ms": round((trio.current_time() - started) * 1000, 1)})
        status = self.status
        self.status = ReloadStatus(successes=status.successes + 1, failures=status.failures,
                                   last_success=self.clock.now(),
                                   last_failure=status.last_failure)
        return ReloadOutcome(config.summary())

    def _rejected(self, trigger: str, problems: tuple[Problem, ...]) -> ReloadOutcome:
        for problem in problems:
            level = logging.WARNING if problem.severity == "warning" else logging.ERROR
            logger.log(level, "config reload rejected: %s", problem,
                       extra={"trigger": trigger, **_place(problem)})
        errors = sum(problem.severity == "error" for problem in problems)
        logger.error("config reload rejected with %d problem%s; the running config stays "
                     "in force", errors, "" if errors == 1 else "s", extra={"trigger": trigger})
        status = self.status
        self.status = ReloadStatus(successes=status.successes, failures=status.failures + 1,
                                   last_success=status.last_success,
                                   last_failure=self.clock.now(), last_ok=False,
                                   last_problems=problems)
        return ReloadOutcome(problems=problems)


def _warn_store_change(before: StoreSetting, after: StoreSetting, *, given: bool) -> None:
    """The store is opened once, at start: a reload that changes settings.store (another
    URL, or its password) keeps the running store and says so."""
    if _store_key(before) == _store_key(after):
        return
    if given:
        logger.warning("settings.store changed to %s, but router run --store names the store: "
                       "the setting is not used", _shown(after),
                       extra={"store": _shown(after)})
        return
    change = (f"it changed from {_shown(before)} to {_shown(after)}"
              if _shown(before) != _shown(after)
              else "its URL changed (user, password or options)")
    logger.warning("settings.store: %s; that takes effect at the next start, the running "
                   "store stays in use until then", change,
                   extra={"store": _shown(before), "configured": _shown(after)})


def _store_key(setting: StoreSetting) -> object:
    """What tells two settings apart: not where they were written."""
    return setting if isinstance(setting, str) else (setting.written, setting.url)


def _shown(setting: StoreSetting) -> str:
    return setting if isinstance(setting, str) else setting.shown


def _place(problem: Problem) -> dict[str, object]:
    return {"file": problem.where.file, "line": problem.where.line,
            "column": problem.where.column, "path": problem.path}


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchTiming:
    """How changes are gathered into one reload; the defaults suit editors and git."""

    quiet: timedelta = timedelta(milliseconds=100)
    """watchfiles' `step`: a batch of changes ends after this long without another."""
    batch: timedelta = timedelta(milliseconds=1600)
    """watchfiles' `debounce`: a batch ends after this long even if changes go on."""
    settle: timedelta = timedelta(milliseconds=300)
    """After a batch, wait for more this long: git writes file after file."""
    longest: timedelta = timedelta(seconds=5)
    """Reload after this long even if changes never stop."""
    retry: timedelta = timedelta(seconds=2)
    """After the watch itself failed (a directory vanished), watch again after this long,
    doubling on each failure in a row up to a minute."""


@dataclass(frozen=True, slots=True)
class WatchPlan:
    """Which directories to watch for a set of config paths, and which changes matter.

    `trees` are config directories (real paths), watched recursively: any change below them
    matters. `parents` hold a given file or a link on the way to a given path, and are
    watched flat: only a change to one of `names` matters there.
    """

    trees: frozenset[Path] = frozenset()
    parents: frozenset[Path] = frozenset()
    names: frozenset[Path] = frozenset()
    identities: frozenset[tuple[int, int]] = frozenset()
    """(device, inode) of each watched directory: one replaced by another of the same name
    (`mv new config`) makes a new plan, as the old watch follows the old directory."""


def resolve_links(path: Path) -> tuple[list[Path], Path]:
    """The symlinks met while resolving `path`, each as it is named (in the directory that
    holds it), and the real path it leads to (which may not exist)."""
    pending = list(Path(os.path.abspath(path)).parts)
    current = Path(pending.pop(0))
    links: list[Path] = []
    while pending:
        part = pending.pop(0)
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        try:
            target = Path(os.readlink(candidate)) if len(links) < _MAX_LINKS else None
        except OSError:  # not a link, or not there
            target = None
        if target is None:
            current = candidate
            continue
        links.append(candidate)
        if target.is_absolute():
            current = Path(target.anchor)
            pending[:0] = target.parts[1:]
        else:
            pending[:0] = target.parts
    return links, current


def plan_watch(paths: Sequence[Path]) -> WatchPlan:
    """Where to watch so that every way the config at `paths` can change is seen."""
    trees: set[Path] = set()
    parents: set[Path] = set()
    names: set[Path] = set()
    for path in paths:
        links, real = resolve_links(path)
        names.update(links)
        parents.update(link.parent for link in links)
        if real.is_dir():
            trees.add(real)
        # A file, a directory that may be replaced whole, a path that is gone for now (git
        # unlinks, then writes): each is seen from the nearest directory that holds it.
        while not real.parent.is_dir() and real.parent != real:
            real = real.parent
        names.add(real)
        parents.add(real.parent)
    flat = {parent for parent in parents if parent.is_dir()
            and not any(parent == tree or tree in parent.parents for tree in trees)}
    identities = {_identity(directory) for directory in trees | flat}
    return WatchPlan(frozenset(trees), frozenset(flat), frozenset(names),
                     frozenset(identity for identity in identities if identity))


def _identity(directory: Path) -> tuple[int, int] | None:
    try:
        status = directory.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


@dataclass(frozen=True, slots=True)
class _Filter:
    """Which changes matter: never editors' leftovers or the state directory; in a flat
    watch, only the names the plan lists."""

    names: frozenset[Path] | None
    ignore: tuple[Path, ...]
    base: watchfiles.DefaultFilter = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", watchfiles.DefaultFilter(
            ignore_entity_patterns=_EDITOR_LEFTOVERS, ignore_paths=self.ignore))

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if self.names is not None:
            return Path(path) in self.names
        return self.base(change, path)


async def watch_config(paths: Sequence[Path], reload: Reload, *, ignore: Sequence[Path] = (),
                       timing: WatchTiming = WatchTiming(),
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Call `reload("watch")` after every burst of changes to the config, until cancelled.

    Args:
        ignore: directories whose changes never matter (the state directory: the store
            writes there all the time, and it may sit inside a config directory).
    """
    ignored = await trio.to_thread.run_sync(lambda: tuple(path.resolve() for path in ignore))
    failures = 0
    replanned = False  # the config loaded at start is current; after a new plan it may not be
    task_status.started()
    while True:
        plan = await trio.to_thread.run_sync(plan_watch, paths)
        if plan.trees or plan.parents:
            logger.info("watching the config for changes", extra={
                "directories": sorted(map(str, plan.trees)),
                "links_and_files": sorted(map(str, plan.names))})
            failed = await _watch_once(plan, paths, reload, ignored, timing,
                                       reload_first=replanned)
        else:
            logger.warning("nothing of the config is left to watch; looking again shortly",
                           extra={"paths": [str(path) for path in paths]})
            failed = True
        replanned = True
        failures = failures + 1 if failed else 0
        if failed:
            backoff = timing.retry.total_seconds() * 2 ** min(failures - 1, 5)
            await trio.sleep(min(backoff, 60.0))


async def _watch_once(plan: WatchPlan, paths: Sequence[Path], reload: Reload,
                      ignored: tuple[Path, ...], timing: WatchTiming, *,
                      reload_first: bool) -> bool:
    """Watch as `plan` says until it must be made again; True if a watch failed.

    With `reload_first`, reload once the new watch is in place: what changed between the
    last reload and now (a swap right after another) was seen by no watch.
    """
    send, receive = trio.open_memory_channel[bool](math.inf)  # True: a watch failed
    async with trio.open_nursery() as nursery:
        if plan.trees:
            nursery.start_soon(_watch_batches, sorted(plan.trees), True,
                               _Filter(None, ignored), send.clone(), timing)
        if plan.parents:
            nursery.start_soon(_watch_batches, sorted(plan.parents), False,
                               _Filter(plan.names, ignored), send.clone(), timing)
        if reload_first:
            await trio.sleep(timing.settle.total_seconds())  # the watches start meanwhile
            await reload("watch")
        failed = await _reload_after_changes(receive, plan, paths, reload, timing)
        nursery.cancel_scope.cancel()
    return failed


async def _reload_after_changes(receive: trio.MemoryReceiveChannel[bool], plan: WatchPlan,
                                paths: Sequence[Path], reload: Reload,
                                timing: WatchTiming) -> bool:
    """Reload once per burst; return when the plan is out of date (True: a watch failed)."""
    async for failed in receive:
        if failed:
            return True
        # Changes that arrive while the reload below runs wait in the channel and make
        # exactly one more reload.
        deadline = trio.current_time() + timing.longest.total_seconds()
        while True:
            wait = min(timing.settle.total_seconds(), deadline - trio.current_time())
            with trio.move_on_after(max(wait, 0)):
                if await receive.receive():
                    return True
                continue
            break
        if await trio.to_thread.run_sync(plan_watch, paths) != plan:
            return False  # the next plan's watch reloads once it is in place
        await reload("watch")
    return False


async def _watch_batches(roots: Sequence[Path], recursive: bool, keep: _Filter,
                         send: trio.MemorySendChannel[bool], timing: WatchTiming) -> None:
    """Send False after each batch of changes that matter, True once if the watch fails."""
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        # watchfiles waits in a worker thread that only looks at `stop`; setting it at once
        # on cancellation ends the wait within `quiet` instead of its 5 s timeout.
        nursery.start_soon(_set_when_cancelled, stop)
        batches = watchfiles.awatch(
            *roots, watch_filter=keep, recursive=recursive, stop_event=stop,
            debounce=int(timing.batch.total_seconds() * 1000),
            step=int(timing.quiet.total_seconds() * 1000))
        try:
            async with aclosing(batches):
                async for batch in batches:
                    logger.debug("config files changed", extra={
                        "changes": sorted(f"{change.name} {path}" for change, path in batch)})
                    send.send_nowait(False)
        except (OSError, RuntimeError) as error:  # watchfiles' own errors are RuntimeErrors
            logger.warning("watching the config failed: %s", error,
                           extra={"directories": [str(root) for root in roots]})
            send.send_nowait(True)
        nursery.cancel_scope.cancel()


async def _set_when_cancelled(stop: trio.Event) -> None:
    try:
        await trio.sleep_forever()
    finally:
        stop.set()
