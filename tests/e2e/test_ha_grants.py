"""The database role docs/ha.md tells operators to create is enough to run a node (issue 18).

docs/ha.md's "The database role" section holds the SQL an owner runs once: a login role for
the nodes with only the privileges a router needs. This test runs exactly that SQL, read
from the page (so the page cannot drift from what works), on a fresh database of the
throwaway cluster (tests/postgres_server.py) after the owner migrated it, then starts
`router run` as that role and does what a node does: ingest an alert, deliver its page
(claiming it first, through a rate-limited channel so the channel's pace row is taken too),
add a silence, acknowledge, resolve, and the reads of /readyz, /metrics (the store's
gauges), the incident list and who is on call. A privilege the page forgot is a failed request or a
delivery that never comes, with the daemon's log quoted.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
import trio

from router.store.postgres import Store
from tests.e2e.conftest import StartDaemon, incident_ids, show, wait_until
from tests.postgres_server import Cluster

PAGE = Path(__file__).resolve().parents[2] / "docs" / "ha.md"
SECTION = "### The database role"
OWNER = "router"
"""The role that owns the database in docs/ha.md, as the test cluster's superuser is named."""

CONFIG = """
settings:
  timezone: UTC
people:
  - id: ann
    contact_methods: [{type: email, address: ann@example.com}]
channels:
  - {id: log, type: log, rate: 5}
rotas:
  - id: primary
    layers: [{members: [ann], every: 1w, start: 2020-01-06}]
escalation_policies:
  - id: default
    levels: [{targets: [{rota: primary}], delay: 15m}]
services:
  - {id: api, escalation_policy: default, channels: [log]}
routes:
  - service: api
"""


def documented_grants() -> str:
    """The first ```sql block after the section's heading in docs/ha.md."""
    text = PAGE.read_text()
    assert SECTION in text, f"{PAGE}: no {SECTION!r} section"
    found = re.search(r"```sql\n(.*?)```", text[text.index(SECTION):], re.DOTALL)
    assert found is not None, f"{PAGE}: no ```sql block under {SECTION!r}"
    return found.group(1)


def node_role(cluster: Cluster, owner_url: str) -> str:
    """Run the documented SQL on the database at `owner_url` as its owner, with the role and
    database names made this test's own (roles are the cluster's, shared by every test);
    the URL the nodes' role connects with (the cluster trusts loopback: no password)."""
    database = owner_url.rsplit("/", 1)[1]
    role = f"router_node_{database}"
    sql = (documented_grants().replace("router_node", role)
           .replace("DATABASE router ", f"DATABASE {database} "))
    assert f"ROLE {role} " in sql and f"DATABASE {database} " in sql, sql
    with psycopg.connect(owner_url, autocommit=True) as owner:
        for statement in filter(str.strip, strip_comments(sql).split(";")):
            owner.execute(statement)
    return f"postgresql://{role}@127.0.0.1:{cluster.port}/{database}"


def strip_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


async def migrate(url: str) -> None:
    store = await Store.open(url)
    await store.close()


def test_the_documented_role_runs_a_node(postgres_cluster: Cluster, postgres_url: str,
                                          start_daemon: StartDaemon) -> None:
    trio.run(migrate, postgres_url)  # the owner brings the schema to this version first
    url = node_role(postgres_cluster, postgres_url)
    with psycopg.connect(url) as probe, pytest.raises(psycopg.errors.InsufficientPrivilege):
        probe.execute("CREATE TABLE intruder (id INTEGER)")  # least: no DDL
    with psycopg.connect(postgres_url, autocommit=True) as owner:  # a later migration's table
        owner.execute("CREATE TABLE later (id BIGINT GENERATED ALWAYS AS IDENTITY, note TEXT)")
        owner.execute("CREATE SEQUENCE later_numbers")
    with psycopg.connect(url) as node:
        node.execute("INSERT INTO later (note) VALUES ('the default privileges hold')")
        node.execute("SELECT nextval('later_numbers')")
    daemon = start_daemon(CONFIG, arguments=["--store", url, "--node-id", "n1"])
    with daemon.client() as client:
        [incident_id] = incident_ids(client.post("/v1/alerts", json={
            "summary": "Disk full", "severity": "critical",
            "labels": {"alertname": "DiskFull", "host": "db-1"}}))
        assert incident_id is not None

        def delivered() -> bool:
            answer = client.get("/v1/deliveries", params={"incident": incident_id})
            assert answer.status_code == 200, answer.text
            return any(attempt["outcome"] == "delivered"
                       for attempt in answer.json()["deliveries"])
        wait_until(delivered, timeout=20, what=lambda: f"the page was not sent:\n{daemon.log()}")
        silence = client.post("/v1/silences", json={
            "matchers": [{"name": "host", "operator": "=", "value": "db-2"}],
            "ends_at": "2099-01-01T00:00:00Z", "reason": "maintenance"})
        assert silence.status_code == 201, silence.text
        for verb in ("acknowledge", "resolve"):
            answer = client.post(f"/v1/incidents/{incident_id}/{verb}", json={})
            assert answer.status_code == 200, f"{verb}: {answer.text}\n{daemon.log()}"
        assert show(client, incident_id)["incident"]["state"] == "resolved"
        for path in ("/readyz", "/metrics", "/v1/incidents", "/v1/oncall"):
            answer = client.get(path)
            assert answer.status_code == 200, f"{path}: {answer.text}\n{daemon.log()}"
    assert "permission denied" not in daemon.log()
