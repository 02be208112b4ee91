"""Inbound alerts: the normalized records and one parser module per source format."""
