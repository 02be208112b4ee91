"""The composition root (room: daemon; may import everything).

The only place that opens the root nursery and starts long-running tasks: the HTTP server,
the unix socket server and the signal handler. It builds the store, the engine and the
route table, and owns shutdown and reload:
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
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from socket import gethostname

import trio

from router import __version__
from router.clock import Clock, SystemClock
from router.config import ConfigInvalid, load_config
from router.config.model import Config, StoreSetting, Tls
from router.config.values import parse_listen
from router.daemon import systemd
from router.daemon.logs import Redactor, secrets_in
from router.daemon.metrics import Metrics
from router.daemon.reload import Reloader, ReloadOutcome, watch_config
from router.daemon.shared_keys import feed_tokens, link_key
from router.daemon.web_logins import SessionKeyUnusable, prepare_key, start_web
from router.daemon.web_status import revision, status_source
from router.engine import Engine
from router.engine.cluster import Identity
from router.engine.retention import Retention
from router.engine.scheduler import Scheduler
from router.errors import Problem, StoreError, Where
from router.links import KEY_NAME as LINK_KEY_NAME
from router.notify.deliver import Deliverer
from router.notify.transport import Transport
from router.notify.wire import HttpRequest
from router.probes.runner import CheckRunner
from router.server.api import build_routes
from router.server.http import Limits, bound_port, open_listeners, serve_listeners
from router.server.link_pages import LinkPages
from router.server.slack_actions import Responder, SlackActions
from router.server.socket import serve_socket
from router.server.tls import Certificates, TlsFiles, TlsFilesInvalid, load_context
from router.store import files
from router.store.interface import OUTBOX, Store
from router.store.opening import BackendMissing, describe, open_store
from router.web.access import WebAccess
from router.web.auth.keys import KEY_NAME as SESSION_KEY_NAME
from router.web.pages import page_routes

logger = logging.getLogger(__name__)
SOCKET_NAME = "router.sock"


class StartFailed(Exception):
    """The daemon cannot start for a reason outside the config (a port taken, a state
    directory it cannot write): one line that says what, where and what to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """Where the daemon reads and listens; `listen`, `socket`, `store` and the TLS
    certificate and key (both or neither) override the config. `node_id` names this daemon
    among the routers that share one PostgreSQL store (`router run --node-id`): the cluster
    table and the deliverer's claims are kept under it."""

    config_paths: Sequence[Path]
    state_dir: Path
    listen: str | None = None
    socket: Path | None = None
    tls_certificate: Path | None = None
    tls_key: Path | None = None
    store: StoreSetting | None = None
    node_id: str = field(default_factory=gethostname)
    """This router's name among those sharing its store (issue 18 D5): `--node-id`, by default
    the host name."""


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
    """Run until SIGTERM/SIGINT. Reports (host, port) once both listeners accept.
    `redactor` (the log lines') learns the config's secret values, at start and on reload.

    Raises:
        ConfigInvalid: the config is invalid at start.
        StartFailed: the state directory, the store or the listen address cannot be used.
        BackendMissing: the store is a URL, and this router has no PostgreSQL support.
    """
    config = await load(options.config_paths)
    activated = systemd.listeners(systemd.listen_fds())  # socket activation: not --listen
    admin_token = await trio.to_thread.run_sync(_prepare_state, options.state_dir)
    store_setting = options.store or config.settings.store
    if redactor is not None:
        redactor.learn(secrets_in(store_setting))  # before its first word is logged
    store = await _open_store(store_setting, options.state_dir)
    transport = Transport()
    try:  # from here on, a start that fails closes the store (on PostgreSQL: a pool)
        shown = describe(store_setting, options.state_dir)
        logger.info("store %s, node %s", shown, options.node_id,
                    extra={"store": shown, "node": options.node_id})
        clock = clock or SystemClock()
        engine = Engine(config, store, clock)
        if redactor is not None:
            redactor.learn(secrets_in(config))
        certificates = await _start_tls(config, options)
        shared = await engine.secrets.shared()  # PostgreSQL: the nodes' keys live in the store
        try:
            web = await start_web(engine, options.state_dir, tls=certificates is not None,
                                  shared=shared)
        except SessionKeyUnusable as error:
            raise StartFailed(f"cannot start: {error}") from None
        reloader = Reloader(engine, options.config_paths, clock, load=load,
                            redactor=redactor, prepare=functools.partial(
                                _prepare_reload, certificates, options, web, engine, shared),
                            store_given=options.store is not None)
        link_pages = LinkPages(engine, await _link_key(engine, options.state_dir, shared))
        deliverer = Deliverer(store, clock, lambda: engine.config, transport, node=options.node_id,
                              acknowledge_url=lambda channel, notification, incident:
                              link_pages.acknowledge_url(channel.type, notification.event,
                                                         incident.id))
        slack_replies = Responder(functools.partial(_post_json, transport))
        engine.outbox_written = deliverer.wake
        scheduler = Scheduler(engine)
        check_runner = CheckRunner(engine, transport)
        engine.health.measure = check_runner.run_once  # attach_checks: the checks run at once
        engine.timers_written = scheduler.poke
        metrics = Metrics(store, version=__version__, reloads=lambda: reloader.status,
                          cluster=engine.cluster.view)
        deliverer.on_attempt = metrics.delivery_attempted
        scheduler.on_fired = metrics.timer_fired
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
        _check_public_url(config.settings.public_url, tls=certificates is not None)
        scheme = "http" if certificates is None else "https"
        shutdown = trio.Event()
        # Bound before any task starts, so that a taken port is one error, not a group.
        listeners = activated or await _listen(host, port)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_signals, shutdown, reloader, nursery.cancel_scope)
            await nursery.start(functools.partial(
                watch_config, options.config_paths, functools.partial(reload, reloader),
                ignore=[options.state_dir]))
            if (interval := systemd.watchdog_interval()) is not None:
                nursery.start_soon(systemd.ping_watchdog, interval)
            # Delivery and timers run until the servers have drained; what is pending then
            # stays in the store and resumes at the next start (overdue timers at once).
            await nursery.start(deliverer.run)
            await engine.schedule_handoffs()
            await engine.schedule_heartbeats()  # before the scheduler: overdue ones fire once
            await nursery.start(scheduler.run)
            # Other nodes' commits (PostgreSQL) wake both as this node's own commits do.
            nursery.start_soon(store.watch, functools.partial(_other_work, engine))
            await nursery.start(Retention(engine).run)
            await nursery.start(slack_replies.run)
            await nursery.start(engine.ingest_log.run)
            await nursery.start(check_runner.run)
            await nursery.start(engine.analysis.run)  # after a first page: its analysis
            await nursery.start(engine.cluster.run, _identity(options, clock), _revision)
            async with trio.open_nursery() as servers:  # both return once drained
                limits = Limits(max_body_bytes=config.settings.max_body_bytes)
                routes = build_routes(engine, deliverer, reload=functools.partial(
                    _reload_or_raise, reloader), metrics=metrics.exposition,
                    received=metrics.alerts_received,
                    slack=SlackActions(engine, slack_replies), link_pages=link_pages,
                    admin_token=admin_token, listen_host=host,
                    feed_token=feed_tokens(engine, options.state_dir, shared=shared),
                    pages=page_routes(engine, status_source(
                        reloader, shown, lambda: (
                            f"{scheme}://{host}:{bound_port(listeners)}",
                            f"unix:{options.socket or options.state_dir / SOCKET_NAME}")),
                        web=web), web=web)
                await servers.start(functools.partial(
                    serve_listeners, routes, listeners, limits=limits,
                    shutdown=shutdown, on_response=metrics.responded,
                    tls=None if certificates is None else certificates.current))
                socket_path = options.socket or options.state_dir / SOCKET_NAME
                await servers.start(functools.partial(serve_socket, engine, socket_path,
                                                      shutdown=shutdown,
                                                      received=metrics.alerts_received))
                bound = (host, bound_port(listeners))
                url = f"{scheme}://{host}:{bound[1]}"
                logger.info("listening on %s and unix:%s", url, socket_path,
                            extra={"url": url, "socket": str(socket_path)})
                systemd.notify("READY=1", f"STATUS=listening on {url} and unix:{socket_path}")
                task_status.started(bound)
            nursery.cancel_scope.cancel()  # the signal handler
    finally:
        with trio.CancelScope(shield=True):
            await transport.aclose()
            await store.close()
    logger.info("stopped")


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


def _tls_files(tls: Tls | None, options: Options) -> TlsFiles | None:
    """What HTTPS is served with: settings.tls, with its certificate and key replaced by
    `router run --tls-cert/--tls-key`; None for plain HTTP."""
    if options.tls_certificate is None or options.tls_key is None:
        if tls is None:
            return None
        certificate, key = Path(tls.certificate), Path(tls.key)
    else:
        certificate, key = options.tls_certificate, options.tls_key
    if tls is None:
        return TlsFiles(certificate=certificate, key=key)
    return TlsFiles(certificate=certificate, key=key, client_certificates=tls.client_certificates,
                    client_ca=None if tls.client_ca is None else Path(tls.client_ca))


async def _load_tls(files: TlsFiles) -> ssl.SSLContext:
    try:
        return await load_context(files)
    except TlsFilesInvalid as invalid:
        raise ConfigInvalid([invalid.problem]) from None


async def _start_tls(config: Config, options: Options) -> Certificates | None:
    files = _tls_files(config.settings.tls, options)
    return None if files is None else Certificates(await _load_tls(files), files)


async def _reload_tls(certificates: Certificates | None, options: Options, config: Config
                      ) -> Callable[[], None]:
    """The reload hook: load the certificate and key again (the files may have been
    renewed in place); turning TLS on or off takes a restart, as the listener is bound."""
    files = _tls_files(config.settings.tls, options)
    if certificates is None:
        if files is not None:
            logger.warning("the reloaded config turns TLS on: that takes a restart; serving "
                           "plain HTTP until then")
        return _keep
    if files is None:
        logger.warning("the reloaded config has no settings.tls: turning TLS off takes a "
                       "restart; serving HTTPS with the files loaded at start until then")
        files = certificates.files
    context = await _load_tls(files)
    return functools.partial(certificates.use, context, files)


def _keep() -> None:
    pass


async def _link_key(engine: Engine, state_dir: Path, shared: bool) -> bytes:
    """The acknowledge links' key when `settings.link_secret` is not set: the store's on
    PostgreSQL, else `link.key` in the state directory (daemon/shared_keys.py)."""
    try:
        return await link_key(engine, state_dir, shared=shared)
    except (OSError, ValueError, StoreError) as error:
        where = "the store" if shared else str(state_dir)
        raise StartFailed(f"cannot start: the acknowledge links' key in {where}: "
                          f"{error}") from None


async def _prepare_reload(certificates: Certificates | None, options: Options,
                          web: WebAccess, engine: Engine, shared: bool,
                          config: Config) -> Callable[[], None]:
    """The reload hook: the TLS files and the web's session key of the new config, read
    before anything is swapped (a key that cannot be read rejects the reload)."""
    use_tls = await _reload_tls(certificates, options, config)
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


async def _listen(host: str, port: int) -> list[trio.SocketListener]:
    try:
        return await open_listeners(host, port)
    except OSError as error:
        raise StartFailed(
            f"cannot listen on {host}:{port}: {error.strerror or error}; stop what holds "
            f"that address or choose another with --listen or settings.listen") from None


async def _open_store(setting: StoreSetting, state_dir: Path) -> Store:
    """The store `settings.store` or `--store` names; one line when it cannot be opened.

    Raises:
        BackendMissing: a URL, and no PostgreSQL support in this router.
        StartFailed: the store cannot be opened (a newer router's schema, a server that
            cannot be reached, a password it refused).
    """
    try:
        return await open_store(setting, state_dir)
    except BackendMissing:
        raise
    except (StoreError, OSError) as error:
        reason = str(error) if setting != "sqlite" else \
            f"cannot open the store {describe(setting, state_dir)}: {error}"
        raise StartFailed(f"{reason}; check settings.store or --store") from None


def _prepare_state(state_dir: Path) -> str:
    """The state directory 0750 with its key files 0600; the admin token for the CLI."""
    try:
        files.prepare_directory(state_dir)
        files.tighten_files([state_dir / LINK_KEY_NAME, state_dir / SESSION_KEY_NAME])
        return files.read_or_create_admin_token(state_dir)
    except OSError as error:
        raise StartFailed(
            f"cannot use the state directory {state_dir}: {error.strerror or error}; make it "
            f"a directory the user router runs as may write, or give another with --state"
        ) from None


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


