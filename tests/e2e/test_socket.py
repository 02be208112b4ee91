"""The unix socket of a running daemon, line by line: the message protocol of
../shared/reference/node-protocol.md and native alert lines."""

from __future__ import annotations

import os
import re
import stat

from tests.e2e.conftest import Daemon, show, wait_until

# The reference's example session, byte for byte; INC1 because the store is new.
EXAMPLE_REQUEST = (
    b'{"src":"alerter","dest":"pagerduty","body":{"type":"create_incident","msg_id":1,'
    b'"title":"High error rate","service":"api","severity":"critical",'
    b'"description":"Error rate is 15% (threshold: 5%)"}}')
EXAMPLE_REPLY = {
    "src": "pagerduty", "dest": "alerter",
    "body": {"type": "incident_created", "in_reply_to": 1, "incident_id": "INC1",
             "status": "triggered", "assigned_to": "on-call-engineer"}}


def message(body: dict[str, object]) -> dict[str, object]:
    return {"src": "alerter", "dest": "router", "body": body}


def test_example_session_and_lifecycle(daemon: Daemon) -> None:
    assert stat.S_IMODE(os.stat(daemon.socket_path).st_mode) == 0o660
    with daemon.connect() as connection:
        connection.send_line(EXAMPLE_REQUEST)
        assert connection.receive() == EXAMPLE_REPLY

        on_call = connection.ask(message({"type": "get_on_call", "msg_id": 2, "team": "api"}))
        assert on_call["body"]["on_call"] == "on-call-engineer"
        # A weekly rotation hands off on Mondays at 09:00, even to the same person.
        assert re.fullmatch(r"20[0-9]{2}-[0-9]{2}-[0-9]{2}T09:00:00Z", on_call["body"]["until"])
        assert (on_call["src"], on_call["dest"]) == ("router", "alerter")

        # The trigger's page goes first: a resolve while it is still on its way would cancel
        # it, a race this test is not about (its "pages cancelled" line would end the timeline).
        with daemon.client() as client:
            wait_until(lambda: client.get("/v1/deliveries").json()["deliveries"], timeout=10,
                       what="the trigger's page to the log channel")
        acknowledged = connection.ask(message({"type": "acknowledge_incident", "msg_id": 3,
                                               "incident_id": "INC1", "by": "alice"}))
        assert acknowledged["body"] == {"type": "incident_acknowledged", "in_reply_to": 3,
                                        "incident_id": "INC1", "status": "acknowledged"}
        resolved = connection.ask(message({"type": "resolve_incident", "msg_id": 4,
                                           "incident_id": "INC1"}))
        assert resolved["body"] == {"type": "incident_resolved", "in_reply_to": 4,
                                    "incident_id": "INC1", "status": "resolved"}
        unknown = connection.ask(message({"type": "resolve_incident", "msg_id": 5,
                                          "incident_id": "INC999"}))
        assert unknown["body"] == {"type": "error", "in_reply_to": 5, "code": 404,
                                   "text": "unknown incident INC999"}

    with daemon.client() as client:
        detail = show(client, "INC1")
    incident = detail["incident"]
    assert (incident["source"], incident["service"], incident["severity"],
            incident["state"]) == ("socket", "api", "critical", "resolved")
    assert incident["acknowledged_by"] == "socket:alice"
    actions = [entry["action"] for entry in detail["timeline"]]
    assert actions[0] == "opened"
    assert actions[-2:] == ["acknowledged", "resolved"]


def test_native_alert_line_and_send_alert(daemon: Daemon) -> None:
    alert = {"summary": "Queue backlog over 10k", "severity": "warning", "service": "api",
             "labels": {"alertname": "QueueBacklog", "queue": "mail"}}
    with daemon.connect() as connection:
        answer = connection.ask(alert)
        assert answer == {"status": "accepted", "incidents": ["INC1"]}
        # The same alert again joins its open incident.
        assert connection.ask([alert]) == {"status": "accepted", "incidents": ["INC1"]}
        sent = connection.ask(message({
            "type": "send_alert", "msg_id": 1, "channel": "#alerts", "severity": "info",
            "title": "Deploy finished", "service": "api"}))
        notification_id = sent["body"].pop("notification_id")
        assert isinstance(notification_id, str) and notification_id
        assert sent["body"] == {"type": "alert_sent", "in_reply_to": 1, "channel": "#alerts",
                                "actions": ["Acknowledge", "View Details"]}
    with daemon.client() as client:
        detail = show(client, "INC1")
        assert detail["incident"]["source"] == "native"
        assert detail["incident"]["alert_count"] == 2
        message_only = show(client, "INC2")["incident"]
    # A message, not a page: recorded as an incident that escalates to nobody.
    assert (message_only["source"], message_only["summary"], message_only["level"],
            message_only["assigned_to"]) == ("socket", "Deploy finished", 0, None)


def test_malformed_lines_are_answered_and_the_connection_stays(daemon: Daemon) -> None:
    with daemon.connect() as connection:
        connection.send_line(b'{"src": "alerter", "body": {"type": "get_on_call"')
        answer = connection.receive()
        assert answer["body"]["type"] == "error"
        assert answer["body"]["code"] == 400
        assert answer["body"]["in_reply_to"] is None
        assert answer["body"]["text"] == (
            "invalid JSON at line 1, column 50: Expecting ',' delimiter")

        connection.send_line(b"\xff\xfe not UTF-8")
        assert connection.receive()["body"]["code"] == 400

        unknown = connection.ask(message({"type": "page_everyone", "msg_id": 7}))
        assert unknown["body"]["in_reply_to"] == 7
        assert unknown["body"]["code"] == 400
        assert unknown["body"]["text"].startswith("type: unknown message type 'page_everyone'")

        missing = connection.ask(message({"type": "create_incident", "msg_id": 8,
                                          "service": "api", "severity": "critical"}))
        assert missing["body"] == {"type": "error", "in_reply_to": 8, "code": 400,
                                   "text": "title: is required"}

        bad_alert = connection.ask({"summary": "", "severity": "loud"})
        assert set(bad_alert) == {"error", "field"}

        # Still the same connection, still answering.
        on_call = connection.ask(message({"type": "get_on_call", "msg_id": 9,
                                          "team": "primary"}))
        assert on_call["body"]["type"] == "on_call"
        assert on_call["body"]["on_call"] == "on-call-engineer"
    with daemon.client() as client:
        assert client.get("/v1/incidents").json() == {"incidents": []}
