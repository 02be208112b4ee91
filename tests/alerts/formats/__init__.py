"""Tests of the inbound formats; LIMITS are the config's default alert limits."""

from router.config.model import AlertLimits

LIMITS = AlertLimits()
