"""The composition root (room: daemon; may import everything).

The only place that opens the root nursery and starts long-running tasks: the HTTP server,
the unix socket server and the signal handler. `run` starts the daemon in phases, in an
order that matters:
1. the config (it names everything else), the state directory (SQLite's file and the admin
   token live there) and the store (daemon/opening.py). From here on a start that fails
   closes the store (on PostgreSQL a pool of connections, which a supervisor restarting the
   daemon would pile up on the server) and the transport, as a stop does.
2. `_assemble`: the engine and every service around it, built and wired; nothing runs yet.
3. `_address`: where HTTP listens, bound before any task starts (a taken port is one error,
   not a group of them).
4. `_start_tasks`: every task but the servers: signals, reloads, delivery, timers, ...
5. `_serve`: the servers last, so that READY means alerts are delivered and timers fire.
It owns shutdown and reload:
- SIGTERM / SIGINT: stop accepting, let in-flight requests finish within the servers'
  grace, leave pending notifications and timers in the store, return (exit 0). A second
  signal cancels everything at once.
- reload, on SIGHUP, on `POST /-/reload` and when the config changes on disk (the watcher
  of router/daemon/reload.py): load and validate the config again off the event loop; swap it in
  only if valid, else log every problem and keep the old one; one reload at a time. A
  reload also reads the TLS certificate and key again: new connections get the new ones,
  and a pair that does not load rejects the reload like an invalid config.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import trio

from router import __version__
from router.clock import Clock, SystemClock
from router.config import ConfigInvalid, load_config
from router.config.model import Config
from router.config.values import parse_listen
from router.daemon import systemd
from router.daemon.logs import Redactor, secrets_in
from router.daemon.metrics import Metrics
from router.daemon.opening import (
    links_key,
    listen,
    open_daemon_store,
    open_web,
    prepare_state,
)
from router.daemon.options import Options
from router.daemon.reload import Reloader, ReloadOutcome, watch_config
from router.daemon.shared_keys import feed_tokens
from router.daemon.tls_files import reload_tls, start_tls
from router.daemon.web_logins import SessionKeyUnusable, prepare_key
from router.daemon.web_status import revision, status_source
from router.engine import Engine
from router.engine.cluster import Identity
from router.engine.retention import Retention
from router.engine.scheduler import Scheduler
from router.errors import Problem, Where
from router.notify.deliver import Deliverer
from router.notify.transport import Transport
from router.notify.wire import HttpRequest
from router.probes.runner import CheckRunner
from router.server.api import build_routes
from router.server.http import Limits, bound_port, serve_listeners
from router.server.link_pages import LinkPages
from router.server.routes import Routes
from router.server.slack_actions import Responder, SlackActions
from router.server.socket import serve_socket
from router.server.tls import Certificates
from router.store.interface import OUTBOX, Store
from router.store.opening import describe
from router.web.access import WebAccess
from router.web.pages import page_routes

logger = logging.getLogger(__name__)
SOCKET_NAME = "router.sock"


def _beyond_loopback(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host != "localhost"


async def load(paths: Sequence[Path]) -> Config:
    """Load the config in a worker thread: parsing a large config must not stall the loop."""
    return await trio.to_thread.run_sync(lambda: load_config(list(paths)))


async def run(options: Options, *, clock: Clock | None = None,
              redactor: Redactor | None = None,
              task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED
              ) -> None:
    """Run until SIGTERM/SIGINT, started in the phases the module's docstring tells.
    Reports (host, port) once both listeners accept. `redactor` (the log lines') learns the
    config's secret values, at start and on reload.

    Raises:
        ConfigInvalid: the config is invalid at start.
        StartFailed: the state directory, the store or the listen address cannot be used.
        BackendMissing: the store is a URL, and this router has no PostgreSQL support.
    """
    config = await load(options.config_paths)
    activated = systemd.listeners(systemd.listen_fds())  # socket activation: not --listen
    admin_token = await trio.to_thread.run_sync(prepare_state, options.state_dir)
    store_setting = options.store or config.settings.store
    if redactor is not None:
        redactor.learn(secrets_in(store_setting))  # before its first word is logged
    store = await open_daemon_store(store_setting, options.state_dir)
    transport = Transport()
    try:  # from here on, a start that fails closes the store (on PostgreSQL: a pool)
        shown = describe(store_setting, options.state_dir)
        logger.info("store %s, node %s", shown, options.node_id,
                    extra={"store": shown, "node": options.node_id})
        parts = await _assemble(options, config, store, transport, clock or SystemClock(),
                                redactor, admin_token=admin_token, shown=shown)
        host, port = _address(options, config, activated, tls=parts.certificates is not None)
        shutdown = trio.Event()
        # Bound before any task starts, so that a taken port is one error, not a group.
        listeners = activated or await listen(host, port)
        async with trio.open_nursery() as nursery:
            await _start_tasks(nursery, parts, shutdown)
            await _serve(parts, host, listeners, shutdown, task_status)
            nursery.cancel_scope.cancel()  # the signal handler
    finally:
        with trio.CancelScope(shield=True):
            await transport.aclose()
            await store.close()
    logger.info("stopped")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Parts:
    """What the later phases of the start-up share: the engine and the services around it,
    built and wired by `_assemble`, none of them running yet."""

    options: Options
    config: Config  # as loaded at start: the listeners' (a reload does not rebind them)
    store: Store
    clock: Clock
    engine: Engine
    certificates: Certificates | None
    web: WebAccess
    shared: bool  # the nodes' keys and feed tokens are the store's (PostgreSQL)
    reloader: Reloader
    link_pages: LinkPages
    deliverer: Deliverer
    slack_replies: Responder
    scheduler: Scheduler
    check_runner: CheckRunner
    metrics: Metrics
    admin_token: str
    shown: str  # the store as messages name it, without a password


async def _assemble(options: Options, config: Config, store: Store, transport: Transport,
                    clock: Clock, redactor: Redactor | None, *, admin_token: str,
                    shown: str) -> _Parts:
    """The engine and every service around it, built and wired; nothing runs yet. The
    redactor learns the config's secrets before anything can log one; the TLS files
    (ConfigInvalid) and the keys (StartFailed) are read before any listener is bound, so a
    bad one stops the start; the TLS files before the web (its cookies are Secure under
    TLS), and the store says whether the keys are its own before they are read."""
    engine = Engine(config, store, clock)
    if redactor is not None:
        redactor.learn(secrets_in(config))
    certificates = await start_tls(config, options)
    shared = await engine.secrets.shared()  # PostgreSQL: the nodes' keys live in the store
    web = await open_web(engine, options.state_dir, tls=certificates is not None,
                         shared=shared)
    reloader = Reloader(engine, options.config_paths, clock, load=load,
                        redactor=redactor, prepare=functools.partial(
                            _prepare_reload, certificates, options, web, engine, shared),
                        store_given=options.store is not None)
    link_pages = LinkPages(engine, await links_key(engine, options.state_dir, shared))
    deliverer = Deliverer(store, clock, lambda: engine.config, transport, node=options.node_id,
                          acknowledge_url=lambda channel, notification, incident:
                          link_pages.acknowledge_url(channel.type, notification.event,
                                                     incident.id))
    scheduler = Scheduler(engine)
    check_runner = CheckRunner(engine, transport)
    metrics = Metrics(store, version=__version__, reloads=lambda: reloader.status,
                      cluster=engine.cluster.view)
    _wire(engine, deliverer, scheduler, check_runner, metrics)
    return _Parts(options=options, config=config, store=store, clock=clock, engine=engine,
                  certificates=certificates, web=web, shared=shared, reloader=reloader,
                  link_pages=link_pages, deliverer=deliverer,
                  slack_replies=Responder(functools.partial(_post_json, transport)),
                  scheduler=scheduler, check_runner=check_runner, metrics=metrics,
                  admin_token=admin_token, shown=shown)


def _wire(engine: Engine, deliverer: Deliverer, scheduler: Scheduler,
          check_runner: CheckRunner, metrics: Metrics) -> None:
    """The engine's hooks: a commit that wrote notifications wakes the deliverer, one that
    wrote timers the scheduler; `attach_checks` runs the checks at once; metrics count
    every delivery attempt and every timer fired."""
    engine.outbox_written = deliverer.wake
    engine.health.measure = check_runner.run_once
    engine.timers_written = scheduler.poke
    deliverer.on_attempt = metrics.delivery_attempted
    scheduler.on_fired = metrics.timer_fired


def _address(options: Options, config: Config, activated: Sequence[trio.SocketListener], *,
             tls: bool) -> tuple[str, int]:
    """Where HTTP listens: the sockets systemd handed over, else --listen, else
    settings.listen; with a warning for each setting that address makes risky."""
    host, port = parse_listen(options.listen or config.settings.listen)
    if activated:
        host, port = activated[0].socket.getsockname()[:2]
    if _beyond_loopback(host) and not config.settings.ingest_tokens:
        logger.warning("listening on %s beyond loopback with no ingest tokens configured: "
                       "only local senders can post alerts (settings.ingest_tokens, "
                       "docs/security.md)", host, extra={"host": host})
    if host in ("0.0.0.0", "::") and not config.settings.allowed_hosts:
        logger.warning("listening on every address of %s: a request must name localhost, "
                       "public_url's host or one in settings.allowed_hosts, or it is "
                       "refused (421)", host, extra={"host": host})
    _check_public_url(config.settings.public_url, tls=tls)
    return host, port


async def _start_tasks(nursery: trio.Nursery, parts: _Parts, shutdown: trio.Event) -> None:
    """Every task but the servers, each started (`nursery.start`) before the next.

    The signal handler comes first: SIGTERM, SIGINT and SIGHUP are the daemon's from then on.
    Delivery and timers run until the servers have drained; what is pending then stays in
    the store and resumes at the next start (overdue timers at once). The heartbeats'
    deadlines are set before the scheduler starts, so an overdue one fires once.
    """
    options, engine = parts.options, parts.engine
    nursery.start_soon(_signals, shutdown, parts.reloader, nursery.cancel_scope)
    await nursery.start(functools.partial(
        watch_config, options.config_paths, functools.partial(reload, parts.reloader),
        ignore=[options.state_dir]))
    if (interval := systemd.watchdog_interval()) is not None:
        nursery.start_soon(systemd.ping_watchdog, interval)
    await nursery.start(parts.deliverer.run)
    await engine.schedule_handoffs()
    await engine.schedule_heartbeats()  # before the scheduler: overdue ones fire once
    await nursery.start(parts.scheduler.run)
    # Other nodes' commits (PostgreSQL) wake both as this node's own commits do.
    nursery.start_soon(parts.store.watch, functools.partial(_other_work, engine))
    await nursery.start(Retention(engine).run)
    await nursery.start(parts.slack_replies.run)
    await nursery.start(engine.ingest_log.run)
    await nursery.start(parts.check_runner.run)
    await nursery.start(engine.analysis.run)  # after a first page: its analysis
    await nursery.start(engine.cluster.run, _identity(options, parts.clock), _revision)


async def _serve(parts: _Parts, host: str, listeners: Sequence[trio.SocketListener],
                 shutdown: trio.Event,
                 task_status: trio.TaskStatus[tuple[str, int]]) -> None:
    """HTTP and the unix socket, started last so that READY (systemd's, and `task_status`
    with the bound address) comes once everything behind them runs. Returns when both have
    finished their requests in flight after `shutdown`."""
    options, metrics, certificates = parts.options, parts.metrics, parts.certificates
    scheme = "http" if certificates is None else "https"
    socket_path = options.socket or options.state_dir / SOCKET_NAME
    async with trio.open_nursery() as servers:  # both return once drained
        limits = Limits(max_body_bytes=parts.config.settings.max_body_bytes)
        routes = _routes(parts, host, listeners, scheme, socket_path)
        await servers.start(functools.partial(
            serve_listeners, routes, listeners, limits=limits,
            shutdown=shutdown, on_response=metrics.responded,
            tls=None if certificates is None else certificates.current))
        await servers.start(functools.partial(serve_socket, parts.engine, socket_path,
                                              shutdown=shutdown,
                                              received=metrics.alerts_received))
        bound = (host, bound_port(listeners))
        url = f"{scheme}://{host}:{bound[1]}"
        logger.info("listening on %s and unix:%s", url, socket_path,
                    extra={"url": url, "socket": str(socket_path)})
        systemd.notify("READY=1", f"STATUS=listening on {url} and unix:{socket_path}")
        task_status.started(bound)


def _routes(parts: _Parts, host: str, listeners: Sequence[trio.SocketListener], scheme: str,
            socket_path: Path) -> Routes:
    """The HTTP API's routes and the web's pages; the status page names the addresses
    bound (with port 0, the kernel's pick)."""
    engine = parts.engine

    def addresses() -> tuple[str, str]:
        return f"{scheme}://{host}:{bound_port(listeners)}", f"unix:{socket_path}"

    return build_routes(
        engine, parts.deliverer, reload=functools.partial(_reload_or_raise, parts.reloader),
        metrics=parts.metrics.exposition, received=parts.metrics.alerts_received,
        slack=SlackActions(engine, parts.slack_replies), link_pages=parts.link_pages,
        admin_token=parts.admin_token, listen_host=host,
        feed_token=feed_tokens(engine, parts.options.state_dir, shared=parts.shared),
        pages=page_routes(engine, status_source(parts.reloader, parts.shown, addresses),
                          web=parts.web), web=parts.web)


def _identity(options: Options, clock: Clock) -> Identity:
    """This node as the cluster lists it: by default named after its host."""
    host = socket.gethostname()
    return Identity(id=options.node_id or host, host=host, pid=os.getpid(),
                    started_at=clock.now())


async def _revision(config: Config) -> str:
    """The config's revision as the status page shows it, read off the event loop."""
    return await trio.to_thread.run_sync(revision, config.files)


def _other_work(engine: Engine, what: str) -> None:
    """`Store.watch`'s call: another node committed notifications (OUTBOX) or timers."""
    if what == OUTBOX:
        engine.outbox_written()
    else:
        engine.timers_written()


async def _prepare_reload(certificates: Certificates | None, options: Options,
                          web: WebAccess, engine: Engine, shared: bool,
                          config: Config) -> Callable[[], None]:
    """The reload hook: the TLS files and the web's session key of the new config, read
    before anything is swapped (a key that cannot be read rejects the reload)."""
    use_tls = await reload_tls(certificates, options, config)
    try:
        use_key = await prepare_key(web, engine, options.state_dir, config, shared=shared)
    except SessionKeyUnusable as error:
        raise ConfigInvalid([Problem(Where(""), "settings.web", str(error))]) from None

    def swap() -> None:
        use_tls()
        use_key()
    return swap


def _check_public_url(public_url: str, *, tls: bool) -> None:
    """Links in messages use public_url, which only the user can set right."""
    if tls and public_url.startswith("http://"):
        logger.warning("TLS is on but settings.public_url is %s: links in messages will use "
                       "plain HTTP; set it to the https:// URL people reach router at",
                       public_url, extra={"public_url": public_url})
    elif not tls and public_url.startswith("https://"):
        logger.warning("settings.public_url is %s but router serves plain HTTP: right only "
                       "behind a proxy that terminates TLS", public_url,
                       extra={"public_url": public_url})


async def _post_json(transport: Transport, url: str, body: bytes) -> str:
    """POST a JSON body (a reply to Slack's response_url); how it went, for the log."""
    sent = await transport.send(HttpRequest(
        method="POST", url=url, body=body, target="slack response_url",
        headers={"Content-Type": "application/json"}, timeout=timedelta(seconds=10)))
    if sent.outcome is not None:
        return sent.outcome.reason
    return f"answered {sent.status_code}"


async def _signals(shutdown: trio.Event, reloader: Reloader, scope: trio.CancelScope) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for number in signals:
            if number == signal.SIGHUP:
                await reload(reloader, "signal")
            elif shutdown.is_set():
                logger.warning("second signal: stopping at once")
                scope.cancel()
            else:
                logger.info("shutting down: finishing requests in flight")
                systemd.notify("STOPPING=1", "STATUS=finishing requests in flight")
                shutdown.set()


async def reload(reloader: Reloader, trigger: str) -> ReloadOutcome:
    """Every reload comes through here: SIGHUP ("signal"), the config watcher ("watch") and
    POST /-/reload ("api"). The Reloader runs one at a time and swaps in only a valid config,
    logging every problem of an invalid one. systemd hears RELOADING=1 and READY=1 around
    each, whatever started it."""
    systemd.notify("RELOADING=1", systemd.monotonic_usec())
    outcome = await reloader.reload(trigger)
    systemd.notify("READY=1", "STATUS=config reloaded" if outcome.ok else
                   "STATUS=config reload rejected: serving the previous config")
    return outcome


async def _reload_or_raise(reloader: Reloader) -> str:
    """POST /-/reload: the new config's summary, or ConfigInvalid with every problem."""
    outcome = await reload(reloader, "api")
    if not outcome.ok:
        raise ConfigInvalid(list(outcome.problems))
    return outcome.summary


