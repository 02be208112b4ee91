"""Durable state in SQLite: incidents, outbox, timers, silences, overrides."""
