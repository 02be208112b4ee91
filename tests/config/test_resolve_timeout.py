"""`settings.resolve_timeout` (issue 16 item 2): per source, over Alertmanager's default for
the API v2; a source router does not have is refused at its place."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from router.alerts.formats import FORMATS
from router.config import ConfigInvalid, load_config
from router.config.model import SOURCES
from tests.config.support import write

WEBHOOK = "  generic_webhooks: [{name: nagios, summary: message}]\n"


def test_by_default_only_the_alertmanager_api_v2_has_alertmanagers_five_minutes(
        tmp_path: Path) -> None:
    write(tmp_path, "router.yaml", "settings: {timezone: UTC}\n")
    config = load_config([tmp_path / "router.yaml"])
    assert dict(config.settings.resolve_timeout) == {"alertmanager_v2": timedelta(minutes=5)}


def test_each_source_may_have_its_own_or_none(tmp_path: Path) -> None:
    write(tmp_path, "router.yaml", "settings:\n" + WEBHOOK + "  resolve_timeout:\n"
          "    alertmanager_v2: none\n    native: 1h\n    generic:nagios: 30m\n")
    config = load_config([tmp_path / "router.yaml"])
    assert dict(config.settings.resolve_timeout) == {
        "native": timedelta(hours=1), "generic:nagios": timedelta(minutes=30)}


def test_an_unknown_source_or_a_bad_duration_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "router.yaml", "settings:\n" + WEBHOOK + "  resolve_timeout:\n"
                 "    generic:nagois: 30m\n    native: soon\n")
    try:
        load_config([path])
    except ConfigInvalid as invalid:
        assert [str(problem) for problem in invalid.problems] == [
            f"{path}:4:21: settings.resolve_timeout.generic:nagois: unknown source "
            "'generic:nagois'; expected one of: native, alertmanager, alertmanager_v2, "
            "grafana, datadog, pagerduty, new_relic, opsgenie, zabbix, pagerduty_webhook, "
            "generic:nagios",
            f"{path}:5:13: settings.resolve_timeout.native: expected a duration like 30s, "
            "15m, 1h30m or 2w, got 'soon'"]
    else:
        raise AssertionError("the config was accepted")


def test_the_configs_sources_are_the_formats() -> None:
    assert set(SOURCES) == set(FORMATS)
