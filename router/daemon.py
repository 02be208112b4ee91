"""The composition root (room: daemon; may import everything).

The only place that opens the root nursery and starts long-running tasks: the HTTP server,
the unix socket server and the signal handler. It builds the store, the engine and the
route table, and owns shutdown and reload:
- SIGTERM / SIGINT: stop accepting, let in-flight requests finish within the servers'
  grace, leave pending notifications and timers in the store, return (exit 0). A second
  signal cancels everything at once.
- reload, on SIGHUP, on `POST /-/reload` and when the config changes on disk (the watcher
  of router/reload.py): load and validate the config again off the event loop; swap it in
  only if valid, else log every problem and keep the old one; one reload at a time.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import trio

from router import __version__, systemd
from router.clock import Clock, SystemClock
from router.config import ConfigInvalid, load_config
from router.config.model import Config
from router.config.values import parse_listen
from router.engine import Engine
from router.engine.retention import Retention
from router.links import read_or_create_key
from router.logs import Redactor, secrets_in
from router.metrics import Metrics
from router.notify.deliver import Deliverer
from router.notify.transport import Transport
from router.notify.wire import HttpRequest
from router.reload import Reloader, ReloadOutcome, watch_config
from router.scheduler import Scheduler
from router.server.api import build_routes
from router.server.http import Limits, bound_port, open_listeners, serve_listeners
from router.server.link_pages import LinkPages
from router.server.slack_actions import Responder, SlackActions
from router.server.socket import serve_socket
from router.store import DATABASE_NAME, Store

logger = logging.getLogger(__name__)
SOCKET_NAME = "router.sock"


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """Where the daemon reads and listens; `listen` and `socket` override the config."""

    config_paths: Sequence[Path]
    state_dir: Path
    listen: str | None = None
    socket: Path | None = None


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
    """
    config = await load(options.config_paths)
    activated = systemd.listeners(systemd.listen_fds())  # socket activation: not --listen
    options.state_dir.mkdir(parents=True, exist_ok=True)
    store = await Store.open(options.state_dir / DATABASE_NAME)
    engine = Engine(config, store, clock or SystemClock())
    if redactor is not None:
        redactor.learn(secrets_in(config))
    reloader = Reloader(engine, options.config_paths, engine.clock, load=load,
                        redactor=redactor)
    transport = Transport()
    link_pages = LinkPages(engine, await trio.to_thread.run_sync(
        read_or_create_key, options.state_dir))
    deliverer = Deliverer(store, engine.clock, lambda: engine.snapshot.config, transport,
                          acknowledge_url=lambda channel, notification, incident:
                          link_pages.acknowledge_url(channel.type, notification.event,
                                                     incident.id))
    slack_replies = Responder(functools.partial(_post_json, transport))
    engine.outbox_written = deliverer.wake
    scheduler = Scheduler(engine)
    engine.timers_written = scheduler.poke
    metrics = Metrics(store, version=__version__, reloads=lambda: reloader.status)
    deliverer.on_attempt = metrics.delivery_attempted
    scheduler.on_fired = metrics.timer_fired
    host, port = parse_listen(options.listen or config.settings.listen)
    if activated:
        host, port = activated[0].socket.getsockname()[:2]
    if _beyond_loopback(host) and not config.settings.ingest_tokens:
        logger.warning("listening on %s beyond loopback with no ingest tokens configured: "
                       "anyone who can reach it can page", host, extra={"host": host})
    shutdown = trio.Event()
    try:
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
            await nursery.start(scheduler.run)
            await nursery.start(Retention(engine).run)
            await nursery.start(slack_replies.run)
            async with trio.open_nursery() as servers:  # both return once drained
                listeners = activated or await open_listeners(host, port)
                limits = Limits(max_body_bytes=config.settings.max_body_bytes)
                routes = build_routes(engine, deliverer, reload=functools.partial(
                    _reload_or_raise, reloader), metrics=metrics.exposition,
                    received=metrics.alerts_received,
                    slack=SlackActions(engine, slack_replies), link_pages=link_pages)
                await servers.start(functools.partial(
                    serve_listeners, routes, listeners, limits=limits,
                    shutdown=shutdown, on_response=metrics.responded))
                socket_path = options.socket or options.state_dir / SOCKET_NAME
                await servers.start(functools.partial(serve_socket, engine, socket_path,
                                                      shutdown=shutdown,
                                                      received=metrics.alerts_received))
                bound = (host, bound_port(listeners))
                logger.info("listening on http://%s:%d and unix:%s", *bound, socket_path,
                            extra={"url": f"http://{host}:{bound[1]}",
                                   "socket": str(socket_path)})
                systemd.notify("READY=1", f"STATUS=listening on http://{host}:{bound[1]} "
                                          f"and unix:{socket_path}")
                task_status.started(bound)
            nursery.cancel_scope.cancel()  # the signal handler
    finally:
        with trio.CancelScope(shield=True):
            await transport.aclose()
            await store.close()
    logger.info("stopped")


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


