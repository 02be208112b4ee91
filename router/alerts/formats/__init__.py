"""One module per inbound format: parse(body, headers) -> list[Alert]."""

from router.alerts.formats._json import decode as decode_json

__all__ = ["decode_json"]
