"""migrate.alertmanager.channels: receivers become channels; secrets become references and
never reach the output; what router lacks is reported at its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from router.migrate.alertmanager.channels import Channels, convert_receivers
from router.migrate.alertmanager.report import Report, load

CONFIG = """\
global:
  smtp_smarthost: 'smtp.example.org:587'
  smtp_from: 'alertmanager@example.org'
  smtp_auth_username: 'am'
  smtp_auth_password: 'hunter2'
  slack_api_url_file: 'secrets/slack'
route: {receiver: hooks}
receivers:
  - name: hooks
    webhook_configs:
      - url: 'http://127.0.0.1:5001/'
      - url: 'http://127.0.0.1:5002/'
        send_resolved: false
  - name: team mail
    email_configs:
      - to: 'a@example.org, b@example.org'
      - to: 'c@example.org'
        smarthost: 'smtps.example.org:465'
        auth_password_file: /etc/am/smtp
  - name: chat
    slack_configs:
      - channel: '#ops'
        send_resolved: true
        title: '{{ .CommonLabels.alertname }}'
  - name: pager
    pagerduty_configs:
      - routing_key: 'R0UTINGKEY'
      - service_key_file: pd.key
  - name: nothing
  - name: elsewhere
    opsgenie_configs:
      - api_key: 'xyz'
"""


def converted(tmp_path: Path, *, fallback: bool = False) -> tuple[Channels, Report]:
    path = tmp_path / "alertmanager.yml"
    path.write_text(CONFIG)
    loaded = load(path)
    report = Report(str(path))
    return convert_receivers(loaded.data, loaded.source, report, base_dir=tmp_path,
                             webhook_fallback=fallback), report


def test_each_integration_becomes_a_channel_of_its_receiver(tmp_path: Path) -> None:
    channels, _ = converted(tmp_path)
    assert channels.by_receiver == {
        "hooks": ("hooks-webhook", "hooks-webhook-2"),
        "team mail": ("team-mail-email", "team-mail-email-2"),
        "chat": ("chat-slack",), "pager": ("pager-pagerduty", "pager-pagerduty-2"),
        "nothing": (), "elsewhere": ()}
    assert channels.lines["team-mail-email-2"] == 17
    by_id = {channel["id"]: channel for channel in channels.channels}
    assert by_id["hooks-webhook"] == {"id": "hooks-webhook", "type": "webhook",
                                      "url": "http://127.0.0.1:5001/"}
    assert by_id["team-mail-email"] == {
        "id": "team-mail-email", "type": "email", "host": "smtp.example.org", "port": 587,
        "from": "alertmanager@example.org", "to": ["a@example.org", "b@example.org"],
        "security": "starttls", "username": "am",
        "password": "${env:ROUTER_GLOBAL_SMTP_AUTH_PASSWORD}"}
    assert by_id["team-mail-email-2"]["security"] == "tls"
    assert by_id["team-mail-email-2"]["password"] == "${file:/etc/am/smtp}"
    assert by_id["chat-slack"] == {"id": "chat-slack", "type": "slack", "channel": "#ops",
                                   "webhook_url": "${file:" + f"{tmp_path}/secrets/slack}}",
                                   "templates": {"title": "{{ incident.labels.alertname }}"}}
    assert by_id["pager-pagerduty"]["routing_key"] == "${env:ROUTER_PAGER_PAGERDUTY_ROUTING_KEY}"
    assert by_id["pager-pagerduty-2"]["routing_key"] == "${file:" + f"{tmp_path}/pd.key}}"


def test_no_inline_secret_reaches_the_channels(tmp_path: Path) -> None:
    channels, report = converted(tmp_path)
    text = yaml.safe_dump(channels.channels)
    assert "hunter2" not in text and "R0UTINGKEY" not in text
    assert "hunter2" not in report.render() and "R0UTINGKEY" not in report.render()


def test_the_report_says_what_changed_and_what_was_left_out(tmp_path: Path) -> None:
    _, report = converted(tmp_path)
    lines = report.render().splitlines()
    file = tmp_path / "alertmanager.yml"
    for expected in [
        f"  {file}:5: global.smtp_auth_password: smtp_auth_password: the secret is not "
        "written into router's config; set the environment variable "
        "ROUTER_GLOBAL_SMTP_AUTH_PASSWORD to it (every channel that uses it)",
        f"  {file}:13: receivers[0].webhook_configs[1].send_resolved: send_resolved is false: "
        "router sends a follow-up when the incident resolves all the same",
        f"  {file}:24: receivers[2].slack_configs[0].title: template translated to Jinja",
        f"  {file}:28: receivers[3].pagerduty_configs[1]: service_key is an Events API v1 "
        "key; router sends Events API v2: give it a v2 integration's routing key",
        f"  {file}:29: receivers[4]: receiver 'nothing' has no integrations: its routes "
        "notify nobody",
        f"  {file}:32: receivers[5].opsgenie_configs[0]: router has no opsgenie channel: "
        "left out (--webhook-fallback makes it a webhook)",
    ]:
        assert expected in lines


def test_webhook_fallback_makes_a_webhook_to_a_bridge(tmp_path: Path) -> None:
    channels, report = converted(tmp_path, fallback=True)
    assert channels.by_receiver["elsewhere"] == ("elsewhere-opsgenie",)
    assert channels.channels[-1] == {"id": "elsewhere-opsgenie", "type": "webhook",
                                     "url": "${env:ROUTER_ELSEWHERE_OPSGENIE_URL}"}
    assert any("set ROUTER_ELSEWHERE_OPSGENIE_URL to a bridge" in finding.message
               for finding in report.of_kind("changed"))


def test_group_by_all_labels_is_router_own_grouping(tmp_path: Path) -> None:
    from router.migrate.alertmanager.routes import flatten
    path = tmp_path / "am.yml"
    path.write_text(textwrap.dedent("""\
        route:
          receiver: x
          group_by: ['...']
          routes:
            - {receiver: x, group_by: [alertname], repeat_interval: 4h}
        """))
    loaded = load(path)
    report = Report(str(path))
    flatten(loaded.data["route"], loaded.source.at("route"), {"x": ()}, report)
    assert [(finding.kind, finding.line, finding.message.split(":")[0])
            for finding in report.findings] == [
        ("converted", 3, "group_by ['...']"),
        ("changed", 5, "group_by ['alertname']"),
        ("changed", 5, "router does not send a firing alert's notification again; an "
                       "unacknowledged incident escalates along its service's policy")]


def test_global_settings_router_does_not_use_are_reported() -> None:
    from router.migrate.alertmanager.convert import convert
    from tests.migrate.support import DATA
    path = DATA / "config_testdata" / "conf.good.yml"
    found = [finding.describe("conf.good.yml") for finding in
             convert(path).report.of_kind("unsupported") if finding.path.startswith("global")]
    assert found == ["conf.good.yml:10: global.smtp_hello: global smtp_hello is not carried over",
                     "conf.good.yml:12: global.http_config: global http_config is not carried "
                     "over"]


TEMPLATED = """\
route: {receiver: chat}
receivers:
  - name: chat
    slack_configs:
      - api_url: 'https://hooks.slack.com/services/x'
        title: '{{ template "my.title" . }}'
        text: '{{ .CommonAnnotations.summary }}'
        pretext: '{{ .Status }}'
  - name: mail
    email_configs:
      - {to: a@example.org, from: am@example.org, smarthost: 'smtp.example.org:587',
         html: '<b>{{ .Status | toUpper }}</b>', text: '{{ .ExternalURL }}',
         headers: {subject: '[{{ .Status }}] {{ .CommonLabels.alertname }}', X-Team: ops}}
  - name: pager
    pagerduty_configs:
      - {routing_key_file: pd.key, description: '{{ .CommonLabels.instance }} is down',
         client: '{{ .Receiver }}'}
"""


def test_template_keys_become_the_channels_templates(tmp_path: Path) -> None:
    """slack title/text, email html/text and the Subject header (router's email title),
    pagerduty description (router's pagerduty title); an untranslatable one is left out so
    the channel keeps router's default; keys router has no template for are unsupported."""
    path = tmp_path / "alertmanager.yml"
    path.write_text(TEMPLATED)
    loaded = load(path)
    report = Report("alertmanager.yml")
    definitions = ['{{ define "my.title" }}{{ .Status | toUpper }}{{ end }}']
    channels = convert_receivers(loaded.data, loaded.source, report, base_dir=tmp_path,
                                 definitions=definitions)
    by_id = {channel["id"]: channel.get("templates") for channel in channels.channels}
    assert by_id == {
        "chat-slack": {"title": '{{ (("resolved" if incident.state == "resolved" else '
                                '"firing") | upper) }}',
                       "text": "{{ incident.summary }}"},
        "mail-email": {"html": '<b>{{ (("resolved" if incident.state == "resolved" else '
                               '"firing") | upper) }}</b>',
                       "title": '[{{ ("resolved" if incident.state == "resolved" else '
                                '"firing") }}] {{ incident.labels.alertname }}'},
        "pager-pagerduty": {"title": "{{ incident.labels.instance }} is down"}}
    found = {(finding.kind, finding.path): finding.message for finding in report.findings}
    assert found[("unsupported", "receivers[0].slack_configs[0].pretext")] == (
        "pretext: router's slack channel has no such template; left out")
    assert found[("unsupported", "receivers[1].email_configs[0].text")].startswith(
        "template left out (the channel keeps router's default): cannot translate: the "
        "field .ExternalURL")
    assert found[("unsupported", "receivers[1].email_configs[0].headers.X-Team")] == (
        "headers.X-Team: router's email sets only its own headers and the subject (the title)")
    assert found[("converted", "receivers[1].email_configs[0].headers.subject")] == (
        "template translated to Jinja")
    assert found[("unsupported", "receivers[2].pagerduty_configs[0].client")] == (
        "client is not carried over")
