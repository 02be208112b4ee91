"""Several routers on one PostgreSQL database, for issue 18's failure tests (tests/ha/).

`Routers` starts `router run` subprocesses as tests/e2e/conftest.py starts one (`--listen
127.0.0.1:0`, the port read from the log, output to a file), all reading one config
directory and one database (`--store URL`), each with its own state directory, socket and
`--node-id`. `Routers.next()` hands out the nodes still running in turn (round robin), so a
sender spreads its load over all of them and stops sending to a node once it was killed.

The receivers count pages per notification id: `Pager` is the webhook channel that pages
people (the `X-Router-Notification` header, with `Idempotency-Key` its quoted form, as
docs/delivery.md "Idempotency keys" promises), `PagerDuty` the service's Events API v2
channel (a trigger's `payload.custom_details.notification`). Each arrival is stamped with
`time.monotonic()` so a test can compare it with when it killed a node.

Times are short and real: the claim lease is `LEASE` seconds (`settings.delivery.lease`),
and a test's escalation delay a few seconds; a node looks at the outbox and its timers at
least every `POLL` seconds (docs/delivery.md, docs/escalation.md).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.e2e.conftest import Daemon
from tests.fakes import Answer, Received, Reply, serve_fake
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.webhook import FakeWebhook

LEASE = 3.0
"""Seconds: `settings.delivery.lease`, the window in which a page can be sent twice."""
POLL = 5.0
"""Seconds: a node reads the outbox and its due timers at least this often."""
SLACK = 3.0
"""Seconds added to every bound, for a loaded 2-core test machine."""
ROUTING_KEY = "ha00cluster0routing0key000000001"
"""The PagerDuty channel's routing key (PagerDuty's keys are 32 characters)."""
SLACK_SECRET = "ha0cluster0slack0signing0secret0"
"""The Slack channel's signing secret (`config(slack=...)`)."""
ANN = "+4915100000001"
BOB = "+4915100000002"


def config(*, pager: str, pagerduty: str, delay: str = "1h", comment: str = "",
           lease: float | None = LEASE, more: str = "", slack: str | None = None) -> str:
    """A complete config: every alert goes to service `api`, whose own channel is PagerDuty
    (one trigger per incident); Ann is on call and paged through the webhook `pager`, Bob is
    the second level `delay` later. `comment` changes the file, not the behaviour (another
    config revision). `lease`: the outbox claims' lease in seconds, None for the default.
    `more`: more top-level sections, as YAML. `slack`: the URL of a Slack stand-in, the
    channel (signed with SLACK_SECRET) of service `chat`, which alerts labelled `team=chat`
    go to."""
    delivery = f"  delivery:\n    lease: {lease:g}s\n" if lease is not None else ""
    chat = ("" if slack is None else
            f'  - {{id: slack, type: slack, webhook_url: "{slack}", '
            f"signing_secret: {SLACK_SECRET}}}\n")
    chat_service = "" if slack is None else (
        "  - {id: chat, escalation_policy: default, channels: [slack]}\n")
    chat_route = "" if slack is None else "  - {service: chat, match: [team=chat]}\n"
    return f"""\
# {comment or "the cluster's config"}
settings:
  timezone: UTC
{delivery}people:
  - id: ann
    contact_methods: [{{type: phone, address: "{ANN}", channel: pager}}]
  - id: bob
    contact_methods: [{{type: phone, address: "{BOB}", channel: pager}}]
rotas:
  - id: primary
    layers: [{{members: [ann], every: 1w, start: 2020-01-06}}]
escalation_policies:
  - id: default
    levels:
      - {{targets: [{{rota: primary}}], delay: {delay}}}
      - {{targets: [{{person: bob}}], delay: 1h}}
channels:
  - {{id: pager, type: webhook, url: "{pager}", concurrency: 16, timeout: 2s}}
  - {{id: pagerduty, type: pagerduty, routing_key: {ROUTING_KEY}, url: "{pagerduty}",
     concurrency: 16}}
{chat}services:
  - {{id: api, escalation_policy: default, channels: [pagerduty]}}
{chat_service}routes:
{chat_route}  - service: api
{more}"""


def alert(uid: str, **labels: str) -> dict[str, Any]:
    """A critical native alert of its own incident (label `uid`)."""
    return {"summary": f"ha {uid}", "severity": "critical",
            "labels": {"alertname": "HaTest", "uid": uid, **labels}}


@dataclass(frozen=True, slots=True)
class Arrival:
    """One request a receiver got, and when (time.monotonic(), comparable to the test's)."""

    at: float
    request: Received


class Stamped:
    """What both receivers add to their fake: arrivals stamped with the monotonic clock, and
    an optional `delay` before every unscripted answer (deliveries stay in flight longer)."""

    delay = 0.0
    arrivals: list[Arrival]

    def stamp(self, request: Received) -> None:
        self.arrivals.append(Arrival(time.monotonic(), request))

    def unscripted(self) -> Answer:
        return Answer(delay=self.delay)


class Pager(Stamped, FakeWebhook):
    """The webhook that pages people: counts pages per notification id."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals = []

    def process(self, request: Received) -> Reply:
        self.stamp(request)
        return super().process(request)

    def next_answer(self) -> Answer:
        return self._script.popleft() if self._script else self.unscripted()

    def pages(self) -> list[tuple[float, str, dict[str, Any]]]:
        """(arrival, notification id, body) of every page answered 200, in order; checks
        that its two idempotency headers agree with its body."""
        found = []
        for arrival in list(self.arrivals):
            request = arrival.request
            if request.path != self.path or request.method != "POST":
                continue
            notification = request.headers["x-router-notification"]
            assert request.headers["idempotency-key"] == f'"{notification}"', request.headers
            body = request.json()
            assert body["notification"] == notification, body
            found.append((arrival.at, notification, body))
        return found

    def counts(self) -> Counter[str]:
        """Pages per notification id."""
        return Counter(notification for _, notification, _ in self.pages())

    def paged_uids(self, address: str = ANN) -> set[str]:
        """The uids of the alerts whose incidents paged `address`."""
        return {str(body["incident"]["labels"]["uid"]) for _, _, body in self.pages()
                if body.get("address") == address and "uid" in body["incident"]["labels"]}


class PagerDuty(Stamped, FakePagerDuty):
    """The PagerDuty stand-in: counts triggers per notification id."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals = []

    def process(self, request: Received) -> Reply:
        self.stamp(request)
        return super().process(request)

    def next_answer(self) -> Answer:
        return self._script.popleft() if self._script else self.unscripted()

    def triggers(self) -> list[dict[str, Any]]:
        return [event for event in list(self.events) if event["event_action"] == "trigger"]

    def counts(self) -> Counter[str]:
        """Triggers per notification id."""
        return Counter(str(event["payload"]["custom_details"]["notification"])
                       for event in self.triggers())

    def paged_uids(self) -> set[str]:
        """The uids of the alerts whose incidents PagerDuty was told of."""
        return {str(event["payload"]["custom_details"]["labels"]["uid"])
                for event in self.triggers()
                if "uid" in event["payload"]["custom_details"]["labels"]}


async def serve_pager(*, task_status: trio.TaskStatus[Pager] = trio.TASK_STATUS_IGNORED,
                      ) -> None:
    await serve_fake(Pager(), task_status=task_status)


async def serve_pagerduty(*, task_status: trio.TaskStatus[PagerDuty] = trio.TASK_STATUS_IGNORED,
                          ) -> None:
    await serve_fake(PagerDuty(), task_status=task_status)


class Node(Daemon):
    """One router of the cluster: a Daemon with a node id."""

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(**options)
        self.name = name

    def running(self) -> bool:
        """Listening (its port known) and not exited."""
        return self.port != 0 and self.process is not None and self.process.poll() is None


class Routers:
    """The cluster's routers under one directory; `close` kills every one still running and
    prints their logs (pytest shows them with a failing test)."""

    def __init__(self, root: Path, store: str) -> None:
        self.root = root
        self.store = store
        self.config_dir = root / "config"
        self.env: dict[str, str] = {}
        """More environment variables for every node started from now on."""
        self.nodes: list[Node] = []
        self._turn = itertools.count()
        self._lock = threading.Lock()
        # A unix socket path has at most 107 bytes; pytest's tmp_path can be longer.
        self.socket_dir = Path(tempfile.mkdtemp(prefix="router-ha-"))

    def write_config(self, text: str, directory: Path | None = None) -> Path:
        directory = directory or self.config_dir
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "router.yaml").write_text(text)
        return directory

    def start(self, name: str, *, config_dir: Path | None = None) -> Node:
        """Start node `name` on the shared config directory (or `config_dir`)."""
        home = self.root / name
        node = Node(name, config_dir=config_dir or self.config_dir, state_dir=home / "state",
                    socket_path=self.socket_dir / f"{name}.sock",
                    log_path=self.root / f"{name}.log", env=dict(self.env),
                    arguments=("--store", self.store, "--node-id", name))
        self.nodes.append(node)
        node.start()
        return node

    def start_many(self, count: int) -> list[Node]:
        return [self.start(f"node-{index}") for index in range(count)]

    def running(self) -> list[Node]:
        return [node for node in self.nodes if node.running()]

    def next(self) -> Node:
        """The next running node, in turn."""
        with self._lock:
            running = self.running()
            assert running, "no router is running"
            return running[next(self._turn) % len(running)]

    def logs(self) -> str:
        return "\n".join(f"--- {node.name} ({node.log_path}):\n{node.log()[-20_000:]}"
                         for node in self.nodes)

    def close(self) -> None:
        for node in self.nodes:
            node.kill()
        print(self.logs())
        shutil.rmtree(self.socket_dir, ignore_errors=True)


def post_alerts(node: Node, alerts: list[dict[str, Any]], *,
                timeout: float = 10.0) -> httpx.Response:
    """POST /v1/alerts to `node` (no token: ingest from loopback needs none)."""
    with httpx.Client(timeout=timeout, trust_env=False) as client:
        return client.post(node.base_url + "/v1/alerts", json=alerts)


@dataclass(frozen=True, slots=True)
class Answered:
    """One answer a sender got: when (time.monotonic()), its status, how long it took."""

    at: float
    status: int
    took: float
    text: str


@dataclass
class Load:
    """Senders posting alerts of their own uids to the routers in turn, until `stop`;
    `accepted` holds the uids answered 2xx (with when), `answers` every answer."""

    routers: Routers
    prefix: str = "u"
    pause: float = 0.0

    def __post_init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.answers: list[Answered] = []
        self.unanswered = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def send(self, sender: int) -> None:
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            for serial in itertools.count():
                if self.stop.is_set():
                    return
                uids = [f"{self.prefix}{sender}-{serial}-{index}"
                        for index in range(1 + serial % 3)]
                node = self.routers.next()
                sent = time.monotonic()
                try:
                    answer = client.post(node.base_url + "/v1/alerts",
                                         json=[alert(uid) for uid in uids])
                except httpx.TransportError:  # killed, or the answer lost
                    with self.lock:
                        self.unanswered += 1
                    continue
                now = time.monotonic()
                with self.lock:
                    self.answers.append(Answered(now, answer.status_code, now - sent,
                                                 answer.text[:200]))
                    if 200 <= answer.status_code < 300:
                        self.accepted.update(dict.fromkeys(uids, now))
                if self.pause:
                    time.sleep(self.pause)

    def begin(self, senders: int) -> None:
        self._threads = [threading.Thread(target=self.send, args=(index,), daemon=True)
                         for index in range(senders)]
        for thread in self._threads:
            thread.start()

    def end(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[int]:
        with self.lock:
            return Counter(answer.status for answer in self.answers
                           if since <= answer.at <= until)

    def slowest(self, status: int, sent_since: float = 0.0) -> float:
        """The longest a request answered `status` took, in seconds (of those sent at
        `sent_since` or later)."""
        with self.lock:
            return max((answer.took for answer in self.answers if answer.status == status
                        and answer.at - answer.took >= sent_since), default=0.0)



def claimed_by(store: str, node: str) -> int:
    """The outbox notifications `node` holds a claim on now, read from the database."""
    import psycopg

    with psycopg.connect(store, autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM outbox WHERE claimed_by = %s",
                                 (node,)).fetchone()
    return int(row[0]) if row else 0


def repeated(arrivals: list[tuple[float, str]]) -> dict[str, list[float]]:
    """From (arrival, notification id) pairs: the ids that arrived more than once, with the
    times each copy arrived, in order."""
    times: dict[str, list[float]] = {}
    for at, notification in sorted(arrivals):
        times.setdefault(notification, []).append(at)
    return {notification: found for notification, found in times.items() if len(found) > 1}


def outside_window(repeats: dict[str, list[float]], killed_at: float,
                   ) -> dict[str, tuple[float, float]]:
    """The repeats docs/delivery.md's window does not allow, as (first copy, last copy) in
    seconds from the kill: a repeat is a page the killed node sent and could not record, sent
    again once its claim expired. So its first copy arrived before the kill, and the last at
    most a lease and a poll after the first."""
    return {notification: (times[0] - killed_at, times[-1] - killed_at)
            for notification, times in repeats.items()
            if times[0] > killed_at + 0.5 or times[-1] - times[0] > LEASE + POLL + SLACK}
