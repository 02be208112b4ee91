"""The validated config as frozen, typed values (room: config; imports errors only).

Everything past `config/build/` reads these objects, never raw YAML dicts. Each object keeps
the `Where` it was declared at, so later checks and run-time messages can still point at the
line a person wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from ipaddress import IPv4Network, IPv6Network
from types import MappingProxyType
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

from router.errors import Problem, Where

SEVERITIES = ("critical", "error", "warning", "info")
"""Alert severities, most severe first."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as the config spells them; index = `date.weekday()`."""

NOWHERE = Where("")

Severity = Literal["critical", "error", "warning", "info"]
Urgency = Literal["high", "low", "dynamic"]
MatchOperator = Literal["=", "!=", "=~", "!~"]
AlertStatus = Literal["firing", "acknowledged", "resolved"]

_PATH_NAME = r"[A-Za-z0-9_-]+"
_PATH_KEY = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
FIELD_PATH = re.compile(
    rf"(?:\$|{_PATH_NAME}|(?=\[))(?:\.{_PATH_NAME}|\[[0-9]+\]|\[{_PATH_KEY}\])*"
)
"""A generic webhook's field path, whole (fullmatch): `alert.message`, `alerts[0].labels`,
`details["ping time"]`, `$.action`, `$`. alerts/formats/generic.py, which may not import the
config, holds the same pattern; tests/config/test_generic_webhooks.py keeps the two equal."""


K = TypeVar("K")
V = TypeVar("V")


def frozen_mapping(items: Mapping[K, V] | None = None) -> Mapping[K, V]:
    """A read-only view of a fresh dict: the config's mappings cannot change after build."""
    return MappingProxyType(dict(items or {}))


SOURCES = ("native", "alertmanager", "alertmanager_v2", "grafana", "datadog", "pagerduty",
           "new_relic", "opsgenie", "zabbix", "pagerduty_webhook")
"""The sources of the fixed inbound formats (alerts/formats FORMATS; a test compares them),
which `settings.resolve_timeout` may name besides generic:NAME."""

RESOLVE_TIMEOUTS: Mapping[str, timedelta] = MappingProxyType(
    {"alertmanager_v2": timedelta(minutes=5)})
"""`settings.resolve_timeout` by default: Alertmanager's own 5m for its API v2. The others
resolve explicitly (PagerDuty events, the native format, the webhooks), so they get none."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that came from `${env:...}` or `${file:...}`; never printed, never logged."""

    value: str = field(repr=False)
    reference: str = ""

    def reveal(self) -> str:
        return self.value

    def __str__(self) -> str:
        return f"<secret {self.reference}>" if self.reference else "<secret>"

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class WeeklyWindow:
    """A recurring stretch of each listed weekday, in local wall-clock time.

    `end <= start` means the window runs past midnight into the next day (22:00-07:00), and
    `start == end` means the whole day.
    """

    days: frozenset[int]
    start: time
    end: time
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class FatigueLimits:
    """Per-person on-call limits for one week; a report over a longer period scales them."""

    hours_per_week: float | None = None
    night_hours_per_week: float | None = None
    weekend_hours_per_week: float | None = None
    pages_per_week: int | None = None


SCOPES = ("ingest", "read", "respond", "admin")
"""What an API token may do: post alerts; read; acknowledge, resolve, escalate and silence;
change overrides, reload and test channels. docs/security.md has the table of routes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertLimits:
    """What one inbound alert's labels and annotations may hold (`settings.alert_limits`).

    Sizes are bytes of UTF-8; `name_bytes` bounds label and annotation names alike. An alert
    over a limit is refused with 400 naming the field, before any work is done on it.
    alerts/formats reads these through its FieldLimits protocol.
    """

    name_bytes: int = 1024
    label_value_bytes: int = 16 * 1024
    labels_per_alert: int = 128
    annotation_value_bytes: int = 64 * 1024
    annotations_per_alert: int = 128


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestToken:
    """A bearer token a client presents (settings.ingest_tokens). `scopes` is what it may do
    (config/build/ fills it in when the YAML names none: `ingest` for a token with
    `sources`, every scope for one without); `sources` limits which inbound formats its
    `ingest` scope may post to (none: every format)."""

    name: str
    token: Secret
    sources: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset(SCOPES)
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class GenericWebhook:
    """The field mapping of one tool's JSON webhook, `POST /v1/ingest/generic/<name>`.

    Every path is text that matches FIELD_PATH (the build refused the config otherwise);
    alerts/formats/generic.py reads a body through it. `labels` and `annotations` are a path
    to a mapping whose entries all become labels, or a mapping of label name -> path.
    `alerts`, when set, is where a batch body keeps its list; the other paths are then read
    inside each entry. The maps translate the sender's values; the defaults stand in for a
    value the body lacks or neither the map nor router knows.
    """

    name: str
    summary: str
    severity: str | None = None
    status: str | None = None
    dedup_key: str | None = None
    service: str | None = None
    labels: str | Mapping[str, str] | None = None
    annotations: str | Mapping[str, str] | None = None
    severity_map: Mapping[str, Severity] = field(default_factory=frozen_mapping)
    status_map: Mapping[str, AlertStatus] = field(default_factory=frozen_mapping)
    alerts: str | None = None
    default_severity: Severity | None = None
    default_status: AlertStatus | None = None
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Tls:
    """HTTPS for the HTTP listener: PEM files, each path already resolved against the YAML
    file that names it, and whether senders present a certificate signed by `client_ca`
    (`optional`: one that is sent must be valid; `required`: no certificate, no connection).
    """

    certificate: str
    key: str
    client_ca: str | None = None
    client_certificates: Literal["none", "optional", "required"] = "none"
    where: Where = NOWHERE


ROLES = ("read", "respond", "admin")
"""What a web user may be: one of the API's scopes (server/api_access.py IMPLIED), so a
user's role grants in the web interface what a token with that scope grants in the API."""


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """Someone who may log in to the web interface (`users:`). `password_hash` is the text
    `router passwd` printed (config/passwords.py); None: the user logs in only through the
    trusted proxy's header."""

    name: str
    role: str
    password_hash: str | None = None
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedProxy:
    """A reverse proxy that has already authenticated the user: its `header` names a
    declared user, and is believed only from the addresses in `sources` (config `from`)."""

    header: str = "X-Forwarded-User"
    sources: tuple[IPv4Network | IPv6Network, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisPool:
    """The incident analysis pool's bounds (`settings.analysis_pool`): runs at once, each
    in a worker thread, and runs waiting for a worker; one more is recorded failed."""

    workers: int = 2
    queue: int = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSettings:
    """The web interface's sessions (`settings.web`)."""

    session_secret: Secret | None = None
    """Signs session cookies; None: a key the daemon keeps in the state directory."""
    session_lifetime: timedelta = timedelta(hours=12)
    trusted_proxy: TrustedProxy | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseUrl:
    """`settings.store: {url: ...}` or `router run --store URL`: a PostgreSQL database.

    `written` is the URL as written: its password a `${file:...}` or `${env:...}` reference,
    or the whole URL one, so it holds no secret. `url` is what router connects with
    (references resolved, the password percent-encoded); None when the config was loaded
    without its secrets (`router validate --no-secrets`, commands that send nothing), which
    resolve `written` against `base_dir` (the directory of the file that wrote it) when they
    open the store. `shown` is the URL as messages and logs show it: no user, password,
    query or fragment (redaction.display_url).
    """

    written: str
    shown: str
    url: Secret | None = None
    password: Secret | None = None
    """The password alone, as read: the log's redactor learns it with the URL."""
    base_dir: str = "."
    where: Where = NOWHERE


StoreSetting = Literal["sqlite"] | DatabaseUrl
"""`sqlite`: router.db in the state directory; a DatabaseUrl: PostgreSQL (store/opening.py)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverySettings:
    """How the nodes sharing one store share its outbox (`settings.delivery`)."""

    lease: timedelta = timedelta(seconds=60)
    """How long a node's claim on the notifications it is sending holds: after it, another
    node may send them (the node died). The window in which a page can be sent twice."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Daemon-wide settings; every default lives here and only here."""

    timezone: ZoneInfo = ZoneInfo("UTC")  # noqa: RUF009 (ZoneInfo instances are cached, immutable)
    listen: str = "127.0.0.1:9080"
    public_url: str = "http://127.0.0.1:9080"
    ingest_tokens: tuple[IngestToken, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    """Host header values the HTTP server answers (`name`, `name:port`, `*`) besides the
    loopback names, the listen address and public_url's host (server/api_access.py)."""
    max_body_bytes: int = 1_048_576
    alert_limits: AlertLimits = AlertLimits()
    fatigue: FatigueLimits = FatigueLimits()
    generic_webhooks: tuple[GenericWebhook, ...] = ()
    link_secret: Secret | None = None
    """Signs the acknowledge links in emails; None: the key in the state directory."""
    link_lifetime: timedelta = timedelta(hours=24)
    tls: Tls | None = None
    """None: plain HTTP (or `router run --tls-cert/--tls-key`)."""
    retention: timedelta = timedelta(days=90)
    """How long a resolved incident (with its alerts, timeline and deliveries) is kept."""
    resolve_timeout: Mapping[str, timedelta] = field(
        default_factory=lambda: frozen_mapping(RESOLVE_TIMEOUTS))
    """How long a firing alert that carries no ends_at stays firing without a repeat, by
    source (a fixed format's name, or generic:NAME); a source not named has no deadline."""
    web: WebSettings = WebSettings()
    store: StoreSetting = "sqlite"
    """Where the state is kept; changing it at a reload takes effect at the next start."""
    delivery: DeliverySettings = DeliverySettings()
    analysis_pool: AnalysisPool = AnalysisPool()
    """Read when the daemon starts: a reload does not resize the running pool."""
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactMethod:
    """One way to reach a person: an email address, a Slack user, or a phone via a gateway.

    `channel` names the channel that carries the message (for phone: an SMS/voice gateway
    webhook; for Slack: the workspace channel); None means the first channel of that type.
    `urgency` is which pages use it: "high" methods only for high urgency, "low" for all.
    """

    kind: Literal["email", "slack", "phone"]
    address: str
    channel: str | None = None
    urgency: Literal["high", "low"] = "low"
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    id: str
    name: str
    timezone: ZoneInfo
    contact_methods: tuple[ContactMethod, ...] = ()
    quiet_hours: WeeklyWindow | None = None
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateText:
    """A Jinja2 template's source and where its first line was written: the YAML value of
    an inline template, or line 1 of a template file. notify/templates.py compiles it."""

    text: str
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """How patiently a channel delivers: at most `concurrency` requests at once, at most
    `rate` per second (None: unlimited; config/build/channels.py fills in the channel module's
    DEFAULT_CONCURRENCY and DEFAULT_RATE when the config leaves them out), retried with
    backoff until `retry_for` after the notification was written, then failed."""

    concurrency: int = 4
    rate: float | None = None
    retry_for: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """An outbound connector; `settings` is the Settings object of its notify module.

    `templates` maps a template name (title, text, html; a webhook's payload) to its
    source; a name not given uses the default of notify/templates.py. A channel that is
    not `enabled` is checked like any other, and notifications still name it, but the
    deliverer sends nothing through it: each is recorded as skipped (the example config's
    outside channels, until their secrets are filled in).
    """

    id: str
    type: str
    settings: object
    name: str = ""
    enabled: bool = True
    templates: Mapping[str, TemplateText] = field(default_factory=frozen_mapping)
    delivery: Delivery = Delivery()
    follow_up: tuple[str, ...] = ()
    """Follow-up notifications the channel asks for besides pages: `analysis` (an incident's
    analysis once it is done)."""
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    """One rotation in a rota.

    Handoffs fall at local wall-clock times `start` + `handoff` (moved forward to
    `handoff_day` when given) + k * `every`, in the rota's timezone; `first` is on call from
    the first handoff. Later layers sit above earlier ones. `restrictions` empty means always.
    """

    name: str
    members: tuple[str, ...]
    every: timedelta
    start: date
    first: str
    handoff: time = time(9, 0)
    handoff_day: int | None = None
    restrictions: tuple[WeeklyWindow, ...] = ()
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    """`person` is on call from `start` to `end` instead of `replaces` (None: the whole rota).

    `order` ranks overlapping overrides: the higher (declared or created later) wins.
    """

    person: str
    start: datetime
    end: datetime
    replaces: str | None = None
    reason: str = ""
    order: int = 0
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Holidays:
    """Days off for a rota, from a list and/or an .ics file, and what happens on them.

    policy "skip": the member whose shift starts on a holiday is skipped and the next takes
    it; policy "cover": `cover` takes every shift that starts on a holiday.
    """

    dates: frozenset[date] = frozenset()
    policy: Literal["skip", "cover"] = "skip"
    cover: str | None = None
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Rota:
    id: str
    name: str
    timezone: ZoneInfo
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    holidays: Holidays = Holidays()
    handoff_notices: bool = False
    """Tell the outgoing and the incoming person when the person on call changes."""
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    kind: Literal["rota", "person", "channel"]
    id: str
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """`repeat` more notifications of this level, `retry_interval` apart (None: `delay`),
    before `delay` runs to the next level; `skip_empty` None follows the policy's."""

    targets: tuple[Target, ...]
    delay: timedelta
    repeat: int = 0
    retry_interval: timedelta | None = None
    skip_empty: bool | None = None
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationPolicy:
    """Levels notified in order; after the last, start again `repeat` more times. A level
    that reaches nobody is skipped at once while `skip_empty`; `fallback` is paged when no
    level reaches anyone."""

    id: str
    name: str
    levels: tuple[Level, ...]
    repeat: int = 0
    skip_empty: bool = True
    fallback: Target | None = None
    where: Where = NOWHERE

AnalysisProvider = Literal["local", "openai_compatible"]

ANALYSIS_KINDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "memory": ("memory", "oom", "heap"),
    "disk": ("disk", "space", "inode", "filesystem"),
    "cpu": ("cpu", "load"),
    "process": ("process", "crash", "restart"),
    "network": ("network", "timeout", "connection", "dns"),
})
"""The kinds of local analysis and the words (in labels, title, annotations) that pick each
one, unless an `analysis.keywords` replaces a kind's words."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    """How an incident of a route or service is analysed after its first page (`analysis`):
    by the local provider (psutil, files, past incidents; no network), or by a model behind
    an OpenAI-compatible API (`base_url`, `model`, `api_key`), which falls back to the local
    one. The scan of `paths` for large and old files stops after `max_files` files or
    `scan_time`, whichever comes first."""

    provider: AnalysisProvider
    base_url: str = ""
    model: str = ""
    api_key: Secret | None = None
    timeout: timedelta = timedelta(seconds=30)
    max_tokens: int = 1024
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: ANALYSIS_KINDS)
    top_processes: int = 5
    paths: tuple[str, ...] = ()
    max_files: int = 10_000
    scan_time: timedelta = timedelta(seconds=2)
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    id: str
    name: str
    description: str = ""
    escalation_policy: str | None = None
    channels: tuple[str, ...] = ()
    dedup_key: str | None = None
    urgency: Urgency = "dynamic"
    routing_keys: tuple[Secret, ...] = ()
    acknowledge_timeout: timedelta | None = None
    retrigger_after: timedelta | None = None
    """PagerDuty Events v2 integration keys that send to this service."""
    attach_checks: tuple[str, ...] = ()
    """Checks run when an alert for this service arrives; their results join the alert."""
    analysis: Analysis | None = None
    """How its incidents are analysed after their first page; None: not at all."""
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Matcher:
    """`name op value`; name is `severity`, `source`, `service`, or a label name.

    Regular expressions are anchored at both ends, as in Alertmanager.
    """

    name: str
    operator: MatchOperator
    value: str
    pattern: re.Pattern[str] | None = None
    where: Where = NOWHERE

    def __str__(self) -> str:
        return f"{self.name}{self.operator}{self.value!r}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """An ordered routing rule; with no matchers it catches everything.

    `severity` sets the alert's severity; `severity_map` renames some severities instead.
    `unless` lists matcher sets: the route does not match an alert that matches every
    matcher of any one of them (how an imported Alertmanager tree says "no earlier sibling
    matched").
    """

    name: str
    matchers: tuple[Matcher, ...]
    service: str | None = None
    channels: tuple[str, ...] = ()
    escalation_policy: str | None = None
    severity: Severity | None = None
    severity_map: Mapping[str, Severity] = field(default_factory=frozen_mapping)
    continue_matching: bool = False
    active_time_intervals: tuple[str, ...] = ()
    mute_time_intervals: tuple[str, ...] = ()
    attach_checks: tuple[str, ...] = ()
    """Checks run when an alert this route takes arrives; their results join the alert."""
    unless: tuple[tuple[Matcher, ...], ...] = ()
    analysis: Analysis | None = None
    """How the incidents it takes are analysed (before the service's `analysis`)."""
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeSpec:
    """One entry of a time interval, as Alertmanager writes it: every field that is set
    must match (an empty one matches always). Times are minutes of the local day, end
    exclusive (`24:00` is 1440); weekdays 0 = Monday; days of the month may count from the
    end (-1 is the last day); ranges are inclusive pairs."""

    location: ZoneInfo
    times: tuple[tuple[int, int], ...] = ()
    weekdays: frozenset[int] = frozenset()
    days_of_month: tuple[tuple[int, int], ...] = ()
    months: frozenset[int] = frozenset()
    years: tuple[tuple[int, int], ...] = ()
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeInterval:
    """A named set of instants (`time_intervals`): an instant is in it when any spec
    matches."""

    name: str
    specs: tuple[TimeSpec, ...]
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class InhibitRule:
    """While a firing alert matches `source_matchers`, alerts matching `target_matchers`
    with the same values of every `equal` label are recorded but not paged."""

    name: str
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedWindow:
    start: datetime
    end: datetime
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppression:
    """Matching alerts are recorded but not notified inside the window(s)."""

    id: str
    reason: str
    matchers: tuple[Matcher, ...]
    timezone: ZoneInfo
    fixed: FixedWindow | None = None
    weekly: tuple[WeeklyWindow, ...] = ()
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """One immutable snapshot; a reload builds a new one and swaps the reference."""

    settings: Settings
    people: Mapping[str, Person]
    channels: Mapping[str, Channel]
    rotas: Mapping[str, Rota]
    escalation_policies: Mapping[str, EscalationPolicy]
    services: Mapping[str, Service]
    routes: tuple[Route, ...]
    suppressions: tuple[Suppression, ...]
    time_intervals: Mapping[str, TimeInterval] = field(default_factory=frozen_mapping)
    inhibit_rules: tuple[InhibitRule, ...] = ()
    heartbeats: Mapping[str, Heartbeat] = field(default_factory=frozen_mapping)
    jobs: Mapping[str, Job] = field(default_factory=frozen_mapping)
    files: tuple[str, ...] = ()
    warnings: tuple[Problem, ...] = ()
    checks: Mapping[str, Check] = field(default_factory=frozen_mapping)
    users: Mapping[str, User] = field(default_factory=frozen_mapping)

    def summary(self) -> str:
        """The line `router validate` and a reload print. Router's own alert sources are
        counted only when there are any, and a PostgreSQL store named (as `shown`), so a
        config without them reads as it always did."""
        counts = [
            (len(self.people), "person", "people"),
            (len(self.channels), "channel", "channels"),
            (len(self.rotas), "rota", "rotas"),
            (len(self.escalation_policies), "escalation policy", "escalation policies"),
            (len(self.services), "service", "services"),
            (len(self.routes), "route", "routes"),
            (len(self.suppressions), "suppression", "suppressions"),
        ]
        counts += [count for count in (
            (len(self.checks), "check", "checks"),
            (len(self.heartbeats), "heartbeat", "heartbeats"),
            (len(self.jobs), "job", "jobs"),
            (len(self.users), "user", "users"),
        ) if count[0]]
        parts = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts)
        files = f"{len(self.files)} file" + ("" if len(self.files) == 1 else "s")
        store = self.settings.store  # named only when it is not the default
        shown = "" if isinstance(store, str) else f"; store {store.shown}"
        return f"{parts} from {files}{shown}"


CHECK_TYPES = ("cpu", "memory", "disk", "process", "network", "http", "command")
"""What a local health check (`checks:`) may measure; docs/sources.md says how each is
measured and graded."""

CheckType = Literal["cpu", "memory", "disk", "process", "network", "http", "command"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """Where a figure turns warning and critical. Higher is worse unless `inverted` (a
    process count: fewer is worse); then warning >= critical, else warning <= critical
    (config/checks.py holds them to it). None: that status is never reached by the figure."""

    warning: float | None = None
    critical: float | None = None
    inverted: bool = False
    where: Where = NOWHERE


CHECK_THRESHOLDS: Mapping[str, Thresholds] = MappingProxyType({
    "cpu": Thresholds(warning=80, critical=95),
    "memory": Thresholds(warning=80, critical=95),
    "disk": Thresholds(warning=80, critical=90),
    "process": Thresholds(critical=0, inverted=True),
})
"""Each check type's thresholds when the config gives none (percent used; a process count);
network and http grade only by failure and answer unless given some (milliseconds), and a
command grades itself by its exit status."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """A local health check (`checks:`), run by the daemon every `interval`, given `timeout`
    to answer. The fields after `labels` belong to one type each: cpu `samples` (one a
    second, averaged), memory `swap`, disk `paths` and `inodes`, process `names`, network
    `host` and `port`, http `url` and `expected_status`, command `command` (argv, no shell).
    """

    id: str
    type: CheckType
    thresholds: Thresholds = Thresholds()
    interval: timedelta = timedelta(minutes=1)
    timeout: timedelta = timedelta(seconds=10)
    service: str | None = None
    labels: Mapping[str, str] = field(default_factory=frozen_mapping)
    samples: int = 3
    swap: Thresholds | None = None
    paths: tuple[str, ...] = ("/",)
    inodes: Thresholds | None = None
    names: tuple[str, ...] = ()
    host: str = ""
    port: int = 0
    url: str = ""
    expected_status: int = 200
    command: tuple[str, ...] = ()
    where: Where = NOWHERE


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """A job that must check in (issue 19): missed when no ping arrives by its deadline
    (`period` after the last ping, or the cron `schedule`'s next run after it, in
    `timezone`, plus `grace`), which opens an incident on `service`; the next ping resolves
    it. `token` is the secret its ping URL carries (None: only alerts matching `match`,
    label name to value, feed it)."""

    id: str
    service: str
    token: Secret | None = None
    period: timedelta | None = None
    schedule: str | None = None
    timezone: ZoneInfo = ZoneInfo("UTC")  # noqa: RUF009 (ZoneInfo instances are cached, immutable)
    grace: timedelta = timedelta(minutes=5)
    severity: Severity = "critical"
    summary: str = ""
    match: Mapping[str, str] = field(default_factory=frozen_mapping)
    where: Where = NOWHERE


JOB_SEVERITIES = ("critical", "error", "warning", "info")
"""What a job's failure alert may be (alerts.model's severities; config may not import it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """A batch job declared in the config (`jobs:`); jobs created over the API are the
    store's. A failed or timed-out run raises an alert on `service` when it has one, and a
    run still started `timeout` after it began is timed_out (docs/sources.md)."""

    id: str
    service: str | None = None
    timeout: timedelta | None = None
    severity: str = "critical"
    description: str = ""
    where: Where = NOWHERE
