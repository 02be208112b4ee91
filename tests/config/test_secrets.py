"""`${env:NAME}` and `${file:PATH}` (config/secrets.py): resolved at load, missing ones reported
with file and line, `--no-secrets` for CI, and a secret's value never in a message."""

from __future__ import annotations

from pathlib import Path

from router.config import load_config
from router.config.model import Secret
from router.config.secrets import SecretResolver
from tests.config.support import problems, write

PAGERDUTY = """
    channels:
      - id: pager
        type: pagerduty
        routing_key: {reference}
"""


def test_an_environment_variable_is_resolved_into_a_secret(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", PAGERDUTY.format(reference="${env:PD_KEY}"))
    config = load_config([tmp_path], environ={"PD_KEY": "R0123456789"})
    key = config.channels["pager"].settings.routing_key  # type: ignore[attr-defined]
    assert key == Secret("R0123456789", "${env:PD_KEY}")
    assert key.reveal() == "R0123456789"
    assert "R0123456789" not in repr(config.channels["pager"])
    assert str(key) == "<secret ${env:PD_KEY}>"


def test_a_file_is_read_relative_to_the_config_file_without_its_last_newline(
        tmp_path: Path) -> None:
    write(tmp_path, "team/secrets/pagerduty.key", "R0123456789\n")
    write(tmp_path, "team/channels.yaml",
          PAGERDUTY.format(reference="${file:secrets/pagerduty.key}"))
    config = load_config([tmp_path])
    assert config.channels["pager"].settings.routing_key == Secret(  # type: ignore[attr-defined]
        "R0123456789", "${file:secrets/pagerduty.key}")


def test_a_reference_inside_other_text_is_replaced(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - id: hook
            type: webhook
            url: https://${env:GATEWAY_HOST}/sms
    """)
    config = load_config([tmp_path], environ={"GATEWAY_HOST": "sms.example.com"})
    assert config.channels["hook"].settings.url == (  # type: ignore[attr-defined]
        "https://sms.example.com/sms")


def test_a_missing_environment_variable_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", PAGERDUTY.format(reference="${env:PD_KEY}"))
    assert problems([tmp_path]) == [f"{path}:4:18: environment variable 'PD_KEY' is not set"]


def test_a_missing_secret_file_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml",
                 PAGERDUTY.format(reference="${file:secrets/pagerduty.key}"))
    assert problems([tmp_path]) == [
        f"{path}:4:18: secret file '{tmp_path}/secrets/pagerduty.key' does not exist"]


def test_a_secret_file_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    write(tmp_path, "binary.key", b"\xff\xfe")
    path = write(tmp_path, "channels.yaml", """
        channels:
          - {id: pager, type: pagerduty, routing_key: "${file:secrets}"}
          - {id: other, type: pagerduty, routing_key: "${file:binary.key}"}
    """)
    assert problems([tmp_path]) == [
        f"{path}:2:47: secret file '{tmp_path}/secrets' cannot be read: Is a directory",
        f"{path}:3:47: secret file '{tmp_path}/binary.key' cannot be read: it is not UTF-8 "
        "text",
    ]


def test_an_unknown_secret_source(tmp_path: Path) -> None:
    path = write(tmp_path, "channels.yaml", PAGERDUTY.format(reference="${vault:x}"))
    expected = [f"{path}:4:18: unknown secret source 'vault' (expected 'env' or 'file')"]
    assert problems([tmp_path]) == expected
    assert problems([tmp_path], resolve_secrets=False) == expected


def test_dollar_dollar_writes_a_literal_reference(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - id: hook
            type: webhook
            url: http://127.0.0.1:9300/sms
            body: '{"text": "$${env:NOT_A_SECRET} costs $$5"}'
    """)
    for resolve in (True, False):
        config = load_config([tmp_path], resolve_secrets=resolve, environ={})
        assert config.channels["hook"].templates["payload"].text == (
            '{"text": "${env:NOT_A_SECRET} costs $$5"}')


def test_no_secrets_accepts_missing_secrets_and_checks_the_rest(tmp_path: Path) -> None:
    write(tmp_path, "channels.yaml", """
        channels:
          - {id: pager, type: pagerduty, routing_key: "${env:PD_KEY}"}
          - {id: chat, type: slack, webhook_url: "${file:secrets/slack.url}"}
    """)
    path = write(tmp_path, "services.yaml", "services:\n  - id: api\n    channels: [pagr]\n")
    assert problems([tmp_path], resolve_secrets=False) == [
        f"{path}:3:16: services[0].channels[0]: no channel with id 'pagr' "
        "(did you mean 'pager'?)"]
    path.write_text("services:\n  - id: api\n    channels: [pager]\n", encoding="utf-8")
    config = load_config([tmp_path], resolve_secrets=False, environ={})
    assert config.channels["pager"].settings.routing_key.reveal() == (  # type: ignore[attr-defined]
        "${env:PD_KEY}")


def test_a_secret_value_never_appears_in_a_message(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yaml", """
        settings:
          timezone: ${env:SECRET_ZONE}
        channels:
          - id: mail
            type: email
            host: smtp.example.com
            from: router@example.com
            port: ${env:SMTP_PORT}
            timeout: ${file:timeout.secret}
        services:
          - id: api
            channels: ["${env:CHANNEL}"]
    """)
    write(tmp_path, "timeout.secret", "s3cr3t-timeout\n")
    environ = {"SECRET_ZONE": "hunter2", "SMTP_PORT": "hunter3", "CHANNEL": "hunter4"}
    found = problems([tmp_path], environ=environ)
    assert found == [
        f"{path}:2:13: settings.timezone: '${{env:SECRET_ZONE}}' is not a known timezone",
        f"{path}:8:11: channels[0].port: expected a whole number, got '${{env:SMTP_PORT}}'",
        f"{path}:9:14: channels[0].timeout: expected a duration like 30s, 15m, 1h30m or 2w, "
        "got '${file:timeout.secret}'",
    ]
    # a shape problem turns off the reference checks; with it fixed, they run too
    path.write_text(path.read_text(encoding="utf-8").replace("${env:SMTP_PORT}", "25"),
                    encoding="utf-8")
    found = problems([tmp_path], environ=environ)
    assert found == [
        f"{path}:2:13: settings.timezone: '${{env:SECRET_ZONE}}' is not a known timezone",
        f"{path}:9:14: channels[0].timeout: expected a duration like 30s, 15m, 1h30m or 2w, "
        "got '${file:timeout.secret}'",
        f"{path}:12:16: services[0].channels[0]: no channel with id '${{env:CHANNEL}}'",
    ]
    assert not any(secret in line for line in found
                   for secret in ("hunter", "s3cr3t"))


def test_the_resolver_redacts_every_resolved_value() -> None:
    resolver = SecretResolver(environ={"TOKEN": "abc123"})
    assert resolver.expand("${env:TOKEN}", Path(".")) == "abc123"
    assert resolver.redact("got 'abc123' twice: abc123") == (
        "got '${env:TOKEN}' twice: ${env:TOKEN}")
    assert SecretResolver(environ={}).redact("nothing to hide") == "nothing to hide"
