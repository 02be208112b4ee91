"""The example config in config/ is valid and says what it holds."""

from __future__ import annotations

from pathlib import Path

from router.config import load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config"


def test_example_config_is_valid_and_complete() -> None:
    config = load_config([EXAMPLE])
    assert config.warnings == ()
    assert len(config.services) == 2
    assert len(config.people) == 5
    assert len(config.rotas) == 2
    assert len(config.escalation_policies) == 2
    assert len(config.suppressions) == 1
    assert {channel.type for channel in config.channels.values()} == {
        "pagerduty", "slack", "email", "webhook", "log"}


def test_example_secrets_are_read_from_files_and_never_printed() -> None:
    config = load_config([EXAMPLE])
    key = config.channels["pagerduty-production"].settings.routing_key  # type: ignore[attr-defined]
    assert key.reveal() == "R0000000000000000000000000000000"
    assert "R000" not in repr(config.channels["pagerduty-production"])
