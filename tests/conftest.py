"""Plugins every test directory may use: `postgres_url` and `postgres_cluster`, a throwaway
PostgreSQL (tests/postgres_server.py)."""

pytest_plugins = ["tests.postgres_server"]
